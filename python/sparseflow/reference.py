# reference.py - float64 reference evaluator for SparseFlow models.
#
# Reads a model JSON and its safetensors file (sparseflow.safetensors),
# widens F32/F16/BF16 weights exactly to float64, and evaluates the graph in
# float64 in topological order.  It shares no code with sfgen.
#
# Every op has one shape rule here (SHAPE_RULES: the output shape from the
# node, its input shapes and the shapes of its weights; it raises ValueError
# on operands that do not fit).  ModelBuilder declares its activations with
# these rules, and evaluate() checks every value it computes against them.
#
#     from sparseflow import reference
#     outs = reference.evaluate("model.json", {"x": x})   # dict name -> float64
#
# Can also be run as a script:
#     python3 -m sparseflow.reference MODEL.json x=in.npy [y=in2.npy ...]
# prints the output shapes and a checksum.

import json
import math
import os
import sys

import numpy as np

from sparseflow.safetensors import read_safetensors

# the ops of one input and one output of the same shape, computed element by
# element; clip, hardsigmoid and leakyrelu take attributes
UNARY_OPS = ("relu", "gelu", "silu", "sigmoid", "tanh", "erf", "sqrt",
             "hardswish", "clip", "hardsigmoid", "neg", "exp", "log", "abs",
             "reciprocal", "leakyrelu", "softplus", "not", "floor", "ceil",
             "sign", "round")
# the ops of two inputs that broadcast (broadcast_shape); the comparisons
# and logic ops give 0/1 (booleans are 0/1 floats in a SparseFlow graph)
BINARY_OPS = ("add", "mul", "sub", "div", "pow", "min", "max", "equal", "less",
              "greater", "lessorequal", "greaterorequal", "and", "or")
# reductions over `axes` (reducemean also `axis`, default the last)
REDUCE_OPS = ("reducemean", "reducesum", "reducemax", "reducemin", "reduceprod")
# the ops that take a constant's tensor (first dimension 1, not the batch)
CONST_READERS = BINARY_OPS + ("where", "expand")

HARDSIGMOID_ALPHA = 0.2     # hardsigmoid's defaults (ONNX HardSigmoid)
HARDSIGMOID_BETA = 0.5
LEAKYRELU_ALPHA = 0.01      # leakyrelu's default (ONNX LeakyRelu)


def _name(node):
    return node.get("name", node.get("op"))


# --------------------------------------------------------------------------
# shape rules
# --------------------------------------------------------------------------

def broadcast_shape(*shapes, consts=None):
    """Shape of an elementwise op on several operands under the SparseFlow
    rules: NumPy broadcasting, operands right-aligned, dimension 0 the
    batch.  consts[i] marks operand i as a constant (its dimension 0 is 1,
    not the batch): it may have a lower rank and repeats along the batch.
    Batched operands have the output's rank and the same batch; at least
    one operand is batched."""
    shapes = [list(s) for s in shapes]
    consts = list(consts) if consts is not None else [False] * len(shapes)
    batched = [s for s, k in zip(shapes, consts) if not k]
    if not batched:
        raise ValueError("every operand is a constant")
    rank = max(len(s) for s in shapes)
    for s in batched:
        if len(s) != rank:
            raise ValueError("a batched operand of rank %d below the output's %d: %s"
                             % (len(s), rank, shapes))
        if s[0] != batched[0][0]:
            raise ValueError("operands differ in batch: %s" % shapes)
    out = [batched[0][0]]
    for k in range(1, rank):
        dims = [s[k - (rank - len(s))] for s in shapes if k - (rank - len(s)) >= 0]
        big = [d for d in dims if d != 1]
        if any(d != big[0] for d in big):
            raise ValueError("shapes %s do not broadcast"
                             % " and ".join(str(s) for s in shapes))
        out.append(big[0] if big else 1)
    return out


def _pair(v, default):
    if v is None:
        v = default
    return (v, v) if isinstance(v, int) else tuple(v)


def _pads(node):
    p = node.get("padding", 0)
    if isinstance(p, int):
        return (p, p, p, p)
    if len(p) == 2:
        return (p[0], p[1], p[0], p[1])
    return tuple(p)


def _window_hw(h, w, kh, kw, s, d, p):
    ho = (h + p[0] + p[2] - d[0] * (kh - 1) - 1) // s[0] + 1
    wo = (w + p[1] + p[3] - d[1] * (kw - 1) - 1) // s[1] + 1
    return ho, wo


def _shape_linear(node, s, wshape):
    (x,) = s
    w = wshape(node["weight"])
    if len(w) != 2 or w[1] != x[-1]:
        raise ValueError("%s: weight %s vs input %s" % (_name(node), w, x))
    if node.get("bias") is not None and list(wshape(node["bias"])) != [w[0]]:
        raise ValueError("%s: bias shape %s" % (_name(node), wshape(node["bias"])))
    return x[:-1] + [w[0]]


def _shape_matmul(node, s, wshape):
    if "weight" in node:
        (x,) = s
        w = wshape(node["weight"])
        if len(w) != 2 or w[0] != x[-1]:
            raise ValueError("%s: weight %s vs input %s" % (_name(node), w, x))
        return x[:-1] + [w[1]]
    a, b = s
    if len(a) != len(b) or a[-1] != b[-2]:
        raise ValueError("%s: %s @ %s" % (_name(node), a, b))
    return [max(p, q) for p, q in zip(a[:-2], b[:-2])] + [a[-2], b[-1]]


def _shape_same(node, s, wshape):
    return list(s[0])


def _shape_broadcast(node, s, wshape, consts=None, batch=None):
    want = 3 if node["op"] == "where" else 2
    if len(s) != want:
        raise ValueError("%s: %s takes %d inputs" % (_name(node), node["op"], want))
    try:
        return broadcast_shape(*s, consts=consts)
    except ValueError as e:
        raise ValueError("%s: %s" % (_name(node), e)) from None


def _shape_constant(node, s, wshape):
    if s:
        raise ValueError("%s: constant takes no inputs" % _name(node))
    w = list(wshape(node["weight"]))
    if len(w) < 1 or w[0] != 1:
        raise ValueError("%s: a constant's first dimension must be 1, not %s" % (_name(node), w))
    return w


def _shape_expand(node, s, wshape, consts=None, batch=None):
    (x,) = s
    shape = node.get("shape")
    if not isinstance(shape, list) or not shape or \
            any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in shape):
        raise ValueError("%s: shape %r is not a list of dims >= 1" % (_name(node), shape))
    if len(x) > len(shape) + 1:
        raise ValueError("%s: input %s has more dims than [B] + %s" % (_name(node), x, shape))
    const = bool(consts and consts[0])
    if const and batch is None:
        raise ValueError("%s: the batch of an expanded constant is not known" % _name(node))
    try:
        # the target as a batched operand (the batch: x's, or the model's
        # for a constant x)
        out = broadcast_shape(x, [batch if const else x[0]] + shape, consts=[const, False])
    except ValueError as e:
        raise ValueError("%s: %s" % (_name(node), e)) from None
    return out


def _shape_clip(node, s, wshape):
    lo, hi = node.get("min", -math.inf), node.get("max", math.inf)
    if lo > hi:
        raise ValueError("%s: min %r > max %r" % (_name(node), lo, hi))
    return list(s[0])


def reduce_axes(node, rank):
    """The reduced axes of a reduction node, normalised and sorted."""
    if rank < 2:
        raise ValueError("%s: nothing to reduce in a rank-%d input" % (_name(node), rank))
    if "axes" in node and "axis" in node:
        raise ValueError("%s: axes and axis both given" % _name(node))
    if "axes" not in node:
        if node["op"] != "reducemean":
            raise ValueError("%s: axes missing" % _name(node))
        axes = [node.get("axis", -1)]
    else:
        axes = node["axes"]
    if not isinstance(axes, list) or not axes:
        raise ValueError("%s: axes %r is not a list of axes" % (_name(node), axes))
    norm = []
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, int) or not -rank <= a < rank:
            raise ValueError("%s: axis %r out of range for rank %d" % (_name(node), a, rank))
        a = a + rank if a < 0 else a
        if a == 0 or a in norm:
            raise ValueError("%s: axis %d is the batch or repeated" % (_name(node), a))
        norm.append(a)
    return sorted(norm)


def _shape_reduce(node, s, wshape):
    x = list(s[0])
    axes = reduce_axes(node, len(x))
    keep = node.get("keepdims", 1)
    if keep not in (0, 1) or isinstance(keep, bool):
        raise ValueError("%s: keepdims %r is not 0 or 1" % (_name(node), keep))
    return [1 if i in axes else d for i, d in enumerate(x) if keep or i not in axes]


def _shape_conv2d(node, s, wshape):
    n, c, h, w = s[0]
    o, cpg, kh, kw = wshape(node["weight"])
    ho, wo = _window_hw(h, w, kh, kw, _pair(node.get("stride"), 1),
                        _pair(node.get("dilation"), 1), _pads(node))
    return [n, o, ho, wo]


def _shape_pool(node, s, wshape):
    n, c, h, w = s[0]
    kh, kw = _pair(node["kernel"], None)
    st = _pair(node.get("stride"), None) if node.get("stride") is not None else (kh, kw)
    ho, wo = _window_hw(h, w, kh, kw, st, (1, 1), _pads(node))
    return [n, c, ho, wo]


def _shape_global_avgpool(node, s, wshape):
    return list(s[0][:2]) + [1, 1]


def _shape_flatten(node, s, wshape):
    x = s[0]
    return [x[0], int(np.prod(x[1:]))]


def _shape_reshape(node, s, wshape):
    x = s[0]
    shape = node["shape"] if isinstance(node["shape"], list) else [node["shape"]]
    dims = [x[0]] + [x[i] if d == 0 and i < len(x) else d
                     for i, d in enumerate(shape) if i > 0]
    if -1 in dims[1:]:
        k = dims[1:].index(-1) + 1
        dims[k] = int(np.prod(x[1:])) // int(-np.prod(dims[1:]))
    if int(np.prod(dims[1:])) != int(np.prod(x[1:])):
        raise ValueError("%s: cannot reshape %s to %s" % (_name(node), x, shape))
    return dims


def _shape_transpose(node, s, wshape):
    return [s[0][p] for p in node["perm"]]


def _shape_concat(node, s, wshape):
    shape = list(s[0])
    shape[node["axis"]] = sum(t[node["axis"]] for t in s)
    return shape


def _shape_slice(node, s, wshape):
    shape = list(s[0])
    ax = node["axis"]
    sl = slice(node.get("start", 0), node.get("end", None), node.get("step", 1))
    shape[ax] = len(range(*sl.indices(shape[ax])))
    return shape


def _shape_embedding(node, s, wshape):
    return list(s[0]) + [wshape(node["weight"])[1]]


SHAPE_RULES = {
    "linear": _shape_linear,
    "matmul": _shape_matmul,
    "conv2d": _shape_conv2d,
    "batchnorm": _shape_same,
    "maxpool2d": _shape_pool,
    "avgpool2d": _shape_pool,
    "global_avgpool": _shape_global_avgpool,
    "flatten": _shape_flatten,
    "reshape": _shape_reshape,
    "transpose": _shape_transpose,
    "concat": _shape_concat,
    "slice": _shape_slice,
    "layernorm": _shape_same,
    "softmax": _shape_same,
    "embedding": _shape_embedding,
    "gather": _shape_embedding,
    "attention": _shape_same,
    "where": _shape_broadcast,
    "constant": _shape_constant,
    "expand": _shape_expand,
}
SHAPE_RULES.update({op: _shape_reduce for op in REDUCE_OPS})
SHAPE_RULES.update({op: _shape_same for op in UNARY_OPS})
SHAPE_RULES["clip"] = _shape_clip
SHAPE_RULES.update({op: _shape_broadcast for op in BINARY_OPS})


def output_shape(node, in_shapes, tensor_shape, consts=None, batch=None):
    """The output shape of `node` (a model JSON node) whose inputs have
    `in_shapes`; tensor_shape(name) gives a weights tensor's shape;
    consts[i] marks input i as a constant's tensor (default: none is), and
    batch is the batch (expand of a constant needs it)."""
    rule = SHAPE_RULES.get(node["op"])
    if rule is None:
        raise ValueError("unknown op %r" % (node["op"],))
    consts = list(consts) if consts is not None else [False] * len(in_shapes)
    if any(consts) and node["op"] not in CONST_READERS:
        raise ValueError("%s: %s does not take a constant input" % (_name(node), node["op"]))
    s = [list(x) for x in in_shapes]
    wshape = lambda t: list(tensor_shape(t))  # noqa: E731
    if node["op"] in CONST_READERS:
        return [int(d) for d in rule(node, s, wshape, consts, batch)]
    return [int(d) for d in rule(node, s, wshape)]


# --------------------------------------------------------------------------
# float64 ops
# --------------------------------------------------------------------------

_erf = np.vectorize(math.erf, otypes=[np.float64])


def _sigmoid(x):
    # 1/(1+exp(-x)) written so that neither branch overflows
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def _gelu_erf(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _gelu_tanh(x):
    c = math.sqrt(2.0 / math.pi)
    return 0.5 * x * (1.0 + np.tanh(c * (x + 0.044715 * x * x * x)))


def _unary(op, node, x):
    if op == "relu":
        return np.maximum(x, 0.0)
    if op == "gelu":
        approx = node.get("approximate", "none")
        if approx == "none":
            return _gelu_erf(x)
        if approx == "tanh":
            return _gelu_tanh(x)
        raise ValueError("gelu: bad approximate %r" % (approx,))
    if op == "silu":
        return x * _sigmoid(x)
    if op == "sigmoid":
        return _sigmoid(x)
    if op == "tanh":
        return np.tanh(x)
    if op == "erf":
        return _erf(x)
    if op == "sqrt":
        with np.errstate(invalid="ignore"):     # sqrt(x < 0) is NaN
            return np.sqrt(x)
    if op == "hardswish":
        return x * np.minimum(np.maximum(x / 6.0 + 0.5, 0.0), 1.0)
    if op == "clip":
        return np.minimum(np.maximum(x, node.get("min", -math.inf)),
                          node.get("max", math.inf))
    if op == "hardsigmoid":
        a = node.get("alpha", HARDSIGMOID_ALPHA)
        b = node.get("beta", HARDSIGMOID_BETA)
        return np.minimum(np.maximum(a * x + b, 0.0), 1.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if op == "neg":
            return -x
        if op == "exp":
            return np.exp(x)
        if op == "log":
            return np.log(x)            # -inf at 0, NaN below
        if op == "abs":
            return np.abs(x)
        if op == "reciprocal":
            return 1.0 / x
        if op == "leakyrelu":
            return np.where(x >= 0, x, node.get("alpha", LEAKYRELU_ALPHA) * x)
        if op == "softplus":
            return np.logaddexp(0.0, x)     # ln(1 + e^x) without overflow
        if op == "not":
            return (x == 0).astype(np.float64)
        if op == "floor":
            return np.floor(x)
        if op == "ceil":
            return np.ceil(x)
        if op == "sign":
            return np.sign(x)
        if op == "round":
            return np.round(x)          # halves to even
    raise ValueError("unknown unary op %s" % op)


def _binary(op, a, b):
    if op == "add":
        return a + b
    if op == "mul":
        return a * b
    if op == "sub":
        return a - b
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if op == "div":
            return a / b        # IEEE: x/0 is ±inf or NaN, as in float32
        if op == "pow":
            return np.power(a, b)   # NaN for a < 0 and b not an integer
    if op == "min":
        return np.minimum(a, b)     # NaN wins
    if op == "max":
        return np.maximum(a, b)
    cmp = {"equal": np.equal, "less": np.less, "greater": np.greater,
           "lessorequal": np.less_equal, "greaterorequal": np.greater_equal}
    if op in cmp:
        return cmp[op](a, b).astype(np.float64)
    if op == "and":
        return ((a != 0) & (b != 0)).astype(np.float64)
    if op == "or":
        return ((a != 0) | (b != 0)).astype(np.float64)
    raise ValueError("unknown binary op %s" % op)


def _windows(xp, kh, kw, sh, sw, dh, dw, ho, wo):
    """Yield (i, j, view [N, C, ho, wo]) for every kernel offset."""
    for i in range(kh):
        for j in range(kw):
            yield i, j, xp[:, :, i * dh:i * dh + sh * (ho - 1) + 1:sh,
                           j * dw:j * dw + sw * (wo - 1) + 1:sw]


def _masked_matmul(x, w):
    """x @ w where a zero weight contributes nothing, also for an Inf or NaN
    input (docs/NUMERICS.md); the plain product when x is finite."""
    if np.all(np.isfinite(x)):
        return np.matmul(x, w)
    with np.errstate(invalid="ignore"):  # 0 * Inf, masked out below
        prod = x[..., :, None] * w  # [..., K, N]
        return np.where(w != 0, prod, 0.0).sum(axis=-2)


def _conv2d(node, x, w, b):
    s, d, p = _pair(node.get("stride"), 1), _pair(node.get("dilation"), 1), _pads(node)
    g = node.get("groups", 1)
    O, cpg, kh, kw = w.shape
    ho, wo = _window_hw(x.shape[2], x.shape[3], kh, kw, s, d, p)
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[2]), (p[1], p[3])))
    y = np.zeros((x.shape[0], O, ho, wo))
    opg = O // g
    for gi in range(g):
        xs = xp[:, gi * cpg:(gi + 1) * cpg]
        for i, j, v in _windows(xs, kh, kw, s[0], s[1], d[0], d[1], ho, wo):
            wij = w[gi * opg:(gi + 1) * opg, :, i, j]
            if np.all(np.isfinite(v)):
                y[:, gi * opg:(gi + 1) * opg] += np.einsum("oc,nchw->nohw", wij, v)
            else:  # zero weights contribute nothing (docs/NUMERICS.md)
                with np.errstate(invalid="ignore"):
                    prod = wij[None, :, :, None, None] * v[:, None]
                    y[:, gi * opg:(gi + 1) * opg] += np.where(
                        wij[None, :, :, None, None] != 0, prod, 0.0).sum(axis=2)
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


def _pool(node, x, is_max):
    kh, kw = _pair(node["kernel"], None)
    s = _pair(node.get("stride"), None) if node.get("stride") is not None else (kh, kw)
    p = _pads(node)
    ho, wo = _window_hw(x.shape[2], x.shape[3], kh, kw, s, (1, 1), p)
    fill = -np.inf if is_max else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[2]), (p[1], p[3])), constant_values=fill)
    ones = np.pad(np.ones_like(x), ((0, 0), (0, 0), (p[0], p[2]), (p[1], p[3])))
    acc = np.full((x.shape[0], x.shape[1], ho, wo), fill)
    cnt = np.zeros_like(acc)
    for (i, j, v), (_, _, c) in zip(_windows(xp, kh, kw, s[0], s[1], 1, 1, ho, wo),
                                    _windows(ones, kh, kw, s[0], s[1], 1, 1, ho, wo)):
        acc = np.maximum(acc, v) if is_max else acc + v
        cnt = cnt + c
    return acc if is_max else acc / cnt


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _attention(node, q, k, v, mask):
    B, Sq, E = q.shape
    Sk = k.shape[1]
    H = node["heads"]
    D = E // H
    qh = q.reshape(B, Sq, H, D).transpose(0, 2, 1, 3)
    kh = k.reshape(B, Sk, H, D).transpose(0, 2, 1, 3)
    vh = v.reshape(B, Sk, H, D).transpose(0, 2, 1, 3)
    s = qh @ kh.transpose(0, 1, 3, 2) / math.sqrt(D)
    keep = np.ones((B, 1, Sq, Sk), dtype=bool)
    if node.get("causal", False):
        keep &= (np.arange(Sk)[None, :] <= np.arange(Sq)[:, None] + Sk - Sq)[None, None]
    if mask is not None:
        keep &= (mask != 0)[:, None, None, :]
    s = np.where(keep, s, -np.inf)
    mx = s.max(axis=-1, keepdims=True)
    e = np.where(keep, np.exp(s - np.where(np.isfinite(mx), mx, 0.0)), 0.0)
    tot = e.sum(axis=-1, keepdims=True)
    p = np.divide(e, tot, out=np.zeros_like(e), where=tot > 0)
    return (p @ vh).transpose(0, 2, 1, 3).reshape(B, Sq, E)


def _eval_net(node, op, ins, weights):
    """The network ops (DESIGN §4) beside linear and elementwise."""
    x = ins[0]
    wt = weights.get(node.get("weight")) if node.get("weight") else None
    bs = weights.get(node.get("bias")) if node.get("bias") else None
    if op == "conv2d":
        return _conv2d(node, x, wt, bs)
    if op == "batchnorm":
        sh = (1, -1) + (1,) * (x.ndim - 2)
        m, v = weights[node["mean"]], weights[node["var"]]
        eps = node.get("epsilon", 1e-5)
        return (x - m.reshape(sh)) / np.sqrt(v.reshape(sh) + eps) * wt.reshape(sh) + \
            bs.reshape(sh)
    if op in ("maxpool2d", "avgpool2d"):
        return _pool(node, x, op == "maxpool2d")
    if op == "global_avgpool":
        return x.mean(axis=(2, 3), keepdims=True)
    if op == "flatten":
        return x.reshape(x.shape[0], -1)
    if op == "reshape":
        shape = list(node["shape"]) if isinstance(node["shape"], list) else [node["shape"]]
        for i, d in enumerate(shape):
            if d == 0 and i < x.ndim:
                shape[i] = x.shape[i]
        shape[0] = x.shape[0]
        return x.reshape(shape)
    if op == "transpose":
        return x.transpose(node["perm"])
    if op == "concat":
        return np.concatenate(ins, axis=node["axis"])
    if op == "slice":
        sl = [slice(None)] * x.ndim
        sl[node["axis"]] = slice(node.get("start", 0), node.get("end", None),
                                 node.get("step", 1))
        return x[tuple(sl)]
    if op == "layernorm":
        m = x.mean(axis=-1, keepdims=True)
        v = ((x - m) ** 2).mean(axis=-1, keepdims=True)
        y = (x - m) / np.sqrt(v + node.get("epsilon", 1e-5))
        if wt is not None:
            y = y * wt
        return y + bs if bs is not None else y
    if op == "softmax":
        return _softmax(x, node.get("axis", -1))
    if op in ("embedding", "gather"):
        idx = x.astype(np.int64)
        if np.any(idx != x) or idx.min() < 0 or idx.max() >= wt.shape[0]:
            raise ValueError("%s: index out of range" % node.get("name"))
        return wt[idx]
    if op == "attention":
        return _attention(node, ins[0], ins[1], ins[2], ins[3] if len(ins) > 3 else None)
    raise ValueError("unknown op %r" % (op,))


def _eval_node(node, vals, weights, consts=(), batch=None):
    op = node["op"]
    ins = [vals[n] for n in node["inputs"]]
    if op == "linear":
        (x,) = ins
        w = weights[node["weight"]]
        y = _masked_matmul(x, w.T)
        if node.get("bias") is not None:
            y = y + weights[node["bias"]]
        return y
    if op == "matmul" and "weight" not in node:
        return np.matmul(ins[0], ins[1])
    if op == "matmul":
        (x,) = ins
        return _masked_matmul(x, weights[node["weight"]])
    if op in UNARY_OPS:
        (x,) = ins
        return _unary(op, node, x)
    if op in BINARY_OPS:
        a, b = ins
        return _binary(op, a, b)
    if op == "where":
        c, a, b = ins
        return np.where(c != 0, a, b)
    if op in REDUCE_OPS:
        (x,) = ins
        fn = {"reducemean": np.mean, "reducesum": np.sum, "reducemax": np.max,
              "reducemin": np.min, "reduceprod": np.prod}[op]
        return fn(x, axis=tuple(reduce_axes(node, x.ndim)),
                  keepdims=bool(node.get("keepdims", 1)))
    if op == "constant":
        return weights[node["weight"]]
    if op == "expand":
        (x,) = ins
        return np.broadcast_to(x, _shape_expand(node, [list(x.shape)], None,
                                                [node["inputs"][0] in consts], batch))
    return _eval_net(node, op, ins, weights)


def topo_order(nodes, input_names):
    """Nodes in an order where every input is produced before use."""
    avail = set(input_names)
    pending = list(nodes)
    order = []
    while pending:
        rest = []
        for nd in pending:
            if all(i in avail for i in nd["inputs"]):
                order.append(nd)
                avail.update(nd["outputs"])
            else:
                rest.append(nd)
        if len(rest) == len(pending):
            names = [nd.get("name", nd["op"]) for nd in rest]
            raise ValueError("graph has a cycle or undefined inputs: %s"
                             % names)
        pending = rest
    return order


def load_model(model_json_path):
    with open(model_json_path) as f:
        model = json.load(f)
    if model.get("sparseflow") != 1:
        raise ValueError("not a sparseflow v1 model")
    wpath = os.path.join(os.path.dirname(os.path.abspath(model_json_path)),
                         model["weights"])
    weights, _ = read_safetensors(wpath)
    return model, weights


def evaluate(model_json_path, inputs, return_all=False):
    """Evaluate the model in float64.

    inputs: dict input name -> array whose dim 0 is the runtime batch.
    Returns dict output name -> float64 ndarray (all activations when
    return_all is true)."""
    model, weights = load_model(model_json_path)
    vals = {}
    for inp in model["inputs"]:
        name = inp["name"]
        if name not in inputs:
            raise ValueError("missing input %s" % name)
        x = np.asarray(inputs[name], dtype=np.float64)
        decl = list(inp["shape"])
        if x.ndim != len(decl) or list(x.shape[1:]) != decl[1:] or \
                not (1 <= x.shape[0] <= decl[0]):
            raise ValueError("input %s: shape %s does not fit declared %s"
                             % (name, x.shape, decl))
        vals[name] = x
    consts = set()      # tensors of constant nodes: dim 0 is 1, not the batch
    batch = vals[model["inputs"][0]["name"]].shape[0]
    for node in topo_order(model["nodes"], list(vals)):
        if len(node["outputs"]) != 1:
            raise ValueError("%s: nodes have exactly one output"
                             % node.get("name"))
        want = output_shape(node, [vals[n].shape for n in node["inputs"]],
                            lambda t: weights[t].shape,
                            [n in consts for n in node["inputs"]], batch)
        y = _eval_node(node, vals, weights, consts, batch)
        if node["op"] == "constant":
            consts.add(node["outputs"][0])
        if list(y.shape) != want:
            raise ValueError("%s: computed shape %s, the shape rule gives %s"
                             % (_name(node), list(y.shape), want))
        vals[node["outputs"][0]] = y
    if return_all:
        return vals
    return {name: vals[name] for name in model["outputs"]}


def main(argv):
    if len(argv) < 2:
        print("usage: python3 -m sparseflow.reference MODEL.json name=in.npy ...",
              file=sys.stderr)
        return 2
    inputs = {}
    for a in argv[1:]:
        name, path = a.split("=", 1)
        inputs[name] = np.load(path)
    for name, y in evaluate(argv[0], inputs).items():
        print("%s shape=%s sum=%.17g max|y|=%.17g"
              % (name, y.shape, y.sum(), np.abs(y).max()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
