/* op.c - the op table (ir/ops.def) as an array of descriptors, and lookups. */
#include "ir/op.h"

#include <stdio.h>
#include <string.h>

#define KEYS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NOKEYS    NULL
#define SF_OP(id, nm, fam, lo, hi, par, z, rt, at) \
    [SF_OP_##id] = {nm, &sf_family_##fam, lo, hi, SF_P_##par, SF_Z_##z, rt, at},
const sf_op_def sf_op_table[SF_OP_COUNT] = {
#include "ir/ops.def"
};
#undef SF_OP

/* Other names a model may use: matmul with a weight is a linear layer (with
 * two activations verify.c turns it into SF_OP_BMM); gather is embedding. */
static const struct {
    const char *name;
    sf_op op;
} k_alias[] = {
    {"matmul", SF_OP_LINEAR},
    {"gather", SF_OP_EMBEDDING},
};

int sf_op_lookup(const char *name)
{
    for (size_t i = 0; i < sizeof k_alias / sizeof k_alias[0]; i++)
        if (strcmp(k_alias[i].name, name) == 0)
            return (int)k_alias[i].op;
    for (int op = 0; op < SF_OP_COUNT; op++)
        if (strcmp(sf_op_table[op].name, name) == 0)
            return op;
    return -1;
}

void sf_op_list(char *buf, size_t n)
{
    size_t o = 0;
    buf[0] = 0;
    for (int op = 0; op < SF_OP_COUNT && o < n; op++) {
        if (op == SF_OP_BMM) /* listed once, as "matmul" beside linear */
            continue;
        o += (size_t)snprintf(buf + o, n - o, "%s%s", o ? ", " : "", sf_op_table[op].name);
        if (op == SF_OP_LINEAR && o < n)
            o += (size_t)snprintf(buf + o, n - o, ", matmul");
        if (op == SF_OP_EMBEDDING && o < n)
            o += (size_t)snprintf(buf + o, n - o, ", gather");
    }
}

const char *sf_op_attr_key(const char *key)
{
    for (int op = 0; op < SF_OP_COUNT; op++)
        for (const char *const *k = sf_op_table[op].attrs; k && *k; k++)
            if (strcmp(*k, key) == 0)
                return *k;
    return NULL;
}

const char *sf_op_name(sf_op op)
{
    return op < SF_OP_COUNT ? sf_op_table[op].name : "?";
}

int sf_op_is_unary(sf_op op)
{
    return op < SF_OP_COUNT && sf_op_table[op].family == &sf_family_unary;
}

int sf_op_keeps_zero(sf_op op)
{
    return op < SF_OP_COUNT && sf_op_table[op].zero == SF_Z_KEEP;
}

int sf_op_channelwise(sf_op op)
{
    sf_zero_rule z = sf_op_table[op].zero;
    return z == SF_Z_KEEP || z == SF_Z_CHAN || z == SF_Z_BOTH || z == SF_Z_EITHER ||
           op == SF_OP_BATCHNORM;
}

int sf_op_takes_const(sf_op op)
{
    const sf_op_family *f = sf_op_table[op].family;
    return f == &sf_family_binary || f == &sf_family_where || f == &sf_family_expand;
}
