# sfmodel.py - tiny library for building SparseFlow test models.
#
# Writes the two files sfgen reads: the model JSON graph and a safetensors
# weight file (F32, F16 or BF16 per tensor, written by hand with numpy).
# Also provides deterministic random weights, N:M pruning along the reduction
# axis, and helpers that plant dead channels (zero rows + zero bias, zero
# columns).  Only the Python standard library and numpy are used.
#
# Typical use:
#     mb = ModelBuilder("mlp", seed=1)
#     x = mb.input("x", [8, 784])
#     h = mb.linear(x, 256, pattern=(2, 4))
#     a = mb.relu(h)
#     mb.output(mb.linear(a, 10, bias=False, name="fc2", out="logits"))
#     json_path = mb.save("/tmp/mlp")

import json
import math
import os
import struct

import numpy as np

DTYPES = ("F32", "F16", "BF16")


# --------------------------------------------------------------------------
# dtype conversion
# --------------------------------------------------------------------------

def f32_to_bf16_bits(a):
    """float32 array -> uint16 bf16 bit patterns, round to nearest even."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    u = a.view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    out = (rounded & 0xFFFF).astype(np.uint16)
    nan = np.isnan(a)
    if nan.any():  # keep NaN a (quiet) NaN instead of rounding into inf
        out[nan] = ((u[nan] >> 16) | 0x40).astype(np.uint16)
    return out


def bf16_bits_to_f32(bits):
    bits = np.ascontiguousarray(bits, dtype=np.uint16)
    return (bits.astype(np.uint32) << 16).view(np.float32)


def encode(a, dtype):
    """Raw little-endian bytes of array `a` stored as `dtype`."""
    a = np.asarray(a)
    if dtype == "F32":
        return np.ascontiguousarray(a, dtype="<f4").tobytes()
    if dtype == "F16":
        return np.ascontiguousarray(a, dtype="<f2").tobytes()
    if dtype == "BF16":
        return f32_to_bf16_bits(a).astype("<u2").tobytes()
    raise ValueError("unsupported dtype %r" % (dtype,))


def quantize(a, dtype):
    """The float64 values `a` takes once stored as `dtype` (for tests)."""
    a = np.asarray(a)
    if dtype == "F32":
        return a.astype(np.float32).astype(np.float64)
    if dtype == "F16":
        return a.astype(np.float16).astype(np.float64)
    if dtype == "BF16":
        return bf16_bits_to_f32(f32_to_bf16_bits(a)).astype(np.float64)
    raise ValueError("unsupported dtype %r" % (dtype,))


# --------------------------------------------------------------------------
# safetensors writer
# --------------------------------------------------------------------------

def write_safetensors(path, tensors, dtype="F32", metadata=None):
    """Write a safetensors file.

    tensors: dict name -> ndarray, or name -> (ndarray, dtype) to override
    the default `dtype` for one tensor.  Insertion order is the data order.
    metadata: optional dict str -> str stored under "__metadata__".
    """
    header = {}
    blobs = []
    offset = 0
    for name, val in tensors.items():
        if isinstance(val, tuple):
            arr, dt = val
        else:
            arr, dt = val, dtype
        if dt not in DTYPES:
            raise ValueError("tensor %s: unsupported dtype %r" % (name, dt))
        arr = np.asarray(arr)
        raw = encode(arr, dt)
        header[name] = {"dtype": dt, "shape": [int(d) for d in arr.shape],
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    hdr = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hdr += b" " * ((-len(hdr)) % 8)  # pad so the data section is 8-aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hdr)))
        f.write(hdr)
        for b in blobs:
            f.write(b)


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
# model builder
# --------------------------------------------------------------------------

def broadcast_shape(a, b):
    """Shape of a binary op result under the SparseFlow rules."""
    if len(a) != len(b):
        raise ValueError("binary op operands differ in rank: %s vs %s" % (a, b))
    if a[0] != b[0]:
        raise ValueError("binary op operands differ in batch: %s vs %s" % (a, b))
    out = [a[0]]
    for x, y in zip(a[1:], b[1:]):
        if x != y and x != 1 and y != 1:
            raise ValueError("shapes %s and %s do not broadcast" % (a, b))
        out.append(max(x, y))
    return out


UNARY_OPS = ("relu", "gelu", "silu", "sigmoid", "tanh")


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

    # -- graph --------------------------------------------------------------
    def input(self, name, shape):
        shape = [int(d) for d in shape]
        self._new_act(name, shape)
        self.inputs.append({"name": name, "shape": shape, "dtype": "f32"})
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
        y = self._new_act(out, xs[:-1] + [out_features])
        node["outputs"] = [y]
        node["weight"] = wname
        if b is not None:
            node["bias"] = self.add_tensor(name + ".bias", b,
                                           bias_dtype or dtype)
        self.nodes.append(node)
        return y

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
        y = self._new_act(out, xs[:-1] + [n_out])
        self.nodes.append({"op": "matmul", "name": name, "inputs": [x],
                           "outputs": [y], "weight": wname})
        return y

    def unary(self, op, x, name=None, approximate=None, out=None):
        if op not in UNARY_OPS:
            raise ValueError("unknown unary op %s" % op)
        name = name or self._fresh(op)
        if out is None and name not in self.shapes:
            out = name      # activation named after its node
        y = self._new_act(out, self.shapes[x])
        node = {"op": op, "name": name, "inputs": [x], "outputs": [y]}
        if approximate is not None:
            if op != "gelu":
                raise ValueError("approximate only applies to gelu")
            node["approximate"] = approximate
        self.nodes.append(node)
        return y

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

    def act(self, kind, x):
        """kind: relu | gelu | gelu_tanh | silu | sigmoid | tanh"""
        if kind == "gelu_tanh":
            return self.gelu(x, approximate="tanh")
        if kind == "gelu_erf":
            return self.gelu(x, approximate="none")
        return self.unary(kind, x)

    def _binary(self, op, a, b, name=None, out=None):
        shape = broadcast_shape(self.shapes[a], self.shapes[b])
        name = name or self._fresh(op)
        if out is None and name not in self.shapes:
            out = name
        y = self._new_act(out, shape)
        self.nodes.append({"op": op, "name": name, "inputs": [a, b],
                           "outputs": [y]})
        return y

    def add(self, a, b, **kw):
        return self._binary("add", a, b, **kw)

    def mul(self, a, b, **kw):
        return self._binary("mul", a, b, **kw)

    # -- network ops (DESIGN §4) ----------------------------------------------
    def node(self, op, inputs, oshape, name=None, out=None, **attrs):
        """A node with the given output shape; attrs go into the JSON as-is."""
        name = name or self._fresh(op)
        y = self._new_act(out, oshape)
        nd = {"op": op, "name": name, "inputs": list(inputs), "outputs": [y]}
        nd.update({k: v for k, v in attrs.items() if v is not None})
        self.nodes.append(nd)
        return y

    def conv2d(self, x, out_ch, kernel, stride=1, padding=0, dilation=1, groups=1,
               bias=True, pattern=None, dead_out=(), name=None, out=None):
        """NCHW conv; pattern prunes along the flattened C/groups*kh*kw axis."""
        n, c, h, w = self.shapes[x]
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
        p = (padding,) * 4 if isinstance(padding, int) else \
            (tuple(padding) * 2 if len(padding) == 2 else tuple(padding))
        sh, sw = (stride, stride) if isinstance(stride, int) else stride
        dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
        ho = (h + p[0] + p[2] - dh * (kh - 1) - 1) // sh + 1
        wo = (w + p[1] + p[3] - dw * (kw - 1) - 1) // sw + 1
        return self.node("conv2d", [x], [n, out_ch, ho, wo], name=name, out=out,
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
        return self.node("batchnorm", [x], self.shapes[x], name=name, out=out,
                         weight=self.add_tensor(name + ".weight", g),
                         bias=self.add_tensor(name + ".bias", b),
                         mean=self.add_tensor(name + ".mean", self.rng.uniform(-0.3, 0.3, c)),
                         var=self.add_tensor(name + ".var", self.rng.uniform(0.5, 2.0, c)),
                         epsilon=1e-5)

    def pool(self, op, x, kernel, stride=None, padding=0, name=None):
        n, c, h, w = self.shapes[x]
        kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
        s = stride if stride is not None else (kh, kw)
        sh, sw = (s, s) if isinstance(s, int) else s
        p = (padding,) * 4 if isinstance(padding, int) else \
            (tuple(padding) * 2 if len(padding) == 2 else tuple(padding))
        ho = (h + p[0] + p[2] - kh) // sh + 1
        wo = (w + p[1] + p[3] - kw) // sw + 1
        return self.node(op, [x], [n, c, ho, wo], name=name, kernel=kernel, stride=stride,
                         padding=padding if padding != 0 else None)

    def global_avgpool(self, x, name=None):
        n, c = self.shapes[x][:2]
        return self.node("global_avgpool", [x], [n, c, 1, 1], name=name)

    def flatten(self, x, name=None):
        s = self.shapes[x]
        return self.node("flatten", [x], [s[0], int(np.prod(s[1:]))], name=name)

    def reshape(self, x, shape, name=None):
        s = self.shapes[x]
        inner = int(np.prod(s[1:]))
        dims = [s[0]] + [s[i] if d == 0 else d for i, d in enumerate(shape) if i > 0]
        if -1 in dims[1:]:
            k = dims[1:].index(-1) + 1
            dims[k] = inner // int(-np.prod(dims[1:]))
        return self.node("reshape", [x], dims, name=name, shape=list(shape))

    def transpose(self, x, perm, name=None):
        s = self.shapes[x]
        return self.node("transpose", [x], [s[p] for p in perm], name=name, perm=list(perm))

    def concat(self, xs, axis, name=None):
        shape = list(self.shapes[xs[0]])
        shape[axis] = sum(self.shapes[t][axis] for t in xs)
        return self.node("concat", xs, shape, name=name, axis=axis)

    def slice(self, x, axis, start=0, end=None, step=1, name=None):
        shape = list(self.shapes[x])
        shape[axis] = len(range(*slice(start, end, step).indices(shape[axis])))
        return self.node("slice", [x], shape, name=name, axis=axis, start=start, end=end,
                         step=step if step != 1 else None)

    def layernorm(self, x, name=None, eps=1e-5, affine=True):
        c = self.shapes[x][-1]
        name = name or self._fresh("ln")
        attrs = {}
        if affine:
            attrs["weight"] = self.add_tensor(name + ".weight", self.rng.uniform(0.5, 1.5, c))
            attrs["bias"] = self.add_tensor(name + ".bias", self.rng.uniform(-0.2, 0.2, c))
        return self.node("layernorm", [x], self.shapes[x], name=name, epsilon=eps, **attrs)

    def softmax(self, x, axis=-1, name=None):
        return self.node("softmax", [x], self.shapes[x], name=name,
                         axis=axis if axis != -1 else None)

    def bmm(self, a, b, name=None):
        sa, sb = self.shapes[a], self.shapes[b]
        lead = [max(p, q) for p, q in zip(sa[:-2], sb[:-2])]
        return self.node("matmul", [a, b], lead + [sa[-2], sb[-1]], name=name)

    def embedding(self, idx, rows, dim, name=None, table=None):
        name = name or self._fresh("emb")
        if table is None:
            table = self.rng.standard_normal((rows, dim))
        self.int_inputs = getattr(self, "int_inputs", {})
        if idx in [i["name"] for i in self.inputs]:
            self.int_inputs[idx] = rows
        return self.node("embedding", [idx], self.shapes[idx] + [dim], name=name,
                         weight=self.add_tensor(name + ".weight", table))

    def attention(self, q, k, v, heads, mask=None, causal=False, name=None):
        if mask is not None:
            self.mask_inputs = getattr(self, "mask_inputs", set()) | {mask}
        return self.node("attention", [q, k, v] + ([mask] if mask else []), self.shapes[q],
                         name=name, heads=heads, causal=True if causal else None)

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
        ints = getattr(self, "int_inputs", {})
        masks = getattr(self, "mask_inputs", set())
        for inp in self.inputs:
            shape = [batch] + inp["shape"][1:]
            if inp["name"] in ints:    # token ids, coded as floats
                res[inp["name"]] = rng.integers(0, ints[inp["name"]], shape).astype(np.float32)
            elif inp["name"] in masks:  # padding: each row keeps a prefix of keys
                m = np.zeros(shape, dtype=np.float32)
                for r in range(shape[0]):
                    m[r, :rng.integers(1, shape[1] + 1)] = 1.0
                res[inp["name"]] = m
            else:
                res[inp["name"]] = (rng.standard_normal(shape) * scale).astype(
                    np.float32)
        return res
