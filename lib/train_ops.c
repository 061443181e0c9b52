/*
 * train_ops.c — the operations of the training passes with their
 * derivatives: the transposed product on quantized weights, RMSNorm, RoPE
 * and causal grouped-query attention, for one sequence at a time.
 *
 * Not for: the order of the passes or the optimizer (train.c).
 */
#include "train_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "matmul.h"
#include "quant.h"

void tr_matmul(llp_pool *pool, const llp_weight *w, const float *X, int T, float *Y)
{
    if (w->packed)
        llp_matmul_packed(pool, w->type, w->packed, w->n_in, w->n_out, X, T, Y);
    else
        llp_matmul(pool, w->type, w->data, w->n_in, w->n_out, X, T, Y);
}

#define MT_COLS 256
#define MT_ROWS 64

typedef struct {
    const llp_weight *w;
    const float *dY;
    int T;
    float *dX;
} matmul_t_job;

static void matmul_t_task(void *ctx, int task, int n_tasks)
{
    const matmul_t_job *j = ctx;
    const llp_weight *w = j->w;
    const llp_type_info *ti = llp_type_get(w->type);
    int64_t c0 = (int64_t)task * MT_COLS;
    int64_t cw = w->n_in - c0 < MT_COLS ? w->n_in - c0 : MT_COLS;
    size_t row = llp_row_size(w->type, w->n_in);
    size_t off = (size_t)(c0 / ti->block_size) * (size_t)ti->type_size;
    float *tile = llp_malloc(sizeof(float) * MT_ROWS * (size_t)cw);
    for (int64_t o0 = 0; o0 < w->n_out; o0 += MT_ROWS) {
        int64_t nr = w->n_out - o0 < MT_ROWS ? w->n_out - o0 : MT_ROWS;
        for (int64_t r = 0; r < nr; r++)
            llp_dequantize_row(w->type, (const uint8_t *)w->data + row * (size_t)(o0 + r) + off,
                               tile + r * cw, cw);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, j->T, (int)cw, (int)nr, 1.0f,
                    j->dY + o0, (int)w->n_out, tile, (int)cw, 1.0f, j->dX + c0, (int)w->n_in);
    }
    free(tile);
}

void tr_matmul_t(llp_pool *pool, const llp_weight *w, const float *dY, int T, float *dX)
{
    matmul_t_job j = { w, dY, T, dX };
    int n_chunks = (int)((w->n_in + MT_COLS - 1) / MT_COLS);
    llp_pool_run(pool, matmul_t_task, &j, n_chunks);
}

void tr_rmsnorm(float *out, float *r, const float *x, const float *weight, int T, int dim,
                float eps)
{
    for (int t = 0; t < T; t++) {
        const float *xt = x + (size_t)t * dim;
        float *ot = out + (size_t)t * dim;
        double ss = 0;
        for (int i = 0; i < dim; i++) ss += (double)xt[i] * xt[i];
        float scale = (float)(1.0 / sqrt(ss / dim + eps));
        r[t] = scale;
        for (int i = 0; i < dim; i++) ot[i] = xt[i] * scale * weight[i];
    }
}

/* y_i = x_i r w_i, r = (mean(x^2) + eps)^(-1/2):
 * dx_i = r w_i dy_i - x_i r^3 / dim * sum_j dy_j w_j x_j */
void tr_rmsnorm_back(float *dx, const float *dy, const float *x, const float *r,
                     const float *weight, int T, int dim)
{
    for (int t = 0; t < T; t++) {
        const float *xt = x + (size_t)t * dim, *dyt = dy + (size_t)t * dim;
        float *dxt = dx + (size_t)t * dim;
        double dot = 0;
        for (int i = 0; i < dim; i++) dot += (double)dyt[i] * weight[i] * xt[i];
        float rt = r[t];
        float c = (float)(dot * rt * rt * rt / dim);
        for (int i = 0; i < dim; i++) dxt[i] += rt * weight[i] * dyt[i] - xt[i] * c;
    }
}

void tr_rope(float *v, int T, int n_heads, int head_dim, int rope_dim, const float *inv_freq,
             bool inverse)
{
    for (int t = 0; t < T; t++) {
        float cs[LLP_MAX_HEAD_DIM / 2], sn[LLP_MAX_HEAD_DIM / 2];
        for (int i = 0; i < rope_dim / 2; i++) {
            float theta = (float)t * inv_freq[i];
            cs[i] = cosf(theta);
            sn[i] = inverse ? -sinf(theta) : sinf(theta);
        }
        for (int h = 0; h < n_heads; h++) {
            float *hv = v + ((size_t)t * n_heads + h) * head_dim;
            for (int i = 0; i < rope_dim / 2; i++) {
                float a = hv[2 * i], b = hv[2 * i + 1];
                hv[2 * i] = a * cs[i] - b * sn[i];
                hv[2 * i + 1] = a * sn[i] + b * cs[i];
            }
        }
    }
}

typedef struct {
    const llp_config *c;
    int T;
    const float *q, *k, *v, *p, *dout;
    float *pw, *out, *dq, *dk, *dv;
} attn_job;

/* One query head per task: scores, softmax (saved), weighted values. */
static void attention_task(void *ctx, int h, int n_tasks)
{
    const attn_job *j = ctx;
    const llp_config *c = j->c;
    int hd = c->head_dim, g = h / (c->n_heads / c->n_heads_kv), T = j->T;
    float scale = 1.0f / sqrtf((float)hd);
    for (int t = 0; t < T; t++) {
        const float *q = j->q + (size_t)t * c->dim + (size_t)h * hd;
        float *p = j->pw + ((size_t)h * T + t) * T;
        float mx = -INFINITY;
        for (int s = 0; s <= t; s++) {
            const float *k = j->k + (size_t)s * c->kv_dim + (size_t)g * hd;
            float d = 0;
            for (int i = 0; i < hd; i++) d += q[i] * k[i];
            p[s] = d * scale;
            if (p[s] > mx) mx = p[s];
        }
        double sum = 0;
        for (int s = 0; s <= t; s++) {
            p[s] = expf(p[s] - mx);
            sum += p[s];
        }
        float inv = (float)(1.0 / sum);
        for (int s = 0; s <= t; s++) p[s] *= inv;
        float *o = j->out + (size_t)t * c->dim + (size_t)h * hd;
        memset(o, 0, sizeof(float) * (size_t)hd);
        for (int s = 0; s <= t; s++) {
            const float *v = j->v + (size_t)s * c->kv_dim + (size_t)g * hd;
            for (int i = 0; i < hd; i++) o[i] += p[s] * v[i];
        }
    }
}

void tr_attention(llp_pool *pool, const llp_config *c, int T, const float *q, const float *k,
                  const float *v, float *p, float *out)
{
    attn_job j = { .c = c, .T = T, .q = q, .k = k, .v = v, .pw = p, .out = out };
    llp_pool_run(pool, attention_task, &j, c->n_heads);
}

/* One KV head per task (it owns dk and dv of that head, summed over its
 * query heads in order):
 *   dp[s] = dout_t . v_s, ds = p (dp - sum_s p dp),
 *   dq_t = scale sum_s ds k_s, dk_s += scale ds q_t, dv_s += p dout_t */
static void attention_back_task(void *ctx, int g, int n_tasks)
{
    const attn_job *j = ctx;
    const llp_config *c = j->c;
    int hd = c->head_dim, group = c->n_heads / c->n_heads_kv, T = j->T;
    float scale = 1.0f / sqrtf((float)hd);
    float *ds = llp_malloc(sizeof(float) * (size_t)T);
    for (int t = 0; t < T; t++) {
        memset(j->dk + (size_t)t * c->kv_dim + (size_t)g * hd, 0, sizeof(float) * (size_t)hd);
        memset(j->dv + (size_t)t * c->kv_dim + (size_t)g * hd, 0, sizeof(float) * (size_t)hd);
    }
    for (int h = g * group; h < (g + 1) * group; h++) {
        for (int t = 0; t < T; t++) {
            const float *p = j->p + ((size_t)h * T + t) * T;
            const float *dO = j->dout + (size_t)t * c->dim + (size_t)h * hd;
            const float *q = j->q + (size_t)t * c->dim + (size_t)h * hd;
            float *dq = j->dq + (size_t)t * c->dim + (size_t)h * hd;
            double sum = 0;
            for (int s = 0; s <= t; s++) {
                const float *v = j->v + (size_t)s * c->kv_dim + (size_t)g * hd;
                float *dv = j->dv + (size_t)s * c->kv_dim + (size_t)g * hd;
                float d = 0;
                for (int i = 0; i < hd; i++) {
                    d += dO[i] * v[i];
                    dv[i] += p[s] * dO[i];
                }
                ds[s] = d;
                sum += (double)p[s] * d;
            }
            memset(dq, 0, sizeof(float) * (size_t)hd);
            for (int s = 0; s <= t; s++) {
                float dsc = p[s] * (ds[s] - (float)sum) * scale;
                const float *k = j->k + (size_t)s * c->kv_dim + (size_t)g * hd;
                float *dk = j->dk + (size_t)s * c->kv_dim + (size_t)g * hd;
                for (int i = 0; i < hd; i++) {
                    dq[i] += dsc * k[i];
                    dk[i] += dsc * q[i];
                }
            }
        }
    }
    free(ds);
}

void tr_attention_back(llp_pool *pool, const llp_config *c, int T, const float *q,
                       const float *k, const float *v, const float *p, const float *dout,
                       float *dq, float *dk, float *dv)
{
    attn_job j = { .c = c, .T = T, .q = q, .k = k, .v = v, .p = p, .dout = dout,
                   .dq = dq, .dk = dk, .dv = dv };
    llp_pool_run(pool, attention_back_task, &j, c->n_heads_kv);
}
