/*
 * kv_cache.c — the KV cache of kv_cache.h: f16 or f32 rows, one slot of
 * n_ctx positions per sequence, and per-token attention over them.
 */
#include "kv_cache.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"

const char *llp_kv_type_name(llp_kv_type t) { return t == LLP_KV_F32 ? "f32" : "f16"; }

int llp_kv_type_parse(const char *s, llp_kv_type *out, llp_err *err)
{
    if (strcmp(s, "f16") == 0) *out = LLP_KV_F16;
    else if (strcmp(s, "f32") == 0) *out = LLP_KV_F32;
    else return llp_err_set(err, "--kv-type: expected f16 or f32, got '%s'", s);
    return 0;
}

size_t llp_kv_bytes_per_seq(llp_kv_type t, int n_layers, int n_ctx, int kv_dim)
{
    return 2 * (size_t)n_layers * (size_t)n_ctx * (size_t)kv_dim * (t == LLP_KV_F32 ? 4 : 2);
}

int llp_kv_cache_init(llp_kv_cache *c, llp_kv_type type, int n_seq, int n_layers, int n_ctx,
                      int kv_dim, llp_err *err)
{
    memset(c, 0, sizeof *c);
    c->type = type;
    c->n_seq = n_seq;
    c->n_layers = n_layers;
    c->n_ctx = n_ctx;
    c->kv_dim = kv_dim;
    c->elem = type == LLP_KV_F32 ? 4 : 2;
    size_t half = (size_t)n_seq * n_layers * n_ctx * kv_dim * c->elem;
    /* malloc of this size maps fresh pages: nothing is resident until a
     * position is written */
    c->k = malloc(half);
    c->v = malloc(half);
    if (!c->k || !c->v) {
        llp_kv_cache_free(c);
        return llp_err_set(err, "cannot allocate the KV cache (%zu MiB in %s for %d positions x "
                           "%d sequences)", 2 * half >> 20, llp_kv_type_name(type), n_ctx, n_seq);
    }
    return 0;
}

void llp_kv_cache_free(llp_kv_cache *c)
{
    free(c->k);
    free(c->v);
    c->k = c->v = NULL;
}

static size_t row_index(const llp_kv_cache *c, int seq, int layer, int pos)
{
    return (((size_t)seq * c->n_layers + layer) * c->n_ctx + pos) * c->kv_dim;
}

static void put_row(const llp_kv_cache *c, void *base, size_t idx, const float *x)
{
    if (c->type == LLP_KV_F32) {
        memcpy((float *)base + idx, x, sizeof(float) * (size_t)c->kv_dim);
        return;
    }
    uint16_t *dst = (uint16_t *)base + idx;
    for (int i = 0; i < c->kv_dim; i++) dst[i] = llp_f32_to_fp16(x[i]);
}

void llp_kv_cache_write(llp_kv_cache *c, int seq, int layer, int pos, const float *k,
                        const float *v)
{
    size_t idx = row_index(c, seq, layer, pos);
    put_row(c, c->k, idx, k);
    put_row(c, c->v, idx, v);
}

void llp_kv_cache_copy(llp_kv_cache *c, int src, int dst, int n_pos)
{
    if (src == dst || n_pos <= 0) return;
    size_t n = (size_t)n_pos * c->kv_dim * c->elem;
    for (int l = 0; l < c->n_layers; l++) {
        size_t from = row_index(c, src, l, 0) * c->elem, to = row_index(c, dst, l, 0) * c->elem;
        memcpy((char *)c->k + to, (char *)c->k + from, n);
        memcpy((char *)c->v + to, (char *)c->v + from, n);
    }
}

void llp_kv_attend(const llp_kv_cache *c, int seq, int layer, int kv_head, int head_dim,
                   int pos, int n_q, const float *q, float scale, float *scores, float *out,
                   bool reference)
{
    const llp_kernel_set *ks = reference ? &llp_kernels_scalar : llp_kernels_current();
    int f16 = c->type == LLP_KV_F16;
    size_t first = (row_index(c, seq, layer, 0) + (size_t)kv_head * head_dim) * c->elem;
    const void *K = (const char *)c->k + first, *V = (const char *)c->v + first;
    const int n = pos + 1;
    bool group = ks->attn_dot_group[f16] && ks->attn_mix_group[f16] &&
                 head_dim <= LLP_ATTN_MAX_D;
    if (group)
        ks->attn_dot_group[f16](q, n_q, K, (size_t)c->kv_dim, head_dim, n, scale, scores,
                                (size_t)n);
    else
        for (int h = 0; h < n_q; h++)
            ks->attn_dot[f16](q + (size_t)h * head_dim, K, (size_t)c->kv_dim, head_dim, n,
                              scale, scores + (size_t)h * n);
    for (int h = 0; h < n_q; h++) ks->softmax(scores + (size_t)h * n, n);
    memset(out, 0, sizeof(float) * (size_t)n_q * head_dim);
    if (group)
        ks->attn_mix_group[f16](scores, (size_t)n, n_q, V, (size_t)c->kv_dim, head_dim, n, out);
    else
        for (int h = 0; h < n_q; h++)
            ks->attn_mix[f16](scores + (size_t)h * n, V, (size_t)c->kv_dim, head_dim, n,
                              out + (size_t)h * head_dim);
}
