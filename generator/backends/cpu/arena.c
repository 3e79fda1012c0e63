/* arena.c - the CPU run function's arena (DESIGN §6): every intermediate
 * tensor and every step's scratch gets bytes by liveness, so buffers whose
 * steps do not overlap share them. Part of the CPU plan: the scratch of a
 * linear layer depends on its kernel. */
#include "backends/cpu/cpu.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sizes saturate at SIZE_MAX instead of wrapping: a huge buffer must be
 * reported by the --max-arena check, never wrap round to a small one. */
static size_t round64(size_t n)
{
    return n > SIZE_MAX - 63 ? SIZE_MAX : (n + 63) & ~(size_t)63;
}

static size_t mul_sat(size_t a, size_t b)
{
    size_t r;
    return __builtin_mul_overflow(a, b, &r) ? SIZE_MAX : r;
}

static size_t add_sat(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

/* Arena scratch of a linear step: activation tiles repacked for the kernel. */
size_t sf_cpu_tile_bytes(const sf_graph *g, const sf_node *n)
{
    const sf_linear *L = n->lin;
    size_t T = mul_sat((size_t)g->tensors[n->in[0]].dims[0], (size_t)L->tokens_per_item);
    const sf_plan *p = sf_cpu_plan(g, L);
    size_t tv = (size_t)p->tile_vecs;
    size_t tiles = T / (16 * tv) + (T % (16 * tv) != 0);
    size_t kp = p->kernel == SF_K_DENSE ? (size_t)p->ncols : (size_t)L->in;
    return mul_sat(mul_sat(mul_sat(tiles, tv), kp), 64);
}

/* A conv lowered to a linear also holds its im2col rows and token-major result. */
size_t sf_cpu_conv_cols_bytes(const sf_graph *g, const sf_node *n)
{
    const sf_linear *L = n->lin;
    size_t T = mul_sat((size_t)g->tensors[n->in[0]].dims[0], (size_t)L->tokens_per_item);
    return round64(mul_sat(mul_sat(T, (size_t)L->in), 4));
}

size_t sf_cpu_conv_tok_bytes(const sf_graph *g, const sf_node *n)
{
    const sf_linear *L = n->lin;
    size_t T = mul_sat((size_t)g->tensors[n->in[0]].dims[0], (size_t)L->tokens_per_item);
    return round64(mul_sat(mul_sat(T, (size_t)L->out), 4));
}

/* A conv on the dense or compressed kernel runs channel-major, one image at
 * a time (the kernels' _chw form): no transposes. The other families take
 * token-major im2col rows. */
int sf_cpu_conv_chw(const sf_graph *g, const sf_node *n)
{
    return n->op == SF_OP_CONV2D && n->lin &&
           (sf_cpu_plan(g, n->lin)->kernel == SF_K_DENSE ||
            sf_cpu_plan(g, n->lin)->kernel == SF_K_NM_COMPRESSED);
}

/* A 1x1 stride-1 unpadded conv reads its input as the kernel's rows. */
int sf_cpu_conv_no_cols(const sf_node *n)
{
    const sf_attrs *a = &n->at;
    return a->kernel[0] == 1 && a->kernel[1] == 1 && a->stride[0] == 1 && a->stride[1] == 1 &&
           !a->pad[0] && !a->pad[1] && !a->pad[2] && !a->pad[3];
}

/* Pixel vectors per tile of the compressed _chw form: about 16 accumulators. */
int sf_cpu_chw_vectors(const sf_plan *p)
{
    return p->row_block >= 16 ? 1 : 16 / p->row_block;
}

typedef struct {
    size_t size, off;
    int first, last;
    size_t *dst;
    const char *what; /* the tensor's or the node's name, for the size error */
    int node;         /* the node that writes it, -1: none */
} buffer;

static int by_size(const void *pa, const void *pb)
{
    const buffer *a = pa, *b = pb;
    if (a->size != b->size)
        return a->size < b->size ? 1 : -1;
    return a->first != b->first ? (a->first < b->first ? -1 : 1) : (a->dst < b->dst ? -1 : 1);
}

/* Buffers whose lifetimes (steps) overlap get disjoint bytes: each, largest
 * first, takes the lowest offset that clears every placed buffer it meets. */
static size_t place(buffer *b, int n)
{
    qsort(b, (size_t)n, sizeof *b, by_size);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        size_t off = 0;
        for (int moved = 1; moved;) {
            moved = 0;
            for (int j = 0; j < i; j++)
                if (b[j].first <= b[i].last && b[i].first <= b[j].last &&
                    off < b[j].off + b[j].size && b[j].off < off + b[i].size) {
                    off = add_sat(b[j].off, b[j].size);
                    moved = 1;
                }
        }
        b[i].off = off;
        *b[i].dst = off;
        if (add_sat(off, b[i].size) > total)
            total = add_sat(off, b[i].size);
    }
    return total;
}

/* "12345 bytes (11.8 KiB)" */
static void bytes_text(size_t n, char *buf, size_t len)
{
    static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = (double)n / 1024.0;
    int u = 0;
    while (v >= 1024.0 && u < 5) {
        v /= 1024.0;
        u++;
    }
    if (n < 1024)
        snprintf(buf, len, "%zu bytes", n);
    else
        snprintf(buf, len, "%zu bytes (%.1f %s)", n, v, unit[u]);
}

/* The arena exceeds --max-arena (docs/CLI.md): name its largest buffer. */
static sf_status too_big(const sf_graph *g, const buffer *b, int nb, size_t total, size_t max)
{
    const buffer *big = &b[0];
    for (int k = 1; k < nb; k++)
        if (b[k].size > big->size)
            big = &b[k];
    char need[64], lim[64], one[64], where[300];
    bytes_text(total, need, sizeof need);
    bytes_text(max, lim, sizeof lim);
    bytes_text(big->size, one, sizeof one);
    const sf_node *n = &g->nodes[big->node];
    snprintf(where, sizeof where, "%s: node '%s' (nodes[%d])", g->model_base, n->name,
             n->json_index);
    return sf_error(SF_EINPUT, where,
                    "the arena would need %s at batch %lld, more than --max-arena %s "
                    "(the largest buffer: %s%s%s, %s); lower the batch or the sizes, or "
                    "raise --max-arena",
                    total == SIZE_MAX ? "more than SIZE_MAX bytes" : need,
                    (long long)g->tensors[g->inputs[0]].dims[0], lim,
                    big->what ? "tensor '" : "the node's scratch", big->what ? big->what : "",
                    big->what ? "'" : "", big->size == SIZE_MAX ? "too many bytes to count" : one);
}

sf_status sf_plan_arena(sf_graph *g, size_t max_bytes, sf_arena_plan *ap)
{
    int *step_of = sf_malloc(sizeof(int) * (size_t)(g->nnodes ? g->nnodes : 1));
    int *buf_of = sf_malloc(sizeof(int) * (size_t)g->ntensors); /* tensor -> buffer, -1 */
    buffer *b = sf_malloc(sizeof *b * (size_t)(g->ntensors + g->nnodes + 1));
    if (!step_of || !buf_of || !b) {
        sf_free(step_of);
        sf_free(buf_of);
        sf_free(b);
        return sf_oom();
    }
    for (int oi = 0; oi < g->nsteps; oi++)
        step_of[g->order[oi]] = oi;
    int nb = 0;
    for (int i = 0; i < g->ntensors; i++) {
        sf_tensor *t = &g->tensors[i];
        buf_of[i] = -1;
        if (!sf_cpu_in_arena(t) || t->dropped)
            continue;
        buf_of[i] = nb;
        buffer *x = &b[nb++];
        x->size = round64(mul_sat(mul_sat((size_t)t->dims[0], (size_t)sf_tensor_inner(t)), 4));
        x->first = x->last = step_of[t->producer];
        x->dst = &t->arena_offset;
        x->what = t->name;
        x->node = t->producer;
    }
    for (int oi = 0; oi < g->nsteps; oi++) { /* a tensor lives until its last reader */
        const sf_node *n = &g->nodes[g->order[oi]];
        for (int j = 0; j < n->nin; j++)
            if (buf_of[n->in[j]] >= 0)
                b[buf_of[n->in[j]]].last = oi; /* steps run in order: the last wins */
    }
    for (int oi = 0; oi < g->nsteps; oi++) {
        sf_node *n = &g->nodes[g->order[oi]];
        n->temp_bytes = 0;
        if (sf_cpu_conv_chw(g, n)) /* one image's channel-major im2col rows */
            n->temp_bytes =
                sf_cpu_conv_no_cols(n)
                    ? 0
                    : round64(mul_sat((size_t)n->lin->tokens_per_item, (size_t)n->lin->in * 4));
        else if (n->lin)
            n->temp_bytes = round64(sf_cpu_tile_bytes(g, n));
        if (n->lin && n->op == SF_OP_CONV2D && !sf_cpu_conv_chw(g, n))
            n->temp_bytes = add_sat(
                n->temp_bytes, add_sat(sf_cpu_conv_cols_bytes(g, n), sf_cpu_conv_tok_bytes(g, n)));
        if (!n->temp_bytes)
            continue;
        buffer *x = &b[nb++];
        x->size = n->temp_bytes;
        x->first = x->last = oi;
        x->dst = &n->temp_offset;
        x->what = NULL;
        x->node = g->order[oi];
    }
    /* the lower bound: the most bytes live at one step */
    size_t peak = 0;
    for (int oi = 0; oi < g->nsteps; oi++) {
        size_t live = 0;
        for (int k = 0; k < nb; k++)
            if (b[k].first <= oi && oi <= b[k].last)
                live = add_sat(live, b[k].size);
        peak = live > peak ? live : peak;
    }
    size_t total = place(b, nb);
    sf_status st = total > max_bytes ? too_big(g, b, nb, total, max_bytes) : SF_OK;
    ap->total = total > 64 ? total : 64;
    ap->live_peak = peak;
    g->arena_bytes = ap->total;
    g->arena_live_peak = peak;
    sf_free(step_of);
    sf_free(buf_of);
    sf_free(b);
    return st;
}
