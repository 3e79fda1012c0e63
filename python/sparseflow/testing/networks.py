"""networks.py - PyTorch definitions of the three networks SparseFlow
compiles end to end (ResNet-50, a BERT-base encoder, GPT-2 small), each at its
full size and at a reduced size with the same ops (for the tests), used by
tests/models, bench/run_models_bench.py and examples/models/export_model.py.
Needs torch (and torchvision for ResNet-50).

Weights are seeded random: pretrained ones are not needed to check that the
generated code computes what PyTorch computes on the same weights.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class Attention(nn.Module):
    """Multi-head self-attention; sparseflow.export maps it onto one fused
    `attention` node between the q/k/v and output projections."""
    sf_attention = True

    def __init__(self, dim, heads, causal=False):
        super().__init__()
        self.heads, self.causal = heads, causal
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x, mask=None):
        B, S, E = x.shape
        D = E // self.heads

        def split(t):  # [B, S, E] -> [B, heads, S, D]
            return t.view(B, S, self.heads, D).transpose(1, 2)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        s = q @ k.transpose(-1, -2) / math.sqrt(D)
        if self.causal:
            s = s.masked_fill(torch.ones(S, S, dtype=torch.bool).triu(1), float("-inf"))
        if mask is not None:  # [B, S]: 0 drops a key (padding)
            s = s.masked_fill(mask[:, None, None, :] == 0, float("-inf"))
        y = (F.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(B, S, E)
        return self.o(y)


class BertLayer(nn.Module):
    def __init__(self, d, heads, ff):
        super().__init__()
        self.attn = Attention(d, heads)
        self.ln1, self.ln2 = nn.LayerNorm(d, eps=1e-12), nn.LayerNorm(d, eps=1e-12)
        self.up, self.down = nn.Linear(d, ff), nn.Linear(ff, d)
        self.act = nn.GELU()

    def forward(self, x, mask):
        h = self.ln1(x + self.attn(x, mask))
        return self.ln2(h + self.down(self.act(self.up(h))))


class Bert(nn.Module):
    """BERT encoder with its embeddings; positions and segments are inputs."""

    def __init__(self, vocab=30522, d=768, layers=12, heads=12, ff=3072, max_pos=512):
        super().__init__()
        self.word = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(max_pos, d)
        self.seg = nn.Embedding(2, d)
        self.ln = nn.LayerNorm(d, eps=1e-12)
        self.layers = nn.ModuleList(BertLayer(d, heads, ff) for _ in range(layers))

    def forward(self, ids, positions, segments, mask):
        h = self.ln(self.word(ids) + self.pos(positions) + self.seg(segments))
        for layer in self.layers:
            h = layer(h, mask)
        return h


class GPT2Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = Attention(d, heads, causal=True)
        self.fc, self.proj = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.act = nn.GELU(approximate="tanh")

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.proj(self.act(self.fc(self.ln2(x))))


class GPT2(nn.Module):
    """GPT-2 prefill: logits for every position; the head shares wte's weights."""

    def __init__(self, vocab=50257, d=768, layers=12, heads=12, ctx=1024):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(ctx, d)
        self.blocks = nn.ModuleList(GPT2Block(d, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)
        self.head.weight = self.wte.weight

    def forward(self, ids, positions):
        h = self.wte(ids) + self.wpe(positions)
        for b in self.blocks:
            h = b(h)
        return self.head(self.ln_f(h))


class GPT2Step(nn.Module):
    """One decode step of a GPT2 with its key/value cache as explicit tensors,
    the form runtimes such as onnxruntime take: past_k and past_v
    [layers, B, P, d] -> (logits [B, 1, vocab], keys and values with the new
    token appended). Shares the GPT2's weights."""

    def __init__(self, gpt2):
        super().__init__()
        self.m = gpt2

    def forward(self, ids, positions, past_k, past_v):
        m = self.m
        h = m.wte(ids) + m.wpe(positions)
        ks, vs = [], []
        for i, blk in enumerate(m.blocks):
            a, x = blk.attn, blk.ln1(h)
            B, S, E = x.shape
            D = E // a.heads
            k = torch.cat([past_k[i], a.k(x)], 1)
            v = torch.cat([past_v[i], a.v(x)], 1)

            def split(t):
                return t.view(B, t.shape[1], a.heads, D).transpose(1, 2)

            s = split(a.q(x)) @ split(k).transpose(-1, -2) / math.sqrt(D)  # one query sees all
            y = (F.softmax(s, dim=-1) @ split(v)).transpose(1, 2).reshape(B, S, E)
            h = h + a.o(y)
            h = h + blk.proj(blk.act(blk.fc(blk.ln2(h))))
            ks.append(k)
            vs.append(v)
        return m.head(m.ln_f(h)), torch.stack(ks), torch.stack(vs)


class OpsNet(nn.Module):
    """The elementwise and reduction ops in the PyTorch spellings the
    exporter maps (erf, sqrt, hardswish, clip, hardsigmoid, sub, div, pow,
    where, reducemean), around three linear layers. Inputs: x [B, S, D],
    cond [B, S, 1] of 0/1, expo [B, 1, 1] > 0; three outputs."""

    def __init__(self, dim=33):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.fc3 = nn.Linear(dim, 7)
        self.hardtanh, self.relu6 = nn.Hardtanh(-0.5, 0.75), nn.ReLU6()
        self.hardsigmoid, self.hardswish = nn.Hardsigmoid(), nn.Hardswish()

    def forward(self, x, cond, expo):
        h = self.fc1(x)
        d = h - h.mean(-1, keepdim=True)                            # reducemean, sub
        var = torch.mean(d ** 2, dim=-1, keepdim=True)              # ** 2: mul
        n = torch.div(torch.sub(h, h.mean(dim=[-1], keepdim=True)), torch.sqrt(var))
        g = torch.erf(n) + n.erf() / (var ** 0.5 + var.sqrt())     # ** 0.5: sqrt
        k = self.fc2(g)
        a = self.hardswish(k) + F.hardswish(k) + self.hardsigmoid(k) + F.hardsigmoid(k)
        c = (torch.clamp(k, min=-1.0, max=1.0) + k.clamp(min=0.25) + torch.clip(k, None, 0.5)
             + k.clamp_max(-0.5) + k.clamp_min(0.5) + F.hardtanh(k, -2.0, 2.0)
             + self.hardtanh(k) + self.relu6(k) + F.relu6(k))
        p = torch.sigmoid(self.fc3(a)) ** expo + torch.pow(torch.sigmoid(self.fc3(c)), expo)
        y = torch.where(cond.bool(), a, c) + torch.where(cond != 0, c, a) + a.where(cond.bool(), c)
        return p, y, (y - a).mean(-1)                               # keepdim=False


def _randomise_norms(model, gen):
    """Random batch-norm statistics and norm affine terms, so that folding
    and normalisation are exercised with values other than 0 and 1."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2, generator=gen)
                m.running_var.uniform_(0.5, 1.5, generator=gen)
            if isinstance(m, (nn.BatchNorm2d, nn.LayerNorm)) and m.weight is not None:
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.uniform_(-0.2, 0.2, generator=gen)


def resnet50(tiny=False):
    import torchvision
    from torchvision.models.resnet import Bottleneck, ResNet
    if tiny:  # every op of ResNet-50, one bottleneck per stage
        return ResNet(Bottleneck, [1, 1, 1, 1], num_classes=10)
    return torchvision.models.resnet50(num_classes=1000)


def build(arch, tiny=False, seed=0, seq=None, batch=None):
    """(model, example inputs at the maximum batch) for an architecture; seq
    and batch override the sequence length and batch of BERT and GPT-2."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    if arch == "resnet50":
        model, batch = resnet50(tiny), batch or (2 if tiny else 8)
        hw = 32 if tiny else 224
        inputs = {"image": torch.randn(batch, 3, hw, hw, generator=gen)}
    elif arch == "bert":
        cfg = dict(vocab=100, d=64, layers=2, heads=4, ff=128, max_pos=32) if tiny else {}
        model, batch, S = Bert(**cfg), batch or (2 if tiny else 4), seq or (16 if tiny else 128)
        V = cfg.get("vocab", 30522)
        mask = torch.ones(batch, S)
        mask[-1, S // 2:] = 0  # the last sequence is padded
        inputs = {"ids": torch.randint(0, V, (batch, S), generator=gen),
                  "positions": torch.arange(S).repeat(batch, 1),
                  "segments": torch.randint(0, 2, (batch, S), generator=gen),
                  "mask": mask}
    elif arch == "gpt2":
        cfg = dict(vocab=96, d=64, layers=2, heads=4, ctx=32) if tiny else {}
        model, batch, S = GPT2(**cfg), batch or (2 if tiny else 1), seq or (16 if tiny else 128)
        V = cfg.get("vocab", 50257)
        inputs = {"ids": torch.randint(0, V, (batch, S), generator=gen),
                  "positions": torch.arange(S).repeat(batch, 1)}
    elif arch == "ops":     # one size, tiny or not
        model, batch, S = OpsNet(), batch or 3, seq or 5
        inputs = {"x": torch.randn(batch, S, 33, generator=gen),
                  "cond": torch.randint(0, 2, (batch, S, 1), generator=gen).float(),
                  "expo": torch.rand(batch, 1, 1, generator=gen) * 1.5 + 0.5}
        with torch.no_grad():   # past hardswish's and relu6's knees
            model.fc2.weight.mul_(6.0)
    else:
        raise ValueError("unknown architecture %s" % arch)
    # a generator of their own: the weights do not depend on seq or batch
    _randomise_norms(model, torch.Generator().manual_seed(seed + 1))
    return model.eval(), inputs
