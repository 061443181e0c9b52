/*
 * matmul_bench.c — speed of llp_matmul per weight type: GB/s of weights
 * streamed for one token (generation) and GFLOP/s for a 128-token batch
 * (prompt). Float types in batches go through OpenBLAS SGEMM (see
 * matmul.c); LLP_NO_BLAS=1 measures the FMA kernels instead.
 *
 * Not for: correctness (tests/kernels_vs_ref.c) or the test suite. Build
 * with the library objects (from `make`) and run:
 *   cc -std=c11 -D_GNU_SOURCE -O2 -Ilib bench/matmul_bench.c \
 *      build/rel/libllamapipe.a -lopenblas -lm -pthread -o build/matmul_bench
 *   build/matmul_bench [threads, default physical cores] [type ...]
 * LLP_KERNELS=scalar|avx2|avx512 picks the kernel set. LLP_BENCH_PACKED=1
 * measures the product on packed weights instead (llp_matmul_pack once per
 * copy at setup, then llp_matmul_packed), for the types that have a packed
 * layout. LLP_BENCH_GEN_TOKENS=N makes the generation figures N tokens per
 * call (N sequences decoded together: the weights still stream from
 * memory, now N times the products per byte).
 *
 * Generation numbers cycle through enough copies of the matrix (>= 256 MB)
 * that every call reads its weights from memory, not from cache, as a real
 * model does; compare them with bench/membw.c. Each call is timed on its
 * own and the median and best are reported (the best shows the kernel when
 * no other process interferes). Batch numbers count 2 flops per weight per
 * token, best of 5. Beside wall-clock figures each line gives figures from
 * the process's CPU time (median), which a busy shared machine disturbs far
 * less: with 1 thread they measure the kernel itself; "cached" repeats one
 * copy of the matrix so it is read from cache rather than memory.
 */
#include "kernels/kernels.h"
#include "matmul.h"
#include "quant.h"
#include "threads.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const uint32_t all_types[] = {
    LLP_Q4_0, LLP_Q8_0, LLP_Q4_K, LLP_Q6_K, LLP_F16, LLP_F32, LLP_BF16,
    LLP_Q4_1, LLP_Q5_0, LLP_Q5_1, LLP_Q2_K, LLP_Q3_K, LLP_Q5_K,
};

static const struct { int64_t n_in, n_out; } shapes[] = {
    { 2048, 2048 }, { 2048, 5632 }, { 5632, 2048 },
};

static float frand(unsigned *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (float)((int)(*s >> 8) - (1 << 23)) / (float)(1 << 23);
}

/* CPU seconds used by the whole process (all pool threads). */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Copies of the weights as the products read them: the rows, or (packed
 * mode) their packed copies. */
typedef struct {
    uint32_t type;
    int64_t n_in, n_out;
    const uint8_t **w;
    bool packed;
} weights;

static void product(llp_pool *pool, const weights *ws, int copy, const float *X,
                    int64_t n_tok, float *Y)
{
    if (ws->packed)
        llp_matmul_packed(pool, ws->type, ws->w[copy], ws->n_in, ws->n_out, X, n_tok, Y);
    else
        llp_matmul(pool, ws->type, ws->w[copy], ws->n_in, ws->n_out, X, n_tok, Y);
}

static void bench_type(llp_pool *pool, uint32_t type)
{
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        int64_t n_in = shapes[si].n_in, n_out = shapes[si].n_out;
        size_t bytes = llp_row_size(type, n_in) * (size_t)n_out;
        int copies = (int)((256u << 20) / bytes) + 1;
        uint8_t *W = llp_malloc(bytes * (size_t)copies);
        unsigned seed = 1;
        float *row = llp_malloc(sizeof(float) * (size_t)n_in);
        for (int64_t r = 0; r < n_out; r++) {
            for (int64_t i = 0; i < n_in; i++) row[i] = 0.02f * frand(&seed);
            llp_quantize_row(type, row, W + (size_t)r * llp_row_size(type, n_in), n_in);
        }
        for (int c = 1; c < copies; c++) memcpy(W + bytes * (size_t)c, W, bytes);
        const char *pk = getenv("LLP_BENCH_PACKED");
        weights ws = { .type = type, .n_in = n_in, .n_out = n_out,
                       .w = llp_malloc(sizeof(uint8_t *) * (size_t)copies),
                       .packed = pk && *pk && strcmp(pk, "0") != 0 && llp_pack_supported(type) };
        for (int c = 0; c < copies; c++) {
            ws.w[c] = W + bytes * (size_t)c;
            if (ws.packed) ws.w[c] = llp_matmul_pack(type, ws.w[c], n_in, n_out);
        }
        const int64_t batch = 128;
        float *X = llp_malloc(sizeof(float) * (size_t)(n_in * batch));
        float *Y = llp_malloc(sizeof(float) * (size_t)(n_out * batch));
        for (int64_t i = 0; i < n_in * batch; i++) X[i] = frand(&seed);

        /* Generation: one token (LLP_BENCH_GEN_TOKENS=N: N sequences decoded
         * together), weights from memory; each call timed. */
        const char *gt = getenv("LLP_BENCH_GEN_TOKENS");
        int64_t gen_tok = gt && atoi(gt) > 0 && atoi(gt) <= batch ? atoi(gt) : 1;
        int n_calls = 5 * copies;
        double *times = llp_malloc(sizeof(double) * (size_t)n_calls);
        double *cpu = llp_malloc(sizeof(double) * (size_t)n_calls);
        for (int k = 0; k < n_calls; k++) {
            double t0 = llp_now(), c0 = cpu_now();
            product(pool, &ws, k % copies, X, gen_tok, Y);
            times[k] = llp_now() - t0;
            cpu[k] = cpu_now() - c0;
        }
        qsort(times, (size_t)n_calls, sizeof(double), cmp_double);
        qsort(cpu, (size_t)n_calls, sizeof(double), cmp_double);
        double gen_best = (double)bytes / times[0] / 1e9;
        double gen_median = (double)bytes / times[n_calls / 2] / 1e9;
        double gen_cpu = (double)bytes / cpu[n_calls / 2] / 1e9;

        /* The same from cache: one copy, CPU time. */
        for (int k = 0; k < 50; k++) {
            double c0 = cpu_now();
            product(pool, &ws, 0, X, gen_tok, Y);
            cpu[k] = cpu_now() - c0;
        }
        qsort(cpu, 50, sizeof(double), cmp_double);
        double hot_cpu = (double)bytes / cpu[25] / 1e9;
        free(times);
        free(cpu);

        /* Prompt: 128 tokens; best wall time and median CPU time of 5. */
        double best = 1e30, pcpu[5];
        for (int rep = 0; rep < 5; rep++) {
            double t0 = llp_now(), c0 = cpu_now();
            product(pool, &ws, 0, X, batch, Y);
            double t = llp_now() - t0;
            pcpu[rep] = cpu_now() - c0;
            if (t < best) best = t;
        }
        qsort(pcpu, 5, sizeof(double), cmp_double);
        double flops = 2.0 * (double)n_in * (double)n_out * (double)batch;
        printf("%-5s%s %5lldx%-5lld n_tok=1 GB/s: wall median %5.1f best %5.1f, cpu %5.1f,"
               " cached cpu %5.1f   n_tok=128 GFLOP/s: wall %6.1f, cpu %6.1f",
               llp_type_name(type), ws.packed ? " packed" : "", (long long)n_in, (long long)n_out, gen_median,
               gen_best, gen_cpu, hot_cpu, flops / best / 1e9, flops / pcpu[2] / 1e9);

        printf("\n");
        fflush(stdout);
        if (ws.packed)
            for (int c = 0; c < copies; c++) free((void *)ws.w[c]);
        free(ws.w);
        free(W); free(row); free(X); free(Y);
    }
}

int main(int argc, char **argv)
{
    int n_threads = argc > 1 ? atoi(argv[1]) : 0;
    llp_pool *pool = llp_pool_new(n_threads);
    printf("kernels %s, %d threads\n", llp_matmul_kernels(), llp_pool_size(pool));
    if (argc > 2) {
        for (int i = 2; i < argc; i++) {
            int t = llp_type_from_name(argv[i]);
            if (t < 0 || !llp_matmul_supports((uint32_t)t)) {
                fprintf(stderr, "matmul_bench: unknown or unsupported type %s\n", argv[i]);
                return 2;
            }
            bench_type(pool, (uint32_t)t);
        }
    } else {
        for (size_t i = 0; i < sizeof all_types / sizeof all_types[0]; i++)
            bench_type(pool, all_types[i]);
    }
    llp_pool_free(pool);
    return 0;
}
