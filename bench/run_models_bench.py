#!/usr/bin/env python3
"""run_models_bench.py - whole networks against onnxruntime and PyTorch on
the same weights, in one run: ResNet-50 (224x224), BERT-base (sequence 128),
GPT-2 small (prefill of 128 tokens) and a GPT-2 decode step (one token at
context 128, key/value cache), dense and N:M pruned, on 1 and 2 threads. Every SparseFlow build is first checked against PyTorch (1e-4).
Medians of --runs timed runs after a warm-up; the table goes to the
models block of docs/PERFORMANCE.md.

    run_models_bench.py [--arch resnet50,bert,gpt2,gpt2-decode] [--prune dense,2:4,1:4]
                        [--threads 1,2] [--runs 7] [--doc docs/PERFORMANCE.md]

Run through `make bench-models`, which provides onnxruntime (PyPI) in a
virtual environment beside Debian's PyTorch.
"""
import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

from sparseflow import export as sf_export
from sparseflow.testing import networks

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BEGIN, END = "<!-- models:begin -->", "<!-- models:end -->"
TARGETS = {("bert", "2:4"): 1.5, ("resnet50", "2:4"): 1.3, ("gpt2-decode", "2:4"): 1.7}
CONTEXT = 128  # cached tokens before the timed decode step


def run(cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode:
        raise RuntimeError("$ %s\n%s%s" % (" ".join(cmd), p.stdout[-2000:], p.stderr[-2000:]))
    return p.stdout


def median_ms(fn, runs):
    fn()  # warm-up
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts)


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def bench_one(arch, prune, threads, runs, sfgen, work, ort):
    model, inputs = networks.build(arch, tiny=False, seed=1)
    if prune != "dense":
        sf_export.prune_nm(model, *(int(v) for v in prune.split(":")))
    d = os.path.join(work, "%s_%s" % (arch, prune.replace(":", "_")))
    mj = sf_export.export(model, inputs, d, name=arch)
    gen = os.path.join(d, "gen")
    run([sfgen, mj, "-o", gen, "-q", "--threads", str(max(threads))])
    run(["make", "-s", "-C", gen, "-j%d" % (os.cpu_count() or 2)])
    exe = os.path.join(gen, arch)
    # correctness first: the build against PyTorch at the maximum batch
    cmd = [exe]
    for k, v in inputs.items():
        p = os.path.join(d, k + ".npy")
        np.save(p, v.numpy().astype(np.float32))
        cmd += ["--input", "%s=%s" % (k, p)]
    out = os.path.join(d, "out.npy")
    run(cmd + ["--output", out])
    files = cmd[1:]  # the same inputs for the timed runs (random ones are no token ids)
    with torch.no_grad():
        ref = model(*inputs.values()).numpy()
    err = float(np.abs(np.load(out) - ref).max() / np.abs(ref).max())
    if err > 1e-4:
        raise RuntimeError("%s %s: max rel err %.2e against PyTorch" % (arch, prune, err))
    onnx_path = os.path.join(d, arch + ".onnx")
    with torch.no_grad():
        torch.onnx.export(model, tuple(inputs.values()), onnx_path,
                          input_names=list(inputs), output_names=["y"], opset_version=14)
    feeds = {k: v.numpy() for k, v in inputs.items()}
    batch = next(iter(inputs.values())).shape[0]
    rows = time_three(arch, prune, batch, err, threads, runs, [exe] + files, ort, onnx_path,
                      feeds, lambda: model(*inputs.values()))
    shutil.rmtree(d, ignore_errors=True)
    return rows


def time_three(arch, prune, batch, err, threads, runs, sf_cmd, ort, onnx_path, feeds, torch_fn):
    """Rows of medians for each thread count: the SparseFlow program
    (sf_cmd + --bench), onnxruntime on onnx_path with feeds (NumPy), and
    torch_fn under no_grad."""
    rows = []
    for t in threads:
        sf = float(re.search(r"median_ms=([0-9.]+)", run(
            sf_cmd + ["--bench", str(runs), "--threads", str(t)])).group(1))
        so = ort.SessionOptions()
        so.intra_op_num_threads = t
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
        ort_ms = median_ms(lambda: sess.run(None, feeds), runs)
        torch.set_num_threads(t)
        with torch.no_grad():
            pt_ms = median_ms(torch_fn, runs)
        rows.append(dict(arch=arch, prune=prune, threads=t, batch=batch, sf=sf, ort=ort_ms,
                         pt=pt_ms, err=err))
        print("%-11s %-5s t=%d  SparseFlow %.1f ms (%.1f runs/s)  onnxruntime %.1f ms  "
              "PyTorch %.1f ms  x%.2f vs onnxruntime" % (arch, prune, t, sf, 1e3 / sf, ort_ms,
                                                         pt_ms, ort_ms / sf), flush=True)
    return rows


def bench_decode(prune, threads, runs, sfgen, work, ort):
    """One GPT-2 decode step at context CONTEXT: SparseFlow's step model on its
    key/value cache against GPT2Step (past keys and values as tensors) in
    PyTorch and, exported to ONNX, in onnxruntime. The caches hold zeros, the
    same for all three, so the outputs are compared first."""
    model, _ = networks.build("gpt2", tiny=False, seed=1)
    if prune != "dense":
        sf_export.prune_nm(model, *(int(v) for v in prune.split(":")))
    step = networks.GPT2Step(model).eval()
    d = os.path.join(work, "gpt2_decode_%s" % prune.replace(":", "_"))
    ex = {"ids": torch.tensor([[42]]), "positions": torch.tensor([[CONTEXT]])}
    mj = sf_export.export(model, ex, d, name="gpt2_step", cache=2 * CONTEXT)
    gen = os.path.join(d, "gen")
    run([sfgen, mj, "-o", gen, "-q", "--threads", str(max(threads))])
    run(["make", "-s", "-C", gen, "-j%d" % (os.cpu_count() or 2)])
    exe = os.path.join(gen, "gpt2_step")
    files = ["--cache-len", str(CONTEXT)]
    for k, v in ex.items():
        p = os.path.join(d, k + ".npy")
        np.save(p, v.numpy().astype(np.float32))
        files += ["--input", "%s=%s" % (k, p)]
    out = os.path.join(d, "out.npy")
    run([exe] + files + ["--output", out])
    L, E = len(model.blocks), model.wte.weight.shape[1]
    past = torch.zeros(L, 1, CONTEXT, E)
    feeds = dict(ex, past_k=past, past_v=past)
    with torch.no_grad():
        ref = step(*feeds.values())[0].numpy()
    err = float(np.abs(np.load(out) - ref).max() / np.abs(ref).max())
    if err > 1e-4:
        raise RuntimeError("gpt2 decode %s: max rel err %.2e against PyTorch" % (prune, err))
    onnx_path = os.path.join(d, "gpt2_step.onnx")
    with torch.no_grad():
        torch.onnx.export(step, tuple(feeds.values()), onnx_path, input_names=list(feeds),
                          output_names=["logits", "keys", "values"], opset_version=14)
    np_feeds = {k: v.numpy() for k, v in feeds.items()}
    rows = time_three("gpt2-decode", prune, 1, err, threads, runs, [exe] + files, ort, onnx_path,
                      np_feeds, lambda: step(*feeds.values()))
    shutil.rmtree(d, ignore_errors=True)
    return rows


def table(rows, runs):
    lines = ["Machine: %s, %d cores. Median of %d runs after a warm-up, one run of "
             "`make bench-models`; every build matched PyTorch first (worst relative "
             "error %.1e). onnxruntime %s and PyTorch %s run the same weights as dense "
             "tensors." % (cpu_name(), os.cpu_count(), runs, max(r["err"] for r in rows),
                           ORT_VERSION, torch.__version__), "",
             "| model | weights | threads | batch | SparseFlow ms | onnxruntime ms | PyTorch ms "
             "| vs onnxruntime | vs onnxruntime, dense weights |", "|---|---|---|---|---|---|---|---|---|"]
    dense = {(r["arch"], r["threads"]): r["ort"] for r in rows if r["prune"] == "dense"}
    for r in rows:
        dd = dense.get((r["arch"], r["threads"]))
        lines.append("| %s | %s | %d | %d | %.1f | %.1f | %.1f | %.2fx | %s |" % (
            r["arch"], r["prune"], r["threads"], r["batch"], r["sf"], r["ort"], r["pt"],
            r["ort"] / r["sf"], "%.2fx" % (dd / r["sf"]) if dd else "-"))
    lines.append("")
    for (arch, pr), goal in TARGETS.items():
        for t in sorted({r["threads"] for r in rows}):
            r = [x for x in rows if x["arch"] == arch and x["prune"] == pr and x["threads"] == t]
            dd = dense.get((arch, t))
            if r and dd:
                v = dd / r[0]["sf"]
                lines.append("- %s %s, %d thread%s: %.2fx onnxruntime dense (target %.1fx): %s"
                             % (arch, pr, t, "s" if t > 1 else "", v, goal,
                                "met" if v >= goal else "not met"))
    for t in sorted({r["threads"] for r in rows}):
        ds = [dense[(r["arch"], t)] / r["sf"] for r in rows
              if r["prune"] == "dense" and r["threads"] == t]
        if ds:
            lines.append("- dense weights, %d thread%s: %.2f-%.2fx onnxruntime (target 0.9x)"
                         % (t, "s" if t > 1 else "", min(ds), max(ds)))
    return lines


def bars(rows, width=40):
    """A text plot: SparseFlow's speed over onnxruntime with dense weights,
    one bar per row, '|' marking 1.0x."""
    dense = {(r["arch"], r["threads"]): r["ort"] for r in rows if r["prune"] == "dense"}
    top = max([dense[(r["arch"], r["threads"])] / r["sf"] for r in rows
               if (r["arch"], r["threads"]) in dense] + [1.0])
    out = ["```text", "SparseFlow speed / onnxruntime dense (| = 1.0x)"]
    for r in rows:
        dd = dense.get((r["arch"], r["threads"]))
        if not dd:
            continue
        v = dd / r["sf"]
        n, one = int(round(v / top * width)), int(round(1.0 / top * width))
        bar = "".join("|" if i == one else "#" if i < n else " " for i in range(max(n, one + 1)))
        out.append("%-11s %-5s t=%d %s %.2fx" % (r["arch"], r["prune"], r["threads"], bar, v))
    out.append("```")
    return out


ORT_VERSION = "?"


def main():
    global ORT_VERSION
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sfgen", default=os.path.join(REPO, "build", "sfgen"))
    ap.add_argument("--arch", default="resnet50,bert,gpt2,gpt2-decode")
    ap.add_argument("--prune", default="dense,2:4,1:4")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--doc", default=os.path.join(REPO, "docs", "PERFORMANCE.md"))
    ap.add_argument("--work", default=None)
    args = ap.parse_args()
    import onnxruntime as ort
    ORT_VERSION = ort.__version__
    work = args.work or tempfile.mkdtemp(prefix="sf-models-bench-")
    threads = [int(t) for t in args.threads.split(",")]
    rows = []
    for arch in args.arch.split(","):
        for pr in args.prune.split(","):
            if arch == "gpt2-decode":
                rows += bench_decode(pr, threads, args.runs, args.sfgen, work, ort)
            else:
                rows += bench_one(arch, pr, threads, args.runs, args.sfgen, work, ort)
    lines = table(rows, args.runs) + [""] + bars(rows)
    print("\n".join(lines))
    if args.doc:
        text = open(args.doc).read() if os.path.exists(args.doc) else ""
        block = BEGIN + "\n" + "\n".join(lines) + "\n" + END
        if BEGIN in text and END in text:
            text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
        else:
            text += "\n## Whole models\n\n" + block + "\n"
        with open(args.doc, "w") as f:
            f.write(text)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
