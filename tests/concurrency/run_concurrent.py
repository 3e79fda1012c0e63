#!/usr/bin/python3
# run_concurrent.py - builds the "conc" model (64 -> 128 2:4 -> gelu -> 96 1:4
# -> relu -> 16, max batch 24) with each kernel, links harness.c against the
# generated static library and runs it: error codes, what conc_run allocates
# (every allocator interposed: nothing at all in the OPENMP=0 build, only
# libgomp's own blocks, each freed, in the OpenMP build), and many threads
# with separate arenas bit-identical to one.
# usage: PYTHONPATH=python run_concurrent.py [--sfgen build/sfgen] [--work DIR]
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

from sparseflow.builder import ModelBuilder

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# (label, sfgen flags, make variables, harness arguments)
BUILDS = [("default", [], [], []), ("compressed", ["--kernel", "nm_compressed"], [], []),
          ("dense", ["--dense"], [], []),
          ("no-openmp", [], ["OPENMP=0"], ["--no-openmp"]),
          ("no-openmp-compressed", ["--kernel", "nm_compressed"], ["OPENMP=0"], ["--no-openmp"]),
          ("no-openmp-dense", ["--dense"], ["OPENMP=0"], ["--no-openmp"])]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sfgen", default=os.path.join(REPO, "build", "sfgen"))
    ap.add_argument("--work", default=None)
    args = ap.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="sf-conc-")
    os.makedirs(work, exist_ok=True)

    mb = ModelBuilder("conc", seed=21)
    x = mb.input("x", [24, 64])
    h = mb.gelu(mb.linear(x, 128, name="fc1", pattern="2:4"))
    h = mb.relu(mb.linear(h, 96, name="fc2", pattern="1:4"))
    y = mb.linear(h, 16, name="fc3", out="y")
    mb.output(y)
    model = mb.save(os.path.join(work, "model"))

    passed = failed = 0
    env = dict(os.environ, OMP_NUM_THREADS="2")
    for label, flags, make_vars, harness_args in BUILDS:
        out = os.path.join(work, label)
        shutil.rmtree(out, ignore_errors=True)  # a fresh folder each run
        omp = [] if "OPENMP=0" in make_vars else ["-fopenmp"]
        try:
            subprocess.run([args.sfgen, model, "-o", out, "-q"] + flags, check=True)
            subprocess.run(["make", "-s", "-C", out, "-j2", "CFLAGS=-Werror"] + make_vars,
                           check=True)
            exe = os.path.join(out, "harness")
            subprocess.run(["cc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror",
                            "-I", out, os.path.join(HERE, "harness.c"),
                            os.path.join(out, "libconc.a")] + omp + ["-lm",
                            "-ldl", "-lpthread", "-o", exe], check=True)
            if not omp:  # the OPENMP=0 library and program need no libgomp
                for f in ("libconc.so", "conc"):
                    ldd = subprocess.run(["ldd", os.path.join(out, f)], capture_output=True,
                                         text=True).stdout
                    if "libgomp" in ldd:
                        raise subprocess.CalledProcessError(1, "ldd %s: libgomp linked" % f)
            r = subprocess.run([exe] + harness_args, env=env, capture_output=True, text=True,
                               timeout=600)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
            print("FAIL %s: %s" % (label, e))
            failed += 1
            continue
        lines = r.stdout.strip().splitlines()
        last = "; ".join(lines[-2:] if omp else lines[-1:])
        ok = r.returncode == 0
        print("%s %-20s %s" % ("PASS" if ok else "FAIL", label, last))
        if not ok:
            print(r.stdout + r.stderr)
        passed += ok
        failed += not ok
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
