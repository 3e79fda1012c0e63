/* load_safetensors.c - the weights file. Layout: u64 little-endian header
 * length, a JSON header {name: {dtype, shape, data_offsets}}, then the data.
 * Every length, offset and shape is checked against the file before use. */
#include "ir/graph.h"

#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EXACT 9007199254740992.0 /* 2^53: largest exact JSON integer */

static sf_status oom(void)
{
    return sf_error(SF_EINTERNAL, NULL, "out of memory");
}

static int dtype_parse(const char *s, sf_dtype *dt, size_t *size)
{
    if (strcmp(s, "F32") == 0) {
        *dt = SF_DT_F32;
        *size = 4;
        return 0;
    }
    if (strcmp(s, "F16") == 0) {
        *dt = SF_DT_F16;
        *size = 2;
        return 0;
    }
    if (strcmp(s, "BF16") == 0) {
        *dt = SF_DT_BF16;
        *size = 2;
        return 0;
    }
    return -1;
}

/* A non-negative integer that a double holds exactly, written as one: the
 * reference implementation rejects 2.0 and 2e0 where it expects an integer. */
static int get_u64(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v) || (v->type & SF_JSON_NOT_INTEGER))
        return -1;
    double d = v->valuedouble;
    if (d < 0 || d > MAX_EXACT || d != (double)(uint64_t)d)
        return -1;
    *out = (uint64_t)d;
    return 0;
}

typedef struct {
    uint64_t begin, end;
    int idx;
} span;

static int span_cmp(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->idx - y->idx;
}

static sf_status parse_entry(sf_arena *a, const char *base, const cJSON *e, size_t data_size,
                             const unsigned char *data, sf_st_tensor *t, span *sp)
{
    char w[600];
    snprintf(w, sizeof w, "%s: tensor '%.200s'", base, e->string);
    if (!cJSON_IsObject(e))
        return sf_error(SF_EINPUT, w, "expected an object with dtype, shape, data_offsets");
    static const char *const keys[] = {"dtype", "shape", "data_offsets"};
    int seen[3] = {0, 0, 0};
    for (const cJSON *k = e->child; k; k = k->next) {
        int j = 0;
        while (j < 3 && strcmp(k->string, keys[j]) != 0)
            j++;
        if (j == 3)
            return sf_error(SF_EINPUT, w, "unknown key '%.100s'", k->string);
        /* cJSON keeps both of a repeated key, and lookups find the first */
        if (seen[j]++) {
            char wf[700];
            snprintf(wf, sizeof wf, "%s: field '%s'", w, keys[j]);
            return sf_error(SF_EINPUT, wf, "duplicate key");
        }
    }
    if (!(t->name = sf_arena_strdup(a, e->string)))
        return oom();

    char wf[700];
    snprintf(wf, sizeof wf, "%s: field 'dtype'", w);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    size_t esize;
    if (!cJSON_IsString(dt))
        return sf_error(SF_EINPUT, wf, "missing or not a string");
    if (dtype_parse(dt->valuestring, &t->dtype, &esize))
        return sf_error(SF_EINPUT, wf, "dtype '%s' is not supported (expected F32, F16 or BF16)",
                        dt->valuestring);

    snprintf(wf, sizeof wf, "%s: field 'shape'", w);
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    if (!cJSON_IsArray(sh))
        return sf_error(SF_EINPUT, wf, "missing or not an array");
    int rank = cJSON_GetArraySize(sh);
    if (rank > SF_MAX_RANK)
        return sf_error(SF_EINPUT, wf, "rank %d above the limit %d", rank, SF_MAX_RANK);
    t->rank = rank;
    size_t numel = 1;
    int i = 0;
    for (const cJSON *d = sh->child; d; d = d->next, i++) {
        uint64_t v;
        if (get_u64(d, &v))
            return sf_error(SF_EINPUT, wf,
                            "dimension %d: expected a non-negative integer below 2^53, "
                            "written without a fraction or exponent",
                            i);
        if (v > (uint64_t)SF_MAX_DIM)
            return sf_error(SF_EINPUT, wf, "dimension %d: %llu is too large (limit %lld)", i,
                            (unsigned long long)v, SF_MAX_DIM);
        t->dims[i] = (int64_t)v;
        if (sf_mul_size(numel, (size_t)v, &numel))
            return sf_error(SF_EINPUT, wf, "element count overflows");
    }
    size_t bytes;
    if (sf_mul_size(numel, esize, &bytes))
        return sf_error(SF_EINPUT, wf, "byte size overflows");
    t->numel = numel;

    snprintf(wf, sizeof wf, "%s: field 'data_offsets'", w);
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    uint64_t b, en;
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 || get_u64(off->child, &b) ||
        get_u64(off->child->next, &en))
        return sf_error(SF_EINPUT, wf,
                        "expected [begin, end] non-negative integers (without a fraction "
                        "or exponent)");
    if (b > en)
        return sf_error(SF_EINPUT, wf, "begin %llu is after end %llu", (unsigned long long)b,
                        (unsigned long long)en);
    if (en > data_size)
        return sf_error(SF_EINPUT, wf,
                        "end %llu is beyond the data section (%zu bytes): "
                        "file truncated?",
                        (unsigned long long)en, data_size);
    if (en - b != bytes)
        return sf_error(SF_EINPUT, wf, "%llu bytes, but dtype %s and shape need %zu",
                        (unsigned long long)(en - b), dt->valuestring, bytes);
    t->raw = data + b;
    sp->begin = b;
    sp->end = en;
    return SF_OK;
}

sf_status sf_parse_safetensors(sf_arena *a, const char *path, const unsigned char *file,
                               size_t size, sf_safetensors *out)
{
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    memset(out, 0, sizeof *out);
    out->path = path;
    out->base = base;
    out->file = file;
    out->file_size = size;
    sf_json_use_hooks();

    if (size < 8)
        return sf_error(SF_EINPUT, base,
                        "file is %zu bytes: too short for the 8-byte header "
                        "length",
                        size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | file[i];
    if (hlen > size - 8)
        return sf_error(SF_EINPUT, base,
                        "header length %llu is beyond the file size (%zu "
                        "bytes): truncated or not a safetensors file",
                        (unsigned long long)hlen, size);
    if (hlen < 2)
        return sf_error(SF_EINPUT, base, "header length %llu: too short for a JSON header",
                        (unsigned long long)hlen);
    const char *htext = (const char *)file + 8;
    const unsigned char *data = file + 8 + hlen;
    size_t data_size = size - 8 - (size_t)hlen;
    if (memchr(htext, 0, (size_t)hlen))
        return sf_error(SF_EINPUT, base, "header contains a NUL byte: not a safetensors file");

    size_t errpos;
    const char *why = NULL;
    cJSON *root = sf_json_parse(htext, (size_t)hlen, &errpos, &why);
    if (!root && errpos == SIZE_MAX)
        return oom();
    if (!root)
        return sf_error(SF_EINPUT, base, "header is not valid JSON (at byte %zu of the header)%s%s",
                        errpos, why ? ": " : "", why ? why : "");
    sf_status st = SF_OK;
    span *spans = NULL;
    if (!cJSON_IsObject(root)) {
        st = sf_error(SF_EINPUT, base, "header is not a JSON object");
        goto done;
    }
    int n = 0, nkeys = 0;
    for (const cJSON *e = root->child; e; e = e->next, nkeys++)
        if (strcmp(e->string, "__metadata__") != 0)
            n++;
    out->tensors = sf_arena_array(a, (size_t)(n ? n : 1), sizeof *out->tensors);
    spans = sf_malloc(sizeof *spans * (size_t)(n ? n : 1));
    if (!out->tensors || !spans || sf_index_init(&out->by_name, (size_t)nkeys, a)) {
        st = oom();
        goto done;
    }
    int i = 0;
    for (const cJSON *e = root->child; e; e = e->next) {
        int meta = strcmp(e->string, "__metadata__") == 0;
        /* the index borrows the tensor's own copy of the name (set by
         * parse_entry) or, for __metadata__, a literal: not cJSON's */
        if (sf_index_find(&out->by_name, e->string) >= 0) {
            char w[600];
            snprintf(w, sizeof w, meta ? "%s: field '%.200s'" : "%s: tensor '%.200s'", base,
                     e->string);
            st = sf_error(SF_EINPUT, w,
                          meta ? "duplicate key" : "duplicate tensor name in the header");
            goto done;
        }
        if (meta) {
            if (!cJSON_IsObject(e)) {
                st = sf_error(SF_EINPUT, base, "field '__metadata__': expected an object");
                goto done;
            }
            sf_index_add(&out->by_name, "__metadata__", n);
            continue;
        }
        if ((st = parse_entry(a, base, e, data_size, data, &out->tensors[i], &spans[i])))
            goto done;
        sf_index_add(&out->by_name, out->tensors[i].name, i);
        spans[i].idx = i;
        i++;
    }
    out->ntensors = n;
    /* two tensors may not share bytes: compare each with the furthest end
     * seen so far (empty tensors occupy nothing) */
    qsort(spans, (size_t)n, sizeof *spans, span_cmp);
    int far = -1;
    for (int k = 0; k < n; k++) {
        const span *q = &spans[k];
        if (q->end == q->begin)
            continue;
        if (far >= 0 && q->begin < spans[far].end) {
            const span *p = &spans[far];
            char w[700];
            snprintf(w, sizeof w, "%s: tensor '%.200s': field 'data_offsets'", base,
                     out->tensors[q->idx].name);
            st = sf_error(SF_EINPUT, w, "bytes [%llu, %llu) overlap tensor '%.200s' [%llu, %llu)",
                          (unsigned long long)q->begin, (unsigned long long)q->end,
                          out->tensors[p->idx].name, (unsigned long long)p->begin,
                          (unsigned long long)p->end);
            goto done;
        }
        if (far < 0 || q->end > spans[far].end)
            far = k;
    }
done:
    sf_free(spans);
    cJSON_Delete(root);
    return st;
}

sf_status sf_load_safetensors(sf_arena *a, const char *path, sf_safetensors *out)
{
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    unsigned char *buf;
    size_t size;
    TRY(sf_read_regular_file(a, path, base, "weights file", SIZE_MAX, &buf, &size));
    return sf_parse_safetensors(a, path, buf, size, out);
}

const sf_st_tensor *sf_safetensors_find(const sf_safetensors *st, const char *name)
{
    int i = sf_index_find(&st->by_name, name);
    return i >= 0 && i < st->ntensors ? &st->tensors[i] : NULL;
}

float sf_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | man << 13; /* inf, nan */
    } else if (exp) {
        bits = sign | (exp + 112) << 23 | man << 13; /* normal */
    } else if (man) {                                /* subnormal: normalise */
        int e = -1;
        do {
            e++;
            man <<= 1;
        } while (!(man & 0x400));
        bits = sign | (uint32_t)(112 - e) << 23 | (man & 0x3ff) << 13;
    } else {
        bits = sign;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

float sf_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

void sf_tensor_to_f32(const sf_st_tensor *t, float *dst)
{
    const unsigned char *p = t->raw;
    for (size_t i = 0; i < t->numel; i++) {
        if (t->dtype == SF_DT_F32) {
            uint32_t u = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
                         (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
            memcpy(&dst[i], &u, 4);
        } else {
            uint16_t u = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
            dst[i] = t->dtype == SF_DT_F16 ? sf_f16_to_f32(u) : sf_bf16_to_f32(u);
        }
    }
}

static const sf_st_tensor *find_weight(const sf_weights *w, const char *name)
{
    return sf_safetensors_find((const sf_safetensors *)w->ctx, name);
}

sf_weights sf_safetensors_weights(const sf_safetensors *st)
{
    sf_weights w = {st->base, find_weight, st};
    return w;
}
