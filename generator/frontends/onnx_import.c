/* onnx_import.c - an ONNX graph onto the op table (docs/FORMATS.md, "ONNX").
 *
 * One walk over the nodes in file order (ONNX requires topological order).
 * Every value is either a constant, known at generation time (initializers,
 * Constant nodes and everything computed from them alone, shape arithmetic
 * included), or an activation that the generated code computes. Constants
 * are evaluated here; activations become nodes of the model description
 * that verify.c turns into the IR, exactly as a model JSON would.
 *
 * Shape arithmetic must not bake in the maximum batch: integer constants
 * are kept as a*B + c, B standing for the run-time batch, so Shape(x)[0]
 * stays symbolic through Gather, Concat, Mul and friends, and a Reshape
 * whose first dimension is B keeps the batch. A batch-dependent value
 * anywhere else is refused with the node that made it. */
#define _POSIX_C_SOURCE 200809L /* pread */
#include "frontends/onnx.h"
#include "ir/op.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    int64_t a, c; /* a*B + c */
} sym;

typedef enum { V_UNSET, V_CONST, V_DYN } vkind;

typedef struct {
    const char *name; /* the ONNX name */
    vkind kind;
    int rank;
    int64_t dims[SF_MAX_RANK]; /* activations: dims[0] is the maximum batch */
    size_t numel;
    /* constants */
    int isint;         /* integer or boolean: values in s, else in f */
    float *f;          /* numel floats */
    sym *s;            /* numel integers */
    const char *wname; /* its weights entry, once it is one */
    const char *cname; /* its `constant` node's output, once it has one, */
    int crank;         /* at this rank */
    int bbatch;        /* dims[0] == 1 stands for the batch: the same values for every item */
    /* activations */
    const char *ir; /* the description's tensor carrying it */
    int intval;     /* integer-valued (integer input, comparison, cast) */
    int nuse;       /* consumers among the nodes */
} val;

typedef struct {
    sf_arena *a;
    const sf_onnx_model *m;
    const char *base; /* model file, for messages */
    const char *dir;  /* its folder, for external data */
    val *v;
    int nv, capv;
    sf_index names; /* ONNX value name -> v index */
    sf_index used;  /* every tensor name of the description */
    int nused;
    sf_desc *d;
    int capn;
    sf_st_tensor *w;
    int nw, capw;
    sf_index wix;        /* weights entry name -> w index */
    unsigned char *skip; /* nodes a pattern took over */
    int cur;             /* the node being imported */
    char where[700];
} imp;

static sf_status oom(void)
{
    return sf_error(SF_EINTERNAL, NULL, "out of memory");
}

/* "model.onnx: node 'name' (Op, graph.node[i])" */
static const char *W(imp *m)
{
    const sf_onnx_node *n = &m->m->nodes[m->cur];
    snprintf(m->where, sizeof m->where, "%s: node '%.200s' (%.60s, graph.node[%d])", m->base,
             n->name[0]                  ? n->name
             : n->outputs && n->noutputs ? n->outputs[0]
                                         : "",
             n->op_type, m->cur);
    return m->where;
}

#define FAIL(m, ...) sf_error(SF_EINPUT, W(m), __VA_ARGS__)

/* ---- growable arrays in the arena --------------------------------------- */

static int grow(sf_arena *a, void **p, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return 0;
    int nc = *cap ? *cap : 16;
    while (nc < need)
        nc *= 2;
    void *q = sf_arena_array(a, (size_t)nc, elem);
    if (!q)
        return -1;
    if (*p)
        memcpy(q, *p, (size_t)*cap * elem);
    *p = q;
    *cap = nc;
    return 0;
}

/* ---- values ----------------------------------------------------------------- */

static val *lookup(imp *m, const char *name)
{
    int i = sf_index_find(&m->names, name);
    return i < 0 ? NULL : &m->v[i];
}

/* The value `name`, which the node reads: known by now, else an error. */
static sf_status input(imp *m, int j, val **out)
{
    const sf_onnx_node *n = &m->m->nodes[m->cur];
    *out = NULL;
    if (j >= n->ninputs || !n->inputs[j][0])
        return SF_OK; /* an omitted optional input */
    val *v = lookup(m, n->inputs[j]);
    if (!v || v->kind == V_UNSET)
        return FAIL(m,
                    "input %d '%.200s' is not produced by an earlier node, an initializer "
                    "or a graph input (nodes must be in topological order)",
                    j, n->inputs[j]);
    *out = v;
    return SF_OK;
}

static sf_status need_input(imp *m, int j, val **out)
{
    TRY(input(m, j, out));
    if (!*out)
        return FAIL(m, "input %d is missing", j);
    return SF_OK;
}

static size_t numel_of(const int64_t *dims, int rank)
{
    size_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= (size_t)dims[i];
    return n;
}

/* A fresh constant value for output `j` of the current node. */
static sf_status new_const(imp *m, int j, int isint, int rank, const int64_t *dims, val **out)
{
    const sf_onnx_node *n = &m->m->nodes[m->cur];
    if (rank > SF_MAX_RANK)
        return FAIL(m, "rank %d: at most %d", rank, SF_MAX_RANK);
    size_t ne = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0 || dims[i] > SF_MAX_DIM)
            return FAIL(m, "output dimension %d is %lld", i, (long long)dims[i]);
        if (dims[i] && ne > (size_t)SF_MAX_ELEMS / (size_t)dims[i])
            return FAIL(m, "the output has more than %lld elements", SF_MAX_ELEMS);
        ne *= (size_t)dims[i];
    }
    val *v = lookup(m, n->outputs[j]);
    if (!v)
        return sf_error(SF_EINTERNAL, W(m), "output %d is not indexed", j);
    memset(v, 0, sizeof *v);
    v->name = n->outputs[j];
    v->kind = V_CONST;
    v->isint = isint;
    v->rank = rank;
    memcpy(v->dims, dims, (size_t)rank * sizeof *dims);
    v->numel = ne;
    if (isint ? !(v->s = sf_arena_array(m->a, ne ? ne : 1, sizeof *v->s))
              : !(v->f = sf_arena_array(m->a, ne ? ne : 1, sizeof *v->f)))
        return oom();
    *out = v;
    return SF_OK;
}

/* An integer constant's element as a plain number; B-dependent ones fail. */
static sf_status plain(imp *m, const val *v, size_t i, int64_t *out)
{
    if (!v->isint) {
        float f = v->f[i];
        if (!(f >= -9.2e18f && f <= 9.2e18f))
            return FAIL(m, "'%.200s' holds %g where an integer is expected", v->name, f);
        *out = (int64_t)f;
        return SF_OK;
    }
    if (v->s[i].a)
        return FAIL(m, "'%.200s' depends on the batch size where a fixed number is needed",
                    v->name);
    *out = v->s[i].c;
    return SF_OK;
}

static double num(const val *v, size_t i)
{
    return v->isint ? (double)v->s[i].c : (double)v->f[i];
}

/* An activation value for output `j`, carried by description tensor `ir`. */
static sf_status set_dyn(imp *m, int j, const char *ir, int rank, const int64_t *dims, int intval)
{
    const sf_onnx_node *n = &m->m->nodes[m->cur];
    val *v = lookup(m, n->outputs[j]);
    if (!v)
        return sf_error(SF_EINTERNAL, W(m), "output %d is not indexed", j);
    int nuse = v->nuse;
    memset(v, 0, sizeof *v);
    v->name = n->outputs[j];
    v->kind = V_DYN;
    v->ir = ir;
    v->rank = rank;
    memcpy(v->dims, dims, (size_t)rank * sizeof *dims);
    v->numel = numel_of(dims, rank);
    v->intval = intval;
    v->nuse = nuse;
    return SF_OK;
}

/* ---- attributes ---------------------------------------------------------------- */

static const sf_onnx_attr *attr(imp *m, const char *name)
{
    const sf_onnx_node *n = &m->m->nodes[m->cur];
    for (int i = 0; i < n->nattrs; i++)
        if (!strcmp(n->attrs[i].name, name))
            return &n->attrs[i];
    return NULL;
}

static sf_status attr_int(imp *m, const char *name, int64_t def, int64_t *out)
{
    const sf_onnx_attr *a = attr(m, name);
    *out = def;
    if (!a)
        return SF_OK;
    if (a->type != SF_ONNX_AT_INT)
        return FAIL(m, "attribute '%s': expected an integer", name);
    *out = a->i;
    return SF_OK;
}

static sf_status attr_float(imp *m, const char *name, double def, double *out)
{
    const sf_onnx_attr *a = attr(m, name);
    *out = def;
    if (!a)
        return SF_OK;
    if (a->type != SF_ONNX_AT_FLOAT)
        return FAIL(m, "attribute '%s': expected a float", name);
    *out = a->f;
    return SF_OK;
}

/* INTS; *n = -1 when absent. */
static sf_status attr_ints(imp *m, const char *name, int64_t *vals, int max, int *n)
{
    const sf_onnx_attr *a = attr(m, name);
    *n = -1;
    if (!a)
        return SF_OK;
    if (a->type != SF_ONNX_AT_INTS)
        return FAIL(m, "attribute '%s': expected a list of integers", name);
    if (a->nints > max)
        return FAIL(m, "attribute '%s': %d values, at most %d", name, a->nints, max);
    memcpy(vals, a->ints, (size_t)a->nints * sizeof *vals);
    *n = a->nints;
    return SF_OK;
}

static const char *attr_str(imp *m, const char *name, const char *def)
{
    const sf_onnx_attr *a = attr(m, name);
    return a && a->type == SF_ONNX_AT_STRING ? a->s : def;
}

/* Attributes the importer does not read must not change the meaning:
 * each op lists the ones it understands, the rest are refused. */
static sf_status known_attrs(imp *m, const char *const *ok)
{
    const sf_onnx_node *n = &m->m->nodes[m->cur];
    for (int i = 0; i < n->nattrs; i++) {
        int k = 0;
        while (ok[k] && strcmp(ok[k], n->attrs[i].name))
            k++;
        if (!ok[k])
            return FAIL(m, "attribute '%.100s' is not supported for %s", n->attrs[i].name,
                        n->op_type);
    }
    return SF_OK;
}
#define ATTRS(...)                                            \
    do {                                                      \
        static const char *const ok_[] = {__VA_ARGS__, NULL}; \
        TRY(known_attrs(m, ok_));                             \
    } while (0)

/* An axis of a rank-r tensor, negative from the end. */
static sf_status norm_axis(imp *m, int64_t ax, int r, const char *what, int *out)
{
    if (ax < -r || ax >= r)
        return FAIL(m, "%s %lld is outside a rank-%d tensor", what, (long long)ax, r);
    *out = (int)(ax < 0 ? ax + r : ax);
    return SF_OK;
}

/* ---- the description being built --------------------------------------------- */

/* A tensor name unique in the description: `want` when free, else want~k. */
static const char *unique_name(imp *m, const char *want)
{
    if (sf_index_find(&m->used, want) < 0 && lookup(m, want) == NULL)
        return sf_arena_strdup(m->a, want); /* `want` may be the caller's buffer */
    char buf[600];
    for (int k = 1;; k++) {
        snprintf(buf, sizeof buf, "%.500s~%d", want, k);
        if (sf_index_find(&m->used, buf) < 0 && lookup(m, buf) == NULL)
            return sf_arena_strdup(m->a, buf);
    }
}

static sf_status claim(imp *m, const char *name)
{
    if (m->nused + 1 > (int)(m->used.mask / 2)) {
        /* the table grows with the description: rehash when half full */
        sf_index nix;
        if (sf_index_init(&nix, (size_t)(m->nused + 1) * 2, m->a))
            return oom();
        for (size_t i = 0; i <= m->used.mask; i++)
            if (m->used.slot[i].key)
                sf_index_add(&nix, m->used.slot[i].key, 1);
        m->used = nix;
    }
    m->nused++;
    if (sf_index_add(&m->used, name, 1) >= 0)
        return sf_error(SF_EINTERNAL, W(m), "tensor name '%.200s' used twice", name);
    return SF_OK;
}

/* A description node with `nin` inputs writing tensor `out`. */
static sf_status emit(imp *m, const char *op, const char *out, int nin, const char **ins,
                      sf_desc_node **res)
{
    sf_desc *d = m->d;
    if (grow(m->a, (void **)&d->nodes, &m->capn, d->nnodes + 1, sizeof *d->nodes))
        return oom();
    sf_desc_node *n = &d->nodes[d->nnodes];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->index = d->nnodes;
    const sf_onnx_node *on = &m->m->nodes[m->cur];
    char nm[600];
    const char *base = on->name[0] ? on->name : on->outputs[0];
    if (d->nnodes && d->nodes[d->nnodes - 1].name && m->cur >= 0 &&
        strncmp(d->nodes[d->nnodes - 1].name, base, strlen(base)) == 0)
        snprintf(nm, sizeof nm, "%.500s/%s", base, op);
    else
        snprintf(nm, sizeof nm, "%.500s", base);
    /* node names: unique among the description's nodes too */
    n->name = sf_arena_strdup(m->a, nm);
    n->inputs = sf_arena_array(m->a, (size_t)(nin ? nin : 1), sizeof *n->inputs);
    n->outputs = sf_arena_array(m->a, 1, sizeof *n->outputs);
    n->attrs = sf_arena_array(m->a, 8, sizeof *n->attrs);
    if (!n->name || !n->inputs || !n->outputs || !n->attrs)
        return oom();
    for (int i = 0; i < nin; i++)
        n->inputs[i] = ins[i];
    n->ninputs = nin;
    n->outputs[0] = out;
    n->noutputs = 1;
    TRY(claim(m, out));
    d->nnodes++;
    *res = n;
    return SF_OK;
}

static sf_desc_attr *add_attr(sf_desc_node *n, const char *key)
{
    const char *k = sf_op_attr_key(key);
    sf_desc_attr *a = &n->attrs[n->nattrs++];
    memset(a, 0, sizeof *a);
    a->key = k ? k : key;
    return a;
}

static void attr_set_ints(sf_desc_node *n, const char *key, const int64_t *v, int k)
{
    sf_desc_attr *a = add_attr(n, key);
    a->kind = SF_ATTR_INTS;
    a->n = k;
    memcpy(a->ints, v, (size_t)k * sizeof *v);
}

static void attr_set_int(sf_desc_node *n, const char *key, int64_t v)
{
    sf_desc_attr *a = add_attr(n, key);
    a->kind = SF_ATTR_INTS;
    a->n = 1;
    a->scalar = 1;
    a->ints[0] = v;
    a->num = (double)v;
}

static void attr_set_num(sf_desc_node *n, const char *key, double v)
{
    sf_desc_attr *a = add_attr(n, key);
    a->kind = SF_ATTR_NUMBER;
    a->scalar = 1;
    a->num = v;
}

static void attr_set_str(sf_desc_node *n, const char *key, const char *v)
{
    sf_desc_attr *a = add_attr(n, key);
    a->kind = SF_ATTR_STRING;
    a->str = v;
}

/* ---- weights: constants handed to verify as f32 tensors ------------------------ */

static const sf_st_tensor *w_find(const sf_weights *w, const char *name)
{
    const imp *m = w->ctx;
    int i = sf_index_find(&m->wix, name);
    return i < 0 ? NULL : &m->w[i];
}

/* Registers `n` floats of shape dims as weights entry `want` (made unique). */
static sf_status add_weight(imp *m, const char *want, const float *f, int rank, const int64_t *dims,
                            const char **name)
{
    if (grow(m->a, (void **)&m->w, &m->capw, m->nw + 1, sizeof *m->w))
        return oom();
    char buf[600];
    const char *nm = want;
    for (int k = 1; sf_index_find(&m->wix, nm) >= 0; k++) {
        snprintf(buf, sizeof buf, "%.500s~%d", want, k);
        nm = buf;
    }
    sf_st_tensor *t = &m->w[m->nw];
    memset(t, 0, sizeof *t);
    if (!(t->name = sf_arena_strdup(m->a, nm)))
        return oom();
    t->dtype = SF_DT_F32;
    t->rank = rank;
    memcpy(t->dims, dims, (size_t)rank * sizeof *dims);
    t->numel = numel_of(dims, rank);
    t->raw = (const unsigned char *)f;
    /* the index grows with the table: rebuild it when full */
    if (m->nw + 1 > (int)(m->wix.mask / 2)) {
        sf_index nix;
        if (sf_index_init(&nix, (size_t)(m->nw + 1) * 2, m->a))
            return oom();
        for (int i = 0; i < m->nw; i++)
            sf_index_add(&nix, m->w[i].name, i);
        m->wix = nix;
    }
    sf_index_add(&m->wix, t->name, m->nw);
    *name = t->name;
    m->nw++;
    return SF_OK;
}

/* A float constant as a weights entry of its own shape. */
static sf_status weight_of(imp *m, val *v, const char **name)
{
    if (v->isint)
        return FAIL(m, "'%.200s' is an integer tensor where float weights are expected", v->name);
    if (!v->wname)
        TRY(add_weight(m, v->name, v->f, v->rank, v->dims, &v->wname));
    *name = v->wname;
    return SF_OK;
}

/* A float constant reshaped to `rank` dims with leading ones, as the
 * description's `constant` op (the first dimension 1 broadcasts over the
 * batch): how a constant meets activations in elementwise ops. */
static sf_status const_tensor(imp *m, val *v, int rank, const char **out)
{
    if (v->rank > rank || (v->rank == rank && rank > 0 && v->dims[0] != 1))
        return FAIL(m,
                    "constant '%.200s' spans the batch dimension: a constant may not "
                    "have more dimensions than the activation it meets, nor a first "
                    "dimension other than 1",
                    v->name);
    if (v->cname && v->crank == rank) {
        *out = v->cname;
        return SF_OK;
    }
    char key[640];
    snprintf(key, sizeof key, "%.500s#const", v->name);
    int64_t dims[SF_MAX_RANK];
    int lead = rank - v->rank;
    for (int i = 0; i < rank; i++)
        dims[i] = i < lead ? 1 : v->dims[i - lead];
    if (rank == 0)
        return FAIL(m, "constant '%.200s' meets a rank-0 activation", v->name);
    float *f = v->f;
    if (v->isint) {
        if (!(f = sf_arena_array(m->a, v->numel ? v->numel : 1, sizeof *f)))
            return oom();
        for (size_t i = 0; i < v->numel; i++) {
            if (v->s[i].a)
                return FAIL(m, "'%.200s' depends on the batch size", v->name);
            f[i] = (float)v->s[i].c;
        }
    }
    const char *wn;
    TRY(add_weight(m, v->name, f, rank, dims, &wn));
    const char *tn = unique_name(m, key);
    if (tn == NULL)
        return oom();
    sf_desc_node *n;
    TRY(emit(m, "constant", tn, 0, NULL, &n));
    n->weight = wn;
    v->cname = *out = tn;
    v->crank = rank;
    return SF_OK;
}

/* The description tensor for operand `v` of an op whose output has rank r. */
static sf_status operand(imp *m, val *v, int r, const char **out)
{
    if (v->kind == V_DYN) {
        *out = v->ir;
        return SF_OK;
    }
    return const_tensor(m, v, r, out);
}

/* ---- shapes -------------------------------------------------------------------- */

static sf_status broadcast(imp *m, val *const *ins, int nin, int *rank, int64_t *dims)
{
    int r = 0;
    for (int j = 0; j < nin; j++)
        if (ins[j]->rank > r)
            r = ins[j]->rank;
    for (int i = 0; i < r; i++) {
        int64_t d = 1;
        for (int j = 0; j < nin; j++) {
            int k = i - (r - ins[j]->rank);
            if (k < 0)
                continue;
            int64_t e = ins[j]->dims[k];
            if (e == d || e == 1)
                continue;
            if (d != 1)
                return FAIL(m,
                            "inputs of shapes that do not broadcast (dimension %d: %lld "
                            "and %lld)",
                            i, (long long)d, (long long)e);
            d = e;
        }
        dims[i] = d;
    }
    *rank = r;
    return SF_OK;
}

static const char *out_name(imp *m, int j)
{
    return unique_name(m, m->m->nodes[m->cur].outputs[j]);
}

/* ---- folding: ops evaluated on constants ----------------------------------------- */

static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* Elementwise on constants with broadcasting. op: the ONNX op type. */
static sf_status fold_elementwise(imp *m, const char *op, val **ins, int nin)
{
    int r;
    int64_t dims[SF_MAX_RANK];
    TRY(broadcast(m, ins, nin, &r, dims));
    int cmp = !strcmp(op, "Equal") || !strcmp(op, "Less") || !strcmp(op, "Greater") ||
              !strcmp(op, "LessOrEqual") || !strcmp(op, "GreaterOrEqual") || !strcmp(op, "Not") ||
              !strcmp(op, "And") || !strcmp(op, "Or");
    int isint = 1;
    int wh = !strcmp(op, "Where");
    for (int j = wh; j < nin; j++)
        isint &= ins[j]->isint;
    if (cmp)
        isint = 1;
    val *o;
    TRY(new_const(m, 0, isint, r, dims, &o));
    size_t idx[SF_MAX_NODE_IN] = {0};
    for (size_t e = 0; e < o->numel; e++) {
        /* the flat index of each input for output element e */
        size_t rem = e;
        int64_t coord[SF_MAX_RANK] = {0};
        for (int i = r - 1; i >= 0; i--) {
            coord[i] = (int64_t)(rem % (size_t)dims[i]);
            rem /= (size_t)dims[i];
        }
        for (int j = 0; j < nin; j++) {
            size_t k = 0;
            int off = r - ins[j]->rank;
            for (int i = 0; i < ins[j]->rank; i++)
                k = k * (size_t)ins[j]->dims[i] +
                    (size_t)(ins[j]->dims[i] == 1 ? 0 : coord[i + off]);
            idx[j] = k;
        }
        if (isint && !cmp) {
            sym x = ins[wh]->s[idx[wh]], y = nin > wh + 1 ? ins[wh + 1]->s[idx[wh + 1]] : x, z = x;
            if (wh) {
                sym c2 = ins[2]->s[idx[2]];
                int64_t cond;
                TRY(plain(m, ins[0], idx[0], &cond));
                z = cond ? y : c2;
                (void)x;
                z = cond ? ins[1]->s[idx[1]] : c2;
            } else if (!strcmp(op, "Add")) {
                z = (sym){x.a + y.a, x.c + y.c};
            } else if (!strcmp(op, "Sub")) {
                z = (sym){x.a - y.a, x.c - y.c};
            } else if (!strcmp(op, "Mul")) {
                if (x.a && y.a)
                    return FAIL(m, "a product of two batch-dependent numbers");
                z = (sym){x.a * y.c + y.a * x.c, x.c * y.c};
            } else if (!strcmp(op, "Div")) {
                if (y.a || y.c == 0)
                    return FAIL(m, "an integer division by %s",
                                y.a ? "a batch-dependent number" : "zero");
                if (x.a % y.c)
                    return FAIL(m, "a division of a batch-dependent number that is not exact");
                z = (sym){x.a / y.c, x.a ? x.c / y.c : x.c / y.c};
                if (!x.a)
                    z.c = x.c / y.c; /* C's truncation, as ONNX integer Div */
            } else if (!strcmp(op, "Mod")) {
                if (x.a || y.a || y.c == 0)
                    return FAIL(m, "Mod of batch-dependent numbers or by zero");
                z = (sym){0, x.c - floordiv(x.c, y.c) * y.c};
            } else if (!strcmp(op, "Neg")) {
                z = (sym){-x.a, -x.c};
            } else if (!strcmp(op, "Abs")) {
                if (x.a)
                    return FAIL(m, "Abs of a batch-dependent number");
                z = (sym){0, x.c < 0 ? -x.c : x.c};
            } else if (!strcmp(op, "Min") || !strcmp(op, "Max")) {
                if (x.a || y.a)
                    return FAIL(m, "%s of batch-dependent numbers", op);
                int mx = op[1] == 'a';
                z = (sym){0, (mx ? x.c > y.c : x.c < y.c) ? x.c : y.c};
            } else {
                return FAIL(m, "%s on integer constants is not supported", op);
            }
            o->s[e] = z;
            continue;
        }
        double x = num(ins[wh], idx[wh]), y = nin > wh + 1 ? num(ins[wh + 1], idx[wh + 1]) : 0, z;
        for (int j = 0; j < nin; j++)
            if (ins[j]->isint && ins[j]->s[idx[j]].a && !(isint && cmp))
                return FAIL(m, "%s on a batch-dependent number", op);
        if (wh) {
            int64_t cond;
            TRY(plain(m, ins[0], idx[0], &cond));
            z = cond ? x : y;
        } else if (!strcmp(op, "Add"))
            z = (float)x + (float)y;
        else if (!strcmp(op, "Sub"))
            z = (float)x - (float)y;
        else if (!strcmp(op, "Mul"))
            z = (float)x * (float)y;
        else if (!strcmp(op, "Div"))
            z = (float)x / (float)y;
        else if (!strcmp(op, "Pow"))
            z = powf((float)x, (float)y);
        else if (!strcmp(op, "Sqrt"))
            z = sqrtf((float)x);
        else if (!strcmp(op, "Neg"))
            z = -x;
        else if (!strcmp(op, "Abs"))
            z = fabs(x);
        else if (!strcmp(op, "Reciprocal"))
            z = 1.0f / (float)x;
        else if (!strcmp(op, "Exp"))
            z = expf((float)x);
        else if (!strcmp(op, "Log"))
            z = logf((float)x);
        else if (!strcmp(op, "Erf"))
            z = erff((float)x);
        else if (!strcmp(op, "Floor"))
            z = floor(x);
        else if (!strcmp(op, "Ceil"))
            z = ceil(x);
        else if (!strcmp(op, "Min"))
            z = x < y ? x : y;
        else if (!strcmp(op, "Max"))
            z = x > y ? x : y;
        else if (!strcmp(op, "Equal"))
            z = x == y;
        else if (!strcmp(op, "Less"))
            z = x < y;
        else if (!strcmp(op, "Greater"))
            z = x > y;
        else if (!strcmp(op, "LessOrEqual"))
            z = x <= y;
        else if (!strcmp(op, "GreaterOrEqual"))
            z = x >= y;
        else if (!strcmp(op, "Not"))
            z = x == 0;
        else if (!strcmp(op, "And"))
            z = x != 0 && y != 0;
        else if (!strcmp(op, "Or"))
            z = x != 0 || y != 0;
        else
            return FAIL(m, "%s on constants is not supported", op);
        if (isint) {
            if (cmp) {
                o->s[e] = (sym){0, (int64_t)z};
            } else {
                o->s[e] = (sym){0, (int64_t)z};
            }
        } else {
            o->f[e] = (float)z;
        }
    }
    return SF_OK;
}

/* A constant with the same elements in a new shape. */
static sf_status fold_reshape(imp *m, val *x, int r, const int64_t *dims)
{
    val *o;
    TRY(new_const(m, 0, x->isint, r, dims, &o));
    if (o->numel != x->numel)
        return FAIL(m, "reshape of %zu elements to %zu", x->numel, o->numel);
    if (x->isint)
        memcpy(o->s, x->s, x->numel * sizeof *x->s);
    else
        memcpy(o->f, x->f, x->numel * sizeof *x->f);
    return SF_OK;
}

/* Copies element i of x to element k of o. */
static void copy_el(val *o, size_t k, const val *x, size_t i)
{
    if (o->isint)
        o->s[k] = x->isint ? x->s[i] : (sym){0, (int64_t)x->f[i]};
    else
        o->f[k] = x->isint ? (float)x->s[i].c : x->f[i];
}

/* Generic gather along `axis` of constant x with plain indices idx[n]. */
static sf_status fold_take(imp *m, val *x, int axis, const int64_t *idx, int64_t nidx, int keep,
                           int idx_rank, const int64_t *idx_dims)
{
    int64_t dims[SF_MAX_RANK];
    int r = 0;
    for (int i = 0; i < axis; i++)
        dims[r++] = x->dims[i];
    if (keep)
        dims[r++] = nidx;
    else
        for (int i = 0; i < idx_rank; i++)
            dims[r++] = idx_dims[i];
    for (int i = axis + 1; i < x->rank; i++)
        dims[r++] = x->dims[i];
    if (r > SF_MAX_RANK)
        return FAIL(m, "the result has rank %d, at most %d", r, SF_MAX_RANK);
    val *o;
    TRY(new_const(m, 0, x->isint, r, dims, &o));
    size_t outer = numel_of(x->dims, axis),
           inner = numel_of(x->dims + axis + 1, x->rank - axis - 1);
    int64_t len = x->dims[axis];
    size_t k = 0;
    for (size_t p = 0; p < outer; p++)
        for (int64_t j = 0; j < nidx; j++) {
            int64_t ix = idx[j] < 0 ? idx[j] + len : idx[j];
            if (ix < 0 || ix >= len)
                return FAIL(m, "index %lld is outside an axis of %lld", (long long)idx[j],
                            (long long)len);
            for (size_t q = 0; q < inner; q++)
                copy_el(o, k++, x, (p * (size_t)len + (size_t)ix) * inner + q);
        }
    return SF_OK;
}

/* Plain integers of a small constant (axes, pads, sizes). */
static sf_status ints_of(imp *m, val *v, int64_t *out, int max, int *n)
{
    if (v->numel > (size_t)max)
        return FAIL(m, "'%.200s' has %zu values, at most %d", v->name, v->numel, max);
    for (size_t i = 0; i < v->numel; i++)
        TRY(plain(m, v, i, &out[i]));
    *n = (int)v->numel;
    return SF_OK;
}

/* Slice parameters (opset >= 10 inputs, or attributes before), one entry per axis. */
typedef struct {
    int64_t start[SF_MAX_RANK], end[SF_MAX_RANK], step[SF_MAX_RANK];
} slice_p;

static sf_status slice_params(imp *m, int rank, const int64_t *dims, slice_p *p)
{
    int64_t st[SF_MAX_RANK], en[SF_MAX_RANK], ax[SF_MAX_RANK], sp[SF_MAX_RANK];
    int ns, ne, na = -1, np = -1;
    for (int i = 0; i < rank; i++) {
        p->start[i] = 0;
        p->end[i] = dims[i];
        p->step[i] = 1;
    }
    if (m->m->opset < 10) {
        TRY(attr_ints(m, "starts", st, SF_MAX_RANK, &ns));
        TRY(attr_ints(m, "ends", en, SF_MAX_RANK, &ne));
        TRY(attr_ints(m, "axes", ax, SF_MAX_RANK, &na));
    } else {
        val *a, *b, *c, *d;
        TRY(need_input(m, 1, &a));
        TRY(need_input(m, 2, &b));
        TRY(input(m, 3, &c));
        TRY(input(m, 4, &d));
        if (a->kind != V_CONST || b->kind != V_CONST || (c && c->kind != V_CONST) ||
            (d && d->kind != V_CONST))
            return FAIL(m, "starts, ends, axes and steps must be constants");
        TRY(ints_of(m, a, st, SF_MAX_RANK, &ns));
        TRY(ints_of(m, b, en, SF_MAX_RANK, &ne));
        if (c)
            TRY(ints_of(m, c, ax, SF_MAX_RANK, &na));
        if (d)
            TRY(ints_of(m, d, sp, SF_MAX_RANK, &np));
    }
    if (ns < 0 || ne != ns || (na >= 0 && na != ns) || (np >= 0 && np != ns))
        return FAIL(m, "starts, ends, axes and steps differ in length");
    for (int k = 0; k < ns; k++) {
        int a = 0;
        TRY(norm_axis(m, na >= 0 ? ax[k] : k, rank, "axis", &a));
        int64_t step = np >= 0 ? sp[k] : 1, len = dims[a];
        if (step == 0)
            return FAIL(m, "a step of 0");
        int64_t s = st[k], e = en[k];
        /* ONNX clamps like Python: to [0, len] going up, [-1, len-1] going down */
        if (s < 0)
            s += len;
        if (e < 0)
            e += len;
        if (step > 0) {
            s = s < 0 ? 0 : s > len ? len : s;
            e = e < 0 ? 0 : e > len ? len : e;
        } else {
            s = s < 0 ? -1 : s > len - 1 ? len - 1 : s;
            e = e < -1 ? -1 : e > len - 1 ? len - 1 : e;
        }
        p->start[a] = s;
        p->end[a] = e;
        p->step[a] = step;
    }
    return SF_OK;
}

static int64_t slice_count(int64_t s, int64_t e, int64_t step)
{
    if (step > 0)
        return e > s ? (e - s + step - 1) / step : 0;
    return s > e ? (s - e - step - 1) / -step : 0;
}

/* ---- tensors of the file as numbers ---------------------------------------------- */

static float f16_bits(uint16_t h)
{
    return sf_f16_to_f32(h);
}

/* f rounded to the nearest f16 (bf16) value, ties to even, as a cast does. */
static float round_narrow(float f, int bf16)
{
    if (!isfinite(f))
        return f;
    if (bf16) {
        uint32_t u;
        memcpy(&u, &f, 4);
        u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
        memcpy(&f, &u, 4);
        return f;
    }
    double a = fabs((double)f);
    if (a >= 65520.0)
        return f < 0 ? -INFINITY : INFINITY;
    int e;
    frexp(a, &e);                        /* a = m * 2^e, m in [0.5, 1) */
    int q = e - 11 < -24 ? -24 : e - 11; /* spacing of f16 numbers around a */
    double step = ldexp(1.0, q);
    double r = nearbyint(a / step) * step; /* the FPU's default rounding: ties to even */
    return (float)(f < 0 ? -r : r);
}

/* The elements of t as floats (f, float types) or integers (s, integer and
 * boolean types); the other array is left alone. */
static sf_status tensor_values(imp *m, const sf_onnx_tensor *t, float *f, int64_t *s)
{
    const unsigned char *p = t->data;
    size_t es = sf_onnx_dtype_size(t->dtype);
    if (!es || t->dtype == SF_ONNX_STRING)
        return FAIL(m, "tensor '%.200s' of type %s is not supported", t->name,
                    sf_onnx_dtype_name(t->dtype));
    if (t->numel && (!p || t->nbytes < t->numel * es))
        return FAIL(m, "tensor '%.200s' has no data", t->name);
    for (size_t i = 0; i < t->numel; i++, p += es) {
        uint16_t h;
        uint32_t u;
        uint64_t q;
        switch (t->dtype) {
        case SF_ONNX_FLOAT: memcpy(&f[i], p, 4); break;
        case SF_ONNX_FLOAT16:
            memcpy(&h, p, 2);
            f[i] = f16_bits(h);
            break;
        case SF_ONNX_BFLOAT16:
            memcpy(&h, p, 2);
            f[i] = sf_bf16_to_f32(h);
            break;
        case SF_ONNX_DOUBLE: {
            double dv;
            memcpy(&dv, p, 8);
            f[i] = (float)dv;
            break;
        }
        case SF_ONNX_INT8: s[i] = (int8_t)p[0]; break;
        case SF_ONNX_UINT8:
        case SF_ONNX_BOOL: s[i] = p[0]; break;
        case SF_ONNX_INT16:
            memcpy(&h, p, 2);
            s[i] = (int16_t)h;
            break;
        case SF_ONNX_UINT16:
            memcpy(&h, p, 2);
            s[i] = h;
            break;
        case SF_ONNX_INT32:
            memcpy(&u, p, 4);
            s[i] = (int32_t)u;
            break;
        case SF_ONNX_UINT32:
            memcpy(&u, p, 4);
            s[i] = u;
            break;
        case SF_ONNX_INT64:
        case SF_ONNX_UINT64:
            memcpy(&q, p, 8);
            s[i] = (int64_t)q;
            break;
        default:
            return FAIL(m, "tensor '%.200s' of type %s is not supported", t->name,
                        sf_onnx_dtype_name(t->dtype));
        }
    }
    return SF_OK;
}

static int is_float_type(int dt)
{
    return dt == SF_ONNX_FLOAT || dt == SF_ONNX_FLOAT16 || dt == SF_ONNX_BFLOAT16 ||
           dt == SF_ONNX_DOUBLE;
}

/* ---- the node handlers ---------------------------------------------------------- */

typedef sf_status (*handler)(imp *m, const sf_onnx_node *n);

static int all_const(imp *m, const sf_onnx_node *n)
{
    for (int j = 0; j < n->ninputs; j++) {
        if (!n->inputs[j][0])
            continue;
        val *v = lookup(m, n->inputs[j]);
        if (!v || v->kind != V_CONST)
            return 0;
    }
    return 1;
}

/* Output j becomes the same value as v (Identity, Dropout, Cast, ...). */
static sf_status alias(imp *m, int j, val *v)
{
    const sf_onnx_node *n = &m->m->nodes[m->cur];
    val *o = lookup(m, n->outputs[j]);
    int nuse = o->nuse;
    *o = *v;
    o->name = n->outputs[j];
    o->nuse = nuse;
    o->wname = v->wname;
    return SF_OK;
}

static sf_status h_identity(imp *m, const sf_onnx_node *n)
{
    val *x;
    TRY(need_input(m, 0, &x));
    if (!strcmp(n->op_type, "Dropout")) {
        for (int j = 1; j < n->noutputs; j++)
            if (n->outputs[j][0] && lookup(m, n->outputs[j])->nuse)
                return FAIL(m, "the mask output of Dropout is used");
    }
    return alias(m, 0, x);
}

static sf_status h_constant(imp *m, const sf_onnx_node *n)
{
    if (n->nattrs != 1)
        return FAIL(m, "expected exactly one attribute");
    const sf_onnx_attr *a = &n->attrs[0];
    val *o;
    int64_t one = 1;
    if (!strcmp(a->name, "value") && a->type == SF_ONNX_AT_TENSOR) {
        const sf_onnx_tensor *t = a->t;
        /* the tensor converted as an initializer would be */
        int isint = t->dtype != SF_ONNX_FLOAT && t->dtype != SF_ONNX_FLOAT16 &&
                    t->dtype != SF_ONNX_BFLOAT16 && t->dtype != SF_ONNX_DOUBLE;
        TRY(new_const(m, 0, isint, t->rank, t->dims, &o));
        int64_t *tmp = NULL;
        if (isint && !(tmp = sf_arena_array(m->a, o->numel ? o->numel : 1, sizeof *tmp)))
            return oom();
        if (t->external || (!t->data && t->numel))
            return FAIL(m, "a Constant with external data");
        TRY(tensor_values(m, t, o->f, tmp));
        for (size_t i = 0; isint && i < o->numel; i++)
            o->s[i] = (sym){0, tmp[i]};
        return SF_OK;
    }
    if (!strcmp(a->name, "value_float") && a->type == SF_ONNX_AT_FLOAT) {
        TRY(new_const(m, 0, 0, 0, &one, &o));
        o->f[0] = a->f;
        return SF_OK;
    }
    if (!strcmp(a->name, "value_int") && a->type == SF_ONNX_AT_INT) {
        TRY(new_const(m, 0, 1, 0, &one, &o));
        o->s[0] = (sym){0, a->i};
        return SF_OK;
    }
    if (!strcmp(a->name, "value_floats") && a->type == SF_ONNX_AT_FLOATS) {
        int64_t d = a->nfloats;
        TRY(new_const(m, 0, 0, 1, &d, &o));
        memcpy(o->f, a->floats, (size_t)d * sizeof *o->f);
        return SF_OK;
    }
    if (!strcmp(a->name, "value_ints") && a->type == SF_ONNX_AT_INTS) {
        int64_t d = a->nints;
        TRY(new_const(m, 0, 1, 1, &d, &o));
        for (int64_t i = 0; i < d; i++)
            o->s[i] = (sym){0, a->ints[i]};
        return SF_OK;
    }
    return FAIL(m, "attribute '%.100s' is not supported (value, value_float(s), value_int(s) are)",
                a->name);
}

static sf_status h_shape(imp *m, const sf_onnx_node *n)
{
    val *x, *o;
    (void)n;
    ATTRS("start", "end");
    TRY(need_input(m, 0, &x));
    int64_t s, e;
    TRY(attr_int(m, "start", 0, &s));
    TRY(attr_int(m, "end", x->rank, &e));
    s = s < 0 ? s + x->rank : s;
    e = e < 0 ? e + x->rank : e;
    s = s < 0 ? 0 : s > x->rank ? x->rank : s;
    e = e < s ? s : e > x->rank ? x->rank : e;
    int64_t d = e - s;
    TRY(new_const(m, 0, 1, 1, &d, &o));
    for (int64_t i = s; i < e; i++)
        o->s[i - s] =
            (x->kind == V_DYN || x->bbatch) && i == 0 ? (sym){1, 0} : (sym){0, x->dims[i]};
    return SF_OK;
}

static sf_status h_size(imp *m, const sf_onnx_node *n)
{
    val *x, *o;
    (void)n;
    TRY(need_input(m, 0, &x));
    int64_t d = 1;
    TRY(new_const(m, 0, 1, 0, &d, &o));
    int64_t inner = (int64_t)numel_of(x->dims + 1, x->rank - 1);
    o->s[0] = x->kind == V_DYN ? (sym){inner, 0} : (sym){0, (int64_t)x->numel};
    return SF_OK;
}

static sf_status h_constantofshape(imp *m, const sf_onnx_node *n)
{
    val *s, *o;
    (void)n;
    TRY(need_input(m, 0, &s));
    if (s->kind != V_CONST)
        return FAIL(m, "the shape must be a constant");
    int64_t dims[SF_MAX_RANK];
    int r;
    if (s->numel > SF_MAX_RANK)
        return FAIL(m, "rank %zu, at most %d", s->numel, SF_MAX_RANK);
    int bb = 0;
    for (size_t i = 0; i < s->numel; i++) {
        if (s->isint && s->s[i].a) {
            /* [B, ...]: the same for every item, kept as [1, ...] (val.bbatch) */
            if (i != 0 || s->s[i].a != 1 || s->s[i].c)
                return FAIL(m, "a shape that depends on the batch size outside dimension 0");
            dims[0] = 1;
            bb = 1;
            continue;
        }
        TRY(plain(m, s, i, &dims[i]));
    }
    r = (int)s->numel;
    const sf_onnx_attr *a = attr(m, "value");
    int isint = a && a->t && a->t->dtype != SF_ONNX_FLOAT && a->t->dtype != SF_ONNX_DOUBLE &&
                a->t->dtype != SF_ONNX_FLOAT16;
    TRY(new_const(m, 0, a ? isint : 0, r, dims, &o));
    float fv = 0;
    int64_t iv = 0;
    if (a && a->t && a->t->numel == 1) {
        TRY(tensor_values(m, a->t, &fv, &iv));
    }
    for (size_t i = 0; i < o->numel; i++) {
        if (o->isint)
            o->s[i] = (sym){0, iv};
        else
            o->f[i] = fv;
    }
    o->bbatch = bb;
    return SF_OK;
}

static sf_status h_range(imp *m, const sf_onnx_node *n)
{
    val *a, *b, *c, *o;
    (void)n;
    TRY(need_input(m, 0, &a));
    TRY(need_input(m, 1, &b));
    TRY(need_input(m, 2, &c));
    if (a->kind != V_CONST || b->kind != V_CONST || c->kind != V_CONST)
        return FAIL(m, "start, limit and delta must be constants");
    int isint = a->isint;
    double s = num(a, 0), l = num(b, 0), d = num(c, 0);
    for (val *v = a; v; v = v == a ? b : v == b ? c : NULL)
        if (v->isint && v->s[0].a)
            return FAIL(m, "a range whose bounds depend on the batch size");
    if (d == 0)
        return FAIL(m, "delta is 0");
    double cnt = ceil((l - s) / d);
    int64_t k = cnt > 0 ? (int64_t)cnt : 0;
    if (k > SF_MAX_ELEMS)
        return FAIL(m, "a range of %lld elements", (long long)k);
    TRY(new_const(m, 0, isint, 1, &k, &o));
    for (int64_t i = 0; i < k; i++) {
        if (isint)
            o->s[i] = (sym){0, (int64_t)s + i * (int64_t)d};
        else
            o->f[i] = (float)(s + (double)i * d);
    }
    return SF_OK;
}

static sf_status h_cast(imp *m, const sf_onnx_node *n)
{
    val *x;
    (void)n;
    ATTRS("to", "saturate");
    TRY(need_input(m, 0, &x));
    int64_t to;
    TRY(attr_int(m, "to", 0, &to));
    int toint = to != SF_ONNX_FLOAT && to != SF_ONNX_FLOAT16 && to != SF_ONNX_BFLOAT16 &&
                to != SF_ONNX_DOUBLE;
    if (to == SF_ONNX_STRING || !sf_onnx_dtype_size((int)to))
        return FAIL(m, "cast to %s is not supported", sf_onnx_dtype_name((int)to));
    if (x->kind == V_DYN) {
        /* inside the graph every tensor is float: a cast to an integer type
         * is exact only for values already integer */
        if (toint && !x->intval)
            return FAIL(m, "cast of a float activation to %s (a rounding op) is not supported",
                        sf_onnx_dtype_name((int)to));
        TRY(alias(m, 0, x));
        if (to == SF_ONNX_BOOL && !x->intval)
            return FAIL(m, "cast to bool is not supported");
        return SF_OK;
    }
    val *o;
    TRY(new_const(m, 0, toint, x->rank, x->dims, &o));
    for (size_t i = 0; i < x->numel; i++) {
        if (toint) {
            if (x->isint)
                o->s[i] = to == SF_ONNX_BOOL ? (sym){0, x->s[i].c != 0 || x->s[i].a != 0} : x->s[i];
            else if (to == SF_ONNX_BOOL)
                o->s[i] = (sym){0, x->f[i] != 0};
            else if (!(fabsf(x->f[i]) < 9.2e18f))
                return FAIL(m, "cast of %g to an integer", x->f[i]);
            else
                o->s[i] = (sym){0, (int64_t)x->f[i]};
        } else {
            if (x->isint && x->s[i].a)
                return FAIL(m, "a batch-dependent number cast to float");
            o->f[i] = x->isint ? (float)x->s[i].c : x->f[i];
            if (to == SF_ONNX_FLOAT16 || to == SF_ONNX_BFLOAT16) {
                /* round through the narrow type, as the cast would */
                o->f[i] = round_narrow(o->f[i], to == SF_ONNX_BFLOAT16);
            }
        }
    }
    return SF_OK;
}

/* Shape for Reshape: 0 copies (unless allowzero), one -1; the first
 * dimension of an activation must stay the batch. */
static sf_status h_reshape(imp *m, const sf_onnx_node *n)
{
    val *x, *s;
    (void)n;
    ATTRS("allowzero");
    TRY(need_input(m, 0, &x));
    TRY(need_input(m, 1, &s));
    if (s->kind != V_CONST)
        return FAIL(m, "the shape (input 1) is computed from activations: it must be a constant");
    if (s->numel > SF_MAX_RANK)
        return FAIL(m, "rank %zu, at most %d", s->numel, SF_MAX_RANK);
    int64_t allowzero;
    TRY(attr_int(m, "allowzero", 0, &allowzero));
    int r = (int)s->numel, wild = -1, dyn = x->kind == V_DYN;
    int64_t dims[SF_MAX_RANK];
    size_t inner = dyn ? numel_of(x->dims + 1, x->rank - 1) : x->numel, prod = 1;
    for (int i = 0; i < r; i++) {
        sym e = s->isint ? s->s[i] : (sym){0, (int64_t)s->f[i]};
        if (dyn && i == 0) {
            /* the batch: B itself, 0 (copy), or -1 with everything else fixed */
            if ((e.a == 1 && e.c == 0) || (e.a == 0 && e.c == 0 && !allowzero)) {
                dims[0] = x->dims[0];
                continue;
            }
            if (e.a == 0 && e.c == -1) {
                dims[0] = x->dims[0];
                wild = -2; /* checked below */
                continue;
            }
            return FAIL(m, "the new first dimension is not the batch: the batch must stay the "
                           "first dimension");
        }
        if (e.a)
            return FAIL(m, "dimension %d of the new shape depends on the batch size", i);
        int64_t d = e.c;
        if (d == 0 && !allowzero) {
            if (i >= x->rank)
                return FAIL(m, "dimension %d is 0 (copy) beyond the input's rank", i);
            d = x->dims[i];
        }
        if (d == -1) {
            if (wild >= 0)
                return FAIL(m, "more than one -1 in the shape");
            wild = i;
            continue;
        }
        if (d < 0)
            return FAIL(m, "dimension %d of the new shape is %lld", i, (long long)d);
        dims[i] = d;
        prod *= (size_t)d;
    }
    if (wild >= 0) {
        if (!prod || inner % prod)
            return FAIL(m, "no size for -1 gives %zu elements", inner);
        dims[wild] = (int64_t)(inner / prod);
        prod = inner;
    }
    if (prod != inner)
        return FAIL(m, "the input has %zu elements%s; the shape asks for %zu", inner,
                    dyn ? " per batch item" : "", prod);
    if (!dyn)
        return fold_reshape(m, x, r, dims);
    if (r < 1)
        return FAIL(m, "a reshape to rank 0 drops the batch");
    const char *o = out_name(m, 0);
    sf_desc_node *d;
    TRY(emit(m, "reshape", o, 1, &x->ir, &d));
    int64_t sh[SF_MAX_RANK];
    memcpy(sh, dims, sizeof sh);
    sh[0] = 0;
    attr_set_ints(d, "shape", sh, r);
    return set_dyn(m, 0, o, r, dims, x->intval);
}

/* An activation or a constant in a new shape (squeeze, unsqueeze, flatten). */
static sf_status reshape_to(imp *m, val *x, int r, const int64_t *dims)
{
    if (x->kind == V_CONST)
        return fold_reshape(m, x, r, dims);
    if (r < 1 || dims[0] != x->dims[0])
        return FAIL(m, "the batch (dimension 0) must stay the first dimension");
    const char *o = out_name(m, 0);
    sf_desc_node *d;
    TRY(emit(m, "reshape", o, 1, &x->ir, &d));
    int64_t sh[SF_MAX_RANK];
    memcpy(sh, dims, sizeof sh);
    sh[0] = 0;
    attr_set_ints(d, "shape", sh, r);
    return set_dyn(m, 0, o, r, dims, x->intval);
}

/* Axes from the `axes` attribute (before opset 13) or input 1. n = -1: absent. */
static sf_status axes_of(imp *m, int opset_input, int64_t *axes, int *n)
{
    if (m->m->opset >= opset_input) {
        val *a;
        TRY(input(m, 1, &a));
        *n = -1;
        if (!a)
            return SF_OK;
        if (a->kind != V_CONST)
            return FAIL(m, "axes (input 1) must be a constant");
        return ints_of(m, a, axes, SF_MAX_RANK, n);
    }
    return attr_ints(m, "axes", axes, SF_MAX_RANK, n);
}

static sf_status h_squeeze(imp *m, const sf_onnx_node *n)
{
    val *x;
    ATTRS("axes");
    TRY(need_input(m, 0, &x));
    int64_t axes[SF_MAX_RANK];
    int na;
    TRY(axes_of(m, 13, axes, &na));
    int drop[SF_MAX_RANK] = {0};
    for (int i = 0; i < na; i++) {
        int a = 0;
        TRY(norm_axis(m, axes[i], x->rank, "axis", &a));
        if (x->dims[a] != 1)
            return FAIL(m, "axis %d has size %lld, not 1", a, (long long)x->dims[a]);
        drop[a] = 1;
    }
    if (na < 0)
        for (int i = 0; i < x->rank; i++)
            drop[i] = x->dims[i] == 1 && !(x->kind == V_DYN && i == 0);
    int64_t dims[SF_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++)
        if (!drop[i])
            dims[r++] = x->dims[i];
    if (x->kind == V_DYN && drop[0])
        return FAIL(m, "squeezes the batch dimension");
    (void)n;
    return reshape_to(m, x, r, dims);
}

static sf_status h_unsqueeze(imp *m, const sf_onnx_node *n)
{
    val *x;
    ATTRS("axes");
    TRY(need_input(m, 0, &x));
    int64_t axes[SF_MAX_RANK];
    int na;
    TRY(axes_of(m, 13, axes, &na));
    if (na < 0)
        return FAIL(m, "axes missing");
    int r = x->rank + na, ins[SF_MAX_RANK] = {0};
    if (r > SF_MAX_RANK)
        return FAIL(m, "rank %d, at most %d", r, SF_MAX_RANK);
    for (int i = 0; i < na; i++) {
        int a = 0;
        TRY(norm_axis(m, axes[i], r, "axis", &a));
        if (ins[a]++)
            return FAIL(m, "axis %d given twice", a);
    }
    int64_t dims[SF_MAX_RANK];
    for (int i = 0, k = 0; i < r; i++)
        dims[i] = ins[i] ? 1 : x->dims[k++];
    if (x->kind == V_DYN && ins[0])
        return FAIL(m, "a new first dimension: the batch must stay the first dimension");
    (void)n;
    return reshape_to(m, x, r, dims);
}

static sf_status h_flatten(imp *m, const sf_onnx_node *n)
{
    val *x;
    (void)n;
    ATTRS("axis");
    TRY(need_input(m, 0, &x));
    int64_t ax;
    TRY(attr_int(m, "axis", 1, &ax));
    int a = 0;
    TRY(norm_axis(m, ax, x->rank + 1, "axis", &a));
    int64_t dims[2] = {(int64_t)numel_of(x->dims, a), (int64_t)numel_of(x->dims + a, x->rank - a)};
    if (x->kind == V_DYN && a != 1) {
        if (a == 0 || x->rank < 1)
            return FAIL(m, "axis 0 merges the batch into the features");
        /* [B, d1..] -> [B, prod(d1..d_{a-1}), rest] is not a flatten of ONNX's shape */
        return FAIL(m, "axis %d: only axis 1 keeps the batch first", a);
    }
    return reshape_to(m, x, 2, dims);
}

static sf_status h_transpose(imp *m, const sf_onnx_node *n)
{
    val *x;
    (void)n;
    ATTRS("perm");
    TRY(need_input(m, 0, &x));
    int64_t perm[SF_MAX_RANK];
    int np;
    TRY(attr_ints(m, "perm", perm, SF_MAX_RANK, &np));
    if (np < 0) {
        np = x->rank;
        for (int i = 0; i < np; i++)
            perm[i] = np - 1 - i;
    }
    if (np != x->rank)
        return FAIL(m, "perm has %d entries for a rank-%d input", np, x->rank);
    int64_t dims[SF_MAX_RANK];
    int seen[SF_MAX_RANK] = {0};
    for (int i = 0; i < np; i++) {
        if (perm[i] < 0 || perm[i] >= np || seen[perm[i]]++)
            return FAIL(m, "perm is not a permutation");
        dims[i] = x->dims[perm[i]];
    }
    if (x->kind == V_CONST) {
        val *o;
        TRY(new_const(m, 0, x->isint, np, dims, &o));
        int64_t st[SF_MAX_RANK] = {0};
        for (int i = np - 1, k = 1; i >= 0; i--) {
            st[i] = k;
            k *= (int)x->dims[i];
        }
        for (size_t e = 0; e < o->numel; e++) {
            size_t rem = e, src = 0;
            for (int i = np - 1; i >= 0; i--) {
                src += (rem % (size_t)dims[i]) * (size_t)st[perm[i]];
                rem /= (size_t)dims[i];
            }
            copy_el(o, e, x, src);
        }
        return SF_OK;
    }
    if (perm[0] != 0)
        return FAIL(m, "perm[0] is %lld: the batch must stay the first dimension",
                    (long long)perm[0]);
    const char *o = out_name(m, 0);
    sf_desc_node *d;
    TRY(emit(m, "transpose", o, 1, &x->ir, &d));
    attr_set_ints(d, "perm", perm, np);
    return set_dyn(m, 0, o, np, dims, x->intval);
}

static sf_status h_concat(imp *m, const sf_onnx_node *n)
{
    ATTRS("axis");
    val *ins[SF_MAX_NODE_IN];
    int k = 0, dyn = 0;
    for (int j = 0; j < n->ninputs; j++) {
        val *v;
        TRY(input(m, j, &v));
        if (!v)
            continue;
        if (v->numel == 0 && v->kind == V_CONST && v->rank == 1)
            continue; /* an empty shape piece */
        if (k == SF_MAX_NODE_IN)
            return FAIL(m, "more than %d inputs", SF_MAX_NODE_IN);
        ins[k++] = v;
        dyn |= v->kind == V_DYN;
    }
    if (!k)
        return FAIL(m, "no inputs");
    int64_t ax;
    TRY(attr_int(m, "axis", 0, &ax));
    int a = 0, r = ins[0]->rank;
    TRY(norm_axis(m, ax, r, "axis", &a));
    int64_t dims[SF_MAX_RANK];
    memcpy(dims, ins[0]->dims, sizeof dims);
    dims[a] = 0;
    for (int j = 0; j < k; j++) {
        if (ins[j]->rank != r)
            return FAIL(m, "inputs of different ranks");
        for (int i = 0; i < r; i++)
            if (i != a && ins[j]->dims[i] != ins[0]->dims[i])
                return FAIL(m, "inputs differ in dimension %d", i);
        dims[a] += ins[j]->dims[a];
    }
    if (!dyn) {
        int isint = 1;
        for (int j = 0; j < k; j++)
            isint &= ins[j]->isint;
        val *o;
        TRY(new_const(m, 0, isint, r, dims, &o));
        size_t outer = numel_of(dims, a), inner = numel_of(dims + a + 1, r - a - 1), e = 0;
        for (size_t p = 0; p < outer; p++)
            for (int j = 0; j < k; j++) {
                size_t len = (size_t)ins[j]->dims[a] * inner;
                for (size_t q = 0; q < len; q++)
                    copy_el(o, e++, ins[j], p * len + q);
            }
        return SF_OK;
    }
    if (a == 0)
        return FAIL(m, "a concatenation along the batch dimension");
    const char *names[SF_MAX_NODE_IN];
    int intval = 1;
    for (int j = 0; j < k; j++) {
        TRY(operand(m, ins[j], r, &names[j]));
        intval &= ins[j]->kind == V_DYN ? ins[j]->intval : ins[j]->isint;
    }
    if (k == 1)
        return alias(m, 0, ins[0]);
    const char *o = out_name(m, 0);
    sf_desc_node *d;
    TRY(emit(m, "concat", o, k, names, &d));
    attr_set_int(d, "axis", a);
    return set_dyn(m, 0, o, r, dims, intval);
}

/* An activation sliced on several axes: one `slice` per axis that changes. */
static sf_status slice_dyn(imp *m, val *x, const slice_p *p, int j, int64_t *dims)
{
    const char *cur = x->ir;
    int64_t d[SF_MAX_RANK];
    memcpy(d, x->dims, sizeof d);
    int last = -1;
    for (int a = 0; a < x->rank; a++)
        if (p->start[a] != 0 || p->end[a] != x->dims[a] || p->step[a] != 1)
            last = a;
    if (last < 0) {
        memcpy(dims, d, sizeof d);
        return alias(m, j, x);
    }
    if (p->start[0] != 0 || p->end[0] != x->dims[0] || p->step[0] != 1)
        return FAIL(m, "a slice of the batch dimension");
    for (int a = 1; a <= last; a++) {
        if (p->start[a] == 0 && p->end[a] == x->dims[a] && p->step[a] == 1)
            continue;
        char nm[600];
        const char *o;
        if (a == last) {
            o = unique_name(m, m->m->nodes[m->cur].outputs[j]);
        } else {
            snprintf(nm, sizeof nm, "%.500s#axis%d", m->m->nodes[m->cur].outputs[j], a);
            o = unique_name(m, nm);
            if (o == nm)
                o = sf_arena_strdup(m->a, nm);
        }
        if (!o)
            return oom();
        sf_desc_node *nd;
        TRY(emit(m, "slice", o, 1, &cur, &nd));
        attr_set_int(nd, "axis", a);
        attr_set_int(nd, "start", p->start[a]);
        /* the slice op takes Python's end; -1 going down means "past the front" */
        if (p->step[a] < 0 && p->end[a] < 0)
            attr_set_num(nd, "end", -(double)x->dims[a] - 1);
        else
            attr_set_int(nd, "end", p->end[a]);
        attr_set_int(nd, "step", p->step[a]);
        d[a] = slice_count(p->start[a], p->end[a], p->step[a]);
        cur = o;
    }
    memcpy(dims, d, sizeof d);
    return set_dyn(m, j, cur, x->rank, d, x->intval);
}

static sf_status slice_const(imp *m, val *x, const slice_p *p, int j)
{
    int64_t dims[SF_MAX_RANK];
    for (int a = 0; a < x->rank; a++)
        dims[a] = slice_count(p->start[a], p->end[a], p->step[a]);
    val *o;
    const sf_onnx_node *n = &m->m->nodes[m->cur];
    (void)n;
    if (j != 0) {
        /* new_const writes output 0: build it there, then move it */
        return sf_error(SF_EINTERNAL, W(m), "constant slice to output %d", j);
    }
    TRY(new_const(m, 0, x->isint, x->rank, dims, &o));
    for (size_t e = 0; e < o->numel; e++) {
        size_t rem = e, src = 0, st = 1;
        int64_t c[SF_MAX_RANK] = {0};
        for (int a = x->rank - 1; a >= 0; a--) {
            c[a] = (int64_t)(rem % (size_t)dims[a]);
            rem /= (size_t)dims[a];
        }
        for (int a = x->rank - 1; a >= 0; a--) {
            src += (size_t)(p->start[a] + c[a] * p->step[a]) * st;
            st *= (size_t)x->dims[a];
        }
        copy_el(o, e, x, src);
    }
    return SF_OK;
}

static sf_status h_slice(imp *m, const sf_onnx_node *n)
{
    val *x;
    (void)n;
    if (m->m->opset < 10)
        ATTRS("starts", "ends", "axes");
    else
        ATTRS(NULL);
    TRY(need_input(m, 0, &x));
    slice_p p;
    TRY(slice_params(m, x->rank, x->dims, &p));
    if (x->kind == V_CONST)
        return slice_const(m, x, &p, 0);
    int64_t dims[SF_MAX_RANK];
    return slice_dyn(m, x, &p, 0, dims);
}

static sf_status h_split(imp *m, const sf_onnx_node *n)
{
    val *x;
    ATTRS("axis", "split", "num_outputs");
    TRY(need_input(m, 0, &x));
    int64_t ax, sizes[SF_MAX_NODE_IN * 4];
    TRY(attr_int(m, "axis", 0, &ax));
    int a = 0;
    TRY(norm_axis(m, ax, x->rank, "axis", &a));
    int ns = -1, k = n->noutputs;
    if (k > (int)(sizeof sizes / sizeof sizes[0]))
        return FAIL(m, "%d outputs, at most %d", k, (int)(sizeof sizes / sizeof sizes[0]));
    if (m->m->opset >= 13) {
        val *s;
        TRY(input(m, 1, &s));
        if (s) {
            if (s->kind != V_CONST)
                return FAIL(m, "split (input 1) must be a constant");
            TRY(ints_of(m, s, sizes, k, &ns));
        }
    } else {
        const sf_onnx_attr *sa = attr(m, "split");
        if (sa) {
            if (sa->type != SF_ONNX_AT_INTS || sa->nints > k)
                return FAIL(m, "attribute 'split': expected %d integers", k);
            memcpy(sizes, sa->ints, (size_t)sa->nints * sizeof *sizes);
            ns = sa->nints;
        }
    }
    int64_t len = x->dims[a];
    if (ns < 0) {
        int64_t part = (len + k - 1) / k;
        for (int j = 0; j < k; j++) {
            int64_t left = len - part * j;
            sizes[j] = left < part ? (left < 0 ? 0 : left) : part;
        }
        ns = k;
    }
    if (ns != k)
        return FAIL(m, "%d split sizes for %d outputs", ns, k);
    int64_t total = 0;
    for (int j = 0; j < k; j++) {
        if (sizes[j] < 0)
            return FAIL(m, "a negative split size");
        total += sizes[j];
    }
    if (total != len)
        return FAIL(m, "split sizes add up to %lld; axis %d has %lld", (long long)total, a,
                    (long long)len);
    if (x->kind == V_CONST)
        return FAIL(m, "Split of a constant is not supported");
    if (a == 0)
        return FAIL(m, "a split of the batch dimension");
    int64_t at = 0;
    for (int j = 0; j < k; j++) {
        slice_p p;
        for (int i = 0; i < x->rank; i++) {
            p.start[i] = 0;
            p.end[i] = x->dims[i];
            p.step[i] = 1;
        }
        p.start[a] = at;
        p.end[a] = at + sizes[j];
        at += sizes[j];
        if (!n->outputs[j][0])
            continue;
        int64_t dims[SF_MAX_RANK];
        TRY(slice_dyn(m, x, &p, j, dims));
    }
    return SF_OK;
}

static sf_status h_gather(imp *m, const sf_onnx_node *n)
{
    val *x, *ix;
    (void)n;
    ATTRS("axis");
    TRY(need_input(m, 0, &x));
    TRY(need_input(m, 1, &ix));
    int64_t ax;
    TRY(attr_int(m, "axis", 0, &ax));
    int a = 0;
    TRY(norm_axis(m, ax, x->rank, "axis", &a));
    if (ix->kind == V_CONST) {
        if (ix->numel > (size_t)1 << 20)
            return FAIL(m, "more than 2^20 constant indices");
        int64_t *idx = sf_arena_array(m->a, ix->numel ? ix->numel : 1, sizeof *idx);
        if (!idx)
            return oom();
        for (size_t i = 0; i < ix->numel; i++)
            TRY(plain(m, ix, i, &idx[i]));
        if (x->kind == V_CONST) {
            if (x->rank - 1 + ix->rank > SF_MAX_RANK)
                return FAIL(m, "result rank above %d", SF_MAX_RANK);
            return fold_take(m, x, a, idx, (int64_t)ix->numel, 0, ix->rank, ix->dims);
        }
        /* an activation: contiguous ascending indices are a slice */
        if (a == 0)
            return FAIL(m, "a gather along the batch dimension");
        if (ix->rank > 1)
            return FAIL(m, "constant indices of rank %d into an activation", ix->rank);
        int64_t len = x->dims[a];
        for (size_t i = 0; i < ix->numel; i++) {
            int64_t v = idx[i] < 0 ? idx[i] + len : idx[i];
            if (v < 0 || v >= len)
                return FAIL(m, "index %lld is outside an axis of %lld", (long long)idx[i],
                            (long long)len);
            idx[i] = v;
            if (i && idx[i] != idx[i - 1] + 1)
                return FAIL(m, "indices that are not consecutive, into an activation");
        }
        if (!ix->numel)
            return FAIL(m, "no indices");
        slice_p p;
        for (int i = 0; i < x->rank; i++) {
            p.start[i] = 0;
            p.end[i] = x->dims[i];
            p.step[i] = 1;
        }
        p.start[a] = idx[0];
        p.end[a] = idx[0] + (int64_t)ix->numel;
        int64_t dims[SF_MAX_RANK];
        if (ix->rank == 1)
            return slice_dyn(m, x, &p, 0, dims);
        /* a scalar index drops the axis: slice, then reshape */
        const char *keep = m->m->nodes[m->cur].outputs[0];
        char nm[600];
        snprintf(nm, sizeof nm, "%.500s#slice", keep);
        const char *sl = unique_name(m, nm);
        if (sl == nm && !(sl = sf_arena_strdup(m->a, nm)))
            return oom();
        sf_desc_node *nd;
        TRY(emit(m, "slice", sl, 1, &x->ir, &nd));
        attr_set_int(nd, "axis", a);
        attr_set_int(nd, "start", idx[0]);
        attr_set_int(nd, "end", idx[0] + 1);
        int64_t rd[SF_MAX_RANK];
        int r = 0;
        for (int i = 0; i < x->rank; i++)
            if (i != a)
                rd[r++] = x->dims[i];
        const char *o = out_name(m, 0);
        TRY(emit(m, "reshape", o, 1, &sl, &nd));
        int64_t sh[SF_MAX_RANK];
        memcpy(sh, rd, sizeof sh);
        sh[0] = 0;
        attr_set_ints(nd, "shape", sh, r);
        return set_dyn(m, 0, o, r, rd, x->intval);
    }
    /* indices computed at run time: an embedding lookup in a constant table */
    if (x->kind != V_CONST || x->rank != 2 || a != 0)
        return FAIL(m,
                    "run-time indices into %s: only rows of a constant 2-D table "
                    "(axis 0, an embedding lookup) are supported",
                    x->kind == V_CONST ? "this constant" : "an activation");
    const char *wn;
    TRY(weight_of(m, x, &wn));
    if (ix->rank + 1 > SF_MAX_RANK)
        return FAIL(m, "indices of rank %d", ix->rank);
    const char *o = out_name(m, 0);
    sf_desc_node *nd;
    TRY(emit(m, "embedding", o, 1, &ix->ir, &nd));
    nd->weight = wn;
    int64_t dims[SF_MAX_RANK];
    memcpy(dims, ix->dims, (size_t)ix->rank * sizeof *dims);
    dims[ix->rank] = x->dims[1];
    return set_dyn(m, 0, o, ix->rank + 1, dims, 0);
}

static sf_status h_expand(imp *m, const sf_onnx_node *n)
{
    val *x, *s;
    (void)n;
    TRY(need_input(m, 0, &x));
    TRY(need_input(m, 1, &s));
    if (s->kind != V_CONST)
        return FAIL(m, "the shape (input 1) must be a constant");
    if (s->numel > SF_MAX_RANK)
        return FAIL(m, "rank %zu, at most %d", s->numel, SF_MAX_RANK);
    int r = (int)s->numel > x->rank ? (int)s->numel : x->rank;
    int64_t dims[SF_MAX_RANK];
    int batched = x->kind == V_DYN;
    for (int i = 0; i < r; i++) {
        int k = i - (r - (int)s->numel), xi = i - (r - x->rank);
        int64_t xd = xi >= 0 ? x->dims[xi] : 1, sd = 1;
        if (k >= 0) {
            sym e = s->isint ? s->s[k] : (sym){0, (int64_t)s->f[k]};
            if (e.a) {
                if (i != 0 || e.a != 1 || e.c)
                    return FAIL(m, "a target shape that depends on the batch size outside "
                                   "dimension 0");
                batched = 1;
                continue; /* the batch: filled below */
            }
            sd = e.c;
        }
        if (xd != sd && xd != 1 && sd != 1)
            return FAIL(m, "cannot expand dimension %d of size %lld to %lld", i, (long long)xd,
                        (long long)sd);
        dims[i] = xd == 1 ? sd : xd;
    }
    if (!batched) {
        if (x->kind != V_CONST)
            return sf_error(SF_EINTERNAL, W(m), "expand");
        /* a constant broadcast: fold it */
        val *ins[1] = {x}, *o;
        (void)ins;
        TRY(new_const(m, 0, x->isint, r, dims, &o));
        for (size_t e = 0; e < o->numel; e++) {
            size_t rem = e, src = 0, st = 1;
            int64_t c[SF_MAX_RANK] = {0};
            for (int i = r - 1; i >= 0; i--) {
                c[i] = (int64_t)(rem % (size_t)dims[i]);
                rem /= (size_t)dims[i];
            }
            for (int i = x->rank - 1; i >= 0; i--) {
                int oi = i + (r - x->rank);
                src += (size_t)(x->dims[i] == 1 ? 0 : c[oi]) * st;
                st *= (size_t)x->dims[i];
            }
            copy_el(o, e, x, src);
        }
        return SF_OK;
    }
    if (x->kind == V_DYN)
        dims[0] = x->dims[0];
    else
        dims[0] = m->d->inputs[0].dims[0]; /* the maximum batch */
    if (x->kind == V_DYN && r == x->rank && !memcmp(dims, x->dims, (size_t)r * sizeof *dims))
        return alias(m, 0, x);
    const char *in;
    TRY(operand(m, x, r, &in));
    const char *o = out_name(m, 0);
    sf_desc_node *nd;
    TRY(emit(m, "expand", o, 1, &in, &nd));
    int64_t sh[SF_MAX_RANK];
    memcpy(sh, dims, sizeof sh);
    sh[0] = 0;
    attr_set_ints(nd, "shape", sh + 1, r - 1);
    return set_dyn(m, 0, o, r, dims, x->kind == V_DYN ? x->intval : x->isint);
}

/* ---- elementwise ----------------------------------------------------------------- */

/* ONNX elementwise ops and the description's names. */
static const struct {
    const char *onnx, *op;
    int nin;    /* inputs (Where 3) */
    int intout; /* the result is integer-valued (0/1) */
} k_elementwise[] = {
    {"Relu", "relu", 1, 0},
    {"Sigmoid", "sigmoid", 1, 0},
    {"Tanh", "tanh", 1, 0},
    {"Erf", "erf", 1, 0},
    {"Sqrt", "sqrt", 1, 0},
    {"HardSwish", "hardswish", 1, 0},
    {"Neg", "neg", 1, 0},
    {"Exp", "exp", 1, 0},
    {"Log", "log", 1, 0},
    {"Abs", "abs", 1, 0},
    {"Reciprocal", "reciprocal", 1, 0},
    {"Softplus", "softplus", 1, 0},
    {"Floor", "floor", 1, 1},
    {"Ceil", "ceil", 1, 1},
    {"Sign", "sign", 1, 1},
    {"Not", "not", 1, 1},
    {"Add", "add", 2, 0},
    {"Sub", "sub", 2, 0},
    {"Mul", "mul", 2, 0},
    {"Div", "div", 2, 0},
    {"Pow", "pow", 2, 0},
    {"Min", "min", 2, 0},
    {"Max", "max", 2, 0},
    {"Equal", "equal", 2, 1},
    {"Less", "less", 2, 1},
    {"Greater", "greater", 2, 1},
    {"LessOrEqual", "lessorequal", 2, 1},
    {"GreaterOrEqual", "greaterorequal", 2, 1},
    {"And", "and", 2, 1},
    {"Or", "or", 2, 1},
    {"Where", "where", 3, 0},
};

static int find_elementwise(const char *op)
{
    for (size_t i = 0; i < sizeof k_elementwise / sizeof k_elementwise[0]; i++)
        if (!strcmp(k_elementwise[i].onnx, op))
            return (int)i;
    return -1;
}

static sf_status h_elementwise(imp *m, const sf_onnx_node *n)
{
    int e = find_elementwise(n->op_type);
    ATTRS(NULL);
    val *ins[3];
    int nin = k_elementwise[e].nin;
    if (n->ninputs != nin &&
        !((!strcmp(n->op_type, "Min") || !strcmp(n->op_type, "Max")) && n->ninputs == 2))
        return FAIL(m, "%d inputs; %d are supported", n->ninputs, nin);
    for (int j = 0; j < nin; j++)
        TRY(need_input(m, j, &ins[j]));
    if (all_const(m, n))
        return fold_elementwise(m, n->op_type, ins, nin);
    int r;
    int64_t dims[SF_MAX_RANK];
    TRY(broadcast(m, ins, nin, &r, dims));
    /* the batch comes from an activation: each must carry it in dimension 0 of the result */
    for (int j = 0; j < nin; j++)
        if (ins[j]->kind == V_DYN && ins[j]->rank != r)
            return FAIL(m,
                        "activation '%.200s' of rank %d broadcasts to rank %d: the batch "
                        "would not stay the first dimension",
                        ins[j]->name, ins[j]->rank, r);
    const char *names[3];
    int intval = k_elementwise[e].intout;
    for (int j = 0; j < nin; j++) {
        TRY(operand(m, ins[j], r, &names[j]));
        if (!strcmp(n->op_type, "Where") && j == 0)
            continue;
        if (k_elementwise[e].nin == 3 || !strcmp(n->op_type, "Add") || !strcmp(n->op_type, "Sub") ||
            !strcmp(n->op_type, "Mul") || !strcmp(n->op_type, "Min") || !strcmp(n->op_type, "Max"))
            intval = j == (nin == 3)
                         ? (ins[j]->kind == V_DYN ? ins[j]->intval : ins[j]->isint)
                         : intval && (ins[j]->kind == V_DYN ? ins[j]->intval : ins[j]->isint);
    }
    const char *o = out_name(m, 0);
    sf_desc_node *d;
    TRY(emit(m, k_elementwise[e].op, o, nin, names, &d));
    return set_dyn(m, 0, o, r, dims, intval);
}

/* A unary op with attributes mapped onto the description's. */
static sf_status unary_with(imp *m, const char *op, sf_desc_node **d)
{
    val *x;
    TRY(need_input(m, 0, &x));
    if (x->kind != V_DYN)
        return FAIL(m, "%s of a constant is not folded; it is not supported",
                    m->m->nodes[m->cur].op_type);
    const char *o = out_name(m, 0);
    TRY(emit(m, op, o, 1, &x->ir, d));
    return set_dyn(m, 0, o, x->rank, x->dims, 0);
}

static sf_status h_leakyrelu(imp *m, const sf_onnx_node *n)
{
    (void)n;
    ATTRS("alpha");
    double al;
    TRY(attr_float(m, "alpha", 0.01, &al));
    sf_desc_node *d;
    TRY(unary_with(m, "leakyrelu", &d));
    attr_set_num(d, "alpha", al);
    return SF_OK;
}

static sf_status h_hardsigmoid(imp *m, const sf_onnx_node *n)
{
    (void)n;
    ATTRS("alpha", "beta");
    double al, be;
    TRY(attr_float(m, "alpha", 0.2, &al));
    TRY(attr_float(m, "beta", 0.5, &be));
    sf_desc_node *d;
    TRY(unary_with(m, "hardsigmoid", &d));
    attr_set_num(d, "alpha", al);
    attr_set_num(d, "beta", be);
    return SF_OK;
}

static sf_status h_clip(imp *m, const sf_onnx_node *n)
{
    double lo = -INFINITY, hi = INFINITY;
    if (m->m->opset < 11) {
        ATTRS("min", "max");
        TRY(attr_float(m, "min", -INFINITY, &lo));
        TRY(attr_float(m, "max", INFINITY, &hi));
    } else {
        ATTRS(NULL);
        val *a, *b;
        TRY(input(m, 1, &a));
        TRY(input(m, 2, &b));
        if ((a && a->kind != V_CONST) || (b && b->kind != V_CONST))
            return FAIL(m, "min and max must be constants");
        if ((a && a->numel != 1) || (b && b->numel != 1))
            return FAIL(m, "min and max must be scalars");
        if (a)
            lo = num(a, 0);
        if (b)
            hi = num(b, 0);
    }
    (void)n;
    val *x;
    TRY(need_input(m, 0, &x));
    sf_desc_node *d;
    TRY(unary_with(m, "clip", &d));
    /* JSON numbers are finite: an open bound is the largest float */
    attr_set_num(d, "min", isinf(lo) ? -3.4028234663852886e38 : lo);
    attr_set_num(d, "max", isinf(hi) ? 3.4028234663852886e38 : hi);
    lookup(m, n->outputs[0])->intval = 0;
    return SF_OK;
}

static sf_status h_gelu(imp *m, const sf_onnx_node *n)
{
    (void)n;
    ATTRS("approximate");
    const char *ap = attr_str(m, "approximate", "none");
    if (strcmp(ap, "none") && strcmp(ap, "tanh"))
        return FAIL(m, "approximate '%.50s'", ap);
    sf_desc_node *d;
    TRY(unary_with(m, "gelu", &d));
    d->approximate = ap;
    return SF_OK;
}

static sf_status h_softmax(imp *m, const sf_onnx_node *n)
{
    (void)n;
    ATTRS("axis");
    val *x;
    TRY(need_input(m, 0, &x));
    int64_t ax;
    TRY(attr_int(m, "axis", m->m->opset >= 13 ? -1 : 1, &ax));
    int a = 0;
    TRY(norm_axis(m, ax, x->rank, "axis", &a));
    /* before opset 13 the input is coerced to 2-D at `axis`: the same as
     * the last axis only when it is the last */
    if (m->m->opset < 13 && a != x->rank - 1)
        return FAIL(m,
                    "axis %d of a rank-%d input under opset %lld (softmax over the flattened "
                    "trailing axes) is not supported",
                    a, x->rank, (long long)m->m->opset);
    if (a == 0)
        return FAIL(m, "softmax across the batch");
    sf_desc_node *d;
    TRY(unary_with(m, "softmax", &d));
    attr_set_int(d, "axis", a);
    return SF_OK;
}

static sf_status h_layernorm(imp *m, const sf_onnx_node *n)
{
    ATTRS("axis", "epsilon", "stash_type");
    val *x, *s, *b;
    TRY(need_input(m, 0, &x));
    TRY(need_input(m, 1, &s));
    TRY(input(m, 2, &b));
    for (int j = 1; j < n->noutputs; j++)
        if (n->outputs[j][0] && lookup(m, n->outputs[j])->nuse)
            return FAIL(m, "output %d (mean or inverse deviation) is used", j);
    int64_t ax;
    double eps;
    TRY(attr_int(m, "axis", -1, &ax));
    TRY(attr_float(m, "epsilon", 1e-5, &eps));
    int a = 0;
    TRY(norm_axis(m, ax, x->rank, "axis", &a));
    if (a != x->rank - 1)
        return FAIL(m, "normalisation over axes %d.. : only the last axis is supported", a);
    if (x->kind != V_DYN || s->kind != V_CONST || (b && b->kind != V_CONST))
        return FAIL(m, "the scale and bias must be constants and X an activation");
    int64_t c = x->dims[x->rank - 1];
    if (s->numel != (size_t)c || (b && b->numel != (size_t)c))
        return FAIL(m, "scale and bias must have %lld elements", (long long)c);
    return SF_OK;
}

static sf_status emit_layernorm(imp *m, val *x, val *s, val *b, double eps, int j)
{
    int64_t c = x->dims[x->rank - 1];
    const char *wn, *bn = NULL;
    float *ones = NULL;
    if (!s) {
        if (!(ones = sf_arena_array(m->a, (size_t)c, sizeof *ones)))
            return oom();
        for (int64_t i = 0; i < c; i++)
            ones[i] = 1;
        TRY(add_weight(m, "layernorm.ones", ones, 1, &c, &wn));
    } else {
        TRY(add_weight(m, s->name, s->f, 1, &c, &wn));
    }
    if (b)
        TRY(add_weight(m, b->name, b->f, 1, &c, &bn));
    const char *o = unique_name(m, m->m->nodes[m->cur].outputs[j]);
    sf_desc_node *d;
    TRY(emit(m, "layernorm", o, 1, &x->ir, &d));
    d->weight = wn;
    d->bias = bn;
    attr_set_int(d, "axis", x->rank - 1);
    attr_set_num(d, "epsilon", eps);
    return set_dyn(m, j, o, x->rank, x->dims, 0);
}

static sf_status h_layernormalization(imp *m, const sf_onnx_node *n)
{
    TRY(h_layernorm(m, n));
    val *x, *s, *b;
    double eps;
    TRY(need_input(m, 0, &x));
    TRY(need_input(m, 1, &s));
    TRY(input(m, 2, &b));
    TRY(attr_float(m, "epsilon", 1e-5, &eps));
    if (s->isint || (b && b->isint))
        return FAIL(m, "integer scale or bias");
    return emit_layernorm(m, x, s, b, eps, 0);
}

static sf_status h_reduce(imp *m, const sf_onnx_node *n)
{
    ATTRS("axes", "keepdims", "noop_with_empty_axes");
    val *x;
    TRY(need_input(m, 0, &x));
    int64_t axes[SF_MAX_RANK], keep, noop;
    int na;
    /* ReduceSum took axes as an input from opset 13, the others from 18 */
    TRY(axes_of(m, strcmp(n->op_type, "ReduceSum") ? 18 : 13, axes, &na));
    TRY(attr_int(m, "keepdims", 1, &keep));
    TRY(attr_int(m, "noop_with_empty_axes", 0, &noop));
    if (na <= 0) {
        if (noop)
            return alias(m, 0, x);
        return FAIL(m, "a reduction over every axis, the batch included");
    }
    int red[SF_MAX_RANK] = {0};
    int64_t list[SF_MAX_RANK];
    for (int i = 0; i < na; i++) {
        int a = 0;
        TRY(norm_axis(m, axes[i], x->rank, "axis", &a));
        red[a] = 1;
    }
    if (x->kind != V_DYN)
        return FAIL(m, "a reduction of a constant is not folded; it is not supported");
    if (red[0])
        return FAIL(m, "a reduction across the batch");
    int k = 0, r = 0;
    int64_t dims[SF_MAX_RANK];
    for (int i = 0; i < x->rank; i++) {
        if (red[i])
            list[k++] = i;
        if (!red[i] || keep)
            dims[r++] = red[i] ? 1 : x->dims[i];
    }
    const char *op = !strcmp(n->op_type, "ReduceMean")  ? "reducemean"
                     : !strcmp(n->op_type, "ReduceSum") ? "reducesum"
                     : !strcmp(n->op_type, "ReduceMax") ? "reducemax"
                                                        : "reducemin";
    const char *o = out_name(m, 0);
    sf_desc_node *d;
    TRY(emit(m, op, o, 1, &x->ir, &d));
    attr_set_ints(d, "axes", list, k);
    attr_set_int(d, "keepdims", keep);
    return set_dyn(m, 0, o, r, dims, 0);
}

/* ---- linear layers --------------------------------------------------------------- */

/* The node that alone reads `name`, or -1. */
static int sole_consumer(imp *m, const char *name)
{
    val *v = lookup(m, name);
    if (!v || v->nuse != 1)
        return -1;
    for (int i = m->cur + 1; i < m->m->nnodes; i++)
        for (int j = 0; j < m->m->nodes[i].ninputs; j++)
            if (!strcmp(m->m->nodes[i].inputs[j], name))
                return i;
    return -1;
}

/* An Add right after a linear layer whose other operand is a constant of
 * `cols` elements (a [cols] or [1, .., cols] bias): its index, and the bias. */
static int bias_add(imp *m, const char *y, int64_t cols, val **bias)
{
    int i = sole_consumer(m, y);
    if (i < 0 || strcmp(m->m->nodes[i].op_type, "Add") || m->m->nodes[i].ninputs != 2 ||
        m->m->nodes[i].nattrs)
        return -1;
    const sf_onnx_node *a = &m->m->nodes[i];
    const char *other = !strcmp(a->inputs[0], y) ? a->inputs[1] : a->inputs[0];
    val *b = lookup(m, other);
    if (!b || b->kind != V_CONST || b->isint || b->numel != (size_t)cols ||
        (b->rank && b->dims[b->rank - 1] != cols))
        return -1;
    *bias = b;
    return i;
}

/* y = x @ W (+ b): `matmul` with a [K, N] weight (the census runs along K). */
static sf_status emit_linear(imp *m, val *x, const float *w, int64_t k, int64_t nn, int transposed,
                             const char *wname, val *bias, float beta)
{
    const sf_onnx_node *n = &m->m->nodes[m->cur];
    if (x->dims[x->rank - 1] != k)
        return FAIL(m, "the input has %lld features; the weight expects %lld",
                    (long long)x->dims[x->rank - 1], (long long)k);
    /* `linear` takes [out, in] = [N, K]: a MatMul's [K, N] weight is
     * transposed here, so its census runs along K either way */
    if (!transposed) {
        float *t = sf_arena_array(m->a, (size_t)(k * nn), sizeof *t);
        if (!t)
            return oom();
        for (int64_t i = 0; i < k; i++)
            for (int64_t j = 0; j < nn; j++)
                t[j * k + i] = w[i * nn + j];
        w = t;
    }
    int64_t wd[2] = {nn, k};
    const char *wn, *bn = NULL;
    TRY(add_weight(m, wname, (float *)w, 2, wd, &wn));
    int take = -1;
    val *b = bias;
    if (!b)
        take = bias_add(m, n->outputs[0], nn, &b);
    if (b) {
        float *bf = b->f;
        if (beta != 1.0f) {
            if (!(bf = sf_arena_array(m->a, (size_t)nn, sizeof *bf)))
                return oom();
            for (int64_t i = 0; i < nn; i++)
                bf[i] = beta * b->f[i];
        }
        TRY(add_weight(m, b->name, bf, 1, &nn, &bn));
    }
    /* the layer writes the Add's output when it took the Add over */
    int saved = m->cur;
    const char *o = out_name(m, 0);
    if (take >= 0) {
        m->skip[take] = 1;
        m->cur = take;
        o = out_name(m, 0);
        m->cur = saved;
    }
    sf_desc_node *d;
    TRY(emit(m, "linear", o, 1, &x->ir, &d));
    d->weight = wn;
    d->bias = bn;
    int64_t dims[SF_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    dims[x->rank - 1] = nn;
    if (take >= 0)
        m->cur = take;
    sf_status st = set_dyn(m, 0, o, x->rank, dims, 0);
    m->cur = saved;
    return st;
}

static sf_status h_matmul(imp *m, const sf_onnx_node *n)
{
    (void)n;
    ATTRS(NULL);
    val *a, *b;
    TRY(need_input(m, 0, &a));
    TRY(need_input(m, 1, &b));
    if (a->kind == V_DYN && b->kind == V_CONST && b->rank == 2 && a->rank >= 2)
        return emit_linear(m, a, b->isint ? NULL : b->f, b->dims[0], b->dims[1], 0, b->name, NULL,
                           1.0f);
    if (a->kind == V_DYN && b->kind == V_DYN) {
        if (a->rank < 2 || b->rank < 2 || a->rank != b->rank)
            return FAIL(m,
                        "activations of ranks %d and %d: both must have the same rank, 2 or "
                        "more",
                        a->rank, b->rank);
        if (a->dims[a->rank - 1] != b->dims[b->rank - 2])
            return FAIL(m, "inner dimensions differ (%lld and %lld)",
                        (long long)a->dims[a->rank - 1], (long long)b->dims[b->rank - 2]);
        int64_t dims[SF_MAX_RANK];
        memcpy(dims, a->dims, sizeof dims);
        for (int i = 0; i < a->rank - 2; i++)
            dims[i] = a->dims[i] == 1 ? b->dims[i] : a->dims[i];
        dims[a->rank - 1] = b->dims[b->rank - 1];
        const char *ins[2] = {a->ir, b->ir}, *o = out_name(m, 0);
        sf_desc_node *d;
        TRY(emit(m, "matmul", o, 2, ins, &d));
        return set_dyn(m, 0, o, a->rank, dims, 0);
    }
    if (a->kind == V_CONST && b->kind == V_CONST)
        return FAIL(m, "a product of two constants is not folded; it is not supported");
    return FAIL(m,
                "MatMul of %s by %s: supported are activation x constant 2-D weight, and "
                "activation x activation of one rank",
                a->kind == V_CONST ? "a constant" : "an activation",
                b->kind == V_CONST ? (b->rank == 2 ? "a constant" : "a constant of rank != 2")
                                   : "an activation");
}

static sf_status h_gemm(imp *m, const sf_onnx_node *n)
{
    (void)n;
    ATTRS("alpha", "beta", "transA", "transB");
    val *a, *b, *c;
    TRY(need_input(m, 0, &a));
    TRY(need_input(m, 1, &b));
    TRY(input(m, 2, &c));
    double alpha, beta;
    int64_t ta, tb;
    TRY(attr_float(m, "alpha", 1.0, &alpha));
    TRY(attr_float(m, "beta", 1.0, &beta));
    TRY(attr_int(m, "transA", 0, &ta));
    TRY(attr_int(m, "transB", 0, &tb));
    if (a->kind != V_DYN || b->kind != V_CONST || b->isint || a->rank != 2 || b->rank != 2)
        return FAIL(m, "A must be a 2-D activation and B a 2-D float constant");
    if (ta)
        return FAIL(m, "transA = 1 transposes the batch: not supported");
    int64_t k = tb ? b->dims[1] : b->dims[0], nn = tb ? b->dims[0] : b->dims[1];
    if (c && (c->kind != V_CONST || c->isint))
        return FAIL(m, "C must be a float constant");
    val *bias = NULL;
    if (c) {
        if (c->numel == (size_t)nn && (c->rank < 2 || c->dims[0] == 1)) {
            bias = c;
        } else if (c->numel == 1) {
            /* a scalar C broadcasts to every output */
            int64_t one = nn;
            float *f = sf_arena_array(m->a, (size_t)nn, sizeof *f);
            if (!f)
                return oom();
            for (int64_t i = 0; i < nn; i++)
                f[i] = c->f[0];
            (void)one;
            val *bv = sf_arena_alloc(m->a, sizeof *bv);
            if (!bv)
                return oom();
            *bv = *c;
            bv->f = f;
            bv->numel = (size_t)nn;
            bv->rank = 1;
            bv->dims[0] = nn;
            bias = bv;
        } else {
            return FAIL(m, "C of %zu elements: only a bias of N = %lld (or one) is supported",
                        c->numel, (long long)nn);
        }
    }
    const float *w = b->f;
    if (alpha != 1.0) {
        float *s = sf_arena_array(m->a, b->numel, sizeof *s);
        if (!s)
            return oom();
        for (size_t i = 0; i < b->numel; i++)
            s[i] = (float)alpha * b->f[i];
        w = s;
    }
    if (!bias)
        beta = 1.0;
    return emit_linear(m, a, w, k, nn, (int)tb, b->name, bias, (float)beta);
}

/* ---- convolutions and pooling ------------------------------------------------------ */

/* pads [top, left, bottom, right] from `pads`/`auto_pad` for a 2-D window. */
static sf_status window_pads(imp *m, const int64_t *in, const int64_t *k, const int64_t *s,
                             const int64_t *dl, int64_t *pad)
{
    int64_t p[4];
    int np;
    TRY(attr_ints(m, "pads", p, 4, &np));
    const char *ap = attr_str(m, "auto_pad", "NOTSET");
    for (int i = 0; i < 4; i++)
        pad[i] = np == 4 ? p[i] : 0;
    if (np >= 0 && np != 4)
        return FAIL(m, "attribute 'pads': expected 4 values");
    if (!strcmp(ap, "NOTSET") || !strcmp(ap, "VALID")) {
        if (!strcmp(ap, "VALID"))
            memset(pad, 0, 4 * sizeof *pad);
    } else if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
        for (int i = 0; i < 2; i++) {
            int64_t out = (in[i] + s[i] - 1) / s[i];
            int64_t tot = (out - 1) * s[i] + (k[i] - 1) * dl[i] + 1 - in[i];
            if (tot < 0)
                tot = 0;
            int64_t small = tot / 2, big = tot - small;
            pad[i] = ap[5] == 'U' ? small : big;
            pad[i + 2] = ap[5] == 'U' ? big : small;
        }
    } else {
        return FAIL(m, "auto_pad '%.40s'", ap);
    }
    for (int i = 0; i < 4; i++)
        if (pad[i] < 0)
            return FAIL(m, "negative pads");
    return SF_OK;
}

static sf_status pair_attr(imp *m, const char *name, int64_t def, int64_t *out)
{
    int64_t v[4];
    int nv;
    TRY(attr_ints(m, name, v, 4, &nv));
    if (nv < 0) {
        out[0] = out[1] = def;
        return SF_OK;
    }
    if (nv != 2)
        return FAIL(m, "attribute '%s': expected 2 values (2-D windows are supported)", name);
    out[0] = v[0];
    out[1] = v[1];
    if (v[0] < 1 || v[1] < 1)
        return FAIL(m, "attribute '%s': values must be positive", name);
    return SF_OK;
}

static sf_status h_conv(imp *m, const sf_onnx_node *n)
{
    ATTRS("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides");
    val *x, *w, *b;
    TRY(need_input(m, 0, &x));
    TRY(need_input(m, 1, &w));
    TRY(input(m, 2, &b));
    if (x->kind != V_DYN || x->rank != 4)
        return FAIL(m, "X must be an NCHW activation (2-D convolution); got rank %d", x->rank);
    if (w->kind != V_CONST || w->isint || w->rank != 4 || (b && (b->kind != V_CONST || b->isint)))
        return FAIL(m, "W (and B) must be float constants, W of rank 4");
    int64_t st[2], dl[2], k[2] = {w->dims[2], w->dims[3]}, ks[2], g, pad[4];
    TRY(pair_attr(m, "strides", 1, st));
    TRY(pair_attr(m, "dilations", 1, dl));
    TRY(pair_attr(m, "kernel_shape", k[0], ks));
    if (ks[0] != k[0] || ks[1] != k[1])
        return FAIL(m, "kernel_shape differs from the weight's");
    TRY(attr_int(m, "group", 1, &g));
    TRY(window_pads(m, x->dims + 2, k, st, dl, pad));
    if (g < 1 || x->dims[1] % g || w->dims[1] * g != x->dims[1] || w->dims[0] % g)
        return FAIL(m, "group %lld does not fit %lld input and %lld output channels", (long long)g,
                    (long long)x->dims[1], (long long)w->dims[0]);
    if (b && b->numel != (size_t)w->dims[0])
        return FAIL(m, "B has %zu elements for %lld output channels", b->numel,
                    (long long)w->dims[0]);
    int64_t dims[4] = {x->dims[0], w->dims[0], 0, 0};
    for (int i = 0; i < 2; i++) {
        int64_t span = (k[i] - 1) * dl[i] + 1, in = x->dims[2 + i] + pad[i] + pad[i + 2];
        if (in < span)
            return FAIL(m, "the window is larger than the padded input");
        dims[2 + i] = (in - span) / st[i] + 1;
    }
    const char *wn, *bn = NULL;
    TRY(weight_of(m, w, &wn));
    if (b)
        TRY(weight_of(m, b, &bn));
    const char *o = out_name(m, 0);
    sf_desc_node *d;
    TRY(emit(m, "conv2d", o, 1, &x->ir, &d));
    d->weight = wn;
    d->bias = bn;
    attr_set_ints(d, "stride", st, 2);
    attr_set_ints(d, "padding", pad, 4);
    attr_set_ints(d, "dilation", dl, 2);
    attr_set_int(d, "groups", g);
    (void)n;
    return set_dyn(m, 0, o, 4, dims, 0);
}

static sf_status h_convtranspose(imp *m, const sf_onnx_node *n)
{
    ATTRS("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides", "output_padding",
          "output_shape");
    val *x, *w, *b;
    TRY(need_input(m, 0, &x));
    TRY(need_input(m, 1, &w));
    TRY(input(m, 2, &b));
    if (x->kind != V_DYN || x->rank != 4)
        return FAIL(m, "X must be an NCHW activation (2-D); got rank %d", x->rank);
    if (w->kind != V_CONST || w->isint || w->rank != 4 || (b && (b->kind != V_CONST || b->isint)))
        return FAIL(m, "W (and B) must be float constants, W of rank 4");
    if (attr(m, "output_shape"))
        return FAIL(m, "attribute 'output_shape' is not supported: give pads");
    const char *ap = attr_str(m, "auto_pad", "NOTSET");
    if (strcmp(ap, "NOTSET") && strcmp(ap, "VALID"))
        return FAIL(m, "auto_pad '%.40s' is not supported", ap);
    int64_t st[2], dl[2], op[2] = {0, 0}, g, pad[4] = {0, 0, 0, 0}, p[4];
    int np, nop;
    TRY(pair_attr(m, "strides", 1, st));
    TRY(pair_attr(m, "dilations", 1, dl));
    TRY(attr_int(m, "group", 1, &g));
    TRY(attr_ints(m, "pads", p, 4, &np));
    if (np == 4 && strcmp(ap, "VALID"))
        memcpy(pad, p, sizeof pad);
    else if (np >= 0 && np != 4)
        return FAIL(m, "attribute 'pads': expected 4 values");
    TRY(attr_ints(m, "output_padding", op, 2, &nop));
    if (nop >= 0 && nop != 2)
        return FAIL(m, "attribute 'output_padding': expected 2 values");
    if (g < 1 || x->dims[1] % g || w->dims[0] != x->dims[1])
        return FAIL(m, "group %lld does not fit the weight", (long long)g);
    int64_t cout = w->dims[1] * g, dims[4] = {x->dims[0], cout, 0, 0};
    for (int i = 0; i < 2; i++) {
        dims[2 + i] = st[i] * (x->dims[2 + i] - 1) + op[i] + (w->dims[2 + i] - 1) * dl[i] + 1 -
                      pad[i] - pad[i + 2];
        if (dims[2 + i] < 1)
            return FAIL(m, "an empty output");
    }
    if (b && b->numel != (size_t)cout)
        return FAIL(m, "B has %zu elements for %lld output channels", b->numel, (long long)cout);
    const char *wn, *bn = NULL;
    TRY(weight_of(m, w, &wn));
    if (b)
        TRY(weight_of(m, b, &bn));
    const char *o = out_name(m, 0);
    sf_desc_node *d;
    TRY(emit(m, "convtranspose2d", o, 1, &x->ir, &d));
    d->weight = wn;
    d->bias = bn;
    attr_set_ints(d, "stride", st, 2);
    attr_set_ints(d, "padding", pad, 4);
    attr_set_ints(d, "dilation", dl, 2);
    attr_set_ints(d, "output_padding", op, 2);
    attr_set_int(d, "groups", g);
    (void)n;
    return set_dyn(m, 0, o, 4, dims, 0);
}

static sf_status h_batchnorm(imp *m, const sf_onnx_node *n)
{
    ATTRS("epsilon", "momentum", "training_mode", "spatial");
    val *x, *p[4];
    TRY(need_input(m, 0, &x));
    for (int j = 0; j < 4; j++) {
        TRY(need_input(m, j + 1, &p[j]));
        if (p[j]->kind != V_CONST || p[j]->isint)
            return FAIL(m, "input %d must be a float constant", j + 1);
    }
    int64_t tm;
    double eps;
    TRY(attr_int(m, "training_mode", 0, &tm));
    TRY(attr_float(m, "epsilon", 1e-5, &eps));
    if (tm)
        return FAIL(m, "training_mode = 1");
    for (int j = 1; j < n->noutputs; j++)
        if (n->outputs[j][0] && lookup(m, n->outputs[j])->nuse)
            return FAIL(m, "output %d (running statistics) is used", j);
    if (x->kind != V_DYN || x->rank < 2)
        return FAIL(m, "X must be an activation with channels in dimension 1");
    int64_t c = x->dims[1];
    for (int j = 0; j < 4; j++)
        if (p[j]->numel != (size_t)c)
            return FAIL(m, "input %d has %zu elements for %lld channels", j + 1, p[j]->numel,
                        (long long)c);
    if (x->rank != 4 && x->rank != 2)
        return FAIL(m, "rank %d: NCHW or NC inputs are supported", x->rank);
    const char *names[4];
    for (int j = 0; j < 4; j++)
        TRY(add_weight(m, p[j]->name, p[j]->f, 1, &c, &names[j]));
    const char *in = x->ir;
    const char *o = out_name(m, 0);
    sf_desc_node *d;
    TRY(emit(m, "batchnorm", o, 1, &in, &d));
    d->weight = names[0];
    d->bias = names[1];
    attr_set_str(d, "mean", names[2]);
    attr_set_str(d, "var", names[3]);
    attr_set_num(d, "epsilon", eps);
    return set_dyn(m, 0, o, x->rank, x->dims, 0);
}

static sf_status h_pool(imp *m, const sf_onnx_node *n)
{
    int mx = !strcmp(n->op_type, "MaxPool");
    if (mx)
        ATTRS("auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order",
              "strides");
    else
        ATTRS("auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides",
              "dilations");
    val *x;
    TRY(need_input(m, 0, &x));
    if (n->noutputs > 1 && n->outputs[1][0] && lookup(m, n->outputs[1])->nuse)
        return FAIL(m, "the Indices output is used");
    if (x->kind != V_DYN || x->rank != 4)
        return FAIL(m, "X must be an NCHW activation (2-D pooling); got rank %d", x->rank);
    int64_t k[2], st[2], dl[2], pad[4], ceil_mode, cip = 0;
    TRY(pair_attr(m, "kernel_shape", 0, k));
    if (!attr(m, "kernel_shape"))
        return FAIL(m, "kernel_shape missing");
    TRY(pair_attr(m, "strides", 1, st));
    TRY(pair_attr(m, "dilations", 1, dl));
    TRY(attr_int(m, "ceil_mode", 0, &ceil_mode));
    if (!mx)
        TRY(attr_int(m, "count_include_pad", 0, &cip));
    if (dl[0] != 1 || dl[1] != 1)
        return FAIL(m, "dilations other than 1 are not supported");
    TRY(window_pads(m, x->dims + 2, k, st, dl, pad));
    int64_t dims[4] = {x->dims[0], x->dims[1], 0, 0};
    for (int i = 0; i < 2; i++) {
        int64_t in = x->dims[2 + i] + pad[i] + pad[i + 2] - k[i];
        if (in < 0)
            return FAIL(m, "the window is larger than the padded input");
        int64_t o = (ceil_mode ? (in + st[i] - 1) / st[i] : in / st[i]) + 1;
        /* a last window that starts in the end padding is dropped (as onnxruntime does) */
        if (ceil_mode && (o - 1) * st[i] >= x->dims[2 + i] + pad[i])
            o--;
        dims[2 + i] = o;
    }
    const char *o = out_name(m, 0);
    sf_desc_node *d;
    TRY(emit(m, mx ? "maxpool2d" : "avgpool2d", o, 1, &x->ir, &d));
    attr_set_ints(d, "kernel", k, 2);
    attr_set_ints(d, "stride", st, 2);
    attr_set_ints(d, "padding", pad, 4);
    if (ceil_mode)
        attr_set_int(d, "ceil_mode", 1);
    if (cip)
        attr_set_int(d, "count_include_pad", 1);
    return set_dyn(m, 0, o, 4, dims, 0);
}

static sf_status h_globalpool(imp *m, const sf_onnx_node *n)
{
    ATTRS(NULL);
    val *x;
    TRY(need_input(m, 0, &x));
    if (x->kind != V_DYN || x->rank != 4)
        return FAIL(m, "X must be an NCHW activation; got rank %d", x->rank);
    int64_t dims[4] = {x->dims[0], x->dims[1], 1, 1};
    const char *o = out_name(m, 0);
    sf_desc_node *d;
    if (!strcmp(n->op_type, "GlobalAveragePool")) {
        /* global_avgpool gives [N, C]; ONNX keeps [N, C, 1, 1] */
        char nm[600];
        snprintf(nm, sizeof nm, "%.500s#pooled", n->outputs[0]);
        const char *p = unique_name(m, nm);
        if (p == nm && !(p = sf_arena_strdup(m->a, nm)))
            return oom();
        TRY(emit(m, "global_avgpool", p, 1, &x->ir, &d));
        TRY(emit(m, "reshape", o, 1, &p, &d));
        int64_t sh[4] = {0, x->dims[1], 1, 1};
        attr_set_ints(d, "shape", sh, 4);
        return set_dyn(m, 0, o, 4, dims, 0);
    }
    int64_t axes[2] = {2, 3};
    TRY(emit(m, "reducemax", o, 1, &x->ir, &d));
    attr_set_ints(d, "axes", axes, 2);
    attr_set_int(d, "keepdims", 1);
    return set_dyn(m, 0, o, 4, dims, 0);
}

static sf_status h_pad(imp *m, const sf_onnx_node *n)
{
    ATTRS("mode", "pads", "value");
    val *x;
    TRY(need_input(m, 0, &x));
    int64_t pads[2 * SF_MAX_RANK];
    int np = -1;
    double value = 0;
    if (m->m->opset < 11) {
        TRY(attr_ints(m, "pads", pads, 2 * SF_MAX_RANK, &np));
        TRY(attr_float(m, "value", 0, &value));
    } else {
        val *p, *c, *ax;
        TRY(need_input(m, 1, &p));
        TRY(input(m, 2, &c));
        TRY(input(m, 3, &ax));
        if (p->kind != V_CONST || (c && c->kind != V_CONST))
            return FAIL(m, "pads and constant_value must be constants");
        if (ax)
            return FAIL(m, "the axes input is not supported");
        TRY(ints_of(m, p, pads, 2 * SF_MAX_RANK, &np));
        if (c && c->numel)
            value = num(c, 0);
    }
    if (np != 2 * x->rank)
        return FAIL(m, "%d pads for a rank-%d input", np, x->rank);
    if (x->kind != V_DYN)
        return FAIL(m, "Pad of a constant is not folded; it is not supported");
    if (pads[0] || pads[x->rank])
        return FAIL(m, "padding of the batch dimension");
    const char *mode = attr_str(m, "mode", "constant");
    int64_t dims[SF_MAX_RANK];
    for (int i = 0; i < x->rank; i++) {
        dims[i] = x->dims[i] + pads[i] + pads[i + x->rank];
        if (dims[i] < 1)
            return FAIL(m, "pads leave dimension %d empty", i);
    }
    const char *o = out_name(m, 0);
    sf_desc_node *d;
    TRY(emit(m, "pad", o, 1, &x->ir, &d));
    /* the op takes [begin..., end...] over the non-batch dimensions */
    int64_t pp[2 * SF_MAX_RANK];
    int k = 0;
    for (int i = 1; i < x->rank; i++)
        pp[k++] = pads[i];
    for (int i = 1; i < x->rank; i++)
        pp[k++] = pads[i + x->rank];
    if (k > SF_MAX_RANK)
        return FAIL(m, "pads of a rank-%d input: at most rank %d", x->rank, SF_MAX_RANK / 2 + 1);
    attr_set_ints(d, "pads", pp, k);
    attr_set_str(d, "mode", mode);
    attr_set_num(d, "value", value);
    (void)n;
    return set_dyn(m, 0, o, x->rank, dims, 0);
}

static sf_status h_resize(imp *m, const sf_onnx_node *n)
{
    ATTRS("mode", "coordinate_transformation_mode", "nearest_mode", "cubic_coeff_a",
          "exclude_outside", "extrapolation_value", "antialias", "keep_aspect_ratio_policy",
          "axes");
    val *x, *roi = NULL, *sc = NULL, *sz = NULL;
    TRY(need_input(m, 0, &x));
    if (m->m->opset >= 11) {
        TRY(input(m, 1, &roi));
        TRY(input(m, 2, &sc));
        TRY(input(m, 3, &sz));
    } else {
        TRY(input(m, 1, &sc));
    }
    (void)roi;
    if ((sc && sc->kind != V_CONST) || (sz && sz->kind != V_CONST))
        return FAIL(m, "scales and sizes must be constants");
    if (x->kind != V_DYN || x->rank != 4)
        return FAIL(m, "X must be an NCHW activation");
    if (attr(m, "axes") || attr(m, "antialias"))
        return FAIL(m, "axes and antialias are not supported");
    int64_t dims[4] = {x->dims[0], x->dims[1], 0, 0};
    double scale[2] = {0, 0};
    if (sz && sz->numel) {
        if (sz->numel != 4)
            return FAIL(m, "sizes must have 4 values");
        for (int i = 0; i < 4; i++) {
            int64_t v;
            TRY(plain(m, sz, (size_t)i, &v));
            if (i >= 2)
                dims[i] = v;
            else if (i == 1 && v != x->dims[1])
                return FAIL(m, "a resize of the channels");
        }
    } else if (sc && sc->numel) {
        if (sc->numel != 4 || sc->isint)
            return FAIL(m, "scales must have 4 float values");
        if (sc->f[0] != 1 || sc->f[1] != 1)
            return FAIL(m, "a resize of the batch or channel dimension");
        for (int i = 0; i < 2; i++) {
            scale[i] = sc->f[2 + i];
            dims[2 + i] = (int64_t)floor((double)x->dims[2 + i] * (double)sc->f[2 + i]);
        }
    } else {
        return FAIL(m, "neither scales nor sizes");
    }
    if (dims[2] < 1 || dims[3] < 1)
        return FAIL(m, "an empty output");
    const char *o = out_name(m, 0);
    sf_desc_node *d;
    TRY(emit(m, "resize", o, 1, &x->ir, &d));
    attr_set_ints(d, "size", dims + 2, 2);
    if (scale[0] > 0) {
        /* the coordinate transform uses the scales as given, not out/in */
        attr_set_num(d, "scale_h", scale[0]);
        attr_set_num(d, "scale_w", scale[1]);
    }
    attr_set_str(d, "mode", attr_str(m, "mode", "nearest"));
    attr_set_str(d, "coordinate_transformation_mode",
                 attr_str(m, "coordinate_transformation_mode", "half_pixel"));
    attr_set_str(d, "nearest_mode", attr_str(m, "nearest_mode", "round_prefer_floor"));
    (void)n;
    return set_dyn(m, 0, o, 4, dims, 0);
}

/* ---- patterns: subgraphs that have an op of their own ----------------------------- */

/* A constant scalar (any shape of one element) close to `want`. */
static int is_scalar(imp *m, const char *name, double want, double tol)
{
    val *v = lookup(m, name);
    return v && v->kind == V_CONST && v->numel == 1 && fabs(num(v, 0) - want) <= tol;
}

/* The other input of a two-input node, given one; NULL when neither matches. */
static const char *other_input(const sf_onnx_node *n, const char *one)
{
    if (n->ninputs != 2)
        return NULL;
    if (!strcmp(n->inputs[0], one))
        return n->inputs[1];
    if (!strcmp(n->inputs[1], one))
        return n->inputs[0];
    return NULL;
}

static int is_op(imp *m, int i, const char *op)
{
    return i >= 0 && !strcmp(m->m->nodes[i].op_type, op) && !m->m->nodes[i].nattrs;
}

/* The Erf form of GELU, as torch.onnx and Hugging Face write it:
 *   x * 0.5 * (1 + erf(x / sqrt(2)))   in either order of the products,
 * with Div(x, 1.4142) or Mul(x, 0.7071). Matched at its first node (the
 * Div/Mul by the constant): the pieces must have no other consumers. */
static int match_gelu(imp *m, int i, const char **x, int *last, int taken[5], int *ntaken)
{
    const sf_onnx_node *n = &m->m->nodes[i];
    if (n->ninputs != 2 || n->nattrs)
        return 0;
    const char *in;
    if (!strcmp(n->op_type, "Div") && is_scalar(m, n->inputs[1], 1.41421356, 1e-4))
        in = n->inputs[0];
    else if (!strcmp(n->op_type, "Mul") && is_scalar(m, n->inputs[1], 0.70710678, 1e-4))
        in = n->inputs[0];
    else if (!strcmp(n->op_type, "Mul") && is_scalar(m, n->inputs[0], 0.70710678, 1e-4))
        in = n->inputs[1];
    else
        return 0;
    val *xv = lookup(m, in);
    if (!xv || xv->kind != V_DYN)
        return 0;
    int e = sole_consumer(m, n->outputs[0]);
    if (!is_op(m, e, "Erf"))
        return 0;
    int a = sole_consumer(m, m->m->nodes[e].outputs[0]);
    if (!is_op(m, a, "Add"))
        return 0;
    const char *one = other_input(&m->m->nodes[a], m->m->nodes[e].outputs[0]);
    if (!one || !is_scalar(m, one, 1.0, 0))
        return 0;
    int p = sole_consumer(m, m->m->nodes[a].outputs[0]);
    if (!is_op(m, p, "Mul"))
        return 0;
    const char *o = other_input(&m->m->nodes[p], m->m->nodes[a].outputs[0]);
    if (!o)
        return 0;
    int k = 0;
    taken[k++] = e;
    taken[k++] = a;
    taken[k++] = p;
    if (!strcmp(o, in)) {
        /* (x * (1 + erf)) * 0.5 */
        int h = sole_consumer(m, m->m->nodes[p].outputs[0]);
        if (!is_op(m, h, "Mul"))
            return 0;
        const char *half = other_input(&m->m->nodes[h], m->m->nodes[p].outputs[0]);
        if (!half || !is_scalar(m, half, 0.5, 0))
            return 0;
        taken[k++] = h;
        *last = h;
    } else {
        /* (x * 0.5) * (1 + erf): the x * 0.5 node must come before */
        int h = -1;
        for (int j = 0; j < m->m->nnodes; j++)
            if (!strcmp(m->m->nodes[j].outputs[0], o))
                h = j;
        if (!is_op(m, h, "Mul") || m->skip[h])
            return 0;
        const char *half = other_input(&m->m->nodes[h], in);
        if (!half || !is_scalar(m, half, 0.5, 0) || lookup(m, o)->nuse != 1)
            return 0;
        taken[k++] = h;
        *last = p;
    }
    *x = in;
    *ntaken = k;
    return 1;
}

/* Node `i` consumes `name` and is the only one to; its index or -1. */
static int consumers(imp *m, const char *name, int *out, int max)
{
    int k = 0;
    for (int i = m->cur + 1; i < m->m->nnodes; i++)
        for (int j = 0; j < m->m->nodes[i].ninputs; j++)
            if (!strcmp(m->m->nodes[i].inputs[j], name)) {
                if (k == max)
                    return -1;
                out[k++] = i;
                break;
            }
    val *v = lookup(m, name);
    return v && v->nuse == k ? k : -1;
}

/* ReduceMean over the last axis only, keepdims 1, of a rank-r input. */
static int is_lastmean(imp *m, int i, int r)
{
    if (i < 0 || strcmp(m->m->nodes[i].op_type, "ReduceMean"))
        return 0;
    const sf_onnx_node *n = &m->m->nodes[i];
    int64_t ax = 0, keep = 1;
    int nax = 0;
    for (int k = 0; k < n->nattrs; k++) {
        const sf_onnx_attr *a = &n->attrs[k];
        if (!strcmp(a->name, "axes") && a->type == SF_ONNX_AT_INTS && a->nints == 1)
            ax = a->ints[0], nax = 1;
        else if (!strcmp(a->name, "keepdims") && a->type == SF_ONNX_AT_INT)
            keep = a->i;
        else
            return 0;
    }
    if (!nax && n->ninputs == 2) {
        val *v = lookup(m, n->inputs[1]);
        if (!v || v->kind != V_CONST || v->numel != 1 || !v->isint)
            return 0;
        ax = v->s[0].c;
        nax = 1;
    }
    return nax && keep == 1 && (ax == -1 || ax == r - 1);
}

/* LayerNorm written out, as torch.onnx writes nn.LayerNorm before opset 17
 * and as hand-built ones read (docs/FORMATS.md, "ONNX"):
 *   m = ReduceMean(x); d = x - m; v = ReduceMean(Pow(d, 2) | d * d);
 *   y = d / Sqrt(v + eps) [* gamma] [+ beta]
 * over the last axis. Matched at its first ReduceMean. */
static int match_layernorm(imp *m, int i, val **x, double *eps, val **gamma, val **beta, int *last,
                           int taken[10], int *ntaken)
{
    const sf_onnx_node *n = &m->m->nodes[i];
    val *xv = n->ninputs >= 1 ? lookup(m, n->inputs[0]) : NULL;
    if (!xv || xv->kind != V_DYN || xv->rank < 2 || !is_lastmean(m, i, xv->rank))
        return 0;
    int k = 0, c[2];
    int sub = sole_consumer(m, n->outputs[0]);
    if (!is_op(m, sub, "Sub") || strcmp(m->m->nodes[sub].inputs[0], n->inputs[0]) ||
        strcmp(m->m->nodes[sub].inputs[1], n->outputs[0]))
        return 0;
    taken[k++] = sub;
    const char *d = m->m->nodes[sub].outputs[0];
    int saved = m->cur;
    m->cur = sub;
    int nc = consumers(m, d, c, 2);
    m->cur = saved;
    if (nc != 2)
        return 0;
    int sq = -1, div = -1;
    for (int j = 0; j < 2; j++) {
        const sf_onnx_node *q = &m->m->nodes[c[j]];
        if (is_op(m, c[j], "Pow") && !strcmp(q->inputs[0], d) && is_scalar(m, q->inputs[1], 2, 0))
            sq = c[j];
        else if (is_op(m, c[j], "Mul") && !strcmp(q->inputs[0], d) && !strcmp(q->inputs[1], d))
            sq = c[j];
        else if (is_op(m, c[j], "Div") && !strcmp(q->inputs[0], d))
            div = c[j];
    }
    if (sq < 0 || div < 0)
        return 0;
    taken[k++] = sq;
    int vm = sole_consumer(m, m->m->nodes[sq].outputs[0]);
    if (!is_lastmean(m, vm, xv->rank))
        return 0;
    taken[k++] = vm;
    int ad = sole_consumer(m, m->m->nodes[vm].outputs[0]);
    if (!is_op(m, ad, "Add"))
        return 0;
    const char *e = other_input(&m->m->nodes[ad], m->m->nodes[vm].outputs[0]);
    val *ev = e ? lookup(m, e) : NULL;
    if (!ev || ev->kind != V_CONST || ev->numel != 1 || ev->isint)
        return 0;
    taken[k++] = ad;
    int sr = sole_consumer(m, m->m->nodes[ad].outputs[0]);
    if (!is_op(m, sr, "Sqrt") || sole_consumer(m, m->m->nodes[sr].outputs[0]) != div ||
        strcmp(m->m->nodes[div].inputs[1], m->m->nodes[sr].outputs[0]))
        return 0;
    taken[k++] = sr;
    taken[k++] = div;
    int end = div;
    int64_t ch = xv->dims[xv->rank - 1];
    *gamma = *beta = NULL;
    int mu = sole_consumer(m, m->m->nodes[div].outputs[0]);
    if (is_op(m, mu, "Mul")) {
        const char *g = other_input(&m->m->nodes[mu], m->m->nodes[div].outputs[0]);
        val *gv = g ? lookup(m, g) : NULL;
        if (gv && gv->kind == V_CONST && !gv->isint && gv->numel == (size_t)ch &&
            gv->dims[gv->rank - 1] == ch) {
            *gamma = gv;
            taken[k++] = end = mu;
        }
    }
    int bi = sole_consumer(m, m->m->nodes[end].outputs[0]);
    if (is_op(m, bi, "Add")) {
        const char *b = other_input(&m->m->nodes[bi], m->m->nodes[end].outputs[0]);
        val *bv = b ? lookup(m, b) : NULL;
        if (bv && bv->kind == V_CONST && !bv->isint && bv->numel == (size_t)ch &&
            bv->dims[bv->rank - 1] == ch) {
            *beta = bv;
            taken[k++] = end = bi;
        }
    }
    *x = xv;
    *eps = num(ev, 0);
    *last = end;
    *ntaken = k;
    return 1;
}

/* ---- dispatch --------------------------------------------------------------------- */

static const struct {
    const char *op;
    handler h;
} k_handlers[] = {
    {"Identity", h_identity},
    {"Dropout", h_identity},
    {"Constant", h_constant},
    {"Shape", h_shape},
    {"Size", h_size},
    {"ConstantOfShape", h_constantofshape},
    {"Range", h_range},
    {"Cast", h_cast},
    {"Reshape", h_reshape},
    {"Squeeze", h_squeeze},
    {"Unsqueeze", h_unsqueeze},
    {"Flatten", h_flatten},
    {"Transpose", h_transpose},
    {"Concat", h_concat},
    {"Slice", h_slice},
    {"Split", h_split},
    {"Gather", h_gather},
    {"Expand", h_expand},
    {"LeakyRelu", h_leakyrelu},
    {"HardSigmoid", h_hardsigmoid},
    {"Clip", h_clip},
    {"Gelu", h_gelu},
    {"Softmax", h_softmax},
    {"LayerNormalization", h_layernormalization},
    {"ReduceMean", h_reduce},
    {"ReduceSum", h_reduce},
    {"ReduceMax", h_reduce},
    {"ReduceMin", h_reduce},
    {"MatMul", h_matmul},
    {"Gemm", h_gemm},
    {"Conv", h_conv},
    {"ConvTranspose", h_convtranspose},
    {"BatchNormalization", h_batchnorm},
    {"MaxPool", h_pool},
    {"AveragePool", h_pool},
    {"GlobalAveragePool", h_globalpool},
    {"GlobalMaxPool", h_globalpool},
    {"Pad", h_pad},
    {"Resize", h_resize},
};

static handler find_handler(const char *op)
{
    if (find_elementwise(op) >= 0)
        return h_elementwise;
    for (size_t i = 0; i < sizeof k_handlers / sizeof k_handlers[0]; i++)
        if (!strcmp(k_handlers[i].op, op))
            return k_handlers[i].h;
    return NULL;
}

/* "Abs, Add, ..." for messages and `sfgen ops`. */
void sf_onnx_op_list(char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = 0;
    const char *names[128];
    int cnt = 0;
    for (size_t i = 0; i < sizeof k_elementwise / sizeof k_elementwise[0]; i++)
        names[cnt++] = k_elementwise[i].onnx;
    for (size_t i = 0; i < sizeof k_handlers / sizeof k_handlers[0]; i++)
        names[cnt++] = k_handlers[i].op;
    for (int i = 1; i < cnt; i++)
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            const char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    for (int i = 0; i < cnt && k + 1 < n; i++) {
        int w = snprintf(buf + k, n - k, "%s%s", i ? ", " : "", names[i]);
        if (w < 0 || (size_t)w >= n - k)
            break;
        k += (size_t)w;
    }
}

/* A constant that stands for [B, ...] (val.bbatch) stays one through the
 * ops that keep dimension 0 as it is: elementwise ones, casts, reshapes
 * and gathers that keep it first. Anywhere else it is refused. */
static sf_status carry_bbatch(imp *m, const sf_onnx_node *n)
{
    int any = 0;
    for (int j = 0; j < n->ninputs; j++) {
        val *v = n->inputs[j][0] ? lookup(m, n->inputs[j]) : NULL;
        if (v && v->kind == V_CONST && v->bbatch)
            any = 1 + j;
    }
    if (!any)
        return SF_OK;
    val *o = lookup(m, n->outputs[0]);
    if (!o || o->kind != V_CONST || !strcmp(n->op_type, "Shape") || !strcmp(n->op_type, "Size"))
        return SF_OK;
    int keeps = find_elementwise(n->op_type) >= 0 || !strcmp(n->op_type, "Cast") ||
                !strcmp(n->op_type, "Identity") || !strcmp(n->op_type, "Reshape") ||
                !strcmp(n->op_type, "Unsqueeze") || !strcmp(n->op_type, "Squeeze") ||
                !strcmp(n->op_type, "Expand") ||
                (!strcmp(n->op_type, "Gather") && any == 2 && o->rank >= 1);
    if (keeps && o->rank >= 1 && o->dims[0] == 1) {
        o->bbatch = 1;
        return SF_OK;
    }
    return FAIL(m,
                "a constant that stands for every batch item (made by ConstantOfShape) "
                "meets %s, which is not supported for it",
                n->op_type);
}

static sf_status import_node(imp *m, int i)
{
    const sf_onnx_node *n = &m->m->nodes[i];
    m->cur = i;
    if (n->domain[0] && strcmp(n->domain, "ai.onnx"))
        return FAIL(m, "op domain '%.100s' is not supported (only the default ONNX domain)",
                    n->domain);
    if (n->noutputs < 1)
        return FAIL(m, "no outputs");
    for (int j = 0; j < n->nattrs; j++)
        if (n->attrs[j].type == SF_ONNX_AT_GRAPH || n->attrs[j].ref_attr_name)
            return FAIL(m,
                        "attribute '%.100s' is a subgraph or a reference: control flow "
                        "is not supported",
                        n->attrs[j].name);
    int taken[5], nt, last;
    const char *x;
    if (match_gelu(m, i, &x, &last, taken, &nt)) {
        for (int k = 0; k < nt; k++)
            m->skip[taken[k]] = 1;
        val *xv = lookup(m, x);
        m->cur = last;
        const char *o = out_name(m, 0);
        sf_desc_node *d;
        TRY(emit(m, "gelu", o, 1, &xv->ir, &d));
        return set_dyn(m, 0, o, xv->rank, xv->dims, 0);
    }
    val *lx, *lg, *lb;
    double eps;
    int lt[10];
    if (match_layernorm(m, i, &lx, &eps, &lg, &lb, &last, lt, &nt)) {
        for (int k = 0; k < nt; k++)
            m->skip[lt[k]] = 1;
        m->cur = last;
        return emit_layernorm(m, lx, lg, lb, eps, 0);
    }
    handler h = find_handler(n->op_type);
    if (!h) {
        char list[2000];
        sf_onnx_op_list(list, sizeof list);
        return FAIL(m, "op %.60s is not supported; supported ops: %s", n->op_type, list);
    }
    /* a node whose inputs are all constant is folded where its handler can */
    TRY(h(m, n));
    TRY(carry_bbatch(m, n));
    for (int j = 1; j < n->noutputs; j++) {
        val *v = lookup(m, n->outputs[j]);
        if (n->outputs[j][0] && v && v->kind == V_UNSET && v->nuse)
            return FAIL(m, "output %d '%.200s' is used but not supported", j, n->outputs[j]);
    }
    return SF_OK;
}

/* ---- the model ---------------------------------------------------------------------- */

/* The bytes of an external tensor, from a file beside the model. */
static sf_status external(imp *m, sf_onnx_tensor *t)
{
    char where[600];
    snprintf(where, sizeof where, "%s: initializer '%.200s': external data", m->base, t->name);
    const char *loc = t->location;
    if (!loc || !loc[0])
        return sf_error(SF_EINPUT, where, "no location");
    /* confined to the model's folder: no absolute path, no '..' component */
    if (loc[0] == '/')
        return sf_error(SF_EINPUT, where, "location '%.200s' is absolute", loc);
    for (const char *p = loc; *p;) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 2 && !strncmp(p, "..", 2))
            return sf_error(SF_EINPUT, where, "location '%.200s' leaves the model's folder", loc);
        p += len + (e != NULL);
    }
    char path[4200];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", m->dir, loc) >= sizeof path)
        return sf_error(SF_EINPUT, where, "path too long");
    size_t es = sf_onnx_dtype_size(t->dtype);
    if (!es)
        return sf_error(SF_EINPUT, where, "type %s", sf_onnx_dtype_name(t->dtype));
    size_t need = t->numel * es;
    unsigned mode;
    int fd = sf_open_regular(path, &mode);
    if (fd < 0)
        return sf_error(SF_EINPUT, where, "cannot open '%.200s': %s", loc,
                        errno == EINVAL ? "not a regular file" : strerror(errno));
    struct stat sb;
    sf_status st = SF_OK;
    int64_t off = t->offset < 0 ? 0 : t->offset;
    if (fstat(fd, &sb) != 0) {
        st = sf_error(SF_EINPUT, where, "cannot stat '%.200s'", loc);
    } else if (t->length >= 0 && (size_t)t->length != need) {
        st = sf_error(SF_EINPUT, where, "length %lld; the tensor needs %zu bytes",
                      (long long)t->length, need);
    } else if (off > sb.st_size || need > (size_t)(sb.st_size - off)) {
        st = sf_error(SF_EINPUT, where, "'%.200s' has %lld bytes; the tensor needs %zu at %lld",
                      loc, (long long)sb.st_size, need, (long long)off);
    } else {
        unsigned char *buf = sf_arena_alloc(m->a, need ? need : 1);
        if (!buf) {
            st = oom();
        } else {
            size_t got = 0;
            while (got < need) {
                ssize_t r = pread(fd, buf + got, need - got, (off_t)(off + (int64_t)got));
                if (r <= 0) {
                    st = sf_error(SF_EINPUT, where, "read of '%.200s' failed", loc);
                    break;
                }
                got += (size_t)r;
            }
            t->data = buf;
            t->nbytes = need;
        }
    }
    close(fd);
    return st;
}

/* An initializer (or a Constant's tensor) as a constant value. */
static sf_status init_value(imp *m, sf_onnx_tensor *t, val *v)
{
    if (t->external)
        TRY(external(m, t));
    memset(v, 0, sizeof *v);
    v->name = t->name;
    v->kind = V_CONST;
    v->isint = !is_float_type(t->dtype);
    v->rank = t->rank;
    memcpy(v->dims, t->dims, (size_t)t->rank * sizeof *t->dims);
    v->numel = t->numel;
    size_t ne = t->numel ? t->numel : 1;
    int64_t *tmp = NULL;
    if (v->isint ? !(v->s = sf_arena_array(m->a, ne, sizeof *v->s)) ||
                       !(tmp = sf_arena_array(m->a, ne, sizeof *tmp))
        : t->dtype == SF_ONNX_FLOAT ? 0
                                    : !(v->f = sf_arena_array(m->a, ne, sizeof *v->f)))
        return oom();
    if (t->dtype == SF_ONNX_FLOAT && t->numel) {
        if (!t->data || t->nbytes < t->numel * 4)
            return sf_error(SF_EINPUT, m->base, "initializer '%.200s' has no data", t->name);
        /* borrowed from the file image when aligned, else copied */
        if (((uintptr_t)t->data & 3) == 0) {
            v->f = (float *)(uintptr_t)t->data;
        } else {
            if (!(v->f = sf_arena_array(m->a, ne, sizeof *v->f)))
                return oom();
            memcpy(v->f, t->data, t->numel * 4);
        }
        return SF_OK;
    }
    if (t->dtype == SF_ONNX_FLOAT && !v->f && !(v->f = sf_arena_array(m->a, 1, sizeof *v->f)))
        return oom();
    m->cur = 0;
    sf_status st = tensor_values(m, t, v->f, tmp);
    for (size_t i = 0; !st && v->isint && i < t->numel; i++)
        v->s[i] = (sym){0, tmp[i]};
    return st;
}

/* A model name from the file name: a C identifier. */
static const char *model_name(sf_arena *a, const char *base)
{
    char nm[64];
    size_t k = 0;
    if (!((base[0] >= 'a' && base[0] <= 'z') || (base[0] >= 'A' && base[0] <= 'Z')))
        nm[k++] = 'm';
    for (const char *p = base; *p && k < sizeof nm - 1; p++) {
        if (!strcmp(p, ".onnx"))
            break;
        char c = *p;
        nm[k++] =
            (char)(((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
                       ? c
                       : '_');
    }
    nm[k] = 0;
    return sf_arena_strdup(a, nm);
}

static sf_status bind_input(imp *m, const sf_onnx_value *in, const sf_shape_binding *sh, int nsh,
                            sf_desc_input *out)
{
    char where[600];
    snprintf(where, sizeof where, "%s: graph input '%.200s'", m->base, in->name);
    out->name = in->name;
    switch (in->elem_type) {
    case SF_ONNX_FLOAT: out->dtype = SF_IO_F32; break;
    case SF_ONNX_INT64: out->dtype = SF_IO_I64; break;
    case SF_ONNX_INT32: out->dtype = SF_IO_I32; break;
    default:
        return sf_error(SF_EINPUT, where,
                        "element type %s: float, int64 and int32 inputs are supported",
                        sf_onnx_dtype_name(in->elem_type));
    }
    const sf_shape_binding *b = NULL;
    for (int i = 0; i < nsh; i++)
        if (!strcmp(sh[i].name, in->name))
            b = &sh[i];
    if (b) {
        if (in->rank >= 0 && b->rank != in->rank)
            return sf_error(SF_EINPUT, where, "--shape gives %d dimensions; the input has %d",
                            b->rank, in->rank);
        for (int i = 0; in->rank >= 0 && i < in->rank; i++)
            if (in->dims[i] >= 0 && !in->dim_param[i] && i > 0 && in->dims[i] != b->dims[i])
                return sf_error(SF_EINPUT, where,
                                "--shape gives %lld for dimension %d, which the model fixes "
                                "at %lld",
                                (long long)b->dims[i], i, (long long)in->dims[i]);
        out->rank = b->rank;
        memcpy(out->dims, b->dims, sizeof out->dims);
        return SF_OK;
    }
    if (in->rank < 0)
        return sf_error(SF_EINPUT, where,
                        "the shape is not given: bind it with --shape %s=D0xD1x...", in->name);
    if (in->rank == 0)
        return sf_error(SF_EINPUT, where, "a rank-0 input has no batch dimension");
    for (int i = 0; i < in->rank; i++)
        if (in->dims[i] < 1)
            return sf_error(SF_EINPUT, where,
                            "dimension %d ('%s') is symbolic: bind it with --shape %s=D0xD1x... "
                            "(the first dimension is the maximum batch)",
                            i, in->dim_param[i] ? in->dim_param[i] : "?", in->name);
    out->rank = in->rank;
    memcpy(out->dims, in->dims, (size_t)in->rank * sizeof *in->dims);
    return SF_OK;
}

sf_status sf_onnx_load(sf_arena *a, const char *path, const sf_shape_binding *shapes, int nshapes,
                       sf_desc *d, sf_weights *w)
{
    imp *m = sf_arena_alloc(a, sizeof *m);
    sf_onnx_model *om = sf_arena_alloc(a, sizeof *om);
    if (!m || !om)
        return oom();
    memset(d, 0, sizeof *d);
    m->a = a;
    m->d = d;
    m->cur = 0;
    TRY(sf_onnx_read(a, path, om));
    m->m = om;
    const char *slash = strrchr(path, '/');
    m->base = slash ? slash + 1 : path;
    m->dir = slash ? sf_arena_strdup(a, path) : ".";
    if (!m->dir)
        return oom();
    if (slash)
        ((char *)m->dir)[slash - path] = 0;
    if (slash == path)
        m->dir = "/";
    d->path = path;
    d->base = m->base;
    d->name = model_name(a, m->base);
    d->weights_path = path;
    if (!d->name)
        return oom();
    if (om->opset == 0)
        return sf_error(SF_EINPUT, m->base, "no opset of the default ONNX domain is imported");
    if (om->opset < 7 || om->opset > 23)
        return sf_error(SF_EINPUT, m->base, "opset %lld: opsets 7 to 23 are supported",
                        (long long)om->opset);
    if (om->nsparse_inits)
        return sf_error(SF_EINPUT, m->base, "sparse initializers are not supported");
    if (om->nnodes > SF_MAX_NODES * 8)
        return sf_error(SF_EINPUT, m->base, "%d nodes, at most %d", om->nnodes, SF_MAX_NODES * 8);

    /* every name the graph mentions gets a value slot */
    int cap = om->ninits + om->ninputs + 1;
    for (int i = 0; i < om->nnodes; i++)
        cap += om->nodes[i].noutputs;
    if (!(m->v = sf_arena_array(a, (size_t)cap, sizeof *m->v)) ||
        sf_index_init(&m->names, (size_t)cap, a) || sf_index_init(&m->used, (size_t)cap + 64, a) ||
        sf_index_init(&m->wix, 64, a) || !(m->skip = sf_arena_alloc(a, (size_t)om->nnodes + 1)))
        return oom();
    for (int i = 0; i < om->ninits; i++) {
        if (sf_index_add(&m->names, om->inits[i].name, m->nv) >= 0)
            return sf_error(SF_EINPUT, m->base, "initializer '%.200s' is given twice",
                            om->inits[i].name);
        TRY(init_value(m, &om->inits[i], &m->v[m->nv++]));
    }
    for (int i = 0; i < nshapes; i++) {
        int found = 0;
        for (int j = 0; j < om->ninputs; j++)
            found |= !strcmp(om->inputs[j].name, shapes[i].name);
        if (!found)
            return sf_error(SF_EUSAGE, NULL, "--shape %s: the model has no input of that name",
                            shapes[i].name);
    }
    /* graph inputs (those with initializers are constants with defaults) */
    if (!(d->inputs = sf_arena_array(a, (size_t)om->ninputs + 1, sizeof *d->inputs)))
        return oom();
    for (int i = 0; i < om->ninputs; i++) {
        const sf_onnx_value *in = &om->inputs[i];
        if (lookup(m, in->name))
            continue;
        if (d->ninputs == SF_MAX_IO)
            return sf_error(SF_EINPUT, m->base, "more than %d inputs", SF_MAX_IO);
        sf_desc_input *di = &d->inputs[d->ninputs];
        TRY(bind_input(m, in, shapes, nshapes, di));
        if (d->ninputs && di->dims[0] != d->inputs[0].dims[0])
            return sf_error(SF_EINPUT, m->base,
                            "input '%.200s' has first dimension %lld, input '%.200s' %lld: the "
                            "first dimension of every input is the same maximum batch",
                            di->name, (long long)di->dims[0], d->inputs[0].name,
                            (long long)d->inputs[0].dims[0]);
        val *v = &m->v[m->nv];
        memset(v, 0, sizeof *v);
        v->name = in->name;
        v->kind = V_DYN;
        v->ir = in->name;
        v->rank = di->rank;
        memcpy(v->dims, di->dims, sizeof v->dims);
        v->numel = numel_of(v->dims, v->rank);
        v->intval = di->dtype != SF_IO_F32;
        if (sf_index_add(&m->names, in->name, m->nv) >= 0)
            return sf_error(SF_EINPUT, m->base, "graph input '%.200s' is given twice", in->name);
        TRY(claim(m, in->name));
        m->nv++;
        d->ninputs++;
    }
    if (!d->ninputs)
        return sf_error(SF_EINPUT, m->base, "the graph has no inputs that are not initializers");
    for (int i = 0; i < om->nnodes; i++)
        for (int j = 0; j < om->nodes[i].noutputs; j++) {
            const char *o = om->nodes[i].outputs[j];
            if (!o[0])
                continue;
            if (sf_index_add(&m->names, o, m->nv) >= 0) {
                m->cur = i;
                return FAIL(m,
                            "output '%.200s' is produced twice (or is an input or "
                            "initializer)",
                            o);
            }
            memset(&m->v[m->nv], 0, sizeof m->v[m->nv]);
            m->v[m->nv++].name = o;
        }
    for (int i = 0; i < om->nnodes; i++)
        for (int j = 0; j < om->nodes[i].ninputs; j++) {
            val *v = om->nodes[i].inputs[j][0] ? lookup(m, om->nodes[i].inputs[j]) : NULL;
            if (v)
                v->nuse++;
        }
    for (int i = 0; i < om->noutputs; i++) {
        val *v = lookup(m, om->outputs[i].name);
        if (v)
            v->nuse++;
    }
    for (int i = 0; i < om->nnodes; i++)
        if (!m->skip[i])
            TRY(import_node(m, i));

    /* graph outputs: activations under the names the file gives */
    if (om->noutputs > SF_MAX_IO)
        return sf_error(SF_EINPUT, m->base, "more than %d outputs", SF_MAX_IO);
    if (!(d->outputs = sf_arena_array(a, (size_t)om->noutputs + 1, sizeof *d->outputs)))
        return oom();
    for (int i = 0; i < om->noutputs; i++) {
        const char *nm = om->outputs[i].name;
        val *v = lookup(m, nm);
        char where[600];
        snprintf(where, sizeof where, "%s: graph output '%.200s'", m->base, nm);
        if (!v || v->kind == V_UNSET)
            return sf_error(SF_EINPUT, where, "no node produces it");
        if (v->kind == V_CONST)
            return sf_error(SF_EINPUT, where, "it is a constant (it does not depend on any input)");
        if (strcmp(v->ir, nm)) {
            /* an alias (Identity, Dropout) or another output's tensor: a copy named as the
             * file names it */
            m->cur = 0;
            sf_desc_node *nd;
            const char *in = v->ir;
            if (sf_index_find(&m->used, nm) >= 0)
                return sf_error(SF_EINPUT, where, "the name is taken by another tensor");
            TRY(emit(m, "reshape", nm, 1, &in, &nd));
            int64_t sh[SF_MAX_RANK];
            memcpy(sh, v->dims, sizeof sh);
            sh[0] = 0;
            attr_set_ints(nd, "shape", sh, v->rank);
            nd->name = sf_arena_strdup(a, nm);
            v->ir = nm;
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(d->outputs[j], nm))
                return sf_error(SF_EINPUT, where, "listed twice");
        d->outputs[d->noutputs++] = nm;
    }
    /* node names must be unique in the description */
    sf_index nn;
    if (sf_index_init(&nn, (size_t)d->nnodes + 1, a))
        return oom();
    for (int i = 0; i < d->nnodes; i++) {
        sf_desc_node *n = &d->nodes[i];
        n->index = i;
        if (sf_index_add(&nn, n->name, i) < 0)
            continue;
        char buf[700];
        for (int k = 2;; k++) {
            snprintf(buf, sizeof buf, "%.600s~%d", n->name, k);
            if (sf_index_find(&nn, buf) < 0)
                break;
        }
        if (!(n->name = sf_arena_strdup(a, buf)))
            return oom();
        sf_index_add(&nn, n->name, i);
    }
    w->base = m->base;
    w->find = w_find;
    w->ctx = m;
    return SF_OK;
}

int sf_onnx_is_model(const char *path)
{
    size_t n = strlen(path);
    return n > 5 && !strcmp(path + n - 5, ".onnx");
}
