#!/usr/bin/env python3
"""run_docs.py - the code blocks of README.md and docs/*.md, run as a user
would paste them, plus the demo, docs/PERFORMANCE.md's whole-model summary
against its table, and README.md's list of installed packages against the
Makefile.

Every code block says what it is: a fenced block by its info string, an
indented block by a comment `<!-- doc: INFO -->` as the last non-blank line
before it (docs/ARCHITECTURE.md#tests). INFO is one of

    sh                  commands: run with `sh -e` in the scratch folder
    sh norun            commands not run here (they take minutes, need a
                        GPU, or are a template with placeholders)
    c file=NAME         written to NAME in the scratch folder; a later sh
    python file=NAME    block must use it (compile or run it)
    c norun, python norun   excerpts that are not a whole file
    json                must parse
    text                output, messages, synopses, diagrams: not code

An indented code block without that comment, a fence without an info
string, an unknown info string, or a c/python block that is neither a file nor marked norun fails
the test. All blocks run in one scratch folder, README.md first (the tour
makes tiny.json, out/ and in.npy that the docs use), then docs/*.md in name
order; `sfgen` and `build/sfgen` are the sfgen under test, `python3` this
Python, and `model.json` (the docs' generic model) is the tour's tiny.json.

    run_docs.py --sfgen build/sfgen --make-mlp build/make_mlp --work build/docs
"""
import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LANGS = ("sh", "c", "python", "json", "text")
FENCE = re.compile(r"^( *)(`{3,}|~{3,})(.*)$")
MARK = re.compile(r"^ *<!-- doc: (\S.*?) -->$")
LIST_ITEM = re.compile(r"^( *)([-*+]|\d+[.)]) +")


class Block:
    def __init__(self, path, line, lang, flags, text):
        self.path, self.line, self.lang, self.flags, self.text = path, line, lang, flags, text
        self.file = next((f[5:] for f in flags if f.startswith("file=")), None)
        self.norun = "norun" in flags

    def where(self):
        return "%s:%d" % (self.path, self.line)


def scan(path, text):
    """Returns (blocks, errors) of one Markdown text."""
    blocks, errors = [], []

    def check(b, info):
        if b.lang not in LANGS:
            errors.append("%s: code block with info string %r: use one of %s"
                          % (b.where(), info, ", ".join(LANGS)))
        elif b.lang in ("c", "python") and not b.file and not b.norun:
            errors.append("%s: %s block neither written to a file (file=NAME) nor marked "
                          "norun" % (b.where(), b.lang))
        elif b.lang in ("json", "text") and (b.file or b.norun):
            errors.append("%s: %s blocks take no flags" % (b.where(), b.lang))
        else:
            blocks.append(b)

    lines = text.split("\n")
    i, list_indent, prev_blank = 0, 0, True
    while i < len(lines):
        ln = lines[i]
        m = FENCE.match(ln)
        if m:
            indent, fence, info = len(m.group(1)), m.group(2), m.group(3).strip()
            j = i + 1
            close = re.compile(r"^ *%s{%d,} *$" % (re.escape(fence[0]), len(fence)))
            while j < len(lines) and not close.match(lines[j]):
                j += 1
            body = "\n".join(x[indent:] if x[:indent].strip() == "" else x
                             for x in lines[i + 1:j])
            words = info.split()
            check(Block(path, i + 1, words[0] if words else "", words[1:], body + "\n"), info)
            i, prev_blank = j + 1, False
            continue
        if not ln.strip():
            prev_blank = True
            i += 1
            continue
        indent = len(ln) - len(ln.lstrip(" "))
        if prev_blank and indent >= list_indent + 4:
            start = i
            while i < len(lines) and (not lines[i].strip() or
                                      len(lines[i]) - len(lines[i].lstrip(" ")) >= indent):
                i += 1
            before = [x for x in lines[:start] if x.strip()]
            mark = MARK.match(before[-1]) if before else None
            if mark:
                body = "\n".join(x[indent:] for x in lines[start:i]).strip("\n") + "\n"
                check(Block(path, start + 1, mark.group(1).split()[0],
                            mark.group(1).split()[1:], body), mark.group(1))
            else:
                errors.append("%s:%d: indented code block: fence it with an info string (%s), "
                              "or put <!-- doc: INFO --> before it"
                              % (path, start + 1, ", ".join(LANGS)))
            prev_blank = True
            continue
        lm = LIST_ITEM.match(ln)
        if lm:
            list_indent = len(lm.group(0))
        elif indent == 0:
            list_indent = 0
        prev_blank = False
        i += 1
    return blocks, errors


def selftest():
    """The scanner on small texts: what it must accept and what it must refuse."""
    cases = [
        ("```sh\nmake\n```\n", 1, 0),
        ("```sh norun\nmake test\n```\n", 1, 0),
        ("```c file=app.c\nint main(void) { return 0; }\n```\n", 1, 0),
        ("```c norun\nx = 1;\n```\n", 1, 0),
        ("```text\nout\n```\n- item\n\n  continued paragraph\n", 1, 0),
        ("para\n\n    make -C out/\n", 0, 1),               # indented block
        ("- item\n\n      indented in a list\n", 0, 1),     # indented block in a list
        ("```\nmake\n```\n", 0, 1),                         # no info string
        ("```bash\nmake\n```\n", 0, 1),                     # unknown info string
        ("```c\nint x;\n```\n", 0, 1),                      # neither file= nor norun
        ("```python\nprint(1)\n```\n", 0, 1),
        ("<!-- doc: sh -->\n\n    make -C out/\n", 1, 0),    # a marked indented block
        ("- a\n\n  <!-- doc: sh norun -->\n\n      make test\n", 1, 0),
        ("<!-- doc: bash -->\n\n    make\n", 0, 1),
        ("<!-- doc: c -->\n\n    int x;\n", 0, 1),
    ]
    bad = 0
    for text, nblocks, nerrors in cases:
        blocks, errors = scan("selftest.md", text)
        if (len(blocks), len(errors)) != (nblocks, nerrors):
            print("FAIL selftest: %r gives %d blocks, %d errors (want %d, %d)"
                  % (text, len(blocks), len(errors), nblocks, nerrors))
            bad += 1
    print("%s scanner self-test (%d cases)" % ("ok  " if not bad else "FAIL", len(cases)))
    return bad


def doc_files():
    return [os.path.join(REPO, "README.md")] + sorted(glob.glob(os.path.join(REPO, "docs",
                                                                            "*.md")))


def setup_scratch(args):
    d = os.path.join(args.work, "scratch")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "build"))
    os.makedirs(os.path.join(d, ".bin"))
    os.symlink(args.sfgen, os.path.join(d, "build", "sfgen"))
    os.symlink(args.sfgen, os.path.join(d, ".bin", "sfgen"))
    os.symlink(sys.executable, os.path.join(d, ".bin", "python3"))
    env = dict(os.environ)
    env["PATH"] = os.path.join(d, ".bin") + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = os.path.join(REPO, "python")
    return d, env


def run_blocks(args, blocks):
    d, env = setup_scratch(args)
    failed = 0
    for n, b in enumerate(blocks):
        rel = os.path.relpath(b.path, REPO)
        if rel.startswith("docs/") and not os.path.exists(os.path.join(d, "model.json")) \
                and os.path.exists(os.path.join(d, "tiny.json")):
            shutil.copy(os.path.join(d, "tiny.json"), os.path.join(d, "model.json"))
        where = "%s:%d" % (rel, b.line)
        if b.lang == "json":
            try:
                json.loads(b.text)
                print("ok   %s json parses" % where)
            except ValueError as e:
                print("FAIL %s json: %s" % (where, e))
                failed += 1
            continue
        if b.lang == "text" or b.norun:
            continue
        if b.file:
            with open(os.path.join(d, b.file), "w") as f:
                f.write(b.text)
            used = any(o.lang == "sh" and not o.norun and b.file in o.text
                       for o in blocks[n + 1:])
            print("%s %s %s written to %s%s" % ("ok  " if used else "FAIL", where, b.lang,
                                                 b.file, "" if used else
                                                 ", but no later sh block uses it"))
            failed += not used
            continue
        try:
            p = subprocess.run(["sh", "-e", "-c", b.text], cwd=d, env=env, timeout=300,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            rc, out = p.returncode, p.stdout
        except subprocess.TimeoutExpired as e:
            rc, out = "timeout", (e.stdout or b"").decode(errors="replace")
        first = b.text.strip().split("\n")[0].split("  #")[0].rstrip()
        if rc == 0:
            print("ok   %s sh: %s%s" % (where, first, " ..." if "\n" in b.text.strip() else ""))
        else:
            failed += 1
            print("FAIL %s sh (exit %s):\n    %s\n  output:\n    %s"
                  % (where, rc, b.text.strip().replace("\n", "\n    "),
                     out[-3000:].replace("\n", "\n    ")))
    return failed


# ---- docs/PERFORMANCE.md: the whole-model summary against its table


def check_performance(text):
    """Every figure in the whole-model block's summary lines and text plot
    must be the table's: returns a list of problems."""
    if "<!-- models:begin -->" not in text:
        return ["docs/PERFORMANCE.md: no whole-model block (<!-- models:begin -->)"]
    block = text.split("<!-- models:begin -->", 1)[1].split("<!-- models:end -->", 1)[0]
    table = {}
    for m in re.finditer(r"^\| ([\w-]+) \| (dense|\d+:\d+) \| (\d+) \| \d+ \|.*\| ([0-9.]+)x \|"
                         r" ([0-9.]+)x \|$", block, re.M):
        table[(m.group(1), m.group(2), int(m.group(3)))] = float(m.group(5))
    problems = []
    if not table:
        return ["docs/PERFORMANCE.md: the whole-model table has no rows"]
    for m in re.finditer(r"^- ([\w-]+) (dense|\d+:\d+), (\d+) threads?: ([0-9.]+)x onnxruntime "
                         r"dense", block, re.M):
        key = (m.group(1), m.group(2), int(m.group(3)))
        if key not in table:
            problems.append("summary quotes %s %s on %d threads, which the table lacks" % key)
        elif abs(table[key] - float(m.group(4))) > 0.005:
            problems.append("summary %s %s t=%d: %sx, table %.2fx" % (key + (m.group(4),
                                                                        table[key])))
    for m in re.finditer(r"^- dense weights, (\d+) threads?: ([0-9.]+)-([0-9.]+)x", block, re.M):
        t = int(m.group(1))
        vals = [v for (a, p, tt), v in table.items() if p == "dense" and tt == t]
        if not vals or abs(min(vals) - float(m.group(2))) > 0.005 or \
                abs(max(vals) - float(m.group(3))) > 0.005:
            problems.append("summary 'dense weights, %d threads' %s-%sx, table %s" % (
                t, m.group(2), m.group(3), "%.2f-%.2fx" % (min(vals), max(vals)) if vals
                else "has no dense rows"))
    plot = re.findall(r"^([\w-]+) +(dense|\d+:\d+) +t=(\d+) [#| ]+ ([0-9.]+)x$", block, re.M)
    for arch, pr, t, v in plot:
        key = (arch, pr, int(t))
        if key not in table:
            problems.append("the plot shows %s %s t=%d, which the table lacks" % key)
        elif abs(table[key] - float(v)) > 0.005:
            problems.append("the plot shows %s %s t=%d at %sx, the table %.2fx" % (key + (v,
                                                                                table[key])))
    for key in table:
        if key not in {(a, p, int(t)) for a, p, t, _ in plot}:
            problems.append("the table's %s %s t=%d is not in the plot" % key)
    return problems


# ---- README.md's list of what `make test` and `make demo` install


def check_installs(makefile, readme):
    """Every Debian package the Makefile installs for the build, make test
    and make demo must be named in README.md's "Two commands": returns the
    problems."""
    var = dict(re.findall(r"^(\w+_PKGS) = (.*)$", makefile, re.M))
    pkgs = set()
    for name in ("DEB_PKGS", "LINT_PKGS", "MODEL_PKGS", "FUZZ_PKGS"):
        if name not in var:
            return ["Makefile: no %s" % name]
        pkgs.update(var[name].split())
    pkgs.update(re.search(r"install_pkgs,(python3-venv[^)]*)\)", makefile).group(1).split())
    section = readme.split("## Two commands", 1)[-1].split("\n## ", 1)[0]
    words = set(re.findall(r"[\w.+-]+", section))
    return ["README.md's \"Two commands\" does not name %s, which the Makefile installs" % p
            for p in sorted(pkgs) if p not in words]


# ---- the demo (make demo): which layers run sparse and why, timed with spread


def check_demo(args):
    b = os.path.join(args.work, "demo-build")
    shutil.rmtree(b, ignore_errors=True)
    os.makedirs(b)
    os.symlink(args.sfgen, os.path.join(b, "sfgen"))
    os.symlink(args.make_mlp, os.path.join(b, "make_mlp"))
    env = dict(os.environ, PYTHON=sys.executable, DEMO_PYTHON=sys.executable,
               DEMO_BENCH_ARGS="--rounds 2 --runs 3")
    p = subprocess.run(["sh", os.path.join(REPO, "examples", "mlp", "demo.sh"), b], cwd=REPO,
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=600)
    out = p.stdout
    want = [r"fc1 runs sparse: 50 % of its weights are nonzero, in a 2:4 pattern",
            r"fc2 runs sparse: 25 % of its weights are nonzero, in a 1:4 pattern",
            r"fc3 runs dense: 100 % of its weights are nonzero",
            r"why nm_\w+: \S",
            r"2 rounds in turn, each the median of 3 runs",
            r"threads +build +median ms +range ms +sparse faster by \(range\)",
            r"\n1 +SparseFlow dense +[0-9.]+ +[0-9.]+-[0-9.]+ +[0-9.]+x \([0-9.]+-[0-9.]+x\)",
            r"onnxruntime( \d\S* runs .*max \|ort - sparse\||: not available)",
            r"demo done"]
    if (os.cpu_count() or 1) > 1:
        want.append(r"\n%d \(all\) +SparseFlow dense" % os.cpu_count())
    missing = [w for w in want if not re.search(w, out)]
    if p.returncode or missing:
        print("FAIL demo (exit %d), missing: %s\n    %s" % (p.returncode, missing,
                                                          out[-4000:].replace("\n", "\n    ")))
        return 1
    print("ok   demo: layers sparse and why, dense and onnxruntime timed with ranges")
    shutil.rmtree(b, ignore_errors=True)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sfgen", required=True)
    ap.add_argument("--make-mlp", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--no-demo", action="store_true", help="leave out the demo check")
    args = ap.parse_args()
    args.sfgen = os.path.abspath(args.sfgen)
    args.make_mlp = os.path.abspath(args.make_mlp)
    args.work = os.path.abspath(args.work)
    failed = selftest()
    blocks, errors = [], []
    for path in doc_files():
        bl, er = scan(path, open(path, encoding="utf-8").read())
        blocks += bl
        errors += [os.path.relpath(e, REPO) if e.startswith(REPO) else e for e in er]
    for e in errors:
        print("FAIL " + e)
    failed += len(errors)
    ran = sum(1 for b in blocks if b.lang == "sh" and not b.norun)
    norun = sum(1 for b in blocks if b.norun)
    print("%d code blocks in %d files: %d sh run, %d files written, %d marked norun, %d text, "
          "%d json" % (len(blocks), len(doc_files()), ran, sum(1 for b in blocks if b.file),
                       norun, sum(1 for b in blocks if b.lang == "text"),
                       sum(1 for b in blocks if b.lang == "json")))
    failed += run_blocks(args, blocks)
    problems = check_performance(open(os.path.join(REPO, "docs", "PERFORMANCE.md")).read())
    for pr in problems:
        print("FAIL docs/PERFORMANCE.md whole models: " + pr)
    if not problems:
        print("ok   docs/PERFORMANCE.md: whole-model summary and plot match the table")
    failed += len(problems)
    problems = check_installs(open(os.path.join(REPO, "Makefile")).read(),
                              open(os.path.join(REPO, "README.md")).read())
    for pr in problems:
        print("FAIL " + pr)
    if not problems:
        print("ok   README.md names every package the Makefile installs")
    failed += len(problems)
    if not args.no_demo:
        failed += check_demo(args)
    print("%s: %d failure%s" % ("docs" if failed else "docs: all passed", failed,
                                "" if failed == 1 else "s"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
