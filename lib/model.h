/*
 * model.h — a Llama model: its configuration, its weights (mapped from the
 * GGUF file, never copied) and the forward pass over a batch of tokens,
 * with a KV cache holding several independent sequences.
 *
 * Not for: tokenization (tokenizer.h), sampling (sampler.h), reading the
 * file format (gguf.h), or matrix kernels (matmul.h).
 *
 * Shapes below use the names of llp_config: dim (embedding width), n_heads,
 * n_heads_kv, head_dim = dim / n_heads, kv_dim = n_heads_kv * head_dim,
 * ffn_dim, n_vocab.
 */
#ifndef LLP_MODEL_H
#define LLP_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include "gguf.h"
#include "kv_cache.h"
#include "util.h"

typedef struct llp_pool llp_pool;

#define LLP_MAX_HEAD_DIM 512    /* widest attention head accepted */

typedef struct llp_config {
    int n_vocab;        /* rows of token_embd */
    int dim;            /* llama.embedding_length */
    int n_layers;       /* llama.block_count */
    int n_heads;        /* llama.attention.head_count */
    int n_heads_kv;     /* llama.attention.head_count_kv (default n_heads) */
    int head_dim;       /* dim / n_heads */
    int kv_dim;         /* n_heads_kv * head_dim */
    int ffn_dim;        /* llama.feed_forward_length */
    int n_ctx_train;    /* llama.context_length */
    int rope_dim;       /* llama.rope.dimension_count (default head_dim) */
    float rope_base;    /* llama.rope.freq_base (default 10000) */
    float norm_eps;     /* llama.attention.layer_norm_rms_epsilon */
} llp_config;

/* An adapter on one weight (lora.h): y += scale * (x A^T) B^T. The
 * tensors belong to the llp_lora they came from. */
typedef struct llp_weight_lora {
    const float *a;             /* (rank, n_in) */
    const float *b;             /* (n_out, rank) */
    int rank;
    float scale;                /* user_scale * alpha / rank */
    struct llp_weight_lora *next;
} llp_weight_lora;

/* A weight matrix W[n_out][n_in] of any supported type, mapped. */
typedef struct llp_weight {
    const char *name;
    uint32_t type;
    const void *data;
    int64_t n_in;       /* ne[0], contiguous */
    int64_t n_out;      /* ne[1] */
    void *packed;       /* owned copy repacked for the fast path (matmul.h),
                           or NULL: the fast path multiplies data */
    llp_weight_lora *lora;      /* adapters applied on the fly (owned list), or NULL */
    void *merged;               /* owned rows after an adapter was merged in
                                   (data points here), or NULL */
} llp_weight;

typedef struct llp_layer {
    float *attn_norm;           /* (dim) f32 copy */
    llp_weight wq;              /* (dim -> dim) */
    llp_weight wk;              /* (dim -> kv_dim) */
    llp_weight wv;              /* (dim -> kv_dim) */
    llp_weight wo;              /* (dim -> dim) */
    float *ffn_norm;            /* (dim) */
    llp_weight w_gate;          /* (dim -> ffn_dim) */
    llp_weight w_up;            /* (dim -> ffn_dim) */
    llp_weight w_down;          /* (ffn_dim -> dim) */
} llp_layer;

typedef struct llp_model {
    char *path;
    gguf_file *file;            /* owns the mapping the weights point into */
    llp_config cfg;
    llp_weight token_embd;      /* (n_vocab rows of dim) */
    float *output_norm;         /* (dim) */
    llp_weight output;          /* (dim -> n_vocab); token_embd when tied */
    bool output_tied;
    llp_layer *layers;          /* (n_layers) */
    uint64_t n_params;          /* total weight values */
} llp_model;

/* Load a llama model from a GGUF file. Refuses a missing required llama.*
 * key, a missing tensor, a tensor of the wrong shape, or an unsupported
 * architecture, naming the file and the key or tensor. */
llp_model *llp_model_load(const char *path, llp_err *err);
/* The same on an already open file; the model takes ownership of it. */
llp_model *llp_model_from_gguf(gguf_file *file, llp_err *err);
void llp_model_free(llp_model *m);

/* ---- inference state --------------------------------------------------- */

typedef struct llp_context llp_context;

typedef struct llp_context_params {
    int n_ctx;          /* positions per sequence (0: min(n_ctx_train, 4096)) */
    int n_seq;          /* independent sequences in the KV cache (0: 1) */
    int n_batch;        /* most tokens per forward call (0: 512) */
    int n_threads;      /* 0: physical cores */
    bool reference;     /* plain scalar path: reference matmul, one thread */
    llp_kv_type kv_type;  /* cache element type; 0: f16 */
} llp_context_params;

llp_context *llp_context_new(const llp_model *m, const llp_context_params *p, llp_err *err);
void llp_context_free(llp_context *ctx);
int llp_context_n_ctx(const llp_context *ctx);
int llp_context_n_seq(const llp_context *ctx);
int llp_context_n_batch(const llp_context *ctx);
const llp_model *llp_context_model(const llp_context *ctx);
llp_pool *llp_context_pool(llp_context *ctx);
llp_kv_type llp_context_kv_type(const llp_context *ctx);

/* One forward call: n tokens, each with its sequence and position. Tokens
 * of one sequence must come in increasing position order; the cache of that
 * sequence must already hold positions 0..pos-1 (from earlier calls or
 * earlier in this batch). For each token i with want[i] set (want NULL:
 * only the last token), a row of n_vocab logits is written to logits (rows
 * in token order) and, if hidden is non-NULL, a row of dim final hidden
 * states (after output_norm) to hidden. Returns 0, or -1 with err set
 * (token id out of range, position past n_ctx, bad sequence). */
typedef struct llp_batch {
    int n;
    const int32_t *tokens;      /* (n) */
    const int32_t *pos;         /* (n) position of each token in its sequence */
    const int32_t *seq;         /* (n) sequence id, or NULL: all in sequence 0 */
    const bool *want;           /* (n) which tokens give output rows, or NULL */
} llp_batch;

int llp_decode(llp_context *ctx, const llp_batch *b, float *logits, float *hidden, llp_err *err);

/* Convenience: feed n tokens of sequence seq from position pos (split into
 * n_batch chunks) and write the logits of the last token to logits (may be
 * NULL). */
int llp_decode_tokens(llp_context *ctx, int seq, int pos, const int32_t *tokens, int n,
                      float *logits, llp_err *err);

/* Copy positions [0, n_pos) of sequence src to sequence dst (a shared
 * prompt prefix computed once). */
void llp_kv_copy(llp_context *ctx, int src, int dst, int n_pos);

#endif
