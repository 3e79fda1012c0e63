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
    raise ValueError("unknown op %r" % (op,))


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
