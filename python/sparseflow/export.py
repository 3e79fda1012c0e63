"""export.py - turns a torch.nn.Module into a SparseFlow model (JSON graph
plus safetensors weights) by tracing it with torch.fx.

    from sparseflow.export import export, prune_nm
    export(model, {"x": example}, "out/", name="net")
    # then: sfgen out/net.json -o gen/

The example inputs fix every shape; their first dimension is the maximum
batch of the generated code. Integer inputs (token ids) become f32 inputs
that carry whole numbers. Modules and functions that have no SparseFlow op
are reported with the node that uses them; nothing is written then.

Attention: a module with `sf_attention = True` and Linear members q, k, v, o,
attributes `heads` and `causal`, whose forward is (x, mask=None) -> y, is
exported as q/k/v projections, one fused `attention` node and the output
projection. `prune_nm` prunes Linear and Conv2d weights to N:M in place.

Decoding: export(..., cache=C) gives every causal attention a key/value
cache of C positions; the generated code then has <name>_run_cached, which
runs the example's sequence length of new tokens per call (1 for a decode
step) against everything cached before (docs/GENERATED_API.md).

Elementwise ops between two activations (+, -, *, /, **, torch.where) need
operands of the same rank and batch (SparseFlow's broadcasting); constants
have no tensor in the model, so an operand that is a number is refused,
except for the bounds of clamp/clip/hardtanh and the exponents 0.5, 1 and 2
(sqrt, nothing, x*x). The condition of torch.where is an activation or
input holding 0/1 (`m.bool()` and `m != 0` pass it through). Means are over
the last dimension only (reducemean).

torch is imported when a function here is called, not with this module.
"""
import json
import math
import os

from sparseflow.reference import broadcast_shape
from sparseflow.safetensors import write_safetensors


class ExportError(Exception):
    pass


def prune_nm(model, n, m, skip=()):
    """Keeps the n largest of every m consecutive weights along the reduction
    axis (Linear: in; Conv2d: C_in/groups*kH*kW) of each Linear and Conv2d
    whose qualified name is not in skip."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    with torch.no_grad():
        for qname, mod in model.named_modules():
            if qname in skip or not isinstance(mod, (nn.Linear, nn.Conv2d)):
                continue
            w = mod.weight.reshape(mod.weight.shape[0], -1)
            k = w.shape[1]
            pad = (-k) % m
            wp = F.pad(w.abs(), (0, pad)).reshape(w.shape[0], -1, m)
            keep = torch.zeros_like(wp, dtype=torch.bool)
            keep.scatter_(2, wp.topk(n, dim=2).indices, True)
            keep = keep.reshape(w.shape[0], -1)[:, :k]
            mod.weight.mul_(keep.reshape(mod.weight.shape).to(mod.weight.dtype))


def _tracer():
    """A torch.fx tracer that keeps attention modules (sf_attention) whole."""
    import torch.fx

    class Tracer(torch.fx.Tracer):
        def is_leaf_module(self, mod, qualname):
            return getattr(mod, "sf_attention", False) or super().is_leaf_module(mod, qualname)
    return Tracer()


def _is_node(v):
    import torch.fx
    return isinstance(v, torch.fx.Node)


def _shape(v):
    return list(v.meta["tensor_meta"].shape)


def _where_operands(node):
    """[condition, x, y] of torch.where(c, x, y) or of x.where(c, y)."""
    a = node.args
    return [a[1], a[0], a[2]] if node.op == "call_method" else list(a)


def _pair(v):
    return list(v) if isinstance(v, (tuple, list)) else [v, v]


class _Exporter:
    def __init__(self, cache=None):
        self.nodes, self.tensors, self.alias = [], {}, {}
        self.cache = cache

    def weight(self, qname, t):
        """A parameter or buffer by name, once."""
        import torch
        if qname not in self.tensors:
            self.tensors[qname] = t.detach().to(torch.float32).contiguous().cpu()
        return qname

    def act(self, arg):
        if not _is_node(arg):
            raise ExportError("a constant operand (%r) where a tensor was expected" % (arg,))
        return self.alias.get(arg.name, arg.name)

    def emit(self, node, op, inputs, **attrs):
        nd = {"op": op, "name": node.name, "inputs": [self.act(i) if _is_node(i)
                                                       else i for i in inputs],
              "outputs": [node.name]}
        nd.update({k: v for k, v in attrs.items() if v is not None})
        self.nodes.append(nd)

    # -- modules -------------------------------------------------------------
    def module(self, node, mod, qn):
        import torch
        import torch.nn as nn
        x = node.args[0]
        if isinstance(mod, (nn.Dropout, nn.Identity)):
            self.alias[node.name] = self.act(x)
        elif isinstance(mod, nn.Linear):
            self.emit(node, "linear", [x], weight=self.weight(qn + ".weight", mod.weight),
                      bias=self.weight(qn + ".bias", mod.bias) if mod.bias is not None else None)
        elif isinstance(mod, nn.Conv2d):
            if mod.padding_mode != "zeros" or isinstance(mod.padding, str):
                raise ExportError("Conv2d padding must be numbers with zero padding")
            self.emit(node, "conv2d", [x], weight=self.weight(qn + ".weight", mod.weight),
                      bias=self.weight(qn + ".bias", mod.bias) if mod.bias is not None else None,
                      stride=_pair(mod.stride), padding=_pair(mod.padding),
                      dilation=_pair(mod.dilation), groups=mod.groups)
        elif isinstance(mod, nn.BatchNorm2d):
            c = mod.num_features
            w = mod.weight if mod.affine else torch.ones(c)
            b = mod.bias if mod.affine else torch.zeros(c)
            self.emit(node, "batchnorm", [x], weight=self.weight(qn + ".weight", w),
                      bias=self.weight(qn + ".bias", b),
                      mean=self.weight(qn + ".running_mean", mod.running_mean),
                      var=self.weight(qn + ".running_var", mod.running_var), epsilon=mod.eps)
        elif isinstance(mod, (nn.ReLU, nn.SiLU, nn.Sigmoid, nn.Tanh)):
            self.emit(node, type(mod).__name__.lower(), [x])
        elif isinstance(mod, nn.Hardtanh):     # also ReLU6
            self.clip(node, x, mod.min_val, mod.max_val)
        elif isinstance(mod, nn.Hardsigmoid):
            self.emit(node, "hardsigmoid", [x], alpha=1.0 / 6.0, beta=0.5)
        elif isinstance(mod, nn.Hardswish):
            self.emit(node, "hardswish", [x])
        elif isinstance(mod, nn.GELU):
            self.emit(node, "gelu", [x], approximate=getattr(mod, "approximate", "none"))
        elif isinstance(mod, nn.MaxPool2d):
            if _pair(mod.dilation) != [1, 1] or mod.ceil_mode:
                raise ExportError("MaxPool2d with dilation or ceil_mode")
            self.emit(node, "maxpool2d", [x], kernel=_pair(mod.kernel_size),
                      stride=_pair(mod.stride), padding=_pair(mod.padding))
        elif isinstance(mod, nn.AvgPool2d):
            if mod.ceil_mode or (mod.count_include_pad and _pair(mod.padding) != [0, 0]):
                raise ExportError("AvgPool2d must exclude padding (count_include_pad=False)")
            self.emit(node, "avgpool2d", [x], kernel=_pair(mod.kernel_size),
                      stride=_pair(mod.stride), padding=_pair(mod.padding))
        elif isinstance(mod, nn.AdaptiveAvgPool2d):
            if _pair(mod.output_size) != [1, 1]:
                raise ExportError("AdaptiveAvgPool2d to a size other than 1x1")
            self.emit(node, "global_avgpool", [x])
        elif isinstance(mod, nn.Flatten):
            self.flatten(node, x, mod.start_dim, mod.end_dim)
        elif isinstance(mod, nn.LayerNorm):
            if len(mod.normalized_shape) != 1:
                raise ExportError("LayerNorm over more than the last dimension")
            aff = mod.elementwise_affine
            self.emit(node, "layernorm", [x], epsilon=mod.eps,
                      weight=self.weight(qn + ".weight", mod.weight) if aff else None,
                      bias=self.weight(qn + ".bias", mod.bias) if aff else None)
        elif isinstance(mod, nn.Embedding):
            self.emit(node, "embedding", [x], weight=self.weight(qn + ".weight", mod.weight))
        elif isinstance(mod, nn.Softmax):
            self.emit(node, "softmax", [x], axis=mod.dim)
        elif getattr(mod, "sf_attention", False):
            self.attention(node, mod, qn)
        else:
            raise ExportError("module %s has no SparseFlow op" % type(mod).__name__)

    def attention(self, node, mod, qn):
        x = node.args[0]
        mask = node.args[1] if len(node.args) > 1 else node.kwargs.get("mask")
        proj = []
        for p in ("q", "k", "v"):
            lin = getattr(mod, p)
            out = "%s_%s" % (node.name, p)
            self.nodes.append({"op": "linear", "name": out, "inputs": [self.act(x)],
                               "outputs": [out],
                               "weight": self.weight("%s.%s.weight" % (qn, p), lin.weight),
                               **({"bias": self.weight("%s.%s.bias" % (qn, p), lin.bias)}
                                  if lin.bias is not None else {})})
            proj.append(out)
        ins = proj + ([self.act(mask)] if _is_node(mask) else [])
        mid = node.name + "_mix"
        nd = {"op": "attention", "name": mid, "inputs": ins, "outputs": [mid],
              "heads": int(mod.heads), "causal": bool(mod.causal)}
        if self.cache and mod.causal:
            nd["cache"] = int(self.cache)
        self.nodes.append(nd)
        o = mod.o
        self.nodes.append({"op": "linear", "name": node.name, "inputs": [mid],
                           "outputs": [node.name], "weight": self.weight(qn + ".o.weight", o.weight),
                           **({"bias": self.weight(qn + ".o.bias", o.bias)}
                              if o.bias is not None else {})})

    def flatten(self, node, x, start, end):
        rank = len(x.meta["tensor_meta"].shape)
        if start != 1 or end not in (-1, rank - 1):
            raise ExportError("flatten other than from dim 1 to the last")
        self.emit(node, "flatten", [x])

    # -- functions and methods -----------------------------------------------------
    def call(self, node):
        t, a, kw = node.target, node.args, node.kwargs
        out_shape = list(node.meta["tensor_meta"].shape)
        name = t if isinstance(t, str) else getattr(t, "__name__", str(t))
        if name in ("add", "iadd", "mul", "imul") and all(_is_node(v) for v in a[:2]):
            self.binary(node, "add" if "add" in name else "mul", a[:2])
        elif name in ("sub", "isub") and all(_is_node(v) for v in a[:2]):
            self.binary(node, "sub", a[:2])
        elif name in ("truediv", "itruediv", "div", "true_divide") and \
                all(_is_node(v) for v in a[:2]):
            if kw.get("rounding_mode") is not None:
                raise ExportError("division with rounding_mode")
            self.binary(node, "div", a[:2])
        elif name == "pow":
            self.pow(node, a[0], a[1] if len(a) > 1 else kw.get("exponent"))
        elif name in ("matmul",) and all(_is_node(v) for v in a[:2]):
            self.emit(node, "matmul", list(a[:2]))
        elif name in ("relu", "silu", "sigmoid", "tanh", "erf", "sqrt", "hardswish"):
            self.emit(node, name, [a[0]])
        elif name == "special_erf":
            self.emit(node, "erf", [a[0]])
        elif name == "hardsigmoid":
            self.emit(node, "hardsigmoid", [a[0]], alpha=1.0 / 6.0, beta=0.5)
        elif name in ("clamp", "clip"):
            self.clip(node, a[0], a[1] if len(a) > 1 else kw.get("min"),
                      a[2] if len(a) > 2 else kw.get("max"))
        elif name == "clamp_min":
            self.clip(node, a[0], a[1] if len(a) > 1 else kw.get("min"), None)
        elif name == "clamp_max":
            self.clip(node, a[0], None, a[1] if len(a) > 1 else kw.get("max"))
        elif name == "hardtanh":
            self.clip(node, a[0], a[1] if len(a) > 1 else kw.get("min_val", -1.0),
                      a[2] if len(a) > 2 else kw.get("max_val", 1.0))
        elif name == "relu6":
            self.clip(node, a[0], 0.0, 6.0)
        elif name == "where" and len(a) == 3:
            ops = _where_operands(node)
            if not all(_is_node(v) for v in ops):
                raise ExportError("torch.where with a number for x or y")
            self.check_bcast(node, ops)
            self.emit(node, "where", ops)
        elif name in ("bool", "ne", "to") and self.condition(node):
            self.alias[node.name] = self.act(a[0])
        elif name == "mean":
            self.mean(node, a[0], a[1] if len(a) > 1 else kw.get("dim"),
                      a[2] if len(a) > 2 else kw.get("keepdim", False))
        elif name == "gelu":
            self.emit(node, "gelu", [a[0]], approximate=node.kwargs.get("approximate", "none"))
        elif name == "softmax":
            dim = node.kwargs.get("dim", a[1] if len(a) > 1 else None)
            self.emit(node, "softmax", [a[0]], axis=dim)
        elif name == "flatten":
            self.flatten(node, a[0], a[1] if len(a) > 1 else node.kwargs.get("start_dim", 0),
                         a[2] if len(a) > 2 else node.kwargs.get("end_dim", -1))
        elif name in ("view", "reshape"):
            self.emit(node, "reshape", [a[0]], shape=[0] + out_shape[1:])
        elif name in ("permute", "transpose"):
            rank = len(out_shape)
            if name == "permute":
                perm = list(a[1]) if isinstance(a[1], (list, tuple)) else list(a[1:])
            else:
                perm = list(range(rank))
                i, j = a[1] % rank, a[2] % rank
                perm[i], perm[j] = perm[j], perm[i]
            self.emit(node, "transpose", [a[0]], perm=[p % rank for p in perm])
        elif name in ("contiguous", "float"):
            self.alias[node.name] = self.act(a[0])
        elif name == "cat":
            dim = node.kwargs.get("dim", a[1] if len(a) > 1 else 0)
            self.emit(node, "concat", list(a[0]), axis=dim)
        elif name == "getitem":
            self.getitem(node, a[0], a[1])
        else:
            raise ExportError("function %s has no SparseFlow op" % name)

    def check_bcast(self, node, operands):
        """SparseFlow broadcasts operands of one rank and one batch only."""
        try:
            broadcast_shape(*[_shape(v) for v in operands])
        except ValueError as e:
            raise ExportError("%s: operands of the same rank and batch needed (%s)"
                              % (node.name, e)) from None

    def binary(self, node, op, operands):
        if node.kwargs.get("alpha", 1) != 1:
            raise ExportError("%s with alpha" % op)
        self.check_bcast(node, operands)
        self.emit(node, op, list(operands))

    def pow(self, node, base, exponent):
        if not _is_node(base):
            raise ExportError("a number to the power of a tensor")
        if _is_node(exponent):
            self.binary(node, "pow", [base, exponent])
        elif exponent == 0.5:
            self.emit(node, "sqrt", [base])
        elif exponent == 1:
            self.alias[node.name] = self.act(base)
        elif exponent == 2:
            self.emit(node, "mul", [base, base])
        else:
            raise ExportError("a power with the constant exponent %r (0.5, 1 and 2 have ops)"
                              % (exponent,))

    def clip(self, node, x, lo, hi):
        if _is_node(lo) or _is_node(hi):
            raise ExportError("clamp with tensor bounds")
        lo = None if lo is None or lo == -math.inf else float(lo)
        hi = None if hi is None or hi == math.inf else float(hi)
        if lo is not None and hi is not None and lo > hi:
            raise ExportError("clamp with min %r > max %r" % (lo, hi))
        self.emit(node, "clip", [x], min=lo, max=hi)

    def condition(self, node):
        """m.bool(), m.to(torch.bool) and m != 0 hold what where's condition
        (m != 0) tests: they pass m through when only where reads them."""
        import torch
        t, a, kw = node.target, node.args, node.kwargs
        name = t if isinstance(t, str) else getattr(t, "__name__", str(t))
        if name == "ne" and (len(a) < 2 or _is_node(a[1]) or a[1] != 0):
            return False
        if name == "to" and torch.bool not in list(a[1:]) + [kw.get("dtype")]:
            return False
        for u in node.users:
            name = getattr(u.target, "__name__", u.target)
            if name != "where" or len(u.args) != 3:
                return False
            c, x, y = _where_operands(u)
            if c is not node or node in (x, y):
                return False
        return bool(node.users)

    def mean(self, node, x, dim, keepdim):
        rank = len(_shape(x))
        dims = list(dim) if isinstance(dim, (list, tuple)) else [dim]
        if dim is None or len(dims) != 1 or dims[0] % rank != rank - 1 or rank < 2:
            raise ExportError("mean over other than the last dimension")
        if node.kwargs.get("dtype") is not None:
            raise ExportError("mean with a dtype")
        self.emit(node, "reducemean", [x], keepdims=1 if keepdim else 0)

    def getitem(self, node, x, idx):
        idx = idx if isinstance(idx, tuple) else (idx,)
        rank = len(x.meta["tensor_meta"].shape)
        cuts = [(ax, s) for ax, s in enumerate(idx)
                if not (isinstance(s, slice) and s == slice(None))]
        if len(idx) > rank or any(not isinstance(s, slice) for _, s in cuts) or len(cuts) != 1:
            raise ExportError("indexing other than one slice along one axis")
        ax, s = cuts[0]
        self.emit(node, "slice", [x], axis=ax, start=s.start, end=s.stop,
                  step=s.step if s.step not in (None, 1) else None)


def export(model, inputs, out_dir, name="model", cache=None):
    """inputs: ordered dict name -> example tensor (dim 0 = max batch), in the
    order of forward's parameters; cache: key/value cache positions of causal
    attention (None: no cache). Returns the JSON path."""
    import torch.fx
    from torch.fx.passes.shape_prop import ShapeProp
    model = model.eval()
    tracer = _tracer()
    graph = tracer.trace(model)
    gm = torch.fx.GraphModule(tracer.root, graph)
    ShapeProp(gm).propagate(*inputs.values())
    ex = _Exporter(cache)
    mods = dict(model.named_modules())
    in_decl, outs = [], []
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    if len(placeholders) != len(inputs):
        raise ExportError("forward takes %d tensors, %d examples given"
                          % (len(placeholders), len(inputs)))
    for n, (iname, t) in zip(placeholders, inputs.items()):
        ex.alias[n.name] = iname
        in_decl.append({"name": iname, "shape": list(t.shape), "dtype": "f32"})
    for n in gm.graph.nodes:
        try:
            if n.op == "call_module":
                ex.module(n, mods[n.target], n.target)
            elif n.op in ("call_function", "call_method"):
                ex.call(n)
            elif n.op == "output":
                res = n.args[0]
                res = list(res) if isinstance(res, (tuple, list)) else [res]
                outs = [ex.act(r) for r in res]
            elif n.op == "get_attr":
                raise ExportError("a parameter used outside a module (%s)" % n.target)
        except ExportError as e:
            raise ExportError("node '%s' (%s %s): %s" % (n.name, n.op, n.target, e)) from None
    # outputs must be computed tensors with their own name
    for i, o in enumerate(outs):
        if o in [d["name"] for d in in_decl]:
            raise ExportError("output %d is a graph input" % i)
    os.makedirs(out_dir, exist_ok=True)
    wfile = name + ".safetensors"
    write_safetensors(os.path.join(out_dir, wfile),
                      {k: ex.tensors[k].numpy() for k in sorted(ex.tensors)})
    doc = {"sparseflow": 1, "name": name, "weights": wfile, "inputs": in_decl,
           "outputs": outs, "nodes": ex.nodes}
    path = os.path.join(out_dir, name + ".json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    return path
