/*
 * train_internal.h — the building blocks of the training passes
 * (train_ops.c), shared by train.c only.
 *
 * Shapes: T tokens of one sequence, rows token-major.
 */
#ifndef LLP_TRAIN_INTERNAL_H
#define LLP_TRAIN_INTERNAL_H

#include "model.h"
#include "threads.h"

/* Y = X W^T through the kernels (packed weights when the model has them). */
void tr_matmul(llp_pool *pool, const llp_weight *w, const float *X, int T, float *Y);

/* dX += dY W: the transposed product, W dequantized 64 rows by 256 columns
 * at a time; each task owns a range of 256 columns of dX, so the result
 * does not depend on the thread count. */
void tr_matmul_t(llp_pool *pool, const llp_weight *w, const float *dY, int T, float *dX);

/* out[t] = x[t] * r[t] * weight with r[t] = 1 / sqrt(mean(x[t]^2) + eps)
 * saved in r (T). */
void tr_rmsnorm(float *out, float *r, const float *x, const float *weight, int T, int dim,
                float eps);
/* dx[t] += d/dx of the above, given dy (T, dim). */
void tr_rmsnorm_back(float *dx, const float *dy, const float *x, const float *r,
                     const float *weight, int T, int dim);

/* RoPE at positions 0..T-1 of n_heads heads per row, in place; inverse
 * rotates back (the backward pass). */
void tr_rope(float *v, int T, int n_heads, int head_dim, int rope_dim, const float *inv_freq,
             bool inverse);

/* Causal attention of one sequence: q (T, n_heads*hd), k and v (T, n_kv*hd);
 * probabilities saved in p (n_heads, T, T; row t holds t+1 values), output
 * (T, n_heads*hd). */
void tr_attention(llp_pool *pool, const llp_config *c, int T, const float *q, const float *k,
                  const float *v, float *p, float *out);
/* The backward pass: from dout, dq (written), dk and dv (written). */
void tr_attention_back(llp_pool *pool, const llp_config *c, int T, const float *q,
                       const float *k, const float *v, const float *p, const float *dout,
                       float *dq, float *dk, float *dv);

#endif
