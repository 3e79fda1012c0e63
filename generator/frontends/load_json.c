/* load_json.c - model JSON -> sf_desc. Checks syntax and the schema
 * (schemas/model.schema.json): types of fields and unknown keys. Meaning
 * (names, shapes, weights) is verify.c's job. */
#include "ir/op.h"

#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <threads.h>

typedef struct {
    sf_arena *a;
    const char *base;
} ctx;

#define SF_MAX_KEY_ERRORS 20 /* messages about one object's keys */

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* "file: node 'x' (nodes[3]): field 'f'" */
static void where_node(char *w, size_t n, const ctx *c, const sf_desc_node *nd, int idx,
                       const char *field)
{
    if (nd && nd->name)
        snprintf(w, n, "%s: node '%s' (nodes[%d]): field '%s'", c->base, nd->name, idx, field);
    else
        snprintf(w, n, "%s: nodes[%d]: field '%s'", c->base, idx, field);
}

static sf_status oom(void)
{
    return sf_error(SF_EINTERNAL, NULL, "out of memory");
}

static int in_list(const char *const *list, const char *s)
{
    for (const char *const *k = list; k && *k; k++)
        if (strcmp(s, *k) == 0)
            return 1;
    return 0;
}

/* Every key is in `allowed` or in `extra` (may be NULL), and appears once.
 * Linear in the number of keys; reports the first SF_MAX_KEY_ERRORS
 * problems and then one line with the count of the rest (docs/CLI.md,
 * "Messages"). */
static sf_status check_keys(const ctx *c, const cJSON *obj, const char *const *allowed,
                            const char *const *extra, const char *where)
{
    size_t n = 0;
    for (const cJSON *it = obj->child; it; it = it->next)
        n++;
    sf_index seen;
    if (sf_index_init(&seen, n, NULL))
        return oom();
    long problems = 0;
    int i = 0;
    for (const cJSON *it = obj->child; it; it = it->next, i++) {
        /* cJSON keeps every duplicate as its own item */
        int dup = sf_index_add(&seen, it->string, i) >= 0;
        int unknown = !in_list(allowed, it->string) && !in_list(extra, it->string);
        if (!dup && !unknown)
            continue;
        if (++problems > SF_MAX_KEY_ERRORS)
            continue;
        char w[700];
        snprintf(w, sizeof w, "%s: %s: field '%.100s'", c->base, where, it->string);
        if (dup) {
            sf_error(SF_EINPUT, w, "duplicate key");
            continue;
        }
        char list[512] = "";
        for (int l = 0; l < 2; l++)
            for (const char *const *k = l ? extra : allowed; k && *k; k++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                         list[0] ? ", " : "", *k);
        sf_error(SF_EINPUT, w, "unknown key (expected one of: %s)", list);
    }
    sf_index_free(&seen);
    if (problems > SF_MAX_KEY_ERRORS) {
        char w[700];
        snprintf(w, sizeof w, "%s: %s", c->base, where);
        sf_error(SF_EINPUT, w, "... %ld more unknown or duplicate keys",
                 problems - SF_MAX_KEY_ERRORS);
    }
    return problems ? SF_EINPUT : SF_OK;
}

/* A node's keys: `allowed` or any op's attribute key (which op takes which
 * is verify.c's); the message lists the attribute keys of the op table. */
static sf_status check_node_keys(const ctx *c, const cJSON *obj, const char *const *allowed,
                                 const char *where)
{
    const char *extra[64];
    int n = 0;
    for (int op = 0; op < SF_OP_COUNT; op++)
        for (const char *const *k = sf_op_table[op].attrs; k && *k; k++) {
            int seen = 0;
            for (int j = 0; j < n && !seen; j++)
                seen = strcmp(extra[j], *k) == 0;
            if (!seen && n < 63)
                extra[n++] = *k;
        }
    extra[n] = NULL;
    return check_keys(c, obj, allowed, extra, where);
}

static sf_status get_string(const ctx *c, const cJSON *v, const char *where, const char **out)
{
    if (!cJSON_IsString(v) || !v->valuestring) {
        return sf_error(SF_EINPUT, where, "expected a string");
    }
    if (!v->valuestring[0])
        return sf_error(SF_EINPUT, where, "expected a non-empty string");
    for (const char *p = v->valuestring; *p; p++)
        if ((unsigned char)*p < 0x20)
            return sf_error(SF_EINPUT, where, "control character (code %d) in the string", *p);
    *out = sf_arena_strdup(c->a, v->valuestring);
    return *out ? SF_OK : oom();
}

static sf_status get_string_array(const ctx *c, const cJSON *v, const char *where,
                                  const char ***out, int *n)
{
    if (!cJSON_IsArray(v))
        return sf_error(SF_EINPUT, where, "expected an array of tensor names");
    int cnt = cJSON_GetArraySize(v);
    const char **arr = sf_arena_array(c->a, (size_t)(cnt ? cnt : 1), sizeof *arr);
    if (!arr)
        return oom();
    int i = 0;
    size_t wl = strlen(where);
    for (const cJSON *it = v->child; it; it = it->next, i++) {
        char w[700];
        if (wl && where[wl - 1] == '\'') /* "field 'inputs'" -> "field 'inputs[0]'" */
            snprintf(w, sizeof w, "%.*s[%d]'", (int)(wl - 1), where, i);
        else
            snprintf(w, sizeof w, "%s[%d]", where, i);
        sf_status st = get_string(c, it, w, &arr[i]);
        if (st)
            return st;
    }
    *out = arr;
    *n = cnt;
    return SF_OK;
}

/* An integer dimension: a JSON number that is integral and >= 1. */
static sf_status get_dims(const cJSON *v, const char *where, int *rank, int64_t *dims)
{
    if (!cJSON_IsArray(v))
        return sf_error(SF_EINPUT, where, "expected an array of positive integers");
    int n = cJSON_GetArraySize(v);
    if (n < 1 || n > SF_MAX_RANK)
        return sf_error(SF_EINPUT, where, "expected rank 1..%d, got %d", SF_MAX_RANK, n);
    int i = 0;
    for (const cJSON *it = v->child; it; it = it->next, i++) {
        double d = it->valuedouble;
        if (!cJSON_IsNumber(it) || !(d >= 1)) /* also rejects NaN */
            return sf_error(SF_EINPUT, where, "dimension %d: expected a positive integer", i);
        if (d > (double)SF_MAX_DIM) /* before any conversion: huge doubles do not fit */
            return sf_error(SF_EINPUT, where, "dimension %d: %.0f is too large (limit %lld)", i, d,
                            SF_MAX_DIM);
        if (d != (double)(int64_t)d)
            return sf_error(SF_EINPUT, where, "dimension %d: expected a positive integer", i);
        dims[i] = (int64_t)d;
    }
    *rank = n;
    return SF_OK;
}

static sf_status load_input(const ctx *c, const cJSON *v, int i, sf_desc_input *in)
{
    static const char *const keys[] = {"name", "shape", "dtype", NULL};
    char where[600];
    snprintf(where, sizeof where, "inputs[%d]", i);
    if (!cJSON_IsObject(v)) {
        char w[700];
        snprintf(w, sizeof w, "%s: field '%s'", c->base, where);
        return sf_error(SF_EINPUT, w, "expected an object");
    }
    sf_status st = check_keys(c, v, keys, NULL, where);
    if (st)
        return st;
    char w[700];
    snprintf(w, sizeof w, "%s: field '%s.name'", c->base, where);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(v, "name");
    if (!name)
        return sf_error(SF_EINPUT, w, "missing");
    if ((st = get_string(c, name, w, &in->name)))
        return st;
    snprintf(w, sizeof w, "%s: input '%s': field 'shape'", c->base, in->name);
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(v, "shape");
    if (!shape)
        return sf_error(SF_EINPUT, w, "missing");
    if ((st = get_dims(shape, w, &in->rank, in->dims)))
        return st;
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(v, "dtype");
    if (dt) {
        snprintf(w, sizeof w, "%s: input '%s': field 'dtype'", c->base, in->name);
        if (!cJSON_IsString(dt) || strcmp(dt->valuestring, "f32") != 0)
            return sf_error(SF_EINPUT, w, "expected \"f32\" (the only input dtype supported)");
    }
    return st;
}

/* A number, an array of up to SF_MAX_RANK integers, a string or a boolean. */
static sf_status load_attr(const ctx *c, const cJSON *v, const char *where, sf_desc_attr *at)
{
    if (cJSON_IsBool(v)) {
        at->kind = SF_ATTR_BOOL;
        at->flag = cJSON_IsTrue(v);
        return SF_OK;
    }
    if (cJSON_IsString(v)) {
        at->kind = SF_ATTR_STRING;
        return get_string(c, v, where, &at->str);
    }
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (!(d > -1e300 && d < 1e300))
            return sf_error(SF_EINPUT, where, "expected a finite number");
        at->num = d;
        at->scalar = 1;
        at->n = 1;
        /* integral values within the dimension limit also read as one integer */
        at->kind = d >= -(double)SF_MAX_DIM && d <= (double)SF_MAX_DIM && d == (double)(int64_t)d
                       ? SF_ATTR_INTS /* range first: the cast is undefined beyond int64 */
                       : SF_ATTR_NUMBER;
        at->ints[0] = at->kind == SF_ATTR_INTS ? (int64_t)d : 0;
        return SF_OK;
    }
    if (!cJSON_IsArray(v))
        return sf_error(SF_EINPUT, where,
                        "expected a number, an array of integers, a string "
                        "or a boolean");
    int n = cJSON_GetArraySize(v);
    if (n < 1 || n > SF_MAX_RANK)
        return sf_error(SF_EINPUT, where, "expected 1..%d integers, got %d", SF_MAX_RANK, n);
    int i = 0;
    for (const cJSON *it = v->child; it; it = it->next, i++) {
        double d = it->valuedouble;
        if (!cJSON_IsNumber(it) || !(d >= -(double)SF_MAX_DIM && d <= (double)SF_MAX_DIM) ||
            d != (double)(int64_t)d)
            return sf_error(SF_EINPUT, where,
                            "element %d: expected an integer of magnitude "
                            "at most %lld",
                            i, SF_MAX_DIM);
        at->ints[i] = (int64_t)d;
    }
    at->kind = SF_ATTR_INTS;
    at->n = n;
    return SF_OK;
}

static sf_status load_node(const ctx *c, const cJSON *v, int i, sf_desc_node *nd)
{
    static const char *const keys[] = {"op",     "name", "inputs",      "outputs",
                                       "weight", "bias", "approximate", NULL};
    char w[700];
    nd->index = i;
    if (!cJSON_IsObject(v)) {
        snprintf(w, sizeof w, "%s: nodes[%d]", c->base, i);
        return sf_error(SF_EINPUT, w, "expected an object");
    }
    sf_status st;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(v, "name");
    if (name) {
        where_node(w, sizeof w, c, NULL, i, "name");
        if ((st = get_string(c, name, w, &nd->name)))
            return st;
    }
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(v, "op");
    where_node(w, sizeof w, c, nd, i, "op");
    if (!op)
        return sf_error(SF_EINPUT, w, "missing");
    if ((st = get_string(c, op, w, &nd->op)))
        return st;
    if (!nd->name) {
        char buf[128];
        snprintf(buf, sizeof buf, "%.64s_%d", nd->op, i);
        if (!(nd->name = sf_arena_strdup(c->a, buf)))
            return oom();
    }
    char wk[600];
    snprintf(wk, sizeof wk, "node '%s' (nodes[%d])", nd->name, i);
    if ((st = check_node_keys(c, v, keys, wk)))
        return st;

    const cJSON *ins = cJSON_GetObjectItemCaseSensitive(v, "inputs");
    where_node(w, sizeof w, c, nd, i, "inputs");
    if (!ins)
        return sf_error(SF_EINPUT, w, "missing");
    if ((st = get_string_array(c, ins, w, &nd->inputs, &nd->ninputs)))
        return st;
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(v, "outputs");
    where_node(w, sizeof w, c, nd, i, "outputs");
    if (!outs)
        return sf_error(SF_EINPUT, w, "missing");
    if ((st = get_string_array(c, outs, w, &nd->outputs, &nd->noutputs)))
        return st;
    const cJSON *wt = cJSON_GetObjectItemCaseSensitive(v, "weight");
    if (wt) {
        where_node(w, sizeof w, c, nd, i, "weight");
        if ((st = get_string(c, wt, w, &nd->weight)))
            return st;
    }
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(v, "bias");
    if (b && !cJSON_IsNull(b)) {
        where_node(w, sizeof w, c, nd, i, "bias");
        if ((st = get_string(c, b, w, &nd->bias)))
            return st;
    }
    const cJSON *ap = cJSON_GetObjectItemCaseSensitive(v, "approximate");
    if (ap) {
        where_node(w, sizeof w, c, nd, i, "approximate");
        if ((st = get_string(c, ap, w, &nd->approximate)))
            return st;
    }
    int na = 0;
    for (const cJSON *it = v->child; it; it = it->next)
        na += sf_op_attr_key(it->string) != NULL;
    if (na) {
        if (!(nd->attrs = sf_arena_array(c->a, (size_t)na, sizeof *nd->attrs)))
            return oom();
        for (const cJSON *it = v->child; it; it = it->next) {
            const char *k = sf_op_attr_key(it->string); /* the op table's: outlives the JSON */
            if (!k)
                continue;
            sf_desc_attr *at = &nd->attrs[nd->nattrs++];
            at->key = k;
            where_node(w, sizeof w, c, nd, i, k);
            if ((st = load_attr(c, it, w, at)))
                return st;
        }
    }
    return SF_OK;
}

/* 1-based line and column of a byte offset, for syntax errors. */
static void line_col(const char *text, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && text[i]; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

/* cJSON allocates through sfgen's hook too, so allocation-failure tests
 * reach its paths. */
static _Thread_local int t_json_oom; /* an allocation failed inside cJSON, on this thread */

static void *json_malloc(size_t n)
{
    void *p = sf_malloc(n);
    if (!p)
        t_json_oom = 1;
    return p;
}

static void install_hooks(void)
{
    cJSON_Hooks h = {json_malloc, sf_free};
    cJSON_InitHooks(&h);
}

/* cJSON keeps its hooks in globals: set them once, for every thread (they
 * reach each thread's own context through sf_malloc). */
void sf_json_use_hooks(void)
{
    static once_flag once = ONCE_FLAG_INIT;
    call_once(&once, install_hooks);
}

/* ---- RFC 8259 where cJSON is lenient ------------------------------------
 * cJSON skips a UTF-8 byte order mark and reads a number with strtod, so it
 * takes 016, 1., -.5 and 1.e5. The scan below finds number tokens the way
 * cJSON does (outside strings, a '-' or digit and the run of [0-9+-.eE]
 * after it) and holds each to the RFC grammar. In a text cJSON accepts,
 * the k-th token is the k-th number of the tree in document order, which
 * is how the ones written with a fraction or exponent get marked. */

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static int in_number(char ch)
{
    return is_digit(ch) || ch == '+' || ch == '-' || ch == '.' || ch == 'e' || ch == 'E';
}

/* The next number token at or after *pos: [*start, *pos). 0 when none. */
static int next_number(const char *t, size_t len, size_t *pos, size_t *start)
{
    size_t i = *pos;
    while (i < len) {
        if (t[i] == '"') { /* a string (or key): skip it, escapes included */
            for (i++; i < len && t[i] != '"'; i++)
                if (t[i] == '\\')
                    i++;
            i++;
        } else if (t[i] == '-' || is_digit(t[i])) {
            *start = i;
            while (i < len && in_number(t[i]))
                i++;
            *pos = i;
            return 1;
        } else {
            i++;
        }
    }
    *pos = len;
    return 0;
}

/* 0: an RFC 8259 number; 1: one with a fraction or exponent; -1: not a
 * JSON number (*why says how). */
static int check_number(const char *t, size_t n, const char **why)
{
    size_t p = t[0] == '-';
    int frac = 0;
    if (p < n && t[p] == '0') {
        p++;
        if (p < n && is_digit(t[p])) {
            *why = "has a leading zero (JSON allows 0 only on its own before '.' or an exponent)";
            return -1;
        }
    } else if (p < n && is_digit(t[p])) {
        while (p < n && is_digit(t[p]))
            p++;
    } else {
        *why = "is not a JSON number (it needs a digit after '-')";
        return -1;
    }
    if (p < n && t[p] == '.') {
        frac = 1;
        if (++p >= n || !is_digit(t[p])) {
            *why = "is not a JSON number (it needs a digit after '.')";
            return -1;
        }
        while (p < n && is_digit(t[p]))
            p++;
    }
    if (p < n && (t[p] == 'e' || t[p] == 'E')) {
        frac = 1;
        p++;
        if (p < n && (t[p] == '+' || t[p] == '-'))
            p++;
        if (p >= n || !is_digit(t[p])) {
            *why = "is not a JSON number (it needs a digit in the exponent)";
            return -1;
        }
        while (p < n && is_digit(t[p]))
            p++;
    }
    if (p < n) {
        *why = "is not a JSON number";
        return -1;
    }
    return frac;
}

static _Thread_local char t_why[160];

/* The first number outside the grammar (offset, or SIZE_MAX when none), and
 * whether any is written with a fraction or exponent. */
static size_t scan_numbers(const char *t, size_t len, int *any_frac)
{
    size_t pos = 0, start = 0;
    *any_frac = 0;
    while (next_number(t, len, &pos, &start)) {
        const char *why = NULL;
        int r = check_number(t + start, pos - start, &why);
        if (r < 0) {
            snprintf(t_why, sizeof t_why, "number '%.*s%s' %s",
                     (int)(pos - start > 24 ? 24 : pos - start), t + start,
                     pos - start > 24 ? "..." : "", why);
            return start;
        }
        *any_frac |= r;
    }
    return SIZE_MAX;
}

/* Marks the numbers written with a fraction or exponent, in document order. */
static void mark_numbers(cJSON *item, const char *t, size_t len, size_t *pos)
{
    for (; item; item = item->next) {
        size_t start = 0;
        if (cJSON_IsNumber(item) && next_number(t, len, pos, &start)) {
            const char *why = NULL;
            if (check_number(t + start, *pos - start, &why) == 1)
                item->type |= SF_JSON_NOT_INTEGER;
        }
        if (item->child) /* nesting is bounded by cJSON (1000 levels) */
            mark_numbers(item->child, t, len, pos);
    }
}

/* A C string cannot hold U+0000: the escape \u0000 is read as \u0001, which
 * the string checks reject with the field's name. */
cJSON *sf_json_parse(const char *text, size_t len, size_t *errpos, const char **why)
{
    const char *end = NULL;
    char *copy = NULL;
    const char *dummy;
    if (!why)
        why = &dummy;
    *errpos = 0;
    *why = NULL;
    sf_json_use_hooks();
    t_json_oom = 0;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        *why = "the text starts with a UTF-8 byte order mark (EF BB BF), which JSON does not "
               "allow: save it as UTF-8 without one";
        return NULL;
    }
    int any_frac;
    size_t bad = scan_numbers(text, len, &any_frac);
    for (size_t i = 0; i + 5 < len; i++) {
        if (text[i] != '\\')
            continue;
        if (text[i + 1] == 'u' && memcmp(text + i + 2, "0000", 4) == 0) {
            if (!copy && !(copy = sf_malloc(len + 1))) {
                *errpos = SIZE_MAX;
                return NULL;
            }
            if (copy != text) { /* the first escape: work on a copy from now on */
                memcpy(copy, text, len);
                copy[len] = 0;
                text = copy;
            }
            copy[i + 5] = '1';
        }
        i++; /* skip the escaped character */
    }
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (root && end) { /* only white space may follow the value */
        const char *p = end;
        while (p < text + len && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
            p++;
        if (p < text + len) {
            cJSON_Delete(root);
            root = NULL;
            end = p;
        }
    }
    if (!root) {
        *errpos = t_json_oom ? SIZE_MAX : end && end >= text ? (size_t)(end - text) : 0;
    } else if (bad != SIZE_MAX) {
        cJSON_Delete(root);
        root = NULL;
        *errpos = bad;
    } else if (any_frac) {
        size_t pos = 0;
        mark_numbers(root, text, len, &pos);
    }
    /* the earlier of cJSON's error and a number outside the grammar */
    if (!root && *errpos != SIZE_MAX && bad <= *errpos) {
        *errpos = bad;
        *why = t_why;
    }
    sf_free(copy);
    return root;
}

sf_status sf_load_json_text(sf_arena *a, const char *path, const char *text, size_t len,
                            sf_desc *out)
{
    sf_json_use_hooks();
    ctx c = {a, base_name(path)};
    memset(out, 0, sizeof *out);
    out->path = path;
    out->base = c.base;
    if (strlen(text) != len)
        return sf_error(SF_EINPUT, c.base, "not a JSON text (contains a NUL byte)");

    size_t errpos = 0;
    const char *why = NULL;
    cJSON *root = sf_json_parse(text, len, &errpos, &why);
    if (!root && errpos == SIZE_MAX)
        return oom();
    if (!root) {
        int line, col;
        size_t off = errpos;
        line_col(text, off, &line, &col);
        if (off >= len && !why)
            return sf_error(SF_EINPUT, c.base, "malformed JSON: unexpected end of file");
        return sf_error(SF_EINPUT, c.base, "malformed JSON at line %d, column %d%s%s", line, col,
                        why ? ": " : "", why ? why : "");
    }
    sf_status st = SF_OK;
    char w[700];
    if (!cJSON_IsObject(root)) {
        st = sf_error(SF_EINPUT, c.base, "expected a JSON object at the top level");
        goto done;
    }
    static const char *const keys[] = {"sparseflow", "name",  "weights", "inputs",
                                       "outputs",    "nodes", NULL};
    if ((st = check_keys(&c, root, keys, NULL, "top level")))
        goto done;

    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "sparseflow");
    snprintf(w, sizeof w, "%s: field 'sparseflow'", c.base);
    if (!ver) {
        st = sf_error(SF_EINPUT, w, "missing (expected 1, the format version)");
        goto done;
    }
    if (!cJSON_IsNumber(ver) || ver->valuedouble != 1) {
        st = sf_error(SF_EINPUT, w, "unsupported format version (expected 1)");
        goto done;
    }

    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    snprintf(w, sizeof w, "%s: field 'name'", c.base);
    if (!name) {
        st = sf_error(SF_EINPUT, w, "missing");
        goto done;
    }
    if ((st = get_string(&c, name, w, &out->name)))
        goto done;
    if (!sf_is_c_identifier(out->name)) {
        st = sf_error(SF_EINPUT, w,
                      "'%s' is not a C identifier (letters, digits, '_', at most 64, "
                      "not starting with a digit)",
                      out->name);
        goto done;
    }

    const cJSON *wts = cJSON_GetObjectItemCaseSensitive(root, "weights");
    snprintf(w, sizeof w, "%s: field 'weights'", c.base);
    const char *wname = NULL;
    if (!wts) {
        st = sf_error(SF_EINPUT, w, "missing (expected the safetensors file name)");
        goto done;
    }
    if ((st = get_string(&c, wts, w, &wname)))
        goto done;
    if (wname[0] == '/') {
        out->weights_path = wname;
    } else {
        const char *slash = strrchr(path, '/');
        size_t dl = slash ? (size_t)(slash - path + 1) : 0;
        char *p = sf_arena_alloc(a, dl + strlen(wname) + 1);
        if (!p) {
            st = oom();
            goto done;
        }
        memcpy(p, path, dl);
        strcpy(p + dl, wname);
        out->weights_path = p;
    }

    const cJSON *ins = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    snprintf(w, sizeof w, "%s: field 'inputs'", c.base);
    if (!cJSON_IsArray(ins) || cJSON_GetArraySize(ins) < 1) {
        st = sf_error(SF_EINPUT, w, "expected a non-empty array of inputs");
        goto done;
    }
    out->ninputs = cJSON_GetArraySize(ins);
    if (out->ninputs > SF_MAX_IO) {
        st = sf_error(SF_EINPUT, w, "%d inputs: at most %d are supported", out->ninputs, SF_MAX_IO);
        goto done;
    }
    out->inputs = sf_arena_array(a, (size_t)out->ninputs, sizeof *out->inputs);
    if (!out->inputs) {
        st = oom();
        goto done;
    }
    int i = 0;
    for (const cJSON *it = ins->child; it; it = it->next, i++)
        if ((st = load_input(&c, it, i, &out->inputs[i])))
            goto done;

    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(root, "outputs");
    snprintf(w, sizeof w, "%s: field 'outputs'", c.base);
    if (!outs || (cJSON_IsArray(outs) && cJSON_GetArraySize(outs) < 1)) {
        st = sf_error(SF_EINPUT, w, "expected a non-empty array of tensor names");
        goto done;
    }
    if ((st = get_string_array(&c, outs, w, &out->outputs, &out->noutputs)))
        goto done;
    if (out->noutputs > SF_MAX_IO) {
        st = sf_error(SF_EINPUT, w, "%d outputs: at most %d are supported", out->noutputs,
                      SF_MAX_IO);
        goto done;
    }

    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(root, "nodes");
    snprintf(w, sizeof w, "%s: field 'nodes'", c.base);
    if (!cJSON_IsArray(nodes) || cJSON_GetArraySize(nodes) < 1) {
        st = sf_error(SF_EINPUT, w, "expected a non-empty array of nodes");
        goto done;
    }
    out->nnodes = cJSON_GetArraySize(nodes);
    if (out->nnodes > SF_MAX_NODES) {
        st =
            sf_error(SF_EINPUT, w, "%d nodes: at most %d are supported", out->nnodes, SF_MAX_NODES);
        goto done;
    }
    out->nodes = sf_arena_array(a, (size_t)out->nnodes, sizeof *out->nodes);
    if (!out->nodes) {
        st = oom();
        goto done;
    }
    i = 0;
    for (const cJSON *it = nodes->child; it; it = it->next, i++)
        if ((st = load_node(&c, it, i, &out->nodes[i])))
            goto done;
done:
    cJSON_Delete(root);
    return st;
}

sf_status sf_load_json(sf_arena *a, const char *path, sf_desc *out)
{
    unsigned char *text;
    size_t len;
    TRY(sf_read_regular_file(a, path, base_name(path), "model file", SF_MAX_MODEL_BYTES, &text,
                             &len));
    return sf_load_json_text(a, path, (const char *)text, len, out);
}
