/*
 * kv_cache.h — the keys and values a Llama forward pass keeps for every
 * position of every sequence, in f16 (the default, as llama.cpp) or f32,
 * and attention over them for one token and one query head.
 *
 * Not for: the forward pass that fills it (model.c), or choosing which
 * sequence a record uses (generate.c's scheduler).
 *
 * Layout: one slot of n_ctx positions per sequence, keys and values apart,
 *   k, v: (n_seq, n_layers, n_ctx, kv_dim) elements of the cache type.
 * The memory is allocated once and touched only as positions are written,
 * so resident memory grows with what runs, not with n_seq * n_ctx.
 *
 * Batch invariance: a row is rounded to f16 when written (round to nearest
 * even), and attention for a token reads rows 0..pos of its own sequence
 * with the kernel set's attn_dot / attn_mix (kernels.h), whose arithmetic
 * depends only on the head size and pos. So a token's attention output is
 * bit for bit the same whatever other tokens or sequences share its
 * forward pass, and whether its prompt came in one chunk or several.
 */
#ifndef LLP_KV_CACHE_H
#define LLP_KV_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef enum llp_kv_type {
    LLP_KV_F16 = 0,   /* the default */
    LLP_KV_F32 = 1,
} llp_kv_type;

/* "f16" / "f32". */
const char *llp_kv_type_name(llp_kv_type t);
/* Parse a --kv-type value. Returns 0, or -1 with err naming the choices. */
int llp_kv_type_parse(const char *s, llp_kv_type *out, llp_err *err);
/* Bytes one sequence of n_ctx positions takes (keys and values). */
size_t llp_kv_bytes_per_seq(llp_kv_type t, int n_layers, int n_ctx, int kv_dim);

typedef struct llp_kv_cache {
    llp_kv_type type;
    int n_seq, n_layers, n_ctx, kv_dim;
    size_t elem;        /* bytes per value: 2 or 4 */
    void *k, *v;        /* (n_seq, n_layers, n_ctx, kv_dim), owned */
} llp_kv_cache;

/* Allocate (untouched). Returns 0, or -1 with err giving the size asked. */
int llp_kv_cache_init(llp_kv_cache *c, llp_kv_type type, int n_seq, int n_layers, int n_ctx,
                      int kv_dim, llp_err *err);
void llp_kv_cache_free(llp_kv_cache *c);

/* Store the key and value rows (kv_dim floats each) of one position. */
void llp_kv_cache_write(llp_kv_cache *c, int seq, int layer, int pos, const float *k,
                        const float *v);

/* Copy positions [0, n_pos) of sequence src to dst (a shared prefix). */
void llp_kv_cache_copy(llp_kv_cache *c, int src, int dst, int n_pos);

/* Attention of n_q query heads (head_dim floats each, consecutive at q)
 * that share KV head kv_head, of a token at `pos` of sequence seq, against
 * positions 0..pos of layer: out_h = softmax(scale * q_h K^T) V, head_dim
 * floats each, consecutive at out. scores: n_q * (pos + 1) floats of
 * scratch. Each head's result is the same bit for bit whatever n_q (the
 * group kernels repeat the per-head chains; kernels.h). `reference` uses
 * the scalar kernels (the plain path). */
void llp_kv_attend(const llp_kv_cache *c, int seq, int layer, int kv_head, int head_dim,
                   int pos, int n_q, const float *q, float scale, float *scores, float *out,
                   bool reference);

#endif
