#!/usr/bin/python3
# run_link.py - the generated libraries inside other programs
# (docs/GENERATED_API.md, "Linking", "Arena", "Weights from a file"):
#  - two different models ("mlpa": linear layers; "cnnb": a small CNN) export
#    only symbols with their own prefix, and link into one program from their
#    static libraries (also whole-archive) and from their shared libraries;
#    both outputs equal those of each model's own program;
#  - mlpa generated with --external-weights: its program reads mlpa.weights
#    at run time (beside it, or --weights FILE) and matches the linked build
#    bit for bit, also with a blob of other values and the same masks; a
#    wrong, truncated or missing blob is a clear error; the library API
#    (weights_file.c) says the same through its return codes;
#  - a model whose arena is above --static-arena has no static arena: an
#    application linking it starts, and a NULL arena gives EARENA; the same
#    model is rejected at generation under the default --max-arena.
# usage: PYTHONPATH=python run_link.py [--sfgen build/sfgen] [--work DIR]
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

from sparseflow.builder import ModelBuilder

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CC = ["cc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror"]

passed = failed = 0


def check(ok, what, detail=""):
    global passed, failed
    print("%s %s%s" % ("PASS" if ok else "FAIL", what, "" if ok or not detail else "\n" + detail))
    passed += bool(ok)
    failed += not ok


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)


def must(cmd, what, **kw):
    r = run(cmd, **kw)
    if r.returncode != 0:
        raise RuntimeError("%s: exit %d\n%s%s" % (what, r.returncode, r.stdout, r.stderr))
    return r


def mlpa(scale=1.0):
    mb = ModelBuilder("mlpa", seed=5)
    x = mb.input("x", [3, 40])
    h = mb.gelu(mb.linear(x, 64, name="fc1", pattern="2:4"))
    y = mb.linear(h, 12, name="fc2", out="y", pattern="1:4")
    mb.output(y)
    for k, (arr, dt) in mb.tensors.items():  # other values, the same zeros: same mask hash
        mb.tensors[k] = (arr * scale, dt)
    return mb


def cnnb():
    mb = ModelBuilder("cnnb", seed=6)
    x = mb.input("img", [2, 3, 8, 8])
    h = mb.relu(mb.conv2d(x, 8, 3, padding=1, name="cv1"))
    h = mb.pool("maxpool2d", h, 2)
    h = mb.flatten(mb.global_avgpool(h))
    y = mb.linear(h, 5, name="fc", out="logits")
    mb.output(y)
    return mb


def padbig():
    """conv2d on a 1x1 image with padding 20000: a 16 KB model, ~100 GB arena."""
    mb = ModelBuilder("padbig", seed=7)
    x = mb.input("x", [1, 16, 1, 1])
    h = mb.conv2d(x, 1, 1, padding=20000, name="cv")
    y = mb.node("flatten", [mb.global_avgpool(h)], name="fl", out="y")
    mb.output(y)
    return mb


def gen(sfgen, model, out, *flags):
    must([sfgen, model, "-o", out, "-q"] + list(flags), "sfgen " + " ".join(flags))
    must(["make", "-s", "-C", out, "-j2", "CFLAGS=-Werror"], "make in " + out)


def program_output(out, name, inp, x, extra=()):
    xf, yf = os.path.join(out, "x_in.npy"), os.path.join(out, "y_out.npy")
    np.save(xf, x)
    r = run([os.path.join(out, name), "--input", "%s=%s" % (inp, xf), "--output", yf] + list(extra))
    return (np.load(yf) if r.returncode == 0 else None), r


def exported(lib):
    """Defined global symbols of a library (nm)."""
    flags = ["-D"] if lib.endswith(".so") else []
    r = must(["nm", "-g", "--defined-only"] + flags + [lib], "nm " + lib)
    return sorted({ln.split()[-1] for ln in r.stdout.splitlines() if len(ln.split()) == 3})


def two_models(sfgen, work):
    outs = {}
    rng = np.random.default_rng(3)
    xs = {"mlpa": rng.uniform(-1, 1, (3, 40)).astype(np.float32),
          "cnnb": rng.uniform(-1, 1, (2, 3, 8, 8)).astype(np.float32)}
    io = {"mlpa": ("x", "y"), "cnnb": ("img", "logits")}
    for name, mb in (("mlpa", mlpa()), ("cnnb", cnnb())):
        out = os.path.join(work, name)
        gen(sfgen, mb.save(os.path.join(work, "model-" + name)), out)
        outs[name] = out
        for lib in ("lib%s.a" % name, "lib%s.so" % name):
            syms = exported(os.path.join(out, lib))
            foreign = [s for s in syms if not s.startswith(name + "_")]
            check(syms and not foreign, "%s exports only %s_* symbols (%d)" % (lib, name, len(syms)),
                  "others: " + " ".join(foreign))
    ref = {}
    for name in outs:
        y, r = program_output(outs[name], name, io[name][0], xs[name])
        check(y is not None, "%s's own program runs" % name, r.stderr)
        ref[name] = y
    files = []
    for name in ("mlpa", "cnnb"):
        xf = os.path.join(work, name + ".x.bin")
        xs[name].tofile(xf)
        files += [xf, os.path.join(work, name + ".y.bin")]
    src = os.path.join(HERE, "two_models.c")
    inc = ["-I", outs["mlpa"], "-I", outs["cnnb"]]
    liba, libb = (os.path.join(outs[n], "lib%s.a" % n) for n in ("mlpa", "cnnb"))
    links = {
        "static": [liba, libb, "-fopenmp", "-lm"],
        "static, whole archives": ["-Wl,--whole-archive", liba, libb, "-Wl,--no-whole-archive",
                                   "-fopenmp", "-lm"],
        "shared": ["-L", outs["mlpa"], "-L", outs["cnnb"], "-lmlpa", "-lcnnb",
                   "-Wl,-rpath," + outs["mlpa"], "-Wl,-rpath," + outs["cnnb"]],
    }
    for label, libs in links.items():
        exe = os.path.join(work, "two_models_" + label.split(",")[0].replace(" ", "_"))
        if label.startswith("static,"):
            exe += "_whole"
        r = run(CC + inc + [src] + libs + ["-o", exe])
        if r.returncode != 0:
            check(False, "two models link into one program (%s)" % label, r.stderr[-2000:])
            continue
        r = run([exe, files[0], files[1], files[2], files[3]])
        ok = r.returncode == 0
        if ok:
            ya = np.fromfile(files[1], dtype=np.float32).reshape(ref["mlpa"].shape)
            yb = np.fromfile(files[3], dtype=np.float32).reshape(ref["cnnb"].shape)
            ok = np.array_equal(ya, ref["mlpa"]) and np.array_equal(yb, ref["cnnb"])
        check(ok, "two models in one program (%s): outputs equal each model's program" % label,
              r.stdout + r.stderr)


def external_weights(sfgen, work):
    x = np.random.default_rng(4).uniform(-1, 1, (3, 40)).astype(np.float32)
    linked, ext = os.path.join(work, "w-linked"), os.path.join(work, "w-ext")
    gen(sfgen, mlpa().save(os.path.join(work, "model-w")), linked)
    gen(sfgen, os.path.join(work, "model-w", "mlpa.json"), ext, "--external-weights")
    nm = must(["nm", "-S", os.path.join(ext, "libmlpa.a")], "nm").stdout.split("\n")
    blob = [ln.split() for ln in nm if ln.endswith(" mlpa_blob") and len(ln.split()) == 4]
    check(not os.path.exists(os.path.join(ext, "mlpa_weights.S")) and len(blob) == 1 and
          int(blob[0][1], 16) == 8, "--external-weights: the library holds a pointer, no blob",
          "\n".join(" ".join(b) for b in blob))
    y_ref, r = program_output(linked, "mlpa", "x", x)
    y_ext, r = program_output(ext, "mlpa", "x", x)
    check(y_ext is not None and np.array_equal(y_ext, y_ref),
          "external weights (mlpa.weights beside the program) equal the linked build", r.stderr)
    # other values with the same masks: swapped in without rebuilding
    two = os.path.join(work, "w-two")
    gen(sfgen, mlpa(2.0).save(os.path.join(work, "model-w2")), two)
    y2_ref, _ = program_output(two, "mlpa", "x", x)
    y2, r = program_output(ext, "mlpa", "x", x, ["--weights", os.path.join(two, "mlpa.weights")])
    check(y2 is not None and y2_ref is not None and np.array_equal(y2, y2_ref) and
          not np.array_equal(y2, y_ref),
          "--weights FILE: a blob of other values and the same masks, without a rebuild",
          r.stderr)
    # bad blobs: the program
    other = os.path.join(work, "cnnb", "cnnb.weights")
    blob = open(os.path.join(ext, "mlpa.weights"), "rb").read()
    trunc = os.path.join(work, "truncated.weights")
    open(trunc, "wb").write(blob[:-4])
    bad_hash = os.path.join(work, "badhash.weights")
    with open(bad_hash, "wb") as f:  # the header's mask hash changed, the size kept
        f.write(blob[:8] + bytes(b ^ 0xff for b in blob[8:16]) + blob[16:])
    flipped = os.path.join(work, "flipped.weights")
    with open(flipped, "wb") as f:  # one weight byte damaged: the value hash differs
        f.write(blob[:-100] + bytes([blob[-100] ^ 0x40]) + blob[-99:])
    cases = [("another model's blob", other, "does not match"),
             ("a damaged value", flipped, "does not match"),
             ("a truncated blob", trunc, "does not match"),
             ("another mask hash", bad_hash, "does not match"),
             ("a missing file", os.path.join(work, "absent.weights"), "No such file"),
             ("a folder", work, "cannot be read")]
    for what, path, expect in cases:
        y, r = program_output(ext, "mlpa", "x", x, ["--weights", path])
        check(r.returncode == 1 and expect in r.stderr and path in r.stderr,
              "program --weights with %s: exit 1, '%s'" % (what, expect),
              "exit %d: %s" % (r.returncode, r.stderr))
    moved = os.path.join(work, "w-ext-alone")
    shutil.rmtree(moved, ignore_errors=True)
    os.makedirs(moved)
    shutil.copy(os.path.join(ext, "mlpa"), moved)
    y, r = program_output(moved, "mlpa", "x", x)
    check(r.returncode == 1 and "mlpa.weights" in r.stderr and "No such file" in r.stderr,
          "program without its blob beside it: exit 1 naming mlpa.weights", r.stderr)
    # the library API
    xf, yf = os.path.join(work, "wf.x.bin"), os.path.join(work, "wf.y.bin")
    x.tofile(xf)
    exe = os.path.join(work, "weights_file")
    must(CC + ["-I", ext, os.path.join(HERE, "weights_file.c"), os.path.join(ext, "libmlpa.a"),
               "-fopenmp", "-lm", "-o", exe], "cc weights_file.c")
    r = run([exe, os.path.join(ext, "mlpa.weights"), other, trunc, work, xf, yf])
    ok = r.returncode == 0 and np.array_equal(
        np.fromfile(yf, dtype=np.float32).reshape(y_ref.shape), y_ref)
    check(ok, "mlpa_load_weights: return codes, and the output of the linked build",
          r.stdout + r.stderr)


def big_arena(sfgen, work):
    model = padbig().save(os.path.join(work, "model-padbig"))
    out = os.path.join(work, "padbig")
    shutil.rmtree(out, ignore_errors=True)
    r = run([sfgen, model, "-o", out, "-q"])
    check(r.returncode == 1 and "--max-arena" in r.stderr and "node 'cv'" in r.stderr and
          not os.path.exists(out), "the 100 GB arena is rejected under the default --max-arena",
          "exit %d: %s" % (r.returncode, r.stderr))
    gen(sfgen, model, out, "--max-arena", "1T")
    hdr = open(os.path.join(out, "padbig.h")).read()
    check("#define PADBIG_STATIC_ARENA 0" in hdr and
          "padbig_static_arena" not in run(["nm", os.path.join(out, "libpadbig.a")]).stdout,
          "above --static-arena: no static arena in the library")
    exe = os.path.join(work, "big_arena")
    must(CC + ["-I", out, os.path.join(HERE, "big_arena.c"), os.path.join(out, "libpadbig.a"),
               "-fopenmp", "-lm", "-o", exe], "cc big_arena.c")
    r = run([exe])
    check(r.returncode == 0 and "arena is NULL" in r.stdout,
          "an application linking it starts; a NULL arena gives EARENA",
          "exit %d: %s%s" % (r.returncode, r.stdout, r.stderr))
    # --static-arena sets the limit: a small model without, then with
    small = os.path.join(work, "static-none")
    gen(sfgen, os.path.join(work, "model-w", "mlpa.json"), small, "--static-arena", "0")
    check("#define MLPA_STATIC_ARENA 0" in open(os.path.join(small, "mlpa.h")).read(),
          "--static-arena 0: no static arena")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sfgen", default=os.path.join(REPO, "build", "sfgen"))
    ap.add_argument("--work", default=None)
    ap.add_argument("--only", nargs="*", help="two_models, external_weights, big_arena")
    args = ap.parse_args()
    work = os.path.abspath(args.work or tempfile.mkdtemp(prefix="sf-link-"))
    os.makedirs(work, exist_ok=True)
    sfgen = os.path.abspath(args.sfgen)
    parts = [globals()[p] for p in args.only] if args.only else \
        [two_models, external_weights, big_arena]
    for part in parts:
        try:
            part(sfgen, work)
        except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:
            check(False, part.__name__, str(e))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
