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
    int n_cut;                  /* prompt tokens cut from its start (0 if none) */
    double compute_s;           /* its share of the forward passes (rows of the
                                   pass that were its tokens) and its sampling */
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

/* Tokens of an n_ctx context kept free for generating when a prompt is cut:
 * n_predict, or n_ctx / 4 when it is -1; at least 1, and at most n_ctx - 16
 * (n_ctx / 2 for contexts under 32), so the prompt keeps its last tokens. */
int llp_gen_room(int n_ctx, int n_predict);

/* Fit prompt ids to the context in place: a prompt that leaves less than
 * llp_gen_room() keeps its end (and its first token when that is BOS).
 * Returns the number of tokens cut (0: it fits). */
int llp_gen_fit_prompt(const llp_generator *g, llp_tokens *ids);

/* The sampler seed of one record: its own stream, from the run's seed and
 * the record id (xxh64 of the id seeded with the seed), so a sampled
 * record's output does not depend on which records share its batch, its
 * shard or its --parallel slot. */
uint64_t llp_gen_record_seed(uint64_t seed, const char *record_id);

/* The scheduler over the generator's context (gen_sched.h), for running
 * many records at once. */
typedef struct llp_gen_sched llp_gen_sched;
llp_gen_sched *llp_generator_sched(llp_generator *g);

/* Generate after the given prompt ids, fitted as llp_gen_fit_prompt does.
 * Uses a free sequence of the context and the run's seed, so the result
 * depends only on the prompt and the parameters. A cut prompt is flagged
 * truncated, n_cut saying how many tokens went. Returns 0, -1 with err
 * set, or LLP_GEN_STOPPED. */
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
