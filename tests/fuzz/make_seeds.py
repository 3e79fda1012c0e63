#!/usr/bin/env python3
"""Writes the op seeds of the fuzzing corpora (docs/FUZZING.md): small valid
models that together use every op of generator/ir/ops.def and every attribute
key, over the fixed weights of tests/fuzz/fuzz_common.h. The model seeds go to
corpus/model/op_*.json; the CUDA harness gets each of them behind an option
byte (fuzz_common.h, fuzz_opts) in corpus/cuda/, and the graph harness each
in its byte code (fuzz_graph.c) in corpus/graph/. Run it after changing the
models below; the committed seeds are its output.

    python3 tests/fuzz/make_seeds.py            write the seeds
    python3 tests/fuzz/make_seeds.py --check    check them (make fuzz-replay)

The check fails when an op or attribute key of ops.def has no seed or no
dictionary entry (tests/fuzz/json.dict): a new op needs a seed here.
"""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def model(name, inputs, outputs, nodes):
    return {"sparseflow": 1, "name": name, "weights": "w.safetensors",
            "inputs": [{"name": n, "shape": s} for n, s in inputs],
            "outputs": outputs, "nodes": nodes}


def node(op, ins, out, **kw):
    d = {"op": op, "inputs": ins, "outputs": [out]}
    d.update(kw)
    return d


SEEDS = {
    # conv2d (every key, grouped, depthwise, 1x1, dilated), batchnorm folded
    # into it, the pools, flatten, a linear head
    "op_cnn": model("cnn", [("x", [2, 4, 8, 8])], ["y"], [
        node("conv2d", ["x"], "c1", weight="c8x4x3x3", bias="b8", stride=1, padding=1,
             dilation=1, groups=1),
        node("batchnorm", ["c1"], "n1", weight="g8", bias="b8", mean="mean8", var="var8",
             epsilon=1e-5),
        node("relu", ["n1"], "r1"),
        node("maxpool2d", ["r1"], "p1", kernel=2, stride=2, padding=0),
        node("avgpool2d", ["p1"], "p2", kernel=[3, 3], stride=[1, 1], padding=[1, 1]),
        node("conv2d", ["p2"], "c2", weight="c8x1x3x3", stride=[2, 2], padding=[1, 1, 1, 1],
             dilation=[1, 1], groups=8),
        node("conv2d", ["c2"], "c3", weight="c16x8x1x1"),
        node("global_avgpool", ["c3"], "g"),
        node("flatten", ["g"], "f", axis=1),
        node("slice", ["f"], "h", axis=1, start=0, end=8),
        node("linear", ["h"], "y", weight="w16x8", bias="b16"),
    ]),
    "op_conv_dilated": model("convd", [("x", [1, 4, 9, 7])], ["y"], [
        node("conv2d", ["x"], "c", weight="c8x4x3x3", stride=[2, 1], padding=[2, 1],
             dilation=[2, 3]),
        node("conv2d", ["c"], "d", weight="c8x2x1x2", bias="b8", groups=4, padding=[0, 1, 0, 0]),
        node("batchnorm", ["d"], "y", weight="g8", bias="mean8", mean="mean8", var="var8"),
    ]),
    "op_layout": model("layout", [("x", [2, 4, 6]), ("z", [2, 3, 8])], ["y", "s"], [
        node("transpose", ["x"], "t", perm=[0, 2, 1]),
        node("reshape", ["t"], "r", shape=[0, -1, 8]),
        node("concat", ["r", "z"], "c", axis=1),
        node("slice", ["c"], "s", axis=1, start=-3, end=6, step=2),
        node("flatten", ["s"], "f", axis=-2),
        node("reshape", ["c"], "r2", shape=[-1, 6, 0]),
        node("linear", ["r2"], "y", weight="w16x8", bias="b16"),
    ]),
    "op_norm": model("norm", [("x", [2, 5, 8])], ["y", "m"], [
        node("layernorm", ["x"], "l", weight="g8", bias="b8", axis=-1, epsilon=1e-5),
        node("layernorm", ["l"], "l2", axis=2),
        node("softmax", ["l2"], "s", axis=1),
        node("softmax", ["s"], "s2"),
        node("reducemean", ["s2"], "m", axis=-1, keepdims=0),
        node("linear", ["s2"], "y", weight="d8x8"),
    ]),
    "op_embedding": model("emb", [("ids", [2, 5])], ["y", "h"], [
        node("embedding", ["ids"], "e", weight="emb32x8", axis=0),
        node("gather", ["ids"], "e2", weight="emb32x8"),
        node("add", ["e", "e2"], "h"),
        node("linear", ["h"], "y", weight="w16x8"),
    ]),
    "op_attention": model("attn", [("x", [2, 6, 8]), ("mask", [2, 6])], ["y", "y2"], [
        node("linear", ["x"], "q", weight="w8x8"),
        node("linear", ["x"], "k", weight="z8x8"),
        node("matmul", ["x"], "v", weight="d8x8"),
        node("attention", ["q", "k", "v", "mask"], "a", heads=2, causal=False),
        node("attention", ["q", "k", "v"], "a2", heads=4, causal=True),
        node("attention", ["a", "a2", "v"], "y2", heads=1, causal=True, cache=8),
        node("linear", ["a"], "y", weight="fc1.weight", bias="fc1.bias"),
    ]),
    "op_elementwise": model("elem", [("x", [3, 8]), ("c", [3, 1]), ("b", [3, 8])], ["y"], [
        node("erf", ["x"], "e"),
        node("sqrt", ["e"], "s"),
        node("hardswish", ["s"], "h"),
        node("clip", ["h"], "cl", min=-1, max=1.5),
        node("clip", ["cl"], "cl2", min=0),
        node("clip", ["cl2"], "cl3", max=2),
        node("hardsigmoid", ["cl3"], "hs", alpha=0.1, beta=0.5),
        node("hardsigmoid", ["hs"], "hs2"),
        node("sub", ["hs2", "b"], "d"),
        node("div", ["d", "c"], "q"),
        node("pow", ["q", "b"], "p"),
        node("where", ["c", "p", "x"], "w"),
        node("mul", ["w", "b"], "m"),
        node("gelu", ["m"], "g", approximate="none"),
        node("gelu", ["g"], "g2", approximate="tanh"),
        node("silu", ["g2"], "si"),
        node("sigmoid", ["si"], "sg"),
        node("tanh", ["sg"], "th"),
        node("linear", ["th"], "y", weight="z8x8", bias="b8"),
    ]),
    # constants (a [1, 8] tensor) on either side of the binary ops and in
    # where, expand, the unary, comparison and logic ops, reductions
    "op_const": model("konst", [("x", [3, 2, 8]), ("c", [3, 2, 1])], ["y", "e"], [
        node("constant", [], "k", weight="r1x8"),
        node("add", ["x", "k"], "a"),
        node("sub", ["k", "a"], "s"),
        node("min", ["s", "k"], "mn"),
        node("max", ["mn", "x"], "mx"),
        node("where", ["c", "k", "mx"], "w"),
        node("expand", ["k"], "e", shape=[2, 8]),
        node("neg", ["w"], "u1"),
        node("exp", ["u1"], "u2"),
        node("log", ["u2"], "u3"),
        node("abs", ["u3"], "u4"),
        node("reciprocal", ["u4"], "u5"),
        node("leakyrelu", ["u5"], "u6", alpha=0.1),
        node("softplus", ["u6"], "u7"),
        node("floor", ["u7"], "u8"),
        node("ceil", ["u8"], "u9"),
        node("sign", ["u9"], "u10"),
        node("round", ["u10"], "u11"),
        node("not", ["u11"], "y"),
    ]),
    "op_compare": model("cmp", [("x", [3, 2, 8]), ("c", [3, 2, 1])], ["y"], [
        node("constant", [], "k", weight="r1x8"),
        node("equal", ["x", "c"], "b1"),
        node("less", ["b1", "k"], "b2"),
        node("greater", ["b2", "x"], "b3"),
        node("lessorequal", ["k", "b3"], "b4"),
        node("greaterorequal", ["b4", "x"], "b5"),
        node("and", ["b5", "c"], "b6"),
        node("or", ["b6", "k"], "y"),
    ]),
    "op_reduce": model("reduce", [("x", [2, 3, 4, 8])], ["y", "m", "p", "q"], [
        node("reducesum", ["x"], "s", axes=[1, -1], keepdims=1),
        node("reducemax", ["s"], "y", axes=[2], keepdims=0),
        node("reducemin", ["x"], "m", axes=[1, 2, 3]),
        node("reduceprod", ["x"], "p", axes=[2], keepdims=0),
        node("reducemean", ["x"], "q", axes=[1, 3], keepdims=0),
    ]),
    "op_bmm": model("bmm", [("a", [2, 3, 4, 8]), ("b", [2, 1, 8, 5])], ["y"], [
        node("matmul", ["a", "b"], "m"),
        node("transpose", ["m"], "t", perm=[0, 1, 3, 2]),
        node("reshape", ["t"], "y", shape=[0, -1, 4]),
    ]),
    # larger linear layers for the GPU plans: 1:8 (ELL positions), 2:4 with
    # padding (24 rows, 64 columns), dense and with zero channels
    "op_gpu_layers": model("gpu", [("x", [4, 64])], ["y", "u"], [
        node("linear", ["x"], "a", weight="s40x64"),
        node("relu", ["a"], "r"),
        node("linear", ["x"], "b", weight="w24x64", bias="b24"),
        node("gelu", ["b"], "u"),
        node("slice", ["r"], "s", axis=1, start=0, end=8),
        node("linear", ["s"], "c", weight="z8x8", bias="b8"),
        node("silu", ["c"], "d"),
        node("linear", ["d"], "e", weight="d8x8"),
        node("slice", ["x"], "h", axis=1, start=0, end=32),
        node("linear", ["h"], "k", weight="d8x32"),
        node("add", ["e", "k"], "y"),
    ]),
}

# One option byte per CUDA seed (fuzz_opts): target cuda, each GPU dtype,
# each forced GPU kernel, --dense and --no-propagate.
CUDA_VARIANTS = [0x08, 0x18, 0x28, 0x88, 0x98, 0x48, 0xc8, 0xc9, 0x0a, 0x6c]
# Pipeline options of the graph seeds: CPU, CUDA, --no-propagate with
# --unroll-budget 0, --dense with CUDA f16 forced dense.
GRAPH_VARIANTS = [0x00, 0x08, 0x05, 0x9a]


# ---- the graph harness's byte code (tests/fuzz/fuzz_graph.c) ---------------
# The same models as graph seeds: the tables below mirror fuzz_graph.c's.
WEIGHTS = ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "w8x8", "w16x8", "k8x4", "b8",
           "b16", "c8x4x3x3", "c8x1x3x3", "c16x8x1x1", "c8x2x1x2", "mean8", "var8", "g8",
           "emb32x8", "d8x8", "z8x8", "s40x64", "w24x64", "b24", "d8x32", "r1x8", "missing"]
DIMS = [1, 2, 3, 4, 5, 6, 8, 16, 64, 7, 9, 32]
INTS = [0, 1, 2, 3, -1, -2, 4, 8, 5, 6, 16, -3, 32, 65536, 65537, 2147483647]
NUMS = [0.0, 1e-5, 0.5, -1.0, 1.5, 0.2, 1e-320, -0.0, 3.0, 1e30, 0.1, 6.0, -2.5, 0.999, 1.0,
        2.0]
NAMES_KIND = {"mean": 0, "var": 0, "causal": 1, "epsilon": 2, "min": 2, "max": 2, "alpha": 2,
              "beta": 2, "stride": 3, "padding": 3, "dilation": 3, "kernel": 3, "perm": 4,
              "shape": 4, "axes": 4}


def op_table(root):
    """[(name, in_min, in_max, [keys])] in ops.def order."""
    text = open(os.path.join(root, "generator", "ir", "ops.def")).read()
    rows = []
    for m in re.finditer(r'^SF_OP\(\w+,\s*"(\w+)",\s*\w+,\s*(\d+),\s*(\d+),.*?'
                         r'(?:KEYS\((.*)\)|NOKEYS)\)\s*$', text, re.M):
        keys = [k.strip().strip('"') for k in m.group(4).split(",")] if m.group(4) else []
        rows.append((m.group(1), int(m.group(2)), int(m.group(3)), keys))
    return rows


def encode_graph(m, table, variant):
    out = bytearray()
    ins = m["inputs"]
    batch = ins[0]["shape"][0]
    out += bytes([len(ins) - 1, batch - 1])
    defined = []
    for i in ins:
        out.append(len(i["shape"]) - 1)
        out += bytes(DIMS.index(d) for d in i["shape"][1:])
        defined.append(i["name"])
    out.append(len(m["nodes"]) - 1)
    names = [r[0] for r in table]
    for n in m["nodes"]:
        if n["op"] == "gather":
            opi = len(table) + 1
        elif n["op"] == "matmul" and "weight" in n:
            opi = len(table)
        else:
            opi = names.index(n["op"])
        row = table[opi] if opi < len(table) else table[0]
        out.append(opi)
        out.append(len(n["inputs"]) - row[1])
        for t in n["inputs"]:
            out.append(len(defined) - 1 - defined.index(t))
        out.append(0)
        defined.append(n["outputs"][0])
        attrs = [k for k in n if k not in ("op", "inputs", "outputs", "weight", "bias",
                                           "approximate", "name")]
        f = ("weight" in n) | ("bias" in n) << 1 | ("approximate" in n) << 2 | \
            (n.get("approximate") == "tanh") << 3 | len(attrs) << 4
        out.append(f)
        if "weight" in n:
            out.append(WEIGHTS.index(n["weight"]))
        if "bias" in n:
            out.append(WEIGHTS.index(n["bias"]))
        for k in attrs:
            out.append(row[3].index(k))
            out.append(0)  # the kind the key takes
            v, kind = n[k], NAMES_KIND.get(k, 5)
            if kind == 0:
                out.append(WEIGHTS.index(v))
            elif kind == 1:
                out.append(int(v))
            elif kind == 2:
                out.append(NUMS.index(v))
            elif kind == 3:
                vs = v if isinstance(v, list) else [v]
                out.append({1: 0, 2: 1, 4: 2}[len(vs)])
                if len(vs) == 1:
                    out.append(0 if isinstance(v, list) else 1)
                out += bytes(INTS.index(x) for x in vs)
            elif kind == 4:
                out.append(len(v) - 1)
                out += bytes(INTS.index(x) for x in v)
            else:
                out.append(INTS.index(v))
    out.append(len(m["outputs"]) - 1)
    for t in m["outputs"]:
        out.append(len(defined) - 1 - defined.index(t))
    out.append(variant)
    return bytes(out)


def seed_files(table):
    """{path relative to tests/fuzz: bytes} of every op seed."""
    files = {}
    for name, m in SEEDS.items():
        text = json.dumps(m, separators=(",", ":")).encode()
        files["corpus/model/%s.json" % name] = text
        for v in CUDA_VARIANTS:
            files["corpus/cuda/%s_%02x" % (name, v)] = bytes([v]) + text
        for v in GRAPH_VARIANTS:
            files["corpus/graph/%s_%02x" % (name, v)] = encode_graph(m, table, v)
    return files


def coverage_gaps(table):
    """Ops and attribute keys of ops.def that no seed or no dictionary entry names."""
    ops = {r[0] for r in table} | {"gather"}
    keys = {k for r in table for k in r[3]}
    used = {n["op"] for m in SEEDS.values() for n in m["nodes"]}
    used |= {k for m in SEEDS.values() for n in m["nodes"] for k in n}
    words = set(re.findall(r'^"\\"(.*)\\""$', open(os.path.join(HERE, "json.dict")).read(),
                           re.M))
    gaps = ["no seed uses '%s'" % x for x in sorted((ops | keys) - used)]
    gaps += ["json.dict lacks '%s'" % x for x in sorted((ops | keys) - words)]
    return gaps


def main(argv):
    root = os.path.dirname(os.path.dirname(HERE))
    table = op_table(root)
    gaps = coverage_gaps(table)
    files = seed_files(table)
    if "--check" in argv:
        # make fuzz-replay: the committed seeds are this script's output
        for rel, data in sorted(files.items()):
            path = os.path.join(HERE, rel)
            if not os.path.exists(path) or open(path, "rb").read() != data:
                gaps.append("%s differs from make_seeds.py's (run it)" % rel)
    else:
        for rel, data in files.items():
            os.makedirs(os.path.dirname(os.path.join(HERE, rel)), exist_ok=True)
            with open(os.path.join(HERE, rel), "wb") as f:
                f.write(data)
    if gaps:
        raise SystemExit("\n".join("make_seeds.py: " + g for g in gaps))
    if "--check" in argv:
        print("make_seeds.py: %d op seeds cover every op and attribute key of ops.def"
              % len(files))


if __name__ == "__main__":
    main(sys.argv[1:])
