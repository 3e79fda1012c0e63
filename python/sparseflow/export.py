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
operands of the same rank and batch (SparseFlow's broadcasting). A number
operand of +, -, * and / (`x * 0.5`, `1 - x`, `x / x.shape[-1]`) becomes a
`batchnorm` node with that scale and shift (dimension 1 is its channel
axis, so the tensor needs rank >= 2; after a conv it folds into the conv's
filters); a number divided by a tensor has no op. Powers with the constant
exponents 0.5, 1 and 2 are sqrt, nothing and x*x. The condition of
torch.where is an activation or input holding 0/1 (`m.bool()` and `m != 0`
pass it through). Means are over trailing dimensions, never the batch
(`x.mean(-1)` is reducemean, `x.mean((2, 3))` of an image global_avgpool).

Sizes and shapes (`x.size(0)`, `x.shape[-1]`, `B, S, E = x.shape`) are
numbers at export time: the example inputs fix every shape. Only the batch
(dimension 0) varies at run time, so a number computed from it may only
shape a view/reshape (`y.view(y.size(0), -1)`, which keeps the batch).

Composite modules: nn.MultiheadAttention (batch_first=True, no masks; use
only its first output) becomes q/k/v projections, one `attention` node and
the output projection; nn.TransformerEncoderLayer and nn.TransformerEncoder
(batch_first=True, relu or gelu, no masks) are exported through it.
LeakyReLU is relu(x) + slope * min(x, 0); Conv2d padding='same' becomes the
explicit padding PyTorch computes (the extra row or column at the end).

Whatever has no op is an ExportError naming the node and saying what to do
instead; tracing failures and a model that fails on its examples are
ExportErrors too.

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
    """A torch.fx tracer that keeps attention modules (sf_attention) whole,
    and whose proxies unpack (`B, S, E = x.shape`, `y, _ = mha(x, x, x)`) on
    every Python: torch.fx finds the UNPACK_SEQUENCE by an instruction index
    that Python 3.11's inline caches shift; here it is found by offset."""
    import dis
    import inspect
    import torch.fx

    class Unpack:
        def __iter__(self):
            frame = inspect.currentframe().f_back
            for inst in dis.get_instructions(frame.f_code):
                if inst.offset == frame.f_lasti and inst.opname == "UNPACK_SEQUENCE":
                    return (self[i] for i in range(inst.argval))
            return self.tracer.iter(self)

        def __getattr__(self, k):          # x.shape
            return Attribute(self, k)

    class Proxy(Unpack, torch.fx.Proxy):
        pass

    class Attribute(Unpack, torch.fx.proxy.Attribute):
        pass

    class Tracer(torch.fx.Tracer):
        def is_leaf_module(self, mod, qualname):
            return getattr(mod, "sf_attention", False) or super().is_leaf_module(mod, qualname)

        def proxy(self, node):
            return Proxy(node, self)
    return Tracer()


def _is_node(v):
    import torch.fx
    return isinstance(v, torch.fx.Node)


def _shape(v):
    """The static shape of a tensor node; an ExportError for anything else
    (a number, a tuple of tensors), never a KeyError."""
    from torch.fx.passes.shape_prop import TensorMetadata
    tm = v.meta.get("tensor_meta") if _is_node(v) else None
    if not isinstance(tm, TensorMetadata):
        what = "a tuple" if isinstance(tm, (tuple, list)) else "not a tensor"
        raise ExportError("'%s' is %s where a tensor was expected"
                          % (v.name if _is_node(v) else repr(v), what))
    return list(tm.shape)


def _where_operands(node):
    """[condition, x, y] of torch.where(c, x, y) or of x.where(c, y)."""
    a = node.args
    return [a[1], a[0], a[2]] if node.op == "call_method" else list(a)


def _pair(v):
    return list(v) if isinstance(v, (tuple, list)) else [v, v]


def _name(t):
    return t if isinstance(t, str) else getattr(t, "__name__", str(t))


def _is_number(v):
    return isinstance(v, (int, float))    # bool too


def _has_tensor(v):
    import torch
    if isinstance(v, torch.Tensor):
        return True
    if isinstance(v, (tuple, list)):
        return any(_has_tensor(x) for x in v)
    if isinstance(v, dict):
        return any(_has_tensor(x) for x in v.values())
    return False


def _same(a, b):
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # noqa: BLE001 - incomparable values count as different
        return False


def _propagate(gm, args, record_meta):
    """Runs gm on the example inputs: tensor shapes into node.meta (as
    ShapeProp does) and the value of every node that computes no tensor
    (sizes, shapes, numbers), returned by node name."""
    import torch.fx
    from torch.fx.passes.shape_prop import _extract_tensor_metadata
    import torch
    values = {}

    class Prop(torch.fx.Interpreter):
        def run_node(self, n):
            try:
                r = super().run_node(n)
            except ExportError:
                raise
            except Exception as e:  # noqa: BLE001 - the model's own error, with its node
                why = str(e).split("\n\nWhile executing")[0]   # torch.fx's note, not needed
                raise ExportError("node '%s' (%s %s) fails on the example inputs: %s: %s"
                                  % (n.name, n.op, _name(n.target), type(e).__name__, why)) \
                    from None
            if not _has_tensor(r):
                values[n.name] = r
            elif record_meta:
                n.meta["tensor_meta"] = torch.fx.node.map_aggregate(
                    r, lambda o: _extract_tensor_metadata(o) if isinstance(o, torch.Tensor)
                    else o)
            return r
    with torch.no_grad():
        Prop(gm).run(*args)
    return values


# Modules and functions that have no op, with what to do instead.
_RESIZE = ("SparseFlow has no resize op: export the network before and after the resize as "
           "two models and resize between them in your application")
_NO_OP_HINT = {
    "Upsample": _RESIZE, "UpsamplingNearest2d": _RESIZE, "UpsamplingBilinear2d": _RESIZE,
    "interpolate": _RESIZE, "upsample": _RESIZE, "upsample_nearest": _RESIZE,
    "upsample_bilinear": _RESIZE,
}

# Functions and methods whose number arguments may come from the batch size.
_SHAPING = ("view", "reshape")


class _Exporter:
    def __init__(self, cache=None):
        self.nodes, self.tensors, self.alias = [], {}, {}
        self.cache = cache
        self.static = {}      # node name -> value of a node that computes no tensor
        self.batchdep = set()  # names of static nodes whose value follows the batch
        self.tuples = {}      # node name -> [tensor name or None per element]

    def weight(self, qname, t):
        """A parameter or buffer by name, once."""
        import torch
        if qname not in self.tensors:
            self.tensors[qname] = t.detach().to(torch.float32).contiguous().cpu()
        return qname

    def act(self, arg):
        if not _is_node(arg):
            raise ExportError("a constant operand (%r) where a tensor was expected" % (arg,))
        if arg.name in self.tuples:
            raise ExportError("'%s' is a tuple of outputs: take one element ([0])" % arg.name)
        return self.alias.get(arg.name, arg.name)

    def emit(self, node, op, inputs, **attrs):
        self.raw(node.name, op, [self.act(i) if _is_node(i) else i for i in inputs], **attrs)

    def raw(self, name, op, inputs, **attrs):
        """A node on tensor names (decompositions); returns its output's name."""
        nd = {"op": op, "name": name, "inputs": list(inputs), "outputs": [name]}
        nd.update({k: v for k, v in attrs.items() if v is not None})
        self.nodes.append(nd)
        return name

    def const(self, name, values):
        import torch
        return self.weight(name, torch.tensor(values, dtype=torch.float32))

    # -- numbers computed at export time ---------------------------------------------
    def resolve(self, node):
        """Puts the values of size/shape nodes into node's arguments; a value
        that follows the batch may only shape a view or reshape."""
        import torch.fx
        used = []

        def sub(v):
            if _is_node(v) and v.name in self.static:
                used.append(v.name)
                return self.static[v.name]
            return v
        args = torch.fx.node.map_aggregate(node.args, sub)
        kwargs = torch.fx.node.map_aggregate(node.kwargs, sub)
        dep = [u for u in used if u in self.batchdep]
        if dep and _name(node.target) not in _SHAPING:
            raise ExportError(
                "uses '%s', a number computed from the batch size (dimension 0); the "
                "generated code takes the batch at run time, so it may only shape a view or "
                "reshape that keeps dimension 0: compute it from the other dimensions"
                % dep[0])
        if used:
            node.args, node.kwargs = args, kwargs

    # -- modules -------------------------------------------------------------
    def module(self, node, mod, qn):
        import torch
        import torch.nn as nn
        x = node.args[0] if node.args else None
        kind = type(mod).__name__
        if kind in _NO_OP_HINT:
            raise ExportError("module %s: %s" % (kind, _NO_OP_HINT[kind]))
        if isinstance(mod, (nn.Dropout, nn.Identity)):
            self.alias[node.name] = self.act(x)
        elif isinstance(mod, nn.Linear):
            self.emit(node, "linear", [x], weight=self.weight(qn + ".weight", mod.weight),
                      bias=self.weight(qn + ".bias", mod.bias) if mod.bias is not None else None)
        elif isinstance(mod, nn.Conv2d):
            self.emit(node, "conv2d", [x], weight=self.weight(qn + ".weight", mod.weight),
                      bias=self.weight(qn + ".bias", mod.bias) if mod.bias is not None else None,
                      stride=_pair(mod.stride), padding=self.conv_padding(mod),
                      dilation=_pair(mod.dilation), groups=mod.groups)
        elif isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
            if mod.running_mean is None or mod.running_var is None:
                raise ExportError(
                    "%s without running statistics (track_running_stats=False) normalises "
                    "with each batch's own statistics, which no SparseFlow op does: train it "
                    "with running statistics" % kind)
            c = mod.num_features
            w = mod.weight if mod.affine else torch.ones(c)
            b = mod.bias if mod.affine else torch.zeros(c)
            self.emit(node, "batchnorm", [x], weight=self.weight(qn + ".weight", w),
                      bias=self.weight(qn + ".bias", b),
                      mean=self.weight(qn + ".running_mean", mod.running_mean),
                      var=self.weight(qn + ".running_var", mod.running_var), epsilon=mod.eps)
        elif isinstance(mod, (nn.ReLU, nn.SiLU, nn.Sigmoid, nn.Tanh)):
            self.emit(node, kind.lower(), [x])
        elif isinstance(mod, nn.LeakyReLU):
            self.leaky_relu(node, x, mod.negative_slope)
        elif isinstance(mod, nn.Hardtanh):     # also ReLU6
            self.clip(node, x, mod.min_val, mod.max_val)
        elif isinstance(mod, nn.Hardsigmoid):
            self.emit(node, "hardsigmoid", [x], alpha=1.0 / 6.0, beta=0.5)
        elif isinstance(mod, nn.Hardswish):
            self.emit(node, "hardswish", [x])
        elif isinstance(mod, nn.GELU):
            self.emit(node, "gelu", [x], approximate=getattr(mod, "approximate", "none"))
        elif isinstance(mod, nn.MaxPool2d):
            if _pair(mod.dilation) != [1, 1] or mod.ceil_mode or mod.return_indices:
                raise ExportError("MaxPool2d with dilation, ceil_mode or return_indices: "
                                  "use dilation=1, ceil_mode=False (pad instead)")
            self.emit(node, "maxpool2d", [x], kernel=_pair(mod.kernel_size),
                      stride=_pair(mod.stride), padding=_pair(mod.padding))
        elif isinstance(mod, nn.AvgPool2d):
            if mod.ceil_mode or (mod.count_include_pad and _pair(mod.padding) != [0, 0]):
                raise ExportError("AvgPool2d must exclude padding (count_include_pad=False)")
            self.emit(node, "avgpool2d", [x], kernel=_pair(mod.kernel_size),
                      stride=_pair(mod.stride), padding=_pair(mod.padding))
        elif isinstance(mod, nn.AdaptiveAvgPool2d):
            self.adaptive_avg(node, x, mod.output_size)
        elif isinstance(mod, nn.Flatten):
            self.flatten(node, x, mod.start_dim, mod.end_dim)
        elif isinstance(mod, nn.LayerNorm):
            self.layernorm(node.name, self.act(x), mod, qn)
        elif isinstance(mod, nn.Embedding):
            self.emit(node, "embedding", [x], weight=self.weight(qn + ".weight", mod.weight))
        elif isinstance(mod, nn.Softmax):
            self.emit(node, "softmax", [x], axis=mod.dim)
        elif isinstance(mod, nn.MultiheadAttention):
            self.multihead(node, mod, qn)
        elif isinstance(mod, (nn.TransformerEncoderLayer, nn.TransformerEncoder)):
            self.encoder(node, mod, qn)
        elif getattr(mod, "sf_attention", False):
            self.attention(node, mod, qn)
        else:
            raise ExportError("module %s has no SparseFlow op (docs/FORMATS.md lists the ops)"
                              % kind)

    def conv_padding(self, mod):
        if mod.padding_mode != "zeros":
            raise ExportError("Conv2d padding_mode=%r: SparseFlow pads with zeros only; use "
                              "padding_mode='zeros'" % mod.padding_mode)
        if mod.padding == "valid":
            return [0, 0]
        if mod.padding == "same":
            # PyTorch puts the odd row or column at the end (bottom, right)
            tot = [d * (k - 1) for d, k in zip(_pair(mod.dilation), _pair(mod.kernel_size))]
            return [tot[0] // 2, tot[1] // 2, tot[0] - tot[0] // 2, tot[1] - tot[1] // 2]
        if isinstance(mod.padding, str):
            raise ExportError("Conv2d padding=%r: use numbers, 'same' or 'valid'" % mod.padding)
        return _pair(mod.padding)

    def layernorm(self, out, x, mod, qn):
        if len(mod.normalized_shape) != 1:
            raise ExportError("LayerNorm over more than the last dimension")
        aff = mod.elementwise_affine
        return self.raw(out, "layernorm", [x], epsilon=mod.eps,
                        weight=self.weight(qn + ".weight", mod.weight) if aff else None,
                        bias=self.weight(qn + ".bias", mod.bias) if aff else None)

    def linear(self, out, x, w, b, qn):
        return self.raw(out, "linear", [x], weight=self.weight(qn + ".weight", w),
                        bias=self.weight(qn + ".bias", b) if b is not None else None)

    def attention(self, node, mod, qn):
        x = node.args[0]
        mask = node.args[1] if len(node.args) > 1 else node.kwargs.get("mask")
        proj = []
        for p in ("q", "k", "v"):
            lin = getattr(mod, p)
            proj.append(self.linear("%s_%s" % (node.name, p), self.act(x), lin.weight, lin.bias,
                                    "%s.%s" % (qn, p)))
        ins = proj + ([self.act(mask)] if _is_node(mask) else [])
        mid = self.raw(node.name + "_mix", "attention", ins, heads=int(mod.heads),
                       causal=bool(mod.causal),
                       cache=int(self.cache) if self.cache and mod.causal else None)
        self.linear(node.name, mid, mod.o.weight, mod.o.bias, qn + ".o")

    # -- nn.MultiheadAttention and the transformer encoder ----------------------------
    def mha(self, out, q, k, v, mod, qn):
        """q, k, v: tensor names; the attention's output is named out."""
        what = "MultiheadAttention %s" % qn
        if not mod.batch_first:
            raise ExportError("%s has batch_first=False (inputs [S, B, E]); SparseFlow's "
                              "dimension 0 is the batch: construct it with batch_first=True"
                              % what)
        if mod.bias_k is not None or mod.add_zero_attn:
            raise ExportError("%s with add_bias_kv or add_zero_attn has no SparseFlow op" % what)
        E = mod.embed_dim
        b = mod.in_proj_bias
        names = []
        for i, (p, x) in enumerate((("q", q), ("k", k), ("v", v))):
            w = mod.in_proj_weight[i * E:(i + 1) * E] if mod._qkv_same_embed_dim \
                else getattr(mod, p + "_proj_weight")
            names.append(self.linear("%s_%s" % (out, p), x, w,
                                     b[i * E:(i + 1) * E] if b is not None else None,
                                     "%s.%s_proj" % (qn, p)))
        mid = self.raw(out + "_mix", "attention", names, heads=int(mod.num_heads))
        return self.linear(out, mid, mod.out_proj.weight, mod.out_proj.bias, qn + ".out_proj")

    def no_masks(self, node, what, skip):
        """Refuses a mask passed to an attention module (only None passes)."""
        extra = list(node.args[skip:]) + [v for k, v in node.kwargs.items()
                                           if "mask" in k]
        if any(_is_node(v) for v in extra):
            raise ExportError("%s with a mask: its masks have no SparseFlow mapping; an "
                              "sf_attention module takes a [B, S] key padding mask (1 keeps a "
                              "key) and causal=True (python/sparseflow/export.py)" % what)

    def multihead(self, node, mod, qn):
        self.no_masks(node, "MultiheadAttention %s" % qn, 3)
        a = list(node.args) + [None] * 3
        q, k, v = a[0], a[1] or node.kwargs.get("key"), a[2] or node.kwargs.get("value")
        if not all(_is_node(t) for t in (q, k, v)):
            raise ExportError("MultiheadAttention %s needs query, key and value tensors" % qn)
        out = self.mha(node.name + "_out", self.act(q), self.act(k), self.act(v), mod, qn)
        self.tuples[node.name] = [out, None]

    def encoder(self, node, mod, qn):
        import torch.nn as nn
        self.no_masks(node, "%s %s" % (type(mod).__name__, qn), 1)
        x = self.act(node.args[0])
        if isinstance(mod, nn.TransformerEncoderLayer):
            layers, norm = [(qn, mod)], None
        else:
            layers = [("%s.layers.%d" % (qn, i), m) for i, m in enumerate(mod.layers)]
            norm = mod.norm
        for i, (lq, layer) in enumerate(layers):
            last = i == len(layers) - 1 and norm is None
            x = self.encoder_layer(node.name if last else "%s_l%d" % (node.name, i),
                                   x, layer, lq)
        if norm is not None:
            self.layernorm(node.name, x, norm, qn + ".norm")

    def encoder_layer(self, out, x, mod, qn):
        import torch.nn as nn
        import torch.nn.functional as F
        act = mod.activation
        if act is F.relu or isinstance(act, nn.ReLU):
            act_op, approx = "relu", None
        elif act is F.gelu or isinstance(act, nn.GELU):
            act_op, approx = "gelu", getattr(act, "approximate", "none")
        else:
            raise ExportError("TransformerEncoderLayer %s: activation %r has no mapping "
                              "(relu or gelu)" % (qn, act))
        p = out + "_"

        def sa(t):
            return self.mha(p + "sa", t, t, t, mod.self_attn, qn + ".self_attn")

        def ff(t):
            h = self.linear(p + "up", t, mod.linear1.weight, mod.linear1.bias, qn + ".linear1")
            h = self.raw(p + "act", act_op, [h], approximate=approx)
            return self.linear(p + "down", h, mod.linear2.weight, mod.linear2.bias,
                               qn + ".linear2")
        if mod.norm_first:
            h = self.raw(p + "res1", "add", [x, sa(self.layernorm(p + "n1", x, mod.norm1,
                                                                   qn + ".norm1"))])
            return self.raw(out, "add", [h, ff(self.layernorm(p + "n2", h, mod.norm2,
                                                              qn + ".norm2"))])
        h = self.layernorm(p + "n1", self.raw(p + "res1", "add", [x, sa(x)]), mod.norm1,
                           qn + ".norm1")
        return self.layernorm(out, self.raw(p + "res2", "add", [h, ff(h)]), mod.norm2,
                              qn + ".norm2")

    def flatten(self, node, x, start, end):
        rank = len(_shape(x))
        if start != 1 or end not in (-1, rank - 1):
            raise ExportError("flatten other than from dim 1 to the last")
        self.emit(node, "flatten", [x])

    # -- functions and methods -----------------------------------------------------
    def call(self, node):
        t, a, kw = node.target, node.args, node.kwargs
        name = _name(t)
        if name in _NO_OP_HINT:
            raise ExportError("%s: %s" % (name, _NO_OP_HINT[name]))
        if name == "getitem" and _is_node(a[0]) and a[0].name in self.tuples:
            return self.tuple_item(node, a[0], a[1])
        binop = {"add": "add", "iadd": "add", "mul": "mul", "imul": "mul", "sub": "sub",
                 "isub": "sub", "rsub": "rsub", "truediv": "div", "itruediv": "div",
                 "div": "div", "true_divide": "div"}.get(name)
        if binop and len(a) >= 2 and binop != "rsub" and all(_is_node(v) for v in a[:2]):
            if binop == "div" and kw.get("rounding_mode") is not None:
                raise ExportError("division with rounding_mode")
            self.binary(node, binop, a[:2])
        elif binop and len(a) >= 2:
            self.scalar(node, binop, a[0], a[1])
        elif name == "pow":
            self.pow(node, a[0], a[1] if len(a) > 1 else kw.get("exponent"))
        elif name in ("matmul",) and all(_is_node(v) for v in a[:2]):
            self.emit(node, "matmul", list(a[:2]))
        elif name in ("relu", "silu", "sigmoid", "tanh", "erf", "sqrt", "hardswish"):
            self.emit(node, name, [a[0]])
        elif name == "leaky_relu":
            self.leaky_relu(node, a[0], a[1] if len(a) > 1 else kw.get("negative_slope", 0.01))
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
        elif name == "adaptive_avg_pool2d":
            self.adaptive_avg(node, a[0], a[1] if len(a) > 1 else kw.get("output_size"))
        elif name == "gelu":
            self.emit(node, "gelu", [a[0]], approximate=node.kwargs.get("approximate", "none"))
        elif name == "softmax":
            dim = node.kwargs.get("dim", a[1] if len(a) > 1 else None)
            self.emit(node, "softmax", [a[0]], axis=dim)
        elif name == "flatten":
            self.flatten(node, a[0], a[1] if len(a) > 1 else node.kwargs.get("start_dim", 0),
                         a[2] if len(a) > 2 else node.kwargs.get("end_dim", -1))
        elif name == "neg":
            self.affine(node.name, self.act(a[0]), _shape(a[0]), -1.0, 0.0)
        elif name in ("view", "reshape", "unsqueeze", "squeeze"):
            out_shape = _shape(node)
            if out_shape[:1] != _shape(a[0])[:1]:
                raise ExportError("%s from %s to %s changes dimension 0 (the batch); keep it "
                                  "first, e.g. y.view(y.size(0), -1)"
                                  % (name, _shape(a[0]), out_shape))
            self.emit(node, "reshape", [a[0]], shape=[0] + out_shape[1:])
        elif name in ("permute", "transpose"):
            rank = len(_shape(node))
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
            raise ExportError("function %s has no SparseFlow op (docs/FORMATS.md lists the ops)"
                              % name)

    def tuple_item(self, node, tup, idx):
        items = self.tuples[tup.name]
        if not isinstance(idx, int) or not -len(items) <= idx < len(items):
            raise ExportError("index %r of '%s'" % (idx, tup.name))
        if items[idx] is None:
            raise ExportError("the attention weights (output 1 of MultiheadAttention) are not "
                              "computed by SparseFlow's attention: use only output 0 "
                              "(need_weights=False)")
        self.alias[node.name] = items[idx]

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

    def scalar(self, node, op, a, b):
        """x (op) c or c (op) x with a number c: y = scale * x + shift, one
        batchnorm node (mean 0, var 1, epsilon 0: its scale and shift are
        exactly these)."""
        alpha = node.kwargs.get("alpha", 1)
        if op == "rsub":           # torch.rsub(x, c) = c - x * alpha
            op, a, b = "sub", b, a
            if alpha != 1:
                raise ExportError("rsub with alpha")
        x, c = (a, b) if _is_node(a) else (b, a)
        if not _is_node(x) or _is_node(c) or not _is_number(c):
            raise ExportError("%s of %r and %r: one operand must be a tensor, the other a "
                              "tensor or a number" % (op, a, b))
        c = float(c)
        if alpha != 1 and (op not in ("add", "sub") or x is not a):
            raise ExportError("%s with alpha" % op)
        if op == "add":
            scale, shift = 1.0, c * alpha
        elif op == "sub":
            scale, shift = (1.0, -c * alpha) if x is a else (-1.0, c)
        elif op == "mul":
            scale, shift = c, 0.0
        elif x is not a:
            raise ExportError("a number divided by a tensor (%r / %s): SparseFlow has no "
                              "reciprocal op; pass the tensor's reciprocal as an input or "
                              "divide two tensors" % (c, x.name))
        elif c == 0 or not math.isfinite(c):
            raise ExportError("division by %r" % c)
        else:
            scale, shift = 1.0 / c, 0.0
        if not (math.isfinite(scale) and math.isfinite(shift)):
            raise ExportError("%s with the number %r" % (op, c))
        self.affine(node.name, self.act(x), _shape(x), scale, shift)

    def affine(self, out, x, shape, scale, shift):
        if len(shape) < 2:
            raise ExportError("a number operand on a tensor of shape %s: SparseFlow applies it "
                              "as a batchnorm, which needs rank >= 2; reshape to [B, 1] first"
                              % shape)
        ch = shape[1]
        pre = "sf_const." + out
        return self.raw(out, "batchnorm", [x], weight=self.const(pre + ".scale", [scale] * ch),
                        bias=self.const(pre + ".shift", [shift] * ch),
                        mean=self.const(pre + ".mean", [0.0] * ch),
                        var=self.const(pre + ".var", [1.0] * ch), epsilon=0.0)

    def leaky_relu(self, node, x, slope):
        """relu(x) + slope * min(x, 0): exact on both sides of 0."""
        if not _is_node(x) or not _is_number(slope):
            raise ExportError("leaky_relu of %r with slope %r" % (x, slope))
        src = self.act(x)
        if slope == 0:
            return self.raw(node.name, "relu", [src])
        pos = self.raw(node.name + "_pos", "relu", [src])
        neg = self.raw(node.name + "_neg", "clip", [src], max=0.0)
        neg = self.affine(node.name + "_negs", neg, _shape(x), float(slope), 0.0)
        return self.raw(node.name, "add", [pos, neg])

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
            raise ExportError("a power with the constant exponent %r: 0.5, 1 and 2 have ops; "
                              "write others as products (x * x * x) or pass the exponent as a "
                              "tensor input" % (exponent,))

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
        name = _name(t)
        if name == "ne" and (len(a) < 2 or _is_node(a[1]) or a[1] != 0):
            return False
        if name == "to" and torch.bool not in list(a[1:]) + [kw.get("dtype")]:
            return False
        for u in node.users:
            name = _name(u.target)
            if name != "where" or len(u.args) != 3:
                return False
            c, x, y = _where_operands(u)
            if c is not node or node in (x, y):
                return False
        return bool(node.users)

    def mean(self, node, x, dim, keepdim):
        shape = _shape(x)
        rank = len(shape)
        if node.kwargs.get("dtype") is not None:
            raise ExportError("mean with a dtype")
        if dim is None:
            raise ExportError("a mean over every dimension includes dimension 0 (the batch); "
                              "name the dimensions, e.g. x.mean((1, 2))")
        dims = sorted({d % rank for d in (dim if isinstance(dim, (list, tuple)) else [dim])})
        k = len(dims)
        if 0 in dims or dims != list(range(rank - k, rank)):
            raise ExportError("mean over dimensions %s of a rank-%d tensor: SparseFlow averages "
                              "over trailing dimensions other than 0 (the batch); permute the "
                              "dimensions to average to the end first" % (list(dim) if isinstance(
                                  dim, (list, tuple)) else dim, rank))
        if k == 1:
            self.emit(node, "reducemean", [x], keepdims=1 if keepdim else 0)
            return
        if rank == 4 and dims == [2, 3]:
            mid = self.raw(node.name + "_pool" if not keepdim else node.name,
                           "global_avgpool", [self.act(x)])
            if not keepdim:
                self.raw(node.name, "reshape", [mid], shape=[0, shape[1]])
            return
        # the trailing dimensions as one, then the mean over it
        lead = shape[1:rank - k]
        flat = self.raw(node.name + "_flat", "reshape", [self.act(x)],
                        shape=[0] + lead + [int(math.prod(shape[rank - k:]))])
        self.raw(node.name if not keepdim else node.name + "_mean", "reducemean", [flat],
                 keepdims=0)
        if keepdim:
            self.raw(node.name, "reshape", [node.name + "_mean"], shape=[0] + lead + [1] * k)

    def adaptive_avg(self, node, x, size):
        shape = _shape(x)
        size = _pair(size)
        if len(shape) != 4:
            raise ExportError("adaptive average pooling of a rank-%d tensor (NCHW needed)"
                              % len(shape))
        size = [shape[2 + i] if s is None else s for i, s in enumerate(size)]
        if size == [1, 1]:
            self.emit(node, "global_avgpool", [x])
        elif shape[2] % size[0] == 0 and shape[3] % size[1] == 0:
            # windows of equal size, side by side: an avgpool2d
            kern = [shape[2] // size[0], shape[3] // size[1]]
            self.emit(node, "avgpool2d", [x], kernel=kern, stride=kern, padding=[0, 0])
        else:
            raise ExportError("adaptive average pooling from %dx%d to %dx%d: the output must "
                              "divide the input (windows of one size) or be 1x1"
                              % (shape[2], shape[3], size[0], size[1]))

    def getitem(self, node, x, idx):
        idx = idx if isinstance(idx, tuple) else (idx,)
        rank = len(_shape(x))
        cuts = [(ax, s) for ax, s in enumerate(idx)
                if not (isinstance(s, slice) and s == slice(None))]
        if len(idx) > rank or any(not isinstance(s, slice) for _, s in cuts) or \
                len(cuts) != 1 or cuts[0][0] == 0:
            raise ExportError("indexing %s: only one slice along one axis other than 0 has an op "
                              "(x[:, a:b]); use unsqueeze/reshape for None and a slice of "
                              "length 1 then a reshape for a number" % (idx,))
        ax, s = cuts[0]
        self.emit(node, "slice", [x], axis=ax, start=s.start, end=s.stop,
                  step=s.step if s.step not in (None, 1) else None)


def _other_batch(inputs):
    """The example inputs at another batch: the first item, or two copies."""
    import torch
    b = next(iter(inputs.values())).shape[0]
    return [v[:1] if b > 1 else torch.cat([v, v]) for v in inputs.values()]


def export(model, inputs, out_dir, name="model", cache=None):
    """inputs: ordered dict name -> example tensor (dim 0 = max batch), in the
    order of forward's parameters; cache: key/value cache positions of causal
    attention (None: no cache). Returns the JSON path."""
    import torch.fx
    model = model.eval()
    tracer = _tracer()
    try:
        graph = tracer.trace(model)
    except Exception as e:  # noqa: BLE001 - torch.fx's reasons, said as an export error
        raise ExportError("torch.fx cannot trace %s.forward: %s: %s (it traces with stand-ins "
                          "for tensors: forward may not branch on tensor values nor pass sizes "
                          "to tensor constructors such as torch.zeros; sizes used as numbers "
                          "are fine)" % (type(model).__name__, type(e).__name__, e)) from None
    gm = torch.fx.GraphModule(tracer.root, graph)
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    if len(placeholders) != len(inputs):
        raise ExportError("forward takes %d tensors, %d examples given"
                          % (len(placeholders), len(inputs)))
    ex = _Exporter(cache)
    ex.static = _propagate(gm, list(inputs.values()), True)
    if ex.static:
        # a number that differs at another batch follows the batch
        try:
            other = _propagate(gm, _other_batch(inputs), False)
        except ExportError:
            other = ex.static
        ex.batchdep = {k for k, v in ex.static.items() if not _same(v, other.get(k))}
    mods = dict(model.named_modules())
    in_decl, outs = [], []
    for n, (iname, t) in zip(placeholders, inputs.items()):
        ex.alias[n.name] = iname
        in_decl.append({"name": iname, "shape": list(t.shape), "dtype": "f32"})
    for n in gm.graph.nodes:
        try:
            if n.name in ex.static and n.op != "output":
                continue            # a size, shape or number: used where it is read
            if n.op == "call_function" and _name(n.target) == "getitem" and not n.users:
                continue            # an element unpacked and never read (`y, _ = ...`)
            if n.op in ("call_module", "call_function", "call_method", "output"):
                ex.resolve(n)
            if n.op == "call_module":
                ex.module(n, mods[n.target], n.target)
            elif n.op in ("call_function", "call_method"):
                ex.call(n)
            elif n.op == "output":
                res = n.args[0]
                res = list(res) if isinstance(res, (tuple, list)) else [res]
                if not all(_is_node(r) for r in res):
                    raise ExportError("forward returns %r: return a tensor or a flat tuple "
                                      "of tensors" % (n.args[0],))
                outs = [ex.act(r) for r in res]
            elif n.op == "get_attr":
                raise ExportError("a parameter used outside a module (%s): use it through a "
                                  "module such as nn.Linear" % n.target)
        except ExportError as e:
            raise ExportError("node '%s' (%s %s): %s" % (n.name, n.op, _name(n.target), e)) \
                from None
        except Exception as e:  # noqa: BLE001 - arguments of a shape the mapping does not take
            raise ExportError("node '%s' (%s %s): arguments %s not supported (%s: %s)"
                              % (n.name, n.op, _name(n.target), n.args, type(e).__name__, e)) \
                from None
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
