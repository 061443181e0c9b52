/*
 * model.c — load a Llama model from GGUF and run its forward pass.
 *
 * The forward pass reads top to bottom like llama2.c's run.c: embed, then
 * per layer attention and feed-forward with RMSNorm, RoPE and grouped-query
 * attention, then the output head. It works on a batch of tokens at once
 * (rows of X), so prompt processing is matrix-matrix work (matmul.h), and
 * the tokens of a batch may belong to different sequences of the KV cache.
 *
 * Not for: choosing kernels (matmul.c), tokenization, sampling.
 */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cblas.h>

#include "kernels/kernels.h"
#include "lora.h"
#include "matmul.h"
#include "quant.h"
#include "threads.h"

/* ---- loading ------------------------------------------------------------ */

static int get_required_int(const gguf_file *f, const char *key, int *out, llp_err *err)
{
    int64_t v;
    int rc = gguf_get_int(f, key, &v);
    if (rc == -1)
        return llp_err_set(err, "%s: missing required key '%s'", gguf_path(f), key);
    if (rc == -2)
        return llp_err_set(err, "%s: key '%s' is not an integer", gguf_path(f), key);
    if (v <= 0 || v > (1 << 30))
        return llp_err_set(err, "%s: key '%s' has value %lld, out of range", gguf_path(f), key,
                           (long long)v);
    *out = (int)v;
    return 0;
}

static int get_optional_int(const gguf_file *f, const char *key, int *out, int dflt, llp_err *err)
{
    if (gguf_find_key(f, key) < 0) {
        *out = dflt;
        return 0;
    }
    return get_required_int(f, key, out, err);
}

static int get_optional_float(const gguf_file *f, const char *key, float *out, float dflt,
                              llp_err *err)
{
    double v;
    int rc = gguf_get_float(f, key, &v);
    if (rc == -1) {
        *out = dflt;
        return 0;
    }
    if (rc == -2)
        return llp_err_set(err, "%s: key '%s' is not a number", gguf_path(f), key);
    if (!(v > 0) || !isfinite(v))
        return llp_err_set(err, "%s: key '%s' has value %g, out of range", gguf_path(f), key, v);
    *out = (float)v;
    return 0;
}

static int read_config(const gguf_file *f, llp_config *c, llp_err *err)
{
    const char *arch;
    if (gguf_get_str(f, "general.architecture", &arch, NULL) != 0)
        return llp_err_set(err, "%s: missing required key 'general.architecture'", gguf_path(f));
    if (strcmp(arch, "llama") != 0)
        return llp_err_set(err, "%s: architecture '%s' is not supported (only 'llama')",
                           gguf_path(f), arch);
    memset(c, 0, sizeof *c);
    if (get_required_int(f, "llama.embedding_length", &c->dim, err) ||
        get_required_int(f, "llama.block_count", &c->n_layers, err) ||
        get_required_int(f, "llama.feed_forward_length", &c->ffn_dim, err) ||
        get_required_int(f, "llama.attention.head_count", &c->n_heads, err) ||
        get_required_int(f, "llama.context_length", &c->n_ctx_train, err) ||
        get_optional_int(f, "llama.attention.head_count_kv", &c->n_heads_kv, c->n_heads, err) ||
        get_optional_float(f, "llama.rope.freq_base", &c->rope_base, 10000.0f, err) ||
        get_optional_float(f, "llama.attention.layer_norm_rms_epsilon", &c->norm_eps, 1e-5f, err))
        return -1;
    /* Every layer has its own tensors: a count the tensor table cannot back
     * is refused before it sizes an allocation. */
    if (c->n_layers > gguf_n_tensors(f))
        return llp_err_set(err, "%s: llama.block_count %d is more than the file's %lld tensors "
                           "can hold", gguf_path(f), c->n_layers, (long long)gguf_n_tensors(f));
    if (c->dim % c->n_heads != 0)
        return llp_err_set(err, "%s: embedding_length %d is not a multiple of head_count %d",
                           gguf_path(f), c->dim, c->n_heads);
    if (c->n_heads % c->n_heads_kv != 0)
        return llp_err_set(err, "%s: head_count %d is not a multiple of head_count_kv %d",
                           gguf_path(f), c->n_heads, c->n_heads_kv);
    c->head_dim = c->dim / c->n_heads;
    c->kv_dim = c->n_heads_kv * c->head_dim;
    if (c->head_dim % 2 != 0 || c->head_dim > LLP_MAX_HEAD_DIM)
        return llp_err_set(err, "%s: head dimension %d is odd or larger than %d", gguf_path(f),
                           c->head_dim, LLP_MAX_HEAD_DIM);
    if (get_optional_int(f, "llama.rope.dimension_count", &c->rope_dim, c->head_dim, err))
        return -1;
    if (c->rope_dim > c->head_dim || c->rope_dim % 2 != 0)
        return llp_err_set(err, "%s: llama.rope.dimension_count %d does not fit head dimension %d",
                           gguf_path(f), c->rope_dim, c->head_dim);
    return 0;
}

/* Find a 2-D weight named `name` with extents {n_in, n_out}. */
static int bind_weight(const gguf_file *f, const char *name, int64_t n_in, int64_t n_out,
                       llp_weight *w, llp_err *err)
{
    const gguf_tensor *t = gguf_find_tensor(f, name);
    if (!t) return llp_err_set(err, "%s: missing tensor '%s'", gguf_path(f), name);
    if (t->ne[0] != n_in || t->ne[1] != n_out || t->ne[2] != 1 || t->ne[3] != 1)
        return llp_err_set(err, "%s: tensor '%s' has shape [%lld, %lld], expected [%lld, %lld]",
                           gguf_path(f), name, (long long)t->ne[0], (long long)t->ne[1],
                           (long long)n_in, (long long)n_out);
    const llp_type_info *ti = llp_type_get(t->type);
    if (!ti || !ti->supported)
        return llp_err_set(err, "%s: tensor '%s' has type %s, which llamapipe does not support",
                           gguf_path(f), name, llp_type_name(t->type));
    w->name = t->name;
    w->type = t->type;
    w->data = t->data;
    w->n_in = n_in;
    w->n_out = n_out;
    return 0;
}

/* A norm vector (dim) as an f32 copy, whatever its stored type. */
static float *load_norm(const gguf_file *f, const char *name, int dim, llp_err *err)
{
    llp_weight w;
    const gguf_tensor *t = gguf_find_tensor(f, name);
    if (!t) {
        llp_err_set(err, "%s: missing tensor '%s'", gguf_path(f), name);
        return NULL;
    }
    if (t->n_dims != 1 && !(t->ne[1] == 1)) {
        llp_err_set(err, "%s: tensor '%s' should be a vector of %d", gguf_path(f), name, dim);
        return NULL;
    }
    if (bind_weight(f, name, dim, 1, &w, err)) return NULL;
    float *v = llp_malloc(sizeof(float) * (size_t)dim);
    llp_dequantize_row(w.type, w.data, v, dim);
    return v;
}

/* Repack one weight for the fast path (matmul.h) when the kernel set in use
 * multiplies packed weights of its type, then let the kernel drop the mapped
 * original from this process's memory: the fast path never reads it again,
 * and the reference path, if used, faults it back in from the file. The
 * token embedding is kept mapped (its rows are looked up every token). */
static void pack_weight(llp_weight *w, bool drop_original)
{
    if (!llp_matmul_prefers_packed(w->type)) return;
    w->packed = llp_matmul_pack(w->type, w->data, w->n_in, w->n_out);
    if (!w->packed || !drop_original) return;
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t lo = (uintptr_t)w->data, hi = lo + llp_row_size(w->type, w->n_in) * (size_t)w->n_out;
    lo = (lo + (uintptr_t)page - 1) & ~(uintptr_t)(page - 1);
    hi &= ~(uintptr_t)(page - 1);
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* Every matrix the forward pass multiplies: 7 per layer, then the output
 * head. out holds 7 * n_layers + 1 pointers (fewer when layers is not yet
 * allocated); returns the count. */
static int model_matrices(llp_model *m, llp_weight **out)
{
    int n = 0;
    for (int l = 0; m->layers && l < m->cfg.n_layers; l++) {
        llp_layer *L = &m->layers[l];
        llp_weight *ws[] = { &L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down };
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) out[n++] = ws[i];
    }
    out[n++] = &m->output;
    return n;
}

typedef struct {
    llp_model *m;
    llp_weight **w;
} pack_job;

static void pack_task(void *ctx, int task, int n_tasks)
{
    pack_job *j = ctx;
    llp_weight *w = j->w[task];
    pack_weight(w, !(w == &j->m->output && j->m->output_tied));
}

/* Every matrix the forward pass multiplies, packed (unless LLP_NO_PACK=1, or
 * the kernel set in use has no packed products), one matrix per task on a
 * pool of the physical cores. */
static void pack_weights(llp_model *m)
{
    const char *off = getenv("LLP_NO_PACK");
    if (off && *off && strcmp(off, "0") != 0) return;
    pack_job j = { m, llp_calloc(7 * (size_t)m->cfg.n_layers + 1, sizeof *j.w) };
    int n = model_matrices(m, j.w);
    llp_pool *pool = llp_pool_new(llp_physical_cores());
    llp_pool_run(pool, pack_task, &j, n);
    llp_pool_free(pool);
    free(j.w);
}

static void unpack_weights(llp_model *m)
{
    /* Also called on a model whose loading failed part way: no layers yet. */
    llp_weight **ws = llp_calloc(7 * (size_t)(m->layers ? m->cfg.n_layers : 0) + 1, sizeof *ws);
    int n = model_matrices(m, ws);
    for (int i = 0; i < n; i++) {
        free(ws[i]->packed);
        if (ws[i] == &m->output && m->output_tied) continue;   /* token_embd's */
        free(ws[i]->merged);
        for (llp_weight_lora *l = ws[i]->lora, *next; l; l = next) {
            next = l->next;
            free(l);
        }
    }
    free(ws);
}

llp_model *llp_model_from_gguf(gguf_file *file, llp_err *err)
{
    llp_model *m = llp_calloc(1, sizeof *m);
    m->file = file;
    m->path = llp_strdup(gguf_path(file));
    llp_config *c = &m->cfg;
    char name[96];

    if (read_config(file, c, err)) goto fail;
    const gguf_tensor *emb = gguf_find_tensor(file, "token_embd.weight");
    if (!emb) {
        llp_err_set(err, "%s: missing tensor 'token_embd.weight'", m->path);
        goto fail;
    }
    if (emb->ne[1] <= 0 || emb->ne[1] > (1 << 24)) {
        llp_err_set(err, "%s: tensor 'token_embd.weight' has %lld rows", m->path,
                    (long long)emb->ne[1]);
        goto fail;
    }
    c->n_vocab = (int)emb->ne[1];
    if (bind_weight(file, "token_embd.weight", c->dim, c->n_vocab, &m->token_embd, err)) goto fail;
    if (!(m->output_norm = load_norm(file, "output_norm.weight", c->dim, err))) goto fail;
    if (gguf_find_tensor(file, "output.weight")) {
        if (bind_weight(file, "output.weight", c->dim, c->n_vocab, &m->output, err)) goto fail;
    } else {
        m->output = m->token_embd;      /* tied output head */
        m->output_tied = true;
    }

    m->layers = llp_calloc((size_t)c->n_layers, sizeof *m->layers);
    for (int l = 0; l < c->n_layers; l++) {
        llp_layer *L = &m->layers[l];
        struct { const char *suffix; llp_weight *w; int64_t n_in, n_out; } mats[] = {
            { "attn_q", &L->wq, c->dim, c->dim },
            { "attn_k", &L->wk, c->dim, c->kv_dim },
            { "attn_v", &L->wv, c->dim, c->kv_dim },
            { "attn_output", &L->wo, c->dim, c->dim },
            { "ffn_gate", &L->w_gate, c->dim, c->ffn_dim },
            { "ffn_up", &L->w_up, c->dim, c->ffn_dim },
            { "ffn_down", &L->w_down, c->ffn_dim, c->dim },
        };
        for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++) {
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, mats[i].suffix);
            if (bind_weight(file, name, mats[i].n_in, mats[i].n_out, mats[i].w, err)) goto fail;
        }
        snprintf(name, sizeof name, "blk.%d.attn_norm.weight", l);
        if (!(L->attn_norm = load_norm(file, name, c->dim, err))) goto fail;
        snprintf(name, sizeof name, "blk.%d.ffn_norm.weight", l);
        if (!(L->ffn_norm = load_norm(file, name, c->dim, err))) goto fail;
    }
    pack_weights(m);
    for (int64_t i = 0; i < gguf_n_tensors(file); i++) {
        const gguf_tensor *t = gguf_tensor_at(file, i);
        m->n_params += (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
    }
    return m;
fail:
    m->file = NULL;     /* the caller still owns it on failure */
    llp_model_free(m);
    return NULL;
}

llp_model *llp_model_load(const char *path, llp_err *err)
{
    gguf_file *f = gguf_open(path, err);
    if (!f) return NULL;
    llp_model *m = llp_model_from_gguf(f, err);
    if (!m) gguf_close(f);
    return m;
}

void llp_model_free(llp_model *m)
{
    if (!m) return;
    unpack_weights(m);
    if (m->layers) {
        for (int l = 0; l < m->cfg.n_layers; l++) {
            free(m->layers[l].attn_norm);
            free(m->layers[l].ffn_norm);
        }
        free(m->layers);
    }
    free(m->output_norm);
    if (m->file) gguf_close(m->file);
    free(m->path);
    free(m);
}

/* ---- inference state ---------------------------------------------------- */

struct llp_context {
    const llp_model *model;
    int n_ctx, n_seq, n_batch;
    bool reference;
    llp_pool *pool;
    llp_kv_cache kv;    /* keys and values of every sequence (kv_cache.h) */
    /* scratch for one forward call of up to n_batch tokens */
    float *x;       /* (n_batch, dim) residual stream */
    float *xb;      /* (n_batch, dim) normed input / attention output */
    float *xb2;     /* (n_batch, dim) */
    float *q;       /* (n_batch, dim) */
    float *k;       /* (n_batch, kv_dim) */
    float *v;       /* (n_batch, kv_dim) */
    float *hb;      /* (n_batch, ffn_dim) */
    float *hb2;     /* (n_batch, ffn_dim) */
    float *att;     /* (n_att_tasks, group, n_ctx) attention scores: per task, a row per
                     * query head of a KV group */
    int n_att_tasks;
    float *rope_inv_freq;   /* (rope_dim / 2) base^(-2i/rope_dim) */
};

llp_context *llp_context_new(const llp_model *m, const llp_context_params *p, llp_err *err)
{
    const llp_config *c = &m->cfg;
    llp_context_params d = { 0 };
    if (!p) p = &d;
    int n_ctx = p->n_ctx > 0 ? p->n_ctx : (c->n_ctx_train < 4096 ? c->n_ctx_train : 4096);
    int n_seq = p->n_seq > 0 ? p->n_seq : 1;
    int n_batch = p->n_batch > 0 ? p->n_batch : 512;
    if (n_ctx > (1 << 20) || n_seq > 4096 || n_batch > 65536) {
        llp_err_set(err, "context too large (n_ctx %d, n_seq %d, n_batch %d)", n_ctx, n_seq, n_batch);
        return NULL;
    }
    llp_context *ctx = llp_calloc(1, sizeof *ctx);
    ctx->model = m;
    ctx->n_ctx = n_ctx;
    ctx->n_seq = n_seq;
    ctx->n_batch = n_batch;
    ctx->reference = p->reference;
    int n_threads = p->reference ? 1 : (p->n_threads > 0 ? p->n_threads : llp_physical_cores());
    ctx->pool = llp_pool_new(n_threads);
    if (llp_kv_cache_init(&ctx->kv, p->kv_type, n_seq, c->n_layers, n_ctx, c->kv_dim, err)) {
        llp_context_free(ctx);
        return NULL;
    }
    size_t nb = (size_t)n_batch;
    ctx->x = llp_malloc(sizeof(float) * nb * c->dim);
    ctx->xb = llp_malloc(sizeof(float) * nb * c->dim);
    ctx->xb2 = llp_malloc(sizeof(float) * nb * c->dim);
    ctx->q = llp_malloc(sizeof(float) * nb * c->dim);
    ctx->k = llp_malloc(sizeof(float) * nb * c->kv_dim);
    ctx->v = llp_malloc(sizeof(float) * nb * c->kv_dim);
    ctx->hb = llp_malloc(sizeof(float) * nb * c->ffn_dim);
    ctx->hb2 = llp_malloc(sizeof(float) * nb * c->ffn_dim);
    /* a few tasks per thread balance tokens of different lengths */
    ctx->n_att_tasks = 4 * llp_pool_size(ctx->pool);
    ctx->att = llp_malloc(sizeof(float) * (size_t)ctx->n_att_tasks *
                          (size_t)(m->cfg.n_heads / m->cfg.n_heads_kv) * n_ctx);
    /* our pool supplies the parallelism; OpenBLAS threads would compete */
    openblas_set_num_threads(1);
    ctx->rope_inv_freq = llp_malloc(sizeof(float) * (size_t)(c->rope_dim / 2));
    for (int i = 0; i < c->rope_dim / 2; i++)
        ctx->rope_inv_freq[i] = (float)pow((double)c->rope_base, -2.0 * i / c->rope_dim);
    return ctx;
}

void llp_context_free(llp_context *ctx)
{
    if (!ctx) return;
    llp_kv_cache_free(&ctx->kv);
    free(ctx->x);
    free(ctx->xb);
    free(ctx->xb2);
    free(ctx->q);
    free(ctx->k);
    free(ctx->v);
    free(ctx->hb);
    free(ctx->hb2);
    free(ctx->att);
    free(ctx->rope_inv_freq);
    llp_pool_free(ctx->pool);
    free(ctx);
}

int llp_context_n_ctx(const llp_context *ctx) { return ctx->n_ctx; }
int llp_context_n_seq(const llp_context *ctx) { return ctx->n_seq; }
int llp_context_n_batch(const llp_context *ctx) { return ctx->n_batch; }
const llp_model *llp_context_model(const llp_context *ctx) { return ctx->model; }
llp_pool *llp_context_pool(llp_context *ctx) { return ctx->pool; }

llp_kv_type llp_context_kv_type(const llp_context *ctx) { return ctx->kv.type; }

void llp_kv_copy(llp_context *ctx, int src, int dst, int n_pos)
{
    llp_kv_cache_copy(&ctx->kv, src, dst, n_pos);
}

/* ---- the building blocks ------------------------------------------------ */

/* out = x / sqrt(mean(x^2) + eps) * weight, for one row of n */
static void rmsnorm(float *out, const float *x, const float *weight, int n, float eps)
{
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float scale = (float)(1.0 / sqrt(ss / n + eps));
    for (int i = 0; i < n; i++) out[i] = x[i] * scale * weight[i];
}

/* Element-wise steps split across the pool (each element or token is
 * computed exactly as the single-threaded loop would, so results do not
 * depend on the split). Below these sizes one thread does it alone. */
#define PAR_MIN_ELEMENTS 4096
#define PAR_MIN_TOKENS 4

typedef struct {
    float *out;
    const float *x, *weight;
    int n_tok, dim;
    float eps;
} rmsnorm_job;

static void rmsnorm_task(void *ctx, int task, int n_tasks)
{
    const rmsnorm_job *j = ctx;
    for (int t = j->n_tok * task / n_tasks; t < j->n_tok * (task + 1) / n_tasks; t++)
        rmsnorm(j->out + (size_t)t * j->dim, j->x + (size_t)t * j->dim, j->weight, j->dim,
                j->eps);
}

/* out[t] = rmsnorm(x[t]) * weight for n_tok rows of dim. */
static void rmsnorm_rows(llp_context *ctx, float *out, const float *x, const float *weight,
                         int n_tok, int dim, float eps)
{
    rmsnorm_job j = { out, x, weight, n_tok, dim, eps };
    int tasks = n_tok >= PAR_MIN_TOKENS ? llp_pool_size(ctx->pool) : 1;
    if (tasks > n_tok) tasks = n_tok;
    llp_pool_run(ctx->pool, rmsnorm_task, &j, tasks);
}

typedef struct {
    float *gate;
    const float *up;
    size_t n;
    const llp_kernel_set *ks;
} swiglu_job;

static void swiglu_task(void *ctx, int task, int n_tasks)
{
    const swiglu_job *j = ctx;
    size_t i0 = j->n * (size_t)task / (size_t)n_tasks;
    size_t i1 = j->n * (size_t)(task + 1) / (size_t)n_tasks;
    j->ks->swiglu(j->gate + i0, j->up + i0, i1 - i0);
}

/* gate[i] = silu(gate[i]) * up[i] for n values (the kernel set's SwiGLU:
 * the same values in every set and every split). */
static void swiglu(llp_context *ctx, float *gate, const float *up, size_t n)
{
    swiglu_job j = { gate, up, n,
                     ctx->reference ? &llp_kernels_scalar : llp_kernels_current() };
    llp_pool_run(ctx->pool, swiglu_task, &j, n >= PAR_MIN_ELEMENTS ? llp_pool_size(ctx->pool) : 1);
}

/* The rotation of position pos: cos and sin of pos * inv_freq[i] for each
 * pair i < rope_dim / 2 (computed once per token, used by every head). */
static void rope_angles(float *cs, float *sn, int rope_dim, const float *inv_freq, int pos)
{
    for (int i = 0; i < rope_dim / 2; i++) {
        float theta = (float)pos * inv_freq[i];
        cs[i] = cosf(theta);
        sn[i] = sinf(theta);
    }
}

/* Rotate adjacent pairs (v[2i], v[2i+1]) of each head by the angles. */
static void rope(float *v, int n_heads, int head_dim, int rope_dim, const float *cs,
                 const float *sn)
{
    for (int h = 0; h < n_heads; h++) {
        float *hv = v + (size_t)h * head_dim;
        for (int i = 0; i < rope_dim / 2; i++) {
            float a = hv[2 * i], b = hv[2 * i + 1];
            hv[2 * i] = a * cs[i] - b * sn[i];
            hv[2 * i + 1] = a * sn[i] + b * cs[i];
        }
    }
}

static void matmul(llp_context *ctx, const llp_weight *w, const float *x, int n_tok, float *y)
{
    if (ctx->reference)
        llp_matmul_ref(w->type, w->data, w->n_in, w->n_out, x, n_tok, y);
    else if (w->packed)
        llp_matmul_packed(ctx->pool, w->type, w->packed, w->n_in, w->n_out, x, n_tok, y);
    else
        llp_matmul(ctx->pool, w->type, w->data, w->n_in, w->n_out, x, n_tok, y);
    if (w->lora) llp_lora_apply(ctx->reference ? NULL : ctx->pool, w->lora, w->n_in, w->n_out,
                                x, n_tok, y);
}

/* Several products of one input (the same as matmul() on each), in one
 * pool run on the fast path. */
static void matmul_many(llp_context *ctx, const llp_weight *const *w, int n_w, const float *x,
                        int n_tok, float *const *y)
{
    if (ctx->reference) {
        for (int i = 0; i < n_w; i++) matmul(ctx, w[i], x, n_tok, y[i]);
        return;
    }
    llp_matmul_op ops[LLP_MATMUL_MANY_MAX];
    for (int i = 0; i < n_w; i++)
        ops[i] = (llp_matmul_op){ w[i]->type, w[i]->packed ? w[i]->packed : w[i]->data,
                                  w[i]->packed != NULL, w[i]->n_out, y[i] };
    llp_matmul_many(ctx->pool, ops, n_w, w[0]->n_in, x, n_tok);
    for (int i = 0; i < n_w; i++)
        if (w[i]->lora) llp_lora_apply(ctx->pool, w[i]->lora, w[i]->n_in, w[i]->n_out, x, n_tok,
                                       y[i]);
}

/* Attention for every (token, query head) pair of a batch; tasks take
 * contiguous ranges of pairs. Keys and values of the batch are already in
 * the cache, so a token attends to positions 0..pos of its own sequence,
 * one token at a time (llp_kv_attend): its result never depends on the
 * other tokens of the batch. */
typedef struct attention_job {
    llp_context *ctx;
    const llp_batch *b;
    int layer;
} attention_job;

/* Every head a model may have goes through the group kernels. */
_Static_assert(LLP_MAX_HEAD_DIM <= LLP_ATTN_MAX_D, "attention group kernels take every head size");

static void attention_task(void *arg, int task, int n_tasks)
{
    attention_job *job = arg;
    llp_context *ctx = job->ctx;
    const llp_config *c = &ctx->model->cfg;
    /* One unit: a token and a KV head, with the query heads that share it. */
    int n_units = job->b->n * c->n_heads_kv;
    int per = (n_units + n_tasks - 1) / n_tasks;
    int group = c->n_heads / c->n_heads_kv;
    float scale = 1.0f / sqrtf((float)c->head_dim);
    float *scores = ctx->att + (size_t)task * group * ctx->n_ctx;
    for (int unit = task * per; unit < n_units && unit < (task + 1) * per; unit++) {
        int t = unit / c->n_heads_kv, kvh = unit % c->n_heads_kv;
        int seq = job->b->seq ? job->b->seq[t] : 0;
        size_t at = (size_t)t * c->dim + (size_t)kvh * group * c->head_dim;
        llp_kv_attend(&ctx->kv, seq, job->layer, kvh, c->head_dim, job->b->pos[t], group,
                      ctx->q + at, scale, scores, ctx->xb + at, ctx->reference);
    }
}

static int check_batch(const llp_context *ctx, const llp_batch *b, llp_err *err)
{
    const llp_config *c = &ctx->model->cfg;
    if (b->n <= 0 || b->n > ctx->n_batch)
        return llp_err_set(err, "batch of %d tokens (allowed 1..%d)", b->n, ctx->n_batch);
    for (int i = 0; i < b->n; i++) {
        if (b->tokens[i] < 0 || b->tokens[i] >= c->n_vocab)
            return llp_err_set(err, "token id %d out of range (vocabulary has %d)", b->tokens[i],
                               c->n_vocab);
        if (b->pos[i] < 0 || b->pos[i] >= ctx->n_ctx)
            return llp_err_set(err, "position %d past the context size %d", b->pos[i], ctx->n_ctx);
        if (b->seq && (b->seq[i] < 0 || b->seq[i] >= ctx->n_seq))
            return llp_err_set(err, "sequence %d out of range (context has %d)", b->seq[i],
                               ctx->n_seq);
    }
    return 0;
}

/* ---- the forward pass --------------------------------------------------- */

static int decode_batch(llp_context *ctx, const llp_batch *b, float *logits, float *hidden,
                        llp_err *err);

/* The workers stay spinning through the ~10 matrix products per layer, so
 * no product waits for a sleeping thread to wake. */
int llp_decode(llp_context *ctx, const llp_batch *b, float *logits, float *hidden, llp_err *err)
{
    llp_pool_hold(ctx->pool);
    int rc = decode_batch(ctx, b, logits, hidden, err);
    llp_pool_release(ctx->pool);
    return rc;
}

static int decode_batch(llp_context *ctx, const llp_batch *b, float *logits, float *hidden,
                        llp_err *err)
{
    const llp_model *m = ctx->model;
    const llp_config *c = &m->cfg;
    const int n = b->n, dim = c->dim, kv_dim = c->kv_dim, ffn = c->ffn_dim;
    if (check_batch(ctx, b, err)) return -1;

    /* x = token_embd[token] */
    size_t emb_row = llp_row_size(m->token_embd.type, dim);
    for (int t = 0; t < n; t++)
        llp_dequantize_row(m->token_embd.type,
                           (const uint8_t *)m->token_embd.data + emb_row * (size_t)b->tokens[t],
                           ctx->x + (size_t)t * dim, dim);

    for (int l = 0; l < c->n_layers; l++) {
        const llp_layer *L = &m->layers[l];

        /* attention: q, k, v from the normed input; RoPE on q and k */
        rmsnorm_rows(ctx, ctx->xb, ctx->x, L->attn_norm, n, dim, c->norm_eps);
        const llp_weight *qkv[] = { &L->wq, &L->wk, &L->wv };
        float *qkv_out[] = { ctx->q, ctx->k, ctx->v };
        matmul_many(ctx, qkv, 3, ctx->xb, n, qkv_out);
        for (int t = 0; t < n; t++) {
            int seq = b->seq ? b->seq[t] : 0;
            float cs[LLP_MAX_HEAD_DIM / 2], sn[LLP_MAX_HEAD_DIM / 2];
            rope_angles(cs, sn, c->rope_dim, ctx->rope_inv_freq, b->pos[t]);
            rope(ctx->q + (size_t)t * dim, c->n_heads, c->head_dim, c->rope_dim, cs, sn);
            rope(ctx->k + (size_t)t * kv_dim, c->n_heads_kv, c->head_dim, c->rope_dim, cs, sn);
            llp_kv_cache_write(&ctx->kv, seq, l, b->pos[t], ctx->k + (size_t)t * kv_dim,
                               ctx->v + (size_t)t * kv_dim);
        }
        attention_job job = { ctx, b, l };
        int n_tasks = ctx->reference ? 1 : ctx->n_att_tasks;
        if (n_tasks > n * c->n_heads_kv) n_tasks = n * c->n_heads_kv;
        llp_pool_run(ctx->pool, attention_task, &job, n_tasks);

        /* x += Wo * attention */
        matmul(ctx, &L->wo, ctx->xb, n, ctx->xb2);
        for (size_t i = 0; i < (size_t)n * dim; i++) ctx->x[i] += ctx->xb2[i];

        /* feed-forward: x += Wdown * (silu(Wgate * h) * (Wup * h)) */
        rmsnorm_rows(ctx, ctx->xb, ctx->x, L->ffn_norm, n, dim, c->norm_eps);
        const llp_weight *gate_up[] = { &L->w_gate, &L->w_up };
        float *gate_up_out[] = { ctx->hb, ctx->hb2 };
        matmul_many(ctx, gate_up, 2, ctx->xb, n, gate_up_out);
        swiglu(ctx, ctx->hb, ctx->hb2, (size_t)n * ffn);
        matmul(ctx, &L->w_down, ctx->hb, n, ctx->xb2);
        for (size_t i = 0; i < (size_t)n * dim; i++) ctx->x[i] += ctx->xb2[i];
    }

    /* output rows: the final norm of the wanted tokens, then the head */
    int n_out = 0;
    for (int t = 0; t < n; t++) {
        bool want = b->want ? b->want[t] : (t == n - 1);
        if (!want) continue;
        rmsnorm(ctx->xb + (size_t)n_out * dim, ctx->x + (size_t)t * dim, m->output_norm, dim,
                c->norm_eps);
        n_out++;
    }
    if (n_out == 0) return 0;
    if (hidden) memcpy(hidden, ctx->xb, sizeof(float) * (size_t)n_out * dim);
    if (logits) matmul(ctx, &m->output, ctx->xb, n_out, logits);
    return 0;
}

int llp_decode_tokens(llp_context *ctx, int seq, int pos, const int32_t *tokens, int n,
                      float *logits, llp_err *err)
{
    int32_t *positions = llp_malloc(sizeof(int32_t) * (size_t)ctx->n_batch);
    int32_t *seqs = llp_malloc(sizeof(int32_t) * (size_t)ctx->n_batch);
    int rc = 0;
    for (int done = 0; done < n && rc == 0;) {
        int chunk = n - done < ctx->n_batch ? n - done : ctx->n_batch;
        for (int i = 0; i < chunk; i++) {
            positions[i] = pos + done + i;
            seqs[i] = seq;
        }
        llp_batch b = { chunk, tokens + done, positions, seqs, NULL };
        bool last = done + chunk == n;
        rc = llp_decode(ctx, &b, last ? logits : NULL, NULL, err);
        done += chunk;
    }
    free(positions);
    free(seqs);
    return rc;
}
