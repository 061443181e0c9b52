/*
 * lora.c — LoRA adapter files (llama.cpp's GGUF layout, see lora.h), their
 * checks against a base model, the on-the-fly product and merging.
 *
 * Not for: training (train.c) or choosing which tool takes --lora (cli.c,
 * engine.c).
 */
#include "lora.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matmul.h"
#include "quant.h"
#include "threads.h"

float llp_lora_scale(const llp_lora *a, const llp_lora_tensor *t, float user_scale)
{
    return a->alpha > 0 ? user_scale * a->alpha / (float)t->rank : user_scale;
}

void llp_lora_free(llp_lora *a)
{
    if (!a) return;
    for (int i = 0; i < a->n; i++) {
        free(a->t[i].name);
        free(a->t[i].a);
        free(a->t[i].b);
    }
    free(a->t);
    free(a->path);
    free(a);
}

/* ---- reading ------------------------------------------------------------ */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* A 2-D tensor as a malloc'd f32 array: ours are F32 or F16; llama.cpp's
 * converter also writes BF16 and, with --outtype q8_0, Q8_0 (any type
 * gguf_open accepted dequantizes). */
static float *tensor_f32(const gguf_file *f, const gguf_tensor *t, llp_err *err)
{
    if (t->ne[2] != 1 || t->ne[3] != 1) {
        llp_err_set(err, "%s: tensor '%s' is not 2-D", gguf_path(f), t->name);
        return NULL;
    }
    size_t n = (size_t)(t->ne[0] * t->ne[1]);
    float *v = llp_malloc(sizeof(float) * n);
    size_t row = llp_row_size(t->type, t->ne[0]);
    for (int64_t r = 0; r < t->ne[1]; r++)
        llp_dequantize_row(t->type, (const uint8_t *)t->data + row * (size_t)r,
                           v + (size_t)r * (size_t)t->ne[0], t->ne[0]);
    return v;
}

llp_lora *llp_lora_load(const char *path, llp_err *err)
{
    gguf_file *f = gguf_open(path, err);
    if (!f) return NULL;
    llp_lora *a = llp_calloc(1, sizeof *a);
    a->path = llp_strdup(path);
    const char *s = NULL;
    if (gguf_get_str(f, "general.type", &s, NULL) != 0 || strcmp(s, "adapter") != 0) {
        llp_err_set(err, "%s: not a LoRA adapter (general.type is %s%s%s, expected 'adapter')",
                    path, s ? "'" : "", s ? s : "missing", s ? "'" : "");
        goto fail;
    }
    s = NULL;
    if (gguf_get_str(f, "adapter.type", &s, NULL) != 0 || strcmp(s, "lora") != 0) {
        llp_err_set(err, "%s: adapter.type is %s%s%s, expected 'lora'", path, s ? "'" : "",
                    s ? s : "missing", s ? "'" : "");
        goto fail;
    }
    s = NULL;
    if (gguf_get_str(f, "general.architecture", &s, NULL) != 0 || strcmp(s, "llama") != 0) {
        llp_err_set(err, "%s: adapter architecture is %s%s%s; only 'llama' is supported", path,
                    s ? "'" : "", s ? s : "missing", s ? "'" : "");
        goto fail;
    }
    double alpha = 0;
    int rc = gguf_get_float(f, "adapter.lora.alpha", &alpha);
    if (rc == -2 || (rc == 0 && (!isfinite(alpha) || alpha < 0))) {
        llp_err_set(err, "%s: adapter.lora.alpha is not a non-negative number", path);
        goto fail;
    }
    a->alpha = (float)alpha;
    a->file_type = LLP_F32;
    /* a checkpoint of llp-finetune also holds the optimizer's moments */
    bool checkpoint = gguf_find_key(f, "llp.train.step") >= 0;
    for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
        const gguf_tensor *ta = gguf_tensor_at(f, i);
        if (ends_with(ta->name, ".lora_b")) continue;
        if (checkpoint && (ends_with(ta->name, ".adam_m") || ends_with(ta->name, ".adam_v")))
            continue;
        if (!ends_with(ta->name, ".lora_a")) {
            llp_err_set(err, "%s: tensor '%s' is neither .lora_a nor .lora_b", path, ta->name);
            goto fail;
        }
        size_t base_len = strlen(ta->name) - strlen(".lora_a");
        char *bname = llp_malloc(base_len + sizeof ".lora_b");
        memcpy(bname, ta->name, base_len);
        strcpy(bname + base_len, ".lora_b");
        const gguf_tensor *tb = gguf_find_tensor(f, bname);
        free(bname);
        if (!tb) {
            llp_err_set(err, "%s: tensor '%s' has no matching .lora_b", path, ta->name);
            goto fail;
        }
        /* a: ne = [n_in, rank]; b: ne = [rank, n_out] */
        if (tb->ne[0] != ta->ne[1]) {
            llp_err_set(err, "%s: tensor '%s' has rank %lld but its .lora_b has %lld", path,
                        ta->name, (long long)ta->ne[1], (long long)tb->ne[0]);
            goto fail;
        }
        a->t = llp_realloc(a->t, sizeof *a->t * (size_t)(a->n + 1));
        llp_lora_tensor *t = &a->t[a->n];
        memset(t, 0, sizeof *t);
        t->name = llp_strndup(ta->name, base_len);
        a->n++;
        t->n_in = ta->ne[0];
        t->n_out = tb->ne[1];
        t->rank = (int)ta->ne[1];
        if (ta->type == LLP_F16) a->file_type = LLP_F16;
        if (!(t->a = tensor_f32(f, ta, err)) || !(t->b = tensor_f32(f, tb, err))) goto fail;
    }
    for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
        const gguf_tensor *tb = gguf_tensor_at(f, i);
        if (!ends_with(tb->name, ".lora_b")) continue;
        bool found = false;
        for (int k = 0; k < a->n && !found; k++)
            found = strlen(tb->name) == strlen(a->t[k].name) + 7 &&
                    strncmp(tb->name, a->t[k].name, strlen(a->t[k].name)) == 0;
        if (!found) {
            llp_err_set(err, "%s: tensor '%s' has no matching .lora_a", path, tb->name);
            goto fail;
        }
    }
    if (a->n == 0) {
        llp_err_set(err, "%s: the adapter has no tensors", path);
        goto fail;
    }
    llp_hash128(gguf_bytes(f), (size_t)gguf_file_size(f), a->fingerprint);
    gguf_close(f);
    return a;
fail:
    gguf_close(f);
    llp_lora_free(a);
    return NULL;
}

/* ---- against a model ---------------------------------------------------- */

static const char *const target_suffix[][2] = {
    { "q", "attn_q" }, { "k", "attn_k" }, { "v", "attn_v" }, { "o", "attn_output" },
    { "gate", "ffn_gate" }, { "up", "ffn_up" }, { "down", "ffn_down" },
};
#define N_TARGET_KINDS (int)(sizeof target_suffix / sizeof target_suffix[0])

static llp_weight *layer_weight(llp_layer *L, int kind)
{
    llp_weight *ws[] = { &L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down };
    return ws[kind];
}

llp_weight *llp_lora_target(llp_model *m, const char *name)
{
    int l, len = 0;
    char kind[32];
    if (strcmp(name, "output.weight") == 0) return m->output_tied ? NULL : &m->output;
    if (sscanf(name, "blk.%d.%31[a-z_].weight%n", &l, kind, &len) != 2 ||
        len != (int)strlen(name) || l < 0 || l >= m->cfg.n_layers)
        return NULL;
    for (int k = 0; k < N_TARGET_KINDS; k++)
        if (strcmp(kind, target_suffix[k][1]) == 0) return layer_weight(&m->layers[l], k);
    return NULL;
}

int llp_lora_check(const llp_lora *a, const llp_model *m, llp_err *err)
{
    const char *who = a->path ? a->path : "adapter";
    for (int i = 0; i < a->n; i++) {
        const llp_lora_tensor *t = &a->t[i];
        llp_weight *w = llp_lora_target((llp_model *)m, t->name);
        if (!w) {
            if (strcmp(t->name, "token_embd.weight") == 0 ||
                (strcmp(t->name, "output.weight") == 0 && m->output_tied))
                return llp_err_set(err, "%s: tensor '%s': adapters on the token embedding are "
                                   "not supported", who, t->name);
            return llp_err_set(err, "%s: tensor '%s' matches no matrix of %s (%d layers)", who,
                               t->name, m->path ? m->path : "the model", m->cfg.n_layers);
        }
        if (t->n_in != w->n_in || t->n_out != w->n_out)
            return llp_err_set(err, "%s: tensor '%s' is [%lld -> %lld] but the model's is "
                               "[%lld -> %lld] (an adapter for another model?)", who, t->name,
                               (long long)t->n_in, (long long)t->n_out, (long long)w->n_in,
                               (long long)w->n_out);
        if (t->rank < 1 || t->rank > w->n_in)
            return llp_err_set(err, "%s: tensor '%s' has rank %d", who, t->name, t->rank);
    }
    return 0;
}

static int parse_targets(const char *targets, bool *want, llp_err *err)
{
    const char *p = targets;
    if (!*p) return llp_err_set(err, "--targets: no matrices named");
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        int found = -1;
        for (int k = 0; k < N_TARGET_KINDS; k++)
            if (strlen(target_suffix[k][0]) == n && strncmp(p, target_suffix[k][0], n) == 0)
                found = k;
        if (found < 0)
            return llp_err_set(err, "--targets: unknown matrix '%.*s' (q, k, v, o, gate, up, "
                               "down)", (int)n, p);
        want[found] = true;
        p += n + (e ? 1 : 0);
    }
    return 0;
}

int llp_lora_targets_check(const char *targets, llp_err *err)
{
    bool want[N_TARGET_KINDS] = { false };
    return parse_targets(targets, want, err);
}

llp_lora *llp_lora_new(const llp_model *m, const char *targets, int rank, float alpha,
                       llp_err *err)
{
    bool want[N_TARGET_KINDS] = { false };
    if (parse_targets(targets, want, err)) return NULL;
    llp_lora *a = llp_calloc(1, sizeof *a);
    a->alpha = alpha;
    a->file_type = LLP_F32;
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int k = 0; k < N_TARGET_KINDS; k++) {
            if (!want[k]) continue;
            llp_weight *w = layer_weight(&m->layers[l], k);
            a->t = llp_realloc(a->t, sizeof *a->t * (size_t)(a->n + 1));
            llp_lora_tensor *t = &a->t[a->n++];
            char name[96];
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, target_suffix[k][1]);
            t->name = llp_strdup(name);
            t->n_in = w->n_in;
            t->n_out = w->n_out;
            t->rank = rank;
            t->a = llp_calloc((size_t)(rank * w->n_in), sizeof(float));
            t->b = llp_calloc((size_t)(rank * w->n_out), sizeof(float));
        }
    if (a->n == 0) {
        llp_lora_free(a);
        llp_err_set(err, "--targets: no matrices named");
        return NULL;
    }
    return a;
}

/* ---- writing ------------------------------------------------------------ */

static void add_f(gguf_writer *w, const char *name, const float *v, int64_t ne0, int64_t ne1,
                  uint32_t type)
{
    int64_t ne[2] = { ne0, ne1 };
    if (type == LLP_F32) {
        gguf_add_tensor(w, name, 2, ne, LLP_F32, v);
        return;
    }
    size_t n = (size_t)(ne0 * ne1);
    uint16_t *h = llp_malloc(sizeof(uint16_t) * n);
    for (size_t i = 0; i < n; i++) h[i] = llp_f32_to_fp16(v[i]);
    gguf_add_tensor(w, name, 2, ne, LLP_F16, h);
    free(h);
}

void llp_lora_to_writer(const llp_lora *a, gguf_writer *w, uint32_t type)
{
    gguf_set_str(w, "general.type", "adapter");
    gguf_set_str(w, "general.architecture", "llama");
    gguf_set_str(w, "adapter.type", "lora");
    gguf_set_f32(w, "adapter.lora.alpha", a->alpha);
    char name[128];
    for (int i = 0; i < a->n; i++) {
        const llp_lora_tensor *t = &a->t[i];
        snprintf(name, sizeof name, "%s.lora_a", t->name);
        add_f(w, name, t->a, t->n_in, t->rank, type);
        snprintf(name, sizeof name, "%s.lora_b", t->name);
        add_f(w, name, t->b, t->rank, t->n_out, type);
    }
}

int llp_lora_write(const llp_lora *a, const char *path, uint32_t type, llp_err *err)
{
    gguf_writer *w = gguf_writer_new();
    llp_lora_to_writer(a, w, type);
    int rc = gguf_writer_write(w, path, err);
    gguf_writer_free(w);
    return rc;
}

/* ---- use ---------------------------------------------------------------- */

typedef struct {
    const llp_weight_lora *l;
    int64_t n_in, n_out;
    const float *x;
    int n_tok;
    float *u, *y;
} lora_job;

/* u[t][r] = x[t] . A[r] */
static void lora_down_task(void *ctx, int task, int n_tasks)
{
    const lora_job *j = ctx;
    int64_t n = (int64_t)j->n_tok * j->l->rank;
    for (int64_t p = n * task / n_tasks; p < n * (task + 1) / n_tasks; p++) {
        int64_t t = p / j->l->rank, r = p % j->l->rank;
        const float *x = j->x + t * j->n_in, *a = j->l->a + r * j->n_in;
        float s = 0;
        for (int64_t i = 0; i < j->n_in; i++) s += x[i] * a[i];
        j->u[p] = s * j->l->scale;
    }
}

/* y[t][o] += u[t] . B[o] */
static void lora_up_task(void *ctx, int task, int n_tasks)
{
    const lora_job *j = ctx;
    int rank = j->l->rank;
    int64_t n = (int64_t)j->n_tok * j->n_out;
    for (int64_t p = n * task / n_tasks; p < n * (task + 1) / n_tasks; p++) {
        int64_t t = p / j->n_out, o = p % j->n_out;
        const float *u = j->u + t * rank, *b = j->l->b + o * rank;
        float s = 0;
        for (int r = 0; r < rank; r++) s += u[r] * b[r];
        j->y[p] += s;
    }
}

void llp_lora_apply(llp_pool *pool, const llp_weight_lora *l, int64_t n_in, int64_t n_out,
                    const float *x, int n_tok, float *y)
{
    int threads = pool ? llp_pool_size(pool) : 1;
    for (; l; l = l->next) {
        float *u = llp_malloc(sizeof(float) * (size_t)n_tok * (size_t)l->rank);
        lora_job j = { l, n_in, n_out, x, n_tok, u, y };
        int64_t work = (int64_t)n_tok * l->rank * n_in;
        int tasks = work >= (1 << 16) ? threads : 1;
        llp_pool_run(pool, lora_down_task, &j, tasks);
        llp_pool_run(pool, lora_up_task, &j, tasks);
        free(u);
    }
}

/* W[o] += scale * sum_r B[o][r] A[r], each row dequantized, updated and
 * quantized again into an owned copy. */
static void merge_into(llp_weight *w, const llp_lora_tensor *t, float scale)
{
    size_t row = llp_row_size(w->type, w->n_in);
    uint8_t *out = llp_malloc(row * (size_t)w->n_out);
    float *v = llp_malloc(sizeof(float) * (size_t)w->n_in);
    for (int64_t o = 0; o < w->n_out; o++) {
        llp_dequantize_row(w->type, (const uint8_t *)w->data + row * (size_t)o, v, w->n_in);
        const float *b = t->b + o * t->rank;
        for (int r = 0; r < t->rank; r++) {
            float c = scale * b[r];
            const float *a = t->a + (int64_t)r * w->n_in;
            for (int64_t i = 0; i < w->n_in; i++) v[i] += c * a[i];
        }
        llp_quantize_row(w->type, v, out + row * (size_t)o, w->n_in);
    }
    free(v);
    free(w->merged);
    w->merged = out;
    w->data = out;
    if (w->packed) {
        free(w->packed);
        w->packed = llp_matmul_pack(w->type, w->data, w->n_in, w->n_out);
    }
}

int llp_model_add_lora(llp_model *m, const llp_lora *a, float user_scale, bool merge,
                       llp_err *err)
{
    if (llp_lora_check(a, m, err)) return -1;
    for (int i = 0; i < a->n; i++) {
        const llp_lora_tensor *t = &a->t[i];
        llp_weight *w = llp_lora_target(m, t->name);
        float scale = llp_lora_scale(a, t, user_scale);
        if (merge) {
            merge_into(w, t, scale);
            continue;
        }
        llp_weight_lora *l = llp_calloc(1, sizeof *l);
        *l = (llp_weight_lora){ t->a, t->b, t->rank, scale, NULL };
        llp_weight_lora **end = &w->lora;
        while (*end) end = &(*end)->next;
        *end = l;
    }
    return 0;
}

int llp_lora_parse_spec(const char *spec, char **path, float *scale, llp_err *err)
{
    *scale = 1.0f;
    const char *colon = strrchr(spec, ':');
    if (colon && colon[1]) {
        char *end;
        errno = 0;
        double v = strtod(colon + 1, &end);
        if (*end == 0 && errno == 0 && isfinite(v)) {
            if (colon == spec) return llp_err_set(err, "--lora: no file in '%s'", spec);
            *path = llp_strndup(spec, (size_t)(colon - spec));
            *scale = (float)v;
            return 0;
        }
    }
    if (!*spec) return llp_err_set(err, "--lora: empty file name");
    *path = llp_strdup(spec);
    return 0;
}

json_t *llp_lora_meta(const llp_lora *a)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string("lora adapter"));
    json_object_set_new(o, "arch", json_string("llama"));
    json_object_set_new(o, "alpha", json_real(a->alpha));
    json_object_set_new(o, "tensor_type", json_string(llp_type_name(a->file_type)));
    json_object_set_new(o, "n_tensors", json_integer(a->n));
    int rmin = a->n ? a->t[0].rank : 0, rmax = rmin;
    uint64_t params = 0;
    json_t *targets = json_array();
    for (int i = 0; i < a->n; i++) {
        const llp_lora_tensor *t = &a->t[i];
        if (t->rank < rmin) rmin = t->rank;
        if (t->rank > rmax) rmax = t->rank;
        params += (uint64_t)t->rank * (uint64_t)(t->n_in + t->n_out);
        /* the distinct matrix kinds, "attn_q", ... */
        const char *k = strchr(t->name, '.');
        k = k ? strchr(k + 1, '.') : NULL;
        char kind[40] = "";
        if (k) snprintf(kind, sizeof kind, "%.*s", (int)(strcspn(k + 1, ".")), k + 1);
        else snprintf(kind, sizeof kind, "%s", t->name);
        bool seen = false;
        for (size_t j = 0; j < json_array_size(targets); j++)
            seen |= strcmp(json_string_value(json_array_get(targets, j)), kind) == 0;
        if (!seen) json_array_append_new(targets, json_string(kind));
    }
    json_object_set_new(o, "rank", json_integer(rmax));
    if (rmin != rmax) json_object_set_new(o, "rank_min", json_integer(rmin));
    json_object_set_new(o, "n_params", json_integer((json_int_t)params));
    json_object_set_new(o, "targets", targets);
    json_object_set_new(o, "fingerprint", json_string(a->fingerprint));
    return o;
}
