/* fuzz_graph.c - the graph checks (names, shapes, attributes, broadcasting,
 * cycles) and everything after them: the input bytes describe a graph
 * directly, which reaches verify.c and the op families far more often than
 * JSON text would. Ops, their input counts and attribute keys come from the
 * op table (ir/ops.def), so every op and key is reachable; weights are the
 * fixed ones of fuzz_common.h (rank 1 to 4: linear, conv kernels, tables).
 *
 * Byte code (a missing byte reads as 0):
 *   inputs: count-1 (mod 3), batch-1 (mod 4); per input: rank-1 (mod 4),
 *           each later dimension (index into k_dims)
 *   nodes:  count-1 (mod 24); per node: op (mod ops + 2 aliases), an input
 *           count byte (< 192: as the op takes), per input a tensor byte
 *           (< 224: a tensor defined before, else any name), an output byte
 *           (< 240: a new name), a flags byte (1 weight, 2 bias, 4
 *           approximate, 8 tanh, bits 4..7: attribute count mod 5), per attribute a
 *           key byte (< 224: one of the op's keys) and a value (attr())
 *   outputs: count-1 (mod 2), each a tensor byte
 *   then one byte of pipeline options (fuzz_opts in fuzz_common.h). */
#include "fuzz_common.h"
#include "ir/op.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    const uint8_t *p;
    size_t n;
} reader;

static unsigned take(reader *r, unsigned mod)
{
    unsigned v = 0;
    if (r->n) {
        v = *r->p++;
        r->n--;
    }
    return mod ? v % mod : v;
}

#define MAX_NODES 24
#define MAX_ATTRS 4

static const char *const k_weights[] = {
    "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "w8x8",      "w16x8",    "k8x4",
    "b8",         "b16",      "c8x4x3x3",   "c8x1x3x3", "c16x8x1x1", "c8x2x1x2", "mean8",
    "var8",       "g8",       "emb32x8",    "d8x8",     "z8x8",      "s40x64",   "w24x64",
    "b24",        "d8x32",    "r1x8",       "missing"};
#define NWEIGHTS (sizeof k_weights / sizeof k_weights[0])
/* "in0".."in2", "t0".."t23", "zz" */
static char k_names[3 + MAX_NODES + 1][8];
#define NNAMES (sizeof k_names / sizeof k_names[0])
static const int64_t k_dims[] = {1, 2, 3, 4, 5, 6, 8, 16, 64, 7, 9, 32};
static const int64_t k_ints[] = {0, 1, 2,  3,  -1, -2,    4,     8,
                                 5, 6, 16, -3, 32, 65536, 65537, 2147483647};
static const double k_nums[] = {0.0, 1e-5, 0.5, -1.0, 1.5,  0.2,   1e-320, -0.0,
                                3.0, 1e30, 0.1, 6.0,  -2.5, 0.999, 1.0,    2.0};

/* Every attribute key of the table, once. */
static const char *g_keys[64];
static int g_nkeys;

static void init_tables(void)
{
    if (g_nkeys)
        return;
    for (int i = 0; i < 3; i++)
        snprintf(k_names[i], sizeof k_names[i], "in%d", i);
    for (int i = 0; i < MAX_NODES; i++)
        snprintf(k_names[3 + i], sizeof k_names[i], "t%d", i);
    snprintf(k_names[3 + MAX_NODES], sizeof k_names[0], "zz");
    for (int op = 0; op < SF_OP_COUNT; op++)
        for (const char *const *k = sf_op_table[op].attrs; k && *k; k++) {
            int seen = 0;
            for (int i = 0; i < g_nkeys; i++)
                seen |= strcmp(g_keys[i], *k) == 0;
            if (!seen && g_nkeys < 64)
                g_keys[g_nkeys++] = *k;
        }
}

static int is_key(const char *key, const char *const *set)
{
    for (; *set; set++)
        if (!strcmp(key, *set))
            return 1;
    return 0;
}

/* A value byte: < 128 the kind the key takes (a weight name, a boolean, a
 * number, an integer or a list of 1, 2 or 4 integers, a list of 1 to 4, or
 * one integer), else a kind chosen by the byte; then a weight, boolean or
 * number byte, or a length byte and one byte per integer, each an index into
 * a small table of edge cases. */
static void attr(reader *r, sf_desc_attr *a, const char *key)
{
    static const char *const names[] = {"mean", "var", NULL};
    static const char *const bools[] = {"causal", NULL};
    static const char *const nums[] = {"epsilon", "min", "max", "alpha", "beta", NULL};
    static const char *const pairs[] = {"stride", "padding", "dilation", "kernel", NULL};
    static const char *const lists[] = {"perm", "shape", "axes", NULL};
    unsigned v = take(r, 0);
    int kind = v < 128 ? (is_key(key, names)   ? 0
                          : is_key(key, bools) ? 1
                          : is_key(key, nums)  ? 2
                          : is_key(key, pairs) ? 3
                          : is_key(key, lists) ? 4
                                               : 5)
                       : (int)(v % 6);
    a->key = key;
    a->n = 1;
    a->scalar = 1;
    switch (kind) {
    case 0:
        a->kind = SF_ATTR_STRING;
        a->str = k_weights[take(r, NWEIGHTS)];
        break;
    case 1:
        a->kind = SF_ATTR_BOOL;
        a->flag = (int)take(r, 2);
        break;
    case 2: {
        double d = k_nums[take(r, 16)];
        a->num = d;
        /* as load_json.c reads it: integral values within the dimension
         * limit are integers too (range first: the cast is undefined beyond) */
        a->kind = fabs(d) <= (double)SF_MAX_DIM && d == (double)(int64_t)d ? SF_ATTR_INTS
                                                                           : SF_ATTR_NUMBER;
        a->ints[0] = a->kind == SF_ATTR_INTS ? (int64_t)d : 0;
        break;
    }
    case 3:
    case 4: {
        static const int pair_n[4] = {1, 2, 4, 2};
        a->kind = SF_ATTR_INTS;
        a->n = kind == 3 ? pair_n[take(r, 4)] : 1 + (int)take(r, 4);
        a->scalar = kind == 3 && a->n == 1 && take(r, 2);
        for (int i = 0; i < a->n; i++)
            a->ints[i] = k_ints[take(r, 16)];
        a->num = (double)a->ints[0];
        break;
    }
    default:
        a->kind = SF_ATTR_INTS;
        a->ints[0] = k_ints[take(r, 16)];
        a->num = (double)a->ints[0];
        break;
    }
}

/* The graph as model JSON on stderr (FUZZ_DUMP in the environment): a
 * finding becomes a model for sfgen and the bad-input suite. */
static void dump(const sf_desc *d)
{
    fprintf(stderr, "{\"sparseflow\": 1, \"name\": \"g\", \"weights\": \"w.safetensors\",\n");
    fprintf(stderr, " \"inputs\": [");
    for (int i = 0; i < d->ninputs; i++) {
        fprintf(stderr, "%s{\"name\": \"%s\", \"shape\": [", i ? ", " : "", d->inputs[i].name);
        for (int k = 0; k < d->inputs[i].rank; k++)
            fprintf(stderr, "%s%lld", k ? ", " : "", (long long)d->inputs[i].dims[k]);
        fprintf(stderr, "]}");
    }
    fprintf(stderr, "],\n \"outputs\": [");
    for (int i = 0; i < d->noutputs; i++)
        fprintf(stderr, "%s\"%s\"", i ? ", " : "", d->outputs[i]);
    fprintf(stderr, "],\n \"nodes\": [");
    for (int i = 0; i < d->nnodes; i++) {
        const sf_desc_node *n = &d->nodes[i];
        fprintf(stderr, "%s\n  {\"op\": \"%s\", \"inputs\": [", i ? "," : "", n->op);
        for (int j = 0; j < n->ninputs; j++)
            fprintf(stderr, "%s\"%s\"", j ? ", " : "", n->inputs[j]);
        fprintf(stderr, "], \"outputs\": [\"%s\"]", n->outputs[0]);
        if (n->weight)
            fprintf(stderr, ", \"weight\": \"%s\"", n->weight);
        if (n->bias)
            fprintf(stderr, ", \"bias\": \"%s\"", n->bias);
        if (n->approximate)
            fprintf(stderr, ", \"approximate\": \"%s\"", n->approximate);
        for (int j = 0; j < n->nattrs; j++) {
            const sf_desc_attr *a = &n->attrs[j];
            fprintf(stderr, ", \"%s\": ", a->key);
            if (a->kind == SF_ATTR_STRING)
                fprintf(stderr, "\"%s\"", a->str);
            else if (a->kind == SF_ATTR_BOOL)
                fprintf(stderr, "%s", a->flag ? "true" : "false");
            else if (a->kind == SF_ATTR_NUMBER)
                fprintf(stderr, "%.17g", a->num);
            else if (a->scalar)
                fprintf(stderr, "%lld", (long long)a->ints[0]);
            else
                for (int k = 0; k < a->n; k++)
                    fprintf(stderr, "%s%lld%s", k ? ", " : "[", (long long)a->ints[k],
                            k == a->n - 1 ? "]" : "");
        }
        fprintf(stderr, "}");
    }
    fprintf(stderr, "]}\n");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t wsize;
    const unsigned char *weights = fuzz_setup(&wsize);
    init_tables();
    reader r = {data, size};
    sf_desc_input inputs[3];
    sf_desc_node nodes[MAX_NODES];
    sf_desc_attr attrs[MAX_NODES][MAX_ATTRS];
    const char *edges[MAX_NODES][4], *outs[MAX_NODES][1], *gouts[2];
    const char *defined[3 + MAX_NODES];
    int ndefined = 0;
    sf_desc d = {"fuzz.json", "fuzz.json", "g", "fuzz.safetensors", inputs, 0, gouts, 0, nodes, 0};
    memset(inputs, 0, sizeof inputs);
    memset(nodes, 0, sizeof nodes);
    memset(attrs, 0, sizeof attrs);
    d.ninputs = 1 + (int)take(&r, 3);
    int64_t batch = 1 + take(&r, 4);
    for (int i = 0; i < d.ninputs; i++) {
        inputs[i].name = k_names[i];
        inputs[i].rank = 1 + (int)take(&r, 4);
        inputs[i].dims[0] = batch;
        for (int k = 1; k < inputs[i].rank; k++)
            inputs[i].dims[k] = k_dims[take(&r, sizeof k_dims / sizeof k_dims[0])];
        defined[ndefined++] = k_names[i];
    }
    d.nnodes = 1 + (int)take(&r, MAX_NODES);
    for (int i = 0; i < d.nnodes; i++) {
        sf_desc_node *n = &nodes[i];
        n->index = i;
        unsigned opi = take(&r, SF_OP_COUNT + 2);
        const sf_op_def *def = &sf_op_table[opi < SF_OP_COUNT ? opi : SF_OP_LINEAR];
        n->op = opi < SF_OP_COUNT ? def->name : opi == SF_OP_COUNT ? "matmul" : "gather";
        n->name = k_names[3 + i];
        unsigned c = take(&r, 0);
        n->ninputs = c < 192 ? def->in_min + (int)(c % (unsigned)(def->in_max - def->in_min + 1))
                             : 1 + (int)(c % 4);
        if (n->ninputs > 4)
            n->ninputs = 4;
        for (int j = 0; j < n->ninputs; j++) {
            unsigned e = take(&r, 0);
            edges[i][j] = e < 224 ? defined[ndefined - 1 - (int)(e % (unsigned)ndefined)]
                                  : k_names[e % NNAMES];
        }
        n->inputs = edges[i];
        unsigned o = take(&r, 0);
        outs[i][0] = o < 240 ? k_names[3 + i] : k_names[o % NNAMES];
        n->outputs = outs[i];
        n->noutputs = 1;
        defined[ndefined++] = outs[i][0];
        unsigned f = take(&r, 0);
        if (f & 1)
            n->weight = k_weights[take(&r, NWEIGHTS)];
        if (f & 2)
            n->bias = k_weights[take(&r, NWEIGHTS)];
        if (f & 4)
            n->approximate = (f & 8) ? "tanh" : "none";
        n->attrs = attrs[i];
        n->nattrs = (int)((f >> 4) % (MAX_ATTRS + 1));
        int nown = 0;
        while (def->attrs && def->attrs[nown])
            nown++;
        for (int j = 0; j < n->nattrs; j++) {
            unsigned k = take(&r, 0);
            const char *key =
                k < 224 && nown ? def->attrs[k % (unsigned)nown] : g_keys[k % (unsigned)g_nkeys];
            attr(&r, &attrs[i][j], key);
        }
    }
    d.noutputs = 1 + (int)take(&r, 2);
    for (int i = 0; i < d.noutputs; i++) {
        unsigned e = take(&r, 0);
        gouts[i] =
            e < 224 ? defined[ndefined - 1 - (int)(e % (unsigned)ndefined)] : k_names[e % NNAMES];
    }

    if (getenv("FUZZ_DUMP"))
        dump(&d);
    sf_arena a;
    sf_arena_init(&a);
    sf_safetensors st;
    if (sf_parse_safetensors(&a, "fuzz.safetensors", weights, wsize, &st) == SF_OK) {
        sf_graph g;
        memset(&g, 0, sizeof g);
        sf_arena_init(&g.arena);
        sf_weights w = sf_safetensors_weights(&st);
        if (sf_graph_build(&d, &w, &g) == SF_OK)
            fuzz_pipeline(&g, (int)take(&r, 0));
    }
    sf_arena_free(&a);
    return 0;
}
