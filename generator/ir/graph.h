/* graph.h - the model as loaded (desc), the weights file, and the graph IR
 * that every later stage (SPA, plan, pack, emit, report) reads and annotates. */
#ifndef SF_GRAPH_H
#define SF_GRAPH_H

#include "core/sf.h"

#define SF_MAX_RANK  8
#define SF_MAX_M     32           /* largest M of an N:M pattern */
#define SF_MAX_DIM   2147483647LL /* generated code indexes with int */
#define SF_MAX_ELEMS 2147483647LL /* per tensor */
/* SPA analyses a tensor's channels when it has at most SF_SPA_MAX_CHANNELS
 * and the graph's analysed channels stay within SF_SPA_MAX_TOTAL: bounded
 * time and memory whatever the shapes (docs/ARCHITECTURE.md). */
#define SF_SPA_MAX_CHANNELS (1LL << 22)
#define SF_SPA_MAX_TOTAL    (1LL << 24)
#define SF_MAX_NODES        4000               /* nodes per model (one source file per layer) */
#define SF_MAX_IO           64                 /* graph inputs, graph outputs */
#define SF_MAX_MODEL_BYTES  ((size_t)64 << 20) /* model JSON file */

/* ---- load: model JSON as plain structs (load_json.c) --------------------- */

/* The element type of a graph input as the caller passes it. Integer inputs
 * (token ids, masks) are converted to float on entry to the run function. */
typedef enum { SF_IO_F32 = 0, SF_IO_I64, SF_IO_I32 } sf_io_dtype;

typedef struct {
    const char *name;
    int rank;
    int64_t dims[SF_MAX_RANK]; /* dims[0]: the maximum batch */
    sf_io_dtype dtype;
} sf_desc_input;

/* A node attribute as written (load_json.c); verify.c checks it per op. */
typedef enum { SF_ATTR_INTS, SF_ATTR_NUMBER, SF_ATTR_STRING, SF_ATTR_BOOL } sf_attr_kind;
typedef struct {
    const char *key;
    sf_attr_kind kind;
    int n, scalar; /* INTS: count; scalar: written as a plain number */
    int64_t ints[SF_MAX_RANK];
    double num;      /* NUMBER (and INTS when scalar) */
    const char *str; /* STRING */
    int flag;        /* BOOL */
} sf_desc_attr;

typedef struct {
    const char *op;   /* as written */
    const char *name; /* "<op>_<index>" when the model gives none */
    int index;        /* position in "nodes" */
    const char **inputs;
    int ninputs;
    const char **outputs;
    int noutputs;
    const char *weight, *bias; /* safetensors names or NULL */
    const char *approximate;   /* gelu: "none" | "tanh" | NULL */
    sf_desc_attr *attrs;
    int nattrs; /* every other key */
} sf_desc_node;

typedef struct {
    const char *path;         /* model file as given */
    const char *base;         /* its basename, for messages */
    const char *name;         /* C identifier */
    const char *weights_path; /* resolved against the model's folder */
    sf_desc_input *inputs;
    int ninputs;
    const char **outputs;
    int noutputs;
    sf_desc_node *nodes;
    int nnodes;
} sf_desc;

void sf_json_use_hooks(void);
/* cJSON parse of exactly `len` bytes, held to RFC 8259 where cJSON is
 * lenient: a byte order mark, trailing non-space text, numbers outside the
 * RFC grammar (a leading zero as in 016, 1., -.5) and \u0000 escapes are
 * errors. On failure *errpos is the byte offset of the problem, or SIZE_MAX
 * when memory ran out, and *why (when not NULL) says what it is, or is NULL
 * for cJSON's own syntax errors. Numbers written with a fraction or an
 * exponent (2.0, 2e0) carry SF_JSON_NOT_INTEGER in their type. */
struct cJSON;
struct cJSON *sf_json_parse(const char *text, size_t len, size_t *errpos, const char **why);
#define SF_JSON_NOT_INTEGER (1 << 12) /* above cJSON's own type flags */
sf_status sf_load_json(sf_arena *a, const char *path, sf_desc *out);
sf_status sf_load_json_text(sf_arena *a, const char *path, const char *text, size_t len,
                            sf_desc *out);

/* ---- load: safetensors (load_safetensors.c) ------------------------------- */

typedef enum { SF_DT_F32, SF_DT_F16, SF_DT_BF16 } sf_dtype;

typedef struct {
    const char *name;
    sf_dtype dtype;
    int rank;
    int64_t dims[SF_MAX_RANK];
    size_t numel;
    const unsigned char *raw; /* little-endian data inside the file image */
} sf_st_tensor;

typedef struct {
    const char *path, *base;
    const unsigned char *file;
    size_t file_size;
    sf_st_tensor *tensors;
    int ntensors;
    sf_index by_name; /* name -> index in tensors (in the arena) */
} sf_safetensors;

sf_status sf_load_safetensors(sf_arena *a, const char *path, sf_safetensors *out);
/* Parses an in-memory image (the file is borrowed, not copied). */
sf_status sf_parse_safetensors(sf_arena *a, const char *path, const unsigned char *file,
                               size_t size, sf_safetensors *out);
const sf_st_tensor *sf_safetensors_find(const sf_safetensors *st, const char *name);
/* Converts to f32 (exactly: F16 and BF16 are subsets of f32). */
void sf_tensor_to_f32(const sf_st_tensor *t, float *dst);
float sf_f16_to_f32(uint16_t h);
float sf_bf16_to_f32(uint16_t h);

/* ---- graph IR (built by verify.c) ---------------------------------------------- */

/* Ops: one row each in ir/ops.def; their descriptors are in ir/op.h. */
typedef enum {
#define SF_OP(id, ...) SF_OP_##id,
#include "ir/ops.def"
#undef SF_OP
    SF_OP_COUNT
} sf_op;

#define SF_MAX_NODE_IN 16 /* inputs of one node (concat) */

const char *sf_op_name(sf_op op);
int sf_op_is_unary(sf_op op);   /* elementwise on one input (ops/unary.c) */
int sf_op_keeps_zero(sf_op op); /* f(0) == 0, channel by channel */

/* SPA census of one weight [out][in]; the reduction axis is `in`. */
typedef struct {
    size_t numel, nnz;
    double density;
    int n_min[SF_MAX_M + 1];            /* [M]: max nonzeros in any group of M (M>=1) */
    double share_quarter[SF_MAX_M + 1]; /* [M]: groups with <= M/4 nonzeros */
    double share_half[SF_MAX_M + 1];    /* [M]: groups with <= M/2 nonzeros */
    int64_t zero_rows, zero_cols;
    int best_n, best_m; /* N:M with the smallest N/M, M <= 32 */
} sf_census;

typedef enum { SF_K_DENSE, SF_K_NM_UNROLLED, SF_K_NM_COMPRESSED, SF_K_NM24 } sf_kernel;
typedef enum {
    SF_R_FORCED_DENSE,        /* --dense */
    SF_R_FORCED,              /* --kernel */
    SF_R_FASTEST,             /* lowest predicted time (kernels.c) */
    SF_R_FASTEST_OVER_BUDGET, /* the same, mask-unrolled excluded: over the code budget */
    SF_R_NOTHING_TO_COMPUTE   /* every output channel is zero or unused */
} sf_reason;
const char *sf_kernel_name(sf_kernel k);
const char *sf_reason_name(sf_reason r);
const char *sf_reason_text(sf_reason r);

/* The CUDA backend's kernels and dtypes (its plan of a layer, sf_gplan, is
 * in its side table: backends/cuda/cuda.h). */
typedef enum { SF_G_DENSE, SF_G_SP24, SF_G_ELL, SF_G_COUNT } sf_gkernel;
typedef enum { SF_GPU_BF16, SF_GPU_F16, SF_GPU_F32 } sf_gpu_dtype;

typedef struct {
    const char *weight_name, *bias_name;
    int from_matmul;         /* weight was [in][out] in the file */
    int64_t tokens_per_item; /* rows of x per batch item (conv: output pixels) */
    int64_t k_per_chan;      /* columns per input channel (conv: kh*kw) */
    int chan_cols;           /* the input's SPA channels map onto columns */
    int chan_rows;           /* the output's SPA channels are its rows */
    int64_t out, in;
    float *w;    /* [out][in] */
    float *bias; /* [out] or NULL */
    sf_census census;
    int node; /* its node's index: backends' side tables are indexed by it */
} sf_linear;

typedef struct {
    const char *name;
    int rank;
    int64_t dims[SF_MAX_RANK];     /* dims[0]: the maximum batch */
    int producer;                  /* node index, -1 for a graph input */
    int input_index, output_index; /* -1 unless a graph input / output */
    int nconsumers;
    /* SPA, per channel (last dim): */
    unsigned char *zero;   /* [channels] exactly zero everywhere; NULL: not analysed */
    unsigned char *needed; /* [channels] read by some consumer; NULL: not analysed */
    size_t arena_offset;   /* bytes, for intermediates */
    int dropped;           /* no longer produced (a folded batch norm took it over) */
    /* A constant (ops/constant.c): dims[0] is 1, not the batch, at every
     * batch; its values live in the weights blob, not in the arena. */
    int is_const;
} sf_tensor;

/* Operator attributes after verify: normalised (axes >= 0, pads filled). */
typedef struct {
    int64_t kernel[2], stride[2], dilation[2], pad[4]; /* pad: top, left, bottom, right */
    int64_t groups;
    int axis;
    float eps;
    int perm[SF_MAX_RANK];
    int64_t start, end, step; /* slice, on `axis` */
    int heads, causal;        /* attention */
    int64_t cache;            /* attention: tokens its key/value cache holds, 0: none */
    double a, b;              /* parameters of an elementwise function (clip: bounds) */
    int keepdims;             /* reductions */
    unsigned axes;            /* reductions: bit i set when axis i is reduced */
} sf_attrs;

/* A weight an op reads besides a linear layer's (norm scales, tables). */
typedef struct {
    const char *what;
    float *data;
    int64_t n;
    size_t off; /* blob offset, set by pack */
} sf_const;
#define SF_MAX_CONSTS 4

typedef struct {
    sf_op op;
    const char *op_written; /* e.g. "matmul" for a linear */
    const char *name;
    int json_index;
    int in[SF_MAX_NODE_IN], nin;
    int out;
    int gelu_tanh;
    int folded; /* a batch norm merged into the conv before it */
    sf_attrs at;
    sf_const cst[SF_MAX_CONSTS];
    int ncst;
    sf_linear *lin;    /* SF_OP_LINEAR, and SF_OP_CONV2D with groups == 1 */
    size_t temp_bytes; /* arena scratch of this step alone, at the max batch */
    size_t temp_offset;
    size_t cache_offset; /* cached attention: float offset of its keys in the cache */
} sf_node;

typedef struct {
    sf_arena arena; /* owns everything below */
    const char *name;
    const char *model_base;   /* basename of the model file */
    const char *weights_path; /* the weights file read, resolved */
    sf_tensor *tensors;
    int ntensors;
    sf_node *nodes;
    int nnodes;
    int *order; /* topological order of the nodes that run */
    int nsteps; /* entries of order: nnodes less folded batch norms */
    int *inputs;
    int ninputs; /* tensor ids */
    int *outputs;
    int noutputs;                        /* tensor ids */
    size_t arena_bytes, arena_live_peak; /* set by the CPU plan's arena pass */
    int arena_static;                    /* the arena is also a static array (--static-arena) */
    int external_weights;                /* --external-weights: blob read at run time */
    /* Key/value cache (attention nodes with a `cache` attribute; see ops/attention.c). */
    int64_t cache_tokens;       /* positions the cache holds, 0: the model has none */
    int64_t cache_step;         /* tokens one cached run appends (the query length) */
    size_t cache_floats;        /* whole cache at the maximum batch */
    uint64_t cache_layout;      /* hash of the layout: equal for models that may share one */
    int target_cuda;            /* emit the CUDA library too (--target cuda) */
    struct sf_cpu_layers *cpu;  /* the CPU backend's side table (backends/cpu/plan.c) */
    struct sf_cuda_steps *cuda; /* the CUDA backend's side table (plan_cuda.c) */
    sf_gpu_dtype gpu_dtype;     /* --gpu-dtype */
} sf_graph;

/* The axis SPA tracks channels on: 1 for NCHW images (rank 4), else the last. */
static inline int sf_tensor_chan_axis(const sf_tensor *t)
{
    return t->rank == 4 ? 1 : t->rank - 1;
}
static inline int64_t sf_tensor_channels(const sf_tensor *t)
{
    return t->dims[sf_tensor_chan_axis(t)];
}
/* Whether input column k of a linear layer is known zero (SPA). */
static inline int sf_linear_col_zero(const sf_linear *L, const sf_tensor *in, int64_t k)
{
    return L->chan_cols && in->zero && in->zero[k / L->k_per_chan];
}
/* SPA's per-channel facts; a tensor SPA does not analyse (too many channels,
 * docs/ARCHITECTURE.md) has none: no channel known zero, every one needed. */
static inline int sf_tensor_zero(const sf_tensor *t, int64_t c)
{
    return t->zero && t->zero[c];
}
static inline int sf_tensor_needed(const sf_tensor *t, int64_t c)
{
    return !t->needed || t->needed[c];
}
/* elements per batch item */
int64_t sf_tensor_inner(const sf_tensor *t);

/* A source of named weight tensors (a safetensors file today; ONNX
 * initializers next): verify reads weights only through it. */
typedef struct sf_weights {
    const char *base; /* the file, for messages */
    /* The tensor called `name`, or NULL. */
    const sf_st_tensor *(*find)(const struct sf_weights *w, const char *name);
    const void *ctx;
} sf_weights;
/* The weights of a parsed safetensors file (load_safetensors.c). */
sf_weights sf_safetensors_weights(const sf_safetensors *st);

/* verify.c: desc + weights -> checked graph. On failure the graph is freed. */
sf_status sf_graph_build(const sf_desc *d, const sf_weights *w, sf_graph *g);
void sf_graph_free(sf_graph *g);
/* Loads model JSON and its weights, or an ONNX file, verifies, builds the IR. */
sf_status sf_graph_load(const char *model_path, sf_graph *g);
/* The same with --shape bindings of symbolic input dimensions (ONNX only). */
struct sf_shape_binding;
sf_status sf_graph_load_shapes(const char *model_path, const struct sf_shape_binding *shapes,
                               int nshapes, sf_graph *g);

#endif
