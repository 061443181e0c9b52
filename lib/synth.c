/*
 * synth.c — random-weight Llama models for tests, benchmarks and the demo.
 *
 * Weights: each matrix row is drawn uniformly with standard deviation
 * 1/sqrt(n_in), so activations keep a sane scale through the layers. To write
 * multi-gigabyte shapes quickly, rows are quantized once into a pool of
 * distinct rows per (type, width) and each tensor row copies a randomly
 * chosen pool row; the bytes differ row to row, which is all a speed
 * measurement needs.
 *
 * Vocabulary: <unk>, <s>, </s>, the 256 byte tokens, then "▁", printable
 * ASCII characters, "▁"+character, lowercase bigrams, "▁"+bigram, trigrams
 * ... with scores falling by index, so every multi-character piece can be
 * reached by merging two earlier pieces.
 *
 * Not for: quantizing real weights (llp-quantize).
 */
#include "synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "quant.h"
#include "quantize.h"

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64*: fast, deterministic for a given seed */
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static float rng_uniform(uint64_t *s)   /* in [-1, 1) */
{
    return (float)((rng_next(s) >> 40) * (1.0 / (1 << 23)) - 1.0);
}

int llp_synth_shape(const char *name, llp_synth_spec *s)
{
    struct { const char *name; int vocab, dim, layers, heads, heads_kv, ffn, ctx; } shapes[] = {
        { "tiny", 512, 64, 2, 4, 2, 192, 256 },
        { "small", 512, 256, 2, 4, 2, 768, 512 },
        { "1.1b", 32000, 2048, 22, 32, 4, 5632, 2048 },
        { "7b", 32000, 4096, 32, 32, 32, 11008, 4096 },
        { "13b", 32000, 5120, 40, 40, 40, 13824, 4096 },
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        if (strcmp(shapes[i].name, name) != 0) continue;
        s->n_vocab = shapes[i].vocab;
        s->dim = shapes[i].dim;
        s->n_layers = shapes[i].layers;
        s->n_heads = shapes[i].heads;
        s->n_heads_kv = shapes[i].heads_kv;
        s->ffn_dim = shapes[i].ffn;
        s->n_ctx = shapes[i].ctx;
        return 0;
    }
    return -1;
}

void llp_synth_piece(int i, char *buf, size_t size)
{
    static const char *specials[] = { "<unk>", "<s>", "</s>" };
    static const char space[] = "\xe2\x96\x81";          /* U+2581 */
    if (i < 3) {
        snprintf(buf, size, "%s", specials[i]);
        return;
    }
    if (i < 3 + 256) {
        snprintf(buf, size, "<0x%02X>", i - 3);
        return;
    }
    int k = i - 259;
    if (k == 0) {
        snprintf(buf, size, "%s", space);
        return;
    }
    k--;
    if (k < 94) {                          /* printable ASCII '!'..'~' */
        snprintf(buf, size, "%c", 33 + k);
        return;
    }
    k -= 94;
    if (k < 94) {
        snprintf(buf, size, "%s%c", space, 33 + k);
        return;
    }
    k -= 94;
    /* then lowercase n-grams: bigrams, "▁"+bigram, trigrams, "▁"+trigram ... */
    for (int len = 2; len < 8; len++) {
        long count = 1;
        for (int j = 0; j < len; j++) count *= 26;
        for (int spaced = 0; spaced < 2; spaced++) {
            if (k < count) {
                char gram[16];
                long v = k;
                for (int j = len - 1; j >= 0; j--) {
                    gram[j] = (char)('a' + v % 26);
                    v /= 26;
                }
                gram[len] = 0;
                snprintf(buf, size, "%s%s", spaced ? space : "", gram);
                return;
            }
            k -= (int)count;
        }
    }
    snprintf(buf, size, "<extra_%d>", i);
}

static void add_vocab(gguf_writer *w, int n_vocab)
{
    char **pieces = llp_malloc(sizeof(char *) * (size_t)n_vocab);
    float *scores = llp_malloc(sizeof(float) * (size_t)n_vocab);
    int32_t *types = llp_malloc(sizeof(int32_t) * (size_t)n_vocab);
    for (int i = 0; i < n_vocab; i++) {
        char buf[64];
        llp_synth_piece(i, buf, sizeof buf);
        pieces[i] = llp_strdup(buf);
        scores[i] = i < 259 ? 0.0f : -(float)(i - 259);
        types[i] = i == 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1;
    }
    gguf_set_str(w, "tokenizer.ggml.model", "llama");
    gguf_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)pieces, (uint64_t)n_vocab);
    gguf_set_arr(w, "tokenizer.ggml.scores", GGUF_F32, scores, (uint64_t)n_vocab);
    gguf_set_arr(w, "tokenizer.ggml.token_type", GGUF_I32, types, (uint64_t)n_vocab);
    gguf_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    gguf_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
    gguf_set_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    gguf_set_bool(w, "tokenizer.ggml.add_bos_token", true);
    gguf_set_bool(w, "tokenizer.ggml.add_eos_token", false);
    for (int i = 0; i < n_vocab; i++) free(pieces[i]);
    free(pieces);
    free(scores);
    free(types);
}

/* A pool of distinct quantized rows of one (type, width). */
typedef struct row_pool {
    uint32_t type;
    int64_t n_in;
    int n_rows;
    size_t row_bytes;
    uint8_t *rows;
} row_pool;

static void row_pool_init(row_pool *p, uint32_t type, int64_t n_in, int n_rows, float stddev,
                          uint64_t *rng)
{
    p->type = type;
    p->n_in = n_in;
    p->n_rows = n_rows;
    p->row_bytes = llp_row_size(type, n_in);
    p->rows = llp_malloc(p->row_bytes * (size_t)n_rows);
    float *tmp = llp_malloc(sizeof(float) * (size_t)n_in);
    float amp = stddev * sqrtf(3.0f);           /* uniform [-a, a) has std a/sqrt(3) */
    for (int r = 0; r < n_rows; r++) {
        for (int64_t i = 0; i < n_in; i++) tmp[i] = amp * rng_uniform(rng);
        llp_quantize_row(type, tmp, p->rows + p->row_bytes * (size_t)r, n_in);
    }
    free(tmp);
}

/* Tensor data handed to the writer by reference, freed after the write, so
 * a multi-gigabyte model is held in memory once. */
typedef struct buffers {
    void **ptr;
    size_t n, cap;
} buffers;

static void *buffer_new(buffers *b, size_t bytes)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 64;
        b->ptr = llp_realloc(b->ptr, sizeof(void *) * b->cap);
    }
    return b->ptr[b->n++] = llp_malloc(bytes);
}

static void buffers_free(buffers *b)
{
    for (size_t i = 0; i < b->n; i++) free(b->ptr[i]);
    free(b->ptr);
}

/* The type of a tensor: the spec's single type, or the mix rules. */
static uint32_t tensor_type(const llp_synth_spec *s, const char *name, int64_t n_in,
                            int64_t n_out, uint32_t single)
{
    if (!s->mix) return single;
    llp_quant_rules r = { .ftype = s->ftype, .n_layers = s->n_layers,
                          .n_gqa = s->n_heads / s->n_heads_kv, .tied = s->tied };
    int64_t ne[2] = { n_in, n_out };
    bool fallback;
    return llp_quant_tensor_type(&r, name, 2, ne, LLP_F32, &fallback);
}

/* A tensor of n_out rows of n_in values: pool rows chosen at random. Small
 * tensors (n_out <= the pool) get all-distinct rows. */
static void add_matrix(gguf_writer *w, buffers *bufs, const char *name, uint32_t type,
                       int64_t n_in, int64_t n_out, float stddev, uint64_t *rng)
{
    int n_pool = n_out <= 512 ? (int)n_out : 64;
    row_pool pool;
    row_pool_init(&pool, type, n_in, n_pool, stddev, rng);
    uint8_t *data = buffer_new(bufs, pool.row_bytes * (size_t)n_out);
    for (int64_t r = 0; r < n_out; r++) {
        int pick = n_out <= 512 ? (int)r : (int)(rng_next(rng) % (uint64_t)n_pool);
        memcpy(data + pool.row_bytes * (size_t)r, pool.rows + pool.row_bytes * (size_t)pick,
               pool.row_bytes);
    }
    int64_t ne[2] = { n_in, n_out };
    gguf_add_tensor_ref(w, name, 2, ne, type, data);
    free(pool.rows);
}

static void add_norm(gguf_writer *w, const char *name, int dim, uint64_t *rng)
{
    float *v = llp_malloc(sizeof(float) * (size_t)dim);
    for (int i = 0; i < dim; i++) v[i] = 1.0f + 0.1f * rng_uniform(rng);
    int64_t ne[1] = { dim };
    gguf_add_tensor(w, name, 1, ne, LLP_F32, v);
    free(v);
}

/* general.file_type values of llama.cpp for a single weight type */
static uint32_t file_type_of(uint32_t type)
{
    switch (type) {
    case LLP_F32: return 0;
    case LLP_F16: return 1;
    case LLP_Q4_0: return 2;
    case LLP_Q4_1: return 3;
    case LLP_Q8_0: return 7;
    case LLP_Q5_0: return 8;
    case LLP_Q5_1: return 9;
    case LLP_Q2_K: return 10;
    case LLP_Q3_K: return 12;
    case LLP_Q4_K: return 15;
    case LLP_Q5_K: return 17;
    case LLP_Q6_K: return 18;
    case LLP_BF16: return 32;
    default: return 0;
    }
}

static int check_spec(const llp_synth_spec *s, llp_err *err)
{
    if (s->mix && llp_ftype_base_type(s->ftype) >= LLP_TYPE_COUNT)
        return llp_err_set(err, "synthetic model: unknown file type %u", s->ftype);
    const llp_type_info *ti = llp_type_get(s->mix ? llp_ftype_base_type(s->ftype) : s->type);
    if (!ti || !ti->supported)
        return llp_err_set(err, "synthetic model: weight type %s is not supported",
                           llp_type_name(s->type));
    if (s->n_vocab < 260 || s->dim <= 0 || s->n_layers <= 0 || s->n_heads <= 0 ||
        s->n_heads_kv <= 0 || s->ffn_dim <= 0 || s->n_ctx <= 0)
        return llp_err_set(err, "synthetic model: shape out of range");
    if (s->dim % s->n_heads || s->n_heads % s->n_heads_kv)
        return llp_err_set(err, "synthetic model: heads do not divide the dimensions");
    if (s->dim % ti->block_size || s->ffn_dim % ti->block_size)
        return llp_err_set(err, "synthetic model: dim %d / ffn %d not a multiple of %s blocks (%d)",
                           s->dim, s->ffn_dim, ti->name, ti->block_size);
    return 0;
}

int llp_synth_write(const llp_synth_spec *s, const char *path, llp_err *err)
{
    if (check_spec(s, err)) return -1;
    uint64_t rng = s->seed ? s->seed : 0x9E3779B97F4A7C15ULL;
    int head_dim = s->dim / s->n_heads;
    int kv_dim = head_dim * s->n_heads_kv;
    uint32_t out_type = s->output_type == LLP_TYPE_COUNT ? s->type : s->output_type;
    gguf_writer *w = gguf_writer_new();
    char name[96];

    gguf_set_str(w, "general.architecture", "llama");
    gguf_set_str(w, "general.name", "llamapipe synthetic (random weights)");
    gguf_set_u32(w, "general.file_type",
                 s->mix ? s->ftype : s->file_type ? s->file_type : file_type_of(s->type));
    gguf_set_u32(w, "llama.context_length", (uint32_t)s->n_ctx);
    gguf_set_u32(w, "llama.embedding_length", (uint32_t)s->dim);
    gguf_set_u32(w, "llama.block_count", (uint32_t)s->n_layers);
    gguf_set_u32(w, "llama.feed_forward_length", (uint32_t)s->ffn_dim);
    gguf_set_u32(w, "llama.attention.head_count", (uint32_t)s->n_heads);
    gguf_set_u32(w, "llama.attention.head_count_kv", (uint32_t)s->n_heads_kv);
    gguf_set_u32(w, "llama.rope.dimension_count", (uint32_t)head_dim);
    gguf_set_f32(w, "llama.rope.freq_base", s->rope_base > 0 ? s->rope_base : 10000.0f);
    gguf_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    add_vocab(w, s->n_vocab);
    if (s->chat_template)
        gguf_set_str(w, "tokenizer.chat_template",
                     "{% for message in messages %}[INST] {{ message['content'] }} [/INST]"
                     "{% endfor %}");

    buffers bufs = { 0 };
    add_matrix(w, &bufs, "token_embd.weight",
               tensor_type(s, "token_embd.weight", s->dim, s->n_vocab, s->type), s->dim,
               s->n_vocab, 1.0f, &rng);
    add_norm(w, "output_norm.weight", s->dim, &rng);
    if (!s->tied)
        add_matrix(w, &bufs, "output.weight",
                   tensor_type(s, "output.weight", s->dim, s->n_vocab, out_type), s->dim,
                   s->n_vocab, 1.0f / sqrtf((float)s->dim), &rng);
    for (int l = 0; l < s->n_layers; l++) {
        struct { const char *suffix; int n_in, n_out; } mats[] = {
            { "attn_q", s->dim, s->dim },       { "attn_k", s->dim, kv_dim },
            { "attn_v", s->dim, kv_dim },       { "attn_output", s->dim, s->dim },
            { "ffn_gate", s->dim, s->ffn_dim }, { "ffn_up", s->dim, s->ffn_dim },
            { "ffn_down", s->ffn_dim, s->dim },
        };
        snprintf(name, sizeof name, "blk.%d.attn_norm.weight", l);
        add_norm(w, name, s->dim, &rng);
        snprintf(name, sizeof name, "blk.%d.ffn_norm.weight", l);
        add_norm(w, name, s->dim, &rng);
        for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++) {
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, mats[i].suffix);
            add_matrix(w, &bufs, name, tensor_type(s, name, mats[i].n_in, mats[i].n_out, s->type),
                       mats[i].n_in, mats[i].n_out, 1.0f / sqrtf((float)mats[i].n_in), &rng);
        }
    }
    int rc = gguf_writer_write(w, path, err);
    gguf_writer_free(w);
    buffers_free(&bufs);
    return rc;
}
