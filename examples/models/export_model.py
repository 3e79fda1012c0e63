#!/usr/bin/env python3
"""export_model.py - writes one of the example networks as a SparseFlow
model (JSON + safetensors), seeded random weights, optionally N:M pruned,
plus the example inputs as .npy files and PyTorch's outputs for them.

    PYTHONPATH=python python3 examples/models/export_model.py resnet50|bert|gpt2 -o DIR
                    [--tiny] [--prune 2:4] [--seed N] [--seq S] [--batch B] [--cache C]
                    [--name NAME]

(PYTHONPATH=python, from the repository root: the sparseflow package.) The
networks are those of sparseflow.testing.networks, exported with
sparseflow.export.

The weights depend only on the architecture, --tiny, --prune and --seed, so
exports at other sequence lengths (--seq) share them: with --cache, a
prompt model and a one-token step model for examples/gpt2/generate.c.
"""
import argparse
import os
import sys

import numpy as np
import torch

try:
    from sparseflow import export as sf_export
    from sparseflow.testing import networks
except ModuleNotFoundError as e:
    if e.name != "sparseflow":
        raise
    sys.exit("export_model.py: the sparseflow package is not on the path; from the repository "
             "root, run PYTHONPATH=python python3 examples/models/export_model.py ...")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("arch", choices=["resnet50", "bert", "gpt2"])
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--tiny", action="store_true", help="the reduced test size")
    ap.add_argument("--prune", default=None, help="N:M, e.g. 2:4 or 1:4")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--seq", type=int, default=None, help="tokens per run (bert, gpt2)")
    ap.add_argument("--batch", type=int, default=None, help="the maximum batch")
    ap.add_argument("--cache", type=int, default=None,
                    help="key/value cache positions of causal attention (gpt2)")
    ap.add_argument("--name", default=None, help="model name (default: the architecture)")
    args = ap.parse_args()
    model, inputs = networks.build(args.arch, tiny=args.tiny, seed=args.seed, seq=args.seq,
                                       batch=args.batch)
    if args.prune:
        n, m = (int(v) for v in args.prune.split(":"))
        sf_export.prune_nm(model, n, m)
    path = sf_export.export(model, inputs, args.out, name=args.name or args.arch,
                            cache=args.cache)
    for k, v in inputs.items():
        np.save(os.path.join(args.out, "%s.npy" % k), v.numpy().astype(np.float32))
    with torch.no_grad():
        np.save(os.path.join(args.out, "expected.npy"), model(*inputs.values()).numpy())
    print("wrote %s, inputs %s, expected.npy" % (path, ", ".join(k + ".npy" for k in inputs)))


if __name__ == "__main__":
    main()
