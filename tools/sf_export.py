#!/usr/bin/env python3
"""sf_export.py - exports a PyTorch module as a SparseFlow model (JSON graph
plus safetensors weights) with the torch.fx exporter of the sparseflow
package (python/sparseflow/export.py), from the command line:

    PYTHONPATH=python python3 tools/sf_export.py FILE.py:FUNCTION -o DIR
                                  [--name NAME] [--prune N:M] [--cache C]

FUNCTION, defined in FILE.py, takes no arguments and returns (module,
{input name: example tensor}) with the inputs in the order of forward's
parameters; the examples' first dimension is the maximum batch. --prune
prunes every Linear and Conv2d to N:M first; --cache gives causal attention
a key/value cache of C positions. Writes DIR/NAME.json and
DIR/NAME.safetensors (NAME: FUNCTION) and prints the JSON path. A module or
function without a SparseFlow op, a forward torch.fx cannot trace and a
model that fails on its examples are errors naming the node and saying what
to do instead (exit 1, nothing written); examples/models/README.md lists
what maps to what.

From Python:

    from sparseflow.export import export, prune_nm
    export(model, {"x": example}, "out/", name="net")
"""
import argparse
import importlib.util
import os
import sys

try:
    from sparseflow.export import ExportError, export, prune_nm
except ModuleNotFoundError as e:
    if e.name != "sparseflow":
        raise
    sys.exit("sf_export.py: the sparseflow package is not on the path; from the repository "
             "root, run PYTHONPATH=python python3 tools/sf_export.py ...")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("factory", metavar="FILE.py:FUNCTION")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--name", default=None, help="model name (default: FUNCTION)")
    ap.add_argument("--prune", default=None, help="N:M, e.g. 2:4")
    ap.add_argument("--cache", type=int, default=None,
                    help="key/value cache positions of causal attention")
    args = ap.parse_args()
    path, sep, func = args.factory.rpartition(":")
    if not sep or not path.endswith(".py") or not func:
        ap.error("want FILE.py:FUNCTION, got %r" % args.factory)
    spec = importlib.util.spec_from_file_location(
        os.path.splitext(os.path.basename(path))[0], path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    model, inputs = getattr(mod, func)()
    if args.prune:
        prune_nm(model, *(int(v) for v in args.prune.split(":")))
    try:
        print(export(model, inputs, args.out, name=args.name or func, cache=args.cache))
    except ExportError as e:
        print("sf_export: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
