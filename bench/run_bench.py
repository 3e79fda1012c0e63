#!/usr/bin/python3
# run_bench.py - `make bench`: SparseFlow linear layers against dense peers
# (oneDNN dnnl_sgemm, OpenBLAS cblas_sgemm) in one run, on the shapes that
# matter (BERT-base, square, a 4096x4096 decode layer), for N:M patterns,
# token counts and thread counts. Every generated build is first checked
# against a float64 reference; times are medians of RUNS runs after warm-up.
# Writes a markdown table (and a PNG plot if gnuplot is there) into
# docs/PERFORMANCE.md between the BENCH markers, and prints the table.
#
#   /usr/bin/python3 bench/run_bench.py [--quick] [--runs 11] [--threads 1,2]
import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))

import ref  # noqa: E402
from sfmodel import ModelBuilder  # noqa: E402

SHAPES = [  # (name, out, in, token counts)
    ("bert-qkv 768x768", 768, 768, [1, 8, 32, 128, 512]),
    ("bert-ffn1 3072x768", 3072, 768, [1, 8, 32, 128, 512]),
    ("bert-ffn2 768x3072", 768, 3072, [1, 8, 32, 128, 512]),
    ("square 512", 512, 512, [128, 512]),
    ("square 1024", 1024, 1024, [128, 512]),
    ("square 2048", 2048, 2048, [128, 512]),
    ("decode 4096x4096", 4096, 4096, [1, 8]),
]
PATTERNS = ["dense", "2:4", "1:4", "2:8", "4:16", "8:32"]
MARK_BEGIN = "<!-- BENCH:BEGIN (bench/run_bench.py writes this part) -->"
MARK_END = "<!-- BENCH:END -->"


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def median_ms(out):
    m = re.search(r"median_ms=([0-9.]+)", out)
    if not m:
        raise RuntimeError("no median in: " + out)
    return float(m.group(1))


def peer_env(lib, threads):
    """Threads for the library measured, one for the other's idle pool."""
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(threads if lib == "onednn" else 1)
    env["OPENBLAS_NUM_THREADS"] = str(threads if lib == "openblas" else 1)
    return env


def run(cmd, env=None):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout


def build_layer(sfgen, work, out_f, in_f, pattern, tmax):
    mb = ModelBuilder("layer", seed=out_f * 7 + in_f)
    x = mb.input("x", [tmax, in_f])
    y = mb.linear(x, out_f, name="fc", pattern=None if pattern == "dense" else pattern, out="y")
    mb.output(y)
    d = os.path.join(work, "%dx%d_%s" % (out_f, in_f, pattern.replace(":", "-")))
    model = mb.save(d)
    gen = os.path.join(d, "gen")
    if os.path.exists(gen):
        shutil.rmtree(gen)
    run([sfgen, model, "-o", gen, "-q"])
    run(["make", "-s", "-C", gen, "-j2"])
    with open(os.path.join(gen, "report.json")) as f:
        kernel = json.load(f)["layers"][0]["plan"]["kernel"]
    return gen, kernel


def check(gen, in_f, tmax):
    """Max relative error of the build against the float64 reference."""
    xs = np.random.default_rng(1).standard_normal((tmax, in_f)).astype(np.float32)
    xp = os.path.join(gen, "x.npy")
    yp = os.path.join(gen, "y.npy")
    np.save(xp, xs)
    run([os.path.join(gen, "layer"), "--input", xp, "--output", yp])
    r = ref.evaluate(os.path.join(os.path.dirname(gen), "layer.json"),
                     {"x": xs.astype(np.float64)})["y"]
    y = np.load(yp)
    return float(np.abs(y - r).max() / max(np.abs(r).max(), 1e-30))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sfgen", default=os.path.join(REPO, "build", "sfgen"))
    ap.add_argument("--peers", default=os.path.join(REPO, "build", "bench", "peers"))
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--quick", action="store_true", help="BERT shapes, T=1 and 128, 2:4 and 1:4")
    ap.add_argument("--work", default=None)
    ap.add_argument("--doc", default=os.path.join(REPO, "docs", "PERFORMANCE.md"))
    args = ap.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="sf-bench-")
    threads = [int(t) for t in args.threads.split(",")]
    shapes, patterns = SHAPES, PATTERNS
    if args.quick:
        shapes = [(n, o, i, [1, 128]) for n, o, i, _ in SHAPES[:3]]
        patterns = ["dense", "2:4", "1:4"]

    bw = {t: float(re.search(r"gbps=([0-9.]+)", run([args.peers, "membw", "1", "1", "1",
                                                      str(t), "5"])).group(1))
          for t in threads}
    rows, worst = [], 0.0
    peer_cache = {}
    for name, out_f, in_f, tokens in shapes:
        tmax = max(tokens)
        for pat in patterns:
            gen, kernel = build_layer(args.sfgen, work, out_f, in_f, pat, tmax)
            err = check(gen, in_f, tmax)
            worst = max(worst, err)
            if err > 1e-4:
                print("FAIL %s %s: max rel err %.3g" % (name, pat, err))
                return 1
            exe = os.path.join(gen, "layer")
            for t in threads:
                for T in tokens:
                    sf = median_ms(run([exe, "--bench", str(args.runs), "--batch", str(T),
                                        "--threads", str(t)]))
                    key = (out_f, in_f, T, t)
                    if key not in peer_cache:
                        peer_cache[key] = tuple(
                            median_ms(run([args.peers, lib, str(out_f), str(in_f), str(T),
                                           str(t), str(args.runs)], env=peer_env(lib, t)))
                            for lib in ("onednn", "openblas"))
                    dnnl, oblas = peer_cache[key]
                    gflops = 2.0 * out_f * in_f * T / (sf * 1e6)  # dense-equivalent
                    gbps = 4.0 * out_f * in_f / (sf * 1e6)  # fp32 weights, dense-equivalent
                    row = dict(shape=name, pattern=pat, T=T, threads=t, kernel=kernel,
                               sf=sf, dnnl=dnnl, oblas=oblas, ratio=dnnl / sf,
                               gflops=gflops, gbps=gbps, bw=bw[t])
                    rows.append(row)
                    print("%-20s %-5s T=%-4d t=%d %-14s sf %.4f  oneDNN %.4f  OpenBLAS %.4f  "
                          "x%.2f" % (name, pat, T, t, kernel, sf, dnnl, oblas, dnnl / sf),
                          flush=True)

    lines = ["Machine: %s, %d cores; read bandwidth (bench/peers membw) %s. "
             "sfgen %s, GCC, `-O3 -march=native`. Median of %d runs after warm-up; "
             "ratio = oneDNN time / SparseFlow time (>1: SparseFlow faster); GFLOP/s are "
             "dense-equivalent (2·O·K·T / time), and so is GB/s (4·O·K bytes of fp32 weights / "
             "time: the figure to hold against the bandwidth at T = 1). Every build was checked against a float64 "
             "reference first (worst relative error %.2g)."
             % (cpu_name(), os.cpu_count(),
                ", ".join("%.1f GB/s on %d thread%s" % (bw[t], t, "s" if t > 1 else "")
                          for t in threads),
                run([args.sfgen, "--version"]).strip().split()[-1], args.runs, worst), "",
             "| shape | pattern | T | threads | kernel | SparseFlow ms | oneDNN ms | OpenBLAS ms "
             "| vs oneDNN | GFLOP/s | GB/s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| %s | %s | %d | %d | %s | %.4f | %.4f | %.4f | %.2fx | %.1f | %.1f |"
                     % (r["shape"], r["pattern"], r["T"], r["threads"], r["kernel"], r["sf"],
                        r["dnnl"], r["oblas"], r["ratio"], r["gflops"], r["gbps"]))
    table = "\n".join(lines)
    print()
    print(table)

    plot = ""
    if shutil.which("gnuplot"):
        dat = os.path.join(work, "ratio.dat")
        with open(dat, "w") as f:
            for r in rows:
                if r["T"] == 128 and r["threads"] == 1:
                    f.write('"%s %s" %.3f\n' % (r["shape"].replace("bert-", "").split(" ")[0]
                                                 + "-" + r["shape"].split(" ")[1],
                                                 r["pattern"], r["ratio"]))
        png = os.path.join(REPO, "docs", "bench_t128.png")
        script = ('set terminal png size 1100,420; set output "%s"; set style fill solid; '
                  'set boxwidth 0.7; set xtics rotate by -60 font ",8"; set grid ytics; '
                  'set yrange [0:*]; '
                  'set ylabel "speed vs oneDNN (T=128, 1 thread)"; unset key; '
                  'plot "%s" using 0:2:xtic(1) with boxes, 1 with lines lc rgb "red"'
                  % (png, dat))
        if os.path.getsize(dat) and subprocess.run(["gnuplot", "-e", script]).returncode == 0:
            plot = "\n\n![speed vs oneDNN at T=128, one thread](bench_t128.png)\n"
    if os.path.exists(args.doc):
        with open(args.doc) as f:
            doc = f.read()
        block = MARK_BEGIN + "\n" + table + plot + "\n" + MARK_END
        if MARK_BEGIN in doc:
            doc = doc[:doc.index(MARK_BEGIN)] + block + doc[doc.index(MARK_END) + len(MARK_END):]
        else:
            doc = doc.rstrip("\n") + "\n\n## Linear layers against dense libraries (`make bench`)" \
                  "\n\n" + block + "\n"
        with open(args.doc, "w") as f:
            f.write(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
