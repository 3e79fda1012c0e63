/* onnx.h - an ONNX model as plain structs, read by the project's own
 * protobuf wire-format reader (onnx_pb.c), and its import into a model
 * description and weights (onnx_import.c). docs/FORMATS.md, "ONNX".
 *
 * The reader borrows the file image: raw_data and strings point into it or
 * into the arena; nothing is copied that need not be. Every length, offset
 * and count is checked against the buffer before use. */
#ifndef SF_ONNX_H
#define SF_ONNX_H

#include "ir/graph.h"

/* TensorProto.DataType values that the importer knows. */
enum {
    SF_ONNX_FLOAT = 1,
    SF_ONNX_UINT8 = 2,
    SF_ONNX_INT8 = 3,
    SF_ONNX_UINT16 = 4,
    SF_ONNX_INT16 = 5,
    SF_ONNX_INT32 = 6,
    SF_ONNX_INT64 = 7,
    SF_ONNX_STRING = 8,
    SF_ONNX_BOOL = 9,
    SF_ONNX_FLOAT16 = 10,
    SF_ONNX_DOUBLE = 11,
    SF_ONNX_UINT32 = 12,
    SF_ONNX_UINT64 = 13,
    SF_ONNX_BFLOAT16 = 16
};
/* Bytes of one element of `dtype`, 0 for types without a fixed size
 * (string) or unknown ones. */
size_t sf_onnx_dtype_size(int dtype);
const char *sf_onnx_dtype_name(int dtype); /* "float", "int64", ..., "type 42" never NULL */

typedef struct {
    const char *name; /* "" when the file gives none */
    int dtype;        /* TensorProto.DataType */
    int rank;
    int64_t dims[SF_MAX_RANK];
    size_t numel;
    /* The elements, little-endian, numel * sf_onnx_dtype_size(dtype) bytes:
     * raw_data borrowed from the image, or the typed repeated field
     * (float_data, int32_data, int64_data, double_data, uint64_data)
     * decoded into the arena. NULL while external (see below); nbytes is
     * set either way (0 for a type without a size). */
    const unsigned char *data;
    size_t nbytes;
    /* data_location EXTERNAL: the external_data entries. */
    int external;
    const char *location;   /* relative path, as written */
    int64_t offset, length; /* -1 when not given */
} sf_onnx_tensor;

/* AttributeProto.AttributeType */
enum {
    SF_ONNX_AT_FLOAT = 1,
    SF_ONNX_AT_INT = 2,
    SF_ONNX_AT_STRING = 3,
    SF_ONNX_AT_TENSOR = 4,
    SF_ONNX_AT_GRAPH = 5,
    SF_ONNX_AT_FLOATS = 6,
    SF_ONNX_AT_INTS = 7,
    SF_ONNX_AT_STRINGS = 8,
    /* read as their type only: the values are not decoded */
    SF_ONNX_AT_TENSORS = 9,
    SF_ONNX_AT_GRAPHS = 10,
    SF_ONNX_AT_SPARSE_TENSOR = 11,
    SF_ONNX_AT_SPARSE_TENSORS = 12,
    SF_ONNX_AT_TYPE_PROTO = 13,
    SF_ONNX_AT_TYPE_PROTOS = 14
};

typedef struct {
    const char *name;
    int type;          /* as written, or inferred from the field present when 0 */
    float f;           /* FLOAT */
    int64_t i;         /* INT */
    const char *s;     /* STRING (NUL-terminated copy; an embedded NUL is an error) */
    sf_onnx_tensor *t; /* TENSOR */
    float *floats;     /* FLOATS */
    int nfloats;
    int64_t *ints; /* INTS */
    int nints;
    const char **strings; /* STRINGS */
    int nstrings;
    const char *ref_attr_name; /* functions only; reported as unsupported */
} sf_onnx_attr;

typedef struct {
    const char *op_type, *name, *domain; /* name/domain "" when absent */
    const char **inputs;                 /* "" marks an omitted optional input */
    int ninputs;
    const char **outputs;
    int noutputs;
    sf_onnx_attr *attrs;
    int nattrs;
} sf_onnx_node;

/* ValueInfoProto with a tensor type. */
typedef struct {
    const char *name;
    int elem_type;                      /* 0 when not given */
    int rank;                           /* -1 when the shape is not given */
    int64_t dims[SF_MAX_RANK];          /* -1 where symbolic or unknown */
    const char *dim_param[SF_MAX_RANK]; /* the symbol, or NULL */
    /* the TypeProto case: "tensor", "" when no type is given, else
     * "sparse_tensor", "sequence", "map", "optional" or "opaque" (only a
     * tensor or sparse_tensor fills elem_type, rank and dims) */
    const char *kind;
} sf_onnx_value;

typedef struct {
    int64_t version;
    const char *domain; /* "" is ai.onnx */
} sf_onnx_opset;

typedef struct {
    const char *path, *base; /* the file, for messages */
    int64_t ir_version;
    const char *producer_name, *graph_name;
    sf_onnx_opset *opsets;
    int nopsets;
    int64_t opset; /* the ai.onnx opset, 0 when not imported */
    sf_onnx_node *nodes;
    int nnodes;
    sf_onnx_tensor *inits; /* initializers */
    int ninits;
    sf_onnx_value *inputs, *outputs, *value_info;
    int ninputs, noutputs, nvalue_info;
    int nsparse_inits; /* sparse_initializer entries: counted, not read */
    int nfunctions;    /* model-local functions: counted, not read */
} sf_onnx_model;

/* Limits that bound the reader's time and memory on hostile input. */
#define SF_ONNX_MAX_DEPTH 8      /* nested messages followed */
#define SF_ONNX_MAX_NODES 100000 /* nodes in the main graph */
#define SF_ONNX_MAX_FILE  ((size_t)1 << 40)

/* Parses a ModelProto from `len` bytes of `buf` (borrowed). Errors name
 * the file, the message and the field ("model.onnx: graph.node[3] 'Conv_0': attribute
 * 'pads': ..."). Returns SF_EINPUT on malformed input, SF_EINTERNAL when
 * memory runs out. */
sf_status sf_onnx_parse(sf_arena *a, const char *path, const unsigned char *buf, size_t len,
                        sf_onnx_model *out);

/* Reads the file at `path` (a regular file of at most SF_ONNX_MAX_FILE
 * bytes, into `a`) and parses it as sf_onnx_parse does. */
sf_status sf_onnx_read(sf_arena *a, const char *path, sf_onnx_model *out);

/* ---- import (onnx_import.c) ---------------------------------------------- */

/* A --shape binding: NAME=D0xD1x... */
typedef struct sf_shape_binding {
    const char *name;
    int rank;
    int64_t dims[SF_MAX_RANK];
} sf_shape_binding;

/* Reads `path` (and external data beside it), folds what does not depend
 * on the inputs, rewrites the graph onto the op table and returns a model
 * description and its weights, both owned by `a`. */
sf_status sf_onnx_load(sf_arena *a, const char *path, const sf_shape_binding *shapes, int nshapes,
                       sf_desc *d, sf_weights *w);
/* The ONNX ops the importer maps, "Abs, Add, ...". */
void sf_onnx_op_list(char *buf, size_t n);
/* Whether `path` names an ONNX file (by its .onnx suffix). */
int sf_onnx_is_model(const char *path);

#endif
