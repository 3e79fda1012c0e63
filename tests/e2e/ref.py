# ref.py - float64 reference evaluator for SparseFlow models.
#
# Reads a model JSON and its safetensors file on its own (it shares no code
# with sfgen nor with sfmodel.py's writer), converts F32/F16/BF16 weights
# exactly to float64, and evaluates the graph in float64 in topological
# order.  Ops: linear, matmul, relu, gelu (erf / tanh), silu, sigmoid, tanh,
# add, mul (NumPy broadcasting, equal rank, shared batch dim 0).
#
#     import ref
#     outs = ref.evaluate("model.json", {"x": x})   # dict name -> float64
#
# Can also be run as a script:  ref.py MODEL.json x=in.npy [y=in2.npy ...]
# prints the output shapes and a checksum.

import json
import math
import os
import struct
import sys

import numpy as np

_ST_DTYPES = {"F32": ("<f4", 4), "F16": ("<f2", 2), "BF16": ("<u2", 2),
              "F64": ("<f8", 8)}


def read_safetensors(path):
    """Return (dict name -> float64 ndarray, metadata dict or None)."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError("%s: too short for a safetensors file" % path)
    (n,) = struct.unpack("<Q", blob[:8])
    if 8 + n > len(blob):
        raise ValueError("%s: header length %d beyond end of file" % (path, n))
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = memoryview(blob)[8 + n:]
    meta = header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        dt = info["dtype"]
        if dt not in _ST_DTYPES:
            raise ValueError("%s: tensor %s has unsupported dtype %s"
                             % (path, name, dt))
        npdt, size = _ST_DTYPES[dt]
        shape = tuple(int(d) for d in info["shape"])
        begin, end = (int(v) for v in info["data_offsets"])
        count = int(np.prod(shape, dtype=np.int64))
        if end - begin != count * size or begin < 0 or end > len(data):
            raise ValueError("%s: tensor %s has bad data_offsets %s"
                             % (path, name, info["data_offsets"]))
        raw = np.frombuffer(data[begin:end], dtype=npdt, count=count)
        if dt == "BF16":
            # bf16 is the top half of an IEEE float32: exact widening
            vals = (raw.astype(np.uint32) << 16).view(np.float32)
        else:
            vals = raw
        out[name] = vals.astype(np.float64).reshape(shape)  # exact
    return out, meta


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
    raise ValueError("unknown unary op %s" % op)


def _binary_check(node, a, b):
    if a.ndim != b.ndim:
        raise ValueError("%s: operand ranks differ %s vs %s"
                         % (node.get("name"), a.shape, b.shape))
    if a.shape[0] != b.shape[0]:
        raise ValueError("%s: operand batches differ %s vs %s"
                         % (node.get("name"), a.shape, b.shape))
    for x, y in zip(a.shape[1:], b.shape[1:]):
        if x != y and x != 1 and y != 1:
            raise ValueError("%s: shapes %s and %s do not broadcast"
                             % (node.get("name"), a.shape, b.shape))


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


def _windows(xp, kh, kw, sh, sw, dh, dw, ho, wo):
    """Yield (i, j, view [N, C, ho, wo]) for every kernel offset."""
    for i in range(kh):
        for j in range(kw):
            yield i, j, xp[:, :, i * dh:i * dh + sh * (ho - 1) + 1:sh,
                           j * dw:j * dw + sw * (wo - 1) + 1:sw]


def _out_hw(x, kh, kw, s, d, p):
    ho = (x.shape[2] + p[0] + p[2] - d[0] * (kh - 1) - 1) // s[0] + 1
    wo = (x.shape[3] + p[1] + p[3] - d[1] * (kw - 1) - 1) // s[1] + 1
    return ho, wo


def _conv2d(node, x, w, b):
    s, d, p = _pair(node.get("stride"), 1), _pair(node.get("dilation"), 1), _pads(node)
    g = node.get("groups", 1)
    O, cpg, kh, kw = w.shape
    ho, wo = _out_hw(x, kh, kw, s, d, p)
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[2]), (p[1], p[3])))
    y = np.zeros((x.shape[0], O, ho, wo))
    opg = O // g
    for gi in range(g):
        xs = xp[:, gi * cpg:(gi + 1) * cpg]
        for i, j, v in _windows(xs, kh, kw, s[0], s[1], d[0], d[1], ho, wo):
            y[:, gi * opg:(gi + 1) * opg] += np.einsum(
                "oc,nchw->nohw", w[gi * opg:(gi + 1) * opg, :, i, j], v)
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


def _pool(node, x, is_max):
    kh, kw = _pair(node["kernel"], None)
    s = _pair(node.get("stride"), None) if node.get("stride") is not None else (kh, kw)
    p = _pads(node)
    ho, wo = _out_hw(x, kh, kw, s, (1, 1), p)
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
        shape = list(node["shape"])
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


def _eval_node(node, vals, weights):
    op = node["op"]
    ins = [vals[n] for n in node["inputs"]]
    if op == "linear":
        (x,) = ins
        w = weights[node["weight"]]
        if w.ndim != 2 or w.shape[1] != x.shape[-1]:
            raise ValueError("%s: weight %s vs input %s"
                             % (node.get("name"), w.shape, x.shape))
        y = np.matmul(x, w.T)
        if node.get("bias") is not None:
            b = weights[node["bias"]]
            if b.shape != (w.shape[0],):
                raise ValueError("%s: bias shape %s" % (node.get("name"),
                                                        b.shape))
            y = y + b
        return y
    if op == "matmul" and "weight" not in node:
        return np.matmul(ins[0], ins[1])
    if op == "matmul":
        (x,) = ins
        w = weights[node["weight"]]
        if w.ndim != 2 or w.shape[0] != x.shape[-1]:
            raise ValueError("%s: weight %s vs input %s"
                             % (node.get("name"), w.shape, x.shape))
        return np.matmul(x, w)
    if op in ("relu", "gelu", "silu", "sigmoid", "tanh"):
        (x,) = ins
        return _unary(op, node, x)
    if op in ("add", "mul"):
        a, b = ins
        _binary_check(node, a, b)
        return a + b if op == "add" else a * b
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
    for node in topo_order(model["nodes"], list(vals)):
        if len(node["outputs"]) != 1:
            raise ValueError("%s: nodes have exactly one output"
                             % node.get("name"))
        vals[node["outputs"][0]] = _eval_node(node, vals, weights)
    if return_all:
        return vals
    return {name: vals[name] for name in model["outputs"]}


def main(argv):
    if len(argv) < 2:
        print("usage: ref.py MODEL.json name=in.npy ...", file=sys.stderr)
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
