#!/usr/bin/env python3
# run_cuda.py - the CUDA backend end to end.
#
#   (default)  (make test-cuda-build, part of make test; no GPU needed)
#              generate every case with --target cuda and build its CUDA
#              library and program with nvcc for sm_80 and sm_90 as real
#              cubins (ptxas runs; -v shows it for each architecture),
#              warnings as errors; the plan in report.json must be the one
#              asked for.
#   --run      (make test-cuda, needs an NVIDIA GPU) also run ./<model>_cuda
#              on every case at batch 1 and at the maximum batch and compare
#              with the float64 reference (sparseflow.reference), then run
#              the small cases under compute-sanitizer (memcheck, racecheck).
#              Without a GPU it says so and runs nothing.
#
# Without nvcc on PATH both print one SKIPPED line and exit 0, unless
# SF_REQUIRE_CUDA is set (and not 0): then they fail (CI sets it, .ci/run).
#
# Tolerances, relative to the largest |reference| of an output: f32 weights
# 1e-4 (fp32 accumulation in a different order); f16 5e-3 (weights and
# activations rounded to 11 significant bits, unit roundoff 4.9e-4, errors
# of a few layers in series); bf16 3e-2 (8 significant bits, unit roundoff
# 3.9e-3).

import argparse
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np

from sparseflow import reference as ref
from sparseflow.builder import ModelBuilder
from sparseflow.testing import cases
from sparseflow.testing.harness import compare, compare_special, run_program

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TOL = {"f32": 1e-4, "f16": 5e-3, "bf16": 3e-2}


def model_decode(max_batch=2):
    """One-token decoding with a key/value cache: embedding, layer norm, q/k/v
    projections (2:4), cached causal attention, a 1:4 MLP."""
    E, H = 32, 4
    mb = ModelBuilder("dec", seed=cases.seed_of("dec"))
    ids = mb.input("ids", [max_batch, 1])
    h = mb.layernorm(mb.embedding(ids, 40, E, name="tok"), name="ln")
    q = mb.linear(h, E, name="q", pattern="2:4")
    k = mb.linear(h, E, name="k", pattern="2:4")
    v = mb.linear(h, E, name="v", pattern="2:4")
    a = mb.node("attention", [q, k, v], mb.shapes[q], name="attn", heads=H, causal=True,
                cache=16)
    y = mb.linear(mb.gelu(mb.linear(a, 2 * E, name="up", pattern="1:4"), name="act"), E,
                  name="down", pattern="1:4", out="y")
    mb.output(y)
    return mb


# (key, builder, sfgen flags, kernel the 2:4 layers must get or None)
CASES = [
    ("small_24_bf16_sp24", lambda: cases.model_small("2:4", 5),
     ["--gpu-kernel", "sp24"], "sp24"),
    ("large_24_f16_sp24", lambda: cases.model_large("2:4"),
     ["--gpu-dtype", "f16", "--gpu-kernel", "sp24"], "sp24"),
    ("large_14_bf16_ell", lambda: cases.model_large("1:4"), ["--gpu-kernel", "ell"], "ell"),
    ("large_dense_bf16_cublas", lambda: cases.model_large("dense"),
     ["--gpu-kernel", "dense"], "dense"),
    ("small_24_f32", lambda: cases.model_small("2:4", 5), ["--gpu-dtype", "f32"], None),
    ("cnn_bf16_sp24", cases.model_cnn, ["--gpu-kernel", "sp24"], None),
    ("cnn_dead_f16", cases.model_cnn_dead, ["--gpu-dtype", "f16"], None),
    ("tfm_bf16_sp24", cases.model_transformer, ["--gpu-kernel", "sp24"], None),
    ("decode_bf16", model_decode, [], None),
    ("acts_bf16_ell", cases.model_acts, ["--gpu-kernel", "ell"], "ell"),
    ("multi_f16_ell", cases.model_multi, ["--gpu-dtype", "f16", "--gpu-kernel", "ell"], "ell"),
    ("large_28_f32_ell", lambda: cases.model_large("2:8"),
     ["--gpu-dtype", "f32", "--gpu-kernel", "ell"], "ell"),
    ("large_832_bf16_ell", lambda: cases.model_large("8:32"), ["--gpu-kernel", "ell"], "ell"),
    # Inf and NaN inputs: a zero weight contributes nothing (docs/NUMERICS.md)
    ("special_bf16_sp24", lambda: cases.model_special(9, denormals=False),
     ["--gpu-kernel", "sp24"], "sp24"),
    ("special_f32_ell", lambda: cases.model_special(9), ["--gpu-dtype", "f32", "--gpu-kernel",
                                                         "ell"], "ell"),
    ("special_f16_dense", lambda: cases.model_special(9, denormals=False),
     ["--gpu-dtype", "f16", "--gpu-kernel", "dense"], "dense"),
    # constants (read from the device weights), broadcasting across ranks,
    # expand, and the unary, comparison and reduction ops
    ("ops_const_f32", cases.model_op_const, ["--gpu-dtype", "f32"], None),
    ("ops_unary2_f32", cases.model_op_unary2, ["--gpu-dtype", "f32"], None),
    ("ops_compare_f32", cases.model_op_compare, ["--gpu-dtype", "f32"], None),
    ("ops_reduce_f32", cases.model_op_reduce, ["--gpu-dtype", "f32"], None),
]


def sh(cmd, cwd=None, timeout=900):
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout


def have_gpu():
    if not shutil.which("nvidia-smi"):
        return False
    rc, out = sh(["nvidia-smi", "-L"], timeout=60)
    return rc == 0 and "GPU" in out


def dtype_of(flags):
    return flags[flags.index("--gpu-dtype") + 1] if "--gpu-dtype" in flags else "bf16"


def build_case(args, key, mb, flags, want):
    """Generate and build; returns (outdir, problem or None)."""
    d = os.path.join(args.work, key)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    js = mb.json_path = mb.save(os.path.join(d, "model"))
    out = os.path.join(d, "out")
    rc, log = sh([args.sfgen, js, "-o", out, "--target", "cuda", "-q"] + flags)
    if rc:
        return out, "sfgen failed (%d):\n%s" % (rc, log)
    rep = json.load(open(os.path.join(out, "report.json")))
    for layer in rep["layers"]:
        cu = layer.get("cuda")
        if cu is None:
            return out, "report.json: layer %s has no cuda plan" % layer.get("name")
        pat = layer["plan"]["pattern"]
        if want and cu["kernel"] != want and not (want == "sp24" and pat != "2:4"):
            return out, "layer %s: cuda kernel %s, want %s" % (layer.get("name"), cu["kernel"],
                                                               want)
    rc, log = sh(["make", "-C", out, "-j%d" % args.jobs, "cuda", "CUDA_ARCH=80 90",
                  "CFLAGS=-Werror", "NVCCFLAGS=-Werror all-warnings -Xptxas -v"])
    if rc:
        return out, "make cuda failed:\n%s" % log[-6000:]
    for arch in ("sm_80", "sm_90"):
        if not re.search(r"ptxas info\s*: Compiling entry function '.*' for '%s'" % arch, log):
            return out, "no cubin compiled for %s:\n%s" % (arch, log[-3000:])
    if want == "sp24":
        for kern in ("stream", "tiled"):
            if not re.search(r"Compiling entry function '[^']*sfc_sp24_%s_kernel" % kern, log):
                return out, "no 2:4 tensor-core %s kernel was compiled" % kern
    name = rep["model"] if isinstance(rep.get("model"), str) else mb.name
    exe = os.path.join(out, name + "_cuda")
    if not os.access(exe, os.X_OK):
        return out, "program %s not built" % exe
    return out, None


def run_case(args, key, mb, flags, out):
    """Runs the program at batch 1 and the maximum batch against the float64 reference."""
    exe = os.path.join(out, mb.name + "_cuda")
    tol = TOL[dtype_of(flags)]
    js = mb.json_path
    max_batch = mb.inputs[0]["shape"][0]
    worst = 0.0
    for batch in sorted({1, max_batch}):
        ins = mb.random_inputs(batch, seed=cases.seed_of(key) + batch)
        files = {}
        for n, a in ins.items():
            files[n] = os.path.join(out, "in_%s.npy" % n)
            np.save(files[n], a.astype(np.float32))
        refs = ref.evaluate(js, ins)
        outs, log = run_program(args, exe, files, list(refs), out, 1, False)
        if outs is None:
            return "run failed:\n" + log
        err, problem, detail = (compare_special if key.startswith("special") else compare)(
            outs, refs)
        if problem or err > tol:
            return "batch %d: max rel error %.3e > %.0e %s\n%s" % (batch, err, tol,
                                                                  problem or "", detail)
        worst = max(worst, err)
        if args.sanitize and batch == 1:
            for tool in ("memcheck", "racecheck"):
                cmd = ["compute-sanitizer", "--tool", tool, "--error-exitcode", "9", exe]
                for n, p in files.items():
                    cmd += ["--input", "%s=%s" % (n, p)]
                rc, slog = sh(cmd)
                if rc:
                    return "compute-sanitizer %s:\n%s" % (tool, slog[-4000:])
    print("  worst relative error %.2e (tolerance %.0e)" % (worst, tol))
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sfgen", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--run", action="store_true", help="run on the GPU (make test-cuda)")
    ap.add_argument("--sanitize", action="store_true", help="with --run: compute-sanitizer")
    ap.add_argument("--filter", default=None)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    args.sfgen = os.path.abspath(args.sfgen)
    target = "make test-cuda" if args.run else "make test-cuda-build"
    if not shutil.which("nvcc"):
        # Without the CUDA toolkit this suite cannot run; a machine that must
        # run it (CI: .ci/run sets SF_REQUIRE_CUDA=1) fails instead of skipping.
        if os.environ.get("SF_REQUIRE_CUDA", "") not in ("", "0"):
            print("%s: FAILED - nvcc not found on PATH and SF_REQUIRE_CUDA=%s requires the "
                  "CUDA build" % (target, os.environ["SF_REQUIRE_CUDA"]))
            return 1
        print("%s: SKIPPED - nvcc not found on PATH (CUDA toolkit not installed); the CUDA "
              "backend was not compiled (SF_REQUIRE_CUDA=1 makes this an error)" % target)
        return 0
    os.makedirs(args.work, exist_ok=True)
    if args.run and not have_gpu():
        print("make test-cuda: SKIPPED - no NVIDIA GPU on this machine (nvidia-smi -L finds "
              "none); nothing ran on a GPU. `make test` still compiles every case for "
              "sm_80 and sm_90.")
        return 0
    passed = failed = 0
    for key, build, flags, want in CASES:
        if args.filter and not re.search(args.filter, key):
            continue
        mb = build()
        out, problem = build_case(args, key, mb, flags, want)
        if not problem and args.run:
            problem = run_case(args, key, mb, flags, out)
        print("%s %s" % ("ok  " if not problem else "FAIL", key))
        if problem:
            print("    " + problem.replace("\n", "\n    "))
            failed += 1
        else:
            passed += 1
            shutil.rmtree(os.path.join(args.work, key), ignore_errors=True)
    what = "built and ran on the GPU" if args.run else "compiled for sm_80 and sm_90"
    print("%d passed, %d failed (%s)" % (passed, failed, what))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
