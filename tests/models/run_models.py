#!/usr/bin/env python3
"""run_models.py - whole networks against PyTorch: each architecture of
sparseflow.testing.networks is exported with sparseflow.export (dense, 2:4
and 1:4 pruned), generated with sfgen, built, run at batch 1 and at the
maximum batch, and compared with PyTorch's output on the same weights and
inputs (max |sf - torch| / max |torch| <= 1e-4). Also checks that the arena
stays within 1.25x of the most bytes live at one step. `ops` (OpsNet) is the
elementwise and reduction ops in their PyTorch spellings; its export is also
evaluated by the float64 reference (sparseflow.reference) against PyTorch,
which checks the exporter's mappings without sfgen.

    PYTHONPATH=python run_models.py [--full] [--arch resnet50,bert,gpt2,ops]
                                    [--prune dense,2:4,1:4] [--work DIR]

--full runs the full-size models (make test-models); the default runs the
reduced ones (same ops, fewer and smaller layers) for make test.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

from sparseflow import export as sf_export
from sparseflow import reference
from sparseflow.testing import networks

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TOL = 1e-4
ARENA_SLACK = 1.25


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode:
        raise RuntimeError("$ %s\n[exit %d]\n%s%s" % (" ".join(cmd), p.returncode,
                                                    p.stdout[-3000:], p.stderr[-3000:]))
    return p.stdout


def check(arch, prune, tiny, sfgen, work):
    model, inputs = networks.build(arch, tiny=tiny, seed=1)
    if prune:
        n, m = (int(v) for v in prune.split(":"))
        sf_export.prune_nm(model, n, m)
    name = "%s_%s" % (arch, (prune or "dense").replace(":", "_"))
    d = os.path.join(work, name)
    model_json = sf_export.export(model, inputs, d, name=name)
    gen = os.path.join(d, "gen")
    shutil.rmtree(gen, ignore_errors=True)  # a fresh folder each run
    t0 = time.time()
    run([sfgen, model_json, "-o", gen, "-q"])
    run(["make", "-s", "-C", gen, "-j%d" % (os.cpu_count() or 2)])
    build_s = time.time() - t0
    rep = json.load(open(os.path.join(gen, "report.json")))
    results = []
    arena, peak = rep["arena_bytes"], rep["arena_live_peak"]
    results.append(("arena %d <= %.2f x live peak %d" % (arena, ARENA_SLACK, peak),
                    arena <= ARENA_SLACK * peak))
    out_names = json.load(open(model_json))["outputs"]
    maxb = next(iter(inputs.values())).shape[0]
    for b in sorted({1, maxb}):
        sub = {k: v[:b] for k, v in inputs.items()}
        with torch.no_grad():
            ref = model(*sub.values())
        ref = [ref] if isinstance(ref, torch.Tensor) else list(ref)
        cmd = [os.path.join(gen, name), "--threads", "2"]
        for k, v in sub.items():
            p = os.path.join(d, "in_%s_b%d.npy" % (k, b))
            np.save(p, v.numpy().astype(np.float32))
            cmd += ["--input", "%s=%s" % (k, p)]
        outs = []
        for o in out_names:
            p = os.path.join(d, "out_%s_b%d.npy" % (o, b))
            cmd += ["--output", "%s=%s" % (o, p)]
            outs.append(p)
        run(cmd)
        # the exporter's mappings on their own: the float64 reference of the export
        fp64 = reference.evaluate(model_json, {k: v.numpy() for k, v in sub.items()}) \
            if arch == "ops" else {}
        for o, p, r in zip(out_names, outs, ref):
            r = r.numpy().astype(np.float64)
            for what, y in [("", np.load(p).astype(np.float64))] + \
                    ([(" (reference)", fp64[o])] if o in fp64 else []):
                err = np.abs(y - r).max() / max(np.abs(r).max(), 1e-30) if y.shape == r.shape \
                    else float("inf")
                results.append(("%s%s batch=%d max rel err %.2e" % (o, what, b, err),
                                err <= TOL))
    return name, build_s, results


def check_decode(prune, tiny, sfgen, work):
    """GPT-2 with a key/value cache: a prompt model (P tokens per call) and a
    step model (one token) generated from one export share a cache in
    examples/gpt2/generate.c, which runs the prompt, more given tokens one at a
    time, then greedy generation. Every position's logits must match PyTorch
    run on the whole sequence (the ids generated included)."""
    model, inputs = networks.build("gpt2", tiny=tiny, seed=1)
    if prune:
        sf_export.prune_nm(model, *(int(v) for v in prune.split(":")))
    ctx = model.wpe.weight.shape[0]
    maxb, P, given, new = (2, 5, 8, 6) if tiny else (1, 32, 40, 8)
    ctx = min(ctx, given + new + 8)
    d = os.path.abspath(os.path.join(work, "gpt2_cache_%s" % (prune or "dense").replace(":", "_")))
    t0 = time.time()
    gens = {}
    for name, S in (("gpt2_prompt", P), ("gpt2_step", 1)):
        ex = {"ids": torch.zeros(maxb, S, dtype=torch.long),
              "positions": torch.arange(S).repeat(maxb, 1)}
        mj = sf_export.export(model, ex, os.path.join(d, name), name=name, cache=ctx)
        gens[name] = os.path.join(d, name, "gen")
        shutil.rmtree(gens[name], ignore_errors=True)
        run([sfgen, mj, "-o", gens[name], "-q"])
        run(["make", "-s", "-C", gens[name], "-j%d" % (os.cpu_count() or 2)])
    run(["make", "-s", "-C", os.path.join(REPO, "examples", "gpt2"), "PROMPT=" + gens["gpt2_prompt"],
         "STEP=" + gens["gpt2_step"], "O=" + d])
    build_s = time.time() - t0
    step = gens["gpt2_step"]
    run(["cc", "-std=c11", "-O1", "-Wall", "-Wextra", "-Werror", "-I" + step,
         os.path.join(REPO, "tests", "models", "cache_errors.c"), os.path.join(step, "libgpt2_step.a"),
         "-fopenmp", "-lm", "-o", os.path.join(d, "cache_errors")])
    p = subprocess.run([os.path.join(d, "cache_errors")], capture_output=True, text=True)
    results = [("run_cached argument checks (ECACHE, ENULL, both ends of the range): %s"
                % p.stdout.strip().replace("\n", "; "), p.returncode == 0)]
    V = model.head.weight.shape[0]
    gen = torch.Generator().manual_seed(7)
    for b in sorted({1, maxb}):
        ids = torch.randint(0, V, (b, given), generator=gen)
        ip, lp, op = (os.path.join(d, "%s_b%d.npy" % (k, b)) for k in ("ids", "logits", "out"))
        np.save(ip, ids.numpy().astype(np.float32))
        run([os.path.join(d, "generate"), ip, str(new), lp, op])
        seq = np.load(op)
        y = np.load(lp).astype(np.float64)
        ok_ids = seq.shape == (b, given + new + 1) and (seq[:, :given] == ids.numpy()).all()
        T = given + new
        full = torch.from_numpy(seq[:, :T].astype(np.int64))
        with torch.no_grad():
            r = model(full, torch.arange(T).repeat(b, 1)).numpy().astype(np.float64)
        err = np.abs(y - r).max() / np.abs(r).max() if y.shape == r.shape else float("inf")
        results.append(("cached decode batch=%d: prompt %d, %d given, %d generated, all logits "
                        "max rel err %.2e" % (b, P, given - P, new, err), err <= TOL and ok_ids))
    return os.path.basename(d), build_s, results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sfgen", default=os.path.join(REPO, "build", "sfgen"))
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--arch", default="resnet50,bert,gpt2,ops")
    ap.add_argument("--prune", default="dense,2:4,1:4")
    ap.add_argument("--work", default=None)
    args = ap.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="sf-models-")
    torch.set_num_threads(2)
    passed = failed = 0
    jobs = [(arch, pr, check) for arch in args.arch.split(",") for pr in args.prune.split(",")]
    if "gpt2" in args.arch.split(","):
        jobs += [("gpt2-cache", pr, lambda _a, p, t, s, w: check_decode(p, t, s, w))
                 for pr in args.prune.split(",")]
    for arch, pr, fn in jobs:
        label = "%s %s %s" % (arch, "full" if args.full else "tiny", pr)
        try:
            name, secs, results = fn(arch, None if pr == "dense" else pr,
                                     not args.full, args.sfgen, work)
        except Exception as e:  # noqa: BLE001 - reported as a failure
            print("%-28s FAIL %s" % (label, e))
            failed += 1
            continue
        ok = all(r[1] for r in results)
        for what, good in results:
            print("%-28s %s  %s" % (label, "PASS" if good else "FAIL", what))
            passed += good
            failed += not good
        print("# %s: generated and built in %.1fs" % (label, secs), flush=True)
        if ok:
            shutil.rmtree(os.path.join(work, name), ignore_errors=True)
    if not failed and not args.work:
        shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
