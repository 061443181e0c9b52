/*
 * convert.c — a Hugging Face Llama directory to a GGUF model (contract in
 * convert.h), and the tensor fill shared with adapters (convert_lora.c).
 *
 * Not for: reading safetensors (safetensors.c), config.json (hf_config.c),
 * the vocabulary (hf_vocab.c), block formats or type rules (quant.c,
 * quantize.c).
 */
#include "convert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert_internal.h"
#include "gguf.h"
#include "hf_config.h"
#include "hf_vocab.h"
#include "quant.h"
#include "quantize.h"

/* ---- shared with convert_lora.c ------------------------------------------ */

const char *cv_shape(const st_tensor *t, char *buf, size_t size)
{
    size_t at = 0;
    at += (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < t->n_dims && at < size; d++)
        at += (size_t)snprintf(buf + at, size - at, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    if (at < size) snprintf(buf + at, size - at, "]");
    return buf;
}

int64_t llp_convert_qk_row(int64_t gguf_row, int64_t head_dim)
{
    int64_t head = gguf_row / head_dim, r = gguf_row % head_dim;
    return head * head_dim + (r % 2) * (head_dim / 2) + r / 2;
}

static int layer_of(const char *name)
{
    int layer = -1;
    if (sscanf(name, "blk.%d.", &layer) != 1) return -1;
    return layer;
}

static int by_layer_then_name(const void *a, const void *b)
{
    const cv_tensor *x = a, *y = b;
    int lx = layer_of(x->name), ly = layer_of(y->name);
    if (lx != ly) return lx < ly ? -1 : 1;
    return strcmp(x->name, y->name);
}

void cv_sort(cv_tensor *t, size_t n) { if (n > 1) qsort(t, n, sizeof *t, by_layer_then_name); }

static bool is_float(uint32_t type) { return type == LLP_F32 || type == LLP_F16 || type == LLP_BF16; }

int cv_fill(void *ctx, size_t index, void *dst, uint64_t n_bytes, llp_err *err)
{
    cv_job *job = ctx;
    const cv_tensor *t = &job->tensors[index];
    const st_tensor *s = t->src;
    double t0 = llp_now();
    int64_t *map = NULL;
    if (t->head_dim > 0) {
        map = llp_malloc(sizeof *map * (size_t)t->rows);
        for (int64_t r = 0; r < t->rows; r++) map[r] = llp_convert_qk_row(r, t->head_dim);
    }
    int rc = 0;
    if (t->dst_type == s->type) {
        /* exact copy, rows moved when permuted */
        size_t row = llp_row_size(s->type, t->cols);
        if (!map) memcpy(dst, s->data, (size_t)n_bytes);
        else
            for (int64_t r = 0; r < t->rows; r++)
                memcpy((uint8_t *)dst + row * (size_t)r, (const uint8_t *)s->data + row * (size_t)map[r], row);
    } else {
        int64_t bad;
        if (llp_convert_rows(job->pool, s->type, s->data, t->dst_type, dst, t->cols, t->rows, map, &bad) &&
            !is_float(t->dst_type))
            rc = llp_err_set(err, "%s: tensor '%s' has a value that is not finite (row %lld); it "
                             "cannot be quantized to %s", st_path(t->file), t->source,
                             (long long)(map ? map[bad] : bad), llp_type_name(t->dst_type));
    }
    free(map);
    st_release(t->file, s);
    if (rc == 0 && job->opts && job->opts->on_tensor) {
        llp_convert_report r = { .index = (int)index + 1, .count = (int)job->n, .name = t->name,
                                 .source = t->source, .src_type = s->type, .dst_type = t->dst_type,
                                 .permuted = t->head_dim > 0, .seconds = llp_now() - t0 };
        job->opts->on_tensor(job->opts->ctx, &r);
    }
    return rc;
}

/* ---- the model's tensors --------------------------------------------------- */

typedef struct expected {
    char hf[128];               /* Hugging Face name */
    char gguf[96];
    int n_dims;                 /* 1 or 2 */
    int64_t rows, cols;         /* 2-D: [rows, cols]; 1-D: [cols] */
    int64_t head_dim;           /* Q/K permutation */
} expected;

static void expect(expected *e, size_t *n, const char *hf, const char *gguf, int n_dims,
                   int64_t rows, int64_t cols, int64_t head_dim)
{
    expected *x = &e[(*n)++];
    snprintf(x->hf, sizeof x->hf, "%s", hf);
    snprintf(x->gguf, sizeof x->gguf, "%s", gguf);
    x->n_dims = n_dims;
    x->rows = rows;
    x->cols = cols;
    x->head_dim = head_dim;
}

static expected *expected_tensors(const hf_config *c, size_t *n)
{
    expected *e = llp_calloc((size_t)c->n_layers * 9 + 3, sizeof *e);
    int64_t dim = c->dim, kv = (int64_t)c->n_heads_kv * c->head_dim, hd = c->head_dim;
    *n = 0;
    expect(e, n, "model.embed_tokens.weight", "token_embd.weight", 2, c->n_vocab, dim, 0);
    expect(e, n, "model.norm.weight", "output_norm.weight", 1, 1, dim, 0);
    if (!c->tied) expect(e, n, "lm_head.weight", "output.weight", 2, c->n_vocab, dim, 0);
    for (int l = 0; l < c->n_layers; l++) {
        static const struct { const char *hf, *gguf; } names[] = {
            { "input_layernorm", "attn_norm" }, { "self_attn.q_proj", "attn_q" },
            { "self_attn.k_proj", "attn_k" },   { "self_attn.v_proj", "attn_v" },
            { "self_attn.o_proj", "attn_output" }, { "post_attention_layernorm", "ffn_norm" },
            { "mlp.gate_proj", "ffn_gate" },    { "mlp.up_proj", "ffn_up" },
            { "mlp.down_proj", "ffn_down" },
        };
        int64_t shapes[9][3] = {          /* n_dims, rows, cols */
            { 1, 1, dim }, { 2, dim, dim }, { 2, kv, dim }, { 2, kv, dim }, { 2, dim, dim },
            { 1, 1, dim }, { 2, c->ffn_dim, dim }, { 2, c->ffn_dim, dim }, { 2, dim, c->ffn_dim },
        };
        for (int i = 0; i < 9; i++) {
            char hf[128], gguf[96];
            snprintf(hf, sizeof hf, "model.layers.%d.%s.weight", l, names[i].hf);
            snprintf(gguf, sizeof gguf, "blk.%d.%s.weight", l, names[i].gguf);
            expect(e, n, hf, gguf, (int)shapes[i][0], shapes[i][1], shapes[i][2],
                   i == 1 || i == 2 ? hd : 0);
        }
    }
    /* the attention output rows are [dim] by n_heads * head_dim = dim */
    return e;
}

static bool shape_is(const st_tensor *t, const expected *e)
{
    if (e->n_dims == 1) return t->n_dims == 1 && t->shape[0] == e->cols;
    return t->n_dims == 2 && t->shape[0] == e->rows && t->shape[1] == e->cols;
}

/* Unknown tensors are errors; inv_freq buffers and a tied lm_head are
 * skipped (the latter with a note). */
static int check_unexpected(const st_set *set, const expected *e, size_t n, const hf_config *c,
                            const llp_convert_opts *o, llp_err *err)
{
    for (size_t f = 0; f < st_set_n_files(set); f++) {
        const st_file *file = st_set_file(set, f);
        for (size_t i = 0; i < st_n_tensors(file); i++) {
            const char *name = st_tensor_at(file, i)->name;
            bool known = false;
            for (size_t k = 0; k < n && !known; k++) known = strcmp(e[k].hf, name) == 0;
            if (known) continue;
            size_t len = strlen(name);
            if (len > 21 && strcmp(name + len - 21, ".rotary_emb.inv_freq") == 0) continue;
            if (c->tied && strcmp(name, "lm_head.weight") == 0) {
                if (o && o->on_note)
                    o->on_note(o->ctx, "lm_head.weight is not written: config.json ties the output "
                               "to the embeddings (tie_word_embeddings)");
                continue;
            }
            return llp_err_set(err, "%s: tensor '%.96s' is not part of a Llama model of this "
                               "config.json (no GGUF name for it)", st_path(file), name);
        }
    }
    return 0;
}

static int default_ftype(const cv_tensor *t, size_t n)
{
    bool f32 = false, f16 = false, bf16 = false;
    for (size_t i = 0; i < n; i++) {
        if (t[i].src->n_dims < 2) continue;
        f32 |= t[i].src->type == LLP_F32;
        f16 |= t[i].src->type == LLP_F16;
        bf16 |= t[i].src->type == LLP_BF16;
    }
    if (f32 || (f16 && bf16)) return LLP_FTYPE_F32;
    return bf16 ? LLP_FTYPE_BF16 : LLP_FTYPE_F16;
}

/* ---- metadata ---------------------------------------------------------------- */

static void set_metadata(gguf_writer *w, const char *dir, const hf_config *c, const hf_vocab *v,
                         uint32_t ftype)
{
    char name[256];
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') len--;
    const char *base = dir + len;
    while (base > dir && base[-1] != '/') base--;
    snprintf(name, sizeof name, "%.*s", (int)(dir + len - base), base);

    gguf_set_str(w, "general.architecture", "llama");
    gguf_set_str(w, "general.type", "model");
    gguf_set_str(w, "general.name", name);
    gguf_set_u32(w, "llama.block_count", (uint32_t)c->n_layers);
    gguf_set_u32(w, "llama.context_length", (uint32_t)c->n_ctx);
    gguf_set_u32(w, "llama.embedding_length", (uint32_t)c->dim);
    gguf_set_u32(w, "llama.feed_forward_length", (uint32_t)c->ffn_dim);
    gguf_set_u32(w, "llama.attention.head_count", (uint32_t)c->n_heads);
    gguf_set_u32(w, "llama.attention.head_count_kv", (uint32_t)c->n_heads_kv);
    gguf_set_f32(w, "llama.rope.freq_base", (float)c->rope_theta);
    gguf_set_f32(w, "llama.attention.layer_norm_rms_epsilon", (float)c->rms_eps);
    gguf_set_u32(w, "general.file_type", ftype);
    gguf_set_u32(w, "llama.vocab_size", (uint32_t)c->n_vocab);
    gguf_set_u32(w, "llama.rope.dimension_count", (uint32_t)c->head_dim);
    if (c->has_rope_scaling) {
        gguf_set_str(w, "llama.rope.scaling.type", "linear");
        gguf_set_f32(w, "llama.rope.scaling.factor", (float)c->rope_scaling_factor);
    }
    gguf_set_u32(w, "general.quantization_version", 2);
    gguf_set_str(w, "tokenizer.ggml.model", "llama");
    gguf_set_str(w, "tokenizer.ggml.pre", "default");
    gguf_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)v->pieces, (uint64_t)v->n);
    gguf_set_arr(w, "tokenizer.ggml.scores", GGUF_F32, v->scores, (uint64_t)v->n);
    gguf_set_arr(w, "tokenizer.ggml.token_type", GGUF_I32, v->types, (uint64_t)v->n);
    if (v->bos >= 0) gguf_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)v->bos);
    if (v->eos >= 0) gguf_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)v->eos);
    if (v->unk >= 0) gguf_set_u32(w, "tokenizer.ggml.unknown_token_id", (uint32_t)v->unk);
    if (v->pad >= 0) gguf_set_u32(w, "tokenizer.ggml.padding_token_id", (uint32_t)v->pad);
    gguf_set_bool(w, "tokenizer.ggml.add_bos_token", v->add_bos);
    gguf_set_bool(w, "tokenizer.ggml.add_eos_token", v->add_eos);
    gguf_set_bool(w, "tokenizer.ggml.add_space_prefix", v->add_space_prefix);
    if (v->chat_template) gguf_set_str(w, "tokenizer.chat_template", v->chat_template);
}

/* ---- the conversion ------------------------------------------------------------ */

int llp_convert_model(const char *dir, const char *out, const llp_convert_opts *o, llp_err *err)
{
    hf_config c;
    hf_vocab v = { 0 };
    st_set *set = NULL;
    expected *e = NULL;
    cv_tensor *t = NULL;
    int rc = -1;
    char *cfg_path = llp_path_join(dir, "config.json");

    if (hf_config_load(cfg_path, &c, err) || hf_vocab_load(dir, &c, &v, err)) goto done;
    if (!(set = st_set_open(dir, err))) goto done;

    size_t n;
    e = expected_tensors(&c, &n);
    t = llp_calloc(n, sizeof *t);
    for (size_t i = 0; i < n; i++) {
        const st_file *file;
        const st_tensor *s = st_set_find(set, e[i].hf, &file);
        char got[128];
        if (!s) {
            llp_err_set(err, "%s: tensor '%s' is missing (config.json: num_hidden_layers %d, "
                        "tie_word_embeddings %s)", dir, e[i].hf, c.n_layers, c.tied ? "true" : "false");
            goto done;
        }
        if (!shape_is(s, &e[i])) {
            if (e[i].n_dims == 1)
                llp_err_set(err, "%s: tensor '%s' has shape %s, but config.json implies [%lld]",
                            st_path(file), e[i].hf, cv_shape(s, got, sizeof got), (long long)e[i].cols);
            else
                llp_err_set(err, "%s: tensor '%s' has shape %s, but config.json implies [%lld, %lld]",
                            st_path(file), e[i].hf, cv_shape(s, got, sizeof got), (long long)e[i].rows,
                            (long long)e[i].cols);
            goto done;
        }
        snprintf(t[i].name, sizeof t[i].name, "%s", e[i].gguf);
        t[i].source = s->name;
        t[i].file = file;
        t[i].src = s;
        t[i].rows = e[i].rows;
        t[i].cols = e[i].cols;
        t[i].head_dim = e[i].head_dim;
    }
    if (check_unexpected(set, e, n, &c, o, err)) goto done;

    int ftype = o && o->ftype >= 0 ? o->ftype : default_ftype(t, n);
    if (llp_ftype_base_type((uint32_t)ftype) == LLP_TYPE_COUNT) {
        llp_err_set(err, "file type %d cannot be produced", ftype);
        goto done;
    }
    llp_quant_rules rules = { .ftype = (uint32_t)ftype, .n_layers = c.n_layers,
                              .n_gqa = c.n_heads / c.n_heads_kv,
                              .is_70b = c.n_layers == 80 && c.n_heads != c.n_heads_kv,
                              .tied = c.tied };
    gguf_writer *w = gguf_writer_new();
    set_metadata(w, dir, &c, &v, (uint32_t)ftype);
    cv_sort(t, n);
    cv_job job = { .tensors = t, .n = n, .opts = o };
    for (size_t i = 0; i < n; i++) {
        int64_t ne[2] = { t[i].cols, t[i].rows };
        uint32_t n_dims = t[i].src->n_dims == 1 ? 1 : 2;
        t[i].dst_type = llp_quant_tensor_type(&rules, t[i].name, n_dims, ne, LLP_F32, NULL);
        gguf_add_tensor_fill(w, t[i].name, n_dims, ne, t[i].dst_type, cv_fill, &job);
    }
    job.pool = llp_pool_new(o ? o->n_threads : 0);
    rc = gguf_writer_write(w, out, err);
    llp_pool_free(job.pool);
    gguf_writer_free(w);
done:
    free(t);
    free(e);
    st_set_close(set);
    hf_vocab_free(&v);
    free(cfg_path);
    return rc;
}
