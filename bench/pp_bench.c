/*
 * pp_bench.c — prompt-processing speed of one model, measured the way
 * llama-bench's pp N is: BOS and N-1 random tokens in one forward call, a
 * fresh sequence each repetition, tokens per second per repetition.
 * bench/embed_bench.sh compares llp-embed's throughput with it.
 *
 * Not for: tests, or generation speed (llp-bench, when it exists, reports
 * both). Besides wall-clock rates it prints tokens per CPU-second, which
 * stays comparable when other processes share the machine. Build and run:
 *   make && cc -std=c11 -D_GNU_SOURCE -O2 -Ilib -pthread bench/pp_bench.c \
 *       build/rel/libllamapipe.a -lopenblas -lsqlite3 -lyaml -ljansson \
 *       -lxxhash -lm -o build/pp_bench
 *   build/pp_bench MODEL [N=128] [threads=2] [repetitions=3]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "engine.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: pp_bench MODEL [N] [threads] [repetitions]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 128;
    int threads = argc > 3 ? atoi(argv[3]) : 2;
    int reps = argc > 4 ? atoi(argv[4]) : 3;
    if (n < 2 || threads < 1 || reps < 1) {
        fprintf(stderr, "pp_bench: N >= 2, threads >= 1, repetitions >= 1\n");
        return 2;
    }
    llp_err err;
    llp_engine_opts eo = { .model_path = argv[1], .n_ctx = n, .n_batch = n, .n_threads = threads };
    llp_engine *e = llp_engine_open(&eo, &err);
    if (!e) {
        fprintf(stderr, "pp_bench: %s\n", err.msg);
        return 1;
    }
    int32_t *tokens = malloc(sizeof(int32_t) * (size_t)n);
    int32_t *pos = malloc(sizeof(int32_t) * (size_t)n);
    float *logits = malloc(sizeof(float) * (size_t)e->model->cfg.n_vocab);
    srand(1);
    double sum = 0, sum2 = 0, cpu = 0;
    /* one untimed warm-up call faults the weights in */
    for (int r = -1; r < reps; r++) {
        for (int i = 0; i < n; i++) {
            tokens[i] = i == 0 ? 1 : 3 + rand() % (e->model->cfg.n_vocab - 3);
            pos[i] = i;
        }
        llp_batch b = { n, tokens, pos, NULL, NULL };
        struct timespec c0, c1;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
        double t0 = llp_now();
        if (llp_decode(e->ctx, &b, logits, NULL, &err)) {
            fprintf(stderr, "pp_bench: %s\n", err.msg);
            return 1;
        }
        double rate = n / (llp_now() - t0);
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
        if (r < 0) continue;
        cpu += (double)(c1.tv_sec - c0.tv_sec) + (c1.tv_nsec - c0.tv_nsec) * 1e-9;
        sum += rate;
        sum2 += rate * rate;
    }
    double mean = sum / reps, sd = reps > 1 ? sqrt(fmax(0, (sum2 - reps * mean * mean) / (reps - 1))) : 0;
    /* per CPU-second too: comparable across runs on a busy machine */
    printf("pp%d %.2f +- %.2f tok/s (%d threads, %d repetitions); %.2f tok per CPU-second\n", n,
           mean, sd, threads, reps, n * reps / cpu);
    free(tokens);
    free(pos);
    free(logits);
    llp_engine_free(e);
    return 0;
}
