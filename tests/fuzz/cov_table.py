#!/usr/bin/env python3
"""Line coverage per generator file as a Markdown table, from `llvm-cov
report` outputs (make fuzz-coverage writes build/fuzz-cov/report.txt):

    python3 tests/fuzz/cov_table.py REPORT            one column
    python3 tests/fuzz/cov_table.py BEFORE AFTER      before, after
"""
import sys


def read(path):
    """{file: (lines, missed)} from an llvm-cov report, TOTAL included."""
    rows = {}
    for line in open(path):
        f = line.split()
        # Filename Regions Missed Cover Functions Missed Executed Lines Missed Cover ...
        if len(f) >= 10 and f[1].isdigit() and f[7].isdigit() and f[8].isdigit():
            rows[f[0]] = (int(f[7]), int(f[8]))
    return rows


def pct(r):
    if not r or not r[0]:
        return "-"
    return "%.1f %%" % (100.0 * (r[0] - r[1]) / r[0])


def main(argv):
    reports = [read(p) for p in argv[1:]]
    if not reports:
        raise SystemExit(__doc__)
    files = sorted({f for r in reports for f in r if f != "TOTAL" and r[f][0]})
    head = ["file", "lines"] + (["before", "after"] if len(reports) == 2 else ["covered"])
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(["------"] + ["-----:"] * (len(head) - 1)) + "|")
    for f in files + ["TOTAL"]:
        lines = next(r[f][0] for r in reversed(reports) if f in r)
        cells = [("**%s**" % f) if f == "TOTAL" else "`generator/%s`" % f, str(lines)]
        cells += [pct(r.get(f)) for r in reports]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv)
