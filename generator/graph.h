/* graph.h - the model as loaded (desc), the weights file, and the graph IR
 * that every later stage (SPA, plan, pack, emit, report) reads and annotates. */
#ifndef SF_GRAPH_H
#define SF_GRAPH_H

#include "sf.h"

#define SF_MAX_RANK 8
#define SF_MAX_M 32                 /* largest M of an N:M pattern */
#define SF_MAX_DIM 2147483647LL     /* generated code indexes with int */
#define SF_MAX_ELEMS 2147483647LL   /* per tensor */
#define SF_MAX_NODES 4000           /* nodes per model (one source file per layer) */
#define SF_MAX_IO 64                /* graph inputs, graph outputs */

/* ---- load: model JSON as plain structs (load_json.c) --------------------- */

typedef struct {
    const char *name;
    int rank;
    int64_t dims[SF_MAX_RANK];      /* dims[0]: the maximum batch */
} sf_desc_input;

typedef struct {
    const char *op;                 /* as written */
    const char *name;               /* "<op>_<index>" when the model gives none */
    int index;                      /* position in "nodes" */
    const char **inputs;  int ninputs;
    const char **outputs; int noutputs;
    const char *weight, *bias;      /* safetensors names or NULL */
    const char *approximate;        /* gelu: "none" | "tanh" | NULL */
} sf_desc_node;

typedef struct {
    const char *path;               /* model file as given */
    const char *base;               /* its basename, for messages */
    const char *name;               /* C identifier */
    const char *weights_path;       /* resolved against the model's folder */
    sf_desc_input *inputs; int ninputs;
    const char **outputs;  int noutputs;
    sf_desc_node *nodes;   int nnodes;
} sf_desc;

void sf_json_use_hooks(void);
/* cJSON parse of exactly `len` bytes: trailing non-space text and \u0000
 * escapes are errors; on failure *errpos is the byte offset of the problem,
 * or SIZE_MAX when memory ran out. */
struct cJSON;
struct cJSON *sf_json_parse(const char *text, size_t len, size_t *errpos);
sf_status sf_load_json(sf_arena *a, const char *path, sf_desc *out);
sf_status sf_load_json_text(sf_arena *a, const char *path, const char *text,
                            size_t len, sf_desc *out);

/* ---- load: safetensors (load_safetensors.c) ------------------------------- */

typedef enum { SF_DT_F32, SF_DT_F16, SF_DT_BF16 } sf_dtype;

typedef struct {
    const char *name;
    sf_dtype dtype;
    int rank;
    int64_t dims[SF_MAX_RANK];
    size_t numel;
    const unsigned char *raw;       /* little-endian data inside the file image */
} sf_st_tensor;

typedef struct {
    const char *path, *base;
    const unsigned char *file; size_t file_size;
    sf_st_tensor *tensors; int ntensors;
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

typedef enum {
    SF_OP_LINEAR,       /* also `matmul` with a weight: stored transposed */
    SF_OP_RELU, SF_OP_GELU, SF_OP_SILU, SF_OP_SIGMOID, SF_OP_TANH,
    SF_OP_ADD, SF_OP_MUL,
    SF_OP_COUNT
} sf_op;

const char *sf_op_name(sf_op op);
int sf_op_is_unary(sf_op op);
int sf_op_keeps_zero(sf_op op);     /* f(0) == 0 */

/* SPA census of one weight [out][in]; the reduction axis is `in`. */
typedef struct {
    size_t numel, nnz;
    double density;
    int n_min[SF_MAX_M + 1];        /* [M]: max nonzeros in any group of M (M>=1) */
    double share_quarter[SF_MAX_M + 1]; /* [M]: groups with <= M/4 nonzeros */
    double share_half[SF_MAX_M + 1];    /* [M]: groups with <= M/2 nonzeros */
    int64_t zero_rows, zero_cols;
    int best_n, best_m;             /* N:M with the smallest N/M, M <= 32 */
} sf_census;

typedef enum { SF_K_DENSE, SF_K_NM_UNROLLED, SF_K_NM_COMPRESSED, SF_K_NM24 } sf_kernel;
typedef enum {
    SF_R_FORCED_DENSE,      /* --dense */
    SF_R_FORCED,            /* --kernel */
    SF_R_FASTEST,           /* lowest predicted time (kernels.c) */
    SF_R_FASTEST_OVER_BUDGET, /* the same, mask-unrolled excluded: over the code budget */
    SF_R_NOTHING_TO_COMPUTE /* every output channel is zero or unused */
} sf_reason;
const char *sf_kernel_name(sf_kernel k);
const char *sf_reason_name(sf_reason r);
const char *sf_reason_text(sf_reason r);

/* Plan and packed layout of one linear layer (plan.c, pack.c). */
struct sf_variant;
#define SF_MAX_VARIANTS 8   /* entries of the kernel registry (kernels.c) */

typedef struct {
    sf_kernel kernel;
    const struct sf_variant *variant; /* registry entry: kernel and tile sizes */
    sf_reason reason;
    double cost_s[SF_MAX_VARIANTS]; /* predicted seconds per variant; < 0: not eligible */
    int n, m;                       /* the N:M the kernel groups inputs by */
    int *rows; int nrows;           /* computed output rows, ascending */
    int *zero_rows; int nzero_rows; /* rows written as 0 (zero or unused) */
    int *cols; int ncols;           /* input columns that can contribute */
    size_t nnz;                     /* nonzeros in rows x cols */
    int *row_nnz;                   /* [nrows] nonzeros of each computed row */
    int64_t tokens;                 /* tokens of one call at the largest batch */
    int fits_24;                    /* every computed row is 2:4 (aligned groups of 4) */
    int row_block;                  /* rows per register block */
    int tile_vecs;                  /* token vectors per tile (SF_LANES tokens each) */
    /* blob offsets (bytes) of this layer's sections, set by pack */
    size_t off_w, off_rows, off_rowptr, off_col, off_cols, off_zero_rows;
    int col_u16;                    /* compressed: 16-bit column indices */
    char fn[96];                    /* C identifier of the layer function */
} sf_plan;

typedef struct {
    const char *weight_name, *bias_name;
    int from_matmul;                /* weight was [in][out] in the file */
    int64_t out, in;
    float *w;                       /* [out][in] */
    float *bias;                    /* [out] or NULL */
    sf_census census;
    sf_plan plan;
} sf_linear;

typedef struct {
    const char *name;
    int rank;
    int64_t dims[SF_MAX_RANK];      /* dims[0]: the maximum batch */
    int producer;                   /* node index, -1 for a graph input */
    int input_index, output_index;  /* -1 unless a graph input / output */
    int nconsumers;
    /* SPA, per channel (last dim): */
    unsigned char *zero;            /* [channels] exactly zero everywhere */
    unsigned char *needed;          /* [channels] read by some consumer */
    size_t arena_offset;            /* bytes, for intermediates */
} sf_tensor;

typedef struct {
    sf_op op;
    const char *op_written;         /* e.g. "matmul" for a linear */
    const char *name;
    int json_index;
    int in[2], nin;
    int out;
    int gelu_tanh;
    sf_linear *lin;                 /* SF_OP_LINEAR only */
} sf_node;

typedef struct {
    sf_arena arena;                 /* owns everything below */
    const char *name;
    const char *model_base;         /* basename of the model file */
    sf_tensor *tensors; int ntensors;
    sf_node *nodes; int nnodes;
    int *order;                     /* topological order of nodes */
    int *inputs; int ninputs;       /* tensor ids */
    int *outputs; int noutputs;     /* tensor ids */
} sf_graph;

static inline int64_t sf_tensor_channels(const sf_tensor *t) { return t->dims[t->rank - 1]; }
/* elements per batch item */
int64_t sf_tensor_inner(const sf_tensor *t);

/* verify.c: desc + weights -> checked graph. On failure the graph is freed. */
sf_status sf_graph_build(const sf_desc *d, const sf_safetensors *st, sf_graph *g);
void sf_graph_free(sf_graph *g);
/* Loads model JSON and its weights, verifies, builds the IR. */
sf_status sf_graph_load(const char *model_path, sf_graph *g);

#endif
