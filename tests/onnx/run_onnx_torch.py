#!/usr/bin/env python3
"""ONNX import end to end: small PyTorch models exported with torch.onnx
(symbolic batch, BatchNorm, depthwise convolution, residual add, pooling,
Gemm and MatMul+Add layers), compiled by sfgen with --shape, built, run, and
compared with PyTorch's own output (docs/FORMATS.md, "ONNX"). Also the
refusals a user meets first: an unbound symbolic dimension, an unsupported
op. Needs only Debian's PyTorch (torch.onnx writes the file itself)."""
import argparse, os, re, shutil, subprocess, sys

import numpy as np
import torch
import torch.nn as nn


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(16, 32), nn.Linear(32, 8)

    def forward(self, x):
        return self.b(torch.relu(self.a(x)))


class Tokens(nn.Module):
    """A rank-3 input: MatMul + Add (not Gemm), GELU written with erf, LayerNorm."""
    def __init__(self):
        super().__init__()
        self.a, self.b, self.ln = nn.Linear(24, 40), nn.Linear(40, 24), nn.LayerNorm(24)

    def forward(self, x):
        h = self.a(x)
        h = h * 0.5 * (1.0 + torch.erf(h / 1.4142135623730951))
        return self.ln(x + self.b(h))


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        y = torch.relu(self.bn(self.c1(x)))
        y = nn.functional.max_pool2d(y, 2)
        y = y + self.c2(y)
        y = nn.functional.adaptive_avg_pool2d(y, 1).flatten(1)
        return self.fc(y)


class Unsupported(nn.Module):
    def forward(self, x):
        return torch.cumsum(x, 1)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)


def export(model, x, path, opset, **kw):
    model.eval()
    torch.onnx.export(model, x, path, input_names=["x"], output_names=["out"],
                      dynamic_axes={"x": {0: "batch"}, "out": {0: "batch"}},
                      opset_version=opset, **kw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sfgen", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    torch.manual_seed(0)
    passed = failed = 0

    def record(name, ok, detail=""):
        nonlocal passed, failed
        passed += ok
        failed += not ok
        print("%-60s %s" % (name, "PASS" if ok else "FAIL"))
        if not ok and detail:
            print(detail)

    cnn = CNN()
    with torch.no_grad():
        cnn.bn.running_mean.uniform_(-1, 1)
        cnn.bn.running_var.uniform_(0.5, 2)
    cases = [("mlp", MLP(), (4, 16), 13), ("tokens", Tokens(), (3, 5, 24), 14),
             ("cnn", cnn, (2, 3, 16, 16), 17), ("cnn_opset11", cnn, (2, 3, 16, 16), 11)]
    for name, model, shape, opset in cases:
        path = os.path.join(a.work, name + ".onnx")
        x = torch.randn(*shape)
        export(model, x, path, opset)
        out = os.path.join(a.work, "out_" + name)
        dims = "x".join(map(str, shape))
        r = run([a.sfgen, path, "-o", out, "-q", "--shape", "x=" + dims])
        if r.returncode:
            record("%s (opset %d): sfgen" % (name, opset), False, r.stderr)
            continue
        r = run(["make", "-s", "-C", out])
        if r.returncode:
            record("%s (opset %d): make" % (name, opset), False, r.stdout[-2000:] + r.stderr[-2000:])
            continue
        for batch in (1, shape[0]):
            xb = x[:batch]
            with torch.no_grad():
                want = model(xb).double().numpy()
            xin, yout = os.path.join(out, "x.npy"), os.path.join(out, "y.npy")
            np.save(xin, xb.numpy())
            r = run([os.path.join(out, name), "--input", "x=" + xin,
                     "--output", "out=" + yout])
            if r.returncode:
                record("%s batch %d: run" % (name, batch), False, r.stderr)
                continue
            got = np.load(yout)
            err = float(np.max(np.abs(got - want)) / max(1e-30, np.max(np.abs(want))))
            record("%s (opset %d) batch %d: max rel err %.2e vs PyTorch" % (name, opset, batch, err),
                   got.shape == want.shape and err <= 1e-4,
                   "shape %s want %s" % (got.shape, want.shape))

    # an unbound symbolic dimension names the input and the dimension
    r = run([a.sfgen, "inspect", os.path.join(a.work, "mlp.onnx")])
    record("unbound symbolic dimension: exit 1, names x and 'batch'",
           r.returncode == 1 and "x" in r.stderr and "batch" in r.stderr
           and "--shape" in r.stderr, r.stderr)
    # a --shape for an input the model lacks is a usage error
    r = run([a.sfgen, "inspect", os.path.join(a.work, "mlp.onnx"), "--shape", "nope=1x16"])
    record("--shape of an unknown input: exit 2", r.returncode == 2 and "nope" in r.stderr,
           r.stderr)
    # an op outside the list names the node and the op, and writes nothing
    path = os.path.join(a.work, "cumsum.onnx")
    export(Unsupported(), torch.randn(2, 4), path, 13)
    out = os.path.join(a.work, "out_cumsum")
    r = run([a.sfgen, path, "-o", out, "--shape", "x=2x4"])
    record("unsupported op: exit 1, names CumSum, nothing written",
           r.returncode == 1 and "CumSum" in r.stderr and "not supported" in r.stderr
           and not os.path.exists(out), r.stderr)
    # a file that is not ONNX at all
    path = os.path.join(a.work, "garbage.onnx")
    with open(path, "wb") as f:
        f.write(b"\x0a\xff\xff\xff\xff\x0f")
    r = run([a.sfgen, "inspect", path])
    record("malformed protobuf: exit 1, names the file",
           r.returncode == 1 and "garbage.onnx" in r.stderr, r.stderr)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
