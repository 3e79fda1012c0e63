#!/usr/bin/env python3
"""Peer timings for the 2:4-sparse GEMM  y^T[O][T] = W[O][K] @ x[T][K]^T  (bf16).

Peers:
  cublas_bf16      dense torch.mm(W, x.t()) on the bf16 W (zeros included).
  cusparselt_bf16  torch._cslt_sparse_mm on W compressed once by torch._cslt_compress,
                   with the best alg_id/split_k from cuSPARSELt's search when available.

Method: W ~ randn (seeded per shape by crc32(name)), pruned to 2:4 along K by keeping
the two largest |w| of each group of 4; x ~ randn. `--warmup` untimed calls, then
`--runs` replays of a CUDA graph of 10 calls, each replay between two events; the
median and min per call are reported (time_calls). With `:flush` a 256 MiB buffer is
zeroed before every call and the zeroing's own time subtracted, so each call starts
with a cold L2. TFLOP/s uses dense-equivalent flops 2*O*K*T.

Usage: peers_torch.py --shapes name:O:K:T[:flush],... --runs R --warmup W --json OUT
"""
import argparse, json, statistics, sys, zlib
import torch

MIN_T_PADS = (8, 16, 32, 64)  # cuSPARSELt rejects too-narrow dense operands (e.g. T=1)


def parse_shapes(spec):
    shapes = []
    for ent in filter(None, spec.split(",")):
        f = ent.split(":")
        if len(f) not in (4, 5) or (len(f) == 5 and f[4] != "flush"):
            sys.exit(f"bad shape '{ent}': want name:O:K:T[:flush]")
        shapes.append((f[0], int(f[1]), int(f[2]), int(f[3]), len(f) == 5))
    return shapes


def prune_2_4(w):
    """Zero the 2 smallest-|w| of every 4 consecutive elements along K (last dim)."""
    O, K = w.shape
    assert K % 4 == 0, "K must be a multiple of 4 for 2:4"
    g = w.reshape(O, K // 4, 4)
    keep = torch.zeros_like(g, dtype=torch.bool).scatter_(-1, g.abs().topk(2, dim=-1).indices, True)
    return (g * keep).reshape(O, K)


def time_calls(fn, runs, warmup, flush_buf, reps=10):
    """Median and min microseconds of one call. The calls are captured in a CUDA
    graph (reps of them, each after the L2 flush when flushing) and the replays
    timed, so host work per call (cuSPARSELt plans its matmul on every
    torch._cslt_sparse_mm) stays out of the kernel time; the flush's own time,
    measured the same way, is subtracted. Falls back to eager calls, each
    between two events, where capture fails. Returns (median, min, graphed)."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()

    def replay_us(body):
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            body()
        torch.cuda.current_stream().wait_stream(side)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            body()
        g.replay()
        ev = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
              for _ in range(runs)]
        for s, e in ev:
            s.record(); g.replay(); e.record()
        torch.cuda.synchronize()
        return [s.elapsed_time(e) * 1e3 / reps for s, e in ev]

    def calls():
        for _ in range(reps):
            if flush_buf is not None:
                flush_buf.zero_()
            fn()
    try:
        us = replay_us(calls)
        if flush_buf is not None:
            fl = statistics.median(replay_us(lambda: [flush_buf.zero_() for _ in range(reps)]))
            us = [u - fl for u in us]
        return statistics.median(us), min(us), True
    except Exception:
        torch.cuda.synchronize()
    ev = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(runs)]
    for s, e in ev:
        if flush_buf is not None:
            flush_buf.zero_()  # evict L2; enqueued before the start event, so not timed
        s.record(); fn(); e.record()
    torch.cuda.synchronize()
    us = [s.elapsed_time(e) * 1e3 for s, e in ev]
    return statistics.median(us), min(us), False


def cslt_setup(W, x, b_layout):
    """Compress W, find a dense-operand width cuSPARSELt accepts, pick its best algorithm.
    Returns (call, t_used, alg_id, split_k, out[:, :T]) for the timed call."""
    T, K = x.shape
    Wc = torch._cslt_compress(W)
    last = None
    for t in [T] + [p for p in MIN_T_PADS if p > T]:
        # Pad with random rows, not zeros, so the padded columns do real work too.
        xp = x if t == T else torch.cat([x, torch.randn(t - T, K, device=x.device, dtype=x.dtype)])
        B = xp.t().contiguous() if b_layout == "contig" else xp.t()
        try:
            torch._cslt_sparse_mm(Wc, B); torch.cuda.synchronize()
            break
        except RuntimeError as e:
            last = e
    else:
        raise RuntimeError(f"no accepted T in {[T, *MIN_T_PADS]}: {last}")
    kw = {}
    try:  # newer torch: (alg_id, split_k, split_k_mode, max_alg_id)
        a, sk, skm, _ = torch._C._cusparselt.mm_search(Wc, B, None, None, None, False)
        kw = dict(alg_id=int(a), split_k=int(sk), split_k_mode=int(skm))
    except Exception:
        try:
            a = torch._cslt_sparse_mm_search(Wc, B)
            kw = dict(alg_id=int(a[0] if isinstance(a, (tuple, list)) else a))
        except Exception:
            pass
    # Keep the richest keyword form this torch accepts; fall back to positional.
    cands = [kw, {"alg_id": kw["alg_id"]}, {}] if "alg_id" in kw else [{}]
    for cand in cands:
        try:
            out = torch._cslt_sparse_mm(Wc, B, **cand); torch.cuda.synchronize()
            call = (lambda c=cand: torch._cslt_sparse_mm(Wc, B, **c)) if cand else (lambda: torch._cslt_sparse_mm(Wc, B))
            return call, t, cand.get("alg_id"), cand.get("split_k"), out[:, :T]
        except (TypeError, RuntimeError):
            continue
    raise RuntimeError("torch._cslt_sparse_mm rejected every argument form")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shapes", required=True)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--json", required=True)
    ap.add_argument("--cslt-b", choices=("contig", "view"), default="contig",
                    help="cuSPARSELt dense operand: x.t().contiguous() [K][T] (default) or the x.t() view")
    a = ap.parse_args()
    shapes = parse_shapes(a.shapes)
    dev = torch.device("cuda")
    flush_buf = None
    results = []
    for name, O, K, T, flush in shapes:
        if flush and flush_buf is None:
            flush_buf = torch.empty(256 << 20, dtype=torch.uint8, device=dev)
        g = torch.Generator(device=dev).manual_seed(zlib.crc32(name.encode()))
        W = prune_2_4(torch.randn(O, K, device=dev, generator=g)).to(torch.bfloat16)
        x = torch.randn(T, K, device=dev, generator=g).to(torch.bfloat16)
        fb = flush_buf if flush else None
        base = dict(name=name, O=O, K=K, T=T, flush=flush, runs=a.runs)

        ref = torch.mm(W, x.t())
        med, mn, gr = time_calls(lambda: torch.mm(W, x.t()), a.runs, a.warmup, fb)
        results.append(dict(base, peer="cublas_bf16", median_us=med, min_us=mn, t_used=T, alg_id=None, ok=True,
                            graph=gr))

        r = dict(base, peer="cusparselt_bf16", b_layout=a.cslt_b)
        try:
            call, t_used, alg, sk, out = cslt_setup(W, x, a.cslt_b)
            err = ((out.float() - ref.float()).norm() / ref.float().norm()).item()
            ok = err < 1e-2
            if not ok:
                print(f"WARNING: {name}: cusparselt vs cublas rel. Frobenius error {err:.3e} >= 1e-2", file=sys.stderr)
            med, mn, gr = time_calls(call, a.runs, a.warmup, fb)
            r.update(median_us=med, min_us=mn, t_used=t_used, alg_id=alg, split_k=sk, rel_err=err, ok=ok,
                     graph=gr)
        except Exception as e:  # unavailable / unsupported shape: record and go on
            r.update(median_us=None, min_us=None, t_used=None, alg_id=None, ok=False, error=str(e).splitlines()[0] if str(e) else repr(e))
        results.append(r)

        for res in results[-2:]:
            if res.get("median_us") is None:
                print(f"{name:16s} O={O:6d} K={K:6d} T={T:5d} {res['peer']:16s} ERROR {res['error']}")
            else:
                tf = 2.0 * O * K * T / (res["median_us"] * 1e-6) / 1e12
                print(f"{name:16s} O={O:6d} K={K:6d} T={T:5d} {res['peer']:16s} median {res['median_us']:9.2f} us  "
                      f"min {res['min_us']:9.2f} us  {tf:7.2f} TFLOP/s{'' if res['ok'] else '  [NOT OK]'}")
        del W, x, ref
        torch.cuda.empty_cache()

    with open(a.json, "w") as f:
        json.dump({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
