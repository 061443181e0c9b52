/*
 * engine.h — everything a model-using tool opens before its first record:
 * the model, its tokenizer, an inference context, the model's fingerprint
 * and a JSON summary of it for the store. One call, one free, so that
 * llp-generate, llp-embed, llp-classify, llp-summarize and llp-run open
 * models the same way.
 *
 * Not for: the forward pass (model.h) or what a task does with it.
 */
#ifndef LLP_ENGINE_H
#define LLP_ENGINE_H

#include <jansson.h>
#include <stdbool.h>

#include "chat.h"
#include "hash.h"
#include "lora.h"
#include "model.h"
#include "tokenizer.h"
#include "util.h"

typedef struct llp_engine {
    llp_model *model;
    llp_tokenizer *tok;
    llp_context *ctx;
    char fingerprint[LLP_HASH_HEX];
    json_t *meta;           /* {"arch","n_params","dim","n_layers",...,"lora"} */
    int64_t file_size;
    int n_seq;              /* sequences of ctx (the chosen --parallel) */
    llp_lora **lora;        /* (n_lora) the adapters in use, owned */
    int n_lora;
} llp_engine;

typedef struct llp_engine_opts {
    const char *model_path;     /* required */
    int n_ctx;                  /* 0: the model's own (at most 4096) */
    int n_seq;                  /* sequences in the KV cache (0: 1;
                                   LLP_ENGINE_SEQ_AUTO: llp_engine_auto_parallel) */
    int n_batch;                /* 0: 512 */
    int n_threads;              /* 0: physical cores */
    llp_kv_type kv_type;        /* 0: f16 */
    char *const *lora;          /* (n_lora) adapter files (lora.h) */
    const float *lora_scale;    /* (n_lora) their scales */
    int n_lora;
    bool lora_merge;            /* merge them at load instead of on the fly */
} llp_engine_opts;

#define LLP_ENGINE_SEQ_AUTO (-1)
/* Most sequences the default --parallel decodes together. The aggregate
 * generation rate still rises from 8 to 16 on both machine kinds measured
 * (2 cores, AVX-512, 1.1B shape: Q4_0 +10% on Zen 5, +27% on Zen 4;
 * Q4_K_M +14% and +19%: README "Many records at once") and is flat beyond,
 * where the products are compute-bound; the KV cache's pages are only
 * resident once used, so an idle slot costs address space, not memory. */
#define LLP_PARALLEL_DEFAULT_MAX 16

/* The default --parallel for a model: LLP_PARALLEL_DEFAULT_MAX, lowered
 * so that that many full n_ctx-token KV caches of kv type fit in half of
 * the memory left once the model file is resident (sysconf's physical
 * pages); at least 1. n_ctx 0: the model's own (at most 4096). */
int llp_engine_auto_parallel(const llp_model *m, int n_ctx, llp_kv_type kv);

/* "note: --parallel N: ..." on stderr: how many records a tool decodes
 * together, and why (for -v and --progress); why NULL: the default chose
 * it. */
void llp_engine_note_parallel(const llp_engine *e, const char *tool, const char *why);

/* Open the model named by opts, with its adapters. err names the file on
 * failure; a missing model path gives "no model: pass -m MODEL or set
 * LLP_MODEL". With adapters, the fingerprint is the hash of the base's,
 * each adapter file's and its scale, and whether they are merged: the store
 * never mixes outputs made with and without (or with other) adapters. */
llp_engine *llp_engine_open(const llp_engine_opts *opts, llp_err *err);
void llp_engine_free(llp_engine *e);

/* The chat format for a tool's --chat (1) / --no-chat (0) / neither (-1),
 * from the model's chat template or file name (chat.h). */
llp_chat_format llp_engine_chat(const llp_engine *e, int want);

/* JSON summary of a model (shared with `llp info`). New reference. */
json_t *llp_model_meta(const llp_model *m, const llp_tokenizer *tok);

#endif
