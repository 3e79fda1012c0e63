#!/usr/bin/env python3
"""Bad-input test suite for sfgen (and, with --program-cases, for the
program sfgen generates).

The script writes one small valid model (model JSON + safetensors weights),
checks that sfgen accepts it, then writes one broken variant per case and
checks that sfgen rejects it properly:

  * the exit status is the expected one (1 invalid input, 2 usage error),
    and the process was not killed by a signal and did not time out;
  * one "sfgen: error: ..." line of stderr contains every expected
    substring (file basename, node / field / tensor name, key word);
  * stderr carries no sanitizer report ("Sanitizer", "runtime error");
  * nothing was written: the output folder does not exist afterwards (or,
    when it existed before, is unchanged), and no stray file appeared next
    to it, next to the model, or in the working directory.

A few controls (valid variants: F16/BF16 weights, metadata, matmul + gelu,
an unnamed node) must generate, so that a case fails for its own reason.

With --program-cases the base model's output folder is built with
`make -C OUTDIR` and the generated program is run on valid .npy inputs
(result compared with a plain-Python reference) and on broken ones (wrong
dtype or shape, truncated, not .npy, missing; exit 1 naming the file) and
bad command lines (exit 2).  Rows with model=KEY run the program of another
small model (PROGRAM_MODELS[KEY], generated and built the same way) instead:
an embedding whose indices are out of range at run time must fail with
exit 3 ("run failed") and write no output file.

Every case is one row of CASES (or PROGRAM_CASES): adding a case is adding a
row.  Prints one PASS/FAIL line per case (stderr shown on failure) and ends
with "N passed, N failed"; exits 1 if any failed.  Standard library only.

Usage:
  run_bad.py [--sfgen PATH] [--work DIR] [--program-cases] [--only SUBSTR[,SUBSTR...]]
             [--list] [--timeout S] [-v]
"""

import argparse
import ast
import copy
import hashlib
import json
import os
import resource
import shutil
import stat
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

MODEL_FILE = "model.json"            # basename of every model JSON written
WEIGHTS_FILE = "weights.safetensors"  # basename of every weights file written
OUT_NAME = "gen_out"                 # basename of OUTDIR
MJ = MODEL_FILE
ST = WEIGHTS_FILE

# ---------------------------------------------------------------------------
# expected-substring helpers
# ---------------------------------------------------------------------------


class I(str):
    """A substring matched case-insensitively (key words, not names)."""


class Any:
    """At least one of the alternatives must occur (each a str or I)."""

    def __init__(self, *alts):
        self.alts = alts

    def __repr__(self):
        return "Any(%s)" % ", ".join(repr(a) for a in self.alts)


def _has(line, want):
    if isinstance(want, Any):
        return any(_has(line, a) for a in want.alts)
    if isinstance(want, I):
        return want.lower() in line.lower()
    return want in line


def node(name, index=None):
    """What the contract puts in front of a node problem."""
    if index is None:
        return "node '%s'" % name
    return "node '%s' (nodes[%d])" % (name, index)


def field(name):
    return "field '%s'" % name


def tensor(name):
    return "tensor '%s'" % name


DUP = Any(I("duplicate"), I("already"), I("more than once"), I("twice"))

# ---------------------------------------------------------------------------
# the base model
# ---------------------------------------------------------------------------

B_MAX, D_IN, D_HID, D_OUT = 8, 16, 32, 4
INPUT, OUTPUT = "feat", "logits"

DTYPE_SIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4,
              "I16": 2, "I8": 1, "U8": 1, "BOOL": 1, "F8_E4M3": 1}


def _val(i, salt):
    # small dyadic values: exact in f32, f16 and bf16
    return (((i * 37 + salt * 11 + 5) % 29) - 14) / 32.0


def _values(n, salt):
    return [_val(i, salt) for i in range(n)]


def _encode(vals, dtype):
    if dtype == "F32":
        return struct.pack("<%df" % len(vals), *vals)
    if dtype == "F16":
        return struct.pack("<%de" % len(vals), *vals)
    if dtype == "BF16":
        raw = struct.pack("<%df" % len(vals), *vals)
        return b"".join(raw[i + 2:i + 4] for i in range(0, len(raw), 4))
    if dtype == "F64":
        return struct.pack("<%dd" % len(vals), *vals)
    if dtype == "I64":
        return struct.pack("<%dq" % len(vals), *[int(v * 32) for v in vals])
    return bytes(DTYPE_SIZE[dtype] * len(vals))


def _numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def base_model():
    return {
        "sparseflow": 1,
        "name": "mlp",
        "weights": WEIGHTS_FILE,
        "inputs": [{"name": INPUT, "shape": [B_MAX, D_IN], "dtype": "f32"}],
        "outputs": [OUTPUT],
        "nodes": [
            {"op": "linear", "name": "fc1", "inputs": [INPUT], "outputs": ["h1"],
             "weight": "fc1.weight", "bias": "fc1.bias"},
            {"op": "relu", "name": "r1", "inputs": ["h1"], "outputs": ["a1"]},
            {"op": "linear", "name": "fc2", "inputs": ["a1"], "outputs": [OUTPUT],
             "weight": "fc2.weight"},
        ],
    }


BASE_TENSORS = [("fc1.weight", [D_HID, D_IN], 1), ("fc1.bias", [D_HID], 2),
                ("fc2.weight", [D_OUT, D_HID], 3)]


class Variant:
    """One model on disk, built from the base and then mutated.

    Mutations edit `model` (dict) and `tensors` (list of dicts with name,
    dtype, shape, data), or register hooks applied while serialising:
      model_text_hook(str) -> str         the model JSON text
      header_hook(dict)                   the safetensors header (in place,
                                          after data_offsets are assigned)
      header_text_hook(str) -> str        the header JSON text
      header_len_hook(int) -> int         the u64 written in the first 8 bytes
      st_bytes_hook(bytes) -> bytes       the whole safetensors file
    """

    def __init__(self):
        self.model = base_model()
        self.tensors = []
        for name, shape, salt in BASE_TENSORS:
            self.tensors.append({"name": name, "dtype": "F32", "shape": list(shape),
                                 "data": _encode(_values(_numel(shape), salt), "F32"),
                                 "salt": salt})
        self.metadata = None
        self.model_text_hook = None
        self.header_hook = None
        self.header_text_hook = None
        self.header_len_hook = None
        self.st_bytes_hook = None
        self.fifo = None  # MODEL_FILE or WEIGHTS_FILE: written as a FIFO instead

    # -- helpers used by mutations ------------------------------------------
    def node(self, name):
        for nd in self.model["nodes"]:
            if nd.get("name") == name:
                return nd
        raise KeyError(name)

    def tensor(self, name):
        for t in self.tensors:
            if t["name"] == name:
                return t
        raise KeyError(name)

    def set_tensor(self, name, dtype=None, shape=None, data=None):
        """Change a tensor; its data is regenerated to match the new dtype and
        shape (so the file stays self-consistent) unless `data` is given."""
        t = self.tensor(name)
        if dtype is not None:
            t["dtype"] = dtype
        if shape is not None:
            t["shape"] = list(shape)
        if data is not None:
            t["data"] = data
        else:
            t["data"] = _encode(_values(_numel(t["shape"]), t.get("salt", 7)), t["dtype"])

    def add_tensor(self, name, dtype, shape, salt=9):
        self.tensors.append({"name": name, "dtype": dtype, "shape": list(shape),
                             "data": _encode(_values(_numel(shape), salt), dtype),
                             "salt": salt})

    # -- serialisation --------------------------------------------------------
    def model_text(self):
        text = json.dumps(self.model, indent=2)
        if self.model_text_hook:
            text = self.model_text_hook(text)
        return text

    def st_bytes(self):
        header = {}
        if self.metadata is not None:
            header["__metadata__"] = self.metadata
        data = b""
        for t in self.tensors:
            begin = len(data)
            data += t["data"]
            header[t["name"]] = {"dtype": t["dtype"], "shape": t["shape"],
                                 "data_offsets": [begin, len(data)]}
        if self.header_hook:
            self.header_hook(header)
        htext = json.dumps(header)
        if self.header_text_hook:
            htext = self.header_text_hook(htext)
        hbytes = htext.encode("utf-8") if isinstance(htext, str) else htext
        hbytes += b" " * (-len(hbytes) % 8)
        hlen = len(hbytes)
        if self.header_len_hook:
            hlen = self.header_len_hook(hlen)
        blob = struct.pack("<Q", hlen) + hbytes + data
        if self.st_bytes_hook:
            blob = self.st_bytes_hook(blob)
        return blob

    def write(self, folder):
        os.makedirs(folder, exist_ok=True)
        text = self.model_text()
        with open(os.path.join(folder, MODEL_FILE), "wb") as f:
            f.write(text.encode("utf-8") if isinstance(text, str) else text)
        with open(os.path.join(folder, WEIGHTS_FILE), "wb") as f:
            f.write(self.st_bytes())
        if self.fifo:  # nothing ever writes to it: opening it to read would block
            os.remove(os.path.join(folder, self.fifo))
            os.mkfifo(os.path.join(folder, self.fifo))
        return os.path.join(folder, MODEL_FILE)


# ---------------------------------------------------------------------------
# mutation helpers (each returns a function of a Variant)
# ---------------------------------------------------------------------------


def _resolve(v, path):
    """'nodes/@fc1/op' -> (container, key).  '@NAME' looks a node up by name,
    digits index a list."""
    parts = path.split("/")
    obj = v.model
    for p in parts[:-1]:
        obj = _step(v, obj, p)
    last = parts[-1]
    if isinstance(obj, list):
        last = int(last)
    return obj, last


def _step(v, obj, p):
    if p.startswith("@"):
        return v.node(p[1:])
    if isinstance(obj, list):
        return obj[int(p)]
    return obj[p]


def setk(path, value):
    def f(v):
        obj, k = _resolve(v, path)
        obj[k] = copy.deepcopy(value)
    return f


def delk(path):
    def f(v):
        obj, k = _resolve(v, path)
        del obj[k]
    return f


def text(fn):
    """Edit the model JSON text."""
    def f(v):
        v.model_text_hook = fn
    return f


def raw_model(content):
    return text(lambda _t: content)


def hdr(fn):
    """Edit the safetensors header dict in place."""
    def f(v):
        v.header_hook = fn
    return f


def hdr_text(fn):
    def f(v):
        v.header_text_hook = fn
    return f


def hlen(fn):
    def f(v):
        v.header_len_hook = fn
    return f


def st_bytes(fn):
    def f(v):
        v.st_bytes_hook = fn
    return f


def fifo(which):
    """Make the model or weights file a FIFO."""
    def f(v):
        v.fifo = which
    return f


def many_empty_tensors(n):
    """n extra empty tensors (shape [0], no bytes): valid, and unused."""
    def f(v):
        v.tensors += [{"name": "empty.%d" % i, "dtype": "F32", "shape": [0], "data": b""}
                      for i in range(n)]
    return f


def many_unknown_keys(n):
    """n unknown keys at the top level of the model JSON."""
    return text(lambda t: t[:-1].rstrip() + "".join(', "k%d": %d' % (i, i) for i in range(n)) + "}")


def tens(name, **kw):
    def f(v):
        v.set_tensor(name, **kw)
    return f


def add_node(node_obj, at=None):
    def f(v):
        if at is None:
            v.model["nodes"].append(copy.deepcopy(node_obj))
        else:
            v.model["nodes"].insert(at, copy.deepcopy(node_obj))
    return f


def nodes(lst):
    return setk("nodes", lst)


def chain(*fns):
    def f(v):
        for fn in fns:
            fn(v)
    return f


def _offsets(h, name, fn):
    h[name]["data_offsets"] = fn(h[name]["data_offsets"])


def offs(name, fn):
    return hdr(lambda h: _offsets(h, name, fn))


def _overlap(h):
    # fc1.bias now starts 4 bytes into fc1.weight (length unchanged)
    wb = h["fc1.weight"]["data_offsets"][0]
    bl = h["fc1.bias"]["data_offsets"][1] - h["fc1.bias"]["data_offsets"][0]
    h["fc1.bias"]["data_offsets"] = [wb + 4, wb + 4 + bl]


def _dup_header_key(t):
    # repeat the fc1.bias entry textually: json cannot express this otherwise
    h = json.loads(t)
    entry = json.dumps(h["fc1.bias"])
    return t[:-1] + ', "fc1.bias": ' + entry + "}"


def _deep(n):
    return '{"sparseflow": 1, "name": "mlp", "extra": ' + "[" * n + "]" * n + "}"


BIG62 = 1 << 62  # 4611686018427387904

# Cycle: loop_a = add(h1, b), loop_b = relu(loop_a's output) -> b
CYCLE_NODES = [
    {"op": "linear", "name": "fc1", "inputs": [INPUT], "outputs": ["h1"],
     "weight": "fc1.weight", "bias": "fc1.bias"},
    {"op": "add", "name": "loop_a", "inputs": ["h1", "b"], "outputs": ["a1"]},
    {"op": "relu", "name": "loop_b", "inputs": ["a1"], "outputs": ["b"]},
    {"op": "linear", "name": "fc2", "inputs": ["a1"], "outputs": [OUTPUT],
     "weight": "fc2.weight"},
]
SELF_NODES = [
    {"op": "linear", "name": "fc1", "inputs": [INPUT], "outputs": ["h1"],
     "weight": "fc1.weight", "bias": "fc1.bias"},
    {"op": "add", "name": "selfish", "inputs": ["h1", "s"], "outputs": ["s"]},
    {"op": "linear", "name": "fc2", "inputs": ["s"], "outputs": [OUTPUT],
     "weight": "fc2.weight"},
]
SELF_WORDS = Any(I("cycl"), I("itself"), I("its own"))

# ---------------------------------------------------------------------------
# small valid networks for the network ops (DESIGN §4), each a whole-model
# mutation; the cases below break one piece of one of them
# ---------------------------------------------------------------------------


def _positive(n, salt):
    # a valid variance: finite and > 0
    return [abs(x) + 0.5 for x in _values(n, salt)]


def graph(inputs, node_list, tensors, name=None):
    """Replace the base model's graph: inputs [(name, shape)], nodes, tensors
    [(name, shape, salt)] or [(name, shape, salt, values)]."""
    def f(v):
        v.model["inputs"] = [{"name": n, "shape": list(s), "dtype": "f32"} for n, s in inputs]
        v.model["nodes"] = copy.deepcopy(node_list)
        if name:
            v.model["name"] = name
        v.tensors = []
        for t in tensors:
            tname, shape, salt = t[:3]
            v.add_tensor(tname, "F32", shape, salt)
            if len(t) > 3:
                v.set_tensor(tname, data=_encode(t[3], "F32"))
    return f


def add_input(name, shape):
    def f(v):
        v.model["inputs"].append({"name": name, "shape": list(shape), "dtype": "f32"})
    return f


def _index_of(node_list):
    idx = {n["name"]: i for i, n in enumerate(node_list)}
    return lambda name: node(name, idx[name])


# CNN: conv2d (padding 1) -> batchnorm -> relu -> maxpool2d -> avgpool2d
# (stride 1, padding 1) -> global_avgpool -> flatten -> linear
C_IN, C_OUT, HW = 4, 8, 6
CNN_NODES = [
    {"op": "conv2d", "name": "cv", "inputs": [INPUT], "outputs": ["c1"],
     "weight": "cv.weight", "bias": "cv.bias", "padding": 1},
    {"op": "batchnorm", "name": "bn", "inputs": ["c1"], "outputs": ["b1"],
     "weight": "bn.weight", "bias": "bn.bias", "mean": "bn.mean", "var": "bn.var"},
    {"op": "relu", "name": "cr", "inputs": ["b1"], "outputs": ["a1"]},
    {"op": "maxpool2d", "name": "mp", "inputs": ["a1"], "outputs": ["p1"], "kernel": 2},
    {"op": "avgpool2d", "name": "ap", "inputs": ["p1"], "outputs": ["p2"],
     "kernel": 3, "stride": 1, "padding": 1},
    {"op": "global_avgpool", "name": "gp", "inputs": ["p2"], "outputs": ["g1"]},
    {"op": "flatten", "name": "fl", "inputs": ["g1"], "outputs": ["f1"]},
    {"op": "linear", "name": "fc", "inputs": ["f1"], "outputs": [OUTPUT], "weight": "fc.weight"},
]
CNN_TENSORS = [("cv.weight", [C_OUT, C_IN, 3, 3], 1), ("cv.bias", [C_OUT], 2),
               ("bn.weight", [C_OUT], 3), ("bn.bias", [C_OUT], 4), ("bn.mean", [C_OUT], 5),
               ("bn.var", [C_OUT], 6, _positive(C_OUT, 6)), ("fc.weight", [D_OUT, C_OUT], 7)]
cnn = graph([(INPUT, [B_MAX, C_IN, HW, HW])], CNN_NODES, CNN_TENSORS)
CN = _index_of(CNN_NODES)

# sequence: layernorm -> attention (4 heads) -> transpose -> matmul of two
# activations -> softmax -> slice -> concat -> reshape -> linear
SEQ, WID = 4, 16
SEQ_NODES = [
    {"op": "layernorm", "name": "ln", "inputs": [INPUT], "outputs": ["h0"],
     "weight": "ln.weight", "bias": "ln.bias", "epsilon": 1e-5},
    {"op": "attention", "name": "att", "inputs": ["h0", "h0", "h0"], "outputs": ["h1"], "heads": 4},
    {"op": "transpose", "name": "tr", "inputs": ["h1"], "outputs": ["h2"], "perm": [0, 2, 1]},
    {"op": "matmul", "name": "mm", "inputs": ["h1", "h2"], "outputs": ["h3"]},
    {"op": "softmax", "name": "sm", "inputs": ["h3"], "outputs": ["h4"], "axis": -1},
    {"op": "slice", "name": "sl", "inputs": ["h4"], "outputs": ["h5"], "axis": 2, "start": 0, "end": 2},
    {"op": "concat", "name": "cat", "inputs": ["h5", "h4"], "outputs": ["h6"], "axis": 2},
    {"op": "reshape", "name": "rs", "inputs": ["h6"], "outputs": ["h7"], "shape": [0, -1]},
    {"op": "linear", "name": "fc", "inputs": ["h7"], "outputs": [OUTPUT], "weight": "fc.weight"},
]
SEQ_TENSORS = [("ln.weight", [WID], 1), ("ln.bias", [WID], 2), ("fc.weight", [D_OUT, SEQ * 6], 3)]
seq = graph([(INPUT, [B_MAX, SEQ, WID])], SEQ_NODES, SEQ_TENSORS)
SN = _index_of(SEQ_NODES)

# tokens: embedding (10 rows) -> causal attention with a key mask -> flatten -> linear
ROWS, EDIM, MASK = 10, 16, "mask"
EMB_NODES = [
    {"op": "embedding", "name": "emb", "inputs": [INPUT], "outputs": ["e1"], "weight": "emb.weight"},
    {"op": "attention", "name": "att", "inputs": ["e1", "e1", "e1", MASK], "outputs": ["t1"],
     "heads": 2, "causal": True},
    {"op": "flatten", "name": "fl", "inputs": ["t1"], "outputs": ["f1"]},
    {"op": "linear", "name": "fc", "inputs": ["f1"], "outputs": [OUTPUT], "weight": "fc.weight"},
]
EMB_TENSORS = [("emb.weight", [ROWS, EDIM], 1), ("fc.weight", [D_OUT, SEQ * EDIM], 2)]
emb = graph([(INPUT, [B_MAX, SEQ]), (MASK, [B_MAX, SEQ])], EMB_NODES, EMB_TENSORS)
EN = _index_of(EMB_NODES)

# elementwise and reduction ops: clip -> hardsigmoid -> sub -> where (a 0/1
# condition input) -> reducemean -> div -> erf -> linear
COND = "cond"
ELT_NODES = [
    {"op": "clip", "name": "cl", "inputs": [INPUT], "outputs": ["e1"], "min": -1, "max": 1},
    {"op": "hardsigmoid", "name": "hs", "inputs": ["e1"], "outputs": ["e2"], "alpha": 0.25, "beta": 0.5},
    {"op": "sub", "name": "sb", "inputs": ["e2", INPUT], "outputs": ["e3"]},
    {"op": "where", "name": "wh", "inputs": [COND, "e3", INPUT], "outputs": ["e4"]},
    {"op": "reducemean", "name": "rm", "inputs": ["e4"], "outputs": ["e5"], "keepdims": 1},
    {"op": "div", "name": "dv", "inputs": ["e4", "e5"], "outputs": ["e6"]},
    {"op": "erf", "name": "ef", "inputs": ["e6"], "outputs": ["e7"]},
    {"op": "linear", "name": "fc", "inputs": ["e7"], "outputs": [OUTPUT], "weight": "fc.weight"},
]
elt = graph([(INPUT, [B_MAX, SEQ, WID]), (COND, [B_MAX, SEQ, 1])], ELT_NODES,
            [("fc.weight", [D_OUT, WID], 1)])
LN = _index_of(ELT_NODES)

# constants: a [1, WID] row added to the input; a class token [1, 1, WID]
# expanded to the batch and concatenated in front -> linear
CST_NODES = [
    {"op": "constant", "name": "k", "inputs": [], "outputs": ["kv"], "weight": "k.value"},
    {"op": "add", "name": "ad", "inputs": [INPUT, "kv"], "outputs": ["a1"]},
    {"op": "constant", "name": "cls", "inputs": [], "outputs": ["clsv"], "weight": "cls.value"},
    {"op": "expand", "name": "ex", "inputs": ["clsv"], "outputs": ["e1"], "shape": [1, WID]},
    {"op": "concat", "name": "cc", "inputs": ["e1", "a1"], "outputs": ["c1"], "axis": 1},
    {"op": "reducesum", "name": "rs", "inputs": ["c1"], "outputs": ["r1"], "axes": [1]},
    {"op": "leakyrelu", "name": "lr", "inputs": ["r1"], "outputs": ["l1"], "alpha": 0.1},
    {"op": "linear", "name": "fc", "inputs": ["l1"], "outputs": [OUTPUT], "weight": "fc.weight"},
]
cst = graph([(INPUT, [B_MAX, SEQ, WID])], CST_NODES,
            [("k.value", [1, WID], 1), ("cls.value", [1, 1, WID], 2), ("fc.weight", [D_OUT, WID], 3)])
KN = _index_of(CST_NODES)
CONSTANT = I("constant")

ATTR = I("attribute")
MISSING = I("missing")

# ---------------------------------------------------------------------------
# the case table
# ---------------------------------------------------------------------------
#
# Ok(name, mutate)
#   a control: a valid variant that must generate (exit 0, a .c file in
#   OUTDIR, nothing written elsewhere).  ok_base also runs `inspect` and
#   `inspect --json`, which must succeed and write nothing.
# Gen(name, mutate, exit=1, expect, existing_out=False)
#   mutate: function(Variant) (None = the base model unchanged)
#   exit:   expected exit status (int, or a set of acceptable ones)
#   expect: substrings that ONE "sfgen: error:" line of stderr must contain
#           (plain str: exact; I(...): case-insensitive; Any(...): one of)
#   existing_out: True: OUTDIR exists beforehand (with files) and must be
#           left unchanged; "file": OUTDIR is a regular file, left unchanged
#   max_seconds: sfgen's CPU time must stay within this, and it is stopped
#           after four times as much wall time (also for Ok): where a
#           quadratic check or a blocking open would not
#   max_error_lines: at most this many "sfgen: error:" lines
# Usage(name, argv, exit=2, expect, mutate=None)
#   argv: function(model_path, outdir) -> the arguments after sfgen
#   exit 2: stderr must be non-empty and contain `expect` (any line);
#   exit 1: as for Gen, one "sfgen: error:" line must contain `expect`


class Gen:
    kind = "gen"

    def __init__(self, name, mutate, exit=1, expect=(), existing_out=False, max_seconds=None,
                 max_error_lines=None):
        self.name, self.mutate, self.exit = name, mutate, exit
        self.expect, self.existing_out = list(expect), existing_out
        self.max_seconds, self.max_error_lines = max_seconds, max_error_lines


class Usage:
    kind = "usage"

    def __init__(self, name, argv, exit=2, expect=(), mutate=None):
        self.name, self.argv, self.exit, self.expect = name, argv, exit, list(expect)
        self.mutate = mutate


class Ok:
    """A control: a valid variant that must generate (exit 0)."""
    kind = "ok"

    def __init__(self, name, mutate, max_seconds=None):
        self.name, self.mutate, self.max_seconds = name, mutate, max_seconds


CASES = [
    # -- controls: valid models (if one of these fails, the cases built from
    #    the same pieces do not prove much) -----------------------------------
    Ok("ok_base", None),
    Ok("ok_f16_weights", chain(tens("fc1.weight", dtype="F16"), tens("fc2.weight", dtype="F16"))),
    Ok("ok_bf16_weights", chain(tens("fc1.weight", dtype="BF16"), tens("fc1.bias", dtype="BF16"))),
    Ok("ok_metadata", lambda v: setattr(v, "metadata", {"format": "pt"})),
    Ok("ok_matmul_gelu", chain(
        lambda v: v.add_tensor("fc2.wT", "F32", [D_HID, D_OUT]),
        setk("nodes/@r1/op", "gelu"), setk("nodes/@r1/approximate", "tanh"),
        setk("nodes/@fc2/op", "matmul"), setk("nodes/@fc2/weight", "fc2.wT"))),
    Ok("ok_unnamed_node", delk("nodes/@r1/name")),
    Ok("ok_nodes_at_limit", setk("nodes", [
        {"op": "relu", "name": "n%d" % i, "inputs": [INPUT if i == 0 else "t%d" % (i - 1)],
         "outputs": [OUTPUT if i == 3999 else "t%d" % i]} for i in range(4000)])),
    Ok("ok_cnn", cnn),
    Ok("ok_cnn_conv_variants", chain(cnn, setk("nodes/@cv/padding", [1, 1, 1, 1]),
                                     setk("nodes/@cv/stride", [1, 1]), setk("nodes/@cv/dilation", 1),
                                     setk("nodes/@cv/groups", 2), tens("cv.weight", shape=[C_OUT, 2, 3, 3]))),
    Ok("ok_seq", seq),
    Ok("ok_emb_attention", emb),
    Ok("ok_gather_alias", chain(emb, setk("nodes/@emb/op", "gather"))),

    # -- model JSON syntax and top level -------------------------------------
    Gen("json_truncated", text(lambda t: t[:len(t) // 2]), 1, [MJ]),
    Gen("json_trailing_comma", text(lambda t: t.replace('"%s"\n' % OUTPUT, '"%s",\n' % OUTPUT, 1)), 1, [MJ]),
    Gen("json_trailing_garbage", text(lambda t: t + "\n}"), 1, [MJ]),
    Gen("json_empty_file", raw_model(""), 1, [MJ]),
    Gen("json_binary_garbage", raw_model(b"\x00\xff\xfe\x93NUMPY\x01\x00"), 1, [MJ]),
    Gen("json_top_array", raw_model("[1, 2, 3]"), 1, [MJ]),
    Gen("json_top_string", raw_model('"sparseflow"'), 1, [MJ]),
    Gen("json_deep_nesting", raw_model(_deep(200000)), 1, [MJ]),
    Gen("json_duplicate_key", text(lambda t: t.replace('"name": "mlp"', '"name": "mlp", "name": "mlp2"', 1)),
        1, [MJ, DUP, "name"]),
    Gen("missing_sparseflow", delk("sparseflow"), 1, [MJ, field("sparseflow")]),
    Gen("wrong_sparseflow_version", setk("sparseflow", 2), 1, [MJ, field("sparseflow")]),
    Gen("sparseflow_version_string", setk("sparseflow", "1"), 1, [MJ, field("sparseflow")]),
    Gen("sparseflow_version_fraction", setk("sparseflow", 1.5), 1, [MJ, field("sparseflow")]),
    Gen("name_not_c_identifier_dash", setk("name", "my-model"), 1, [MJ, field("name")]),
    Gen("name_not_c_identifier_digit", setk("name", "1mlp"), 1, [MJ, field("name")]),
    Gen("name_path_traversal", setk("name", "../evil"), 1, [MJ, field("name")]),
    Gen("name_empty", setk("name", ""), 1, [MJ, field("name")]),
    Gen("name_with_nul", setk("name", "ml\u0000p"), 1, [MJ, field("name")]),
    Gen("name_not_string", setk("name", 5), 1, [MJ, field("name")]),
    Gen("name_missing", delk("name"), 1, [MJ, field("name")]),
    Gen("weights_missing_key", delk("weights"), 1, [MJ, field("weights")]),
    Gen("weights_file_not_found", setk("weights", "nope.safetensors"), 1, ["nope.safetensors"]),
    Gen("weights_dev_zero", setk("weights", "/dev/zero"), 1, ["zero"]),
    Gen("weights_is_directory", setk("weights", "."), 1, []),
    # a FIFO nobody writes to: sfgen must refuse it, not wait for a writer
    Gen("weights_fifo", fifo(ST), 1, [ST, "FIFO", I("regular file")], max_seconds=5),
    Gen("model_fifo", fifo(MJ), 1, [MJ, "FIFO", I("regular file")], max_seconds=5),
    # RFC 8259 where cJSON is lenient: a byte order mark, a leading zero
    Gen("json_utf8_bom", text(lambda t: "\ufeff" + t), 1, [MJ, I("byte order mark"), "line 1, column 1"]),
    Gen("json_leading_zero", text(lambda t: t.replace('"sparseflow": 1', '"sparseflow": 01', 1)), 1,
        [MJ, "'01'", I("leading zero"), "line 2"]),
    Gen("json_leading_zero_dim", text(lambda t: t.replace("%d,\n" % B_MAX, "016,\n", 1)), 1,
        [MJ, "'016'", I("leading zero")]),
    Gen("json_number_trailing_dot", text(lambda t: t.replace('"sparseflow": 1', '"sparseflow": 1.', 1)), 1,
        [MJ, "'1.'", I("not a JSON number")]),
    # linear-time checks and bounded messages: 40,000 unknown keys once took
    # seconds and printed 40,000 lines; 80,000 empty tensors took a minute
    Gen("json_40k_unknown_keys", many_unknown_keys(40000), 1,
        [MJ, "top level", "... 39980 more unknown or duplicate keys"], max_seconds=5, max_error_lines=21),
    Ok("ok_80k_empty_tensors", many_empty_tensors(80000), max_seconds=5),
    Gen("nodes_not_array", setk("nodes", {"op": "relu"}), 1, [MJ, field("nodes")]),

    # -- unknown things ------------------------------------------------------
    Gen("unknown_op", setk("nodes/@r1/op", "rleu"), 1, [MJ, node("r1", 1), "rleu"]),
    Gen("unknown_op_conv", setk("nodes/@fc1/op", "convolution"), 1, [MJ, node("fc1", 0), "convolution"]),
    Gen("unknown_op_unnamed_node", chain(delk("nodes/@r1/name"), setk("nodes/1/op", "rleu")), 1,
        [MJ, "nodes[1]", "rleu"]),
    Gen("op_not_string", setk("nodes/@r1/op", 7), 1, [MJ, node("r1", 1), field("op")]),
    Gen("op_missing", delk("nodes/@r1/op"), 1, [MJ, "nodes[1]", field("op")]),
    Gen("unknown_key_top", setk("extra_stuff", 1), 1, [MJ, "extra_stuff"]),
    Gen("unknown_key_node", setk("nodes/@fc1/pading", 1), 1, [MJ, node("fc1", 0), "pading"]),
    Gen("unknown_key_input", setk("inputs/0/layout", "nchw"), 1, [MJ, "layout"]),
    Gen("relu_with_approximate", setk("nodes/@r1/approximate", "tanh"), 1,
        [MJ, node("r1", 1), "approximate"]),
    Gen("relu_with_weight", setk("nodes/@r1/weight", "fc1.weight"), 1, [MJ, node("r1", 1), "weight"]),
    Gen("gelu_bad_approximate", chain(setk("nodes/@r1/op", "gelu"), setk("nodes/@r1/approximate", "bogus")),
        1, [MJ, node("r1", 1), field("approximate")]),

    # -- names that do not resolve -------------------------------------------
    Gen("missing_tensor", setk("nodes/@fc2/weight", "fc3.weight"), 1, [node("fc2", 2), "fc3.weight"]),
    Gen("misspelled_bias", setk("nodes/@fc1/bias", "fc1.bais"), 1, [node("fc1", 0), "fc1.bais"]),
    Gen("misspelled_in_safetensors", lambda v: v.tensor("fc1.weight").update(name="fc1.weigth"),
        1, [node("fc1", 0), "fc1.weight"]),
    Gen("weight_name_with_nul", setk("nodes/@fc1/weight", "fc1.weight\u0000x"), 1, [node("fc1", 0), "weight"]),
    Gen("linear_without_weight", delk("nodes/@fc1/weight"), 1, [MJ, node("fc1", 0), field("weight")]),
    Gen("undefined_activation", setk("nodes/@r1/inputs", ["h9"]), 1, [MJ, node("r1", 1), "h9"]),
    Gen("weight_used_as_activation", setk("nodes/@r1/inputs", ["fc1.weight"]), 1,
        [MJ, node("r1", 1), "fc1.weight"]),
    Gen("output_not_produced", setk("outputs", ["ghost"]), 1, [MJ, "ghost"]),
    Gen("no_nodes", setk("nodes", []), 1, [MJ, "nodes"]),
    Gen("no_outputs", setk("outputs", []), 1, [MJ, "outputs"]),
    Gen("no_inputs", setk("inputs", []), 1, [MJ, "inputs"]),
    Gen("relu_two_inputs", setk("nodes/@r1/inputs", ["h1", "h1"]), 1, [MJ, node("r1", 1), "inputs"]),
    Gen("add_one_input", chain(setk("nodes/@r1/op", "add")), 1, [MJ, node("r1", 1), "inputs"]),
    Gen("node_two_outputs", setk("nodes/@r1/outputs", ["a1", "a2"]), 1, [MJ, node("r1", 1), "outputs"]),
    Gen("node_inputs_not_strings", setk("nodes/@r1/inputs", [1]), 1, [MJ, node("r1", 1), "inputs"]),

    # -- shapes --------------------------------------------------------------
    Gen("linear_in_dim_mismatch", tens("fc1.weight", shape=[D_HID, D_IN - 1]), 1,
        [node("fc1", 0), I("shape")]),
    Gen("linear_bias_len_mismatch", tens("fc1.bias", shape=[D_HID - 1]), 1,
        [node("fc1", 0), I("shape"), "bias"]),
    Gen("linear_weight_rank3", tens("fc1.weight", shape=[2, D_HID, D_IN // 2]), 1,
        [node("fc1", 0), I("shape")]),
    Gen("linear_chain_mismatch", tens("fc2.weight", shape=[D_OUT, D_HID + 1]), 1,
        [node("fc2", 2), I("shape")]),
    Gen("matmul_k_mismatch", chain(lambda v: v.add_tensor("fc2.wT", "F32", [D_HID - 2, D_OUT]),
                                   setk("nodes/@fc2/op", "matmul"), setk("nodes/@fc2/weight", "fc2.wT")),
        1, [node("fc2", 2), I("shape")]),
    Gen("add_incompatible_shapes", chain(
        add_node({"op": "add", "name": "sum1", "inputs": ["h1", INPUT], "outputs": ["s1"]}, at=1),
        setk("nodes/@r1/inputs", ["s1"])), 1, [MJ, node("sum1", 1), I("shape")]),
    Gen("mul_incompatible_shapes", chain(
        add_node({"op": "mul", "name": "prod1", "inputs": [INPUT, "h1"], "outputs": ["p1"]}, at=1),
        setk("nodes/@r1/inputs", ["p1"])), 1, [MJ, node("prod1", 1), I("shape")]),
    Gen("input_dim_zero", setk("inputs/0/shape", [B_MAX, 0]), 1, [MJ, I("shape")]),
    Gen("input_batch_zero", setk("inputs/0/shape", [0, D_IN]), 1, [MJ, I("shape")]),
    Gen("input_dim_negative", setk("inputs/0/shape", [B_MAX, -D_IN]), 1, [MJ, I("shape")]),
    Gen("input_dim_fraction", setk("inputs/0/shape", [B_MAX, 16.5]), 1, [MJ, I("shape")]),
    Gen("input_dim_string", setk("inputs/0/shape", [B_MAX, "16"]), 1, [MJ, I("shape")]),
    Gen("input_dim_bool", setk("inputs/0/shape", [B_MAX, True]), 1, [MJ, I("shape")]),
    Gen("input_shape_not_array", setk("inputs/0/shape", 16), 1, [MJ, I("shape")]),
    Gen("input_dim_huge", setk("inputs/0/shape", [B_MAX, BIG62]), 1, [MJ, I("shape")]),
    Gen("input_batch_huge", setk("inputs/0/shape", [BIG62, D_IN]), 1, [MJ, I("shape")]),
    Gen("input_dim_2pow64", text(lambda t: t.replace("%d,\n" % B_MAX, "18446744073709551616,\n", 1)),
        1, [MJ, I("shape")]),
    Gen("input_bytes_overflow", setk("inputs/0/shape", [B_MAX, 1 << 59]), 1, [MJ, I("shape")]),
    Gen("input_elems_wrap_to_zero", setk("inputs/0/shape", [1 << 16] * 4 + [D_IN]), 1, [MJ, I("shape")]),
    Gen("input_dims_product_overflow", setk("inputs/0/shape", [1 << 32, 1 << 32, D_IN]), 1, [MJ, I("shape")]),

    # -- documented limits (docs/FORMATS.md "Limits") ---------------------------
    Gen("limit_rank_9", setk("inputs/0/shape", [B_MAX] + [1] * 7 + [D_IN]), 1, [MJ, I("shape"), I("rank")]),
    Gen("limit_elements", setk("inputs/0/shape", [B_MAX, 1 << 28, D_IN]), 1, [MJ, I("shape"), I("elements")]),
    Gen("limit_nodes", setk("nodes", [
        {"op": "relu", "name": "n%d" % i, "inputs": [INPUT if i == 0 else "t%d" % (i - 1)],
         "outputs": [OUTPUT if i == 4000 else "t%d" % i]} for i in range(4001)]),
        1, [MJ, I("nodes"), "4000"]),
    Gen("limit_inputs", setk("inputs", [{"name": "i%d" % i, "shape": [B_MAX, D_IN]} for i in range(65)]),
        1, [MJ, I("inputs"), "64"]),

    # -- dtypes --------------------------------------------------------------
    Gen("st_dtype_i64", tens("fc1.bias", dtype="I64"), 1, [ST, "fc1.bias", I("dtype")]),
    Gen("st_dtype_f64", tens("fc1.weight", dtype="F64"), 1, [ST, "fc1.weight", I("dtype")]),
    Gen("st_dtype_fp8", tens("fc2.weight", dtype="F8_E4M3"), 1, [ST, "fc2.weight", I("dtype")]),
    Gen("st_dtype_lowercase", hdr(lambda h: h["fc1.bias"].update(dtype="f32")), 1, [ST, "fc1.bias", I("dtype")]),
    Gen("st_dtype_missing", hdr(lambda h: h["fc1.bias"].pop("dtype")), 1, [ST, "fc1.bias", I("dtype")]),
    Gen("input_dtype_f16", setk("inputs/0/dtype", "f16"), 1, [MJ, I("dtype")]),
    Gen("input_dtype_f64", setk("inputs/0/dtype", "f64"), 1, [MJ, I("dtype")]),

    # -- safetensors framing -------------------------------------------------
    Gen("st_empty_file", st_bytes(lambda b: b""), 1, [ST]),
    Gen("st_shorter_than_8", st_bytes(lambda b: b[:5]), 1, [ST]),
    Gen("st_truncated_in_header", st_bytes(lambda b: b[:8 + 20]), 1, [ST]),
    Gen("st_truncated_data", st_bytes(lambda b: b[:-10]), 1, [ST]),
    Gen("st_truncated_no_data", st_bytes(lambda b: b[:8 + struct.unpack("<Q", b[:8])[0]]), 1, [ST]),
    Gen("st_header_len_beyond_file", st_bytes(lambda b: struct.pack("<Q", len(b) + 100) + b[8:]), 1, [ST]),
    Gen("st_header_len_2pow63", hlen(lambda n: 1 << 63), 1, [ST]),
    Gen("st_header_len_u64_max", hlen(lambda n: (1 << 64) - 1), 1, [ST]),
    Gen("st_header_len_zero", hlen(lambda n: 0), 1, [ST]),
    Gen("st_header_not_json", hdr_text(lambda t: "this is not JSON at all" + " " * (len(t) - 23)), 1, [ST]),
    Gen("st_header_binary", hdr_text(lambda t: bytes(range(256))[: len(t)]), 1, [ST]),
    Gen("st_header_array", hdr_text(lambda t: "[]"), 1, [ST]),
    Gen("st_header_trailing_garbage", hdr_text(lambda t: t + "xyz"), 1, [ST]),
    Gen("st_tensor_entry_not_object", hdr(lambda h: h.__setitem__("fc1.bias", 5)), 1, [ST, "fc1.bias"]),
    Gen("st_unknown_key_in_entry", hdr(lambda h: h["fc1.bias"].update(layout="row")), 1, [ST, "fc1.bias", "layout"]),
    Gen("st_metadata_not_object", lambda v: setattr(v, "metadata", 5), 1, [ST, "__metadata__"]),
    Gen("st_offsets_end_beyond_file", offs("fc2.weight", lambda o: [o[0] + 1000, o[1] + 1000]), 1,
        [ST, "fc2.weight", "data_offsets"]),
    Gen("st_offsets_begin_gt_end", offs("fc1.bias", lambda o: [o[1], o[0]]), 1,
        [ST, "fc1.bias", "data_offsets"]),
    Gen("st_offsets_len_mismatch", offs("fc1.bias", lambda o: [o[0], o[1] - 4]), 1,
        [ST, "fc1.bias", Any("data_offsets", "shape")]),
    Gen("st_offsets_half_length", offs("fc1.weight", lambda o: [o[0], o[0] + (o[1] - o[0]) // 2]), 1,
        [ST, "fc1.weight", Any("data_offsets", "shape")]),
    Gen("st_offsets_not_pair", offs("fc1.bias", lambda o: [o[0]]), 1, [ST, "fc1.bias", "data_offsets"]),
    Gen("st_offsets_negative", offs("fc1.bias", lambda o: [-4, o[1] - o[0] - 4]), 1,
        [ST, "fc1.bias", "data_offsets"]),
    Gen("st_offsets_huge", offs("fc2.weight", lambda o: [(1 << 64) - 8, (1 << 64) - 8 + o[1] - o[0]]), 1,
        [ST, "fc2.weight", "data_offsets"]),
    Gen("st_offsets_overlap", hdr(_overlap), 1, [ST, I("overlap"), Any("fc1.weight", "fc1.bias")]),
    Gen("st_duplicate_tensor_key", hdr_text(_dup_header_key), 1, [ST, "fc1.bias", DUP]),
    # the reference implementation rejects these; cJSON keeps both keys and
    # reads 32.0 as 32
    Gen("st_entry_duplicate_dtype", hdr_text(lambda t: t.replace('"dtype": "F32"', '"dtype": "F32", "dtype": "F16"', 1)),
        1, [ST, tensor("fc1.weight"), field("dtype"), DUP]),
    Gen("st_entry_duplicate_shape", hdr_text(lambda t: t.replace('"shape": [32]', '"shape": [32], "shape": [16, 2]', 1)),
        1, [ST, tensor("fc1.bias"), field("shape"), DUP]),
    Gen("st_shape_integral_float", hdr(lambda h: h["fc1.bias"].update(shape=[32.0])), 1,
        [ST, tensor("fc1.bias"), field("shape"), I("fraction")]),
    Gen("st_shape_exponent", hdr_text(lambda t: t.replace('"shape": [32]', '"shape": [3.2e1]', 1)), 1,
        [ST, tensor("fc1.bias"), field("shape"), I("exponent")]),
    Gen("st_offsets_integral_float", offs("fc1.bias", lambda o: [float(o[0]), o[1]]), 1,
        [ST, tensor("fc1.bias"), field("data_offsets"), I("fraction")]),
    Gen("st_header_leading_zero", hdr_text(lambda t: t.replace('"shape": [32]', '"shape": [032]', 1)), 1,
        [ST, "'032'", I("leading zero")]),
    Gen("st_header_utf8_bom", hdr_text(lambda t: b"\xef\xbb\xbf" + t.encode()), 1, [ST, I("byte order mark")]),
    Gen("st_duplicate_metadata", hdr_text(lambda t: '{"__metadata__": {}, "__metadata__": {}, ' + t[1:]), 1,
        [ST, "__metadata__", DUP]),
    Gen("st_shape_negative", hdr(lambda h: h["fc1.bias"].update(shape=[-32])), 1, [ST, "fc1.bias", "shape"]),
    Gen("st_shape_fraction", hdr(lambda h: h["fc1.bias"].update(shape=[32.5])), 1, [ST, "fc1.bias", "shape"]),
    # element count * dtype size wraps to 0: with empty data_offsets a naive
    # size check passes
    Gen("st_shape_bytes_overflow", chain(tens("fc2.weight", shape=[1 << 61, 2], data=b"")), 1,
        [ST, "fc2.weight", "shape"]),
    Gen("st_shape_elems_overflow", chain(tens("fc2.weight", shape=[1 << 32, 1 << 32], data=b"")), 1,
        [ST, "fc2.weight", "shape"]),
    # every dimension small, but the product wraps to exactly 0 mod 2^64
    Gen("st_shape_elems_wrap_to_zero", tens("fc2.weight", shape=[1 << 16] * 4, data=b""), 1,
        [ST, "fc2.weight", "shape"]),
    Gen("st_shape_bytes_wrap_to_zero", tens("fc2.weight", shape=[1 << 16] * 3 + [1 << 14], data=b""), 1,
        [ST, "fc2.weight", "shape"]),
    Gen("st_shape_bytes_overflow_unused",
        lambda v: v.tensors.append({"name": "unused.big", "dtype": "F32", "shape": [BIG62, 8], "data": b""}),
        1, [ST, "unused.big", "shape"]),

    # -- graph structure -----------------------------------------------------
    Gen("cycle_two_nodes", nodes(CYCLE_NODES), 1, [MJ, I("cycl"), Any("loop_a", "loop_b")]),
    Gen("node_consumes_own_output", nodes(SELF_NODES), 1, [MJ, "selfish", SELF_WORDS]),
    Gen("duplicate_output_two_nodes",
        add_node({"op": "relu", "name": "twin", "inputs": [INPUT], "outputs": ["h1"]}, at=1),
        1, [MJ, DUP, "h1"]),
    Gen("output_shadows_input", add_node({"op": "relu", "name": "shadow", "inputs": ["h1"],
                                          "outputs": [INPUT]}, at=1),
        1, [MJ, DUP, node("shadow"), INPUT]),
    Gen("duplicate_node_names", setk("nodes/@r1/name", "fc1"), 1, [MJ, DUP, "fc1"]),
    Gen("duplicate_input_names", lambda v: v.model["inputs"].append(copy.deepcopy(v.model["inputs"][0])),
        1, [MJ, DUP, INPUT]),
    Gen("duplicate_graph_outputs", setk("outputs", [OUTPUT, OUTPUT]), 1, [MJ, DUP, OUTPUT]),

    # -- network ops: attributes an op does not take ---------------------------
    Gen("relu_with_stride", setk("nodes/@r1/stride", 2), 1, [MJ, node("r1", 1), field("stride"), ATTR]),
    Gen("relu_with_axis", setk("nodes/@r1/axis", 1), 1, [MJ, node("r1", 1), field("axis"), ATTR]),
    # beyond int64: read as a number, never cast first (undefined behaviour)
    Gen("relu_with_axis_1e19", setk("nodes/@r1/axis", 1e19), 1, [MJ, node("r1", 1), field("axis"), ATTR]),
    Gen("relu_with_axis_minus_1e19", setk("nodes/@r1/axis", -1e19), 1,
        [MJ, node("r1", 1), field("axis"), ATTR]),
    Gen("softmax_axis_1e19", chain(seq, setk("nodes/@sm/axis", 1e19)), 1, [MJ, SN("sm"), field("axis")]),
    Gen("linear_with_groups", setk("nodes/@fc1/groups", 1), 1, [MJ, node("fc1", 0), field("groups"), ATTR]),
    Gen("conv_with_kernel", chain(cnn, setk("nodes/@cv/kernel", 3)), 1,
        [MJ, CN("cv"), field("kernel"), ATTR]),
    Gen("pool_with_dilation", chain(cnn, setk("nodes/@mp/dilation", 1)), 1,
        [MJ, CN("mp"), field("dilation"), ATTR]),
    Gen("softmax_with_weight", chain(seq, setk("nodes/@sm/weight", "ln.weight")), 1,
        [MJ, SN("sm"), field("weight"), "softmax"]),
    Gen("embedding_with_bias", chain(emb, setk("nodes/@emb/bias", "emb.weight")), 1,
        [MJ, EN("emb"), field("bias"), "embedding"]),
    Gen("matmul_two_acts_with_bias", chain(seq, setk("nodes/@mm/bias", "ln.bias")), 1,
        [MJ, SN("mm"), field("bias"), "matmul"]),
    Gen("attention_with_epsilon", chain(seq, setk("nodes/@att/epsilon", 1e-5)), 1,
        [MJ, SN("att"), field("epsilon"), ATTR]),
    Gen("unknown_key_conv", chain(cnn, setk("nodes/@cv/kernel_size", 3)), 1,
        [MJ, CN("cv"), "kernel_size"]),

    # -- conv2d ----------------------------------------------------------------
    Gen("conv_weight_rank2", chain(cnn, tens("cv.weight", shape=[C_OUT, C_IN * 9])), 1,
        [MJ, CN("cv"), field("weight"), "cv.weight", I("rank")]),
    Gen("conv_weight_c_in_mismatch", chain(cnn, tens("cv.weight", shape=[C_OUT, C_IN - 1, 3, 3])), 1,
        [MJ, CN("cv"), field("weight"), "cv.weight", I("shape")]),
    Gen("conv_grouped_c_in_mismatch", chain(cnn, setk("nodes/@cv/groups", 2)), 1,
        [MJ, CN("cv"), field("weight"), "cv.weight", I("shape")]),
    Gen("conv_groups_not_dividing", chain(cnn, setk("nodes/@cv/groups", 3),
                                          tens("cv.weight", shape=[C_OUT, 1, 3, 3])), 1,
        [MJ, CN("cv"), field("groups"), I("divide")]),
    Gen("conv_groups_zero", chain(cnn, setk("nodes/@cv/groups", 0)), 1,
        [MJ, CN("cv"), field("groups"), I("range")]),
    Gen("conv_window_larger_than_padded_input",
        chain(cnn, tens("cv.weight", shape=[C_OUT, C_IN, HW + 3, HW + 3])), 1,
        [MJ, CN("cv"), field("inputs"), INPUT, I("window")]),
    Gen("conv_dilated_window_too_large", chain(cnn, setk("nodes/@cv/dilation", 4)), 1,
        [MJ, CN("cv"), field("inputs"), I("window")]),
    Gen("conv_stride_zero", chain(cnn, setk("nodes/@cv/stride", 0)), 1,
        [MJ, CN("cv"), field("stride"), I("range")]),
    Gen("conv_padding_negative", chain(cnn, setk("nodes/@cv/padding", -1)), 1,
        [MJ, CN("cv"), field("padding"), I("range")]),
    Gen("conv_padding_three_values", chain(cnn, setk("nodes/@cv/padding", [1, 1, 1])), 1,
        [MJ, CN("cv"), field("padding")]),
    Gen("conv_stride_string", chain(cnn, setk("nodes/@cv/stride", "2")), 1,
        [MJ, CN("cv"), field("stride")]),
    Gen("conv_bias_len_mismatch", chain(cnn, tens("cv.bias", shape=[C_OUT + 1])), 1,
        [MJ, CN("cv"), field("bias"), "cv.bias", I("shape")]),
    Gen("conv_without_weight", chain(cnn, delk("nodes/@cv/weight")), 1,
        [MJ, CN("cv"), field("weight"), MISSING]),
    Gen("conv_input_rank3", chain(cnn, setk("inputs/0/shape", [B_MAX, C_IN, HW * HW])), 1,
        [MJ, CN("cv"), field("inputs"), INPUT, I("rank")]),
    # a tiny model whose arena would be huge: one image's im2col rows of a 1x1 input
    # padded by 5000 take 14 GB, above the default --max-arena (4 GiB)
    Gen("conv_arena_over_max_arena", chain(cnn, setk("inputs/0/shape", [1, C_IN, 1, 1]),
                                           setk("nodes/@cv/padding", 5000)), 1,
        [MJ, CN("cv"), "--max-arena", I("arena")]),

    # a 300-byte model of 2^31-channel tensors (flatten of a large input): SPA
    # analyses no tensor that large, so the arena check answers at once (it
    # took a minute and 8 GB of per-channel facts first)
    Gen("spa_huge_flatten_bounded", chain(
        setk("inputs", [{"name": "x", "shape": [1, 8, 16384, 16383]}]),
        setk("nodes", [{"op": "flatten", "name": "fl", "inputs": ["x"], "outputs": ["f"]},
                       {"op": "relu", "name": "r", "inputs": ["f"], "outputs": ["y"]}]),
        setk("outputs", ["y"])), 1,
        [MJ, "--max-arena", I("arena")], max_seconds=5),

    # -- pooling -----------------------------------------------------------------
    Gen("maxpool_padding_ge_kernel", chain(cnn, setk("nodes/@mp/padding", 2)), 1,
        [MJ, CN("mp"), field("padding"), I("window")]),
    Gen("avgpool_padding_ge_kernel_bottom", chain(cnn, setk("nodes/@ap/padding", [1, 1, 3, 1])), 1,
        [MJ, CN("ap"), field("padding"), I("window")]),
    Gen("maxpool_missing_kernel", chain(cnn, delk("nodes/@mp/kernel")), 1,
        [MJ, CN("mp"), field("kernel"), MISSING]),
    Gen("avgpool_missing_kernel", chain(cnn, delk("nodes/@ap/kernel")), 1,
        [MJ, CN("ap"), field("kernel"), MISSING]),
    Gen("maxpool_kernel_zero", chain(cnn, setk("nodes/@mp/kernel", 0)), 1,
        [MJ, CN("mp"), field("kernel"), I("range")]),
    Gen("maxpool_kernel_three_values", chain(cnn, setk("nodes/@mp/kernel", [2, 2, 2])), 1,
        [MJ, CN("mp"), field("kernel")]),
    Gen("maxpool_window_too_large", chain(cnn, setk("nodes/@mp/kernel", HW + 1)), 1,
        [MJ, CN("mp"), field("inputs"), I("window")]),
    Gen("avgpool_stride_zero", chain(cnn, setk("nodes/@ap/stride", 0)), 1,
        [MJ, CN("ap"), field("stride"), I("range")]),
    Gen("global_avgpool_rank2", chain(cnn, setk("nodes/@gp/inputs", ["f1"]),
                                      setk("nodes/@fl/inputs", ["p2"])), 1,
        [MJ, CN("gp"), field("inputs"), "f1", I("rank")]),

    # -- batchnorm -----------------------------------------------------------------
    Gen("batchnorm_missing_mean", chain(cnn, delk("nodes/@bn/mean")), 1,
        [MJ, CN("bn"), field("mean"), MISSING]),
    Gen("batchnorm_missing_var", chain(cnn, delk("nodes/@bn/var")), 1,
        [MJ, CN("bn"), field("var"), MISSING]),
    Gen("batchnorm_missing_weight", chain(cnn, delk("nodes/@bn/weight")), 1,
        [MJ, CN("bn"), field("weight"), MISSING]),
    Gen("batchnorm_negative_var",
        chain(cnn, tens("bn.var", data=_encode([1.0, 1.0, -0.5] + [1.0] * (C_OUT - 3), "F32"))), 1,
        [MJ, CN("bn"), field("var"), "bn.var", I("variance")]),
    Gen("batchnorm_nan_var",
        chain(cnn, tens("bn.var", data=struct.pack("<f", float("nan")) + _encode([1.0] * (C_OUT - 1), "F32"))),
        1, [MJ, CN("bn"), field("var"), "bn.var", I("variance")]),
    Gen("batchnorm_mean_not_found", chain(cnn, setk("nodes/@bn/mean", "bn.avg")), 1,
        [CN("bn"), field("mean"), "bn.avg"]),
    Gen("batchnorm_mean_not_string", chain(cnn, setk("nodes/@bn/mean", 0)), 1,
        [MJ, CN("bn"), field("mean")]),
    Gen("batchnorm_mean_len_mismatch", chain(cnn, tens("bn.mean", shape=[C_OUT - 1])), 1,
        [MJ, CN("bn"), field("mean"), "bn.mean", I("shape")]),
    Gen("batchnorm_epsilon_negative", chain(cnn, setk("nodes/@bn/epsilon", -1e-5)), 1,
        [MJ, CN("bn"), field("epsilon")]),
    # var 0 with epsilon 0 would fold Inf into the conv's weights
    Gen("batchnorm_var0_epsilon0",
        chain(cnn, setk("nodes/@bn/epsilon", 0),
              tens("bn.var", data=_encode([1.0, 0.0] + [1.0] * (C_OUT - 2), "F32"))), 1,
        [MJ, CN("bn"), field("epsilon"), "channel 1", I("finite")]),
    Gen("batchnorm_scale_overflows",
        chain(cnn, setk("nodes/@bn/epsilon", 1e-320),
              tens("bn.var", data=_encode([0.0] * C_OUT, "F32"))), 1,
        [MJ, CN("bn"), field("epsilon"), "channel 0", I("finite")]),

    # -- flatten, reshape, transpose ------------------------------------------------
    Gen("flatten_axis_2", chain(cnn, setk("nodes/@fl/axis", 2)), 1, [MJ, CN("fl"), field("axis")]),
    Gen("flatten_axis_0", chain(cnn, setk("nodes/@fl/axis", 0)), 1, [MJ, CN("fl"), field("axis"), I("batch")]),
    Gen("reshape_element_count_mismatch", chain(seq, setk("nodes/@rs/shape", [0, 5, 5])), 1,
        [MJ, SN("rs"), field("shape"), I("elements")]),
    Gen("reshape_wildcard_no_fit", chain(seq, setk("nodes/@rs/shape", [0, 5, -1])), 1,
        [MJ, SN("rs"), field("shape"), "-1"]),
    Gen("reshape_two_wildcards", chain(seq, setk("nodes/@rs/shape", [0, -1, -1])), 1,
        [MJ, SN("rs"), field("shape"), "-1"]),
    Gen("reshape_bad_batch_entry", chain(seq, setk("nodes/@rs/shape", [3, -1])), 1,
        [MJ, SN("rs"), field("shape"), I("batch")]),
    Gen("reshape_negative_dim", chain(seq, setk("nodes/@rs/shape", [0, -2, -12])), 1,
        [MJ, SN("rs"), field("shape")]),
    Gen("reshape_missing_shape", chain(seq, delk("nodes/@rs/shape")), 1,
        [MJ, SN("rs"), field("shape"), MISSING]),
    Gen("reshape_shape_empty", chain(seq, setk("nodes/@rs/shape", [])), 1,
        [MJ, SN("rs"), field("shape")]),
    Gen("transpose_perm_repeated_axis", chain(seq, setk("nodes/@tr/perm", [0, 1, 1])), 1,
        [MJ, SN("tr"), field("perm"), I("permutation")]),
    Gen("transpose_perm_axis_out_of_range", chain(seq, setk("nodes/@tr/perm", [0, 3, 1])), 1,
        [MJ, SN("tr"), field("perm"), I("permutation")]),
    Gen("transpose_perm_moves_batch", chain(seq, setk("nodes/@tr/perm", [1, 0, 2])), 1,
        [MJ, SN("tr"), field("perm"), "perm[0]", I("batch")]),
    Gen("transpose_perm_wrong_length", chain(seq, setk("nodes/@tr/perm", [0, 2])), 1,
        [MJ, SN("tr"), field("perm"), I("rank")]),
    Gen("transpose_missing_perm", chain(seq, delk("nodes/@tr/perm")), 1,
        [MJ, SN("tr"), field("perm"), MISSING]),

    # -- concat, slice -----------------------------------------------------------------
    Gen("concat_shape_mismatch", chain(seq, setk("nodes/@cat/axis", 1)), 1,
        [MJ, SN("cat"), field("inputs"), I("shape mismatch"), "h5", "h4"]),
    Gen("concat_rank_mismatch", chain(seq, add_input("aux", [B_MAX, 8]), setk("nodes/@cat/inputs", ["h5", "aux"])),
        1, [MJ, SN("cat"), field("inputs"), I("shape mismatch"), "aux"]),
    Gen("concat_missing_axis", chain(seq, delk("nodes/@cat/axis")), 1,
        [MJ, SN("cat"), field("axis"), MISSING]),
    Gen("concat_axis_0", chain(seq, setk("nodes/@cat/axis", 0)), 1,
        [MJ, SN("cat"), field("axis"), I("batch")]),
    Gen("concat_axis_minus_rank", chain(seq, setk("nodes/@cat/axis", -3)), 1,
        [MJ, SN("cat"), field("axis"), I("batch")]),
    Gen("concat_axis_out_of_range", chain(seq, setk("nodes/@cat/axis", 3)), 1,
        [MJ, SN("cat"), field("axis"), I("range")]),
    Gen("concat_one_input", chain(seq, setk("nodes/@cat/inputs", ["h5"])), 1,
        [MJ, SN("cat"), field("inputs"), "concat", "got 1"]),
    Gen("concat_17_inputs", chain(seq, setk("nodes/@cat/inputs", ["h5"] * 17)), 1,
        [MJ, SN("cat"), field("inputs"), "concat", "got 17"]),
    Gen("slice_empty_result", chain(seq, setk("nodes/@sl/start", 3), setk("nodes/@sl/end", 1)), 1,
        [MJ, SN("sl"), I("empty")]),
    Gen("slice_start_past_end_of_axis", chain(seq, setk("nodes/@sl/start", SEQ), delk("nodes/@sl/end")), 1,
        [MJ, SN("sl"), I("empty")]),
    Gen("slice_step_zero", chain(seq, setk("nodes/@sl/step", 0)), 1,
        [MJ, SN("sl"), field("step"), I("range")]),
    Gen("slice_step_negative", chain(seq, setk("nodes/@sl/step", -1)), 1,
        [MJ, SN("sl"), field("step"), I("range")]),
    Gen("slice_missing_axis", chain(seq, delk("nodes/@sl/axis")), 1,
        [MJ, SN("sl"), field("axis"), MISSING]),
    Gen("slice_axis_0", chain(seq, setk("nodes/@sl/axis", 0)), 1,
        [MJ, SN("sl"), field("axis"), I("batch")]),
    Gen("slice_start_fraction", chain(seq, setk("nodes/@sl/start", 0.5)), 1,
        [MJ, SN("sl"), field("start"), I("integer")]),

    # -- layernorm, softmax --------------------------------------------------------------
    Gen("layernorm_not_last_axis", chain(seq, setk("nodes/@ln/axis", 1)), 1,
        [MJ, SN("ln"), field("axis"), I("last axis")]),
    Gen("layernorm_axis_0", chain(seq, setk("nodes/@ln/axis", 0)), 1,
        [MJ, SN("ln"), field("axis"), I("batch")]),
    Gen("layernorm_weight_len_mismatch", chain(seq, tens("ln.weight", shape=[WID - 1])), 1,
        [MJ, SN("ln"), field("weight"), "ln.weight", I("shape")]),
    Gen("layernorm_bias_rank2", chain(seq, tens("ln.bias", shape=[1, WID])), 1,
        [MJ, SN("ln"), field("bias"), "ln.bias", I("rank")]),
    Gen("layernorm_epsilon_string", chain(seq, setk("nodes/@ln/epsilon", "1e-5")), 1,
        [MJ, SN("ln"), field("epsilon")]),
    Gen("softmax_axis_out_of_range", chain(seq, setk("nodes/@sm/axis", 3)), 1,
        [MJ, SN("sm"), field("axis"), I("range")]),
    Gen("softmax_axis_negative_out_of_range", chain(seq, setk("nodes/@sm/axis", -4)), 1,
        [MJ, SN("sm"), field("axis"), I("range")]),
    Gen("softmax_axis_0", chain(seq, setk("nodes/@sm/axis", 0)), 1,
        [MJ, SN("sm"), field("axis"), I("batch")]),
    Gen("softmax_axis_list", chain(seq, setk("nodes/@sm/axis", [1, 2])), 1,
        [MJ, SN("sm"), field("axis"), I("integer")]),

    # -- matmul of two activations ---------------------------------------------------------
    Gen("matmul_two_acts_k_mismatch", chain(seq, setk("nodes/@mm/inputs", ["h1", "h1"])), 1,
        [MJ, SN("mm"), field("inputs"), I("shape mismatch"), "h1"]),
    Gen("matmul_two_acts_rank_mismatch", chain(seq, add_input("aux", [B_MAX, WID]),
                                               setk("nodes/@mm/inputs", ["h1", "aux"])), 1,
        [MJ, SN("mm"), field("inputs"), "aux", I("rank")]),
    Gen("matmul_two_acts_broadcast_mismatch",
        chain(seq, add_input("aux4", [B_MAX, 2, SEQ, WID]), add_input("auxT", [B_MAX, 3, WID, SEQ]),
              setk("nodes/@mm/inputs", ["aux4", "auxT"])), 1,
        [MJ, SN("mm"), field("inputs"), I("broadcast")]),
    Gen("matmul_three_inputs", chain(seq, setk("nodes/@mm/inputs", ["h1", "h2", "h2"])), 1,
        [MJ, SN("mm"), field("inputs"), "got 3"]),

    # -- embedding / gather ----------------------------------------------------------------
    Gen("embedding_without_weight", chain(emb, delk("nodes/@emb/weight")), 1,
        [MJ, EN("emb"), field("weight"), MISSING]),
    Gen("gather_without_weight", chain(emb, setk("nodes/@emb/op", "gather"), delk("nodes/@emb/weight")), 1,
        [MJ, EN("emb"), field("weight"), MISSING]),
    Gen("embedding_table_rank1", chain(emb, tens("emb.weight", shape=[ROWS * EDIM])), 1,
        [MJ, EN("emb"), field("weight"), "emb.weight", I("rank")]),
    Gen("embedding_table_not_found", chain(emb, setk("nodes/@emb/weight", "tok.weight")), 1,
        [EN("emb"), field("weight"), "tok.weight"]),
    Gen("embedding_axis_1", chain(emb, setk("nodes/@emb/axis", 1)), 1,
        [MJ, EN("emb"), field("axis"), I("range")]),
    Gen("embedding_two_inputs", chain(emb, setk("nodes/@emb/inputs", [INPUT, MASK])), 1,
        [MJ, EN("emb"), field("inputs"), "got 2"]),

    # -- attention -----------------------------------------------------------------------------
    Gen("attention_heads_not_dividing", chain(seq, setk("nodes/@att/heads", 3)), 1,
        [MJ, SN("att"), field("heads"), str(WID)]),
    Gen("attention_heads_zero", chain(seq, setk("nodes/@att/heads", 0)), 1,
        [MJ, SN("att"), field("heads"), I("range")]),
    Gen("attention_missing_heads", chain(seq, delk("nodes/@att/heads")), 1,
        [MJ, SN("att"), field("heads"), MISSING]),
    Gen("attention_head_size_too_big", chain(seq, setk("inputs/0/shape", [B_MAX, SEQ, 512]),
                                             tens("ln.weight", shape=[512]), tens("ln.bias", shape=[512]),
                                             setk("nodes/@att/heads", 1)), 1,
        [MJ, SN("att"), field("heads"), "256"]),
    Gen("attention_causal_not_bool", chain(emb, setk("nodes/@att/causal", 1)), 1,
        [MJ, EN("att"), field("causal"), I("true")]),
    Gen("attention_bad_mask_length", chain(emb, setk("inputs/1/shape", [B_MAX, SEQ + 1])), 1,
        [MJ, EN("att"), field("inputs"), I("mask"), MASK]),
    Gen("attention_bad_mask_rank", chain(emb, setk("inputs/1/shape", [B_MAX, SEQ, 1])), 1,
        [MJ, EN("att"), field("inputs"), I("mask"), MASK]),
    Gen("attention_value_width_mismatch", chain(seq, add_input("val", [B_MAX, SEQ, WID // 2]),
                                                setk("nodes/@att/inputs", ["h0", "h0", "val"])), 1,
        [MJ, SN("att"), field("inputs"), I("shape mismatch")]),
    Gen("attention_key_value_length_mismatch", chain(seq, add_input("val", [B_MAX, SEQ + 1, WID]),
                                                     setk("nodes/@att/inputs", ["h0", "h0", "val"])), 1,
        [MJ, SN("att"), field("inputs"), I("shape mismatch")]),
    Gen("attention_two_inputs", chain(seq, setk("nodes/@att/inputs", ["h0", "h0"])), 1,
        [MJ, SN("att"), field("inputs"), "attention", "got 2"]),
    Gen("attention_five_inputs", chain(emb, setk("nodes/@att/inputs", ["e1", "e1", "e1", MASK, MASK])), 1,
        [MJ, EN("att"), field("inputs"), "attention", "got 5"]),
    Ok("ok_attention_cache", chain(seq, setk("nodes/@att/causal", True), setk("nodes/@att/cache", SEQ))),
    Gen("attention_cache_not_causal", chain(seq, setk("nodes/@att/cache", SEQ)), 1,
        [MJ, SN("att"), field("cache"), "causal"]),
    Gen("attention_cache_with_mask", chain(emb, setk("nodes/@att/cache", SEQ)), 1,
        [MJ, EN("att"), field("cache"), "mask"]),
    Gen("attention_cache_shorter_than_run", chain(seq, setk("nodes/@att/causal", True),
                                                  setk("nodes/@att/cache", SEQ - 1)), 1,
        [MJ, SN("att"), field("cache"), str(SEQ - 1)]),
    # 8 items x 2^24 positions x 16 floats, keys and values: 8 GiB of cache
    Gen("attention_cache_over_max_arena", chain(seq, setk("nodes/@att/causal", True),
                                                setk("nodes/@att/cache", 1 << 24)), 1,
        [MJ, SN("att"), field("cache"), "key/value cache", "--max-arena"]),
    Gen("attention_cache_negative", chain(seq, setk("nodes/@att/causal", True),
                                          setk("nodes/@att/cache", -4)), 1,
        [MJ, SN("att"), field("cache"), I("range")]),
    Gen("attention_cache_not_integer", chain(seq, setk("nodes/@att/causal", True),
                                             setk("nodes/@att/cache", "many")), 1,
        [MJ, SN("att"), field("cache"), I("integer")]),
    Gen("attention_cache_other_keys", chain(seq, setk("nodes/@att/causal", True),
                                            setk("nodes/@att/cache", 64),
                                            add_input("mem", [B_MAX, SEQ + 2, WID]),
                                            setk("nodes/@att/inputs", ["h0", "mem", "mem"])), 1,
        [MJ, SN("att"), field("cache"), I("own")]),
    Gen("attention_rank2_query", chain(emb, setk("nodes/@att/inputs", [MASK, "e1", "e1"])), 1,
        [MJ, EN("att"), field("inputs"), MASK, I("rank")]),

    # -- elementwise and reduction ops ---------------------------------------------------------
    Ok("ok_elementwise", elt),
    Ok("ok_clip_one_bound", chain(elt, delk("nodes/@cl/max"))),
    Ok("ok_clip_min_equals_max", chain(elt, setk("nodes/@cl/min", 1))),
    Ok("ok_reducemean_last_axis_counted_up", chain(elt, setk("nodes/@rm/axis", 2))),
    Gen("clip_min_above_max", chain(elt, setk("nodes/@cl/min", 2)), 1,
        [MJ, LN("cl"), field("min"), I("max")]),
    Gen("clip_min_string", chain(elt, setk("nodes/@cl/min", "0")), 1,
        [MJ, LN("cl"), field("min"), I("number")]),
    Gen("clip_max_null", chain(elt, setk("nodes/@cl/max", None)), 1, [MJ, LN("cl"), field("max")]),
    Gen("hardsigmoid_alpha_string", chain(elt, setk("nodes/@hs/alpha", "0.2")), 1,
        [MJ, LN("hs"), field("alpha"), I("number")]),
    Gen("hardsigmoid_with_min", chain(elt, setk("nodes/@hs/min", 0)), 1,
        [MJ, LN("hs"), field("min"), ATTR]),
    Gen("erf_with_alpha", chain(elt, setk("nodes/@ef/alpha", 1)), 1,
        [MJ, LN("ef"), field("alpha"), ATTR]),
    Gen("sub_with_keepdims", chain(elt, setk("nodes/@sb/keepdims", 1)), 1,
        [MJ, LN("sb"), field("keepdims"), ATTR]),
    Gen("sub_one_input", chain(elt, setk("nodes/@sb/inputs", ["e2"])), 1,
        [MJ, LN("sb"), field("inputs"), "got 1"]),
    Gen("where_two_inputs", chain(elt, setk("nodes/@wh/inputs", [COND, "e3"])), 1,
        [MJ, LN("wh"), field("inputs"), "got 2"]),
    Gen("where_condition_rank", chain(elt, setk("inputs/1/shape", [B_MAX, SEQ])), 1,
        [MJ, LN("wh"), field("inputs"), COND, I("rank")]),
    Gen("where_condition_not_broadcasting", chain(elt, setk("inputs/1/shape", [B_MAX, SEQ - 1, 1])),
        1, [MJ, LN("wh"), field("inputs"), COND, I("broadcast")]),
    Ok("ok_reducemean_middle_axis", chain(elt, setk("nodes/@rm/axis", 1),
                                          setk("nodes/@dv/inputs", ["e5", "e5"]))),
    Gen("reducemean_axis_0", chain(elt, setk("nodes/@rm/axis", 0)), 1,
        [MJ, LN("rm"), field("axis"), I("batch")]),
    Gen("reducemean_axis_out_of_range", chain(elt, setk("nodes/@rm/axis", 9)), 1,
        [MJ, LN("rm"), field("axis"), I("range")]),
    Gen("reducemean_keepdims_2", chain(elt, setk("nodes/@rm/keepdims", 2)), 1,
        [MJ, LN("rm"), field("keepdims"), I("range")]),
    Gen("reducemean_keepdims_bool", chain(elt, setk("nodes/@rm/keepdims", True)), 1,
        [MJ, LN("rm"), field("keepdims"), I("integer")]),
    Gen("reducemean_keepdims_0_then_rank_mismatch", chain(elt, setk("nodes/@rm/keepdims", 0)), 1,
        [MJ, LN("dv"), field("inputs"), "e5", I("rank")]),

    # -- constants, expand, reductions over axes ------------------------------------------------
    Ok("ok_constants", cst),
    Ok("ok_constant_first_operand", chain(cst, setk("nodes/@ad/inputs", ["kv", INPUT]))),
    Ok("ok_constant_scalar", chain(cst, tens("k.value", shape=[1]))),
    Gen("constant_first_dim_not_1", chain(cst, tens("k.value", shape=[2, WID])), 1,
        [MJ, KN("k"), field("weight"), "k.value", I("first dimension must be 1")]),
    Gen("constant_does_not_broadcast", chain(cst, tens("k.value", shape=[1, WID - 1])), 1,
        [MJ, KN("ad"), field("inputs"), "kv", I("broadcast")]),
    Gen("constant_rank_above_output", chain(cst, tens("k.value", shape=[1, 1, 1, WID])), 1,
        [MJ, KN("ad"), field("inputs"), INPUT, I("rank")]),
    Gen("constant_into_concat", chain(cst, setk("nodes/@cc/inputs", ["clsv", "a1"])), 1,
        [MJ, KN("cc"), field("inputs"), "clsv", CONSTANT, I("expand")]),
    Gen("constant_into_linear", chain(cst, setk("nodes/@fc/inputs", ["kv"])), 1,
        [MJ, KN("fc"), field("inputs"), "kv", CONSTANT]),
    Gen("constant_into_reduction", chain(cst, setk("nodes/@rs/inputs", ["clsv"])), 1,
        [MJ, KN("rs"), field("inputs"), "clsv", CONSTANT]),
    Gen("constant_with_input", chain(cst, setk("nodes/@k/inputs", [INPUT])), 1,
        [MJ, KN("k"), field("inputs"), "got 1"]),
    Gen("constant_without_weight", chain(cst, delk("nodes/@k/weight")), 1,
        [MJ, KN("k"), field("weight"), MISSING]),
    Gen("constant_weight_not_found", chain(cst, setk("nodes/@k/weight", "nope")), 1,
        [MJ, KN("k"), field("weight"), "nope"]),
    Gen("constant_as_graph_output", chain(cst, setk("outputs", [OUTPUT, "kv"])), 1,
        [MJ, KN("k"), field("outputs"), "kv", CONSTANT]),
    Gen("binary_of_two_constants", chain(cst, setk("nodes/@ad/inputs", ["kv", "kv"])), 1,
        [MJ, KN("ad"), field("inputs"), CONSTANT, I("batched")]),
    Gen("expand_does_not_broadcast", chain(cst, setk("nodes/@ex/shape", [1, WID + 1])), 1,
        [MJ, KN("ex"), field("shape"), "clsv", I("broadcast")]),
    Gen("expand_shape_not_a_list", chain(cst, setk("nodes/@ex/shape", "1x16")), 1,
        [MJ, KN("ex"), field("shape"), I("list")]),
    Gen("expand_shape_zero", chain(cst, setk("nodes/@ex/shape", [0, WID])), 1,
        [MJ, KN("ex"), field("shape"), I("expected 1")]),
    Gen("expand_without_shape", chain(cst, delk("nodes/@ex/shape")), 1,
        [MJ, KN("ex"), field("shape"), MISSING]),
    Gen("reducesum_without_axes", chain(cst, delk("nodes/@rs/axes")), 1,
        [MJ, KN("rs"), field("axes"), MISSING]),
    Gen("reducesum_axis_0", chain(cst, setk("nodes/@rs/axes", [0])), 1,
        [MJ, KN("rs"), field("axes"), I("batch")]),
    Gen("reducesum_axis_twice", chain(cst, setk("nodes/@rs/axes", [1, -2])), 1,
        [MJ, KN("rs"), field("axes"), DUP]),
    Gen("reducesum_axis_out_of_range", chain(cst, setk("nodes/@rs/axes", [3])), 1,
        [MJ, KN("rs"), field("axes"), I("range")]),
    Gen("reducesum_with_axis", chain(cst, setk("nodes/@rs/axis", 1)), 1,
        [MJ, KN("rs"), field("axis"), ATTR]),
    Gen("leakyrelu_alpha_string", chain(cst, setk("nodes/@lr/alpha", "0.1")), 1,
        [MJ, KN("lr"), field("alpha"), I("number")]),

    # -- a failed generation must not touch an existing output folder --------
    Gen("existing_out_bad_json", text(lambda t: t[:-3]), 1, [MJ], existing_out=True),
    Gen("existing_out_shape_mismatch", tens("fc1.bias", shape=[D_HID + 1]), 1,
        [node("fc1", 0), I("shape")], existing_out=True),
    Gen("existing_out_truncated_st", st_bytes(lambda b: b[:-1]), 1, [ST], existing_out=True),
    Gen("out_is_regular_file", None, 1, [OUT_NAME], existing_out="file"),
    # a valid model, but OUTDIR holds files sfgen did not write (no .sfgen)
    Gen("existing_out_not_sfgens", None, 1, [OUT_NAME, ".sfgen", "--force"], existing_out=True),

    # -- model names that would make the output folder unbuildable ----------
    Gen("name_runtime_file", setk("name", "sf_ops"), 1, [MJ, field("name"), "'sf_ops'", I("runtime")]),
    Gen("name_runtime_prefix", setk("name", "sf"), 1, [MJ, field("name"), "'sf'"]),
    Gen("name_runtime_prefix_upper", setk("name", "SF_NPY"), 1, [MJ, field("name"), "'SF_NPY'"]),
    Gen("name_cuda_runtime_prefix", setk("name", "sfc_ctx"), 1, [MJ, field("name"), "'sfc_ctx'"]),
    Gen("name_makefile", setk("name", "Makefile"), 1, [MJ, field("name"), "'Makefile'"]),
    Gen("name_gnumakefile", setk("name", "GNUmakefile"), 1, [MJ, field("name"), "'GNUmakefile'"]),
    Gen("name_make_target_all", setk("name", "all"), 1, [MJ, field("name"), "target 'all'"]),
    Gen("name_make_target_clean", setk("name", "clean"), 1, [MJ, field("name"), "target 'clean'"]),
    Usage("name_make_target_cuda", lambda m, o: [m, "-o", o, "--target", "cuda"], 1,
          [MJ, field("name"), "target 'cuda'"], mutate=setk("name", "cuda")),

    # -- command line --------------------------------------------------------
    Usage("usage_no_args", lambda m, o: [], 2),
    Usage("usage_unknown_option", lambda m, o: [m, "-o", o, "--frobnicate"], 2, ["--frobnicate"]),
    Usage("usage_missing_o_value", lambda m, o: [m, "-o"], 2),
    Usage("usage_no_o", lambda m, o: [m], 2),
    Usage("usage_two_models", lambda m, o: [m, m, "-o", o], 2),
    Usage("usage_inspect_no_model", lambda m, o: ["inspect"], 2),
    Usage("usage_inspect_unknown_option", lambda m, o: ["inspect", m, "--frobnicate"], 2, ["--frobnicate"]),
    Usage("usage_threads_leading_space", lambda m, o: [m, "-o", o, "--threads", " 3"], 2, ["--threads"]),
    Usage("usage_threads_plus", lambda m, o: [m, "-o", o, "--threads", "+3"], 2, ["--threads"]),
    Usage("usage_threads_over_cap", lambda m, o: [m, "-o", o, "--threads", "4097"], 2, ["4096"]),
    Usage("usage_gpu_kernel_without_cuda", lambda m, o: [m, "-o", o, "--gpu-kernel", "dense"], 2,
          ["--gpu-kernel", "--target cuda"]),
    Usage("usage_gpu_dtype_without_cuda", lambda m, o: [m, "-o", o, "--gpu-dtype", "f16"], 2,
          ["--gpu-dtype", "--target cuda"]),
    Usage("usage_inspect_force", lambda m, o: ["inspect", m, "--force"], 2, ["--force"]),
    Usage("usage_report_is_the_model", lambda m, o: [m, "-o", o, "--report", m], 2,
          ["--report", I("model file")]),
    Usage("usage_report_is_the_weights",
          lambda m, o: [m, "-o", o, "--report", os.path.join(os.path.dirname(m), WEIGHTS_FILE)], 2,
          ["--report", I("weights file")]),
    # --report comes before the folder: when it cannot be written, no folder
    Usage("report_folder_missing", lambda m, o: [m, "-o", o, "--report",
                                                 os.path.join(os.path.dirname(m), "nosuch", "r.json")],
          1, [os.path.join("nosuch", "r.json")]),
    Usage("report_is_a_folder", lambda m, o: [m, "-o", o, "--report", os.path.dirname(m)], 1,
          [I("folder")]),
    Usage("usage_max_arena_zero", lambda m, o: [m, "-o", o, "--max-arena", "0"], 2, ["--max-arena"]),
    Usage("usage_max_arena_unit", lambda m, o: [m, "-o", o, "--max-arena", "12Q"], 2, ["--max-arena"]),
    Usage("usage_max_arena_negative", lambda m, o: [m, "-o", o, "--max-arena", "-5"], 2, ["--max-arena"]),
    Usage("usage_max_arena_too_large", lambda m, o: [m, "-o", o, "--max-arena", "99999999T"], 2,
          ["--max-arena"]),
    Usage("usage_max_arena_no_value", lambda m, o: [m, "-o", o, "--max-arena"], 2, ["--max-arena"]),
    Usage("usage_static_arena_text", lambda m, o: [m, "-o", o, "--static-arena", "big"], 2,
          ["--static-arena"]),
    Usage("usage_external_weights_cuda", lambda m, o: [m, "-o", o, "--external-weights", "--target", "cuda"],
          2, ["--external-weights"]),
    Usage("arena_over_small_max_arena", lambda m, o: [m, "-o", o, "--max-arena", "1K"], 1,
          [MJ, "--max-arena", "1.0 KiB"]),
    Usage("model_file_not_found", lambda m, o: [os.path.join(os.path.dirname(m), "absent.json"), "-o", o],
          1, ["absent.json"]),
    Usage("model_is_directory", lambda m, o: [os.path.dirname(m), "-o", o], 1),
    Usage("inspect_bad_json", lambda m, o: ["inspect", m], 1, [MJ], mutate=text(lambda t: t[:-5])),
    Usage("inspect_bad_safetensors", lambda m, o: ["inspect", m], 1, [ST],
          mutate=hlen(lambda n: 1 << 63)),
]

# The .npy cases for the generated program (--program-cases).  The program
# is OUTDIR/mlp, built with `make -C OUTDIR` from the base model.  Each row is
# a Prog(name, input file bytes, expected exit, substrings, argv, alt_ok).


def npy_bytes(descr="<f4", shape=(3, D_IN), fortran=False, data=None, version=1):
    """An .npy image; data=None: the right number of elements of `descr`."""
    shape = tuple(shape)
    if len(shape) == 1:
        srepr = "(%d,)" % shape[0]
    else:
        srepr = "(" + ", ".join(str(d) for d in shape) + ")"
    h = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (
        descr, "True" if fortran else "False", srepr)
    pre = 6 + 2 + (2 if version == 1 else 4)
    pad = -(pre + len(h) + 1) % 64
    h = (h + " " * pad + "\n").encode("latin-1")
    head = b"\x93NUMPY" + bytes([version, 0])
    head += struct.pack("<H", len(h)) if version == 1 else struct.pack("<I", len(h))
    if data is None:
        n = _numel(shape)
        batch = shape[0] if shape else 1
        inner = n // batch if batch else 0
        data = _pack_descr(descr, _input_values(batch, inner), n)
    return head + h + data


def _input_values(batch, inner):
    return [((((b * inner + i) * 13) % 17) - 8) / 8.0 for b in range(batch) for i in range(inner)]


def _pack_descr(descr, vals, n):
    vals = (list(vals) + [0.0] * n)[:n]
    code = {"<f4": "<%df", ">f4": ">%df", "<f8": "<%dd", "<f2": "<%de"}.get(descr)
    if code:
        return struct.pack(code % n, *vals)
    if descr == "<i4":
        return struct.pack("<%di" % n, *[int(x) for x in vals])
    if descr == "|u1":
        return bytes(n)
    return bytes(4 * n)


class Prog:
    def __init__(self, name, content, exit=1, expect=None, argv=None, alt_ok=False, model=None,
                 prepare=None, stdout_only=False):
        """content: bytes for the input file (None: do not create it).
        argv: function(prog, in_path, out_path) -> argv (default: the normal
        --input/--output call).  expect: substrings of stderr (default: the
        input file's basename).  alt_ok: exit 0 with a correct result is
        accepted too (for inputs a loader may legitimately support).
        model: None for the base model's program, else a PROGRAM_MODELS key.
        prepare: function(in_path) making the input when content is None
        (a FIFO, a folder).  Whenever the program fails, the --output file
        must not exist.  stdout_only: an exit-0 case that writes no output
        file (--bench)."""
        self.name, self.content, self.exit = name, content, exit
        self.expect, self.argv, self.alt_ok = expect, argv, alt_ok
        self.model, self.prepare, self.stdout_only = model, prepare, stdout_only


class ProgModel:
    """Another model whose generated program some Prog rows run: `mutate`
    turns the base Variant into it (keeping the input and output names
    INPUT and OUTPUT), `program` is its name (the program is OUTDIR/program)
    and ref(x, shape) -> (expected output shape, flat values)."""

    def __init__(self, mutate, program, ref):
        self.mutate, self.program, self.ref = mutate, program, ref


def _emb_ref(x, shape):
    table = _values(ROWS * PDIM, 1)
    out = []
    for f in x:
        i = int(f)
        out += table[i * PDIM:(i + 1) * PDIM]
    return tuple(shape) + (PDIM,), out


PDIM = 3  # embedding width of the "emb" program model
PROGRAM_MODELS = {
    # token ids [B, SEQ] (float-coded) -> rows of a ROWS x PDIM table
    "emb": ProgModel(graph([(INPUT, [B_MAX, SEQ])],
                           [{"op": "embedding", "name": "emb", "inputs": [INPUT], "outputs": [OUTPUT],
                             "weight": "emb.weight"}],
                           [("emb.weight", [ROWS, PDIM], 1)], name="emb"),
                     "emb", _emb_ref),
}


def ids(rows):
    """An .npy of token ids (float32), one list per batch item."""
    flat = [float(v) for r in rows for v in r]
    return npy_bytes(shape=(len(rows), len(rows[0])), data=struct.pack("<%df" % len(flat), *flat))


EMB_RUN_FAIL = [I("run failed"), I("embedding index")]


def _std_argv(prog, inp, out):
    return [prog, "--input", "%s=%s" % (INPUT, inp), "--output", "%s=%s" % (OUTPUT, out)]


def npy_header(text, data):
    """An .npy v1 image with the header dict `text` (padded) and raw data."""
    pad = -(10 + len(text) + 1) % 64
    h = (text + " " * pad + "\n").encode("latin-1")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + data


F4_DATA = struct.pack("<%df" % (3 * D_IN), *_input_values(3, D_IN))
# The header of the attacker's decoy: a key before 'descr' whose string value
# holds a valid-looking f4 header; the real descr is f8 with the same byte count.
DECOY = ("{'zz': \"'descr': '<f4', 'fortran_order': False, 'shape': (3, %d), \", "
         "'descr': '<f8', 'fortran_order': False, 'shape': (3, %d), }" % (D_IN, D_IN // 2))


PROGRAM_CASES = [
    Prog("prog_ok_batch3", npy_bytes(), 0),
    Prog("prog_ok_batch_max", npy_bytes(shape=(B_MAX, D_IN)), 0),
    Prog("prog_ok_batch1", npy_bytes(shape=(1, D_IN)), 0),
    Prog("prog_dtype_f8", npy_bytes(descr="<f8"), 1, [I("dtype")]),
    Prog("prog_dtype_i4", npy_bytes(descr="<i4"), 1, [I("dtype")]),
    Prog("prog_dtype_f2", npy_bytes(descr="<f2"), 1, [I("dtype")]),
    Prog("prog_dtype_u1", npy_bytes(descr="|u1"), 1, [I("dtype")]),
    Prog("prog_dtype_big_endian", npy_bytes(descr=">f4"), 1, [], alt_ok=True),
    Prog("prog_fortran_order", npy_bytes(fortran=True), 1, [], alt_ok=True),
    Prog("prog_trailing_dim", npy_bytes(shape=(3, D_IN - 1)), 1, [I("shape")]),
    Prog("prog_batch_zero", npy_bytes(shape=(0, D_IN)), 1, [I("shape")]),
    Prog("prog_batch_above_max", npy_bytes(shape=(B_MAX + 1, D_IN)), 1, [I("shape")]),
    Prog("prog_rank1", npy_bytes(shape=(D_IN,)), 1, [I("shape")]),
    Prog("prog_rank3", npy_bytes(shape=(1, 3, D_IN)), 1, [I("shape")]),
    Prog("prog_rank0", npy_bytes(shape=(), data=struct.pack("<f", 1.0)), 1, [I("shape")]),
    Prog("prog_huge_shape", npy_bytes(shape=(3, BIG62), data=b""), 1, [I("shape")]),
    Prog("prog_truncated_data", npy_bytes()[:-7], 1),
    Prog("prog_no_data", npy_bytes()[:128], 1),
    Prog("prog_truncated_header", npy_bytes()[:40], 1),
    Prog("prog_not_npy", b"hello, this is not an npy file\n" * 4, 1),
    Prog("prog_empty_file", b"", 1),
    Prog("prog_bad_header_dict", b"\x93NUMPY\x01\x00" + struct.pack("<H", 54)
         + b"{'descr': '<f4', 'shape': (3, 16)".ljust(53) + b"\n" + bytes(192), 1),
    Prog("prog_header_len_huge", b"\x93NUMPY\x02\x00" + struct.pack("<I", 0xFFFFFFF0) + b"{'descr'", 1),
    Prog("prog_missing_file", None, 1),
    Prog("prog_usage_no_args", npy_bytes(), 2, [], argv=lambda p, i, o: [p]),
    Prog("prog_usage_unknown_option", npy_bytes(), 2, ["--frobnicate"],
         argv=lambda p, i, o: _std_argv(p, i, o) + ["--frobnicate"]),
    Prog("prog_usage_input_no_value", npy_bytes(), 2, [],
         argv=lambda p, i, o: [p, "--output", o, "--input"]),
    Prog("prog_unknown_input_name", npy_bytes(), {1, 2}, ["nosuch"],
         argv=lambda p, i, o: [p, "--input", "nosuch=" + i, "--output", "%s=%s" % (OUTPUT, o)]),
    Prog("prog_missing_input", npy_bytes(), {1, 2}, [INPUT],
         argv=lambda p, i, o: [p, "--output", "%s=%s" % (OUTPUT, o)]),

    # -- the header is parsed as a Python literal (docs/CLI.md) ----------------
    Prog("prog_npy_decoy_descr", npy_header(DECOY, F4_DATA), 1, [I("'zz'")]),
    Prog("prog_npy_fortran_falsey", npy_header(
        "{'descr': '<f4', 'fortran_order': Falsey, 'shape': (3, %d), }" % D_IN, F4_DATA), 1,
        [I("fortran_order")]),
    Prog("prog_npy_shape_double_commas", npy_header(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3,, %d), }" % D_IN, F4_DATA), 1,
        [I("dimension")]),
    Prog("prog_npy_shape_no_commas", npy_header(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3 %d), }" % D_IN, F4_DATA), 1,
        [I("shape")]),
    Prog("prog_npy_key_twice", npy_header(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3, %d), 'descr': '<f4'}" % D_IN,
        F4_DATA), 1, [I("twice")]),
    Prog("prog_npy_text_after_dict", npy_header(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3, %d), } x" % D_IN, F4_DATA), 1,
        [I("after the dict")]),
    Prog("prog_npy_shape_leading_zero", npy_header(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (03, %d), }" % D_IN, F4_DATA), 1,
        [I("dimension")]),
    # a valid literal in another spelling: double quotes, tabs, trailing commas
    Prog("prog_npy_ok_other_spelling", npy_header(
        '{\t"shape" : (3 ,%d ,) ,"fortran_order":False,"descr":"<f4",}' % D_IN, F4_DATA), 0),
    # -- only regular files are read; never blocks, never reads past the header's size
    Prog("prog_input_fifo", None, 1, [I("regular file")], prepare=os.mkfifo),
    Prog("prog_input_directory", None, 1, [I("regular file")], prepare=os.mkdir),
    Prog("prog_input_dev_zero", None, 1, ["/dev/zero", I("regular file")],
         argv=lambda p, i, o: [p, "--input", "%s=/dev/zero" % INPUT, "--output", o]),
    # -- the command line --------------------------------------------------
    Prog("prog_usage_input_twice", npy_bytes(), 2, [I("twice")],
         argv=lambda p, i, o: _std_argv(p, i, o) + ["--input", i]),
    Prog("prog_usage_output_twice", npy_bytes(), 2, [I("twice")],
         argv=lambda p, i, o: _std_argv(p, i, o) + ["--output", o + ".2"]),
    Prog("prog_unknown_input_lists_names", npy_bytes(), 2, ["'nosuch'", "'%s'" % INPUT],
         argv=lambda p, i, o: [p, "--input", "nosuch=" + i, "--output", o]),
    Prog("prog_output_is_directory", npy_bytes(), 1, [I("directory")],
         argv=lambda p, i, o: [p, "--input", i, "--output", os.path.dirname(o)]),

    # -- the "emb" model: embedding indices are checked at run time ----------
    Prog("prog_emb_ok", ids([[0, 1, 2, 3], [9, 8, 7, 6], [5, 5, 0, 9]]), 0, model="emb"),
    Prog("prog_emb_ok_batch1", ids([[9, 0, 4, 4]]), 0, model="emb"),
    Prog("prog_emb_index_equals_rows", ids([[0, 1, 2, 3], [4, ROWS, 5, 6]]), 3, EMB_RUN_FAIL, model="emb"),
    Prog("prog_emb_index_negative", ids([[0, -1, 2, 3]]), 3, EMB_RUN_FAIL, model="emb"),
    Prog("prog_emb_index_huge", ids([[0, 1, 2, 1e30]]), 3, EMB_RUN_FAIL, model="emb"),
    Prog("prog_emb_index_fraction", ids([[0, 1, 2.5, 3]]), 3, EMB_RUN_FAIL, model="emb"),
    Prog("prog_emb_index_nan", ids([[0, 1, float("nan"), 3]]), 3, EMB_RUN_FAIL, model="emb"),
    Prog("prog_emb_index_inf", ids([[float("inf"), 1, 2, 3]]), 3, EMB_RUN_FAIL, model="emb"),
    Prog("prog_emb_index_names_input", ids([[0, 1, 2, 3], [4, 5, 2.5, 3]]), 3,
         EMB_RUN_FAIL + ["input '%s'" % INPUT, "item 1, element 2 is 2.5", "0..%d" % (ROWS - 1)],
         model="emb"),
    # --bench draws random indices inside the table (no --input needed)
    Prog("prog_emb_bench_random", b"", 0, argv=lambda p, i, o: [p, "--bench", "2"], model="emb",
         stdout_only=True),
    Prog("prog_emb_bad_last_item", ids([[0, 1, 2, 3]] * (B_MAX - 1) + [[0, 1, 2, ROWS + 100]]), 3,
         EMB_RUN_FAIL, model="emb"),
]

# ---------------------------------------------------------------------------
# running
# ---------------------------------------------------------------------------

SANITIZER_MARKS = ("Sanitizer", "runtime error")


def snapshot(root):
    """Everything under `root`: relpath -> (kind, size, mtime_ns, digest)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            p = os.path.join(dirpath, d)
            out[os.path.relpath(p, root)] = ("dir",)
        for fn in filenames:
            p = os.path.join(dirpath, fn)
            st = os.lstat(p)
            if os.path.islink(p):
                out[os.path.relpath(p, root)] = ("link", os.readlink(p))
                continue
            if not stat.S_ISREG(st.st_mode):  # a FIFO: reading would block
                out[os.path.relpath(p, root)] = ("special", st.st_mode, st.st_mtime_ns)
                continue
            with open(p, "rb") as f:
                dig = hashlib.sha256(f.read()).hexdigest()
            out[os.path.relpath(p, root)] = ("file", st.st_size, st.st_mtime_ns, dig)
    return out


def diff_snap(before, after):
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    msgs = []
    if added:
        msgs.append("new: " + ", ".join(added[:8]))
    if removed:
        msgs.append("removed: " + ", ".join(removed[:8]))
    if changed:
        msgs.append("changed: " + ", ".join(changed[:8]))
    return "; ".join(msgs)


def run_proc(argv, cwd, timeout):
    try:
        p = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        err = (e.stderr or b"").decode("utf-8", "replace")
        return None, (e.stdout or b"").decode("utf-8", "replace"), err, "timed out after %gs" % timeout
    except OSError as e:
        return None, "", "", "cannot run %s: %s" % (argv[0], e)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"), None)


def exit_ok(code, want):
    return code in want if isinstance(want, (set, frozenset, tuple, list)) else code == want


def common_problems(code, err, why):
    probs = []
    if why:
        probs.append(why)
    elif code is not None and code < 0:
        probs.append("killed by signal %d" % -code)
    for m in SANITIZER_MARKS:
        if m in err:
            probs.append("stderr contains %r" % m)
            break
    return probs


def error_lines(err):
    return [ln for ln in err.splitlines() if ln.startswith("sfgen: error: ")]


def missing_in_one_line(lines, expect):
    """[] if one line holds every expected substring; else what the best
    line lacks."""
    if not lines:
        return [repr(w) for w in expect] or ["any error line"]
    best = None
    for ln in lines:
        miss = [w for w in expect if not _has(ln, w)]
        if best is None or len(miss) < len(best):
            best = miss
    return [repr(w) for w in best]


class Runner:
    def __init__(self, args):
        self.args = args
        self.sfgen = os.path.abspath(args.sfgen)
        self.work = args.work
        self.cwd = os.path.join(self.work, "cwd")  # sfgen runs here: must stay empty
        os.makedirs(self.cwd, exist_ok=True)
        self.passed = self.failed = 0

    def report(self, name, probs, err="", out=""):
        if not probs:
            self.passed += 1
            print("PASS %s" % name)
            if self.args.verbose and err.strip():
                print("    " + err.strip().replace("\n", "\n    "))
        else:
            self.failed += 1
            print("FAIL %s: %s" % (name, "; ".join(probs)))
            shown = err.strip() or "(empty)"
            if len(shown) > 3000:
                shown = shown[:3000] + "\n... (%d more characters)" % (len(shown) - 3000)
            print("    stderr: " + shown.replace("\n", "\n    "))
        sys.stdout.flush()

    def case_dir(self, name):
        d = os.path.join(self.work, "cases", name)
        if os.path.exists(d):
            shutil.rmtree(d)
        os.makedirs(d)
        return d

    def sfgen_run(self, argv, timeout=None):
        cwd_before = snapshot(self.cwd)
        code, out, err, why = run_proc([self.sfgen] + argv, self.cwd, timeout or self.args.timeout)
        d = diff_snap(cwd_before, snapshot(self.cwd))
        return code, out, err, why, d

    # -- one row -------------------------------------------------------------
    def run_case(self, c):
        d = self.case_dir(c.name)
        v = Variant()
        if getattr(c, "mutate", None):
            c.mutate(v)
        model_path = v.write(os.path.join(d, "model"))
        parent = os.path.join(d, "out_parent")   # nothing but OUTDIR may appear here
        os.makedirs(parent)
        outdir = os.path.join(parent, OUT_NAME)
        if getattr(c, "existing_out", False) == "file":
            with open(outdir, "w") as f:
                f.write("a regular file where OUTDIR should go\n")
        elif getattr(c, "existing_out", False):
            os.makedirs(os.path.join(outdir, "keep"))
            with open(os.path.join(outdir, "sentinel.txt"), "w") as f:
                f.write("must survive a failed generation\n")
            with open(os.path.join(outdir, "keep", "mlp.c"), "w") as f:
                f.write("/* an older generation */\n")
        before = snapshot(d)

        if c.kind == "usage":
            argv = c.argv(model_path, outdir)
        else:
            argv = [model_path, "-o", outdir]
        # max_seconds bounds sfgen's CPU time (a loaded machine does not
        # fail the case); the wall clock gets four times as much (a FIFO
        # that blocks sfgen costs no CPU)
        limit = getattr(c, "max_seconds", None)
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        code, out, err, why, cwd_diff = self.sfgen_run(argv, limit and 4 * limit)
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        took = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
        probs = common_problems(code, err, why)
        if limit and not why and took > limit:
            probs.append("took %.1f s of CPU time, limit %g s" % (took, limit))
        nerr = len(error_lines(err))
        if getattr(c, "max_error_lines", None) and nerr > c.max_error_lines:
            probs.append("%d error lines, at most %d expected" % (nerr, c.max_error_lines))
        after = snapshot(d)

        if c.kind == "ok":
            if not why and code != 0:
                probs.append("exit %s, expected 0" % code)
            if not os.path.isdir(outdir):
                probs.append("no output folder")
            elif not any(fn.endswith(".c") for fn in os.listdir(outdir)):
                probs.append("no .c file in the output folder")
            stray = diff_snap({k: x for k, x in before.items()},
                              {k: x for k, x in after.items()
                               if k != os.path.join("out_parent", OUT_NAME)
                               and not k.startswith(os.path.join("out_parent", OUT_NAME, ""))})
            if stray:
                probs.append("files written outside OUTDIR: " + stray)
            if cwd_diff:
                probs.append("files written in the working directory: " + cwd_diff)
            if c.name == "ok_base" and not probs:
                probs.extend(self.inspect_checks(model_path, d))
            self.report(c.name, probs, err, out)
            return outdir if not probs else None

        if not why and code is not None and code >= 0 and not exit_ok(code, c.exit):
            probs.append("exit %s, expected %s" % (code, c.exit))
        if c.kind == "gen" or (c.kind == "usage" and c.exit == 1):
            miss = missing_in_one_line(error_lines(err), c.expect)
            if miss:
                probs.append("no 'sfgen: error:' line contains all of the expected text; "
                             "missing: " + ", ".join(miss))
        else:
            if not err.strip():
                probs.append("stderr is empty")
            lines = [ln for ln in err.splitlines() if ln.strip()]
            if c.exit == 2 and (len(lines) != 2 or "sfgen --help" not in lines[1]):
                probs.append("a usage error is one line and a pointer to 'sfgen --help' "
                             "(docs/CLI.md), got %d lines" % len(lines))
            miss = [repr(w) for w in c.expect if not _has(err, w)]
            if miss:
                probs.append("stderr lacks " + ", ".join(miss))
        changed = diff_snap(before, after)
        if changed:
            if not getattr(c, "existing_out", False) and os.path.exists(outdir):
                probs.append("output folder exists after failure")
            probs.append("files changed: " + changed)
        if cwd_diff:
            probs.append("files written in the working directory: " + cwd_diff)
        self.report(c.name, probs, err, out)
        return None

    def inspect_checks(self, model_path, d):
        """On the valid model, `inspect` succeeds and writes nothing."""
        probs = []
        before = snapshot(d)
        for extra in ([], ["--json"]):
            code, out, err, why, cwd_diff = self.sfgen_run(["inspect", model_path] + extra)
            probs += ["inspect %s: %s" % (" ".join(extra), p) for p in common_problems(code, err, why)]
            if not why and code != 0:
                probs.append("inspect %s: exit %s, expected 0" % (" ".join(extra), code))
            if extra and code == 0:
                try:
                    got = json.loads(out)
                    # README: inspect --json is the same as OUTDIR/report.json
                    with open(os.path.join(d, "out_parent", OUT_NAME, "report.json")) as f:
                        want = json.load(f)
                    if got != want:
                        probs.append("inspect --json differs from report.json in: " + ", ".join(
                            sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))))
                except ValueError:
                    probs.append("inspect --json: stdout is not JSON")
            if cwd_diff:
                probs.append("inspect wrote into the working directory: " + cwd_diff)
        dd = diff_snap(before, snapshot(d))
        if dd:
            probs.append("inspect wrote files: " + dd)
        return probs

    # -- the generated program -------------------------------------------------
    def program_cases(self, outdir):
        self.build_and_run(None, "prog_build", outdir, "mlp")
        for key, pm in PROGRAM_MODELS.items():
            if any(pc.model == key for pc in PROGRAM_CASES):
                # generated like a control (exit 0, nothing written elsewhere)
                gen_out = self.run_case(Ok("prog_gen_" + key, pm.mutate))
                self.build_and_run(key, "prog_build_" + key, gen_out, pm.program)

    def build_and_run(self, key, name, outdir, program):
        cases = [pc for pc in PROGRAM_CASES if pc.model == key]
        if outdir is None:
            self.report(name, ["the model did not generate"])
            for pc in cases:
                self.report(pc.name, ["program not built"])
            return
        code, out, err, why = run_proc(["make", "-C", outdir], self.work, 600)
        prog = os.path.join(outdir, program)
        probs = common_problems(code, err, why)
        if not why and code != 0:
            probs.append("make exit %s" % code)
        if not os.path.isfile(prog):
            probs.append("no program %s after make" % prog)
        self.report(name, probs, err or out)
        if probs:
            for pc in cases:
                self.report(pc.name, ["program not built"])
            return
        for pc in cases:
            self.run_prog_case(pc, prog)

    def run_prog_case(self, pc, prog):
        d = self.case_dir(pc.name)
        inp = os.path.join(d, pc.name + "_in.npy")
        outp = os.path.join(d, pc.name + "_out.npy")
        if pc.content is not None:
            with open(inp, "wb") as f:
                f.write(pc.content)
        elif pc.prepare:
            pc.prepare(inp)
        argv = (pc.argv or _std_argv)(prog, inp, outp)
        code, out, err, why = run_proc(argv, d, self.args.timeout)
        probs = common_problems(code, err, why)
        if why or (code is not None and code < 0):
            self.report(pc.name, probs, err)
            return
        good = code == 0 and self.check_output(pc, outp) is None
        if pc.exit == 0:
            if code != 0:
                probs.append("exit %s, expected 0" % code)
            elif pc.stdout_only:
                if "median_ms=" not in out:
                    probs.append("no median_ms= line on stdout")
            else:
                bad = self.check_output(pc, outp)
                if bad:
                    probs.append(bad)
        elif pc.alt_ok and good:
            pass
        else:
            if not exit_ok(code, pc.exit):
                probs.append("exit %s, expected %s%s" % (code, pc.exit,
                                                         " (or 0 with a correct result)" if pc.alt_ok else ""))
            if not err.strip():
                probs.append("stderr is empty")
            expect = list(pc.expect or [])
            if pc.exit == 1 and pc.argv is None:
                expect.append(os.path.basename(inp))   # the message names the file
            miss = [repr(w) for w in expect if not _has(err, w)]
            if miss:
                probs.append("stderr lacks " + ", ".join(miss))
            if code != 0 and os.path.exists(outp):
                probs.append("the program failed but wrote its output file")
        self.report(pc.name, probs, err)

    def check_output(self, pc, outp):
        """None if outp holds the right result for pc's input npy."""
        try:
            x, shape = parse_npy(pc.content)
            y, yshape = parse_npy(open(outp, "rb").read())
        except (OSError, ValueError, SyntaxError) as e:
            return "cannot read the input or the result: %s" % e
        batch = shape[0]
        if pc.model is None:
            if tuple(shape[1:]) != (D_IN,):  # e.g. a decoy header read as f4
                return "accepted an input whose real shape is %s" % (shape,)
            want, ref = (batch, D_OUT), reference(x, batch)
        else:
            want, ref = PROGRAM_MODELS[pc.model].ref(x, shape)
        if tuple(yshape) != tuple(want):
            return "result shape %s, expected %s" % (yshape, want)
        for i, (a, b) in enumerate(zip(y, ref)):
            if abs(a - b) > 1e-4 + 1e-4 * abs(b):
                return "result[%d] = %r, expected %r" % (i, a, b)
        return None

    def run_all(self):
        cases = CASES
        if self.args.only:
            wants = self.args.only.split(",")
            cases = [c for c in cases if any(w in c.name for w in wants)]
        base_out = None
        for c in cases:
            r = self.run_case(c)
            if c.name == "ok_base":
                base_out = r
        if self.args.program_cases:
            if base_out is None and not any(c.name == "ok_base" for c in cases):
                base_out = self.run_case(CASES[0])
            self.program_cases(base_out)
        print("%d passed, %d failed" % (self.passed, self.failed))
        return self.failed == 0


def parse_npy(b):
    """(flat values, shape) of a little-endian f4/f8 C-order npy image."""
    if b is None or len(b) < 10 or b[:6] != b"\x93NUMPY":
        raise ValueError("not an npy file")
    major = b[6]
    if major == 1:
        hl, off = struct.unpack("<H", b[8:10])[0], 10
    else:
        hl, off = struct.unpack("<I", b[8:12])[0], 12
    h = ast.literal_eval(b[off:off + hl].decode("latin-1"))
    if h.get("fortran_order"):
        shape = tuple(h["shape"])
        n = _numel(shape)
        code = {"<f4": "<%df", ">f4": ">%df"}.get(h["descr"])
        if not code:
            raise ValueError("descr %r" % h["descr"])
        flat = struct.unpack(code % n, b[off + hl:off + hl + n * 4])
        r, c = shape
        return [flat[j * r + i] for i in range(r) for j in range(c)], shape
    code = {"<f4": ("<%df", 4), ">f4": (">%df", 4), "<f8": ("<%dd", 8)}.get(h["descr"])
    if not code:
        raise ValueError("descr %r" % h["descr"])
    shape = tuple(h["shape"])
    n = _numel(shape)
    data = b[off + hl:off + hl + n * code[1]]
    if len(data) != n * code[1]:
        raise ValueError("truncated data")
    return list(struct.unpack(code[0] % n, data)), shape


def reference(x, batch):
    """The base model in plain Python: relu(x W1^T + b1) W2^T."""
    w1 = _values(D_HID * D_IN, 1)
    b1 = _values(D_HID, 2)
    w2 = _values(D_OUT * D_HID, 3)
    out = []
    for b in range(batch):
        xr = x[b * D_IN:(b + 1) * D_IN]
        a = [max(0.0, sum(xr[i] * w1[o * D_IN + i] for i in range(D_IN)) + b1[o]) for o in range(D_HID)]
        out += [sum(a[i] * w2[o * D_HID + i] for i in range(D_HID)) for o in range(D_OUT)]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sfgen", default=os.path.join(REPO, "build", "sfgen"))
    ap.add_argument("--work", help="work folder (kept); default: a temp folder, removed")
    ap.add_argument("--program-cases", action="store_true",
                    help="also build the base model and run the generated program's .npy cases")
    ap.add_argument("--only", help="run only the cases whose name contains this (or one of "
                    "several, comma-separated)")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per process")
    ap.add_argument("-v", "--verbose", action="store_true", help="show stderr of passing cases too")
    args = ap.parse_args()
    if args.list:
        for c in CASES:
            print("%-6s %s" % (c.kind, c.name))
        for pc in PROGRAM_CASES:
            print("%-6s %s" % ("prog", pc.name))
        return 0
    tmp = None
    if args.work:
        args.work = os.path.abspath(args.work)
        os.makedirs(args.work, exist_ok=True)
    else:
        tmp = args.work = tempfile.mkdtemp(prefix="sf_bad_")
    try:
        ok = Runner(args).run_all()
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
