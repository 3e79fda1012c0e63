/* onnx_pb.c - an ONNX ModelProto read from the protobuf wire format into
 * the plain structs of onnx.h (docs/FORMATS.md, "ONNX"). Only the fields
 * the importer uses are decoded; every other field is skipped by its wire
 * type. Each message is read in two passes over its bytes: the first checks
 * the framing (varints, lengths, wire types) and counts the repeated
 * fields, the second decodes into arrays sized by those counts, so no
 * allocation is ever sized by a number read from the file. */
#include "frontends/onnx.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* ---- data types ------------------------------------------------------------ */

size_t sf_onnx_dtype_size(int dtype)
{
    switch (dtype) {
    case SF_ONNX_FLOAT: return 4;
    case SF_ONNX_UINT8: return 1;
    case SF_ONNX_INT8: return 1;
    case SF_ONNX_UINT16: return 2;
    case SF_ONNX_INT16: return 2;
    case SF_ONNX_INT32: return 4;
    case SF_ONNX_INT64: return 8;
    case SF_ONNX_BOOL: return 1;
    case SF_ONNX_FLOAT16: return 2;
    case SF_ONNX_DOUBLE: return 8;
    case SF_ONNX_UINT32: return 4;
    case SF_ONNX_UINT64: return 8;
    case SF_ONNX_BFLOAT16: return 2;
    default: return 0;
    }
}

const char *sf_onnx_dtype_name(int dtype)
{
    static const char *const names[] = {
        "undefined",      "float",      "uint8",          "int8",       "uint16",   "int16",
        "int32",          "int64",      "string",         "bool",       "float16",  "double",
        "uint32",         "uint64",     "complex64",      "complex128", "bfloat16", "float8e4m3fn",
        "float8e4m3fnuz", "float8e5m2", "float8e5m2fnuz", "uint4",      "int4",     "float4e2m1"};
    static _Thread_local char other[32];
    if (dtype >= 0 && dtype < (int)(sizeof names / sizeof names[0]))
        return names[dtype];
    snprintf(other, sizeof other, "type %d", dtype);
    return other;
}

/* ---- the wire format --------------------------------------------------------
 * A message is a sequence of (key, value); key = field << 3 | wire type.
 * Wire types: 0 varint, 1 fixed 64 bits, 2 length-delimited, 5 fixed 32
 * bits; 3 and 4 (groups) are not used by onnx.proto and refused. */

/* How a known field is encoded. Repeated numbers may come packed (one
 * length-delimited run) or one per key; a reader must accept both. */
enum { F_NONE, F_VAR, F_F32, F_LEN, F_RVAR, F_RF32, F_RF64 };

typedef struct {
    const char *name;
    unsigned char kind;
} fdesc;

typedef struct {
    int n;
    const fdesc *f;
} mdesc;

#define MD(tab)                                \
    {                                          \
        (int)(sizeof tab / sizeof tab[0]), tab \
    }

/* Field numbers from onnx.proto (docs/FORMATS.md, "ONNX"). */
static const fdesc model_f[] = {[1] = {"ir_version", F_VAR},
                                [2] = {"producer_name", F_LEN},
                                [3] = {"producer_version", F_LEN},
                                [4] = {"domain", F_LEN},
                                [5] = {"model_version", F_VAR},
                                [6] = {"doc_string", F_LEN},
                                [7] = {"graph", F_LEN},
                                [8] = {"opset_import", F_LEN},
                                [14] = {"metadata_props", F_LEN},
                                [20] = {"training_info", F_LEN},
                                [25] = {"functions", F_LEN}};
static const fdesc opset_f[] = {[1] = {"domain", F_LEN}, [2] = {"version", F_VAR}};
static const fdesc graph_f[] = {[1] = {"node", F_LEN},
                                [2] = {"name", F_LEN},
                                [5] = {"initializer", F_LEN},
                                [10] = {"doc_string", F_LEN},
                                [11] = {"input", F_LEN},
                                [12] = {"output", F_LEN},
                                [13] = {"value_info", F_LEN},
                                [14] = {"quantization_annotation", F_LEN},
                                [15] = {"sparse_initializer", F_LEN},
                                [16] = {"metadata_props", F_LEN}};
static const fdesc node_f[] = {
    [1] = {"input", F_LEN},   [2] = {"output", F_LEN},    [3] = {"name", F_LEN},
    [4] = {"op_type", F_LEN}, [5] = {"attribute", F_LEN}, [6] = {"doc_string", F_LEN},
    [7] = {"domain", F_LEN},  [8] = {"overload", F_LEN},  [9] = {"metadata_props", F_LEN}};
static const fdesc attr_f[] = {[1] = {"name", F_LEN},
                               [2] = {"f", F_F32},
                               [3] = {"i", F_VAR},
                               [4] = {"s", F_LEN},
                               [5] = {"t", F_LEN},
                               [6] = {"g", F_LEN},
                               [7] = {"floats", F_RF32},
                               [8] = {"ints", F_RVAR},
                               [9] = {"strings", F_LEN},
                               [10] = {"tensors", F_LEN},
                               [11] = {"graphs", F_LEN},
                               [13] = {"doc_string", F_LEN},
                               [14] = {"tp", F_LEN},
                               [15] = {"type_protos", F_LEN},
                               [20] = {"type", F_VAR},
                               [21] = {"ref_attr_name", F_LEN},
                               [22] = {"sparse_tensor", F_LEN},
                               [23] = {"sparse_tensors", F_LEN}};
static const fdesc tensor_f[] = {[1] = {"dims", F_RVAR},          [2] = {"data_type", F_VAR},
                                 [3] = {"segment", F_LEN},        [4] = {"float_data", F_RF32},
                                 [5] = {"int32_data", F_RVAR},    [6] = {"string_data", F_LEN},
                                 [7] = {"int64_data", F_RVAR},    [8] = {"name", F_LEN},
                                 [9] = {"raw_data", F_LEN},       [10] = {"double_data", F_RF64},
                                 [11] = {"uint64_data", F_RVAR},  [12] = {"doc_string", F_LEN},
                                 [13] = {"external_data", F_LEN}, [14] = {"data_location", F_VAR},
                                 [16] = {"metadata_props", F_LEN}};
static const fdesc entry_f[] = {[1] = {"key", F_LEN}, [2] = {"value", F_LEN}};
static const fdesc value_f[] = {[1] = {"name", F_LEN},
                                [2] = {"type", F_LEN},
                                [3] = {"doc_string", F_LEN},
                                [4] = {"metadata_props", F_LEN}};
static const fdesc type_f[] = {[1] = {"tensor_type", F_LEN},  [4] = {"sequence_type", F_LEN},
                               [5] = {"map_type", F_LEN},     [6] = {"denotation", F_LEN},
                               [7] = {"opaque_type", F_LEN},  [8] = {"sparse_tensor_type", F_LEN},
                               [9] = {"optional_type", F_LEN}};
static const fdesc ttype_f[] = {[1] = {"elem_type", F_VAR}, [2] = {"shape", F_LEN}};
static const fdesc elem_f[] = {[1] = {"elem_type", F_LEN}}; /* sequence, optional */
static const fdesc map_f[] = {[1] = {"key_type", F_VAR}, [2] = {"value_type", F_LEN}};
static const fdesc shape_f[] = {[1] = {"dim", F_LEN}};
static const fdesc dim_f[] = {
    [1] = {"dim_value", F_VAR}, [2] = {"dim_param", F_LEN}, [3] = {"denotation", F_LEN}};

static const mdesc MODEL = MD(model_f), OPSET = MD(opset_f), GRAPH = MD(graph_f), NODE = MD(node_f),
                   ATTR = MD(attr_f), TENSOR = MD(tensor_f), ENTRY = MD(entry_f),
                   VALUE = MD(value_f), TYPE = MD(type_f), TTYPE = MD(ttype_f), ELEM = MD(elem_f),
                   MAP = MD(map_f), SHAPE = MD(shape_f), DIM = MD(dim_f);

/* Fields below this number are counted and remembered by the first pass;
 * onnx.proto's fields that matter here are all below it. */
#define NF 32

typedef struct {
    sf_arena *a;
    const char *base;
} rd;

typedef struct {
    uint32_t num;
    int wt;
    uint64_t v;             /* wire types 0, 1, 5 */
    const unsigned char *b; /* wire type 2 */
    size_t n;
} pb_field;

/* What the first pass learns of one message. */
typedef struct {
    size_t count[NF];              /* occurrences; values for repeated numbers */
    const unsigned char *last[NF]; /* the last occurrence of a length-delimited field */
    size_t lastn[NF];
} pb_scan;

/* Messages' "where" prefixes: nested labels, cut at WLEN bytes. */
#define WLEN 1024

static void wset(char *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void wset(char *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w, WLEN, fmt, ap);
    va_end(ap);
}

static sf_status oom(void)
{
    return sf_error(SF_EINTERNAL, NULL, "out of memory");
}

/* 0 ok, -1 truncated, -2 longer than 10 bytes or beyond 64 bits. */
static int get_varint(const unsigned char **pp, const unsigned char *end, uint64_t *v)
{
    const unsigned char *p = *pp;
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        if (p == end)
            return -1;
        unsigned c = *p++;
        if (i == 9 && c > 1)
            return -2;
        x |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            *pp = p;
            *v = x;
            return 0;
        }
    }
    return -2;
}

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t x = 0;
    for (int i = n - 1; i >= 0; i--)
        x = x << 8 | p[i];
    return x;
}

/* A name from the file, for messages: at most 120 bytes, control bytes
 * shown as '?'. */
static void show(char *dst, size_t cap, const unsigned char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && i < 120 && k + 1 < cap; i++) {
        if (!s[i])
            break;
        dst[k++] = s[i] < 0x20 || s[i] == 0x7f ? '?' : (char)s[i];
    }
    dst[k] = 0;
}

/* "where: field 'name'" (or "field 17" for a field onnx.proto does not name
 * here). */
static void where_field(char *w, const char *where, const mdesc *md, uint32_t num)
{
    if (num < (uint32_t)md->n && md->f[num].name)
        wset(w, "%s: field '%s'", where, md->f[num].name);
    else
        wset(w, "%s: field %u", where, (unsigned)num);
}

static sf_status field_error(const char *where, const mdesc *md, uint32_t num, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static sf_status field_error(const char *where, const mdesc *md, uint32_t num, const char *fmt, ...)
{
    char w[WLEN], msg[512];
    where_field(w, where, md, num);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sf_error(SF_EINPUT, w, "%s", msg);
}

/* Reports unless quiet (where NULL), then fails. */
#define FAIL(report)        \
    do {                    \
        if (where)          \
            (void)(report); \
        return -1;          \
    } while (0)

/* The next field of the message in [*pp, end): 1 read, 0 at the end, or -1
 * after reporting the error (quietly when `where` is NULL). Known fields must have their
 * wire type; unknown ones are skipped by theirs. */
static int pb_next(const char *where, const mdesc *md, const unsigned char **pp,
                   const unsigned char *end, pb_field *f)
{
    if (*pp == end)
        return 0;
    uint64_t key;
    int rc = get_varint(pp, end, &key);
    if (rc)
        FAIL(sf_error(SF_EINPUT, where, "%s in a field key",
                      rc == -1 ? "truncated varint" : "varint longer than 10 bytes"));
    if (key >> 3 == 0 || key >> 3 > 0x1fffffff)
        FAIL(sf_error(SF_EINPUT, where, "invalid field number %llu",
                      (unsigned long long)(key >> 3)));
    f->num = (uint32_t)(key >> 3);
    f->wt = (int)(key & 7);
    f->b = NULL;
    f->n = 0;
    f->v = 0;
    size_t left;
    switch (f->wt) {
    case 0:
        rc = get_varint(pp, end, &f->v);
        if (rc)
            FAIL(field_error(where, md, f->num, "%s",
                             rc == -1 ? "truncated varint" : "varint longer than 10 bytes"));
        break;
    case 1:
    case 5: {
        int k = f->wt == 1 ? 8 : 4;
        if ((size_t)(end - *pp) < (size_t)k)
            FAIL(field_error(where, md, f->num, "%d-byte value past the end (%zu bytes left)", k,
                             (size_t)(end - *pp)));
        f->v = get_le(*pp, k);
        *pp += k;
        break;
    }
    case 2: {
        uint64_t n;
        rc = get_varint(pp, end, &n);
        if (rc)
            FAIL(field_error(where, md, f->num, "%s in the length",
                             rc == -1 ? "truncated varint" : "varint longer than 10 bytes"));
        left = (size_t)(end - *pp);
        if (n > left)
            FAIL(field_error(where, md, f->num, "length %llu past the end (%zu bytes left)",
                             (unsigned long long)n, left));
        f->b = *pp;
        f->n = (size_t)n;
        *pp += n;
        break;
    }
    case 3:
    case 4: FAIL(field_error(where, md, f->num, "wire type %d (group) is not supported", f->wt));
    default: FAIL(field_error(where, md, f->num, "invalid wire type %d", f->wt));
    }
    int kind = f->num < (uint32_t)md->n ? md->f[f->num].kind : F_NONE;
    static const int want[] = {
        [F_VAR] = 0, [F_F32] = 5, [F_LEN] = 2, [F_RVAR] = 0, [F_RF32] = 5, [F_RF64] = 1};
    if (kind != F_NONE && f->wt != want[kind] && !(kind >= F_RVAR && f->wt == 2))
        FAIL(field_error(where, md, f->num, "wire type %d, expected %d", f->wt, want[kind]));
    return 1;
}

/* The values of one occurrence of a repeated number field, packed or not. */
typedef struct {
    const unsigned char *p, *end;
    int kind, single;
    uint64_t v;
} rep_it;

static void rep_init(rep_it *it, const pb_field *f, int kind)
{
    it->kind = kind;
    it->single = f->wt != 2;
    it->v = f->v;
    it->p = f->b;
    it->end = f->b ? f->b + f->n : NULL;
}

/* 1 a value, 0 done, -1 malformed. */
static int rep_get(rep_it *it, uint64_t *v)
{
    if (it->single) {
        if (it->single == 2)
            return 0;
        it->single = 2;
        *v = it->v;
        return 1;
    }
    if (it->p == it->end)
        return 0;
    if (it->kind == F_RVAR)
        return get_varint(&it->p, it->end, v) ? -1 : 1;
    int k = it->kind == F_RF32 ? 4 : 8;
    if ((size_t)(it->end - it->p) < (size_t)k)
        return -1;
    *v = get_le(it->p, k);
    it->p += k;
    return 1;
}

/* The first pass over a message: framing, wire types, counts. */
static sf_status pb_scan_msg(const char *where, const mdesc *md, const unsigned char *b, size_t n,
                             pb_scan *s)
{
    memset(s, 0, sizeof *s);
    const unsigned char *p = b, *end = b + n;
    pb_field f;
    int rc;
    while ((rc = pb_next(where, md, &p, end, &f)) == 1) {
        if (f.num >= NF)
            continue;
        int kind = f.num < (uint32_t)md->n ? md->f[f.num].kind : F_NONE;
        size_t k = 1;
        if (kind >= F_RVAR && f.wt == 2) {
            int es = kind == F_RF32 ? 4 : kind == F_RF64 ? 8 : 0;
            if (es && f.n % (size_t)es)
                return field_error(where, md, f.num, "packed length %zu is not a multiple of %d",
                                   f.n, es);
            if (es) {
                k = f.n / (size_t)es;
            } else {
                rep_it it;
                uint64_t v;
                rep_init(&it, &f, kind);
                k = 0;
                while ((rc = rep_get(&it, &v)) == 1)
                    k++;
                if (rc < 0)
                    return field_error(where, md, f.num, "malformed varint in a packed run");
            }
        }
        s->count[f.num] += k;
        if (f.wt == 2) {
            s->last[f.num] = f.b;
            s->lastn[f.num] = f.n;
        }
    }
    return rc < 0 ? SF_EINPUT : SF_OK;
}

/* A NUL-terminated copy of a string field; an embedded NUL is an error. */
static sf_status str_copy(rd *r, const char *where, const mdesc *md, uint32_t num,
                          const unsigned char *b, size_t n, const char **out)
{
    if (n && memchr(b, 0, n))
        return field_error(where, md, num, "contains a NUL byte");
    size_t sz;
    if (sf_add_size(n, 1, &sz))
        return oom();
    char *s = sf_arena_alloc(r->a, sz);
    if (!s)
        return oom();
    if (n)
        memcpy(s, b, n);
    *out = s;
    return SF_OK;
}

/* The last string given for field `num` (first pass), or "" when none. */
static sf_status last_str(rd *r, const char *where, const mdesc *md, const pb_scan *s, uint32_t num,
                          const char **out)
{
    if (!s->count[num]) {
        *out = "";
        return SF_OK;
    }
    return str_copy(r, where, md, num, s->last[num], s->lastn[num], out);
}

/* An array of `n` elements from the arena; n is a count from the first
 * pass, so it is bounded by the message length. */
static void *arr(rd *r, size_t n, size_t elem)
{
    return sf_arena_array(r->a, n ? n : 1, elem);
}

static sf_status count_int(const char *where, const mdesc *md, uint32_t num, size_t n, int *out)
{
    if (n > INT_MAX)
        return field_error(where, md, num, "%zu entries, more than %d", n, INT_MAX);
    *out = (int)n;
    return SF_OK;
}

static sf_status depth_check(const char *where, int depth)
{
    if (depth > SF_ONNX_MAX_DEPTH)
        return sf_error(SF_EINPUT, where, "messages nested more than %d deep", SF_ONNX_MAX_DEPTH);
    return SF_OK;
}

/* The last value of string field `num`, read quietly before the message is
 * checked, so that errors in it can name it; NULL when absent. */
static void peek_str(const mdesc *md, const unsigned char *b, size_t n, uint32_t num,
                     const unsigned char **sb, size_t *sn)
{
    const unsigned char *p = b, *end = b + n;
    pb_field f;
    *sb = NULL;
    *sn = 0;
    while (pb_next(NULL, md, &p, end, &f) == 1)
        if (f.num == num && f.wt == 2) {
            *sb = f.b;
            *sn = f.n;
        }
}

/* "parent[i] 'name'", "parent 'name'" or without the name when it has
 * none: the label of a message whose name is field `name_field`. */
static void label(char *w, const char *parent, int idx, const mdesc *md, const unsigned char *b,
                  size_t n, uint32_t name_field)
{
    const unsigned char *nb;
    size_t nn;
    char nm[128];
    peek_str(md, b, n, name_field, &nb, &nn);
    show(nm, sizeof nm, nb, nn);
    if (idx >= 0 && nm[0])
        wset(w, "%s[%d] '%s'", parent, idx, nm);
    else if (idx >= 0)
        wset(w, "%s[%d]", parent, idx);
    else if (nm[0])
        wset(w, "%s '%s'", parent, nm);
    else
        wset(w, "%s", parent);
}

/* ---- TensorProto --------------------------------------------------------------- */

/* A non-negative decimal integer below 2^63 (external_data offset, length). */
static int parse_dec(const char *s, int64_t *out)
{
    if (!*s)
        return -1;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        uint64_t d = (uint64_t)(*s - '0');
        if (v > ((uint64_t)INT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = (int64_t)v;
    return 0;
}

static sf_status read_entry(rd *r, const char *where, const unsigned char *b, size_t n, int depth,
                            sf_onnx_tensor *t, int seen[3])
{
    TRY(depth_check(where, depth));
    pb_scan s;
    TRY(pb_scan_msg(where, &ENTRY, b, n, &s));
    const char *key, *val;
    TRY(last_str(r, where, &ENTRY, &s, 1, &key));
    char w[WLEN];
    char nm[128];
    show(nm, sizeof nm, (const unsigned char *)key, strlen(key));
    wset(w, "%s '%s'", where, nm);
    TRY(last_str(r, w, &ENTRY, &s, 2, &val));
    static const char *const keys[] = {"location", "offset", "length"};
    for (int k = 0; k < 3; k++) {
        if (strcmp(key, keys[k]) != 0)
            continue;
        if (seen[k]++)
            return sf_error(SF_EINPUT, w, "given twice");
        if (k == 0) {
            if (!*val)
                return sf_error(SF_EINPUT, w, "empty location");
            t->location = val;
        } else if (parse_dec(val, k == 1 ? &t->offset : &t->length)) {
            char v[128];
            show(v, sizeof v, (const unsigned char *)val, strlen(val));
            return sf_error(SF_EINPUT, w, "'%s' is not a non-negative integer below 2^63", v);
        }
    }
    /* other keys (checksum, ...) are not used */
    return SF_OK;
}

/* Stores value `v` (as read from int32_data, uint64_data or int64_data)
 * as element i of `t`, little-endian, in the element's own width; -1 when
 * the value does not fit the type. */
static int put_value(sf_onnx_tensor *t, unsigned char *dst, size_t i, uint64_t v, int field)
{
    size_t es = sf_onnx_dtype_size(t->dtype);
    unsigned char *p = dst + i * es;
    if (field == 5) {
        /* int32_data: the low 32 bits, as protobuf reads an int32 */
        int64_t x = (int32_t)(uint32_t)v;
        int64_t lo, hi;
        switch (t->dtype) {
        case SF_ONNX_INT32: lo = INT32_MIN, hi = INT32_MAX; break;
        case SF_ONNX_INT16: lo = INT16_MIN, hi = INT16_MAX; break;
        case SF_ONNX_INT8: lo = INT8_MIN, hi = INT8_MAX; break;
        case SF_ONNX_UINT8: lo = 0, hi = UINT8_MAX; break;
        case SF_ONNX_BOOL: lo = 0, hi = 1; break;
        default: lo = 0, hi = UINT16_MAX; break; /* uint16; float16, bfloat16 bits */
        }
        if (x < lo || x > hi)
            return -1;
        v = (uint64_t)x;
    } else if (field == 11 && t->dtype == SF_ONNX_UINT32 && v > UINT32_MAX) {
        return -1;
    }
    for (size_t k = 0; k < es; k++)
        p[k] = (unsigned char)(v >> (8 * k));
    return 0;
}

/* The typed field that carries elements of `dtype` (onnx.proto's comments
 * on TensorProto), 0 for none. */
static uint32_t typed_field(int dtype)
{
    switch (dtype) {
    case SF_ONNX_FLOAT: return 4;
    case SF_ONNX_INT32:
    case SF_ONNX_INT16:
    case SF_ONNX_INT8:
    case SF_ONNX_UINT16:
    case SF_ONNX_UINT8:
    case SF_ONNX_BOOL:
    case SF_ONNX_FLOAT16:
    case SF_ONNX_BFLOAT16: return 5;
    case SF_ONNX_STRING: return 6;
    case SF_ONNX_INT64: return 7;
    case SF_ONNX_DOUBLE: return 10;
    case SF_ONNX_UINT32:
    case SF_ONNX_UINT64: return 11;
    default: return 0;
    }
}

/* `parent` is "file: graph.initializer[2]" or "...: attribute 'value':
 * tensor"; the tensor's name is appended when it has one. */
static sf_status read_tensor(rd *r, const char *parent, int idx, const unsigned char *b, size_t n,
                             int depth, sf_onnx_tensor *t)
{
    char w[WLEN];
    label(w, parent, idx, &TENSOR, b, n, 8);
    TRY(depth_check(w, depth));
    pb_scan s;
    TRY(pb_scan_msg(w, &TENSOR, b, n, &s));
    memset(t, 0, sizeof *t);
    t->offset = t->length = -1;
    TRY(last_str(r, w, &TENSOR, &s, 8, &t->name));
    if (s.count[1] > SF_MAX_RANK)
        return field_error(w, &TENSOR, 1, "rank %zu above the limit %d", s.count[1], SF_MAX_RANK);
    t->rank = (int)s.count[1];

    /* scalars and dims */
    const unsigned char *p = b, *end = b + n;
    pb_field f;
    int rc, location = 0, ndims = 0;
    while ((rc = pb_next(w, &TENSOR, &p, end, &f)) == 1) {
        if (f.num == 1) {
            rep_it it;
            uint64_t v;
            rep_init(&it, &f, F_RVAR);
            while (rep_get(&it, &v) == 1 && ndims < t->rank) {
                if ((int64_t)v < 0)
                    return field_error(w, &TENSOR, 1, "dimension %d is %lld", ndims,
                                       (long long)(int64_t)v);
                t->dims[ndims++] = (int64_t)v;
            }
        } else if (f.num == 2) {
            if (f.v > INT_MAX)
                return field_error(w, &TENSOR, 2, "data type %llu is not valid",
                                   (unsigned long long)f.v);
            t->dtype = (int)f.v;
        } else if (f.num == 14) {
            if (f.v > 1)
                return field_error(w, &TENSOR, 14, "%llu is neither DEFAULT (0) nor EXTERNAL (1)",
                                   (unsigned long long)f.v);
            location = (int)f.v;
        }
    }
    if (rc < 0)
        return SF_EINPUT;

    /* element count: 0 when any dimension is 0, else the checked product */
    size_t numel = 1;
    for (int d = 0; d < t->rank; d++)
        if (t->dims[d] == 0)
            numel = 0;
    for (int d = 0; d < t->rank && numel; d++)
        if ((uint64_t)t->dims[d] > SIZE_MAX || sf_mul_size(numel, (size_t)t->dims[d], &numel))
            return field_error(w, &TENSOR, 1, "element count overflows");
    t->numel = numel;
    size_t es = sf_onnx_dtype_size(t->dtype), nbytes = 0;
    if (sf_mul_size(numel, es, &nbytes))
        return field_error(w, &TENSOR, 1, "byte size overflows");

    /* which data fields are there */
    static const uint32_t data_fields[] = {4, 5, 6, 7, 9, 10, 11};
    uint32_t given = 0;
    for (size_t k = 0; k < sizeof data_fields / sizeof data_fields[0]; k++) {
        uint32_t fn = data_fields[k];
        if (!s.count[fn])
            continue;
        if (given)
            return field_error(w, &TENSOR, fn, "given together with field '%s'",
                               tensor_f[given].name);
        given = fn;
    }

    if (location == 1) {
        t->external = 1;
        if (given)
            return field_error(w, &TENSOR, given, "given for a tensor with external data");
        int seen[3] = {0, 0, 0};
        char we[WLEN];
        int k = 0;
        p = b;
        while ((rc = pb_next(w, &TENSOR, &p, end, &f)) == 1) {
            if (f.num != 13)
                continue;
            wset(we, "%s: external_data[%d]", w, k++);
            TRY(read_entry(r, we, f.b, f.n, depth + 1, t, seen));
        }
        if (rc < 0)
            return SF_EINPUT;
        if (!t->location)
            return field_error(w, &TENSOR, 13, "data_location is EXTERNAL but no 'location'");
        t->nbytes = nbytes;
        return SF_OK;
    }

    if (!es) {
        /* strings and types the importer does not know: counted, not kept */
        if (t->dtype == SF_ONNX_STRING && given && given != 6)
            return field_error(w, &TENSOR, given, "cannot hold strings");
        if (t->dtype == SF_ONNX_STRING && s.count[6] != numel)
            return field_error(w, &TENSOR, 6, "%zu entries for %zu elements", s.count[6], numel);
        return SF_OK;
    }
    t->nbytes = nbytes;
    if (!given) {
        if (numel)
            return field_error(w, &TENSOR, 9, "missing: no data for %zu elements", numel);
        return SF_OK;
    }
    if (given == 9) {
        if (s.count[9] > 1)
            return field_error(w, &TENSOR, 9, "given %zu times", s.count[9]);
        if (s.lastn[9] != nbytes)
            return field_error(w, &TENSOR, 9, "%zu bytes, but %s %s of %zu elements need %zu",
                               s.lastn[9], sf_onnx_dtype_name(t->dtype),
                               t->rank ? "tensor" : "scalar", numel, nbytes);
        t->data = s.last[9];
        return SF_OK;
    }
    if (given != typed_field(t->dtype))
        return field_error(w, &TENSOR, given,
                           "cannot hold %s elements (they go in '%s' or "
                           "'raw_data')",
                           sf_onnx_dtype_name(t->dtype), tensor_f[typed_field(t->dtype)].name);
    if (s.count[given] != numel)
        return field_error(w, &TENSOR, given, "%zu entries for %zu elements", s.count[given],
                           numel);
    unsigned char *dst = arr(r, nbytes, 1);
    if (!dst)
        return oom();
    size_t i = 0;
    int kind = tensor_f[given].kind;
    p = b;
    while ((rc = pb_next(w, &TENSOR, &p, end, &f)) == 1) {
        if (f.num != given)
            continue;
        rep_it it;
        uint64_t v;
        rep_init(&it, &f, kind);
        while (rep_get(&it, &v) == 1) {
            if (i >= numel) /* the first pass counted these: cannot happen */
                return field_error(w, &TENSOR, given, "more entries than counted");
            if (put_value(t, dst, i, v, (int)given))
                return field_error(w, &TENSOR, given, "entry %zu: %lld does not fit %s", i,
                                   given == 11 ? (long long)v : (long long)(int32_t)(uint32_t)v,
                                   sf_onnx_dtype_name(t->dtype));
            i++;
        }
    }
    if (rc < 0)
        return SF_EINPUT;
    t->data = dst;
    return SF_OK;
}

/* ---- TypeProto ----------------------------------------------------------------- */

static sf_status read_type(rd *r, const char *where, const unsigned char *b, size_t n, int depth,
                           sf_onnx_value *v);

/* TypeProto.Tensor (and SparseTensor): elem_type and shape. */
static sf_status read_ttype(rd *r, const char *where, const unsigned char *b, size_t n, int depth,
                            sf_onnx_value *v)
{
    TRY(depth_check(where, depth));
    pb_scan s;
    TRY(pb_scan_msg(where, &TTYPE, b, n, &s));
    if (s.count[2] > 1)
        return field_error(where, &TTYPE, 2, "given %zu times", s.count[2]);
    const unsigned char *p = b, *end = b + n;
    pb_field f;
    int rc;
    while ((rc = pb_next(where, &TTYPE, &p, end, &f)) == 1)
        if (f.num == 1) {
            if (f.v > INT_MAX)
                return field_error(where, &TTYPE, 1, "data type %llu is not valid",
                                   (unsigned long long)f.v);
            v->elem_type = (int)f.v;
        }
    if (rc < 0)
        return SF_EINPUT;
    if (!s.count[2])
        return SF_OK;
    char ws[WLEN];
    wset(ws, "%s: shape", where);
    TRY(depth_check(ws, depth + 1));
    pb_scan ss;
    TRY(pb_scan_msg(ws, &SHAPE, s.last[2], s.lastn[2], &ss));
    if (ss.count[1] > SF_MAX_RANK)
        return field_error(ws, &SHAPE, 1, "rank %zu above the limit %d", ss.count[1], SF_MAX_RANK);
    v->rank = (int)ss.count[1];
    p = s.last[2];
    end = p + s.lastn[2];
    int d = 0;
    while ((rc = pb_next(ws, &SHAPE, &p, end, &f)) == 1) {
        if (f.num != 1)
            continue;
        char wd[WLEN];
        wset(wd, "%s.dim[%d]", ws, d);
        TRY(depth_check(wd, depth + 2));
        pb_scan ds;
        TRY(pb_scan_msg(wd, &DIM, f.b, f.n, &ds));
        if (ds.count[1] && ds.count[2])
            return sf_error(SF_EINPUT, wd, "both dim_value and dim_param");
        v->dims[d] = -1;
        if (ds.count[2]) {
            TRY(last_str(r, wd, &DIM, &ds, 2, &v->dim_param[d]));
        } else if (ds.count[1]) {
            const unsigned char *q = f.b;
            pb_field g;
            int rc2;
            while ((rc2 = pb_next(wd, &DIM, &q, f.b + f.n, &g)) == 1)
                if (g.num == 1) /* a negative size is taken as unknown */
                    v->dims[d] = (int64_t)g.v < 0 ? -1 : (int64_t)g.v;
            if (rc2 < 0)
                return SF_EINPUT;
        }
        d++;
    }
    return rc < 0 ? SF_EINPUT : SF_OK;
}

/* TypeProto.Sequence / Optional (elem_type) and Map (value_type): checked
 * as far as SF_ONNX_MAX_DEPTH, their contents not kept. */
static sf_status read_container(rd *r, const char *where, const mdesc *md, uint32_t inner,
                                const unsigned char *b, size_t n, int depth)
{
    TRY(depth_check(where, depth));
    pb_scan s;
    TRY(pb_scan_msg(where, md, b, n, &s));
    if (!s.count[inner])
        return SF_OK;
    if (s.count[inner] > 1)
        return field_error(where, md, inner, "given %zu times", s.count[inner]);
    char w[WLEN];
    wset(w, "%s.%s", where, md->f[inner].name);
    sf_onnx_value scratch;
    memset(&scratch, 0, sizeof scratch);
    return read_type(r, w, s.last[inner], s.lastn[inner], depth + 1, &scratch);
}

static sf_status read_type(rd *r, const char *where, const unsigned char *b, size_t n, int depth,
                           sf_onnx_value *v)
{
    TRY(depth_check(where, depth));
    pb_scan s;
    TRY(pb_scan_msg(where, &TYPE, b, n, &s));
    static const struct {
        uint32_t num;
        const char *kind;
    } kinds[] = {{1, "tensor"}, {4, "sequence"},      {5, "map"},
                 {7, "opaque"}, {8, "sparse_tensor"}, {9, "optional"}};
    uint32_t which = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        if (!s.count[kinds[k].num])
            continue;
        if (which || s.count[kinds[k].num] > 1)
            return field_error(where, &TYPE, kinds[k].num, "more than one type given");
        which = kinds[k].num;
        v->kind = kinds[k].kind;
    }
    char w[WLEN];
    if (which)
        wset(w, "%s.%s", where, type_f[which].name);
    const unsigned char *q = s.last[which];
    size_t qn = s.lastn[which];
    switch (which) {
    case 1:
    case 8: return read_ttype(r, w, q, qn, depth + 1, v);
    case 4:
    case 9: return read_container(r, w, &ELEM, 1, q, qn, depth + 1);
    case 5: return read_container(r, w, &MAP, 2, q, qn, depth + 1);
    default: return SF_OK; /* opaque, or no type */
    }
}

/* ValueInfoProto: graph.input[i], graph.output[i], graph.value_info[i]. */
static sf_status read_value(rd *r, const char *parent, int idx, const unsigned char *b, size_t n,
                            int depth, sf_onnx_value *v)
{
    char w[WLEN];
    label(w, parent, idx, &VALUE, b, n, 1);
    TRY(depth_check(w, depth));
    pb_scan s;
    TRY(pb_scan_msg(w, &VALUE, b, n, &s));
    memset(v, 0, sizeof *v);
    v->rank = -1;
    v->kind = "";
    TRY(last_str(r, w, &VALUE, &s, 1, &v->name));
    if (s.count[2] > 1)
        return field_error(w, &VALUE, 2, "given %zu times", s.count[2]);
    if (!s.count[2])
        return SF_OK;
    char wt[WLEN];
    wset(wt, "%s: type", w);
    return read_type(r, wt, s.last[2], s.lastn[2], depth + 1, v);
}

/* ---- AttributeProto and NodeProto ------------------------------------------------------ */

/* Attribute types onnx.proto defines beyond those of onnx.h's enum. */
enum {
    AT_TENSORS = 9,
    AT_GRAPHS = 10,
    AT_SPARSE_TENSOR = 11,
    AT_SPARSE_TENSORS = 12,
    AT_TYPE_PROTO = 13,
    AT_TYPE_PROTOS = 14
};

static sf_status read_attr(rd *r, const char *parent, int idx, const unsigned char *b, size_t n,
                           int depth, sf_onnx_attr *at)
{
    char w[WLEN], wa[WLEN];
    wset(wa, "%s: attribute", parent);
    label(w, wa, -1, &ATTR, b, n, 1);
    if (strcmp(w, wa) == 0) /* no name: the position */
        wset(w, "%s[%d]", wa, idx);
    TRY(depth_check(w, depth));
    pb_scan s;
    TRY(pb_scan_msg(w, &ATTR, b, n, &s));
    memset(at, 0, sizeof *at);
    TRY(last_str(r, w, &ATTR, &s, 1, &at->name));
    if (!*at->name)
        return field_error(w, &ATTR, 1, "missing or empty");
    if (s.count[21])
        TRY(last_str(r, w, &ATTR, &s, 21, &at->ref_attr_name));
    if (s.count[4])
        TRY(last_str(r, w, &ATTR, &s, 4, &at->s));
    TRY(count_int(w, &ATTR, 7, s.count[7], &at->nfloats));
    TRY(count_int(w, &ATTR, 8, s.count[8], &at->nints));
    TRY(count_int(w, &ATTR, 9, s.count[9], &at->nstrings));
    if (s.count[5] > 1)
        return field_error(w, &ATTR, 5, "given %zu times", s.count[5]);
    if ((at->nfloats && !(at->floats = arr(r, s.count[7], sizeof *at->floats))) ||
        (at->nints && !(at->ints = arr(r, s.count[8], sizeof *at->ints))) ||
        (at->nstrings && !(at->strings = arr(r, s.count[9], sizeof *at->strings))))
        return oom();
    if (s.count[5]) {
        if (!(at->t = arr(r, 1, sizeof *at->t)))
            return oom();
        char wt[WLEN];
        wset(wt, "%s: tensor", w);
        TRY(read_tensor(r, wt, -1, s.last[5], s.lastn[5], depth + 1, at->t));
    }
    const unsigned char *p = b, *end = b + n;
    pb_field f;
    int rc, nf = 0, ni = 0, ns = 0, type = 0;
    while ((rc = pb_next(w, &ATTR, &p, end, &f)) == 1) {
        rep_it it;
        uint64_t v;
        switch (f.num) {
        case 2: {
            uint32_t u = (uint32_t)f.v;
            memcpy(&at->f, &u, 4);
            break;
        }
        case 3: at->i = (int64_t)f.v; break;
        case 7:
            rep_init(&it, &f, F_RF32);
            while (rep_get(&it, &v) == 1 && nf < at->nfloats) {
                uint32_t u = (uint32_t)v;
                memcpy(&at->floats[nf++], &u, 4);
            }
            break;
        case 8:
            rep_init(&it, &f, F_RVAR);
            while (rep_get(&it, &v) == 1 && ni < at->nints)
                at->ints[ni++] = (int64_t)v;
            break;
        case 9: {
            if (ns >= at->nstrings)
                break;
            char ws[WLEN];
            wset(ws, "%s: strings[%d]", w, ns);
            if (f.n && memchr(f.b, 0, f.n))
                return sf_error(SF_EINPUT, ws, "contains a NUL byte");
            TRY(str_copy(r, ws, &ATTR, 9, f.b, f.n, &at->strings[ns]));
            ns++;
            break;
        }
        case 20:
            if (f.v > INT_MAX)
                return field_error(w, &ATTR, 20, "attribute type %llu is not valid",
                                   (unsigned long long)f.v);
            type = (int)f.v;
            break;
        default: break;
        }
    }
    if (rc < 0)
        return SF_EINPUT;
    if (!type) {
        /* written by old exporters: the type is the field present */
        static const struct {
            uint32_t num;
            int type;
        } by_field[] = {{2, SF_ONNX_AT_FLOAT},   {3, SF_ONNX_AT_INT},    {4, SF_ONNX_AT_STRING},
                        {5, SF_ONNX_AT_TENSOR},  {6, SF_ONNX_AT_GRAPH},  {22, AT_SPARSE_TENSOR},
                        {14, AT_TYPE_PROTO},     {7, SF_ONNX_AT_FLOATS}, {8, SF_ONNX_AT_INTS},
                        {9, SF_ONNX_AT_STRINGS}, {10, AT_TENSORS},       {11, AT_GRAPHS},
                        {23, AT_SPARSE_TENSORS}, {15, AT_TYPE_PROTOS}};
        for (size_t k = 0; k < sizeof by_field / sizeof by_field[0] && !type; k++)
            if (s.count[by_field[k].num])
                type = by_field[k].type;
    }
    at->type = type;
    return SF_OK;
}

/* The string entries of a repeated string field (node input, output). */
static sf_status read_strings(rd *r, const char *where, const mdesc *md, uint32_t num,
                              const unsigned char *b, size_t n, const char **out, int cap)
{
    const unsigned char *p = b, *end = b + n;
    pb_field f;
    int rc, k = 0;
    while ((rc = pb_next(where, md, &p, end, &f)) == 1) {
        if (f.num != num || k >= cap)
            continue;
        char w[WLEN];
        wset(w, "%s: %s[%d]", where, md->f[num].name, k);
        if (f.n && memchr(f.b, 0, f.n))
            return sf_error(SF_EINPUT, w, "contains a NUL byte");
        TRY(str_copy(r, w, md, num, f.b, f.n, &out[k]));
        k++;
    }
    return rc < 0 ? SF_EINPUT : SF_OK;
}

static sf_status read_node(rd *r, const char *parent, int idx, const unsigned char *b, size_t n,
                           int depth, sf_onnx_node *nd)
{
    char w[WLEN];
    label(w, parent, idx, &NODE, b, n, 3);
    TRY(depth_check(w, depth));
    pb_scan s;
    TRY(pb_scan_msg(w, &NODE, b, n, &s));
    memset(nd, 0, sizeof *nd);
    TRY(last_str(r, w, &NODE, &s, 3, &nd->name));
    TRY(last_str(r, w, &NODE, &s, 7, &nd->domain));
    TRY(last_str(r, w, &NODE, &s, 4, &nd->op_type));
    if (!*nd->op_type)
        return field_error(w, &NODE, 4, "missing or empty");
    TRY(count_int(w, &NODE, 1, s.count[1], &nd->ninputs));
    TRY(count_int(w, &NODE, 2, s.count[2], &nd->noutputs));
    TRY(count_int(w, &NODE, 5, s.count[5], &nd->nattrs));
    if (!(nd->inputs = arr(r, s.count[1], sizeof *nd->inputs)) ||
        !(nd->outputs = arr(r, s.count[2], sizeof *nd->outputs)) ||
        !(nd->attrs = arr(r, s.count[5], sizeof *nd->attrs)))
        return oom();
    TRY(read_strings(r, w, &NODE, 1, b, n, nd->inputs, nd->ninputs));
    TRY(read_strings(r, w, &NODE, 2, b, n, nd->outputs, nd->noutputs));
    const unsigned char *p = b, *end = b + n;
    pb_field f;
    int rc, k = 0;
    while ((rc = pb_next(w, &NODE, &p, end, &f)) == 1)
        if (f.num == 5 && k < nd->nattrs) {
            TRY(read_attr(r, w, k, f.b, f.n, depth + 1, &nd->attrs[k]));
            k++;
        }
    return rc < 0 ? SF_EINPUT : SF_OK;
}

/* ---- GraphProto, ModelProto ------------------------------------------------------------ */

static sf_status read_graph(rd *r, const unsigned char *b, size_t n, int depth, sf_onnx_model *m)
{
    char w[WLEN];
    wset(w, "%s: graph", r->base);
    TRY(depth_check(w, depth));
    pb_scan s;
    TRY(pb_scan_msg(w, &GRAPH, b, n, &s));
    if (s.count[1] > SF_ONNX_MAX_NODES)
        return field_error(w, &GRAPH, 1, "%zu nodes, more than %d", s.count[1], SF_ONNX_MAX_NODES);
    TRY(last_str(r, w, &GRAPH, &s, 2, &m->graph_name));
    TRY(count_int(w, &GRAPH, 1, s.count[1], &m->nnodes));
    TRY(count_int(w, &GRAPH, 5, s.count[5], &m->ninits));
    TRY(count_int(w, &GRAPH, 11, s.count[11], &m->ninputs));
    TRY(count_int(w, &GRAPH, 12, s.count[12], &m->noutputs));
    TRY(count_int(w, &GRAPH, 13, s.count[13], &m->nvalue_info));
    TRY(count_int(w, &GRAPH, 15, s.count[15], &m->nsparse_inits));
    if (!(m->nodes = arr(r, s.count[1], sizeof *m->nodes)) ||
        !(m->inits = arr(r, s.count[5], sizeof *m->inits)) ||
        !(m->inputs = arr(r, s.count[11], sizeof *m->inputs)) ||
        !(m->outputs = arr(r, s.count[12], sizeof *m->outputs)) ||
        !(m->value_info = arr(r, s.count[13], sizeof *m->value_info)))
        return oom();
    int k[NF] = {0};
    char wp[WLEN];
    const unsigned char *p = b, *end = b + n;
    pb_field f;
    int rc;
    while ((rc = pb_next(w, &GRAPH, &p, end, &f)) == 1) {
        if (f.num >= NF)
            continue;
        int i = k[f.num];
        if (f.num < (uint32_t)GRAPH.n && graph_f[f.num].name)
            wset(wp, "%s.%s", w, graph_f[f.num].name);
        switch (f.num) {
        case 1:
            if (i < m->nnodes)
                TRY(read_node(r, wp, i, f.b, f.n, depth + 1, &m->nodes[i]));
            break;
        case 5:
            if (i < m->ninits)
                TRY(read_tensor(r, wp, i, f.b, f.n, depth + 1, &m->inits[i]));
            break;
        case 11:
            if (i < m->ninputs)
                TRY(read_value(r, wp, i, f.b, f.n, depth + 1, &m->inputs[i]));
            break;
        case 12:
            if (i < m->noutputs)
                TRY(read_value(r, wp, i, f.b, f.n, depth + 1, &m->outputs[i]));
            break;
        case 13:
            if (i < m->nvalue_info)
                TRY(read_value(r, wp, i, f.b, f.n, depth + 1, &m->value_info[i]));
            break;
        default: break;
        }
        k[f.num]++;
    }
    return rc < 0 ? SF_EINPUT : SF_OK;
}

static sf_status read_opset(rd *r, int idx, const unsigned char *b, size_t n, int depth,
                            sf_onnx_opset *o)
{
    char w[WLEN];
    wset(w, "%s: opset_import[%d]", r->base, idx);
    TRY(depth_check(w, depth));
    pb_scan s;
    TRY(pb_scan_msg(w, &OPSET, b, n, &s));
    TRY(last_str(r, w, &OPSET, &s, 1, &o->domain));
    const unsigned char *p = b, *end = b + n;
    pb_field f;
    int rc;
    while ((rc = pb_next(w, &OPSET, &p, end, &f)) == 1)
        if (f.num == 2)
            o->version = (int64_t)f.v;
    return rc < 0 ? SF_EINPUT : SF_OK;
}

sf_status sf_onnx_parse(sf_arena *a, const char *path, const unsigned char *buf, size_t len,
                        sf_onnx_model *out)
{
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    memset(out, 0, sizeof *out);
    out->path = path;
    out->base = base;
    out->producer_name = out->graph_name = "";
    rd r = {a, base};
    if (!buf)
        buf = (const unsigned char *)""; /* len is 0 */
    pb_scan s;
    TRY(pb_scan_msg(base, &MODEL, buf, len, &s));
    if (!s.count[7])
        return field_error(base, &MODEL, 7, "missing: not an ONNX model");
    if (s.count[7] > 1)
        return field_error(base, &MODEL, 7, "given %zu times", s.count[7]);
    out->nfunctions = s.count[25] > INT_MAX ? INT_MAX : (int)s.count[25];
    TRY(last_str(&r, base, &MODEL, &s, 2, &out->producer_name));
    TRY(count_int(base, &MODEL, 8, s.count[8], &out->nopsets));
    if (!(out->opsets = arr(&r, s.count[8], sizeof *out->opsets)))
        return oom();
    const unsigned char *p = buf, *end = buf + len;
    pb_field f;
    int rc, k = 0;
    while ((rc = pb_next(base, &MODEL, &p, end, &f)) == 1) {
        if (f.num == 1) {
            out->ir_version = (int64_t)f.v;
        } else if (f.num == 8 && k < out->nopsets) {
            sf_onnx_opset *o = &out->opsets[k];
            TRY(read_opset(&r, k, f.b, f.n, 1, o));
            if (!*o->domain || strcmp(o->domain, "ai.onnx") == 0) {
                if (out->opset) {
                    char w[WLEN];
                    wset(w, "%s: opset_import[%d]", base, k);
                    return sf_error(SF_EINPUT, w, "the ai.onnx opset is imported twice");
                }
                if (o->version <= 0) {
                    char w[WLEN];
                    wset(w, "%s: opset_import[%d]: field 'version'", base, k);
                    return sf_error(SF_EINPUT, w, "%lld is not a valid opset version",
                                    (long long)o->version);
                }
                out->opset = o->version;
            }
            k++;
        }
    }
    if (rc < 0)
        return SF_EINPUT;
    return read_graph(&r, s.last[7], s.lastn[7], 1, out);
}

sf_status sf_onnx_read(sf_arena *a, const char *path, sf_onnx_model *out)
{
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    unsigned char *buf;
    size_t size;
    memset(out, 0, sizeof *out);
    TRY(sf_read_regular_file(a, path, base, "model file", SF_ONNX_MAX_FILE, &buf, &size));
    return sf_onnx_parse(a, path, buf, size, out);
}
