# harness.py - running generated programs and judging their outputs, shared
# by the end-to-end tests (tests/e2e/run_e2e.py) and the CUDA tests
# (tests/cuda/run_cuda.py): subprocesses with a timeout, the sanitizer
# environment, the program's .npy command line, the comparison with the
# float64 reference and the PASS/FAIL tally.

import os
import subprocess
import sys

import numpy as np

# Tolerance.  The metric per output is
#     max|y - ref| / max(max|ref|, 1e-30)
# where y is the program's float32 output and ref the float64 reference
# evaluated on exactly the same (stored) weights and inputs.  Each output
# element is a float32 dot product over K <= 1024 terms; the classical
# worst-case bound for recursive float32 summation is
#     |fl(x.w) - x.w| <= gamma_K * sum|x_i w_i|,  gamma_K ~= K*u,
# u = 2^-24, so K = 1024 gives gamma_K ~= 6.1e-5 relative to sum|x_i w_i|
# (blocked / multi-accumulator summation, as a vectorised kernel does, only
# lowers this).  With the ~unit-gain random weights used here sum|x_i w_i|
# is of the order of max|ref|, and the actual (random-walk) error is about
# sqrt(K)*u ~ 2e-6.  The activation functions (expf/erff/tanhf) and the
# other elementwise ops (sqrtf, powf, division, means over at most 100
# values) add only a few ulp (~1e-7 relative); the op models keep what could
# amplify an error small (exponents within +-3, denominators away from 0,
# sqrt of exact inputs or of squares).  Errors from consecutive layers do
# not amplify much because the layers have ~unit gain.  1e-4 therefore
# leaves a margin over the worst-case bound while still catching any real
# bug (a wrong or missing weight, index or bias changes the output by >= 1e-3
# relative).
# The observed error of every case is printed so that drift is visible.
TOL = 1e-4

SAN_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:",
               "UndefinedBehaviorSanitizer")


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.worst = (0.0, "")
        self.failures = []

    def record(self, desc, ok, err=None, detail=None):
        if err is not None:
            err_s = "maxrel=%.3e" % err
            if err > self.worst[0] or (err != err):
                self.worst = (err, desc)
        else:
            err_s = "%-16s" % ""
        print("%-66s %s  %s" % (desc, err_s, "PASS" if ok else "FAIL"),
              flush=True)
        if detail:
            lines = detail.rstrip().splitlines()
            if len(lines) > 60:  # first errors matter most, keep the tail
                lines = lines[:45] + ["... (%d lines cut)" % (len(lines) - 60)
                                      ] + lines[-15:]
            for line in lines:
                print("    | " + line)
            sys.stdout.flush()
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            self.failures.append(desc)


def run_tool(cmd, timeout, env=None):
    """Returns (rc, stdout, stderr); rc is None on timeout."""
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, env=env)
        return (p.returncode, p.stdout.decode("utf-8", "replace"),
                p.stderr.decode("utf-8", "replace"))
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace")
        err = (e.stderr or b"").decode("utf-8", "replace")
        return None, out, err + "\n[timed out after %ss]" % timeout
    except OSError as e:
        return 127, "", str(e)


def describe_rc(rc):
    if rc is None:
        return "timeout"
    if rc < 0:
        return "killed by signal %d" % -rc
    return "exit %d" % rc


def run_env(sanitize):
    env = dict(os.environ)
    if sanitize:
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:"
                       "halt_on_error=1:exitcode=99")
        env.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1:"
                       "exitcode=98")
    return env

def sanitizer_report(text):
    return any(m in text for m in SAN_MARKERS)


def run_program(args, exe, in_files, out_names, outdir, threads, bare_names):
    """Run the generated program.  Returns (outputs dict or None, log)."""
    cmd = [exe]
    for name, path in in_files.items():
        cmd += ["--input", path if bare_names else "%s=%s" % (name, path)]
    out_files = {}
    for name in out_names:
        path = os.path.join(outdir, "out_%s.npy" % name)
        if os.path.exists(path):
            os.remove(path)
        out_files[name] = path
        cmd += ["--output", path if bare_names else "%s=%s" % (name, path)]
    cmd += ["--threads", str(threads)]
    rc, out, err = run_tool(cmd, 300, env=run_env(args.sanitize))
    log = "$ %s\n[%s]\n%s%s" % (" ".join(cmd), describe_rc(rc), out, err)
    if rc != 0 or sanitizer_report(err):
        return None, log
    res = {}
    for name, path in out_files.items():
        try:
            res[name] = np.load(path, allow_pickle=False)
        except Exception as e:  # noqa: BLE001 - report any load problem
            return None, log + "\ncannot load %s: %s" % (path, e)
    return res, log


def compare(outs, refs):
    """Max over outputs of the relative error; (err, problem text).
    Also returns a per-output breakdown for failure reports."""
    worst = 0.0
    per = []
    for name, r in refs.items():
        y = outs[name]
        if y.dtype != np.dtype("<f4"):
            return (float("inf"), "%s: dtype %s, want <f4" % (name, y.dtype),
                    "")
        if y.shape != r.shape:
            return (float("inf"), "%s: shape %s, want %s"
                    % (name, y.shape, r.shape), "")
        if not np.all(np.isfinite(y)):
            return float("inf"), "%s: non-finite values" % name, ""
        denom = max(float(np.max(np.abs(r))), 1e-30)
        diff = np.abs(y.astype(np.float64) - r)
        err = float(np.max(diff)) / denom
        at = np.unravel_index(int(np.argmax(diff)), diff.shape)
        per.append("%s: maxrel=%.3e max|ref|=%.3e worst at %s: got %.9g "
                   "want %.9g" % (name, err, denom, list(map(int, at)),
                                  y[at], r[at]))
        worst = max(worst, err)
    return worst, None, "\n".join(per)


def compare_special(outs, refs):
    """compare() for inputs with Inf, NaN and denormals: NaN and +-Inf exactly
    where the reference has them, and each token's finite outputs (the first
    axis after the batch for rank 3, the batch item otherwise) within TOL of
    that token's largest finite reference value, so a denormal token is
    judged on its own scale. Same return values as compare()."""
    worst = 0.0
    per = []
    for name, r in refs.items():
        y = outs[name]
        if y.dtype != np.dtype("<f4") or y.shape != r.shape:
            return (float("inf"), "%s: %s %s, want <f4 %s"
                    % (name, y.dtype, y.shape, r.shape), "")
        yd = y.astype(np.float64)
        for what, bad in (("NaN", np.isnan(r) != np.isnan(yd)),
                          ("+Inf", (r == np.inf) != (yd == np.inf)),
                          ("-Inf", (r == -np.inf) != (yd == -np.inf))):
            if np.any(bad):
                at = tuple(int(i) for i in np.argwhere(bad)[0])
                return (float("inf"), "%s: %s at %d places, first %s: got %r want %r"
                        % (name, what, int(np.sum(bad)), list(at), y[at], r[at]), "")
        fin = np.isfinite(r)
        lead = 2 if r.ndim == 3 else 1
        rt = np.where(fin, np.abs(r), 0.0).reshape(r.shape[:lead] + (-1,))
        denom = np.maximum(rt.max(axis=-1), 1e-300).reshape(r.shape[:lead] + (1,) * (r.ndim - lead))
        diff = np.where(fin, np.abs(yd - np.where(fin, r, 0.0)), 0.0) / denom
        err = float(np.max(diff))
        at = np.unravel_index(int(np.argmax(diff)), diff.shape)
        per.append("%s: maxrel=%.3e (per token) worst at %s: got %.9g want %.9g, %d NaN %d Inf"
                   % (name, err, list(map(int, at)), y[at], r[at], int(np.sum(np.isnan(r))),
                      int(np.sum(np.isinf(r)))))
        worst = max(worst, err)
    return worst, None, "\n".join(per)


# --------------------------------------------------------------------------
# negative tests
