/*
 * synth.h — write random-weight Llama models of any shape and weight type,
 * with a small synthetic SentencePiece vocabulary.
 *
 * Tests build their tiny models with it, `llp-bench --shape` measures speed
 * on it, and `make demo` runs on one when no real model is at hand. The
 * output of such a model is noise: it proves the machinery, not the words.
 *
 * Not for: real models (load them with model.h) or quantizing an existing
 * file (llp-quantize).
 */
#ifndef LLP_SYNTH_H
#define LLP_SYNTH_H

#include <stdbool.h>
#include <stdint.h>
#include "util.h"

typedef struct llp_synth_spec {
    int n_vocab;        /* >= 260: 3 specials + 256 byte tokens + pieces */
    int dim;
    int n_layers;
    int n_heads;
    int n_heads_kv;
    int ffn_dim;
    int n_ctx;          /* llama.context_length */
    float rope_base;    /* 0: 10000 */
    uint32_t type;      /* weight type of the matrices (norms stay F32) */
    uint32_t output_type; /* type of output.weight (0 = F32 is allowed; use
                             LLP_TYPE_COUNT for "same as type") */
    bool tied;          /* no output.weight: the head reuses token_embd */
    bool chat_template; /* store a Llama-2 chat template string */
    uint32_t file_type; /* general.file_type to record (0: derive from type) */
    bool mix;           /* choose each tensor's type by the llama.cpp rules of
                           file type `ftype` (quantize.h), e.g. Q4_K_M */
    uint32_t ftype;
    uint64_t seed;
} llp_synth_spec;

/* A named shape: "tiny" and "small" (test sizes; small has 256-wide rows for K-quants), "1.1b" (TinyLlama), "7b", "13b" (Llama-2).
 * Fills the shape fields of spec and returns 0, or -1 for an unknown name. */
int llp_synth_shape(const char *name, llp_synth_spec *spec);

/* Write the model to path. Returns 0 or -1 with err set. */
int llp_synth_write(const llp_synth_spec *spec, const char *path, llp_err *err);

/* The i-th piece of the synthetic vocabulary (for tests): a NUL-terminated
 * string in buf (size >= 64). */
void llp_synth_piece(int i, char *buf, size_t size);

#endif
