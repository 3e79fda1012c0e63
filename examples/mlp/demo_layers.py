#!/usr/bin/env python3
"""demo_layers.py REPORT.json - which layers of a generated model run sparse,
and why, from sfgen's report.json (docs/FORMATS.md#reportjson).

A layer "runs sparse" when its planned kernel skips weights: it computes
fewer FLOPs than the dense layer (plan.flops_per_token below
plan.flops_per_token_dense). The reason is the planner's own
(plan.reason_text), next to the N:M pattern the census found.
"""
import json
import sys


def main():
    if len(sys.argv) != 2:
        print("usage: demo_layers.py REPORT.json", file=sys.stderr)
        return 2
    rep = json.load(open(sys.argv[1]))
    rows = []
    for layer in rep["layers"]:
        plan, census = layer["plan"], layer["census"]
        dense, planned = plan["flops_per_token_dense"], plan["flops_per_token"]
        sparse = planned < dense
        rows.append((layer["name"], "%d -> %d" % (layer["in"], layer["out"]),
                     "%.0f %%" % (100 * census["density"]), plan.get("pattern", "-"),
                     plan["kernel"], "%.2fx" % (dense / planned) if planned else "-",
                     "sparse" if sparse else "dense", plan["reason_text"]))
    head = ("layer", "in -> out", "nonzero", "N:M", "kernel", "fewer FLOP", "runs")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    fmt = "  ".join("%%-%ds" % w for w in widths)
    print((fmt % head).rstrip())
    for r in rows:
        print((fmt % r[:-1]).rstrip())
    print()
    for name, _, nonzero, pattern, kernel, fewer, runs, why in rows:
        if runs == "sparse":
            print("%s runs sparse: %s of its weights are nonzero, in a %s pattern; %s "
                  "multiplies only those (%s fewer FLOP)." % (name, nonzero, pattern, kernel,
                                                               fewer))
        else:
            print("%s runs dense: %s of its weights are nonzero, nothing to skip (kernel %s, "
                  "pattern %s keeps every weight)." % (name, nonzero, kernel, pattern))
        print("    why %s: %s" % (kernel, why))
    return 0


if __name__ == "__main__":
    sys.exit(main())
