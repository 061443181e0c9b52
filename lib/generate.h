/*
 * generate.h — text generation: a prompt in, a completion out, with
 * sampling, stop strings, the context limit, streaming and the conformance
 * hook's per-token logits. Used by llp-generate, llp-summarize and the
 * pipeline runner.
 *
 * Not for: reading records or flags (the binaries), the chat format itself
 * (chat.h), choosing a token (sampler.h).
 */
#ifndef LLP_GENERATE_H
#define LLP_GENERATE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "chat.h"
#include "model.h"
#include "sampler.h"
#include "tokenizer.h"

typedef struct llp_gen_params {
    llp_sampling sampling;
    int n_predict;              /* most tokens to generate; -1: until EOS or full */
    const char *const *stop;    /* stop strings: the completion ends before one */
    int n_stop;
    llp_chat_format chat;       /* how a text prompt is wrapped */
    const char *system;         /* system prompt for chat formats, or NULL */
} llp_gen_params;

/* Called as text is produced: bytes of the completion, in order, never
 * including a stop string or text after it. */
typedef void (*llp_gen_text_fn)(void *ctx, const char *bytes, size_t n);

typedef struct llp_gen_hooks {
    llp_gen_text_fn on_text;
    void *text_ctx;
    FILE *logits_out;           /* raw f32 rows after every consumed token */
    llp_tokens *ids_out;        /* generated ids are appended here */
    /* Polled before each prompt batch and each generated token; once it
     * returns true the generation is abandoned (LLP_GEN_STOPPED). NULL:
     * never. llp_batch_stop_requested fits. */
    bool (*should_stop)(void);
} llp_gen_hooks;

/* Returned by llp_generate_ids / llp_generate_text when hooks->should_stop
 * turned true: no result (res is empty), err untouched. */
#define LLP_GEN_STOPPED (-2)

typedef struct llp_gen_result {
    char *text;                 /* the completion, malloc'd, NUL-terminated */
    size_t len;
    int tokens_in;              /* prompt tokens consumed */
    int tokens_out;             /* tokens generated */
    const char *stop;           /* "eos", "length" or "stop-string" */
    bool truncated;             /* the prompt was cut to fit the context */
} llp_gen_result;

void llp_gen_result_free(llp_gen_result *r);

typedef struct llp_generator llp_generator;

/* The generator uses sequence 0 of ctx and owns a sampler; the model,
 * tokenizer and context stay the caller's. */
llp_generator *llp_generator_new(llp_context *ctx, const llp_tokenizer *tok,
                                 const llp_gen_params *p);
void llp_generator_free(llp_generator *g);

/* The prompt ids for a text: wrapped in the chat format, BOS added as the
 * vocabulary says. */
int llp_gen_tokenize_prompt(llp_generator *g, const char *text, size_t len, llp_tokens *out,
                            llp_err *err);

/* Generate after the given prompt ids (used as they are). Resets the KV
 * cache of sequence 0 and the sampler first, so the result depends only on
 * the prompt and the parameters. A prompt longer than the context keeps its
 * first token (BOS) and its last tokens, and is flagged truncated. Returns
 * 0, -1 with err set, or LLP_GEN_STOPPED. */
int llp_generate_ids(llp_generator *g, const int32_t *ids, int n, const llp_gen_hooks *hooks,
                     llp_gen_result *res, llp_err *err);

/* The fields a generation adds to its record: completion, tokens_in,
 * tokens_out, stop, and truncated when the prompt was cut; named after
 * --into (llp_output_name). New reference. */
json_t *llp_gen_result_fields(const llp_gen_result *r, const char *into);

/* The column names of those fields, in order, for CSV output: n = 5 names,
 * each malloc'd (free each). */
void llp_gen_output_columns(const char *into, char *names[5]);

/* The parameters that shape a completion, for the cache key and the job
 * row. New reference. */
json_t *llp_gen_params_json(const llp_gen_params *p);

/* Tokenize (as above) then generate; returns as llp_generate_ids. */
int llp_generate_text(llp_generator *g, const char *text, size_t len, const llp_gen_hooks *hooks,
                      llp_gen_result *res, llp_err *err);

#endif
