#!/usr/bin/python3
# run_e2e.py - end-to-end test driver for SparseFlow.
#
# For every model in the test matrix (sparseflow.testing.cases) it writes
# the model (sparseflow.builder), runs `sfgen MODEL.json -o OUT [flags]`,
# builds the generated code with `make -C OUT -s -j2 [SANITIZE=1]`, runs the
# program OUT/<name> on random inputs at batch 1 and at the declared max
# batch with --threads 1 and 2, and compares each output with the float64
# reference (sparseflow.reference).  It also checks that --no-propagate gives
# bit-identical outputs on the dead-channel models, and that sfgen / the
# generated program reject bad input with the documented exit codes.
#
# Usage (from the repo root, needs numpy, so use /usr/bin/python3; the
# Makefile sets PYTHONPATH):
#   PYTHONPATH=python /usr/bin/python3 tests/e2e/run_e2e.py
#       [--sfgen build/sfgen] [--work DIR] [--sanitize] [--quick]
#       [--filter REGEX] [--keep] [--verbose]
# --filter '^ops_' runs the op models alone.  Prints one line per case, the
# worst error, then "N passed, N failed"; exits 1 if anything failed.  Lines
# starting with '#' are progress notes.
#
# Matrix (full):
#   small_<pat>  4 -> 4 -> 100 -> 37 (relu, gelu erf), every pattern in
#                PATTERNS, built with default options and --unroll-budget 0
#                (3:8 also with a huge budget); max batch 16 or 13
#   large_<pat>  37 -> 1000 -> 1024 -> 1024 -> 10 (relu, gelu tanh, silu),
#                every pattern, default options; large_2:4 also --dense;
#                max batch 19
#   acts_f16     every unary activation (also on |v| up to ~100), matmul,
#                linear without bias; F16 weights
#   multi_bf16   rank-3 input [B,6,32] + context [B,1,24], broadcast mul,
#                residual add, two outputs; BF16 weights
#   bcast_mixed  mutual broadcasting, rank-2 broadcasting, three inputs,
#                mixed F32/F16/BF16 tensors
#   density      each kernel family at weight densities 0, 1/2 and 1; also
#                built for ARCH=x86-64 and x86-64-v3
#   special      Inf, NaN and denormal inputs on every variant and code
#                path (the builds of variants; the full matrix adds ARCH ones),
#                against the reference's zero-weight semantics
#                (docs/NUMERICS.md), per-token tolerance
#   variants     every variant of the kernel registry (`sfgen kernels`),
#                batches 1..70 (each variant's widest tile); the 2:4 stream
#                also on its portable path
#   dead         dead / unused / constant channels; with and without
#                --no-propagate on one kernel family must be bit-identical
#   cnn, cnn_dead, transformer   the network ops; dead conv channels
#   ops_<op>     one elementwise or reduction op each (erf, sqrt, hardswish,
#                clip, hardsigmoid, sub, div, pow, where, reducemean) on
#                inputs with last dims 1, 7, 33, 100, broadcasting both ways,
#                attribute defaults and variants, and after a linear layer;
#                ops_unary2, ops_compare, ops_reduce: the other unary ops,
#                min/max/comparisons/logic, reductions over any axes;
#                ops_const: constant tensors as either operand of the
#                binary ops and any of where, ranks differing, expand,
#                concat after it; max batch 5
#   ops_const_prop  a constant's zero channels dropped by the next linear
#                layer: bit-identical with and without --no-propagate
#   ops_all      the ten ops in one chain; also --dense
#   ops_dead     dead channels through them, bit-identical with and without
#                --no-propagate
#   each build runs at batch 1 and max batch (multi also 3), --threads 1
#   and 2; plus sfgen exit-code checks and bad-input checks of one program.
# --quick (for --sanitize): one build per small chain (forced unrolling for
#   2:4 and 3:8, --unroll-budget 0 for the other sparse patterns, 2:4 also
#   --dense), one large chain (5:16, --unroll-budget 0 and --dense), the
#   feature models once (multi with --unroll-budget 0), every variant, dead
#   on the compressed and dense families with and without --no-propagate,
#   the network models with default options, ops_all.

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

from sparseflow import reference as ref
from sparseflow.testing.cases import (OP_BATCH, OP_MODELS, PATTERNS, model_acts, model_bcast,
                                      model_cnn, model_cnn_dead, model_dead, model_density,
                                      model_large, model_multi, model_op_all, model_op_const,
                                      model_op_dead,
                                      model_small, model_special, model_transformer,
                                      model_variants, seed_of)
from sparseflow.testing.harness import (TOL, Results, compare, compare_special, describe_rc,
                                        run_env, run_program, run_tool, sanitizer_report)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

HUGE_BUDGET = "1000000000"


def dirname_of(key):
    """Case key -> a file-name safe directory name (make dislikes ':')."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", key)


def registry_variants(sfgen):
    """The kernel registry (`sfgen kernels --json`): every variant is built."""
    out = subprocess.run([sfgen, "kernels", "--json"], check=True, capture_output=True,
                         text=True).stdout
    return [v["name"] for v in json.loads(out)]


class ModelCase:
    def __init__(self, key, make, batches, builds, bitwise=(),
                 reject_checks=False, special=False):
        self.key = key            # unique id, used for dirs and printing
        self.make = make          # () -> ModelBuilder
        self.batches = batches    # runtime batches to run
        self.builds = builds      # list of (label, [sfgen flags, "make:VAR=v"])
        self.bitwise = bitwise    # pairs of build labels: outputs identical
        self.reject_checks = reject_checks
        self.special = special    # Inf/NaN/denormal inputs: compare_special


def matrix(quick, sfgen):
    cases = []
    budget0 = ("budget0", ["--unroll-budget", "0"])
    unroll = ("unroll", ["--unroll-budget", HUGE_BUDGET])
    default = ("default", [])
    for i, pat in enumerate(PATTERNS):
        mbatch = 16 if i % 2 == 0 else 13
        if quick:
            if pat == "dense":
                builds = [default]
            elif pat == "2:4":
                builds = [unroll, ("dense", ["--dense"])]
            elif pat == "3:8":
                builds = [unroll]
            else:
                # gcc with ASan+UBSan is slow on mask-unrolled code, so
                # quick forces unrolling only for 2:4 and 3:8
                builds = [budget0]
        else:
            # the default budget already unrolls every layer of the small
            # chain, so the explicit huge budget is only passed once
            builds = [default, budget0] + ([unroll] if pat == "3:8" else [])
        cases.append(ModelCase("small_" + pat,
                               lambda p=pat, b=mbatch: model_small(p, b),
                               [1, mbatch], builds,
                               reject_checks=(pat == "2:4")))
    large_pats = ["5:16"] if quick else PATTERNS
    for pat in large_pats:
        if quick:
            # compressed + dense kernels at full size; gcc (esp. with ASan)
            # is slow on big unrolled layers, which the small chains cover
            builds = [budget0, ("dense", ["--dense"])]
        else:
            builds = [default]
            if pat == "2:4":
                builds.append(("dense", ["--dense"]))
                builds.append(("compressed", ["--kernel", "nm_compressed"]))
        cases.append(ModelCase("large_" + pat,
                               lambda p=pat: model_large(p, 19),
                               [1, 19], builds))
    feat_builds = [default] if quick else [default, budget0]
    cases.append(ModelCase("acts_f16", model_acts, [1, 5], feat_builds))
    cases.append(ModelCase("multi_bf16", model_multi, [1, 3, 8],
                           [budget0] if quick else feat_builds))
    cases.append(ModelCase("bcast_mixed", model_bcast, [1, 3], [default]))
    compressed = ("compressed", ["--kernel", "nm_compressed"])
    unrolled = ("unrolled", ["--kernel", "nm_unrolled"])
    # portable (SSE2) and AVX2 code paths of every kernel, besides -march=native
    arch_builds = [("%s_%s" % (k, a), ["--kernel", k, "make:ARCH=" + a])
                   for a in ("x86-64", "x86-64-v3")
                   for k in ("dense", "nm_unrolled", "nm_compressed")]
    dens_builds = [default, compressed, unrolled, ("dense", ["--dense"])] + arch_builds
    cases.append(ModelCase("density", model_density, [1, 7],
                           [compressed, unrolled] if quick else dens_builds))
    # every variant of the registry; the 2:4 stream also on its portable path
    var_builds = [(v, ["--kernel", v]) for v in registry_variants(sfgen)]
    var_builds += [("nm24_" + a, ["--kernel", "nm24", "make:ARCH=" + a])
                   for a in ("x86-64", "x86-64-v3")]
    cases.append(ModelCase("variants", model_variants, [1, 2, 3, 8, 9, 17, 33, 70],
                           var_builds))
    # Inf, NaN and denormal inputs give the same outputs on every variant,
    # family and code path (docs/NUMERICS.md)
    cases.append(ModelCase("special", model_special, [1, 2, 3, 9, 33, 70],
                           var_builds + ([] if quick else arch_builds), special=True))
    # propagation drops dead rows and columns but keeps each row's order of
    # summation, so a kernel family gives bit-identical outputs with and
    # without it (the cost model may pick different families for the two)
    dead_builds = [default, ("noprop", ["--no-propagate"])]
    bitwise = []
    for fam in (["nm_compressed", "dense"] if quick else
                ["nm_compressed", "dense", "nm_unrolled"]):
        dead_builds += [(fam, ["--kernel", fam]),
                        (fam + "_noprop", ["--kernel", fam, "--no-propagate"])]
        bitwise.append((fam, fam + "_noprop"))
    cases.append(ModelCase("dead", model_dead, [1, 6], dead_builds,
                           bitwise=bitwise))
    net_builds = [default] if quick else [default, ("dense", ["--dense"]), compressed,
                                          ("nm24", ["--kernel", "nm24"])]
    cases.append(ModelCase("cnn", model_cnn, [1, 4], net_builds))
    cnn_dead = [default, ("noprop", ["--no-propagate"])]
    cnn_bitwise = []
    for fam in ["nm_compressed", "dense"]:
        cnn_dead += [(fam, ["--kernel", fam]), (fam + "_noprop", ["--kernel", fam,
                                                                  "--no-propagate"])]
        cnn_bitwise.append((fam, fam + "_noprop"))
    cases.append(ModelCase("cnn_dead", model_cnn_dead, [1, 3], cnn_dead, bitwise=cnn_bitwise))
    cases.append(ModelCase("transformer", model_transformer, [1, 3], net_builds))
    # the elementwise and reduction ops, one model each, and all in one chain
    if not quick:
        for key, make in OP_MODELS:
            cases.append(ModelCase(key, make, [1, OP_BATCH], [default]))
    cases.append(ModelCase("ops_all", model_op_all, [1, OP_BATCH],
                           [default] if quick else [default, ("dense", ["--dense"])]))
    if not quick:
        # their propagation rules: the same bit-identity as for dead
        cases.append(ModelCase("ops_dead", model_op_dead, [1, OP_BATCH], cnn_dead,
                               bitwise=cnn_bitwise))
        # the zero channels of a constant, dropped by the linear layer after it
        cases.append(ModelCase("ops_const_prop", model_op_const, [1, OP_BATCH], cnn_dead[2:],
                               bitwise=cnn_bitwise))
    return cases


# --------------------------------------------------------------------------
# building
# --------------------------------------------------------------------------

def build(args, json_path, outdir, flags, quiet):
    """sfgen + make.  Returns (exe path or None, log text, seconds)."""
    if os.path.exists(outdir):
        shutil.rmtree(outdir)
    os.makedirs(os.path.dirname(outdir), exist_ok=True)
    t0 = time.time()
    # "make:VAR=value" entries go to make (e.g. another ARCH), the rest to sfgen
    make_vars = [f[5:] for f in flags if f.startswith("make:")]
    flags = [f for f in flags if not f.startswith("make:")]
    cmd = [args.sfgen, json_path, "-o", outdir] + flags
    if quiet:
        cmd.append("--quiet")
    rc, out, err = run_tool(cmd, 300, env=run_env(args.sanitize))
    if rc != 0 or sanitizer_report(err):
        return None, "$ %s\n[%s]\n%s%s" % (" ".join(cmd), describe_rc(rc),
                                           out, err), time.time() - t0
    census = out
    # -Werror: the generated code must compile without warnings (-Wall -Wextra)
    mcmd = ["make", "-C", outdir, "-s", "-j2", "CFLAGS=-Werror"] + make_vars
    if args.sanitize:
        mcmd.append("SANITIZE=1")
    rc, mout, merr = run_tool(mcmd, 900)
    if rc != 0:
        return None, "$ %s\n[%s]\n%s%s" % (" ".join(mcmd), describe_rc(rc),
                                           mout, merr), time.time() - t0
    with open(json_path) as f:
        name = json.load(f)["name"]
    # --kernel VARIANT: the report must show that variant on some layer
    if "--kernel" in flags and flags[flags.index("--kernel") + 1].startswith("f32_"):
        want = flags[flags.index("--kernel") + 1]
        with open(os.path.join(outdir, "report.json")) as f:
            got = [lay["plan"]["variant"] for lay in json.load(f)["layers"]]
        if want not in got:
            return None, "--kernel %s: no layer planned on it (%s)" % (want, got), \
                time.time() - t0
    exe = os.path.join(outdir, name)
    if not os.access(exe, os.X_OK):
        return None, "make succeeded but %s is missing" % exe, \
            time.time() - t0
    return exe, census, time.time() - t0


# --------------------------------------------------------------------------
# negative tests
# --------------------------------------------------------------------------

def cli_cases(args, work, res):
    """sfgen must reject bad invocations / models with the right code."""
    d = os.path.join(work, "cli")
    os.makedirs(d, exist_ok=True)
    good = model_small("2:4", 4).save(d, "good")
    with open(good) as f:
        base = json.load(f)

    def variant(tag, mutate):
        m = json.loads(json.dumps(base))
        mutate(m)
        p = os.path.join(d, tag + ".json")
        with open(p, "w") as f:
            json.dump(m, f)
        return p

    def set_node(i, key, val):
        def f(m):
            m["nodes"][i][key] = val
        return f

    trunc = os.path.join(d, "trunc.safetensors")
    with open(os.path.join(d, "good.safetensors"), "rb") as f:
        blob = f.read()
    with open(trunc, "wb") as f:
        f.write(blob[:len(blob) // 2])
    badjson = os.path.join(d, "badsyntax.json")
    with open(badjson, "w") as f:
        f.write(json.dumps(base)[:-3])

    out = os.path.join(d, "out")
    checks = [
        ("no arguments", [], 2),
        ("--help after the model", [good, "--help"], 0),
        ("-h after options", [good, "-o", out, "--dense", "-h"], 0),
        ("missing -o", [good], 2),
        ("unknown option", [good, "-o", out, "--bogus"], 2),
        ("unknown target", [good, "-o", out, "--target", "rocm"], 2),
        ("unknown gpu dtype", [good, "-o", out, "--target", "cuda", "--gpu-dtype", "f8"], 2),
        ("unknown gpu kernel", [good, "-o", out, "--target", "cuda", "--gpu-kernel", "wmma"],
         2),
        ("model file not found", [os.path.join(d, "nope.json"), "-o", out],
         1),
        ("JSON syntax error", [badjson, "-o", out], 1),
        ("unknown node key", [variant("k1", set_node(0, "bogus", 1)),
                              "-o", out], 1),
        ("unknown top-level key",
         [variant("k2", lambda m: m.__setitem__("bogus", 1)), "-o", out], 1),
        ("wrong sparseflow version",
         [variant("k3", lambda m: m.__setitem__("sparseflow", 2)),
          "-o", out], 1),
        ("unknown op", [variant("k4", set_node(1, "op", "rmsnorm")),
                        "-o", out], 1),
        ("weight shape mismatch",
         [variant("k5", set_node(2, "weight", "fc3.weight")), "-o", out],
         1),
        ("missing tensor", [variant("k6", set_node(0, "weight", "nope")),
                            "-o", out], 1),
        ("undefined activation", [variant("k7", set_node(1, "inputs",
                                                         ["nope"])),
                                  "-o", out], 1),
        ("missing weights file",
         [variant("k8", lambda m: m.__setitem__("weights", "nope.st")),
          "-o", out], 1),
        ("truncated safetensors",
         [variant("k9", lambda m: m.__setitem__("weights",
                                                "trunc.safetensors")),
          "-o", out], 1),
    ]
    for tag, argv, want in checks:
        rc, sout, serr = run_tool([args.sfgen] + argv, 60,
                                  env=run_env(args.sanitize))
        ok = rc == want and not sanitizer_report(serr)
        if "help" in tag:  # the usage text, and nothing generated
            ok = ok and sout.startswith("usage: sfgen") and not os.path.exists(out)
        res.record("cli: %-28s want exit %d got %s" % (tag, want,
                                                        describe_rc(rc)),
                   ok, detail=None if ok else sout + serr)
    help_matches_docs(args, res)


def help_matches_docs(args, res):
    """sfgen --help and docs/CLI.md's option table name the same options, and
    --help gives the program's real --threads default and the 4096 cap."""
    rc, sout, _ = run_tool([args.sfgen, "--help"], 60, env=run_env(args.sanitize))
    with open(os.path.join(REPO, "docs", "CLI.md")) as f:
        doc = f.read()
    table = doc[doc.index("### Options"):doc.index("### What it does")]
    doc_opts = set(re.findall(r"--[a-z][a-z-]*", " ".join(re.findall(r"^\|([^|]*)\|", table, re.M))))
    help_opts = set(re.findall(r"--[a-z][a-z-]*", sout)) - {"--help", "--version"}
    threads = sout[sout.index("--threads"):sout.index("--dense")]
    problems = []
    if doc_opts ^ help_opts:
        problems.append("only in CLI.md: %s; only in --help: %s" % (
            sorted(doc_opts - help_opts), sorted(help_opts - doc_opts)))
    if "default 1)" in threads or "OMP_NUM_THREADS" not in threads or "4096" not in threads:
        problems.append("--threads: " + " ".join(threads.split()))
    ok = rc == 0 and not problems
    res.record("cli: --help lists CLI.md's options", ok, detail="; ".join(problems) or None)


def reject_checks(args, exe, mb, outdir, res, key):
    """The generated program must refuse inputs that do not fit."""
    decl = mb.inputs[0]["shape"]
    bad = {"batch > max": [decl[0] + 1] + decl[1:],
           "wrong inner dim": [1] + [decl[1] + 1] + decl[2:]}
    for tag, shape in bad.items():
        p = os.path.join(outdir, "bad_input.npy")
        np.save(p, np.ones(shape, dtype="<f4"))
        cmd = [exe, "--input", "%s=%s" % (mb.inputs[0]["name"], p),
               "--output", "%s=%s" % (mb.outputs[0],
                                      os.path.join(outdir, "bad_out.npy")),
               "--threads", "1"]
        rc, out, err = run_tool(cmd, 120, env=run_env(args.sanitize))
        ok = rc is not None and 0 < rc < 98 and not sanitizer_report(err)
        res.record("%s: reject input %s %s -> %s" % (key, tag, shape,
                                                     describe_rc(rc)),
                   ok, detail=None if ok else "$ %s\n%s%s"
                   % (" ".join(cmd), out, err))


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def run_case(args, mc, work, res):
    mdir = os.path.join(work, "models", dirname_of(mc.key))
    mb = mc.make()
    json_path = mb.save(mdir)
    in_names = [i["name"] for i in mb.inputs]
    out_names = list(mb.outputs)
    single = len(in_names) == 1 and len(out_names) == 1

    # inputs and fp64 references, per runtime batch
    in_files, refs = {}, {}
    for b in mc.batches:
        inputs = mb.random_inputs(b, seed_of("%s/in/%d" % (mc.key, b)))
        files = {}
        for name, arr in inputs.items():
            p = os.path.join(mdir, "in_%s_b%d.npy" % (name, b))
            np.save(p, np.ascontiguousarray(arr, dtype="<f4"))
            files[name] = p
        in_files[b] = files
        refs[b] = ref.evaluate(json_path, inputs)

    outs_by_build = {}
    for label, flags in mc.builds:
        bdir = os.path.join(work, "build", "%s__%s" % (dirname_of(mc.key),
                                                       label))
        opts = " ".join(flags) if flags else "(default)"
        quiet = label != "default"
        exe, log, secs = build(args, json_path, bdir, flags, quiet)
        runs = [(b, t) for b in mc.batches for t in (1, 2)]
        if exe is None:
            print("# build %s %s FAILED after %.1fs" % (mc.key, opts, secs))
            for i, (b, t) in enumerate(runs):
                res.record("%-14s %-30s batch=%-3d threads=%d"
                           % (mc.key, opts, b, t), False,
                           detail=log if i == 0 else None)
            continue
        print("# build %s %s: %.1fs" % (mc.key, opts, secs), flush=True)
        if args.verbose and log.strip():
            for line in log.rstrip().splitlines():
                print("    : " + line)
        for b, t in runs:
            desc = "%-14s %-30s batch=%-3d threads=%d" % (mc.key, opts, b, t)
            bare = single and b == 1 and t == 1
            rdir = os.path.join(bdir, "run_b%d_t%d" % (b, t))
            os.makedirs(rdir, exist_ok=True)
            outs, rlog = run_program(args, exe, in_files[b], out_names, rdir,
                                     t, bare)
            if outs is None:
                res.record(desc, False, detail=rlog)
                continue
            err, problem, per = (compare_special if mc.special else compare)(outs, refs[b])
            ok = problem is None and err <= TOL
            res.record(desc, ok, err if problem is None else None,
                       detail=None if ok else (problem or per) + "\n" + rlog)
            outs_by_build[(label, b, t)] = outs
        if mc.reject_checks and label == mc.builds[0][0]:
            reject_checks(args, exe, mb, bdir, res, mc.key)

    for la, lb in mc.bitwise:
        for b in mc.batches:
            for t in (1, 2):
                desc = "%-14s %s vs %s bit-identical batch=%d threads=%d" % (
                    mc.key, lb, la, b, t)
                oa = outs_by_build.get((la, b, t))
                ob = outs_by_build.get((lb, b, t))
                if oa is None or ob is None:
                    res.record(desc, False, detail="missing outputs")
                    continue
                diff = [n for n in out_names
                        if not np.array_equal(oa[n], ob[n])]
                res.record(desc, not diff,
                           detail=("outputs differ: %s" % diff) if diff
                           else None)


def drop_case_files(work, key):
    """A passing case leaves nothing behind: the full matrix writes
    gigabytes of models and builds, more than a small disk holds at once."""
    name = dirname_of(key)
    shutil.rmtree(os.path.join(work, "models", name), ignore_errors=True)
    for d in glob.glob(os.path.join(work, "build", glob.escape(name) + "__*")):
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(
        description="SparseFlow end-to-end tests (sfgen -> make -> run -> "
        "compare with the float64 reference)")
    ap.add_argument("--sfgen", default=os.path.join(REPO, "build", "sfgen"))
    ap.add_argument("--work", default=None,
                    help="scratch directory (kept); default: a temp dir")
    ap.add_argument("--sanitize", action="store_true",
                    help="build generated code with SANITIZE=1")
    ap.add_argument("--quick", action="store_true",
                    help="reduced matrix (for the sanitizer run)")
    ap.add_argument("--filter", default=None,
                    help="only models whose key matches this regex "
                    "('cli' selects the sfgen exit-code checks)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the models and builds of passing cases too "
                    "(failing ones are always kept)")
    ap.add_argument("--verbose", action="store_true",
                    help="show sfgen's census output")
    args = ap.parse_args()
    args.sfgen = os.path.abspath(args.sfgen)

    if not os.access(args.sfgen, os.X_OK):
        print("sfgen not found or not executable: %s" % args.sfgen)
        print("0 passed, 1 failed")
        return 1

    tmp = args.work is None
    work = tempfile.mkdtemp(prefix="sf-e2e-") if tmp else \
        os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    print("# sfgen=%s work=%s sanitize=%s quick=%s tol=%g"
          % (args.sfgen, work, args.sanitize, args.quick, TOL), flush=True)

    t0 = time.time()
    res = Results()
    flt = re.compile(args.filter) if args.filter else None
    if flt is None or flt.search("cli"):
        cli_cases(args, work, res)
    for mc in matrix(args.quick, args.sfgen):
        if flt is not None and not flt.search(mc.key):
            continue
        failed_before = res.failed
        try:
            run_case(args, mc, work, res)
        except Exception as e:  # noqa: BLE001 - a harness bug is a failure
            import traceback
            res.record("%s: harness error %s" % (mc.key, e), False,
                       detail=traceback.format_exc())
        if res.failed == failed_before and not args.keep:
            drop_case_files(work, mc.key)

    if res.failures:
        print("# failed cases:")
        for f in res.failures:
            print("#   " + f)
    print("# elapsed %.1fs" % (time.time() - t0))
    if tmp:
        if res.failed:
            print("# scratch kept for inspection: %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("worst max rel err: %.3e (%s)" % (res.worst[0],
                                            res.worst[1].strip() or "-"))
    print("%d passed, %d failed" % (res.passed, res.failed), flush=True)
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
