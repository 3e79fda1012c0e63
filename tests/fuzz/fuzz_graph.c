/* fuzz_graph.c - the graph checks (names, shapes, broadcasting, cycles) and
 * everything after them: the input bytes describe a graph directly (ops,
 * edges that may point anywhere, input shapes, weight names), which reaches
 * verify.c far more often than JSON text would. */
#include "fuzz_common.h"

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

static const char *const k_ops[] = {"linear",  "matmul", "relu", "gelu", "silu",
                                    "sigmoid", "tanh",   "add",  "mul",  "conv2d"};
static const char *const k_weights[] = {"fc1.weight", "fc2.weight", "w8x8",   "w16x8",
                                        "k8x4",       "b8",         "missing"};
static const char *const k_biases[] = {"fc1.bias", "fc2.bias", "b8", "b16", "w8x8"};
static const char *const k_names[] = {"in0", "in1", "t0", "t1", "t2",  "t3",  "t4", "t5",
                                      "t6",  "t7",  "t8", "t9", "t10", "t11", "zz"};
static const int64_t k_dims[] = {1, 3, 4, 6, 8, 16, 2};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t wsize;
    const unsigned char *weights = fuzz_setup(&wsize);
    reader r = {data, size};
    sf_desc_input inputs[2];
    sf_desc_node nodes[12];
    const char *edges[12][2], *outs[12][1], *gouts[2];
    sf_desc d = {"fuzz.json", "fuzz.json", "g", "fuzz.safetensors", inputs, 0, gouts, 0, nodes, 0};
    memset(inputs, 0, sizeof inputs);
    memset(nodes, 0, sizeof nodes);
    d.ninputs = 1 + (int)take(&r, 2);
    for (int i = 0; i < d.ninputs; i++) {
        inputs[i].name = k_names[i];
        inputs[i].rank = 2 + (int)take(&r, 2);
        inputs[i].dims[0] = 1 + take(&r, 4);
        for (int k = 1; k < inputs[i].rank; k++)
            inputs[i].dims[k] = k_dims[take(&r, 7)];
    }
    d.nnodes = 1 + (int)take(&r, 12);
    for (int i = 0; i < d.nnodes; i++) {
        sf_desc_node *n = &nodes[i];
        n->index = i;
        n->op = k_ops[take(&r, 10)];
        n->name = k_names[2 + i];
        n->ninputs = 1 + (int)take(&r, 2);
        for (int j = 0; j < n->ninputs; j++)
            edges[i][j] = k_names[take(&r, 15)];
        n->inputs = edges[i];
        outs[i][0] = k_names[2 + (i + (int)take(&r, 2) * (int)take(&r, 3)) % 12];
        n->outputs = outs[i];
        n->noutputs = 1;
        unsigned f = take(&r, 0);
        if (f & 1)
            n->weight = k_weights[take(&r, 7)];
        if (f & 2)
            n->bias = k_biases[take(&r, 5)];
        if (f & 4)
            n->approximate = (f & 8) ? "tanh" : "none";
    }
    d.noutputs = 1 + (int)take(&r, 2);
    for (int i = 0; i < d.noutputs; i++)
        gouts[i] = k_names[take(&r, 15)];

    sf_arena a;
    sf_arena_init(&a);
    sf_safetensors st;
    if (sf_parse_safetensors(&a, "fuzz.safetensors", weights, wsize, &st) == SF_OK) {
        sf_graph g;
        memset(&g, 0, sizeof g);
        sf_arena_init(&g.arena);
        sf_weights w = sf_safetensors_weights(&st);
        if (sf_graph_build(&d, &w, &g) == SF_OK)
            fuzz_pipeline(&g, (int)take(&r, 8));
    }
    sf_arena_free(&a);
    return 0;
}
