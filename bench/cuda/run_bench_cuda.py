#!/usr/bin/env python3
"""make bench-cuda: the CUDA linear-layer kernels against cuBLAS and cuSPARSELt.

Runs bench_gemm (the runtime's kernels and cuBLAS through the same harness),
then peers_torch.py (cuBLAS through torch.mm and cuSPARSELt through
torch._cslt_sparse_mm) on the same shapes, in one run on one GPU, and prints
the median-time ratios: above 1 means SparseFlow is faster.

  run_bench_cuda.py --bench build/bench/bench_gemm [--runs N] [--warmup N]
                    [--filter S] [--out DIR]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", required=True)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--filter", default=None)
    ap.add_argument("--out", default="build/bench-cuda")
    args = ap.parse_args()
    if not shutil.which("nvidia-smi") or subprocess.run(
            ["nvidia-smi", "-L"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).returncode:
        print("make bench-cuda: SKIPPED - no NVIDIA GPU on this machine; nothing was measured.")
        return 0
    os.makedirs(args.out, exist_ok=True)
    ours = os.path.join(args.out, "bench_gemm.jsonl")
    cmd = [args.bench, "--runs", str(args.runs), "--warmup", str(args.warmup), "--json", ours]
    if args.filter:
        cmd += ["--filter", args.filter]
    if subprocess.run(cmd).returncode:
        print("bench_gemm failed", file=sys.stderr)
        return 1
    rows = [json.loads(line) for line in open(ours)]
    shapes = {}
    for r in rows:
        shapes.setdefault(r["name"], r)
    spec = ",".join("%s:%d:%d:%d%s" % (n, r["O"], r["K"], r["T"], ":flush" if r["flush"] else "")
                    for n, r in shapes.items())
    peers = os.path.join(args.out, "peers_torch.json")
    rc = subprocess.run([sys.executable, os.path.join(HERE, "peers_torch.py"), "--shapes", spec,
                         "--runs", str(args.runs), "--warmup", str(args.warmup),
                         "--json", peers]).returncode
    peer = {}
    if rc == 0:
        for p in json.load(open(peers))["results"]:
            if p.get("median_us") and p.get("ok", True):
                peer[(p["name"], p["peer"])] = p["median_us"]
    else:
        print("peers_torch.py failed: the table has no cuSPARSELt column", file=sys.stderr)

    def med(name, pat, kernel):
        for r in rows:
            if r["name"] == name and r["pattern"] == pat and r["kernel"] == kernel:
                return r["median_us"]
        return None

    def ratio(a, b):
        return "%.2fx" % (a / b) if a and b else "-"

    lines = ["| shape | O x K | tokens | pattern | SparseFlow µs | best tile µs | cuBLAS µs "
             "| torch.mm µs | cuSPARSELt µs | vs cuBLAS | vs cuSPARSELt |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, s in shapes.items():
        for pat, kern in (("2:4", "sf_sp24"), ("1:4", "sf_ell")):
            sf = med(name, pat, kern)
            if sf is None:
                continue
            alts = [r["median_us"] for r in rows if r["name"] == name and r["pattern"] == pat
                    and r["kernel"] not in ("cublas_bf16",)]
            best = min(alts) if alts else None
            cb = med(name, pat, "cublas_bf16")
            tm = peer.get((name, "cublas_bf16")) if pat == "2:4" else None
            cs = peer.get((name, "cusparselt_bf16")) if pat == "2:4" else None
            lines.append("| %s | %dx%d | %d | %s | %.1f | %.1f | %s | %s | %s | %s | %s |" % (
                name, s["O"], s["K"], s["T"], pat, sf, best, "%.1f" % cb if cb else "-",
                "%.1f" % tm if tm else "-", "%.1f" % cs if cs else "-", ratio(cb, sf),
                ratio(cs, sf)))
    table = "\n".join(lines)
    open(os.path.join(args.out, "table.md"), "w").write(table + "\n")
    print()
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
