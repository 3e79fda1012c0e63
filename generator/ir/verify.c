/* verify.c - the meaning of a model: ops, tensor names, weights and shapes,
 * a topological order. Turns a desc + safetensors into the graph IR; every
 * error names the file, the node and the field. */
#include "ir/op.h"
#include "frontends/onnx.h"

#include <stdio.h>
#include <string.h>

int64_t sf_tensor_inner(const sf_tensor *t)
{
    int64_t n = 1;
    for (int i = 1; i < t->rank; i++)
        n *= t->dims[i];
    return n;
}

static sf_status oom(void)
{
    return sf_error(SF_EINTERNAL, NULL, "out of memory");
}

const char *sf_v_where(sf_vctx *c, const sf_desc_node *n, const char *field)
{
    snprintf(c->w, sizeof c->w, "%s: node '%s' (nodes[%d]): field '%s'", c->d->base, n->name,
             n->index, field);
    return c->w;
}

void sf_v_shape_str(const int64_t *dims, int rank, char *buf, size_t n)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, n - o, "[");
    for (int i = 0; i < rank && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (o < n)
        snprintf(buf + o, n - o, "]");
}

static int64_t numel_checked(const int64_t *dims, int rank)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] <= 0 || n > SF_MAX_ELEMS / dims[i])
            return -1;
        n *= dims[i];
    }
    return n;
}

/* Fetches a weight tensor, checks its rank and converts it to f32. */
sf_status sf_v_weight(sf_vctx *c, const sf_desc_node *n, const char *field, const char *tname,
                      int rank, const sf_st_tensor **out)
{
    const sf_st_tensor *t = c->weights->find(c->weights, tname);
    if (!t)
        return sf_error(SF_EINPUT, sf_v_where(c, n, field), "tensor '%s' not found in %s", tname,
                        c->weights->base);
    if (rank >= 0 && t->rank != rank) {
        char s[200];
        sf_v_shape_str(t->dims, t->rank, s, sizeof s);
        return sf_error(SF_EINPUT, sf_v_where(c, n, field),
                        "tensor '%s' has shape %s: expected "
                        "rank %d",
                        tname, s, rank);
    }
    if (numel_checked(t->dims, t->rank) < 0)
        return sf_error(SF_EINPUT, sf_v_where(c, n, field),
                        "tensor '%s': shape has a zero "
                        "dimension or more than %lld elements",
                        tname, SF_MAX_ELEMS);
    *out = t;
    return SF_OK;
}

/* Kahn's algorithm; on a cycle, names the nodes left over. */
static sf_status topo_sort(sf_vctx *c)
{
    sf_graph *g = c->g;
    int *indeg = sf_arena_array(&g->arena, (size_t)g->nnodes, sizeof(int));
    int *queue = g->order;
    if (!indeg)
        return oom();
    for (int i = 0; i < g->nnodes; i++)
        for (int j = 0; j < g->nodes[i].nin; j++)
            if (g->tensors[g->nodes[i].in[j]].producer >= 0)
                indeg[i]++;
    int head = 0, tail = 0;
    for (int i = 0; i < g->nnodes; i++)
        if (!indeg[i])
            queue[tail++] = i;
    while (head < tail) {
        int u = queue[head++];
        int t = g->nodes[u].out;
        for (int i = 0; i < g->nnodes; i++)
            for (int j = 0; j < g->nodes[i].nin; j++)
                if (g->nodes[i].in[j] == t && --indeg[i] == 0)
                    queue[tail++] = i;
    }
    if (tail < g->nnodes) {
        for (int i = 0; i < g->nnodes; i++)
            if (indeg[i]) {
                const sf_desc_node *n = &c->d->nodes[i];
                return sf_error(SF_EINPUT, sf_v_where(c, n, "inputs"),
                                "the graph has a cycle through this node (input '%s')",
                                n->inputs[0]);
            }
    }
    return SF_OK;
}

/* Tensor names are looked up through an index (name -> tensor id) so that
 * the checks stay linear in the number of names. */
static sf_status add_tensor(sf_vctx *c, sf_index *names, const char *name, int producer, int *id)
{
    sf_graph *g = c->g;
    sf_tensor *t = &g->tensors[g->ntensors];
    t->name = name;
    t->producer = producer;
    t->input_index = -1;
    t->output_index = -1;
    *id = g->ntensors++;
    sf_index_add(names, name, *id);
    return SF_OK;
}

static sf_status graph_build(const sf_desc *d, const sf_weights *weights, sf_graph *g)
{
    sf_vctx c = {d, weights, g, {0}};
    sf_status s;
    if (d->nnodes > SF_MAX_NODES || d->ninputs > SF_MAX_IO || d->noutputs > SF_MAX_IO)
        return sf_error(SF_EINPUT, d->base, "more than %d nodes or %d inputs or outputs",
                        SF_MAX_NODES, SF_MAX_IO);
    g->name = sf_arena_strdup(&g->arena, d->name);
    g->model_base = sf_arena_strdup(&g->arena, d->base);
    g->tensors = sf_arena_array(&g->arena, (size_t)(d->ninputs + d->nnodes), sizeof *g->tensors);
    g->nodes = sf_arena_array(&g->arena, (size_t)d->nnodes, sizeof *g->nodes);
    g->order = sf_arena_array(&g->arena, (size_t)d->nnodes, sizeof(int));
    g->inputs = sf_arena_array(&g->arena, (size_t)d->ninputs, sizeof(int));
    g->outputs = sf_arena_array(&g->arena, (size_t)d->noutputs, sizeof(int));
    sf_index tnames, nnames; /* tensor name -> id, node name -> index */
    if (!g->name || !g->model_base || !g->tensors || !g->nodes || !g->order || !g->inputs ||
        !g->outputs || sf_index_init(&tnames, (size_t)(d->ninputs + d->nnodes), &g->arena) ||
        sf_index_init(&nnames, (size_t)d->nnodes, &g->arena))
        return oom();

    /* graph inputs */
    for (int i = 0; i < d->ninputs; i++) {
        const sf_desc_input *in = &d->inputs[i];
        char w[700];
        snprintf(w, sizeof w, "%s: input '%s': field 'name'", d->base, in->name);
        if (sf_index_find(&tnames, in->name) >= 0)
            return sf_error(SF_EINPUT, w, "duplicate tensor name '%s'", in->name);
        if (!sf_is_c_identifier(in->name))
            return sf_error(SF_EINPUT, w,
                            "'%s' is not a C identifier (it names an argument "
                            "of the generated run function)",
                            in->name);
        snprintf(w, sizeof w, "%s: input '%s': field 'shape'", d->base, in->name);
        if (numel_checked(in->dims, in->rank) < 0)
            return sf_error(SF_EINPUT, w, "more than %lld elements", SF_MAX_ELEMS);
        if (in->dims[0] != d->inputs[0].dims[0])
            return sf_error(SF_EINPUT, w,
                            "first dimension %lld differs from input '%s' (%lld):"
                            " every input's first dimension is the same maximum batch",
                            (long long)in->dims[0], d->inputs[0].name,
                            (long long)d->inputs[0].dims[0]);
        int id;
        add_tensor(&c, &tnames, in->name, -1, &id);
        g->tensors[id].rank = in->rank;
        memcpy(g->tensors[id].dims, in->dims, sizeof in->dims);
        g->tensors[id].input_index = i;
        g->inputs[i] = id;
    }
    g->ninputs = d->ninputs;

    /* node outputs first, so references may point forward (order is derived) */
    for (int i = 0; i < d->nnodes; i++) {
        const sf_desc_node *n = &d->nodes[i];
        int j = sf_index_add(&nnames, n->name, i);
        if (j >= 0)
            return sf_error(SF_EINPUT, sf_v_where(&c, n, "name"),
                            "duplicate node name '%s' "
                            "(also nodes[%d])",
                            n->name, j);
        if (n->noutputs != 1)
            return sf_error(SF_EINPUT, sf_v_where(&c, n, "outputs"),
                            "expected exactly one output "
                            "tensor name, got %d",
                            n->noutputs);
        if (sf_index_find(&tnames, n->outputs[0]) >= 0)
            return sf_error(SF_EINPUT, sf_v_where(&c, n, "outputs"),
                            "duplicate tensor name '%s': "
                            "it is already produced by another node or is a graph input",
                            n->outputs[0]);
        add_tensor(&c, &tnames, n->outputs[0], i, &g->nodes[i].out);
    }

    for (int i = 0; i < d->nnodes; i++) {
        const sf_desc_node *n = &d->nodes[i];
        sf_node *node = &g->nodes[i];
        node->name = n->name;
        node->op_written = n->op;
        node->json_index = i;
        int op = sf_op_lookup(n->op);
        if (op < 0) {
            char list[600];
            sf_op_list(list, sizeof list);
            return sf_error(SF_EINPUT, sf_v_where(&c, n, "op"),
                            "unknown op '%s' (supported: "
                            "%s)",
                            n->op, list);
        }
        node->op = (sf_op)op;
        if (node->op == SF_OP_LINEAR && !n->weight && strcmp(n->op, "matmul") == 0)
            node->op = SF_OP_BMM; /* between two activations */
        const sf_op_def *def = sf_op_get(node->op);
        int want = def->in_min, want_max = def->in_max;
        if (n->ninputs < want || n->ninputs > want_max) {
            if (node->op == SF_OP_BMM)
                return sf_error(SF_EINPUT, sf_v_where(&c, n, "inputs"),
                                "matmul takes two "
                                "activations, or one and a 'weight' [K, N]; got %d inputs",
                                n->ninputs);
            if (want == want_max)
                return sf_error(SF_EINPUT, sf_v_where(&c, n, "inputs"),
                                "%s expects %d input "
                                "tensor%s, got %d",
                                n->op, want, want != 1 ? "s" : "", n->ninputs);
            return sf_error(SF_EINPUT, sf_v_where(&c, n, "inputs"),
                            "%s expects %d to %d input "
                            "tensors, got %d",
                            n->op, want, want_max, n->ninputs);
        }
        want = n->ninputs;
        node->nin = want;
        for (int j = 0; j < want; j++) {
            int t = sf_index_find(&tnames, n->inputs[j]);
            if (t < 0)
                return sf_error(SF_EINPUT, sf_v_where(&c, n, "inputs"),
                                "tensor '%s' is neither a "
                                "graph input nor produced by any node",
                                n->inputs[j]);
            if (t == node->out)
                return sf_error(SF_EINPUT, sf_v_where(&c, n, "inputs"),
                                "the node consumes its own "
                                "output '%s' (a cycle)",
                                n->inputs[j]);
            node->in[j] = t;
            g->tensors[t].nconsumers++;
        }
        int takes_weight = def->params & SF_P_W;
        int takes_bias = (def->params & SF_P_WB) == SF_P_WB;
        if (!takes_weight && n->weight)
            return sf_error(SF_EINPUT, sf_v_where(&c, n, "weight"), "%s takes no weight", n->op);
        if (!takes_bias && n->bias)
            return sf_error(SF_EINPUT, sf_v_where(&c, n, "bias"), "%s takes no bias", n->op);
        const char *const *keys = def->attrs;
        for (int j = 0; j < n->nattrs; j++) {
            int ok = 0;
            for (const char *const *k = keys; k && *k && !ok; k++)
                ok = strcmp(*k, n->attrs[j].key) == 0;
            if (!ok)
                return sf_error(SF_EINPUT, sf_v_where(&c, n, n->attrs[j].key),
                                "%s takes no "
                                "attribute '%s'",
                                n->op, n->attrs[j].key);
        }
        if (n->approximate) {
            if (node->op != SF_OP_GELU)
                return sf_error(SF_EINPUT, sf_v_where(&c, n, "approximate"),
                                "only gelu takes "
                                "'approximate'");
            if (strcmp(n->approximate, "tanh") == 0)
                node->gelu_tanh = 1;
            else if (strcmp(n->approximate, "none") != 0)
                return sf_error(SF_EINPUT, sf_v_where(&c, n, "approximate"),
                                "expected \"none\" or "
                                "\"tanh\", got \"%s\"",
                                n->approximate);
        }
    }
    g->nnodes = d->nnodes;

    for (int i = 0; i < d->noutputs; i++) {
        char w[700];
        snprintf(w, sizeof w, "%s: field 'outputs[%d]'", d->base, i);
        int t = sf_index_find(&tnames, d->outputs[i]);
        if (t < 0)
            return sf_error(SF_EINPUT, w, "tensor '%s' is not produced by any node", d->outputs[i]);
        if (g->tensors[t].producer < 0)
            return sf_error(SF_EINPUT, w, "'%s' is a graph input; outputs must be computed",
                            d->outputs[i]);
        if (g->tensors[t].output_index >= 0)
            return sf_error(SF_EINPUT, w, "duplicate output '%s'", d->outputs[i]);
        if (!sf_is_c_identifier(d->outputs[i]))
            return sf_error(SF_EINPUT, w,
                            "'%s' is not a C identifier (it names an argument "
                            "of the generated run function)",
                            d->outputs[i]);
        g->tensors[t].output_index = i;
        g->outputs[i] = t;
    }
    g->noutputs = d->noutputs;

    if ((s = topo_sort(&c)))
        return s;
    g->nsteps = g->nnodes;

    /* shapes, in order */
    for (int oi = 0; oi < g->nsteps; oi++) {
        int i = g->order[oi];
        const sf_desc_node *n = &d->nodes[i];
        sf_node *node = &g->nodes[i];
        sf_tensor *out = &g->tensors[node->out];
        for (int j = 0; j < node->nin; j++) {
            const sf_tensor *in = &g->tensors[node->in[j]];
            if (in->is_const && !sf_op_takes_const(node->op))
                return sf_error(SF_EINPUT, sf_v_where(&c, n, "inputs"),
                                "input '%s' is a constant (its first dimension is 1, not the "
                                "batch): %s does not take one; broadcast it with expand first",
                                in->name, n->op);
        }
        s = sf_op_get(node->op)->family->shape(&c, n, node);
        if (s)
            return s;
        if (numel_checked(out->dims, out->rank) < 0)
            return sf_error(SF_EINPUT, sf_v_where(&c, n, "outputs"),
                            "tensor '%s' would have more "
                            "than %lld elements",
                            out->name, SF_MAX_ELEMS);
    }
    int64_t analysed = 0;
    for (int i = 0; i < g->ntensors; i++) {
        sf_tensor *t = &g->tensors[i];
        int64_t ch = sf_tensor_channels(t);
        if (ch > SF_SPA_MAX_CHANNELS || analysed + ch > SF_SPA_MAX_TOTAL)
            continue; /* not analysed: zero and needed stay NULL */
        analysed += ch;
        t->zero = sf_arena_alloc(&g->arena, (size_t)ch);
        t->needed = sf_arena_alloc(&g->arena, (size_t)ch);
        if (!t->zero || !t->needed)
            return oom();
    }
    return SF_OK;
}

sf_status sf_graph_build(const sf_desc *d, const sf_weights *w, sf_graph *g)
{
    sf_status s = graph_build(d, w, g);
    if (s)
        sf_graph_free(g);
    return s;
}

void sf_graph_free(sf_graph *g)
{
    sf_arena_free(&g->arena);
    memset(g, 0, sizeof *g);
}

sf_status sf_graph_load(const char *model_path, sf_graph *g)
{
    return sf_graph_load_shapes(model_path, NULL, 0, g);
}

sf_status sf_graph_load_shapes(const char *model_path, const sf_shape_binding *shapes, int nshapes,
                               sf_graph *g)
{
    memset(g, 0, sizeof *g);
    sf_arena_init(&g->arena);
    /* desc and file image live in a scratch arena; the graph copies what it keeps */
    sf_arena tmp;
    sf_arena_init(&tmp);
    sf_desc d;
    sf_safetensors st;
    sf_weights w;
    sf_status s;
    if (sf_onnx_is_model(model_path)) {
        /* ONNX: the initializers are the weights (frontends/onnx_import.c) */
        s = sf_onnx_load(&tmp, model_path, shapes, nshapes, &d, &w);
    } else if (nshapes) {
        s = sf_error(SF_EUSAGE, NULL,
                     "--shape applies to ONNX models only: a model JSON "
                     "gives its input shapes");
    } else {
        s = sf_load_json(&tmp, model_path, &d);
        if (!s)
            s = sf_load_safetensors(&tmp, d.weights_path, &st);
        if (!s)
            w = sf_safetensors_weights(&st);
    }
    if (!s)
        s = sf_graph_build(&d, &w, g);
    if (!s && !(g->weights_path = sf_arena_strdup(&g->arena, d.weights_path)))
        s = oom();
    if (!s) {
        /* names point into the scratch arena: copy them into the graph's */
        for (int i = 0; i < g->ntensors && !s; i++)
            if (!(g->tensors[i].name = sf_arena_strdup(&g->arena, g->tensors[i].name)))
                s = oom();
        for (int i = 0; i < g->nnodes && !s; i++) {
            sf_node *n = &g->nodes[i];
            if (!(n->name = sf_arena_strdup(&g->arena, n->name)) ||
                !(n->op_written = sf_arena_strdup(&g->arena, n->op_written)))
                s = oom();
            if (!s && n->lin) {
                if (!(n->lin->weight_name = sf_arena_strdup(&g->arena, n->lin->weight_name)))
                    s = oom();
                if (!s && n->lin->bias_name &&
                    !(n->lin->bias_name = sf_arena_strdup(&g->arena, n->lin->bias_name)))
                    s = oom();
            }
        }
    }
    sf_arena_free(&tmp);
    if (s)
        sf_graph_free(g);
    return s;
}
