#!/usr/bin/env python3
"""run_export_idioms.py - the PyTorch idioms the exporter (sparseflow.export)
maps, and those it refuses.

Supported: each small network below is exported, generated with sfgen, built,
run at its maximum batch and at batch 1, and compared with PyTorch's output
(max |sf - torch| / max |torch| <= 1e-4); the float64 reference of the export
(sparseflow.reference) is compared too, and the exported ops are checked.
Refused: each idiom without an op must raise ExportError (never KeyError or
another exception) naming its node and saying what to do instead, write
nothing, and make tools/sf_export.py exit 1 with that message.

    PYTHONPATH=python run_export_idioms.py [--sfgen build/sfgen] [--work DIR]
                                           [--filter REGEX]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from sparseflow import reference
from sparseflow.export import ExportError, _shape, export

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOL = 1e-4


# -- supported idioms -------------------------------------------------------------

class ViewNet(nn.Module):
    """The flatten idiom on its own: y.view(y.size(0), -1)."""

    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4 * 6 * 6, 5)

    def forward(self, x):
        y = torch.relu(self.c(x))
        return self.fc(y.view(y.size(0), -1))


class FlattenNet(nn.Module):
    """y.view(y.size(0), -1), x.shape in forward, padding='same', LeakyReLU,
    BatchNorm1d, hardswish, a scalar factor after a conv (folded)."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 6, 3, padding="same")
        self.bn = nn.BatchNorm2d(6)
        self.act = nn.LeakyReLU(0.1)
        self.c2 = nn.Conv2d(6, 4, (2, 4), padding="same", dilation=(1, 2), bias=False)
        self.fc = nn.Linear(4 * 7 * 7, 10)
        self.bn1 = nn.BatchNorm1d(10)
        self.out = nn.Linear(10, 5)

    def forward(self, x):
        y = self.act(self.bn(self.c1(x)))
        y = F.hardswish(self.c2(y) * 0.5)
        n, c, h, w = y.shape
        y = self.fc(y.view(y.size(0), -1)) / (c * h)
        return self.out(F.leaky_relu(self.bn1(y), negative_slope=0.2)), y.reshape(n, 2, -1)


class MeansNet(nn.Module):
    """x.mean((2, 3)), F.adaptive_avg_pool2d(x, 1) and to 2x2, means over
    trailing dimensions, numbers on either side of + - * / (also from shapes),
    -x, squeeze and unsqueeze."""

    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(4, 6, 3, padding=1)
        self.fc = nn.Linear(6, 3)

    def forward(self, x):
        y = torch.relu(self.c(x))
        g = y.mean((2, 3))                                   # [B, 6]
        p = F.adaptive_avg_pool2d(y, 1).flatten(1)           # [B, 6]
        q = F.adaptive_avg_pool2d(y, (2, 2))                 # [B, 6, 2, 2]
        k = y.mean((-2, -1), keepdim=True)                   # [B, 6, 1, 1]
        t = y.mean((1, 2, 3))                                # [B]
        s = self.fc(1 - g * 0.25 + p / y.shape[-1] - 3 + 2.0 * g)
        return (s, q - k, t, torch.sub(g, 1.5, alpha=2) + torch.add(p, 2, alpha=-1),
                (-k).squeeze(-1), t.unsqueeze(1) * 2)


class AttnNet(nn.Module):
    """nn.MultiheadAttention (self and cross attention, weights discarded),
    nn.TransformerEncoderLayer (post-norm relu, pre-norm gelu), nn.TransformerEncoder."""

    def __init__(self, d=16):
        super().__init__()
        self.mha = nn.MultiheadAttention(d, 2, batch_first=True)
        self.cross = nn.MultiheadAttention(d, 4, batch_first=True, bias=False)
        self.post = nn.TransformerEncoderLayer(d, 2, 32, dropout=0.1, batch_first=True)
        self.pre = nn.TransformerEncoderLayer(d, 4, 24, activation="gelu", batch_first=True,
                                              norm_first=True)
        self.enc = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(d, 2, 32, batch_first=True), 2, norm=nn.LayerNorm(d))

    def forward(self, x, m):
        a, _ = self.mha(x, x, x)
        b = self.cross(a, m, m, need_weights=False)[0]
        return self.enc(self.pre(self.post(a + b)))


def _seeded(cls, *args):
    torch.manual_seed(3)
    model = cls(*args)
    g = torch.Generator().manual_seed(4)
    for mod in model.modules():        # batch norms with real statistics
        if isinstance(mod, nn.modules.batchnorm._BatchNorm):
            c = mod.num_features
            mod.running_mean.copy_(torch.randn(c, generator=g) * 0.3)
            mod.running_var.copy_(torch.rand(c, generator=g) + 0.5)
            mod.weight.data.copy_(torch.rand(c, generator=g) + 0.5)
            mod.bias.data.copy_(torch.randn(c, generator=g) * 0.2)
    return model.eval()


SUPPORTED = [
    # name, model, inputs, ops the export must contain
    ("view_size", lambda: _seeded(ViewNet), lambda: {"x": torch.randn(2, 3, 8, 8)},
     {"conv2d", "reshape", "linear"}),
    ("flatten_view_size", lambda: _seeded(FlattenNet), lambda: {"x": torch.randn(3, 3, 7, 7)},
     {"conv2d", "batchnorm", "reshape", "hardswish", "clip", "relu", "add"}),
    ("means_scalars", lambda: _seeded(MeansNet), lambda: {"x": torch.randn(3, 4, 6, 6)},
     {"global_avgpool", "avgpool2d", "reducemean", "batchnorm"}),
    ("multihead_transformer", lambda: _seeded(AttnNet),
     lambda: {"x": torch.randn(2, 5, 16), "m": torch.randn(2, 7, 16)},
     {"attention", "layernorm", "gelu", "relu"}),
]


# -- refused idioms: (name, forward of a module with the given members, inputs,
#    words the message must contain) ------------------------------------------------

def _net(forward, **members):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            for k, v in members.items():
                setattr(self, k, v)
    Net.forward = forward
    return Net().eval()


def _x4():
    return {"x": torch.randn(2, 3, 8, 8)}


def _x3():
    return {"x": torch.randn(2, 5, 16)}


def _sum_positive(s, x):
    if x.sum() > 0:
        return x
    return -x


REFUSED = [
    ("upsample", lambda: _net(lambda s, x: s.up(x), up=nn.Upsample(scale_factor=2)), _x4,
     ["node 'up'", "Upsample", "no resize op", "two models"]),
    ("interpolate", lambda: _net(lambda s, x: F.interpolate(x, scale_factor=2)), _x4,
     ["node 'interpolate'", "no resize op"]),
    ("mha_seq_first", lambda: _net(lambda s, x: s.a(x, x, x)[0],
                                   a=nn.MultiheadAttention(16, 2)), _x3,
     ["node 'a'", "batch_first=True"]),
    ("mha_weights_used", lambda: _net(lambda s, x: s.a(x, x, x)[1],
                                      a=nn.MultiheadAttention(16, 2, batch_first=True)), _x3,
     ["node 'getitem'", "attention weights", "need_weights=False"]),
    ("mha_mask", lambda: _net(lambda s, x, m: s.a(x, x, x, key_padding_mask=m)[0],
                              a=nn.MultiheadAttention(16, 2, batch_first=True)),
     lambda: {"x": torch.randn(2, 5, 16), "m": torch.zeros(2, 5, dtype=torch.bool)},
     ["node 'a'", "MultiheadAttention a with a mask", "sf_attention"]),
    ("encoder_seq_first", lambda: _net(lambda s, x: s.e(x),
                                       e=nn.TransformerEncoderLayer(16, 2, 32)), _x3,
     ["node 'e'", "batch_first=True"]),
    ("conv_reflect", lambda: _net(lambda s, x: s.c(x),
                                  c=nn.Conv2d(3, 3, 3, padding=1, padding_mode="reflect")), _x4,
     ["node 'c'", "padding_mode='reflect'", "zeros"]),
    ("mean_middle", lambda: _net(lambda s, x: x.mean((1, 2))), _x4,
     ["node 'mean'", "trailing dimensions", "permute"]),
    ("mean_all", lambda: _net(lambda s, x: x.mean()), _x4,
     ["node 'mean'", "the batch", "name the dimensions"]),
    ("adaptive_uneven", lambda: _net(lambda s, x: F.adaptive_avg_pool2d(x, 3)), _x4,
     ["node 'adaptive_avg_pool2d'", "8x8 to 3x3", "divide"]),
    ("number_over_tensor", lambda: _net(lambda s, x: 2 / x), _x4,
     ["node 'truediv'", "reciprocal"]),
    ("number_from_batch", lambda: _net(lambda s, x: x * x.size(0)), _x4,
     ["node 'mul'", "'size'", "batch size", "view or reshape"]),
    ("view_folds_batch", lambda: _net(lambda s, x: x.view(-1, 64)), _x4,
     ["node 'view'", "changes dimension 0", "y.view(y.size(0), -1)"]),
    ("slice_batch", lambda: _net(lambda s, x: x[:1]), _x4,
     ["node 'getitem'", "other than 0"]),
    ("squeeze_batch", lambda: _net(lambda s, x: x.squeeze(0)),
     lambda: {"x": torch.randn(1, 3, 8, 8)},
     ["node 'squeeze'", "changes dimension 0"]),
    ("index_number", lambda: _net(lambda s, x: x[:, 0]), _x4,
     ["node 'getitem'", "only one slice", "x[:, a:b]"]),
    ("zeros_from_size", lambda: _net(lambda s, x: x + torch.zeros(x.size(0), 3, 8, 8)), _x4,
     ["cannot trace Net.forward", "tensor constructors such as torch.zeros"]),
    ("cumsum", lambda: _net(lambda s, x: x.cumsum(1)), _x4,
     ["node 'cumsum'", "function cumsum has no SparseFlow op", "docs/FORMATS.md"]),
    ("pow_three", lambda: _net(lambda s, x: x ** 3), _x4,
     ["node 'pow_1'", "exponent 3", "x * x * x"]),
    ("scalar_rank1", lambda: _net(lambda s, x: x.mean((1, 2, 3)) * 2), _x4,
     ["node 'mul'", "rank >= 2", "[B, 1]"]),
    ("bn_batch_stats", lambda: _net(lambda s, x: s.b(x),
                                    b=nn.BatchNorm2d(3, track_running_stats=False)), _x4,
     ["node 'b'", "running statistics"]),
    ("returns_size", lambda: _net(lambda s, x: (x + x, x.shape[1])), _x4,
     ["node 'output'", "returns (add, 3)", "flat tuple of tensors"]),
    ("chunk", lambda: _net(lambda s, x: x.chunk(2, -1)[0]), _x4,
     ["node 'chunk'", "function chunk has no SparseFlow op"]),
    ("control_flow", lambda: _net(_sum_positive), _x4,
     ["cannot trace", "control flow"]),
    ("fails_on_example", lambda: _net(lambda s, x: x.view(x.size(0), 5, -1)), _x4,
     ["node 'view'", "fails on the example inputs"]),
]


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode:
        raise RuntimeError("$ %s\n[exit %d]\n%s%s" % (" ".join(cmd), p.returncode,
                                                    p.stdout[-3000:], p.stderr[-3000:]))
    return p.stdout


def check_supported(name, model, inputs, want_ops, sfgen, work):
    d = os.path.join(work, name)
    mj = export(model, inputs, d, name=name)
    doc = json.load(open(mj))
    ops = {n["op"] for n in doc["nodes"]}
    results = [("exports %s" % sorted(want_ops), want_ops <= ops)]
    gen = os.path.join(d, "gen")
    run([sfgen, mj, "-o", gen, "-q"])
    run(["make", "-s", "-C", gen, "-j%d" % (os.cpu_count() or 2)])
    maxb = next(iter(inputs.values())).shape[0]
    for b in sorted({1, maxb}):
        sub = {k: v[:b] for k, v in inputs.items()}
        with torch.no_grad():
            ref = model(*sub.values())
        ref = [ref] if isinstance(ref, torch.Tensor) else list(ref)
        cmd = [os.path.join(gen, name), "--threads", "2"]
        for k, v in sub.items():
            p = os.path.join(d, "in_%s_b%d.npy" % (k, b))
            np.save(p, v.numpy().astype(np.float32))
            cmd += ["--input", "%s=%s" % (k, p)]
        paths = []
        for o in doc["outputs"]:
            paths.append(os.path.join(d, "out_%s_b%d.npy" % (o, b)))
            cmd += ["--output", "%s=%s" % (o, paths[-1])]
        run(cmd)
        fp64 = reference.evaluate(mj, {k: v.numpy() for k, v in sub.items()})
        for o, p, r in zip(doc["outputs"], paths, ref):
            r = r.numpy().astype(np.float64)
            for what, y in (("sfgen", np.load(p).astype(np.float64)), ("reference", fp64[o])):
                err = np.abs(y - r).max() / max(np.abs(r).max(), 1e-30) \
                    if y.shape == r.shape else float("inf")
                results.append(("%s %s batch=%d shape %s max rel err %.2e"
                                % (o, what, b, list(r.shape), err), err <= TOL))
    return results


def check_refused(name, model, inputs, words, work):
    d = os.path.join(work, name)
    try:
        export(model, inputs, d, name=name)
    except ExportError as e:
        msg = str(e)
    except Exception as e:  # noqa: BLE001 - any other exception is the failure tested
        return [("raises ExportError, not %s: %s" % (type(e).__name__, e), False)]
    else:
        return [("raises ExportError (exported instead)", False)]
    missing = [w for w in words if w not in msg]
    return [("message %r names %s" % (msg, words), not missing),
            ("writes nothing", not os.path.exists(d))]


def check_cli(work):
    """tools/sf_export.py: exit 1, the message, no traceback."""
    src = os.path.join(work, "cli_models.py")
    with open(src, "w") as f:
        f.write("import torch, torch.nn as nn\n"
                "class Net(nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.up = nn.Upsample(scale_factor=2)\n"
                "    def forward(self, x):\n"
                "        return self.up(x)\n"
                "def upsample():\n"
                "    return Net(), {'x': torch.randn(2, 3, 4, 4)}\n")
    p = subprocess.run([sys.executable, os.path.join(REPO, "tools", "sf_export.py"),
                        src + ":upsample", "-o", os.path.join(work, "cli_out")],
                       capture_output=True, text=True)
    ok = (p.returncode == 1 and "sf_export: node 'up'" in p.stderr and
          "no resize op" in p.stderr and "Traceback" not in p.stderr)
    return [("tools/sf_export.py exit %d: %s" % (p.returncode, p.stderr.strip()[-300:]), ok)]


def check_shape_helper():
    """The exporter's shape lookup on a node that is not a tensor."""
    import torch.fx
    g = torch.fx.symbolic_trace(_net(lambda s, x: x.size(0)))
    size = next(n for n in g.graph.nodes if n.op == "call_method")
    try:
        _shape(size)
    except ExportError as e:
        return [("_shape of a size node: ExportError %r" % str(e), "not a tensor" in str(e))]
    except Exception as e:  # noqa: BLE001 - the failure tested
        return [("_shape of a size node: %s %s" % (type(e).__name__, e), False)]
    return [("_shape of a size node raises", False)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sfgen", default=os.path.join(REPO, "build", "sfgen"))
    ap.add_argument("--work", default=None)
    ap.add_argument("--filter", default="")
    args = ap.parse_args()
    work = os.path.abspath(args.work or tempfile.mkdtemp(prefix="sf-idioms-"))
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    torch.set_num_threads(2)
    warnings.filterwarnings("ignore", message="Using padding='same'")   # PyTorch's own note
    sel = re.compile(args.filter)
    jobs = [(n, lambda n=n, m=m, i=i, o=o: check_supported(n, m(), i(), o, args.sfgen, work))
            for n, m, i, o in SUPPORTED]
    jobs += [("refused " + n, lambda n=n, m=m, i=i, w=w: check_refused(n, m(), i(), w, work))
             for n, m, i, w in REFUSED]
    jobs += [("cli", lambda: check_cli(work)), ("shape_helper", check_shape_helper)]
    passed = failed = 0
    for label, fn in jobs:
        if not sel.search(label):
            continue
        try:
            results = fn()
        except Exception as e:  # noqa: BLE001 - reported as a failure
            results = [("%s: %s" % (type(e).__name__, e), False)]
        for what, good in results:
            print("%-28s %s  %s" % (label, "PASS" if good else "FAIL", what), flush=True)
            passed += good
            failed += not good
    if not failed and not args.work:
        shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
