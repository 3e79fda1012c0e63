#!/usr/bin/env python3
"""demo_bench.py DIR - the demo's timing step (examples/mlp/README.md).

Times, at batch 64 on DIR/x.npy, the sparse build (DIR/sparse/mlp), the
all-dense build (DIR/dense/mlp) and, when this Python has it, onnxruntime
on the same weights (an ONNX file written here from DIR/mlp.safetensors,
checked first against the sparse build's DIR/logits.npy), on one thread and
on all threads. The configurations take turns for --rounds rounds; each
round times --runs runs after a warm-up and keeps their median. The table
gives, per configuration, the median of the round medians and their range,
and the speed-up of the sparse build (other / sparse, per round) as a
median and range: a range that straddles 1.0x is noise, not a result.

    demo_bench.py DIR [--rounds 5] [--runs 30] [--threads N]
"""
import argparse
import json
import os
import re
import statistics
import struct
import subprocess
import sys
import time

import numpy as np

# ---- a minimal ONNX writer (protobuf wire format; onnx/onnx.proto field numbers)


def _varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(field, wire):
    return _varint(field << 3 | wire)


def _int(field, v):
    return _key(field, 0) + _varint(v)


def _bytes(field, b):
    b = b.encode() if isinstance(b, str) else b
    return _key(field, 2) + _varint(len(b)) + b


def _tensor(name, a):
    """TensorProto: dims 1, data_type 2 (1 = FLOAT), name 8, raw_data 9."""
    a = np.ascontiguousarray(a, dtype="<f4")
    return (b"".join(_int(1, d) for d in a.shape) + _int(2, 1) + _bytes(8, name)
            + _bytes(9, a.tobytes()))


def _value_info(name, dims):
    """ValueInfoProto: name 1, type 2 -> TypeProto.tensor_type 1 -> elem_type 1,
    shape 2 -> dim 1 -> dim_value 1 or dim_param 2."""
    shape = b"".join(_bytes(1, _bytes(2, d) if isinstance(d, str) else _int(1, d))
                     for d in dims)
    return _bytes(1, name) + _bytes(2, _bytes(1, _int(1, 1) + _bytes(2, shape)))


def _node(op, inputs, outputs, **ints):
    """NodeProto: input 1, output 2, name 3, op_type 4, attribute 5 (name 1,
    i 3, type 20 = INT 2)."""
    attrs = b"".join(_bytes(5, _bytes(1, k) + _int(3, v) + _int(20, 2))
                     for k, v in ints.items())
    return (b"".join(_bytes(1, i) for i in inputs) + b"".join(_bytes(2, o) for o in outputs)
            + _bytes(3, outputs[0]) + _bytes(4, op) + attrs)


def write_onnx(path, w, in_features, out_features):
    """The demo MLP (mlp.json) in ONNX opset 13: Gemm (transB), GELU as
    x * 0.5 * (1 + erf(x / sqrt 2)), Gemm, Relu, Gemm."""
    nodes = [
        _node("Gemm", ["x", "fc1.weight", "fc1.bias"], ["h1"], transB=1),
        _node("Div", ["h1", "sqrt2"], ["h1s"]),
        _node("Erf", ["h1s"], ["e1"]),
        _node("Add", ["e1", "one"], ["e1p"]),
        _node("Mul", ["h1", "e1p"], ["g1"]),
        _node("Mul", ["g1", "half"], ["a1"]),
        _node("Gemm", ["a1", "fc2.weight", "fc2.bias"], ["h2"], transB=1),
        _node("Relu", ["h2"], ["a2"]),
        _node("Gemm", ["a2", "fc3.weight", "fc3.bias"], ["logits"], transB=1),
    ]
    consts = {"sqrt2": np.float32(np.sqrt(2.0)), "one": np.float32(1), "half": np.float32(0.5)}
    inits = [_tensor(k, v) for k, v in sorted(w.items())]
    inits += [_tensor(k, np.array(v, np.float32)) for k, v in consts.items()]
    graph = (b"".join(_bytes(1, n) for n in nodes) + _bytes(2, "mlp")
             + b"".join(_bytes(5, t) for t in inits)
             + _bytes(11, _value_info("x", ["batch", in_features]))
             + _bytes(12, _value_info("logits", ["batch", out_features])))
    model = (_int(1, 8) + _bytes(2, "sparseflow-demo") + _bytes(7, graph)
             + _bytes(8, _bytes(1, "") + _int(2, 13)))
    with open(path, "wb") as f:
        f.write(model)


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        out[name] = np.frombuffer(data[b:end], dtype="<f4").reshape(e["shape"])
    return out


# ---- timing


def sparseflow_ms(exe, x, threads, runs):
    out = subprocess.run([exe, "--bench", str(runs), "--threads", str(threads), "--input",
                          "x=" + x], check=True, capture_output=True, text=True).stdout
    return float(re.search(r"median_ms=([0-9.]+)", out).group(1))


def ort_ms(sess, feeds, runs):
    sess.run(None, feeds)  # warm-up
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts)


def spread(values):
    return "%.3f-%.3f" % (min(values), max(values))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="'all threads' (default: the CPUs this machine has)")
    args = ap.parse_args()
    d = args.dir
    x = os.path.join(d, "x.npy")
    builds = [("SparseFlow sparse", os.path.join(d, "sparse", "mlp")),
              ("SparseFlow dense", os.path.join(d, "dense", "mlp"))]
    ort = sess_for = None
    try:
        import onnxruntime as ort
    except ImportError as e:
        print("onnxruntime: not available to %s (%s); `make demo` installs it into "
              "venv-models in the build folder. Comparing with the dense build only."
              % (sys.executable, e))
    if ort is not None:
        w = read_safetensors(os.path.join(d, "mlp.safetensors"))
        onnx_path = os.path.join(d, "mlp.onnx")
        write_onnx(onnx_path, w, w["fc1.weight"].shape[1], w["fc3.weight"].shape[0])
        feeds = {"x": np.load(x)}

        def sess_for(t):
            so = ort.SessionOptions()
            so.intra_op_num_threads = t
            so.inter_op_num_threads = 1
            return ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])

        got = sess_for(1).run(None, feeds)[0]
        want = np.load(os.path.join(d, "logits.npy"))
        err = float(np.abs(got - want).max() / np.abs(want).max())
        print("onnxruntime %s runs %s (the same weights, stored dense): max |ort - sparse| / "
              "max |sparse| = %.1e" % (ort.__version__, onnx_path, err))
        if err > 1e-4:
            print("onnxruntime and SparseFlow disagree above 1e-4: the ONNX model is wrong")
            return 1
    thread_counts = [1] if args.threads <= 1 else [1, args.threads]
    names = [b[0] for b in builds] + (["onnxruntime %s" % ort.__version__] if ort else [])
    times = {(n, t): [] for n in names for t in thread_counts}
    sessions = {t: sess_for(t) for t in thread_counts} if ort else {}
    for _ in range(args.rounds):
        for t in thread_counts:
            for name, exe in builds:
                times[(name, t)].append(sparseflow_ms(exe, x, t, args.runs))
            if ort:
                times[(names[-1], t)].append(ort_ms(sessions[t], feeds, args.runs))
    print("batch 64; %d rounds in turn, each the median of %d runs after a warm-up; "
          "machine: %d CPUs" % (args.rounds, args.runs, os.cpu_count() or 0))
    head = ("threads", "build", "median ms", "range ms", "sparse faster by (range)")
    rows = []
    for t in thread_counts:
        base = times[(names[0], t)]
        for n in names:
            ts = times[(n, t)]
            if n == names[0]:
                vs = "-"
            else:
                r = [o / s for o, s in zip(ts, base)]
                vs = "%.2fx (%.2f-%.2fx)" % (statistics.median(r), min(r), max(r))
            rows.append(("%d%s" % (t, " (all)" if t > 1 else ""), n,
                         "%.3f" % statistics.median(ts), spread(ts), vs))
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    for r in [head] + rows:
        print("  ".join(("%%-%ds" % w) % c for w, c in zip(widths, r)).rstrip())
    print("A speed-up whose range includes 1.00x is within this machine's noise; runs on all "
          "threads suffer most when other work shares the cores.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
