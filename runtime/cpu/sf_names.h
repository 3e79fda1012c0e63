/* sf_names.h - the runtime's functions under the model's prefix. The
 * generated Makefile compiles every source with -DSF_PREFIX=<model>_, so
 * sf_unary becomes <model>_sf_unary and several generated models link into
 * one program, statically or as shared libraries (docs/GENERATED_API.md,
 * "Linking"). Without SF_PREFIX (sfgen's own tests) the names stay as they
 * are. Every function with external linkage in sf_ops.c and sf_nn.c is
 * listed here. */
#ifndef SF_NAMES_H
#define SF_NAMES_H

#ifdef SF_PREFIX
#define SF_NAME_CAT_(a, b) a##b
#define SF_NAME_CAT(a, b)  SF_NAME_CAT_(a, b)
/* The macro's own name is not expanded again inside its body (C11 6.10.3.4),
 * so each line below maps the name to SF_PREFIX pasted before it. */
#define SF_NAME(n) SF_NAME_CAT(SF_PREFIX, n)

/* sf_ops.c */
#define sf_unary      SF_NAME(sf_unary)
#define sf_unary_ab   SF_NAME(sf_unary_ab)
#define sf_where      SF_NAME(sf_where)
#define sf_binary     SF_NAME(sf_binary)
#define sf_expand     SF_NAME(sf_expand)
#define sf_reduce     SF_NAME(sf_reduce)
#define sf_linear_ref SF_NAME(sf_linear_ref)

/* sf_nn.c */
#define sf_im2col         SF_NAME(sf_im2col)
#define sf_im2col_chw     SF_NAME(sf_im2col_chw)
#define sf_tokens_to_nchw SF_NAME(sf_tokens_to_nchw)
#define sf_conv2d_direct  SF_NAME(sf_conv2d_direct)
#define sf_pool2d         SF_NAME(sf_pool2d)
#define sf_row_mean       SF_NAME(sf_row_mean)
#define sf_channel_affine SF_NAME(sf_channel_affine)
#define sf_layernorm      SF_NAME(sf_layernorm)
#define sf_softmax        SF_NAME(sf_softmax)
#define sf_matmul         SF_NAME(sf_matmul)
#define sf_gather_rows    SF_NAME(sf_gather_rows)
#define sf_transpose      SF_NAME(sf_transpose)
#define sf_copy_blocks    SF_NAME(sf_copy_blocks)
#define sf_slice          SF_NAME(sf_slice)
#define sf_attention      SF_NAME(sf_attention)
#define sf_cache_append   SF_NAME(sf_cache_append)
#endif

#endif
