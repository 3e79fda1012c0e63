# cases.py - the models of the end-to-end tests (tests/e2e/run_e2e.py; the
# CUDA tests reuse them).  Each model_* function returns a ModelBuilder with
# weights from a fixed seed, so every run builds the same model.
#
# The network models exercise the linear kernels (every N:M pattern, sizes
# that are not multiples of M, dead channels, every weight dtype) and the
# network ops; the op models (OP_MODELS, model_op_*) exercise one
# elementwise or reduction op each on graph inputs of several shapes (last
# dimensions 1, 7, 33 and 100, broadcasting in both directions), drawn from
# the range the op is defined on, and on the output of a linear layer;
# model_op_all chains all of them and model_op_dead runs dead channels
# through them.

import math
import zlib

import numpy as np

from sparseflow.builder import ModelBuilder, choice, normal, signed_uniform, uniform

PATTERNS = ["dense", "1:4", "2:4", "2:8", "4:16", "8:32", "3:8", "5:16"]


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


def special_sample(rng, shape, denormals=True):
    """Standard normal inputs with Inf, NaN and denormals, by token (the
    first axis after the batch for a sequence, the batch item for an image):
    t % 5 == 0: NaN at input 0, which the compressed kernel's padding slots
    once read; 1: +Inf at one input (inputs 8 and 20 for t % 10 == 6); 2: -Inf and +Inf (Inf - Inf is NaN
    where both meet nonzero weights); 3: every input a denormal (finite
    without `denormals`: 16-bit GPU activations flush them); 4: finite."""
    x = rng.standard_normal(shape)
    flat = x.reshape(shape[0], -1)
    n = flat.shape[1]
    for t in range(shape[0]):
        kind = t % 5
        if kind == 0:
            flat[t, 0] = np.nan
        elif kind == 1 and t % 10 == 6:  # where zero-weight groups of 2:4 layers pad
            flat[t, 8 % n] = flat[t, 20 % n] = np.inf
        elif kind == 1:
            flat[t, (3 + 7 * t) % n] = np.inf
        elif kind == 2:
            flat[t, (5 * t + 1) % n] = -np.inf
            flat[t, (11 * t + 2) % n] = np.inf
        elif kind == 3 and denormals:
            flat[t] = flat[t] * 1e-39
    return flat.reshape(shape).astype(np.float32)


def model_special(max_batch=70, denormals=True):
    """Inf, NaN and denormal inputs (special_sample) into every kernel, read
    straight from the graph inputs so that the outputs show them: a 2:4 layer
    with groups of fewer than 2 nonzeros and a tail group (nm24 padding), an
    unstructured layer with ragged rows and a zero row (compressed padding),
    a dense layer with scattered zeros, and two convolutions (the 3x3 one on
    im2col rows, the 1x1 one channel-major). The reference follows
    docs/NUMERICS.md: a zero weight contributes nothing, also for Inf/NaN."""
    mb = ModelBuilder("special", seed=seed_of("special"))

    def sample(rng, shape):
        return special_sample(rng, shape, denormals)
    x = mb.input("x", [max_batch, 70], sample=sample)
    wa = mb.make_weight(24, 70, pattern="2:4")
    wa[:, 8:12] = 0.0
    wa[3, 20:24] = [0.0, 0.0, 0.5, 0.0]
    mb.output(mb.linear(x, 24, name="fc_24", weight=wa, out="y24"))
    wh = mb.make_weight(20, 70)
    wh[mb.rng.random(wh.shape) < 0.6] = 0.0
    wh[:, 0] = 0.0
    wh[2, :] = 0.0
    wh[5, 1:] = 0.0
    mb.output(mb.linear(x, 20, name="fc_half", weight=wh, bias=False, out="yh"))
    wd = mb.make_weight(18, 70)
    wd[mb.rng.random(wd.shape) < 0.1] = 0.0
    wd[:, 0] = 0.0
    mb.output(mb.linear(x, 18, name="fc_dense", weight=wd, out="yd"))
    img = mb.input("img", [max_batch, 4, 5, 5], sample=sample)
    mb.output(mb.conv2d(img, 8, 3, padding=1, pattern="1:4", name="cv3", out="c3"))
    mb.output(mb.conv2d(img, 8, 1, pattern="2:4", name="cv1", out="c1"))
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



# --------------------------------------------------------------------------
# op models: one elementwise or reduction op each
# --------------------------------------------------------------------------

OP_BATCH = 5    # the maximum batch of the op models (they run at 1 and 5)

# inner shapes (after the batch) of the inputs of the one-input ops
UNARY_SHAPES = [[1], [7], [3, 33], [100], [2, 3, 7]]
# (a, b) of the two-input ops: equal shapes, and broadcasting either way
BINARY_SHAPES = [([1], [1]), ([7], [7]), ([100], [1]), ([1], [100]), ([7, 1], [1, 33]),
                 ([1, 33], [7, 33]), ([3, 33], [3, 1]), ([1, 1], [7, 33]),
                 ([2, 1, 7], [2, 5, 1])]
# (condition, x, y) of where
WHERE_SHAPES = [([1], [1], [1]), ([7], [7], [7]), ([100], [1], [100]), ([1], [100], [1]),
                ([7, 1], [1, 33], [7, 33]), ([1, 1], [7, 33], [1, 33]),
                ([3, 1, 7], [3, 5, 1], [1, 5, 7])]


def _nonnegative(rng, shape):
    """Uniform on [0, 9) with about one element in ten exactly 0."""
    return np.where(rng.random(shape) < 0.1, 0.0, rng.uniform(0.0, 9.0, shape))


def _linear_in(mb, gain, name="fc", k=33, n=100, lead=()):
    """A linear layer [B, *lead, k] -> [B, *lead, n] of gain ~`gain` on a
    standard normal input u."""
    u = mb.input("u", [OP_BATCH] + list(lead) + [k])
    return mb.linear(u, n, name=name, scale=gain / np.sqrt(k))


def _model_unary(op, sample, variants=({},), gain=1.0, square=False):
    """`op` with each attribute set of `variants` on inputs of every shape
    in UNARY_SHAPES drawn by `sample`, and on a linear layer's output of
    gain `gain` (squared first with `square`)."""
    mb = ModelBuilder("op_" + op, seed=seed_of("op_" + op))
    for i, shape in enumerate(UNARY_SHAPES):
        x = mb.input("x%d" % i, [OP_BATCH] + shape, sample=sample)
        for j, attrs in enumerate(variants):
            mb.output(mb.unary(op, x, name="%s_x%d_%d" % (op, i, j), **attrs))
    h = _linear_in(mb, gain)
    if square:
        h = mb.mul(h, h, name="square")
    for j, attrs in enumerate(variants):
        mb.output(mb.unary(op, h, name="%s_fc_%d" % (op, j), **attrs))
    return mb


def model_op_erf():
    return _model_unary("erf", normal(2.0), gain=2.0)


def model_op_sqrt():
    """sqrt on non-negative inputs (zeros included) and on h*h."""
    return _model_unary("sqrt", _nonnegative, square=True)


def model_op_hardswish():
    """Inputs wide enough to reach both knees (-3 and 3)."""
    return _model_unary("hardswish", normal(4.0), gain=4.0)


CLIP_VARIANTS = ({"min": -0.5, "max": 0.75}, {"min": 0}, {"max": 0.25}, {},
                 {"min": 0.3, "max": 0.3}, {"min": 0, "max": 6})


def model_op_clip():
    """Both bounds, one, none (the identity), min == max, and relu6."""
    return _model_unary("clip", normal(1.5), CLIP_VARIANTS, gain=4.0)


HARDSIGMOID_VARIANTS = ({}, {"alpha": 1.0 / 6.0, "beta": 0.5}, {"alpha": -0.75, "beta": 0.25},
                        {"alpha": 2, "beta": 0})


def model_op_hardsigmoid():
    """The defaults (0.2, 0.5), PyTorch's (1/6, 0.5), a negative slope."""
    return _model_unary("hardsigmoid", normal(3.0), HARDSIGMOID_VARIANTS, gain=3.0)


def _binary_inputs(mb, op, prefix, sample_a, sample_b):
    """op on every (a, b) of BINARY_SHAPES, a and b graph inputs."""
    for i, (sa, sb) in enumerate(BINARY_SHAPES):
        a = mb.input("%sa%d" % (prefix, i), [OP_BATCH] + sa, sample=sample_a)
        b = mb.input("%sb%d" % (prefix, i), [OP_BATCH] + sb, sample=sample_b)
        mb.output(mb._binary(op, a, b, name="%s_%s%d" % (op, prefix, i)))


def model_op_sub():
    mb = ModelBuilder("op_sub", seed=seed_of("op_sub"))
    _binary_inputs(mb, "sub", "", None, None)
    h = _linear_in(mb, 1.0)
    mb.output(mb.sub(h, mb.linear("u", 100, name="fc2"), name="sub_fc_fc"))
    mb.output(mb.sub(mb.input("v", [OP_BATCH, 1]), h, name="sub_v_fc"))
    return mb


def model_op_div():
    """Denominators away from 0: inputs of magnitude 0.5 to 2, sigmoid."""
    mb = ModelBuilder("op_div", seed=seed_of("op_div"))
    _binary_inputs(mb, "div", "", None, signed_uniform(0.5, 2.0))
    h = _linear_in(mb, 2.0)
    mb.output(mb.div(h, mb.input("d", [OP_BATCH, 1], sample=signed_uniform(0.5, 2.0)),
                     name="div_fc_d"))
    mb.output(mb.div(mb.input("v", [OP_BATCH, 100]), mb.sigmoid(h, name="sig"),
                     name="div_v_sig"))
    return mb


def model_op_pow():
    """Positive bases with real exponents; bases of both signs with
    integer exponents (-3 to 3); a sigmoid as the base, a tanh as the
    exponent."""
    mb = ModelBuilder("op_pow", seed=seed_of("op_pow"))
    _binary_inputs(mb, "pow", "", uniform(0.25, 3.0), uniform(-2.5, 2.5))
    _binary_inputs(mb, "pow", "n", signed_uniform(0.5, 2.0), choice(range(-3, 4)))
    h = _linear_in(mb, 2.0)
    e = mb.input("e", [OP_BATCH, 1], sample=uniform(0.5, 2.5))
    mb.output(mb.pow(mb.sigmoid(h, name="sig"), e, name="pow_sig_e"))
    v = mb.input("v", [OP_BATCH, 100], sample=uniform(0.5, 2.0))
    mb.output(mb.pow(v, mb.tanh(h, name="th"), name="pow_v_tanh"))
    return mb


def model_op_where():
    """Conditions of 0 and 1, broadcast among all three operands; one that
    also holds -2, 0.5 and -0 (only != 0 counts); a linear layer's output
    as one branch."""
    mb = ModelBuilder("op_where", seed=seed_of("op_where"))
    bits = choice([0.0, 1.0])
    for i, (sc, sa, sb) in enumerate(WHERE_SHAPES):
        c = mb.input("c%d" % i, [OP_BATCH] + sc, sample=bits)
        a = mb.input("a%d" % i, [OP_BATCH] + sa)
        b = mb.input("b%d" % i, [OP_BATCH] + sb)
        mb.output(mb.where(c, a, b, name="where%d" % i))
    c = mb.input("cmix", [OP_BATCH, 100], sample=choice([0.0, 1.0, -2.0, 0.5, -0.0]))
    h = _linear_in(mb, 1.0)
    mb.output(mb.where(c, h, mb.relu(mb.linear("u", 100, name="fc2"), name="r2"),
                       name="where_fc"))
    mb.output(mb.where(c, mb.input("a_mix", [OP_BATCH, 1]), h, name="where_mix"))
    return mb


def model_op_reducemean():
    """Last axes of 1, 7, 33 and 100, keepdims 1 (the default) and 0 (a
    rank-2 input gives [B]), axis -1 written out, a linear layer's output."""
    mb = ModelBuilder("op_reducemean", seed=seed_of("op_reducemean"))
    spread = uniform(-1.0, 3.0)
    for i, (shape, attrs) in enumerate([([1], {}), ([7], {"keepdims": 0}),
                                        ([3, 33], {"axis": -1}),
                                        ([3, 33], {"keepdims": 0, "axis": -1}),
                                        ([100], {"keepdims": 1}),
                                        ([2, 3, 7], {"keepdims": 0}), ([1, 100], {})]):
        x = mb.input("x%d" % i, [OP_BATCH] + shape, sample=spread)
        mb.output(mb.reducemean(x, name="mean%d" % i, **attrs))
    h = _linear_in(mb, 1.0, lead=(4,))
    mb.output(mb.reducemean(h, name="mean_fc"))
    mb.output(mb.reducemean(h, keepdims=0, name="mean_fc_flat"))
    return mb


def model_op_all(max_batch=OP_BATCH):
    """All ten ops in one chain: a layer norm spelt out (reducemean, sub,
    mul, sqrt, div), erf, hardswish, hardsigmoid, pow, clip, where and a
    last reducemean that drops its axis."""
    mb = ModelBuilder("op_all", seed=seed_of("op_all"))
    x = mb.input("x", [max_batch, 5, 33])
    c = mb.input("cond", [max_batch, 5, 1], sample=choice([0.0, 1.0]))
    e = mb.input("expo", [max_batch, 1, 1], sample=uniform(0.5, 2.0))
    h = mb.linear(x, 33, name="fc1", pattern="2:4")
    d = mb.sub(h, mb.reducemean(h, name="mean"), name="centred")
    v = mb.reducemean(mb.mul(d, d, name="sq"), name="var")
    n = mb.div(d, mb.sqrt(v, name="std"), name="normed")
    g = mb.erf(n, name="g")
    k = mb.hardswish(mb.linear(g, 33, name="fc2", scale=3.0 / np.sqrt(33)), name="hsw")
    s = mb.hardsigmoid(k, alpha=1.0 / 6.0, name="hsig")
    p = mb.pow(mb.sigmoid(mb.linear(s, 7, name="fc3"), name="sig"), e, name="p")
    q = mb.clip(mb.linear(k, 7, name="fc4", pattern="1:4"), min=-1.0, max=1.0, name="q")
    y = mb.where(c, p, q, name="y")
    z = mb.reducemean(y, keepdims=0, name="z")
    mb.output(y)
    mb.output(z)
    return mb


def model_op_dead():
    """Dead channels (zero weight rows and bias) through the ops: erf, sqrt
    and hardswish keep a zero (f(0) = 0) and sub keeps a channel that is dead
    on both sides; clip with min > 0 and hardsigmoid (f(0) = beta) turn a
    dead channel into a constant one, which must not be dropped; div, pow,
    where and reducemean read dead channels as plain zeros.  Each branch ends
    in a linear layer that can drop the input columns found dead."""
    mb = ModelBuilder("op_dead", seed=seed_of("op_dead"))
    x = mb.input("x", [OP_BATCH, 24])
    a = mb.hardswish(mb.linear(x, 40, name="fc1", dead_rows=(0, 3, 17, 39), scale=0.5),
                     name="a")
    b = mb.linear(x, 40, name="fc2", dead_rows=(3, 5))
    d = mb.sub(a, b, name="d")                                    # dead: 3
    e = mb.erf(d, name="e")
    s = mb.sqrt(mb.mul(e, e, name="e2"), name="s")
    mb.output(mb.linear(s, 16, name="y_keep", out="y_keep"))
    c = mb.clip(a, min=0.25, max=2.0, name="c")                   # dead -> 0.25
    g = mb.hardsigmoid(b, name="g")                               # dead -> 0.5
    mb.output(mb.linear(mb.add(c, g, name="cg"), 16, name="y_const", out="y_const"))
    q = mb.div(a, mb.input("den", [OP_BATCH, 1], sample=signed_uniform(0.5, 2.0)), name="q")
    p = mb.pow(mb.input("base", [OP_BATCH, 40], sample=uniform(0.5, 2.0)), a, name="p")
    w = mb.where(mb.input("cond", [OP_BATCH, 40], sample=choice([0.0, 1.0])), q, b, name="w")
    m = mb.reducemean(a, name="m")
    t = mb.add(mb.add(w, p, name="wp"), m, name="wpm")
    mb.output(mb.linear(t, 16, name="y_data", out="y_data"))
    return mb


def model_float_literals():
    """Float attributes the generator prints into C (and CUDA): epsilons of 0,
    -0 and a denormal that rounds to 0 in float, clip bounds of -0 and 1e-320,
    a hardsigmoid slope of 1e-45. Every one must be a valid C literal."""
    mb = ModelBuilder("op_literals", seed=seed_of("op_literals"))
    x = mb.input("x", [OP_BATCH, 3, 33])
    h = mb.layernorm(x, name="ln_zero", eps=0.0, affine=False)
    h = mb.layernorm(h, name="ln_negzero", eps=-0.0)
    h = mb.layernorm(h, name="ln_denormal", eps=1e-320, affine=False)
    h = mb.clip(h, name="clip_tiny", min=-0.0, max=1e-320)
    g = mb.hardsigmoid(x, name="hs_tiny", alpha=1e-45, beta=0.25)
    mb.output(mb.add(h, g, name="y"))
    return mb


# the new one-input ops, each drawn where it is defined and where its result
# does not hinge on rounding: floor, ceil, round, sign and not on graph inputs
# (exact values, halves and integers included), the continuous ones also on a
# linear layer's output
UNARY2 = [("neg", normal(2.0), True), ("exp", normal(2.0), True),
          ("log", uniform(0.05, 9.0), False), ("abs", normal(2.0), True),
          ("reciprocal", signed_uniform(0.5, 2.0), False), ("leakyrelu", normal(2.0), True),
          ("softplus", normal(4.0), True),
          ("not", choice([0.0, -0.0, 1.0, -2.0, 0.5]), False),
          ("floor", choice([-2.5, -1.0, -0.5, 0.0, 0.25, 1.0, 1.5, 3.75]), False),
          ("ceil", choice([-2.5, -1.0, -0.5, 0.0, 0.25, 1.0, 1.5, 3.75]), False),
          ("sign", choice([-2.5, -0.0, 0.0, 1e-3, 7.0]), False),
          ("round", choice([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.25, -3.75]), False)]


def model_op_unary2():
    """neg, exp, log, abs, reciprocal, leakyrelu (default alpha and 0.2),
    softplus, not, floor, ceil, sign, round on inputs of every shape in
    UNARY_SHAPES; the continuous ones also on a linear layer's output."""
    mb = ModelBuilder("op_unary2", seed=seed_of("op_unary2"))
    h = _linear_in(mb, 2.0)
    for op, sample, on_fc in UNARY2:
        for i, shape in enumerate(UNARY_SHAPES[1:4]):
            x = mb.input("%s_x%d" % (op, i), [OP_BATCH] + shape, sample=sample)
            mb.output(mb.unary(op, x, name="%s_%d" % (op, i)))
        if on_fc:
            mb.output(mb.unary(op, h, name="%s_fc" % op))
    mb.output(mb.unary("leakyrelu", h, alpha=0.2, name="leakyrelu_fc_02"))
    return mb


COMPARE_OPS = ("min", "max", "equal", "less", "greater", "lessorequal", "greaterorequal",
               "and", "or")


def model_op_compare():
    """min, max, the comparisons and and/or, each on every other (a, b) of
    BINARY_SHAPES (alternating, within the 64 inputs and outputs), drawn
    from a few values so that ties and zeros occur; min and max also on
    linear layers' outputs."""
    mb = ModelBuilder("op_compare", seed=seed_of("op_compare"))
    few = choice([-1.0, 0.0, -0.0, 0.5, 2.0])
    ab = [(mb.input("a%d" % i, [OP_BATCH] + sa, sample=few),
           mb.input("b%d" % i, [OP_BATCH] + sb, sample=few))
          for i, (sa, sb) in enumerate(BINARY_SHAPES)]
    for k, op in enumerate(COMPARE_OPS):
        for i, (a, b) in enumerate(ab):
            if (i + k) % 2 == 0:
                mb.output(mb._binary(op, a, b, name="%s_%d" % (op, i)))
    h = _linear_in(mb, 1.0)
    g = mb.linear("u", 100, name="fc2")
    mb.output(mb.minimum(h, g, name="min_fc"))
    mb.output(mb.maximum(h, g, name="max_fc"))
    return mb


def model_op_reduce():
    """reducesum, reducemean, reducemax, reducemin and reduceprod over one
    axis, several (adjacent or not) and every non-batch axis, keepdims 1
    and 0; reducemean's `axis` on a middle axis; a linear layer's output."""
    mb = ModelBuilder("op_reduce", seed=seed_of("op_reduce"))
    x = mb.input("x", [OP_BATCH, 3, 5, 7], sample=uniform(0.8, 1.25))
    for op in ("reducesum", "reducemean", "reducemax", "reducemin", "reduceprod"):
        for j, (axes, keep) in enumerate([([1], None), ([2], 0), ([3], None), ([1, 3], None),
                                          ([-1, 1], 0), ([2, 3], 0), ([1, 2, 3], None),
                                          ([3, 2, 1], 0)]):
            mb.output(mb.reduce(op, x, axes, keepdims=keep, name="%s_%d" % (op, j)))
    mb.output(mb.reducemean(x, axis=1, name="mean_axis1"))
    h = _linear_in(mb, 1.0, lead=(4,))
    mb.output(mb.reduce("reducesum", h, [1], name="sum_fc"))
    mb.output(mb.reduce("reducemax", h, [1, 2], keepdims=0, name="max_fc"))
    return mb


def model_op_const():
    """Constant tensors (first dimension 1, the same for every batch item)
    as either operand of the binary ops and as any operand of where, of the
    same rank as the other operand or lower (right-aligned): a layer norm
    spelt out with scalar constants, a per-channel scale and shift of an
    image, attention scores divided by a scalar, a mask added, a causal
    where(cond, -inf, x) before a softmax; expand of a class token and of a
    batched tensor, a concat after it, a position embedding added; an F16
    constant; a constant with zero channels before a linear layer."""
    mb = ModelBuilder("op_const", seed=seed_of("op_const"))
    rng = np.random.default_rng(seed_of("op_const/values"))
    S, E = 5, 33
    x = mb.input("x", [OP_BATCH, S, E])
    # layer norm from sub, pow, add, sqrt, div with scalars ([1] and [1, 1, 1])
    m = mb.reducemean(x, name="m")
    d = mb.sub(x, m, name="d")
    two = mb.constant(np.array([2.0]), name="two")
    v = mb.reducemean(mb.pow(d, two, name="d2"), name="v")
    eps = mb.constant(np.array([[[1e-5]]]), name="eps")
    n = mb.div(d, mb.sqrt(mb.add(v, eps, name="veps"), name="std"), name="n")
    gam = mb.constant(rng.uniform(0.5, 1.5, (1, E)), name="gamma")
    bet = mb.constant(rng.uniform(-0.2, 0.2, (1, 1, E)), name="beta")
    mb.output(mb.add(mb.mul(gam, n, name="ng"), bet, name="ln"))
    # constant first, same rank; constant second, rank 1
    c3 = mb.constant(rng.standard_normal((1, S, E)), name="c3")
    mb.output(mb.sub(c3, x, name="c3_minus_x"))
    mb.output(mb.maximum(x, mb.constant(np.array([0.25]), name="quarter"), name="max_q"))
    mb.output(mb._binary("less", c3, x, name="c3_less_x"))
    # an image: per-channel scale and shift ([1, C, 1, 1]) and a row constant ([1, W])
    img = mb.input("img", [OP_BATCH, 4, 3, 6])
    sc = mb.constant(rng.uniform(0.5, 2.0, (1, 4, 1, 1)), name="scale")
    sh = mb.constant(rng.uniform(-1.0, 1.0, (1, 4, 1, 1)), name="shift", dtype="F16")
    row = mb.constant(rng.uniform(-1.0, 1.0, (1, 6)), name="row")
    mb.output(mb.add(mb.add(mb.mul(img, sc, name="img_s"), sh, name="img_sh"), row,
                     name="img_row"))
    # attention scores: divided by sqrt(d), a mask added, causal where, softmax
    q = mb.input("q", [OP_BATCH, 2, S, S])
    sq = mb.div(q, mb.constant(np.array([math.sqrt(8.0)]), name="sqrt_d"), name="scaled")
    mask = mb.constant(rng.choice([0.0, -1.5], (1, 1, S, S)), name="mask")
    sm = mb.add(sq, mask, name="masked")
    causal = mb.constant(np.tril(np.ones((S, S)))[None], name="causal")     # [1, S, S]
    ninf = mb.constant(np.array([-np.inf]), name="ninf")
    w = mb.where(causal, sm, ninf, name="causal_w")
    mb.output(mb.softmax(w, name="probs"))
    # where with a constant condition and branches on either side
    mb.output(mb.where(mb.input("cond", [OP_BATCH, S, 1], sample=choice([0.0, 1.0])),
                       c3, x, name="where_cx"))
    mb.output(mb.where(causal, mb.constant(np.array([[7.0]]), name="seven"),
                       mb.input("y3", [OP_BATCH, S, S]), name="where_kk"))
    # ViT: a class token expanded to the batch, concatenated, a position embedding
    cls = mb.constant(rng.standard_normal((1, 1, E)), name="cls")
    tok = mb.concat([mb.expand(cls, [1, E], name="cls_b"), x], axis=1, name="tokens")
    pos = mb.constant(rng.standard_normal((1, S + 1, E)) * 0.1, name="pos")
    mb.output(mb.add(tok, pos, name="embedded"))
    mb.output(mb.expand(mb.input("one", [OP_BATCH, 1, E]), [4, E], name="one_x4"))
    # a constant with zero channels: the linear layer after it skips them
    keep = np.ones((1, E))
    keep[0, [0, 5, 6, 31]] = 0.0
    gated = mb.mul(x, mb.constant(keep, name="keep"), name="gated")
    mb.output(mb.linear(gated, 16, name="fc_gated", out="y_gated"))
    return mb


# (key, model) of the op models; run_e2e.py runs them at batch 1 and OP_BATCH
# (keys ops_<op>; the models are named op_<op>)
OP_MODELS = [("ops_erf", model_op_erf), ("ops_sqrt", model_op_sqrt),
             ("ops_hardswish", model_op_hardswish), ("ops_clip", model_op_clip),
             ("ops_hardsigmoid", model_op_hardsigmoid), ("ops_sub", model_op_sub),
             ("ops_div", model_op_div), ("ops_pow", model_op_pow), ("ops_where", model_op_where),
             ("ops_reducemean", model_op_reducemean), ("ops_float_literals", model_float_literals),
             ("ops_unary2", model_op_unary2), ("ops_compare", model_op_compare),
             ("ops_reduce", model_op_reduce), ("ops_const", model_op_const)]
