/*
 * sampler.h — choose the next token from a row of logits: greedy, or
 * temperature sampling after repetition penalty, top-k, top-p and min-p,
 * with a seeded generator so the same seed gives the same tokens.
 *
 * Not for: scoring fixed continuations (classify.c computes exact log
 * probabilities) or anything about text.
 */
#ifndef LLP_SAMPLER_H
#define LLP_SAMPLER_H

#include <stdint.h>

typedef struct llp_sampling {
    float temp;             /* 0: greedy (argmax) */
    int top_k;              /* 0: off */
    float top_p;            /* 1: off */
    float min_p;            /* 0: off */
    float repeat_penalty;   /* 1: off */
    int repeat_last_n;      /* tokens looked back for the penalty */
    uint64_t seed;
} llp_sampling;

/* The defaults of llp-generate: temp 0.8, top-k 40, top-p 0.95, min-p 0.05,
 * repeat penalty 1.1 over the last 64 tokens, seed 42. Tasks that want
 * determinism without sampling (summarize, classify) set temp 0. */
llp_sampling llp_sampling_default(void);

typedef struct llp_sampler llp_sampler;

llp_sampler *llp_sampler_new(const llp_sampling *s, int n_vocab);
void llp_sampler_free(llp_sampler *s);
/* Start a new sequence: forget history and reseed with the configured seed,
 * so each record's output does not depend on the records before it. */
void llp_sampler_reset(llp_sampler *s);
/* The same with another seed (kept for later resets): each record of a
 * batch draws from its own stream, llp_gen_record_seed(). */
void llp_sampler_reset_seed(llp_sampler *s, uint64_t seed);
/* Record a token of the context (prompt or generated) for the penalty. */
void llp_sampler_accept(llp_sampler *s, int32_t token);
/* Pick the next token. May modify logits (n_vocab floats). */
int32_t llp_sampler_sample(llp_sampler *s, float *logits);

#endif
