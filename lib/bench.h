/*
 * bench.h — measure prompt processing (pp) and generation (tg) speed of a
 * model the way llama-bench does, so the figures compare.
 *
 *   pp N: BOS then N-1 random tokens, fed as one batch (matrix-matrix work)
 *   tg N: BOS, then N single-token steps (matrix-vector work, memory bound)
 *
 * Each test runs once to warm up (page in the weights, start the threads),
 * then `reps` times; tokens per second per repetition, summarised as
 * median, min and max. For tg the weight bytes streamed per second are
 * reported too: every matrix is read once per token (the embedding table
 * only one row), so bytes/s = weight bytes per token x tokens/s.
 *
 * Not for: correctness (the tests) or kernel micro-benchmarks (bench/).
 */
#ifndef LLP_BENCH_H
#define LLP_BENCH_H

#include <stdint.h>

#include "model.h"
#include "util.h"

typedef struct llp_bench_result {
    const char *test;       /* "pp" or "tg" */
    int n_tokens;
    int threads;
    int parallel;           /* sequences decoded together (1: the plain tests) */
    double tok_s_median, tok_s_min, tok_s_max;
    double weight_bytes_s;  /* tg: weight bytes read per second (median) */
} llp_bench_result;

/* Weight bytes one token step reads: every matrix, plus one embedding row. */
uint64_t llp_bench_bytes_per_token(const llp_model *m);

/* Run pp (n_prompt > 0) or tg (n_gen > 0) on a fresh context of ctx's model.
 * Returns 0 or -1 with err. */
int llp_bench_pp(llp_context *ctx, int n_prompt, int reps, int threads, uint64_t seed,
                 llp_bench_result *out, llp_err *err);
int llp_bench_tg(llp_context *ctx, int n_gen, int reps, int threads, uint64_t seed,
                 llp_bench_result *out, llp_err *err);

/* pp and tg of n_seq sequences at once, as llama-batched-bench's S_PP and
 * S_TG: every sequence gets BOS and n_prompt - 1 random tokens, all of them
 * fed in forward calls of the context's n_batch tokens (logits of each
 * sequence's last token), then n_gen steps that each decode one token of
 * every sequence (n_seq rows of logits). Rates are aggregate: n_seq x
 * tokens / seconds. ctx needs n_seq sequences of n_prompt + n_gen
 * positions; n_prompt 0 skips pp (tg then starts at position 0), n_gen 0
 * skips tg. */
int llp_bench_parallel(llp_context *ctx, int n_seq, int n_prompt, int n_gen, int reps,
                       int threads, uint64_t seed, llp_bench_result *pp, llp_bench_result *tg,
                       llp_err *err);

#endif
