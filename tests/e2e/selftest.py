#!/usr/bin/python3
# selftest.py - checks the test harness itself (sparseflow.builder,
# sparseflow.reference, sparseflow.safetensors and the models cases.py
# builds) without needing sfgen:
#   * safetensors round trip for F32/F16/BF16 (+ metadata, alignment),
#     bf16 round-to-nearest-even on hand-picked bit patterns;
#   * N:M pruning (hand case, pattern check for every pattern and odd sizes,
#     kept entries are the largest);
#   * the reference on hand-computed tiny graphs, and against direct numpy
#     float64 computations of the run_e2e models (including their dead
#     channels); every elementwise and reduction op on hand-picked values,
#     its attribute defaults, its shape rule and the inputs it refuses;
#   * the model JSON only uses keys from the SparseFlow contract.
# Run: PYTHONPATH=python /usr/bin/python3 tests/e2e/selftest.py
# (prints "selftest OK")

import json
import math
import os
import shutil
import struct
import tempfile

import numpy as np

from sparseflow import builder
from sparseflow import reference as ref
from sparseflow import safetensors as st
from sparseflow.builder import ModelBuilder
from sparseflow.testing import cases

TMP = tempfile.mkdtemp(prefix="sf-selftest-")


def close(a, b, tol=1e-12):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    fin = np.abs(b[np.isfinite(b)])
    scale = max(1.0, float(np.max(fin)) if fin.size else 1.0)
    with np.errstate(invalid="ignore"):  # equal infinities count as equal
        diff = np.where(a == b, 0.0, np.abs(a - b))
    err = float(np.max(diff)) if a.size else 0.0
    assert err <= tol * scale, "err %g" % err


def test_bf16_rounding():
    def bits(f32_bits):
        a = np.array([f32_bits], dtype=np.uint32).view(np.float32)
        return int(st.f32_to_bf16_bits(a)[0])
    assert bits(0x3F800000) == 0x3F80          # 1.0 exact
    assert bits(0x3F808000) == 0x3F80          # tie, even stays
    assert bits(0x3F818000) == 0x3F82          # tie, odd rounds up
    assert bits(0x3F808001) == 0x3F81          # above half
    assert bits(0x3F807FFF) == 0x3F80          # below half
    assert bits(0xBF808001) == 0xBF81          # negative
    assert bits(0x7F7FFFFF) == 0x7F80          # FLT_MAX rounds to inf
    assert bits(0x7F800000) == 0x7F80          # inf
    assert bits(0x00000001) == 0x0000          # tiny denormal -> 0
    nan = st.f32_to_bf16_bits(np.array([np.nan], dtype=np.float32))[0]
    assert (nan & 0x7F80) == 0x7F80 and (nan & 0x7F) != 0
    v = st.bf16_bits_to_f32(np.array([0x3F81, 0xC000], dtype=np.uint16))
    assert v[0] == 1.0078125 and v[1] == -2.0


def test_safetensors_roundtrip():
    rng = np.random.default_rng(0)
    t = {"a": rng.standard_normal((3, 5)),
         "b": (rng.standard_normal(7), "F16"),
         "c": (rng.standard_normal((2, 3, 4)), "BF16"),
         "d": (np.array([1.5, -0.0, 65504.0, 1e-8]), "F16"),
         "e": (rng.standard_normal((1,)), "F32")}
    p = os.path.join(TMP, "rt.safetensors")
    st.write_safetensors(p, t, metadata={"format": "pt", "n": 3})
    blob = open(p, "rb").read()
    (n,) = struct.unpack("<Q", blob[:8])
    assert n % 8 == 0
    hdr = json.loads(blob[8:8 + n])
    assert hdr["__metadata__"] == {"format": "pt", "n": "3"}
    assert hdr["a"]["dtype"] == "F32" and hdr["a"]["shape"] == [3, 5]
    assert hdr["a"]["data_offsets"] == [0, 60]
    assert hdr["b"]["data_offsets"] == [60, 74]
    assert hdr["c"]["dtype"] == "BF16" and hdr["c"]["data_offsets"] == [74,
                                                                         122]
    assert len(blob) == 8 + n + hdr["e"]["data_offsets"][1]
    got, meta = st.read_safetensors(p)
    assert meta == {"format": "pt", "n": "3"}
    for k, v in t.items():
        arr, dt = v if isinstance(v, tuple) else (v, "F32")
        want = st.quantize(arr, dt)
        assert got[k].dtype == np.float64
        assert np.array_equal(got[k], want), k
    # independent decode of one F16 and one BF16 value
    assert got["d"][2] == 65504.0 and got["d"][0] == 1.5
    assert np.signbit(got["d"][1])
    c0 = float(np.float32(t["c"][0][0, 0, 0]))
    hi = struct.unpack("<I", struct.pack("<f", c0))[0]
    lo_bits = hi >> 16
    if hi & 0xFFFF > 0x8000 or (hi & 0xFFFF == 0x8000 and lo_bits & 1):
        lo_bits += 1
    want = struct.unpack("<f", struct.pack("<I", lo_bits << 16))[0]
    assert got["c"][0, 0, 0] == want


def test_prune():
    w = np.array([[1, -5, 3, 2, 0.5, -0.25, 9],
                  [4, 3, -2, 1, 7, 8, -9]], dtype=np.float64)
    p = builder.prune_nm(w, 2, 4)
    want = np.array([[0, -5, 3, 0, 0.5, 0, 9],
                     [4, 3, 0, 0, 0, 8, -9]], dtype=np.float64)
    assert np.array_equal(p, want), p
    p = builder.prune_nm(w, 1, 4)
    want = np.array([[0, -5, 0, 0, 0, 0, 9],
                     [4, 0, 0, 0, 0, 0, -9]], dtype=np.float64)
    assert np.array_equal(p, want), p
    rng = np.random.default_rng(1)
    for pat in cases.PATTERNS[1:]:
        n, m = builder.parse_pattern(pat)
        for out_f, in_f in [(4, 4), (100, 4), (37, 100), (10, 1000),
                            (3, 1024), (5, 37)]:
            w = rng.standard_normal((out_f, in_f))
            p = builder.prune_nm(w, n, m)
            assert builder.check_nm(p, n, m)
            for g in range(0, in_f, m):
                blk, pb = np.abs(w[:, g:g + m]), p[:, g:g + m]
                k = min(n, blk.shape[1])
                assert (np.count_nonzero(pb, axis=1) == k).all()
                # kept entries unchanged, each >= every dropped entry
                kept = pb != 0
                assert np.array_equal(pb[kept], w[:, g:g + m][kept])
                for r in range(out_f):
                    if (~kept[r]).any():
                        assert blk[r][kept[r]].min() >= blk[r][~kept[r]].max()
    assert not builder.check_nm(np.ones((2, 8)), 2, 4)
    assert builder.check_nm(np.ones((2, 8)), 4, 4)


def test_ref_hand():
    mb = ModelBuilder("tiny", seed=0)
    x = mb.input("x", [2, 2])
    h = mb.linear(x, 2, name="fc", weight=[[1, 2], [3, 4]],
                  bias_value=[0.5, -10])
    r = mb.relu(h, name="r")
    g = mb.gelu(r, name="g")
    gt = mb.gelu(r, approximate="tanh", name="gt")
    s = mb.silu(h, name="s")
    sg = mb.sigmoid(h, name="sg")
    th = mb.tanh(h, name="th")
    m = mb.matmul(x, 3, name="mm", weight=[[1, 0, -1], [0.5, 2, 0]])
    for o in (h, r, g, gt, s, sg, th, m):
        mb.output(o)
    jp = mb.save(os.path.join(TMP, "tiny"))
    out = ref.evaluate(jp, {"x": np.array([[1, 1], [-2, 0.5]], np.float32)})
    vals = list(out.values())
    close(vals[0], [[3.5, -3], [-0.5, -14]])
    close(vals[1], [[3.5, 0], [0, 0]])
    ge = 0.5 * 3.5 * (1 + math.erf(3.5 / math.sqrt(2)))
    close(vals[2], [[ge, 0], [0, 0]])
    gt_ = 0.5 * 3.5 * (1 + math.tanh(math.sqrt(2 / math.pi) *
                                     (3.5 + 0.044715 * 3.5 ** 3)))
    close(vals[3], [[gt_, 0], [0, 0]])
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    close(vals[4], [[3.5 * sig(3.5), -3 * sig(-3)],
                    [-0.5 * sig(-0.5), -14 * sig(-14)]])
    close(vals[5], [[sig(3.5), sig(-3)], [sig(-0.5), sig(-14)]])
    close(vals[6], np.tanh([[3.5, -3], [-0.5, -14]]))
    close(vals[7], [[1.5, 2, -1], [-1.75, 1, 2]])
    # known constants
    assert abs(ref._gelu_erf(np.array([1.0]))[0] - 0.8413447460685429) < 1e-15
    assert abs(ref._gelu_tanh(np.array([1.0]))[0] -
               0.8411919906082768) < 1e-15
    with np.errstate(over="raise"):
        s = ref._sigmoid(np.array([-800.0, 800.0, 0.0]))
    assert s[0] == 0.0 and s[1] == 1.0 and s[2] == 0.5

    # broadcasting add/mul on rank 3, nodes listed out of order
    mb = ModelBuilder("bc", seed=0)
    a = mb.input("a", [2, 1, 3])
    b = mb.input("b", [2, 2, 1])
    s = mb.add(a, b, name="s")
    p = mb.mul(s, a, name="p", out="p")
    mb.output(p)
    mb.nodes.reverse()
    jp = mb.save(os.path.join(TMP, "bc"))
    av = np.arange(6, dtype=np.float32).reshape(2, 1, 3)
    bv = np.array([[[1], [2]], [[3], [4]]], dtype=np.float32)
    out = ref.evaluate(jp, {"a": av, "b": bv})["p"]
    close(out, (av + bv) * av)
    assert out.shape == (2, 2, 3)
    # runtime batch 1 < declared 2; and bad shapes are refused
    out = ref.evaluate(jp, {"a": av[:1], "b": bv[:1]})["p"]
    assert out.shape == (1, 2, 3)
    for bad in ({"a": np.zeros((3, 1, 3)), "b": np.zeros((3, 2, 1))},
                {"a": np.zeros((2, 1, 4)), "b": bv}):
        try:
            ref.evaluate(jp, bad)
        except ValueError:
            pass
        else:
            raise AssertionError("bad input accepted")


def expect_error(fn, *args, **kw):
    try:
        fn(*args, **kw)
    except ValueError:
        return
    raise AssertionError("accepted: %s%r %r" % (fn.__name__, args, kw))


def test_ops_hand():
    """The elementwise and reduction ops on hand-picked values, each result
    worked out element by element with the math module."""
    v = [-7.0, -3.0, -1.5, -0.25, 0.0, 0.5, 2.0, 3.0, 6.5]
    mb = ModelBuilder("ops", seed=0)
    x = mb.input("x", [1, len(v)])
    outs = {
        "erf": mb.erf(x),
        "hardswish": mb.hardswish(x),
        "clip": mb.clip(x, min=-1.0, max=2.5),
        "clip_lo": mb.clip(x, min=0),
        "clip_hi": mb.clip(x, max=-0.25),
        "clip_none": mb.clip(x),
        "hsig": mb.hardsigmoid(x),
        "hsig_pt": mb.hardsigmoid(x, alpha=1 / 6, beta=0.5),
        "hsig_neg": mb.hardsigmoid(x, alpha=-0.5, beta=0.0),
        "sqrt": mb.sqrt(mb.mul(x, x, name="sq")),
        "mean": mb.reducemean(x),
        "mean0": mb.reducemean(x, keepdims=0),
    }
    for o in outs.values():
        mb.output(o)
    jp = mb.save(os.path.join(TMP, "ops"))
    got = ref.evaluate(jp, {"x": np.array([v], np.float32)})
    relu6 = lambda t: min(max(t, 0.0), 6.0)  # noqa: E731
    want = {
        "erf": [math.erf(t) for t in v],
        "hardswish": [t * relu6(t + 3) / 6 for t in v],
        "clip": [min(max(t, -1.0), 2.5) for t in v],
        "clip_lo": [max(t, 0.0) for t in v],
        "clip_hi": [min(t, -0.25) for t in v],
        "clip_none": v,
        "hsig": [min(max(0.2 * t + 0.5, 0.0), 1.0) for t in v],
        "hsig_pt": [relu6(t + 3) / 6 for t in v],
        "hsig_neg": [min(max(-0.5 * t, 0.0), 1.0) for t in v],
        "sqrt": [abs(t) for t in v],
    }
    for k, w in want.items():
        close(got[outs[k]], [w])
    assert got[outs["hardswish"]][0, 0] == 0.0 and got[outs["hardswish"]][0, -1] == 6.5
    close(got[outs["mean"]], [[sum(v) / len(v)]])
    close(got[outs["mean0"]], [sum(v) / len(v)])
    assert got[outs["mean0"]].shape == (1,)

    # two and three inputs, broadcasting both ways
    mb = ModelBuilder("ops2", seed=0)
    a = mb.input("a", [2, 3, 1])
    b = mb.input("b", [2, 1, 4])
    c = mb.input("c", [2, 3, 1])
    outs = {op: mb._binary(op, a, b) for op in ("sub", "div", "pow")}
    outs["rsub"] = mb.sub(b, a, name="rsub")
    outs["where"] = mb.where(c, a, b)
    for o in outs.values():
        mb.output(o)
    jp = mb.save(os.path.join(TMP, "ops2"))
    av = np.array([0.5, 2.0, 3.0, -2.0, -0.5, 4.0]).reshape(2, 3, 1)
    bv = np.array([1.0, -2.0, 0.5, 3.0, 2.0, -1.0, 0.5, 1.0]).reshape(2, 1, 4)
    cv = np.array([1.0, 0.0, -0.0, 0.5, 0.0, -3.0]).reshape(2, 3, 1)
    got = ref.evaluate(jp, {"a": av, "b": bv, "c": cv})
    for k in outs:
        assert got[outs[k]].shape == (2, 3, 4), (k, got[outs[k]].shape)
    for n in range(2):
        for i in range(3):
            for j in range(4):
                p, q = float(av[n, i, 0]), float(bv[n, 0, j])
                g = {k: got[o][n, i, j] for k, o in outs.items()}
                assert g["sub"] == p - q and g["rsub"] == q - p
                assert g["div"] == p / q
                if p < 0 and q != int(q):
                    assert np.isnan(g["pow"])   # a real power of a negative base
                else:
                    assert g["pow"] == math.pow(p, q), (p, q, g["pow"])
                assert g["where"] == (p if cv[n, i, 0] != 0 else q)
    assert got[outs["pow"]][1, 0, 0] == 4.0        # (-2) ** 2
    assert got[outs["pow"]][1, 1, 1] == -2.0       # (-0.5) ** -1
    assert got[outs["where"]][0, 2, 0] == 1.0      # c = -0 counts as 0: b

    # shape rules and the inputs they refuse
    bs = ref.broadcast_shape
    assert bs([4, 1, 7], [4, 5, 1]) == [4, 5, 7]
    assert bs([4, 1, 1], [4, 5, 1], [4, 1, 7]) == [4, 5, 7]
    assert bs([3], [3]) == [3]
    expect_error(bs, [4, 7], [4, 1, 7])       # a batched operand of lower rank
    expect_error(bs, [4, 7], [1, 7])          # batches differ (never broadcast)
    # constants: dim 0 is 1, not the batch; right-aligned, lower rank allowed
    assert bs([4, 5, 7], [1, 7], consts=[False, True]) == [4, 5, 7]
    assert bs([1, 1, 7], [4, 5, 1], consts=[True, False]) == [4, 5, 7]
    assert bs([4, 5, 7], [1], consts=[False, True]) == [4, 5, 7]
    expect_error(bs, [1, 7], [1, 7], consts=[True, True])       # nothing batched
    expect_error(bs, [4, 5, 7], [1, 3], consts=[False, True])   # 3 vs 7
    expect_error(bs, [4, 5, 7], [4, 3, 7])
    expect_error(bs, [4, 5, 1], [4, 1, 7], [4, 3, 1])

    def shape(op, shapes, **attrs):
        nd = dict({"op": op, "name": op, "inputs": ["i%d" % k for k in range(len(shapes))],
                   "outputs": ["y"]}, **attrs)
        return ref.output_shape(nd, shapes, None)

    assert shape("reducemean", [[4, 3, 7]]) == [4, 3, 1]
    assert shape("reducemean", [[4, 3, 7]], keepdims=0) == [4, 3]
    assert shape("reducemean", [[4, 7]], axis=-1, keepdims=0) == [4]
    assert shape("reducemean", [[4, 3, 7]], axis=2) == [4, 3, 1]
    assert shape("where", [[4, 1, 7], [4, 5, 1], [4, 1, 1]]) == [4, 5, 7]
    assert shape("clip", [[4, 7]], min=2, max=2) == [4, 7]
    assert shape("reducemean", [[4, 3, 7]], axis=1) == [4, 1, 7]
    assert shape("reducesum", [[4, 3, 5, 7]], axes=[1, -1]) == [4, 1, 5, 1]
    assert shape("reducemax", [[4, 3, 5, 7]], axes=[3, 1], keepdims=0) == [4, 5]
    for op, shapes, attrs in [
            ("reducemean", [[4, 3, 7]], {"axis": 0}),
            ("reducesum", [[4, 3, 7]], {}),             # axes required
            ("reducesum", [[4, 3, 7]], {"axes": [1, -2]}),
            ("reducemin", [[4, 3, 7]], {"axes": [0]}),
            ("reducemean", [[4, 3, 7]], {"axes": [1], "axis": 1}),
            ("reducemean", [[4]], {}),                  # only the batch axis
            ("reducemean", [[4, 7]], {"keepdims": 2}),
            ("reducemean", [[4, 7]], {"keepdims": True}),
            ("clip", [[4, 7]], {"min": 1.0, "max": 0.5}),
            ("where", [[4, 7], [4, 7]], {}),
            ("sub", [[4, 7], [4, 7], [4, 7]], {}),
            ("pow", [[4, 7], [4, 1, 7]], {}),
            ("div", [[4, 7], [2, 7]], {})]:
        expect_error(shape, op, shapes, **attrs)
    # the builder declares its shapes with the same rules
    mb = ModelBuilder("rules", seed=0)
    expect_error(mb.clip, mb.input("x", [2, 3]), 1.0, 0.0)
    expect_error(mb.reducemean, "x", 0)
    expect_error(mb.sub, "x", mb.input("z", [2, 1, 3]))
    assert mb.shapes[mb.reducemean("x", keepdims=0)] == [2]


def test_new_ops_hand():
    """The unary, comparison, logic and reduction ops added for ONNX models,
    constants and expand, each against values worked out with math."""
    v = [-2.5, -1.5, -0.5, -0.0, 0.0, 0.5, 1.5, 2.5, 3.75]
    mb = ModelBuilder("ops3", seed=0)
    x = mb.input("x", [1, len(v)])
    outs = {op: mb.unary(op, x) for op in ("neg", "abs", "floor", "ceil", "sign", "round",
                                           "not", "softplus", "leakyrelu")}
    outs["lrelu3"] = mb.unary("leakyrelu", x, alpha=0.3, name="lrelu3")
    outs["exp"] = mb.unary("exp", x)
    outs["log"] = mb.unary("log", mb.unary("abs", x, name="ax"))
    outs["rec"] = mb.unary("reciprocal", x, name="rec")
    for o in outs.values():
        mb.output(o)
    jp = mb.save(os.path.join(TMP, "ops3"))
    got = ref.evaluate(jp, {"x": np.array([v], np.float32)})
    want = {
        "neg": [-t for t in v], "abs": [abs(t) for t in v],
        "floor": [math.floor(t) for t in v], "ceil": [math.ceil(t) for t in v],
        "sign": [(t > 0) - (t < 0) for t in v],
        "round": [-2.0, -2.0, -0.0, 0.0, 0.0, 0.0, 2.0, 2.0, 4.0],   # halves to even
        "not": [1.0 if t == 0 else 0.0 for t in v],
        "softplus": [math.log1p(math.exp(t)) for t in v],
        "leakyrelu": [t if t >= 0 else 0.01 * t for t in v],
        "lrelu3": [t if t >= 0 else 0.3 * t for t in v],
        "exp": [math.exp(t) for t in v],
    }
    for k, w in want.items():
        close(got[outs[k]], [w])
    lg = got[outs["log"]][0]
    assert lg[3] == -math.inf and lg[4] == -math.inf and abs(lg[0] - math.log(2.5)) < 1e-12
    rc = got[outs["rec"]][0]
    assert rc[3] == -math.inf and rc[4] == math.inf and rc[5] == 2.0

    # comparisons, logic, min/max with a constant on either side
    mb = ModelBuilder("ops4", seed=0)
    a = mb.input("a", [2, 3])
    k = mb.constant(np.array([[0.5, 0.0, -1.0]]), name="k")
    outs = {op: mb._binary(op, a, k, name=op) for op in
            ("min", "max", "equal", "less", "greater", "lessorequal", "greaterorequal",
             "and", "or")}
    outs["rless"] = mb._binary("less", k, a, name="rless")
    outs["e"] = mb.expand(mb.constant(np.array([[[1.0, 2.0]]]), name="cls"), [4, 2], name="e")
    outs["sum"] = mb.reduce("reducesum", mb.add(a, k, name="ak"), [1], name="sum")
    for o in outs.values():
        mb.output(o)
    jp = mb.save(os.path.join(TMP, "ops4"))
    av = np.array([[0.5, 1.0, -2.0], [0.0, 0.0, -1.0]])
    got = ref.evaluate(jp, {"a": av})
    kv = [0.5, 0.0, -1.0]
    for n in range(2):
        for j in range(3):
            p, q = av[n, j], kv[j]
            g = {o: got[outs[o]][n, j] for o in outs if o not in ("e", "sum")}
            assert g["min"] == min(p, q) and g["max"] == max(p, q)
            assert g["equal"] == (p == q) and g["less"] == (p < q) and g["greater"] == (p > q)
            assert g["lessorequal"] == (p <= q) and g["greaterorequal"] == (p >= q)
            assert g["and"] == (p != 0 and q != 0) and g["or"] == (p != 0 or q != 0)
            assert g["rless"] == (q < p)
    assert got[outs["e"]].shape == (2, 4, 2) and (got[outs["e"]][:, :, 1] == 2.0).all()
    close(got[outs["sum"]], [[sum(av[0]) + sum(kv)], [sum(av[1]) + sum(kv)]])
    expect_error(mb.constant, np.zeros((2, 3)))          # first dim not 1
    expect_error(mb.relu, k)                             # relu takes no constant
    expect_error(mb.add, k, k)                           # nothing batched


def tensors_of(mb):
    """Builder tensors as stored (quantized) float64."""
    return {k: st.quantize(a, dt) for k, (a, dt) in mb.tensors.items()}


def npgelu(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def npgelu_t(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) *
                                  (x + 0.044715 * x ** 3)))


def npsig(x):
    return 0.5 * (1 + np.tanh(0.5 * x))   # different formula on purpose


def lin(T, x, n, bias=True):
    y = x @ T[n + ".weight"].T
    return y + T[n + ".bias"] if bias else y


# the attribute keys of the elementwise and reduction ops (FORMATS.md)
OP_KEYS = {"gelu": {"approximate"}, "clip": {"min", "max"},
           "hardsigmoid": {"alpha", "beta"}, "reducemean": {"axis", "axes", "keepdims"},
           "layernorm": {"axis", "epsilon"}, "leakyrelu": {"alpha"}, "expand": {"shape"},
           "softmax": {"axis"}, "concat": {"axis"}}
OP_KEYS.update({op: {"axes", "keepdims"} for op in ("reducesum", "reducemax", "reducemin",
                                                     "reduceprod")})


def check_contract_keys(jp):
    m = json.load(open(jp))
    assert set(m) <= {"sparseflow", "name", "weights", "inputs", "outputs",
                      "nodes"}
    for i in m["inputs"]:
        assert set(i) == {"name", "shape", "dtype"} and i["dtype"] == "f32"
    allowed = {"op", "name", "inputs", "outputs", "weight", "bias"}
    for nd in m["nodes"]:
        assert set(nd) <= allowed | OP_KEYS.get(nd["op"], set()), nd
        assert len(nd["outputs"]) == 1 and "name" in nd
    names = [nd["name"] for nd in m["nodes"]]
    assert len(names) == len(set(names))
    return m


def eval_models():
    d = os.path.join(TMP, "models")
    # small and large chains
    for pat in cases.PATTERNS:
        for mk, nb in ((cases.model_small, 16), (cases.model_large, 19)):
            mb = mk(pat, nb)
            jp = mb.save(os.path.join(d, mk.__name__ + pat.replace(":", "_")))
            check_contract_keys(jp)
            T = tensors_of(mb)
            if pat != "dense":
                n, m = builder.parse_pattern(pat)
                for k, w in T.items():
                    if k.endswith("weight"):
                        assert builder.check_nm(w, n, m), (pat, k)
            x = mb.random_inputs(nb, 5)["x"].astype(np.float64)
            if mk is cases.model_small:
                h = npgelu(lin(T, np.maximum(lin(T, x, "fc1"), 0), "fc2"))
                want = lin(T, h, "fc3")
                got = ref.evaluate(jp, {"x": x})["y"]
            else:
                h = npgelu_t(lin(T, np.maximum(lin(T, x, "fc1"), 0), "fc2"))
                h = lin(T, h, "fc3")
                h = h * npsig(h)
                want = lin(T, h, "fc4")
                got = ref.evaluate(jp, {"x": x})["logits"]
                # sensible scale: outputs O(0.1 .. 10)
                assert 0.05 < np.abs(want).max() < 50, np.abs(want).max()
            close(got, want, 1e-12)

    # acts (F16)
    mb = cases.model_acts()
    jp = mb.save(os.path.join(d, "acts"))
    check_contract_keys(jp)
    T = tensors_of(mb)
    x = mb.random_inputs(5, 1)["x"].astype(np.float64)
    h = np.maximum(lin(T, x, "fc1"), 0)
    h = npgelu(lin(T, h, "fc2", bias=False))
    h = npgelu_t(h @ T["mm1.weight"])
    h = lin(T, h, "fc3")
    h = h * npsig(h)
    h = np.tanh(lin(T, npsig(lin(T, h, "fc4")), "fc5"))
    y = lin(T, h, "fc6", bias=False)
    big = lin(T, x, "big")
    assert np.abs(big).max() > 60      # really exercises saturation
    s = (np.maximum(big, 0) + npgelu(big) + npgelu_t(big) + big * npsig(big)
         + npsig(big) + np.tanh(big))
    got = ref.evaluate(jp, {"x": x})
    close(got["y"], y)
    close(got["s"], s)
    assert all(dt == "F16" for _, dt in mb.tensors.values())

    # multi (BF16, rank 3, two inputs/outputs)
    mb = cases.model_multi()
    jp = mb.save(os.path.join(d, "multi"))
    check_contract_keys(jp)
    T = tensors_of(mb)
    ins = mb.random_inputs(3, 2)
    x = ins["x"].astype(np.float64)
    c = ins["ctx"].astype(np.float64)
    h1 = npgelu(lin(T, x, "xproj"))
    gate = npsig(lin(T, c, "ctxproj"))
    m = np.empty_like(h1)
    for bi in range(3):
        for si in range(6):
            m[bi, si] = gate[bi, 0] * h1[bi, si]
    r = lin(T, m, "mix", bias=False) + h1
    out_seq = r @ T["proj.weight"]
    sc = r * np.tanh(lin(T, x, "score"))
    out2 = lin(T, sc, "head")
    got = ref.evaluate(jp, ins)
    close(got["out_seq"], out_seq)
    close(got["out2"], out2)
    assert got["out_seq"].shape == (3, 6, 20)
    assert got["out2"].shape == (3, 6, 12)

    # bcast (mixed dtypes)
    mb = cases.model_bcast()
    jp = mb.save(os.path.join(d, "bcast"))
    check_contract_keys(jp)
    hdr = st.read_safetensors(jp.replace(".json", ".safetensors"))[0]
    assert set(hdr) == set(mb.tensors)
    dts = {dt for _, dt in mb.tensors.values()}
    assert dts == {"F32", "F16", "BF16"}
    T = tensors_of(mb)
    ins = mb.random_inputs(3, 3)
    u, v, w = (ins[k].astype(np.float64) for k in "uvw")
    a = lin(T, u, "ua")
    cc = lin(T, v, "vc")
    B = 3
    d_ = np.zeros((B, 5, 20))
    e_ = np.zeros((B, 5, 20))
    for bi in range(B):
        for i in range(5):
            for j in range(20):
                d_[bi, i, j] = a[bi, i, 0] + cc[bi, 0, j]
                e_[bi, i, j] = cc[bi, 0, j] * a[bi, i, 0]
    fr = np.maximum(d_ + e_, 0)
    g = lin(T, v, "vs")[:, :, :1] * fr
    y = lin(T, g, "head")
    z = lin(T, npsig(w), "wq") * lin(T, w, "wp")
    got = ref.evaluate(jp, ins)
    close(got["y"], y)
    close(got["z"], z)

    # dead channels
    mb = cases.model_dead()
    jp = mb.save(os.path.join(d, "dead"))
    check_contract_keys(jp)
    T = tensors_of(mb)
    x = mb.random_inputs(6, 4)["x"].astype(np.float64)
    allv = ref.evaluate(jp, {"x": x}, return_all=True)
    a1 = np.maximum(lin(T, x, "fc1"), 0)
    assert (a1[:, [0, 5, 17, 63]] == 0).all()
    assert (a1[:, 30] == np.float32(0.7)).all()
    assert (T["fc1.weight"][:, 7] == 0).all()
    assert (T["fc2.weight"][:, [3, 9, 40]] == 0).all()
    assert (T["fc5.weight"][:, [3, 9, 40]] == 0).all()
    assert (a1[:, [3, 9, 40]] != 0).any()       # computed but unused
    a2 = np.maximum(lin(T, a1, "fc2"), 0)
    assert builder.check_nm(T["fc2.weight"], 2, 4)
    assert (a2[:, [2, 11]] == 0).all()
    h3 = lin(T, a2, "fc3")
    assert (h3[:, [11, 20]] == 0).all()
    r = a2 + h3
    assert (r[:, 11] == 0).all() and (r[:, 2] != 0).all() and \
        (r[:, 20] != 0).any()
    y0 = lin(T, npgelu_t(r), "fc4")
    q = npsig(lin(T, a1, "fc5"))
    assert (q[:, [1, 4]] == 0.5).all()
    y = y0 * q
    assert (y[:, 5] == 0).all()
    mm = r @ T["mm.weight"]
    assert (mm[:, 3] == 0).all()
    z = lin(T, mm * npsig(mm), "fc6", bias=False)
    close(allv["a1"], a1)
    close(allv["res"], r)
    close(allv["y"], y)
    close(allv["z"], z)


def _op_formula(nd, ins):
    """An op of the op models, written another way than in the reference."""
    op = nd["op"]
    if not ins:
        return None     # a constant: its value is the stored tensor
    x = ins[0]
    relu6 = lambda t: np.clip(t, 0.0, 6.0)  # noqa: E731
    if op == "erf":
        return np.vectorize(math.erf)(x)
    if op == "sqrt":
        return np.vectorize(math.sqrt)(x)
    if op == "hardswish":
        return x * relu6(x + 3.0) / 6.0
    if op == "clip":
        return np.clip(x, nd.get("min", -np.inf), nd.get("max", np.inf))
    if op == "hardsigmoid":
        return np.clip(nd.get("alpha", 0.2) * x + nd.get("beta", 0.5), 0.0, 1.0)
    if op == "sub":
        return np.subtract(*ins)
    if op == "div":
        return np.divide(*ins)
    if op == "pow":
        return np.float_power(*ins)
    if op == "where":
        return np.where(ins[0].astype(bool), ins[1], ins[2])
    if op == "reducemean":
        axes = tuple(a % x.ndim for a in nd.get("axes", [nd.get("axis", -1)]))
        y = x.sum(axis=axes, keepdims=True) / np.prod([x.shape[a] for a in axes])
        return y if nd.get("keepdims", 1) else y.squeeze(axes)
    return None


def eval_op_models():
    d = os.path.join(TMP, "opmodels")
    seen = set()
    for key, make in cases.OP_MODELS + [("ops_all", cases.model_op_all)]:
        mb = make()
        jp = mb.save(os.path.join(d, key))
        m = check_contract_keys(jp)
        for batch in (1, cases.OP_BATCH):
            ins = mb.random_inputs(batch, 3)
            allv = ref.evaluate(jp, ins, return_all=True)
            for name in m["outputs"]:
                y = allv[name]
                assert y.shape[0] == batch and np.isfinite(y).all(), (key, name)
            for nd in m["nodes"]:
                want = _op_formula(nd, [allv[i] for i in nd["inputs"]])
                if want is None:
                    continue
                seen.add(nd["op"])
                close(allv[nd["outputs"][0]], want, 1e-13)
        if key == "ops_sqrt":    # some inputs exactly 0
            assert (mb.random_inputs(cases.OP_BATCH, 3)["x3"] == 0).any()
    assert seen == {"erf", "sqrt", "hardswish", "clip", "hardsigmoid", "sub", "div",
                    "pow", "where", "reducemean"}, seen

    # op_all against a direct computation
    mb = cases.model_op_all()
    jp = mb.save(os.path.join(d, "op_all_direct"))
    T = tensors_of(mb)
    ins = mb.random_inputs(4, 9)
    x, c, e = (ins[k].astype(np.float64) for k in ("x", "cond", "expo"))
    h = lin(T, x, "fc1")
    dd = h - h.mean(axis=-1, keepdims=True)
    n = dd / np.sqrt((dd * dd).mean(axis=-1, keepdims=True))
    k0 = lin(T, np.vectorize(math.erf)(n), "fc2")
    k = k0 * np.clip(k0 + 3, 0, 6) / 6
    p = npsig(lin(T, np.clip(k / 6 + 0.5, 0, 1), "fc3")) ** e
    q = np.clip(lin(T, k, "fc4"), -1, 1)
    y = np.where(c != 0, p, q)
    got = ref.evaluate(jp, ins)
    close(got["y"], y)
    close(got["z"], y.mean(axis=-1))
    assert got["z"].shape == (4, 5)


def main():
    tests = [test_bf16_rounding, test_safetensors_roundtrip, test_prune,
             test_ref_hand, test_ops_hand, test_new_ops_hand, eval_models, eval_op_models]
    for t in tests:
        t()
        print("ok  %s" % t.__name__)
    shutil.rmtree(TMP, ignore_errors=True)
    print("selftest OK")


if __name__ == "__main__":
    main()
