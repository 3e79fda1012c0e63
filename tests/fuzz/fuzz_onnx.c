/* fuzz_onnx.c - the ONNX protobuf reader (frontends/onnx_pb.c): framing,
 * every bound and count check, and the structs of each accepted model,
 * whose every string and data byte is read back so that the sanitizers see
 * a pointer that leads outside the image or the arena. Aborts when an
 * accepted model breaks what onnx.h promises. */
#include "fuzz_common.h"

#include "frontends/onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned g_sink; /* keeps the reads below from being optimised away */

static void touch_str(const char *s)
{
    if (!s)
        abort();
    g_sink += (unsigned)strlen(s);
}

static void touch_tensor(const sf_onnx_tensor *t)
{
    touch_str(t->name);
    if (t->rank < 0 || t->rank > SF_MAX_RANK)
        abort();
    size_t numel = 1;
    for (int d = 0; d < t->rank; d++) {
        if (t->dims[d] < 0)
            abort();
        numel *= (size_t)t->dims[d]; /* checked by the reader: cannot wrap */
    }
    if (numel != t->numel)
        abort();
    size_t es = sf_onnx_dtype_size(t->dtype);
    if (t->nbytes != numel * es)
        abort();
    g_sink += (unsigned)strlen(sf_onnx_dtype_name(t->dtype));
    if (t->external) {
        touch_str(t->location);
        if (!*t->location || t->data || t->offset < -1 || t->length < -1)
            abort();
        return;
    }
    if (t->nbytes && !t->data)
        abort();
    for (size_t i = 0; i < t->nbytes; i++)
        g_sink += t->data[i];
}

static void touch_value(const sf_onnx_value *v)
{
    touch_str(v->name);
    touch_str(v->kind);
    if (v->rank < -1 || v->rank > SF_MAX_RANK)
        abort();
    for (int d = 0; d < v->rank; d++) {
        if (v->dims[d] < -1)
            abort();
        if (v->dim_param[d])
            touch_str(v->dim_param[d]);
    }
}

static void touch_model(const sf_onnx_model *m)
{
    touch_str(m->producer_name);
    touch_str(m->graph_name);
    if (m->nnodes < 0 || m->nnodes > SF_ONNX_MAX_NODES)
        abort();
    for (int i = 0; i < m->nopsets; i++)
        touch_str(m->opsets[i].domain);
    for (int i = 0; i < m->nnodes; i++) {
        const sf_onnx_node *n = &m->nodes[i];
        touch_str(n->op_type);
        touch_str(n->name);
        touch_str(n->domain);
        if (!*n->op_type)
            abort();
        for (int k = 0; k < n->ninputs; k++)
            touch_str(n->inputs[k]);
        for (int k = 0; k < n->noutputs; k++)
            touch_str(n->outputs[k]);
        for (int k = 0; k < n->nattrs; k++) {
            const sf_onnx_attr *a = &n->attrs[k];
            touch_str(a->name);
            if (a->s)
                touch_str(a->s);
            if (a->ref_attr_name)
                touch_str(a->ref_attr_name);
            if (a->t)
                touch_tensor(a->t);
            for (int j = 0; j < a->nfloats; j++)
                g_sink += (unsigned)(a->floats[j] == a->floats[j]);
            for (int j = 0; j < a->nints; j++)
                g_sink += (unsigned)a->ints[j];
            for (int j = 0; j < a->nstrings; j++)
                touch_str(a->strings[j]);
        }
    }
    for (int i = 0; i < m->ninits; i++)
        touch_tensor(&m->inits[i]);
    for (int i = 0; i < m->ninputs; i++)
        touch_value(&m->inputs[i]);
    for (int i = 0; i < m->noutputs; i++)
        touch_value(&m->outputs[i]);
    for (int i = 0; i < m->nvalue_info; i++)
        touch_value(&m->value_info[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t wsize;
    fuzz_setup(&wsize); /* quiet diagnostics (FUZZ_VERBOSE prints them) */
    sf_arena a;
    sf_arena_init(&a);
    /* an exact-size copy: a read past the end is a heap overflow */
    unsigned char *img = malloc(size ? size : 1);
    if (size)
        memcpy(img, data, size);
    sf_onnx_model m;
    sf_status s = sf_onnx_parse(&a, "fuzz.onnx", img, size, &m);
    if (s == SF_OK)
        touch_model(&m);
    else if (s != SF_EINPUT)
        abort(); /* memory does not run out here */
    free(img);
    sf_arena_free(&a);
    return 0;
}
