# builder.py - builds SparseFlow models from Python.
#
# Writes the two files sfgen reads: the model JSON graph and a safetensors
# weight file (F32, F16 or BF16 per tensor, sparseflow.safetensors).  Also
# provides deterministic random weights, N:M pruning along the reduction
# axis, helpers that plant dead channels (zero rows + zero bias, zero
# columns), and random inputs for a model (each input drawn as declared).
# Output shapes come from the shape rules of sparseflow.reference.  Only the
# Python standard library and numpy are used.
#
# Typical use:
#     from sparseflow.builder import ModelBuilder
#     mb = ModelBuilder("mlp", seed=1)
#     x = mb.input("x", [8, 784])
#     h = mb.linear(x, 256, pattern=(2, 4))
#     a = mb.relu(h)
#     mb.output(mb.linear(a, 10, bias=False, name="fc2", out="logits"))
#     json_path = mb.save("/tmp/mlp")

import json
import math
import os

import numpy as np

from sparseflow.reference import BINARY_OPS, REDUCE_OPS, UNARY_OPS, output_shape
from sparseflow.safetensors import write_safetensors

# --------------------------------------------------------------------------
# weights: random init, N:M pruning, dead channels
# --------------------------------------------------------------------------

def random_weight(rng, out_features, in_features, scale=None):
    """[out, in] normal weights scaled by 1/sqrt(in) (or `scale`)."""
    if scale is None:
        scale = 1.0 / math.sqrt(max(1, in_features))
    return rng.standard_normal((out_features, in_features)) * scale


def random_bias(rng, n, scale=0.1):
    return rng.standard_normal(n) * scale


def prune_nm(w, n, m):
    """N:M prune an [out, in] weight along the in (reduction) axis.

    In every group of m consecutive input columns of every row keep the n
    entries of largest |w| (ties: the lower column wins) and zero the rest.
    A short last group (in % m != 0) also keeps at most n entries.
    """
    if not (1 <= n <= m):
        raise ValueError("bad N:M pattern %d:%d" % (n, m))
    w = np.array(w, dtype=np.float64, copy=True)
    if w.ndim != 2:
        raise ValueError("prune_nm wants a 2-D [out, in] weight")
    out_f, in_f = w.shape
    keep = np.zeros(w.shape, dtype=bool)
    for g in range(0, in_f, m):
        blk = np.abs(w[:, g:g + m])
        k = min(n, blk.shape[1])
        order = np.argsort(-blk, axis=1, kind="stable")[:, :k]
        rows = np.repeat(np.arange(out_f), k)
        keep[rows, g + order.reshape(-1)] = True
    w[~keep] = 0.0
    return w


def check_nm(w, n, m):
    """True if every group of m consecutive in-columns has <= n nonzeros."""
    w = np.asarray(w)
    for g in range(0, w.shape[1], m):
        if (np.count_nonzero(w[:, g:g + m], axis=1) > n).any():
            return False
    return True


def kill_rows(w, b, rows):
    """Dead output channels: zero the rows of w and the bias entries."""
    w = np.array(w, dtype=np.float64, copy=True)
    w[list(rows), :] = 0.0
    if b is not None:
        b = np.array(b, dtype=np.float64, copy=True)
        b[list(rows)] = 0.0
    return w, b


def kill_cols(w, cols):
    """Unused input channels: zero the columns of an [out, in] weight."""
    w = np.array(w, dtype=np.float64, copy=True)
    w[:, list(cols)] = 0.0
    return w


def parse_pattern(p):
    """'2:4' -> (2, 4); 'dense' / None -> None."""
    if p is None or p == "dense":
        return None
    if isinstance(p, tuple):
        return p
    n, m = p.split(":")
    return int(n), int(m)



# --------------------------------------------------------------------------
# how an input is drawn (ModelBuilder.input(..., sample=...)): each is a
# function (rng, shape) -> float64 array; the default is standard normal
# --------------------------------------------------------------------------

def uniform(lo, hi):
    """Uniform on [lo, hi)."""
    return lambda rng, shape: rng.uniform(lo, hi, shape)


def signed_uniform(lo, hi):
    """A random sign times a magnitude uniform on [lo, hi) (away from 0)."""
    return lambda rng, shape: rng.choice([-1.0, 1.0], shape) * rng.uniform(lo, hi, shape)


def choice(values):
    """Each element one of `values` (e.g. [0, 1] for a condition)."""
    return lambda rng, shape: rng.choice(np.asarray(values, dtype=np.float64), shape)


def normal(scale):
    """Normal with standard deviation `scale`."""
    return lambda rng, shape: rng.standard_normal(shape) * scale


# --------------------------------------------------------------------------
# model builder
# --------------------------------------------------------------------------

class ModelBuilder:
    def __init__(self, name, seed=0, dtype="F32"):
        self.name = name
        self.rng = np.random.default_rng(seed)
        self.dtype = dtype
        self.inputs = []
        self.outputs = []
        self.nodes = []
        self.tensors = {}   # weight name -> (float64 array, dtype)
        self.shapes = {}    # activation name -> shape (dim 0 = max batch)
        self.metadata = None
        self.int_inputs = {}    # input name -> table rows (token ids)
        self.mask_inputs = set()
        self.samplers = {}      # input name -> (rng, shape) -> values
        self.consts = set()     # activations of constant nodes (dim 0 is 1, not the batch)
        self._count = {}

    # -- names ------------------------------------------------------------
    def _fresh(self, prefix):
        i = self._count.get(prefix, 0)
        while True:
            i += 1
            cand = "%s%d" % (prefix, i)
            if cand not in self.shapes and cand not in self.tensors and \
                    all(n["name"] != cand for n in self.nodes):
                self._count[prefix] = i
                return cand

    def _new_act(self, out, shape):
        if out is None:
            out = self._fresh("t")
        if out in self.shapes:
            raise ValueError("activation %s defined twice" % out)
        self.shapes[out] = list(shape)
        return out

    def add_tensor(self, name, arr, dtype=None):
        if name in self.tensors:
            raise ValueError("tensor %s defined twice" % name)
        self.tensors[name] = (np.asarray(arr, dtype=np.float64),
                              dtype or self.dtype)
        return name

    def shape_of(self, nd):
        """The output shape of node `nd` (its op's shape rule)."""
        return output_shape(nd, [self.shapes[i] for i in nd["inputs"]],
                            lambda t: self.tensors[t][0].shape,
                            [i in self.consts for i in nd["inputs"]],
                            self.inputs[0]["shape"][0] if self.inputs else None)

    # -- graph --------------------------------------------------------------
    def input(self, name, shape, sample=None):
        """A graph input; sample: how random_inputs draws it (uniform(),
        choice(), ...; default standard normal times random_inputs' scale)."""
        shape = [int(d) for d in shape]
        self._new_act(name, shape)
        self.inputs.append({"name": name, "shape": shape, "dtype": "f32"})
        if sample is not None:
            self.samplers[name] = sample
        return name

    def output(self, name):
        if name not in self.shapes:
            raise ValueError("unknown activation %s" % name)
        self.outputs.append(name)
        return name

    def make_weight(self, out_f, in_f, pattern=None, dead_rows=(),
                    dead_cols=(), scale=None):
        """Random [out, in] weight, N:M pruned, rescaled to ~unit gain."""
        w = random_weight(self.rng, out_f, in_f, scale=1.0)
        pat = parse_pattern(pattern)
        if pat is not None:
            w = prune_nm(w, *pat)
        if scale is None:
            nnz_row = max(1.0, np.count_nonzero(w) / max(1, out_f))
            scale = 1.0 / math.sqrt(nnz_row)
        w = w * scale
        if dead_cols:
            w = kill_cols(w, dead_cols)
        if dead_rows:
            w, _ = kill_rows(w, None, dead_rows)
        return w

    def linear(self, x, out_features, name=None, bias=True, pattern=None,
               weight=None, bias_value=None, dead_rows=(), dead_cols=(),
               const_rows=None, scale=None, dtype=None, bias_dtype=None,
               out=None):
        """y = x W^T + b.  dead_rows: zero rows + zero bias; dead_cols: zero
        columns; const_rows: {row: bias} rows with zero weights but a
        nonzero bias (constant, NOT dead channels)."""
        xs = self.shapes[x]
        in_f = xs[-1]
        name = name or self._fresh("fc")
        if weight is None:
            weight = self.make_weight(out_features, in_f, pattern, dead_rows,
                                      dead_cols, scale)
        weight = np.asarray(weight, dtype=np.float64)
        if weight.shape != (out_features, in_f):
            raise ValueError("%s: weight shape %s" % (name, weight.shape))
        if dead_cols:
            weight = kill_cols(weight, dead_cols)
        if dead_rows:
            weight, _ = kill_rows(weight, None, dead_rows)
        node = {"op": "linear", "name": name, "inputs": [x]}
        wname = name + ".weight"
        b = None
        if bias:
            b = (np.asarray(bias_value, dtype=np.float64) if bias_value
                 is not None else random_bias(self.rng, out_features))
            b = b.copy()
            if dead_rows:
                b[list(dead_rows)] = 0.0
        if const_rows:
            weight = weight.copy()
            for r, v in const_rows.items():
                weight[r, :] = 0.0
                if b is None:
                    raise ValueError("const_rows needs a bias")
                b[r] = v
        self.add_tensor(wname, weight, dtype)
        node["outputs"] = [None]
        node["weight"] = wname
        if b is not None:
            node["bias"] = self.add_tensor(name + ".bias", b,
                                           bias_dtype or dtype)
        node["outputs"] = [self._new_act(out, self.shape_of(node))]
        self.nodes.append(node)
        return node["outputs"][0]

    def matmul(self, x, n_out, name=None, pattern=None, weight=None,
               dead_cols=(), dead_k=(), scale=None, dtype=None, out=None):
        """y = x W with W [K, N].  pattern prunes along K.  dead_cols: zero
        output columns of W; dead_k: zero rows of W (unused inputs)."""
        xs = self.shapes[x]
        k = xs[-1]
        name = name or self._fresh("mm")
        if weight is None:
            # build as [N, K] so pruning/killing works along K, then transpose
            wt = self.make_weight(n_out, k, pattern, dead_rows=dead_cols,
                                  dead_cols=dead_k, scale=scale)
            weight = wt.T.copy()
        weight = np.array(weight, dtype=np.float64, copy=True)
        if weight.shape != (k, n_out):
            raise ValueError("%s: weight shape %s" % (name, weight.shape))
        weight[:, list(dead_cols)] = 0.0
        weight[list(dead_k), :] = 0.0
        wname = self.add_tensor(name + ".weight", weight, dtype)
        node = {"op": "matmul", "name": name, "inputs": [x], "outputs": [None],
                "weight": wname}
        node["outputs"] = [self._new_act(out, self.shape_of(node))]
        self.nodes.append(node)
        return node["outputs"][0]

    def _elementwise(self, op, inputs, name=None, out=None, **attrs):
        """An elementwise node; its output is named after the node unless
        `out` says otherwise.  attrs (None: left out) go into the JSON."""
        name = name or self._fresh(op)
        if out is None and name not in self.shapes:
            out = name      # activation named after its node
        node = {"op": op, "name": name, "inputs": list(inputs), "outputs": [None]}
        node.update({k: v for k, v in attrs.items() if v is not None})
        node["outputs"] = [self._new_act(out, self.shape_of(node))]
        self.nodes.append(node)
        return node["outputs"][0]

    def unary(self, op, x, name=None, approximate=None, out=None, **attrs):
        """relu, gelu (approximate), silu, sigmoid, tanh, erf, sqrt,
        hardswish, clip (min, max), hardsigmoid (alpha, beta)."""
        if op not in UNARY_OPS:
            raise ValueError("unknown unary op %s" % op)
        if approximate is not None and op != "gelu":
            raise ValueError("approximate only applies to gelu")
        return self._elementwise(op, [x], name=name, out=out,
                                 approximate=approximate, **attrs)

    def relu(self, x, **kw):
        return self.unary("relu", x, **kw)

    def gelu(self, x, approximate=None, **kw):
        return self.unary("gelu", x, approximate=approximate, **kw)

    def silu(self, x, **kw):
        return self.unary("silu", x, **kw)

    def sigmoid(self, x, **kw):
        return self.unary("sigmoid", x, **kw)

    def tanh(self, x, **kw):
        return self.unary("tanh", x, **kw)

    def erf(self, x, **kw):
        return self.unary("erf", x, **kw)

    def sqrt(self, x, **kw):
        return self.unary("sqrt", x, **kw)

    def hardswish(self, x, **kw):
        return self.unary("hardswish", x, **kw)

    def clip(self, x, min=None, max=None, **kw):  # noqa: A002 - the JSON keys
        """min(max(x, min), max); an absent bound is unbounded."""
        return self.unary("clip", x, min=min, max=max, **kw)

    def hardsigmoid(self, x, alpha=None, beta=None, **kw):
        """max(0, min(1, alpha x + beta)); absent: alpha 0.2, beta 0.5."""
        return self.unary("hardsigmoid", x, alpha=alpha, beta=beta, **kw)

    def act(self, kind, x):
        """kind: relu | gelu | gelu_tanh | silu | sigmoid | tanh"""
        if kind == "gelu_tanh":
            return self.gelu(x, approximate="tanh")
        if kind == "gelu_erf":
            return self.gelu(x, approximate="none")
        return self.unary(kind, x)

    def minimum(self, a, b, **kw):
        return self._binary("min", a, b, **kw)

    def maximum(self, a, b, **kw):
        return self._binary("max", a, b, **kw)

    def _binary(self, op, a, b, name=None, out=None):
        if op not in BINARY_OPS:
            raise ValueError("unknown binary op %s" % op)
        return self._elementwise(op, [a, b], name=name, out=out)

    def add(self, a, b, **kw):
        return self._binary("add", a, b, **kw)

    def mul(self, a, b, **kw):
        return self._binary("mul", a, b, **kw)

    def sub(self, a, b, **kw):
        return self._binary("sub", a, b, **kw)

    def div(self, a, b, **kw):
        return self._binary("div", a, b, **kw)

    def pow(self, a, b, **kw):
        """a ** b."""
        return self._binary("pow", a, b, **kw)

    def where(self, cond, a, b, **kw):
        """a where cond != 0, else b; the three broadcast like add."""
        return self._elementwise("where", [cond, a, b], **kw)

    def reducemean(self, x, axis=None, keepdims=None, axes=None, **kw):
        """Mean over the last axis (or `axis`, or the list `axes`); keepdims
        1 (default) keeps each as 1."""
        return self._elementwise("reducemean", [x], axis=axis, axes=axes, keepdims=keepdims,
                                 **kw)

    def reduce(self, op, x, axes, keepdims=None, **kw):
        """reducesum, reducemax, reducemin, reduceprod (or reducemean) over `axes`."""
        if op not in REDUCE_OPS:
            raise ValueError("unknown reduction %s" % op)
        return self._elementwise(op, [x], axes=list(axes), keepdims=keepdims, **kw)

    def constant(self, value, name=None, dtype=None, out=None):
        """A constant tensor (first dimension 1: the same for every batch
        item), stored in the weights file as `<name>.value`."""
        name = name or self._fresh("const")
        wname = self.add_tensor(name + ".value", value, dtype)
        res = self._elementwise("constant", [], name=name, out=out, weight=wname)
        self.consts.add(res)
        return res

    def expand(self, x, shape, **kw):
        """x broadcast to [B] + shape."""
        return self._elementwise("expand", [x], shape=list(shape), **kw)

    # -- network ops (DESIGN §4) ----------------------------------------------
    def node(self, op, inputs, oshape=None, name=None, out=None, **attrs):
        """A node; attrs go into the JSON as-is (None: left out).  Its
        output shape comes from the op's shape rule; oshape, if given, must
        agree with it."""
        name = name or self._fresh(op)
        nd = {"op": op, "name": name, "inputs": list(inputs), "outputs": [None]}
        nd.update({k: v for k, v in attrs.items() if v is not None})
        shape = self.shape_of(nd)
        if oshape is not None and list(oshape) != shape:
            raise ValueError("%s: output shape %s, the shape rule gives %s"
                             % (name, list(oshape), shape))
        nd["outputs"] = [self._new_act(out, shape)]
        self.nodes.append(nd)
        return nd["outputs"][0]

    def conv2d(self, x, out_ch, kernel, stride=1, padding=0, dilation=1, groups=1,
               bias=True, pattern=None, dead_out=(), name=None, out=None):
        """NCHW conv; pattern prunes along the flattened C/groups*kh*kw axis."""
        c = self.shapes[x][1]
        kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
        name = name or self._fresh("conv")
        cpg = c // groups
        wt = self.make_weight(out_ch, cpg * kh * kw, pattern, dead_rows=dead_out)
        wt = wt.reshape(out_ch, cpg, kh, kw)
        attrs = {"weight": self.add_tensor(name + ".weight", wt)}
        if bias:
            b = random_bias(self.rng, out_ch)
            b[list(dead_out)] = 0.0
            attrs["bias"] = self.add_tensor(name + ".bias", b)
        return self.node("conv2d", [x], name=name, out=out,
                         stride=stride if stride != 1 else None,
                         padding=padding if padding != 0 else None,
                         dilation=dilation if dilation != 1 else None,
                         groups=groups if groups != 1 else None, **attrs)

    def batchnorm(self, x, name=None, dead=(), out=None):
        c = self.shapes[x][1]
        name = name or self._fresh("bn")
        g = self.rng.uniform(0.5, 1.5, c)
        b = self.rng.uniform(-0.2, 0.2, c)
        g[list(dead)] = 0.0
        b[list(dead)] = 0.0
        return self.node("batchnorm", [x], name=name, out=out,
                         weight=self.add_tensor(name + ".weight", g),
                         bias=self.add_tensor(name + ".bias", b),
                         mean=self.add_tensor(name + ".mean", self.rng.uniform(-0.3, 0.3, c)),
                         var=self.add_tensor(name + ".var", self.rng.uniform(0.5, 2.0, c)),
                         epsilon=1e-5)

    def pool(self, op, x, kernel, stride=None, padding=0, name=None):
        return self.node(op, [x], name=name, kernel=kernel, stride=stride,
                         padding=padding if padding != 0 else None)

    def global_avgpool(self, x, name=None):
        return self.node("global_avgpool", [x], name=name)

    def flatten(self, x, name=None):
        return self.node("flatten", [x], name=name)

    def reshape(self, x, shape, name=None):
        return self.node("reshape", [x], name=name, shape=list(shape))

    def transpose(self, x, perm, name=None):
        return self.node("transpose", [x], name=name, perm=list(perm))

    def concat(self, xs, axis, name=None):
        return self.node("concat", xs, name=name, axis=axis)

    def slice(self, x, axis, start=0, end=None, step=1, name=None):
        return self.node("slice", [x], name=name, axis=axis, start=start, end=end,
                         step=step if step != 1 else None)

    def layernorm(self, x, name=None, eps=1e-5, affine=True):
        c = self.shapes[x][-1]
        name = name or self._fresh("ln")
        attrs = {}
        if affine:
            attrs["weight"] = self.add_tensor(name + ".weight", self.rng.uniform(0.5, 1.5, c))
            attrs["bias"] = self.add_tensor(name + ".bias", self.rng.uniform(-0.2, 0.2, c))
        return self.node("layernorm", [x], name=name, epsilon=eps, **attrs)

    def softmax(self, x, axis=-1, name=None):
        return self.node("softmax", [x], name=name, axis=axis if axis != -1 else None)

    def bmm(self, a, b, name=None):
        return self.node("matmul", [a, b], name=name)

    def embedding(self, idx, rows, dim, name=None, table=None):
        name = name or self._fresh("emb")
        if table is None:
            table = self.rng.standard_normal((rows, dim))
        if idx in [i["name"] for i in self.inputs]:
            self.int_inputs[idx] = rows
        return self.node("embedding", [idx], name=name,
                         weight=self.add_tensor(name + ".weight", table))

    def attention(self, q, k, v, heads, mask=None, causal=False, name=None):
        if mask is not None:
            self.mask_inputs.add(mask)
        return self.node("attention", [q, k, v] + ([mask] if mask else []), name=name,
                         heads=heads, causal=True if causal else None)

    # -- output -------------------------------------------------------------
    def to_json(self, weights_file):
        return {"sparseflow": 1, "name": self.name, "weights": weights_file,
                "inputs": self.inputs, "outputs": self.outputs,
                "nodes": self.nodes}

    def save(self, directory, stem=None):
        """Write DIR/<stem>.json and DIR/<stem>.safetensors; return the
        JSON path."""
        if not self.outputs:
            raise ValueError("model has no outputs")
        stem = stem or self.name
        os.makedirs(directory, exist_ok=True)
        wfile = stem + ".safetensors"
        write_safetensors(os.path.join(directory, wfile), self.tensors,
                          dtype=self.dtype, metadata=self.metadata)
        jpath = os.path.join(directory, stem + ".json")
        with open(jpath, "w") as f:
            json.dump(self.to_json(wfile), f, indent=1)
            f.write("\n")
        return jpath

    def random_inputs(self, batch, seed, scale=1.0):
        """dict input name -> float32 array with runtime batch `batch`."""
        rng = np.random.default_rng(seed)
        res = {}
        for inp in self.inputs:
            name = inp["name"]
            shape = [batch] + inp["shape"][1:]
            if name in self.samplers:
                res[name] = np.asarray(self.samplers[name](rng, shape)).astype(np.float32)
            elif name in self.int_inputs:    # token ids, coded as floats
                res[name] = rng.integers(0, self.int_inputs[name], shape).astype(np.float32)
            elif name in self.mask_inputs:  # padding: each row keeps a prefix of keys
                m = np.zeros(shape, dtype=np.float32)
                for r in range(shape[0]):
                    m[r, :rng.integers(1, shape[1] + 1)] = 1.0
                res[name] = m
            else:
                res[name] = (rng.standard_normal(shape) * scale).astype(
                    np.float32)
        return res
