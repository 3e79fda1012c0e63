#!/usr/bin/python3
# layer_bench.py - times one linear layer as SparseFlow generates it, per
# kernel, against the --dense build of the same weights, in one run.
#
#   PYTHONPATH=python /usr/bin/python3 bench/layer_bench.py --out 768 --in 768 --pattern 2:4 \
#       --tokens 128 [--threads 1,2] [--runs 51] [--rounds 5] [--kernels ...]
#
# Each build's program runs `--bench RUNS --batch TOKENS`; builds are timed
# in interleaved rounds so that machine noise hits them alike, and the table
# gives the median over rounds of each build's median, and its ratio to
# dense (>1: faster than dense). Prints a markdown table.

import argparse
import os
import re
import statistics
import subprocess
import tempfile

from run_bench import cpu_name    # bench/run_bench.py, beside this script
from sparseflow.builder import ModelBuilder

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

KERNELS = {
    "dense": ["--dense"],
    "auto": [],
    "nm_unrolled": ["--kernel", "nm_unrolled"],
    "nm_compressed": ["--kernel", "nm_compressed"],
}


def build(sfgen, model, outdir, flags):
    subprocess.run([sfgen, model, "-o", outdir, "-q"] + flags, check=True)
    subprocess.run(["make", "-s", "-C", outdir, "-j2"], check=True)
    return os.path.join(outdir, "layer")


def bench(exe, runs, tokens, threads):
    out = subprocess.run([exe, "--bench", str(runs), "--batch", str(tokens),
                          "--threads", str(threads)], check=True,
                         capture_output=True, text=True).stdout
    m = re.search(r"median_ms=([0-9.]+)", out)
    return float(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sfgen", default=os.path.join(REPO, "build", "sfgen"))
    ap.add_argument("--out", type=int, default=768)
    ap.add_argument("--in", dest="inp", type=int, default=768)
    ap.add_argument("--pattern", default="2:4")
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--runs", type=int, default=51)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--kernels", default="dense,auto,nm_compressed",
                    help="comma-separated: dense, auto, families, or variant names")
    ap.add_argument("--work", default=None)
    args = ap.parse_args()

    work = args.work or tempfile.mkdtemp(prefix="sf-bench-")
    mb = ModelBuilder("layer", seed=3)
    x = mb.input("x", [args.tokens, args.inp])
    y = mb.linear(x, args.out, name="fc", pattern=args.pattern, out="y")
    mb.output(y)
    model = mb.save(work)

    kernels = args.kernels.split(",")
    exes = {k: build(args.sfgen, model, os.path.join(work, k), KERNELS[k])
            for k in kernels}
    threads = [int(t) for t in args.threads.split(",")]
    times = {(k, t): [] for k in kernels for t in threads}
    for _ in range(args.rounds):
        for t in threads:
            for k in kernels:
                times[(k, t)].append(bench(exes[k], args.runs, args.tokens, t))

    print("linear %dx%d, %s, %d tokens; %s; median of %d rounds x %d runs"
          % (args.out, args.inp, args.pattern, args.tokens, cpu_name(),
             args.rounds, args.runs))
    print()
    print("| kernel | threads | median ms | vs dense |")
    print("|---|---|---|---|")
    for t in threads:
        dense = statistics.median(times[("dense", t)]) if "dense" in kernels else None
        for k in kernels:
            med = statistics.median(times[(k, t)])
            ratio = "%.2fx" % (dense / med) if dense else "-"
            print("| %s | %d | %.4f | %s |" % (k, t, med, ratio))


if __name__ == "__main__":
    main()
