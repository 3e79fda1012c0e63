/* attrs.c - attribute and weight readers shared by the op families, and the
 * shape rules several share (same shape, NumPy broadcasting). Every message
 * names the file, the node and the field. */
#include "ops/family.h"

#include <stdio.h>
#include <string.h>

sf_status sf_oom(void)
{
    return sf_error(SF_EINTERNAL, NULL, "out of memory");
}

const sf_desc_attr *sf_attr(const sf_desc_node *n, const char *key)
{
    for (int i = 0; i < n->nattrs; i++)
        if (strcmp(n->attrs[i].key, key) == 0)
            return &n->attrs[i];
    return NULL;
}

/* One integer in [lo, hi]; `def` when absent (def < lo: required). */
sf_status sf_attr_int(sf_vctx *c, const sf_desc_node *n, const char *key, int64_t def, int64_t lo,
                      int64_t hi, int64_t *out)
{
    const sf_desc_attr *a = sf_attr(n, key);
    if (!a) {
        if (def < lo)
            return sf_error(SF_EINPUT, sf_v_where(c, n, key), "missing");
        *out = def;
        return SF_OK;
    }
    if (a->kind != SF_ATTR_INTS || !a->scalar)
        return sf_error(SF_EINPUT, sf_v_where(c, n, key), "expected an integer");
    if (a->ints[0] < lo || a->ints[0] > hi)
        return sf_error(SF_EINPUT, sf_v_where(c, n, key), "%lld is out of range [%lld, %lld]",
                        (long long)a->ints[0], (long long)lo, (long long)hi);
    *out = a->ints[0];
    return SF_OK;
}

/* An int or [h, w], each >= lo; `def` for both when absent (def < 0: required). */
sf_status sf_attr_pair(sf_vctx *c, const sf_desc_node *n, const char *key, int64_t def, int64_t lo,
                       int64_t out[2])
{
    const sf_desc_attr *a = sf_attr(n, key);
    if (!a) {
        if (def < 0)
            return sf_error(SF_EINPUT, sf_v_where(c, n, key), "missing");
        out[0] = out[1] = def;
        return SF_OK;
    }
    if (a->kind != SF_ATTR_INTS || (a->n != 1 && a->n != 2))
        return sf_error(SF_EINPUT, sf_v_where(c, n, key), "expected an integer or [h, w]");
    for (int i = 0; i < 2; i++) {
        out[i] = a->ints[a->n == 2 ? i : 0];
        if (out[i] < lo || out[i] > 65536)
            return sf_error(SF_EINPUT, sf_v_where(c, n, key),
                            "%lld is out of range [%lld, "
                            "65536]",
                            (long long)out[i], (long long)lo);
    }
    return SF_OK;
}

/* padding: p, [h, w] or [top, left, bottom, right], each >= 0. */
sf_status sf_attr_pad(sf_vctx *c, const sf_desc_node *n, int64_t pad[4])
{
    const sf_desc_attr *a = sf_attr(n, "padding");
    memset(pad, 0, 4 * sizeof *pad);
    if (!a)
        return SF_OK;
    if (a->kind != SF_ATTR_INTS || (a->n != 1 && a->n != 2 && a->n != 4))
        return sf_error(SF_EINPUT, sf_v_where(c, n, "padding"),
                        "expected an integer, [h, w] "
                        "or [top, left, bottom, right]");
    for (int i = 0; i < 4; i++) {
        pad[i] = a->n == 4 ? a->ints[i] : a->ints[a->n == 2 ? i % 2 : 0];
        if (pad[i] < 0 || pad[i] > 65536)
            return sf_error(SF_EINPUT, sf_v_where(c, n, "padding"),
                            "%lld is out of range "
                            "[0, 65536]",
                            (long long)pad[i]);
    }
    return SF_OK;
}

sf_status sf_attr_unit(sf_vctx *c, const sf_desc_node *n, const char *key, double def, float *out)
{
    const sf_desc_attr *a = sf_attr(n, key);
    *out = (float)def;
    if (!a)
        return SF_OK;
    if ((a->kind != SF_ATTR_NUMBER && a->kind != SF_ATTR_INTS) || !a->scalar ||
        !(a->num >= 0 && a->num < 1))
        return sf_error(SF_EINPUT, sf_v_where(c, n, key), "expected a number in [0, 1)");
    *out = (float)a->num;
    return SF_OK;
}

/* Any finite number (JSON gives no other); `def` when absent. */
sf_status sf_attr_number(sf_vctx *c, const sf_desc_node *n, const char *key, double def,
                         double *out)
{
    const sf_desc_attr *a = sf_attr(n, key);
    *out = def;
    if (!a)
        return SF_OK;
    if ((a->kind != SF_ATTR_NUMBER && a->kind != SF_ATTR_INTS) || !a->scalar)
        return sf_error(SF_EINPUT, sf_v_where(c, n, key), "expected a number");
    *out = a->num;
    return SF_OK;
}

/* An axis of a rank-`rank` tensor, negative counting from the end; never the
 * batch axis 0. def > rank: required. */
sf_status sf_attr_axis(sf_vctx *c, const sf_desc_node *n, int rank, int def, int *axis)
{
    int64_t v;
    sf_status st = sf_attr_int(c, n, "axis", def > rank ? -(int64_t)SF_MAX_DIM - 1 : def,
                               -(int64_t)SF_MAX_DIM, SF_MAX_DIM, &v);
    if (st)
        return st;
    if (v < -rank || v >= rank)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "axis"),
                        "%lld is out of range for "
                        "rank %d",
                        (long long)v, rank);
    if (v < 0)
        v += rank;
    if (v == 0)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "axis"),
                        "axis 0 is the batch; %s works "
                        "within one batch item",
                        n->op);
    *axis = (int)v;
    return SF_OK;
}

/* A weight of exactly `rank` dims equal to dims[] (entries < 0: any), in f32. */
sf_status sf_weight_f32(sf_vctx *c, const sf_desc_node *n, const char *field, const char *tname,
                        int rank, const int64_t *dims, float **out, const sf_st_tensor **tout)
{
    const sf_st_tensor *t;
    sf_status st = sf_v_weight(c, n, field, tname, rank, &t);
    if (st)
        return st;
    for (int i = 0; i < rank; i++)
        if (dims[i] >= 0 && t->dims[i] != dims[i]) {
            char s[200], e[200];
            size_t o = 0;
            sf_v_shape_str(t->dims, t->rank, s, sizeof s);
            for (int j = 0; j < rank && o < sizeof e; j++) /* any size reads as '?' */
                o += (size_t)(dims[j] >= 0 ? snprintf(e + o, sizeof e - o, "%s%lld", j ? ", " : "[",
                                                      (long long)dims[j])
                                           : snprintf(e + o, sizeof e - o, "%s?", j ? ", " : "["));
            if (o < sizeof e)
                snprintf(e + o, sizeof e - o, "]");
            return sf_error(SF_EINPUT, sf_v_where(c, n, field),
                            "shape mismatch: tensor '%s' "
                            "is %s, expected %s",
                            tname, s, e);
        }
    if (!(*out = sf_arena_array(&c->g->arena, t->numel, sizeof(float))))
        return sf_oom();
    sf_tensor_to_f32(t, *out);
    if (tout)
        *tout = t;
    return SF_OK;
}

const char *sf_attr_tensor(sf_vctx *c, const sf_desc_node *n, const char *key, sf_status *st)
{
    const sf_desc_attr *a = sf_attr(n, key);
    *st = SF_OK;
    if (!a)
        *st = sf_error(SF_EINPUT, sf_v_where(c, n, key),
                       "missing (the name of a tensor in "
                       "the weights file)");
    else if (a->kind != SF_ATTR_STRING)
        *st = sf_error(SF_EINPUT, sf_v_where(c, n, key), "expected a tensor name");
    return *st ? NULL : a->str;
}

sf_status sf_need_rank(sf_vctx *c, const sf_desc_node *n, const sf_tensor *t, int rank,
                       const char *what)
{
    if (t->rank == rank)
        return SF_OK;
    char s[200];
    sf_v_shape_str(t->dims, t->rank, s, sizeof s);
    return sf_error(SF_EINPUT, sf_v_where(c, n, "inputs"),
                    "input '%s' is %s: expected rank %d "
                    "(%s)",
                    t->name, s, rank, what);
}

void sf_node_add_const(sf_node *node, const char *what, float *data, int64_t n)
{
    sf_const *k = &node->cst[node->ncst++];
    k->what = what;
    k->data = data;
    k->n = data ? n : 0;
}

void sf_same_shape(const sf_tensor *x, sf_tensor *out)
{
    out->rank = x->rank;
    memcpy(out->dims, x->dims, sizeof out->dims);
}

/* NumPy broadcasting with the batch kept at dimension 0 (docs/FORMATS.md,
 * "Broadcasting"): operands are right-aligned; a batched operand has the
 * output's rank (its dims[0] is the batch); a constant (dims[0] 1 at every
 * batch) may have a lower rank and repeats along the batch. Every other
 * dimension is equal or 1 (the 1 repeats). At least one operand is batched,
 * unless `rank` > 0 gives the output's rank and dims[1..] (expand). */
sf_status sf_broadcast_to(sf_vctx *c, const sf_desc_node *n, const sf_tensor *const *ins, int nin,
                          int rank, const int64_t *dims, sf_tensor *out)
{
    const sf_tensor *batched = NULL;
    int r = rank;
    for (int j = 0; j < nin; j++) {
        r = ins[j]->rank > r ? ins[j]->rank : r;
        if (!ins[j]->is_const && !batched)
            batched = ins[j];
    }
    if (!batched && !rank)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "inputs"),
                        "every operand is a constant: at least one must be batched (fold "
                        "constant expressions before generating)");
    out->rank = r;
    out->dims[0] = c->g->tensors[c->g->inputs[0]].dims[0];
    for (int i = 1; i < r; i++)
        out->dims[i] = 1;
    for (int i = 1; i < rank; i++) /* expand: the caller checked that r == rank */
        out->dims[i + (r - rank)] = dims[i];
    const sf_tensor *from[SF_MAX_RANK] = {0}; /* the operand that set each output dim */
    for (int j = 0; j < nin; j++) {
        const sf_tensor *b = ins[j];
        char sb[200], so[200];
        sf_v_shape_str(b->dims, b->rank, sb, sizeof sb);
        if (!b->is_const && b->rank != r)
            return sf_error(SF_EINPUT, sf_v_where(c, n, "inputs"),
                            "shape mismatch: '%s' %s is batched but has rank %d, below the "
                            "output's %d: its batch dimension would not stay dimension 0",
                            b->name, sb, b->rank, r);
        for (int i = b->is_const ? 0 : 1; i < b->rank; i++) {
            int k = i + (r - b->rank); /* the output axis it aligns with */
            int64_t d = b->dims[i];
            if (k == 0 || d == 1 || d == out->dims[k])
                continue;
            if (out->dims[k] == 1) {
                out->dims[k] = d;
                from[k] = b;
                continue;
            }
            if (rank && !from[k]) {
                sf_v_shape_str(out->dims, r, so, sizeof so);
                return sf_error(SF_EINPUT, sf_v_where(c, n, "shape"),
                                "shape mismatch: '%s' %s does not broadcast to %s in "
                                "dimension %d (%lld vs %lld)",
                                b->name, sb, so, k, (long long)d, (long long)out->dims[k]);
            }
            sf_v_shape_str(from[k]->dims, from[k]->rank, so, sizeof so);
            return sf_error(SF_EINPUT, sf_v_where(c, n, "inputs"),
                            "shape mismatch: '%s' %s and '%s' %s do not broadcast in dimension "
                            "%d of the output (%lld vs %lld)",
                            from[k]->name, so, b->name, sb, k, (long long)out->dims[k],
                            (long long)d);
        }
    }
    return SF_OK;
}

sf_status sf_broadcast_shape(sf_vctx *c, const sf_desc_node *n, const sf_tensor *const *ins,
                             int nin, sf_tensor *out)
{
    return sf_broadcast_to(c, n, ins, nin, 0, NULL, out);
}
