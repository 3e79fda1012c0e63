#!/usr/bin/env python3
"""check_skip.py - the CUDA build tests on a machine without nvcc.

Runs tests/cuda/run_cuda.py and `make test-cuda-build` with a PATH that
holds every program of the current PATH except nvcc, and checks:

  - without SF_REQUIRE_CUDA: exit 0 and one line saying SKIPPED and why;
  - with SF_REQUIRE_CUDA=1: a nonzero exit and a line saying nvcc is missing;
  - .ci/run sets SF_REQUIRE_CUDA=1, so CI cannot skip the CUDA build.

    check_skip.py --sfgen build/sfgen --build build --work build/cuda-skip
"""
import argparse
import os
import shutil
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def shadow_path(bindir):
    """A folder of links to the first program of each name on PATH, nvcc left out."""
    shutil.rmtree(bindir, ignore_errors=True)
    os.makedirs(bindir)
    for d in os.environ.get("PATH", "").split(os.pathsep):
        if not d or not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            src = os.path.join(d, name)
            dst = os.path.join(bindir, name)
            if name == "nvcc" or os.path.lexists(dst):
                continue
            if os.path.isfile(src) and os.access(src, os.X_OK):
                os.symlink(src, dst)
    return bindir


def run(cmd, env):
    p = subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=600)
    return p.returncode, p.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sfgen", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--work", required=True)
    args = ap.parse_args()
    env = dict(os.environ)
    env.pop("SF_REQUIRE_CUDA", None)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.join(REPO, "python")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["PATH"] = shadow_path(os.path.join(os.path.abspath(args.work), "bin"))
    if shutil.which("nvcc", path=env["PATH"]):
        print("check_skip: nvcc still on the shadow PATH")
        return 1
    script = [sys.executable, "tests/cuda/run_cuda.py", "--sfgen", args.sfgen, "--work",
              os.path.join(args.work, "run")]
    make = [shutil.which("make") or "make", "-s", "--no-print-directory", "test-cuda-build",
            "BUILD=" + args.build, "PYTHON=" + sys.executable]
    failures = []

    def expect(what, cmd, require, want_rc0, want_text):
        e = dict(env)
        if require:
            e["SF_REQUIRE_CUDA"] = "1"
        rc, out = run(cmd, e)
        lines = [ln for ln in out.splitlines() if ln.strip()]
        hits = [ln for ln in lines if want_text in ln and "nvcc not found" in ln]
        ok = (rc == 0) == want_rc0 and len(hits) == 1
        if want_rc0 and cmd[:2] == script[:2]:
            ok = ok and len(lines) == 1  # the suite's whole output is the one line
        print("%s %s: exit %d, %s" % ("ok  " if ok else "FAIL", what, rc,
                                      hits[0] if hits else "no '%s' line" % want_text))
        if not ok:
            failures.append(what)
            print("    " + out.replace("\n", "\n    "))

    expect("run_cuda.py without nvcc", script, False, True, "SKIPPED")
    expect("run_cuda.py --run without nvcc", script + ["--run"], False, True, "SKIPPED")
    expect("run_cuda.py without nvcc, SF_REQUIRE_CUDA=1", script, True, False, "FAILED")
    expect("make test-cuda-build without nvcc", make, False, True, "SKIPPED")
    expect("make test-cuda-build without nvcc, SF_REQUIRE_CUDA=1", make, True, False, "FAILED")
    ci = open(os.path.join(REPO, ".ci", "run")).read()
    if "export SF_REQUIRE_CUDA=1" not in ci:
        failures.append(".ci/run")
        print("FAIL .ci/run does not export SF_REQUIRE_CUDA=1: CI could skip the CUDA build")
    else:
        print("ok   .ci/run exports SF_REQUIRE_CUDA=1")
    shutil.rmtree(args.work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
