/*
 * gen_sched.h — many generations decoded together: continuous batching
 * over the sequences of one context. Each request (prompt ids, its own
 * sampler seed, its hooks) takes a free sequence slot; every step is one
 * forward pass that carries the next token of every decoding request plus
 * chunks of the prompts still being prefilled, so decoding never waits for
 * a long prompt, and a finished request frees its slot for the next one at
 * once. llp_generate_ids (generate.h) is this scheduler with one request.
 *
 * Not for: reading records or keeping them in order (the callers: the
 * generate task, the summarizer), tokenizing or fitting prompts
 * (generate.c), choosing tokens (sampler.h).
 *
 * Same answers whatever the batch: a request's tokens depend only on its
 * prompt, its seed and the parameters, never on which other requests share
 * its passes or how its prompt was cut into chunks, because every piece of
 * a forward pass is row-invariant (the quantized products are exact
 * integer sums per row, attention is per token: kv_cache.h). Float weight
 * types multiply batches through SGEMM, whose blocking depends on the
 * batch: there the answers agree to float rounding only.
 *
 * Use:
 *   llp_gen_sched *s = llp_gen_sched_new(ctx, tok, &params);
 *   while (work left) {
 *       while (llp_gen_sched_n_free(s) && more) llp_gen_sched_submit(s, &req, &err);
 *       if (llp_gen_sched_step(s, &err)) fatal;
 *       while (llp_gen_sched_take(s, &tag, &res)) { ... llp_gen_result_free(&res); }
 *   }
 */
#ifndef LLP_GEN_SCHED_H
#define LLP_GEN_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "generate.h"

typedef struct llp_gen_request {
    const int32_t *ids;         /* the prompt, already fitted: n_ids < n_ctx (copied) */
    int n_ids;
    int n_cut;                  /* tokens the caller cut from the prompt's start
                                   (llp_gen_fit_prompt): reported in the result */
    uint64_t seed;              /* this request's sampler seed */
    const llp_gen_hooks *hooks; /* NULL: none; borrowed until the request is taken.
                                   logits_out needs the request to run alone */
    void *tag;                  /* the caller's, handed back by take */
    const llp_gen_params *params; /* NULL: the scheduler's; else this request's own
                                   sampling, n_predict and stop strings (borrowed
                                   until the request is taken or cancelled; its
                                   chat and system are not used: ids are given) */
} llp_gen_request;

typedef struct llp_gen_sched llp_gen_sched;

/* A scheduler over every sequence of ctx (llp_context_n_seq slots), with
 * the generation parameters of every request that brings none of its own
 * (llp_gen_request.params; llp-serve's requests each have theirs). */
llp_gen_sched *llp_gen_sched_new(llp_context *ctx, const llp_tokenizer *tok,
                                 const llp_gen_params *p);
void llp_gen_sched_free(llp_gen_sched *s);

int llp_gen_sched_n_slots(const llp_gen_sched *s);
int llp_gen_sched_n_free(const llp_gen_sched *s);     /* slots without a request */
int llp_gen_sched_n_active(const llp_gen_sched *s);   /* requests not yet finished */

/* Start a request in a free slot. Returns 0, or -1 with err (no free slot,
 * an empty prompt, a prompt that leaves no room in the context). */
int llp_gen_sched_submit(llp_gen_sched *s, const llp_gen_request *r, llp_err *err);

/* One forward pass over the active requests, then a token for each one
 * whose logits came out. Returns 0, or -1 with err (the pass failed: the
 * active requests are abandoned, as by cancel). */
int llp_gen_sched_step(llp_gen_sched *s, llp_err *err);

/* A finished request, in the order they finished: 1 with *tag and *res set
 * (the caller frees res), or 0 when none is waiting. */
int llp_gen_sched_take(llp_gen_sched *s, void **tag, llp_gen_result *res);

/* Drop every active request (a stop was asked for); their slots are free
 * and nothing of them is returned. */
void llp_gen_sched_cancel(llp_gen_sched *s);

/* Drop the active request whose tag is tag (its client went away): its
 * slot is free for the next pass and nothing of it is returned. Returns 1
 * when a request was dropped, 0 when none has that tag (it may already be
 * finished and waiting for take). */
int llp_gen_sched_cancel_tag(llp_gen_sched *s, void *tag);

/* Tokens fed so far (prompt and generated), and forward passes run. */
int64_t llp_gen_sched_tokens_fed(const llp_gen_sched *s);
int64_t llp_gen_sched_passes(const llp_gen_sched *s);

/* Where the scheduler's time went, for -v and the benchmarks. A pass that
 * mixes prompt chunks and decoding tokens is split between prompt_s and
 * gen_s by its rows of each kind (a row costs about the same in the
 * weight products, which dominate). */
typedef struct llp_gen_sched_stats {
    int64_t passes;
    int64_t prompt_tokens;      /* prompt rows fed */
    int64_t gen_tokens;         /* generated tokens fed back (decoding rows) */
    double prompt_s, gen_s;     /* forward-pass seconds, split as above */
    double sample_s;            /* sampling, stop strings, text */
} llp_gen_sched_stats;

llp_gen_sched_stats llp_gen_sched_get_stats(const llp_gen_sched *s);

/* The stats on one line into buf: "prompts 8.10 s for 2345 tokens (289.5
 * tok/s), generation ..., N passes, sampling S s". Returns the length. */
int llp_gen_sched_stats_format(const llp_gen_sched_stats *st, char *buf, size_t size);

#endif
