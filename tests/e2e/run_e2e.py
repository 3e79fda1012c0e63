#!/usr/bin/python3
# run_e2e.py - end-to-end test driver for SparseFlow.
#
# For every model in the test matrix it writes the model (sfmodel.py), runs
# `sfgen MODEL.json -o OUT [flags]`, builds the generated code with
# `make -C OUT -s -j2 [SANITIZE=1]`, runs the program OUT/<name> on random
# inputs at batch 1 and at the declared max batch with --threads 1 and 2, and
# compares each output with the float64 reference (ref.py).  It also checks
# that --no-propagate gives bit-identical outputs on the dead-channel model,
# and that sfgen / the generated program reject bad input with the documented
# exit codes.
#
# Usage (from the repo root, needs numpy, so use /usr/bin/python3):
#   /usr/bin/python3 tests/e2e/run_e2e.py [--sfgen build/sfgen] [--work DIR]
#                                         [--sanitize] [--quick]
#                                         [--filter REGEX] [--verbose]
# Prints one line per case, the worst error, then "N passed, N failed";
# exits 1 if anything failed.  Lines starting with '#' are progress notes.
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
#   variants     every variant of the kernel registry (`sfgen kernels`),
#                batches 1..70 (each variant's widest tile); the 2:4 stream
#                also on its portable path
#   dead         dead / unused / constant channels; with and without
#                --no-propagate on one kernel family must be bit-identical
#   each build runs at batch 1 and max batch (multi also 3), --threads 1
#   and 2; plus sfgen exit-code checks and bad-input checks of one program.
# --quick (for --sanitize): one build per small chain (forced unrolling for
#   2:4 and 3:8, --unroll-budget 0 for the other sparse patterns, 2:4 also
#   --dense), one large chain (5:16, --unroll-budget 0 and --dense), the
#   feature models once (multi with --unroll-budget 0), every variant, dead
#   on the compressed and dense families with and without --no-propagate.

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
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import ref      # noqa: E402
from sfmodel import ModelBuilder  # noqa: E402

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
# sqrt(K)*u ~ 2e-6.  The activation functions (expf/erff/tanhf) add only a
# few ulp (~1e-7 relative).  Errors from consecutive layers do not amplify
# much because the layers have ~unit gain.  1e-4 therefore leaves a margin
# over the worst-case bound while still catching any real bug (a wrong or
# missing weight, index or bias changes the output by >= 1e-3 relative).
# The observed error of every case is printed so that drift is visible.
TOL = 1e-4

PATTERNS = ["dense", "1:4", "2:4", "2:8", "4:16", "8:32", "3:8", "5:16"]
HUGE_BUDGET = "1000000000"

SAN_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:",
               "UndefinedBehaviorSanitizer")


def dirname_of(key):
    """Case key -> a file-name safe directory name (make dislikes ':')."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", key)


def seed_of(text):
    return zlib.crc32(text.encode("utf-8")) & 0xFFFFFFFF


# --------------------------------------------------------------------------
# model definitions.  Each returns a ModelBuilder.
# --------------------------------------------------------------------------

def model_small(pattern, max_batch):
    """4 -> 4 -> 100 -> 37 chain (relu, gelu erf between)."""
    mb = ModelBuilder("small", seed=seed_of("small" + pattern))
    x = mb.input("x", [max_batch, 4])
    h = mb.linear(x, 4, name="fc1", pattern=pattern)
    h = mb.relu(h, name="act1")
    h = mb.linear(h, 100, name="fc2", pattern=pattern)
    h = mb.gelu(h, approximate="none", name="act2")
    y = mb.linear(h, 37, name="fc3", pattern=pattern, out="y")
    mb.output(y)
    return mb


def model_large(pattern, max_batch=19):
    """37 -> 1000 -> 1024 -> 1024 -> 10 chain (relu, gelu tanh, silu)."""
    mb = ModelBuilder("large", seed=seed_of("large" + pattern))
    x = mb.input("x", [max_batch, 37])
    h = mb.linear(x, 1000, name="fc1", pattern=pattern)
    h = mb.relu(h, name="act1")
    h = mb.linear(h, 1024, name="fc2", pattern=pattern)
    h = mb.gelu(h, approximate="tanh", name="act2")
    h = mb.linear(h, 1024, name="fc3", pattern=pattern)
    h = mb.silu(h, name="act3")
    y = mb.linear(h, 10, name="fc4", pattern=pattern, out="logits")
    mb.output(y)
    return mb


def model_acts():
    """Every unary activation, linear without bias, matmul; F16 weights.
    Output y: a chain through all activations at moderate values.
    Output s: all activations applied to large pre-activations (|v| up to
    ~100) to check saturation / overflow handling, summed with add."""
    mb = ModelBuilder("acts", seed=seed_of("acts"), dtype="F16")
    x = mb.input("x", [5, 24])
    h = mb.relu(mb.linear(x, 40, name="fc1", pattern="2:4"), name="a_relu")
    h = mb.linear(h, 40, name="fc2", bias=False)
    h = mb.gelu(h, name="a_gelu")                      # no attr: erf
    h = mb.matmul(h, 33, name="mm1", pattern="4:16")   # K=40: short group
    h = mb.gelu(h, approximate="tanh", name="a_gelu_tanh")
    h = mb.silu(mb.linear(h, 33, name="fc3", pattern="3:8"), name="a_silu")
    h = mb.linear(h, 20, name="fc4", pattern="1:4")
    h = mb.sigmoid(h, name="a_sigmoid")
    h = mb.tanh(mb.linear(h, 20, name="fc5"), name="a_tanh")
    y = mb.linear(h, 7, name="fc6", bias=False, out="y")
    big = mb.linear(x, 16, name="big", scale=6.0)
    acc = mb.relu(big, name="b_relu")
    for i, kind in enumerate(["gelu_erf", "gelu_tanh", "silu", "sigmoid",
                              "tanh"]):
        acc = mb.add(acc, mb.act(kind, big), name="b_sum%d" % i,
                     out="s" if kind == "tanh" else None)
    mb.output(y)
    mb.output(acc)
    return mb


def model_multi():
    """Rank-3 input [B,S,K] plus a context input [B,1,K2]; broadcast mul
    [B,1,K]*[B,S,K] and [B,S,K]*[B,S,1]; residual add; matmul and
    bias-less linear on rank-3 activations; two outputs; BF16 weights."""
    mb = ModelBuilder("multi", seed=seed_of("multi"), dtype="BF16")
    x = mb.input("x", [8, 6, 32])
    ctx = mb.input("ctx", [8, 1, 24])
    h = mb.linear(x, 48, name="xproj", pattern="2:4")
    h1 = mb.gelu(h, name="g1")
    gate = mb.sigmoid(mb.linear(ctx, 48, name="ctxproj"), name="gate")
    m = mb.mul(gate, h1, name="gated")                 # [B,1,48]*[B,6,48]
    f = mb.linear(m, 48, name="mix", pattern="4:16", bias=False)
    r = mb.add(f, h1, name="resid")                    # residual
    out_seq = mb.matmul(r, 20, name="proj", pattern="1:4", out="out_seq")
    score = mb.tanh(mb.linear(x, 1, name="score"), name="score_t")
    sc = mb.mul(r, score, name="scaled")               # [B,6,48]*[B,6,1]
    out2 = mb.linear(sc, 12, name="head", pattern="8:32", out="out2")
    mb.output(out_seq)
    mb.output(out2)
    return mb


def model_bcast():
    """Mutual broadcasting ([B,5,1]+[B,1,20], [B,1,1]*[B,5,20]), rank-2
    broadcasting ([B,6]*[B,1]), an activation applied to a graph input,
    three inputs, two outputs, mixed F32/F16/BF16 tensors."""
    mb = ModelBuilder("bcast", seed=seed_of("bcast"), dtype="F32")
    u = mb.input("u", [3, 5, 12])
    v = mb.input("v", [3, 1, 12])
    w = mb.input("w", [3, 10])
    a = mb.linear(u, 1, name="ua", dtype="F16", bias_dtype="BF16")
    c = mb.linear(v, 20, name="vc")
    d = mb.add(a, c, name="d")                         # [B,5,1]+[B,1,20]
    e = mb.mul(c, a, name="e")                         # [B,1,20]*[B,5,1]
    fr = mb.relu(mb.add(d, e, name="f"), name="fr")
    s = mb.linear(v, 1, name="vs", dtype="BF16")       # [B,1,1]
    g = mb.mul(s, fr, name="g")                        # [B,1,1]*[B,5,20]
    y = mb.linear(g, 9, name="head", pattern="3:8", dtype="BF16", out="y")
    p = mb.linear(w, 1, name="wp")                     # [B,1]
    q = mb.linear(mb.sigmoid(w, name="ws"), 6, name="wq", pattern="1:4",
                  dtype="F16")                         # [B,6]
    z = mb.mul(q, p, name="z", out="z")                # [B,6]*[B,1]
    mb.output(y)
    mb.output(z)
    return mb


def model_dead():
    """Dead channels: zero rows + zero bias feeding relu then a linear;
    zero input columns of later linears (upstream channels unused); a
    residual add with a channel dead on one side only; a constant channel
    (zero row, nonzero bias) that must NOT be treated as dead; sigmoid of a
    dead channel (= 0.5, not dead); a whole output column that is zero."""
    mb = ModelBuilder("dead", seed=seed_of("dead"), dtype="F32")
    x = mb.input("x", [6, 40])
    a1 = mb.relu(mb.linear(x, 64, name="fc1", dead_rows=(0, 5, 17, 63),
                           dead_cols=(7,), const_rows={30: 0.7}), name="a1")
    # channels 3, 9, 40 of a1 are read by nobody (zero columns in fc2, fc5)
    a2 = mb.relu(mb.linear(a1, 48, name="fc2", pattern="2:4",
                           dead_cols=(3, 9, 40), dead_rows=(2, 11)), name="a2")
    h3 = mb.linear(a2, 48, name="fc3", dead_rows=(11, 20))
    r = mb.add(a2, h3, name="res")    # 2: dead in a2 only, 20: h3 only
    g = mb.gelu(r, approximate="tanh", name="g")
    y0 = mb.linear(g, 24, name="fc4", dead_cols=(2, 7), dead_rows=(5,))
    q = mb.sigmoid(mb.linear(a1, 24, name="fc5", dead_rows=(1, 4),
                             dead_cols=(3, 9, 40)), name="q")
    y = mb.mul(y0, q, name="ymul", out="y")
    mm = mb.matmul(r, 30, name="mm", dead_cols=(3,), dead_k=(20,))
    zz = mb.silu(mm, name="zz")
    z = mb.linear(zz, 10, name="fc6", bias=False, dead_cols=(3, 29),
                  out="z")
    mb.output(y)
    mb.output(z)
    return mb


def model_density():
    """Each kernel at weight densities 0, 1/2 (unstructured) and 1 on an
    input width (40) that is not a multiple of the group sizes."""
    mb = ModelBuilder("density", seed=11)
    x = mb.input("x", [7, 40])
    w0 = np.zeros((24, 40))
    zero = mb.linear(x, 24, name="fc_zero", weight=w0)   # bias only
    wh = mb.make_weight(24, 40)
    wh[mb.rng.random(wh.shape) < 0.5] = 0.0
    half = mb.linear(x, 24, name="fc_half", weight=wh)
    full = mb.linear(x, 24, name="fc_full")
    s = mb.add(zero, half, name="sum")
    y = mb.mul(s, full, name="prod", out="y")
    mb.output(y)
    return mb


def model_variants(max_batch=70):
    """Layers for every kernel variant: a 2:4 layer with a tail group, an
    unstructured half-dense one (ragged compressed rows) with a zero row, and
    a dense one; batches up to 70 reach each variant's widest token tile."""
    mb = ModelBuilder("variants", seed=seed_of("variants"))
    x = mb.input("x", [max_batch, 102])
    h = mb.linear(x, 37, name="fc_24", pattern="2:4")
    h = mb.relu(h, name="act1")
    wh = mb.make_weight(40, 37)
    wh[mb.rng.random(wh.shape) < 0.5] = 0.0
    wh[7, :] = 0.0
    h = mb.linear(h, 40, name="fc_half", weight=wh)
    h = mb.gelu(h, approximate="tanh", name="act2")
    y = mb.linear(h, 19, name="fc_dense", out="y")
    mb.output(y)
    return mb


def model_cnn(max_batch=4):
    """Convolutions on odd sizes: a strided, padded 2:4 stem with a batch norm
    to fold, max pooling with padding, a residual block (1x1 and dilated 3x3,
    1:4), depthwise and grouped convs, asymmetric padding and strides, average
    pooling that excludes padding, a channel concat, global pooling, flatten
    and a linear head; a batch norm that cannot fold (its input is read twice)."""
    mb = ModelBuilder("cnn", seed=seed_of("cnn"))
    x = mb.input("img", [max_batch, 3, 13, 11])
    h = mb.conv2d(x, 16, 3, stride=2, padding=1, pattern="2:4", name="stem")
    h = mb.relu(mb.batchnorm(h, name="stem_bn"), name="stem_act")
    h = mb.pool("maxpool2d", h, 3, stride=2, padding=1, name="pool1")    # [B,16,4,3]
    a = mb.relu(mb.batchnorm(mb.conv2d(h, 16, 1, bias=False, pattern="2:4", name="b1"),
                             name="b1_bn"), name="b1_act")
    a = mb.batchnorm(mb.conv2d(a, 16, 3, padding=2, dilation=2, pattern="1:4", name="b2"),
                     name="b2_bn")
    r = mb.relu(mb.add(a, h, name="res"), name="res_act")
    d = mb.conv2d(r, 16, 3, padding=1, groups=16, name="dw")              # depthwise
    d = mb.relu(mb.batchnorm(d, name="dw_bn"), name="dw_act")
    gq = mb.conv2d(d, 8, (2, 3), stride=(1, 2), padding=[0, 1, 1, 0], groups=2, name="grp")
    u = mb.batchnorm(r, name="shared_bn")                   # r is also read by the add
    u = mb.pool("avgpool2d", u, 3, stride=1, padding=1, name="avg")
    u = mb.conv2d(u, 8, (2, 3), stride=(1, 2), padding=[0, 1, 1, 0], pattern="2:8",
                  name="asym")
    cat = mb.concat([gq, u], axis=1, name="cat")                          # [B,16,4,2]
    gp = mb.flatten(mb.global_avgpool(cat, name="gap"), name="flat")
    y = mb.linear(gp, 10, name="head", out="y")
    # a linear on an NCHW tensor (over W) with dead rows: its rows are not channels
    w4 = mb.linear(cat, 5, name="lin4d", pattern="2:4", dead_rows=(1,), out="w4")
    mb.output(y)
    mb.output(cat)
    mb.output(w4)
    return mb


def model_cnn_dead():
    """A channel-pruned residual block: pruned conv channels (zero filters and
    zero batch-norm scale and shift) stay zero through relu, max pooling and
    the residual add, so the next convs drop their input columns."""
    mb = ModelBuilder("cnn_dead", seed=seed_of("cnn_dead"))
    x = mb.input("img", [3, 8, 9, 9])
    dead = (1, 4, 5, 11)
    h = mb.conv2d(x, 12, 3, padding=1, pattern="2:4", dead_out=dead, name="c1")
    h = mb.relu(mb.batchnorm(h, dead=dead, name="c1_bn"), name="c1_act")
    h = mb.pool("maxpool2d", h, 2, name="pool")
    a = mb.conv2d(h, 12, 1, dead_out=(1, 4, 5, 11, 7), name="c2")
    r = mb.relu(mb.add(a, h, name="res"), name="res_act")   # 7 lives on the skip path
    y = mb.conv2d(r, 6, 3, padding=1, pattern="2:4", name="c3")
    z = mb.linear(mb.flatten(mb.global_avgpool(r, name="gap"), name="flat"), 5, name="fc",
                  out="z")
    mb.output(y)
    mb.output(z)
    return mb


def model_transformer(max_batch=3):
    """A small encoder-decoder mix: token and position embeddings, layer
    norms, 2:4 projections, the fused attention with a padding mask and a
    causal one, and the same attention spelt out with reshape, transpose,
    batched matmul and softmax; slice and concat on inner axes, a gelu MLP."""
    S, E, H = 7, 24, 3
    mb = ModelBuilder("tfm", seed=seed_of("tfm"))
    ids = mb.input("ids", [max_batch, S])
    pos = mb.input("pos", [max_batch, S])
    mask = mb.input("mask", [max_batch, S])
    e = mb.add(mb.embedding(ids, 50, E, name="tok"), mb.embedding(pos, S, E, name="posemb"),
               name="emb")
    h = mb.layernorm(e, name="ln0")
    q = mb.linear(h, E, name="q", pattern="2:4")
    k = mb.linear(h, E, name="k", pattern="2:4")
    v = mb.linear(h, E, name="v")
    a = mb.attention(q, k, v, H, mask=mask, name="attn")
    c = mb.attention(q, k, v, H, causal=True, name="causal")
    # attention again, unmasked and op by op, its scores scaled by an input
    def heads(t, name):
        return mb.transpose(mb.reshape(t, [0, S, H, -1], name=name + "_r"), [0, 2, 1, 3],
                            name=name + "_t")
    qh, vh = heads(q, "qh"), heads(v, "vh")
    kt = mb.transpose(mb.reshape(k, [-1, S, H, E // H], name="kh_r"), [0, 2, 3, 1],
                      name="kh_t")
    sc = mb.mul(mb.bmm(qh, kt, name="qk"), mb.input("scale", [max_batch, 1, 1, 1]),
                name="scaled")
    p = mb.softmax(sc, axis=3, name="sm")
    o = mb.reshape(mb.transpose(mb.bmm(p, vh, name="pv"), [0, 2, 1, 3], name="o_t"),
                   [0, S, E], name="o_r")
    h2 = mb.add(mb.linear(a, E, name="proj", pattern="2:4"), e, name="res1")
    h3 = mb.layernorm(h2, name="ln1", affine=False)
    m = mb.linear(mb.gelu(mb.linear(h3, 2 * E, name="up", pattern="1:4"),
                          approximate="tanh", name="act"), E, name="down", pattern="2:4")
    left = mb.slice(m, 2, 0, 10, name="left")
    right = mb.slice(h2, 2, -14, None, 1, name="right")
    mid = mb.slice(c, 1, 1, 7, 2, name="rows")                          # [B,3,E]
    y = mb.concat([left, right], axis=2, name="y")                       # [B,S,24]
    mb.output(y)
    mb.output(mid)
    mb.output(o)
    return mb


def registry_variants(sfgen):
    """The kernel registry (`sfgen kernels --json`): every variant is built."""
    out = subprocess.run([sfgen, "kernels", "--json"], check=True, capture_output=True,
                         text=True).stdout
    return [v["name"] for v in json.loads(out)]


class ModelCase:
    def __init__(self, key, make, batches, builds, bitwise=(),
                 reject_checks=False):
        self.key = key            # unique id, used for dirs and printing
        self.make = make          # () -> ModelBuilder
        self.batches = batches    # runtime batches to run
        self.builds = builds      # list of (label, [sfgen flags, "make:VAR=v"])
        self.bitwise = bitwise    # pairs of build labels: outputs identical
        self.reject_checks = reject_checks


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
    return cases


# --------------------------------------------------------------------------
# running tools
# --------------------------------------------------------------------------

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
        res.record("cli: %-28s want exit %d got %s" % (tag, want,
                                                        describe_rc(rc)),
                   ok, detail=None if ok else sout + serr)


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
            err, problem, per = compare(outs, refs[b])
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
