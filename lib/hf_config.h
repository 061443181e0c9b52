/*
 * hf_config.h — a Hugging Face Llama model's config.json, read and checked.
 *
 * Required: model_type ("llama"), hidden_size, intermediate_size,
 * num_attention_heads, num_hidden_layers, vocab_size, rms_norm_eps,
 * max_position_embeddings. Optional: num_key_value_heads (default: the
 * heads), rope_theta (10000), rope_scaling (null, or {"type" or
 * "rope_type": "linear", "factor": F}; other kinds are refused by name),
 * tie_word_embeddings (false), head_dim (must equal hidden_size / heads),
 * hidden_act (must be "silu"), attention_bias and mlp_bias (must not be
 * true), bos_token_id / eos_token_id / pad_token_id
 * (used when the tokenizer configs do not name those tokens).
 *
 * Contradictions are errors naming the field: hidden_size not a multiple of
 * num_attention_heads, heads not a multiple of num_key_value_heads, an odd
 * head dimension, a non-positive size.
 * Messages: "DIR/config.json: FIELD: what is wrong".
 *
 * Not for: the tokenizer files (hf_vocab.h) or the weights (safetensors.h).
 */
#ifndef LLP_HF_CONFIG_H
#define LLP_HF_CONFIG_H

#include <stdbool.h>

#include "util.h"

typedef struct hf_config {
    int dim;                 /* hidden_size */
    int ffn_dim;             /* intermediate_size */
    int n_heads;             /* num_attention_heads */
    int n_heads_kv;          /* num_key_value_heads */
    int n_layers;            /* num_hidden_layers */
    int n_vocab;             /* vocab_size */
    int n_ctx;               /* max_position_embeddings */
    int head_dim;            /* dim / n_heads */
    double rms_eps;          /* rms_norm_eps */
    double rope_theta;       /* rope_theta */
    bool has_rope_scaling;
    double rope_scaling_factor;  /* linear scaling only */
    bool tied;               /* tie_word_embeddings */
    int bos_id, eos_id, pad_id;  /* config.json's *_token_id; -1 absent */
} hf_config;

/* Read PATH (a config.json). 0, or -1 with err naming the file and field. */
int hf_config_load(const char *path, hf_config *c, llp_err *err);

#endif
