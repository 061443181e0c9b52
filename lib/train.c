/*
 * train.c — the LoRA trainer (see train.h): the f32 forward pass of one
 * sequence with its activations kept, the backward pass in reverse order,
 * AdamW with warm-up and cosine or linear decay, global-norm clipping, and
 * the optimizer state in checkpoints.
 *
 * Not for: the operations themselves (train_ops.c), the data
 * (train_data.c), the command line (cmd/llp-finetune.c).
 */
#include "train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "kernels/kernels.h"
#include "quant.h"
#include "threads.h"
#include "train_internal.h"

#define N_MATS 7    /* q, k, v, o, gate, up, down: the order of slot[] */

/* What the forward pass keeps of one layer for the backward pass. */
typedef struct saved_layer {
    float *xin;     /* (T, dim) the layer's input (residual stream) */
    float *r1;      /* (T) attention RMSNorm factors */
    float *xn1;     /* (T, dim) normed input */
    float *q;       /* (T, dim) after RoPE */
    float *k;       /* (T, kv_dim) after RoPE */
    float *v;       /* (T, kv_dim) */
    float *p;       /* (n_heads, T, T) attention probabilities */
    float *att;     /* (T, dim) attention output, before Wo */
    float *x1;      /* (T, dim) residual after attention */
    float *r2;      /* (T) feed-forward RMSNorm factors */
    float *xn2;     /* (T, dim) */
    float *g;       /* (T, ffn_dim) gate, before SiLU */
    float *up;      /* (T, ffn_dim) */
    float *h;       /* (T, ffn_dim) silu(g) * up */
    float *u[N_MATS];   /* (T, rank) x A^T of each adapted product, or NULL */
} saved_layer;

struct llp_trainer {
    const llp_model *m;
    llp_lora *a;
    llp_train_params p;
    llp_pool *pool;
    int *slot;              /* (n_layers, N_MATS) adapter tensor index or -1 */
    saved_layer *L;         /* (n_layers) */
    float *x;               /* (T, dim) residual stream; after the last layer x_L */
    float *tmp;             /* (T, dim) */
    float *dx, *dxn, *datt, *dq, *dk, *dv, *dg, *dup, *dh, *du;
    float *inv_freq;        /* (rope_dim / 2) */
    float **ga, **gb;       /* gradients, per adapter tensor */
    float **ma, **va, **mb, **vb;   /* Adam moments */
    int step;
    double t_fwd, t_bwd, t_opt;
};

static const llp_weight *layer_weight(const llp_layer *L, int k)
{
    const llp_weight *ws[] = { &L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down };
    return ws[k];
}

static float *fbuf(size_t n) { return llp_calloc(n ? n : 1, sizeof(float)); }

llp_trainer *llp_trainer_new(const llp_model *m, llp_lora *a, const llp_train_params *p,
                             llp_err *err)
{
    const llp_config *c = &m->cfg;
    if (llp_lora_check(a, m, err)) return NULL;
    llp_trainer *tr = llp_calloc(1, sizeof *tr);
    tr->m = m;
    tr->a = a;
    tr->p = *p;
    if (tr->p.beta1 == 0) tr->p.beta1 = 0.9;
    if (tr->p.beta2 == 0) tr->p.beta2 = 0.999;
    if (tr->p.eps == 0) tr->p.eps = 1e-8;
    tr->slot = llp_malloc(sizeof(int) * (size_t)c->n_layers * N_MATS);
    for (int i = 0; i < c->n_layers * N_MATS; i++) tr->slot[i] = -1;
    int max_rank = 1;
    for (int i = 0; i < a->n; i++) {
        const llp_weight *w = llp_lora_target((llp_model *)m, a->t[i].name);
        int found = -1;
        for (int l = 0; l < c->n_layers && found < 0; l++)
            for (int k = 0; k < N_MATS; k++)
                if (layer_weight(&m->layers[l], k) == w) found = l * N_MATS + k;
        if (found < 0) {
            llp_err_set(err, "tensor '%s': only layer matrices (q, k, v, o, gate, up, down) "
                        "can be trained", a->t[i].name);
            llp_trainer_free(tr);
            return NULL;
        }
        tr->slot[found] = i;
        if (a->t[i].rank > max_rank) max_rank = a->t[i].rank;
    }
    size_t T = (size_t)p->n_ctx, dim = (size_t)c->dim, kv = (size_t)c->kv_dim,
           ffn = (size_t)c->ffn_dim;
    tr->L = llp_calloc((size_t)c->n_layers, sizeof *tr->L);
    for (int l = 0; l < c->n_layers; l++) {
        saved_layer *S = &tr->L[l];
        S->xin = fbuf(T * dim);
        S->r1 = fbuf(T);
        S->xn1 = fbuf(T * dim);
        S->q = fbuf(T * dim);
        S->k = fbuf(T * kv);
        S->v = fbuf(T * kv);
        S->p = fbuf((size_t)c->n_heads * T * T);
        S->att = fbuf(T * dim);
        S->x1 = fbuf(T * dim);
        S->r2 = fbuf(T);
        S->xn2 = fbuf(T * dim);
        S->g = fbuf(T * ffn);
        S->up = fbuf(T * ffn);
        S->h = fbuf(T * ffn);
        for (int k = 0; k < N_MATS; k++) {
            int s = tr->slot[l * N_MATS + k];
            if (s >= 0) S->u[k] = fbuf(T * (size_t)a->t[s].rank);
        }
    }
    tr->x = fbuf(T * dim);
    tr->tmp = fbuf(T * dim);
    tr->dx = fbuf(T * dim);
    tr->dxn = fbuf(T * dim);
    tr->datt = fbuf(T * dim);
    tr->dq = fbuf(T * dim);
    tr->dk = fbuf(T * kv);
    tr->dv = fbuf(T * kv);
    tr->dg = fbuf(T * ffn);
    tr->dup = fbuf(T * ffn);
    tr->dh = fbuf(T * ffn);
    tr->du = fbuf(T * (size_t)max_rank);
    tr->inv_freq = fbuf((size_t)c->rope_dim / 2);
    for (int i = 0; i < c->rope_dim / 2; i++)
        tr->inv_freq[i] = (float)pow((double)c->rope_base, -2.0 * i / c->rope_dim);
    float ***arrs[] = { &tr->ga, &tr->gb, &tr->ma, &tr->va, &tr->mb, &tr->vb };
    for (int k = 0; k < 6; k++) {
        *arrs[k] = llp_calloc((size_t)a->n, sizeof(float *));
        for (int i = 0; i < a->n; i++) {
            const llp_lora_tensor *t = &a->t[i];
            /* ga, ma, va: (rank, n_in); gb, mb, vb: (n_out, rank) */
            bool is_a = k == 0 || k == 2 || k == 3;
            int64_t n = (int64_t)t->rank * (is_a ? t->n_in : t->n_out);
            (*arrs[k])[i] = fbuf((size_t)n);
        }
    }
    int threads = p->n_threads > 0 ? p->n_threads : llp_physical_cores();
    tr->pool = llp_pool_new(threads);
    openblas_set_num_threads(1);
    return tr;
}

void llp_trainer_free(llp_trainer *tr)
{
    if (!tr) return;
    const llp_config *c = &tr->m->cfg;
    if (tr->L)
        for (int l = 0; l < c->n_layers; l++) {
            saved_layer *S = &tr->L[l];
            float *bufs[] = { S->xin, S->r1, S->xn1, S->q, S->k, S->v, S->p, S->att,
                              S->x1, S->r2, S->xn2, S->g, S->up, S->h };
            for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
            for (int k = 0; k < N_MATS; k++) free(S->u[k]);
        }
    free(tr->L);
    float *bufs[] = { tr->x, tr->tmp, tr->dx, tr->dxn, tr->datt, tr->dq, tr->dk, tr->dv,
                      tr->dg, tr->dup, tr->dh, tr->du, tr->inv_freq };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    float **arrs[] = { tr->ga, tr->gb, tr->ma, tr->va, tr->mb, tr->vb };
    for (int k = 0; k < 6; k++) {
        if (!arrs[k]) continue;
        for (int i = 0; i < tr->a->n; i++) free(arrs[k][i]);
        free(arrs[k]);
    }
    free(tr->slot);
    llp_pool_free(tr->pool);
    free(tr);
}

/* ---- initialisation ------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void llp_lora_init_random(llp_lora *a, uint64_t seed)
{
    uint64_t s = seed;
    for (int i = 0; i < a->n; i++) {
        llp_lora_tensor *t = &a->t[i];
        float bound = (float)(1.0 / sqrt((double)t->n_in));
        for (int64_t j = 0; j < (int64_t)t->rank * t->n_in; j++) {
            double u = (double)(splitmix64(&s) >> 11) * (1.0 / 9007199254740992.0);
            t->a[j] = (float)((2 * u - 1) * bound);
        }
        memset(t->b, 0, sizeof(float) * (size_t)(t->rank * t->n_out));
    }
}

/* ---- the passes ------------------------------------------------------------ */

/* y = x W^T (+ scale (x A^T) B^T, u = x A^T kept). */
static void forward_product(llp_trainer *tr, const llp_weight *w, int slot, const float *x,
                            int T, float *y, float *u)
{
    tr_matmul(tr->pool, w, x, T, y);
    if (slot < 0) return;
    const llp_lora_tensor *t = &tr->a->t[slot];
    float s = llp_lora_scale(tr->a, t, 1.0f);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, t->rank, (int)t->n_in, 1.0f, x,
                (int)t->n_in, t->a, (int)t->n_in, 0.0f, u, t->rank);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, (int)t->n_out, t->rank, s, u,
                t->rank, t->b, t->rank, 1.0f, y, (int)t->n_out);
}

/* Given dY of y = x W^T + s (x A^T) B^T:
 *   dB += s dY^T u,  du = s dY B,  dA += du^T x,  dX += du A + dY W  */
static void backward_product(llp_trainer *tr, const llp_weight *w, int slot, const float *x,
                             const float *u, const float *dY, int T, float *dX, bool need_dx)
{
    if (slot >= 0) {
        const llp_lora_tensor *t = &tr->a->t[slot];
        float s = llp_lora_scale(tr->a, t, 1.0f);
        int r = t->rank, n_in = (int)t->n_in, n_out = (int)t->n_out;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n_out, r, T, s, dY, n_out, u, r,
                    1.0f, tr->gb[slot], r);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, r, n_out, s, dY, n_out, t->b,
                    r, 0.0f, tr->du, r);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r, n_in, T, 1.0f, tr->du, r, x,
                    n_in, 1.0f, tr->ga[slot], n_in);
        if (need_dx)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, n_in, r, 1.0f, tr->du, r,
                        t->a, n_in, 1.0f, dX, n_in);
    }
    if (need_dx) tr_matmul_t(tr->pool, w, dY, T, dX);
}

static void forward_layer(llp_trainer *tr, int l, int T)
{
    const llp_config *c = &tr->m->cfg;
    const llp_layer *W = &tr->m->layers[l];
    saved_layer *S = &tr->L[l];
    const int *slot = tr->slot + l * N_MATS;
    size_t nd = (size_t)T * c->dim, nf = (size_t)T * c->ffn_dim;
    memcpy(S->xin, tr->x, sizeof(float) * nd);
    tr_rmsnorm(S->xn1, S->r1, S->xin, W->attn_norm, T, c->dim, c->norm_eps);
    forward_product(tr, &W->wq, slot[0], S->xn1, T, S->q, S->u[0]);
    forward_product(tr, &W->wk, slot[1], S->xn1, T, S->k, S->u[1]);
    forward_product(tr, &W->wv, slot[2], S->xn1, T, S->v, S->u[2]);
    tr_rope(S->q, T, c->n_heads, c->head_dim, c->rope_dim, tr->inv_freq, false);
    tr_rope(S->k, T, c->n_heads_kv, c->head_dim, c->rope_dim, tr->inv_freq, false);
    tr_attention(tr->pool, c, T, S->q, S->k, S->v, S->p, S->att);
    forward_product(tr, &W->wo, slot[3], S->att, T, tr->tmp, S->u[3]);
    for (size_t i = 0; i < nd; i++) S->x1[i] = S->xin[i] + tr->tmp[i];
    tr_rmsnorm(S->xn2, S->r2, S->x1, W->ffn_norm, T, c->dim, c->norm_eps);
    forward_product(tr, &W->w_gate, slot[4], S->xn2, T, S->g, S->u[4]);
    forward_product(tr, &W->w_up, slot[5], S->xn2, T, S->up, S->u[5]);
    for (size_t i = 0; i < nf; i++) S->h[i] = llp_silu_poly(S->g[i]) * S->up[i];
    forward_product(tr, &W->w_down, slot[6], S->h, T, tr->tmp, S->u[6]);
    for (size_t i = 0; i < nd; i++) tr->x[i] = S->x1[i] + tr->tmp[i];
}

/* tr->dx holds the gradient of the layer's output; on return, of its input
 * (not computed for layer 0, whose input is the frozen embedding). */
static void backward_layer(llp_trainer *tr, int l, int T)
{
    const llp_config *c = &tr->m->cfg;
    const llp_layer *W = &tr->m->layers[l];
    saved_layer *S = &tr->L[l];
    const int *slot = tr->slot + l * N_MATS;
    size_t nd = (size_t)T * c->dim, nf = (size_t)T * c->ffn_dim;
    bool below = l > 0;

    /* feed-forward: x_out = x1 + down(silu(g) * up) */
    memset(tr->dh, 0, sizeof(float) * nf);
    backward_product(tr, &W->w_down, slot[6], S->h, S->u[6], tr->dx, T, tr->dh, true);
    for (size_t i = 0; i < nf; i++) {
        float g = S->g[i], sg = llp_sigmoid_poly(g);
        tr->dup[i] = tr->dh[i] * g * sg;
        tr->dg[i] = tr->dh[i] * S->up[i] * sg * (1.0f + g * (1.0f - sg));
    }
    memset(tr->dxn, 0, sizeof(float) * nd);
    backward_product(tr, &W->w_gate, slot[4], S->xn2, S->u[4], tr->dg, T, tr->dxn, true);
    backward_product(tr, &W->w_up, slot[5], S->xn2, S->u[5], tr->dup, T, tr->dxn, true);
    tr_rmsnorm_back(tr->dx, tr->dxn, S->x1, S->r2, W->ffn_norm, T, c->dim);

    /* attention: x1 = xin + Wo attention(rope(q), rope(k), v) */
    memset(tr->datt, 0, sizeof(float) * nd);
    backward_product(tr, &W->wo, slot[3], S->att, S->u[3], tr->dx, T, tr->datt, true);
    tr_attention_back(tr->pool, c, T, S->q, S->k, S->v, S->p, tr->datt, tr->dq, tr->dk, tr->dv);
    tr_rope(tr->dq, T, c->n_heads, c->head_dim, c->rope_dim, tr->inv_freq, true);
    tr_rope(tr->dk, T, c->n_heads_kv, c->head_dim, c->rope_dim, tr->inv_freq, true);
    memset(tr->dxn, 0, sizeof(float) * nd);
    backward_product(tr, &W->wq, slot[0], S->xn1, S->u[0], tr->dq, T, tr->dxn, below);
    backward_product(tr, &W->wk, slot[1], S->xn1, S->u[1], tr->dk, T, tr->dxn, below);
    backward_product(tr, &W->wv, slot[2], S->xn1, S->u[2], tr->dv, T, tr->dxn, below);
    if (below) tr_rmsnorm_back(tr->dx, tr->dxn, S->xin, S->r1, W->attn_norm, T, c->dim);
}

double llp_trainer_sequence(llp_trainer *tr, const int32_t *tokens, const uint8_t *target, int T,
                            double weight, bool backward, float *logits_out, llp_err *err)
{
    const llp_model *m = tr->m;
    const llp_config *c = &m->cfg;
    if (T < 2 || T > tr->p.n_ctx)
        return llp_err_set(err, "sequence of %d tokens (allowed 2..%d)", T, tr->p.n_ctx);
    int n_tgt = 0;
    for (int t = 0; t < T; t++) {
        if (tokens[t] < 0 || tokens[t] >= c->n_vocab)
            return llp_err_set(err, "token id %d out of range (vocabulary has %d)", tokens[t],
                               c->n_vocab);
        if (t > 0 && target[t]) n_tgt++;
    }
    double t0 = llp_now();
    llp_pool_hold(tr->pool);
    size_t emb_row = llp_row_size(m->token_embd.type, c->dim);
    for (int t = 0; t < T; t++)
        llp_dequantize_row(m->token_embd.type,
                           (const uint8_t *)m->token_embd.data + emb_row * (size_t)tokens[t],
                           tr->x + (size_t)t * c->dim, c->dim);
    for (int l = 0; l < c->n_layers; l++) forward_layer(tr, l, T);

    /* the head on the rows that predict a target: row t-1 predicts token t */
    int *rows = llp_malloc(sizeof(int) * (size_t)(n_tgt ? n_tgt : 1));
    for (int t = 1, j = 0; t < T; t++)
        if (target[t]) rows[j++] = t - 1;
    float *xf = fbuf((size_t)n_tgt * c->dim), *rf = fbuf((size_t)n_tgt);
    float *xl = fbuf((size_t)n_tgt * c->dim);
    for (int j = 0; j < n_tgt; j++)
        memcpy(xl + (size_t)j * c->dim, tr->x + (size_t)rows[j] * c->dim,
               sizeof(float) * (size_t)c->dim);
    tr_rmsnorm(xf, rf, xl, m->output_norm, n_tgt, c->dim, c->norm_eps);
    float *logits = fbuf((size_t)n_tgt * c->n_vocab);
    if (n_tgt) tr_matmul(tr->pool, &m->output, xf, n_tgt, logits);
    if (logits_out) memcpy(logits_out, logits, sizeof(float) * (size_t)n_tgt * c->n_vocab);
    double loss = 0;
    for (int j = 0; j < n_tgt; j++) {
        float *z = logits + (size_t)j * c->n_vocab;
        float mx = -INFINITY;
        for (int v = 0; v < c->n_vocab; v++) mx = z[v] > mx ? z[v] : mx;
        double sum = 0;
        for (int v = 0; v < c->n_vocab; v++) sum += exp((double)z[v] - mx);
        double lse = mx + log(sum);
        int y = tokens[rows[j] + 1];
        loss += lse - z[y];
        if (backward) {
            /* d loss / d z = softmax - onehot */
            for (int v = 0; v < c->n_vocab; v++)
                z[v] = (float)(weight * exp((double)z[v] - lse));
            z[y] -= (float)weight;
        }
    }
    double t1 = llp_now();
    tr->t_fwd += t1 - t0;
    if (backward && n_tgt) {
        float *dxf = fbuf((size_t)n_tgt * c->dim);
        tr_matmul_t(tr->pool, &m->output, logits, n_tgt, dxf);
        size_t nd = (size_t)T * c->dim;
        memset(tr->dx, 0, sizeof(float) * nd);
        for (int j = 0; j < n_tgt; j++)
            tr_rmsnorm_back(tr->dx + (size_t)rows[j] * c->dim, dxf + (size_t)j * c->dim,
                            xl + (size_t)j * c->dim, rf + j, m->output_norm, 1, c->dim);
        free(dxf);
        for (int l = c->n_layers - 1; l >= 0; l--) backward_layer(tr, l, T);
        tr->t_bwd += llp_now() - t1;
    }
    llp_pool_release(tr->pool);
    free(rows);
    free(xf);
    free(rf);
    free(xl);
    free(logits);
    return loss;
}

/* ---- the optimizer ---------------------------------------------------------- */

void llp_trainer_zero_grad(llp_trainer *tr)
{
    for (int i = 0; i < tr->a->n; i++) {
        const llp_lora_tensor *t = &tr->a->t[i];
        memset(tr->ga[i], 0, sizeof(float) * (size_t)(t->rank * t->n_in));
        memset(tr->gb[i], 0, sizeof(float) * (size_t)(t->rank * t->n_out));
    }
}

float *llp_trainer_grad_a(llp_trainer *tr, int i) { return tr->ga[i]; }
float *llp_trainer_grad_b(llp_trainer *tr, int i) { return tr->gb[i]; }
int llp_trainer_step_count(const llp_trainer *tr) { return tr->step; }

void llp_trainer_times(const llp_trainer *tr, double *fwd, double *bwd, double *opt)
{
    *fwd = tr->t_fwd;
    *bwd = tr->t_bwd;
    *opt = tr->t_opt;
}

double llp_trainer_grad_norm(const llp_trainer *tr)
{
    double ss = 0;
    for (int i = 0; i < tr->a->n; i++) {
        const llp_lora_tensor *t = &tr->a->t[i];
        for (int64_t j = 0; j < (int64_t)t->rank * t->n_in; j++) ss += (double)tr->ga[i][j] * tr->ga[i][j];
        for (int64_t j = 0; j < (int64_t)t->rank * t->n_out; j++) ss += (double)tr->gb[i][j] * tr->gb[i][j];
    }
    return sqrt(ss);
}

double llp_trainer_lr(const llp_trainer *tr, int step)
{
    const llp_train_params *p = &tr->p;
    if (step < p->warmup) return p->lr * (step + 1) / p->warmup;
    if (p->schedule == LLP_SCHED_CONSTANT) return p->lr;
    int span = p->total_steps - p->warmup;
    double progress = span > 0 ? (double)(step - p->warmup) / span : 0;
    if (progress > 1) progress = 1;
    if (p->schedule == LLP_SCHED_LINEAR) return p->lr * (1 - progress);
    return p->lr * 0.5 * (1 + cos(M_PI * progress));
}

static void adamw(float *w, const float *g, float *m, float *v, int64_t n, double clip_scale,
                  double lr, const llp_train_params *p, double bc1, double bc2)
{
    for (int64_t i = 0; i < n; i++) {
        double gi = g[i] * clip_scale;
        double mi = p->beta1 * m[i] + (1 - p->beta1) * gi;
        double vi = p->beta2 * v[i] + (1 - p->beta2) * gi * gi;
        m[i] = (float)mi;
        v[i] = (float)vi;
        double upd = (mi / bc1) / (sqrt(vi / bc2) + p->eps) + p->weight_decay * w[i];
        w[i] = (float)(w[i] - lr * upd);
    }
}

double llp_trainer_update(llp_trainer *tr, double *grad_norm)
{
    double t0 = llp_now();
    double gn = llp_trainer_grad_norm(tr);
    if (grad_norm) *grad_norm = gn;
    double scale = tr->p.clip > 0 && gn > tr->p.clip ? tr->p.clip / gn : 1.0;
    double lr = llp_trainer_lr(tr, tr->step);
    double bc1 = 1 - pow(tr->p.beta1, tr->step + 1), bc2 = 1 - pow(tr->p.beta2, tr->step + 1);
    for (int i = 0; i < tr->a->n; i++) {
        llp_lora_tensor *t = &tr->a->t[i];
        adamw(t->a, tr->ga[i], tr->ma[i], tr->va[i], (int64_t)t->rank * t->n_in, scale, lr,
              &tr->p, bc1, bc2);
        adamw(t->b, tr->gb[i], tr->mb[i], tr->vb[i], (int64_t)t->rank * t->n_out, scale, lr,
              &tr->p, bc1, bc2);
    }
    tr->step++;
    tr->t_opt += llp_now() - t0;
    return lr;
}

/* ---- checkpoints --------------------------------------------------------------- */

static const char *const moment_suffix[4] = { ".lora_a.adam_m", ".lora_a.adam_v",
                                              ".lora_b.adam_m", ".lora_b.adam_v" };

void llp_trainer_save_state(const llp_trainer *tr, gguf_writer *w)
{
    gguf_set_u32(w, "llp.train.step", (uint32_t)tr->step);
    char name[160];
    for (int i = 0; i < tr->a->n; i++) {
        const llp_lora_tensor *t = &tr->a->t[i];
        float *arr[4] = { tr->ma[i], tr->va[i], tr->mb[i], tr->vb[i] };
        for (int k = 0; k < 4; k++) {
            int64_t ne[2] = { k < 2 ? t->n_in : t->rank, k < 2 ? t->rank : t->n_out };
            snprintf(name, sizeof name, "%s%s", t->name, moment_suffix[k]);
            gguf_add_tensor(w, name, 2, ne, LLP_F32, arr[k]);
        }
    }
}

int llp_trainer_load_state(llp_trainer *tr, const gguf_file *f, llp_err *err)
{
    int64_t step;
    if (gguf_get_int(f, "llp.train.step", &step) != 0 || step < 0)
        return llp_err_set(err, "%s: not a checkpoint (no llp.train.step)", gguf_path(f));
    char name[160];
    for (int i = 0; i < tr->a->n; i++) {
        const llp_lora_tensor *t = &tr->a->t[i];
        float *arr[4] = { tr->ma[i], tr->va[i], tr->mb[i], tr->vb[i] };
        for (int k = 0; k < 4; k++) {
            snprintf(name, sizeof name, "%s%s", t->name, moment_suffix[k]);
            const gguf_tensor *g = gguf_find_tensor(f, name);
            size_t n = (size_t)t->rank * (size_t)(k < 2 ? t->n_in : t->n_out);
            if (!g || g->type != LLP_F32 || g->n_bytes < n * sizeof(float))
                return llp_err_set(err, "%s: checkpoint tensor '%s' is missing or malformed",
                                   gguf_path(f), name);
            memcpy(arr[k], g->data, n * sizeof(float));
        }
    }
    tr->step = (int)step;
    return 0;
}
