/*
 * membw.c — memory read-bandwidth probe: the ceiling that token generation
 * (which streams every weight once per token) is compared to.
 *
 * Not for: tests or the library. Build and run:
 *   cc -std=c11 -D_GNU_SOURCE -O2 -pthread bench/membw.c -o build/membw
 *   build/membw [MiB per thread, default 512] [max threads, default 2]
 *
 * Each thread sums its own buffer (well beyond the caches) in three ways,
 * and the best of several passes of the best way is the ceiling, in GB/s
 * (10^9 bytes/s), for 1..max threads:
 *   - one stream, 256-bit loads (AVX2);
 *   - one stream, 512-bit loads (AVX-512, where the CPU has it);
 *   - four streams a quarter of the buffer apart, 512-bit loads (more
 *     misses in flight per core, as a kernel reading several rows does).
 * On the 2-core machine this project is measured on (Xeon with AVX-512,
 * 2026-12) the 512-bit ways read 27.5-30 GB/s with 2 threads and the
 * 256-bit way 24-25: the ceiling is the higher figure.
 */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum way { ONE_256, ONE_512, FOUR_512, N_WAYS };
static const char *way_name[N_WAYS] = { "1 stream, 256-bit", "1 stream, 512-bit",
                                        "4 streams, 512-bit" };

typedef struct {
    const char *buf;
    size_t bytes;
    enum way way;
    pthread_barrier_t *start;
    double seconds;
    long long sink;
} reader;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

__attribute__((target("avx2")))
static long long sum_256(const char *p, size_t n)
{
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i + 128 <= n; i += 128) {
        a0 = _mm256_add_epi64(a0, _mm256_load_si256((const __m256i *)(p + i)));
        a1 = _mm256_add_epi64(a1, _mm256_load_si256((const __m256i *)(p + i + 32)));
        a2 = _mm256_add_epi64(a2, _mm256_load_si256((const __m256i *)(p + i + 64)));
        a3 = _mm256_add_epi64(a3, _mm256_load_si256((const __m256i *)(p + i + 96)));
    }
    __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
    long long out[4];
    _mm256_storeu_si256((__m256i *)out, s);
    return out[0] + out[1] + out[2] + out[3];
}

__attribute__((target("avx512f")))
static long long sum_512(const char *p, size_t n, int streams)
{
    __m512i a0 = _mm512_setzero_si512(), a1 = a0;
    if (streams == 1) {
        for (size_t i = 0; i + 128 <= n; i += 128) {
            a0 = _mm512_add_epi64(a0, _mm512_load_si512(p + i));
            a1 = _mm512_add_epi64(a1, _mm512_load_si512(p + i + 64));
        }
    } else {
        size_t q = n / 4 & ~(size_t)63;
        for (size_t i = 0; i + 64 <= q; i += 64) {
            a0 = _mm512_add_epi64(a0, _mm512_load_si512(p + i));
            a1 = _mm512_add_epi64(a1, _mm512_load_si512(p + q + i));
            a0 = _mm512_add_epi64(a0, _mm512_load_si512(p + 2 * q + i));
            a1 = _mm512_add_epi64(a1, _mm512_load_si512(p + 3 * q + i));
        }
    }
    return _mm512_reduce_add_epi64(_mm512_add_epi64(a0, a1));
}

static void *read_all(void *arg)
{
    reader *r = arg;
    pthread_barrier_wait(r->start);
    double t0 = now();
    switch (r->way) {
    case ONE_256:  r->sink = sum_256(r->buf, r->bytes); break;
    case ONE_512:  r->sink = sum_512(r->buf, r->bytes, 1); break;
    default:       r->sink = sum_512(r->buf, r->bytes, 4); break;
    }
    r->seconds = now() - t0;
    return NULL;
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 512;
    int max_threads = argc > 2 ? atoi(argv[2]) : 2;
    if (max_threads < 1 || max_threads > 64 || mib < 1) {
        fprintf(stderr, "usage: membw [MiB per thread] [max threads <= 64]\n");
        return 2;
    }
    __builtin_cpu_init();
    int have_512 = __builtin_cpu_supports("avx512f");
    size_t bytes = mib << 20;
    char *bufs[64];
    for (int t = 0; t < max_threads; t++) {
        if (posix_memalign((void **)&bufs[t], 64, bytes) != 0) return 1;
        memset(bufs[t], t + 1, bytes);
    }
    for (int n = 1; n <= max_threads; n++) {
        double best_all = 0;
        for (int w = 0; w < N_WAYS; w++) {
            if (w != ONE_256 && !have_512) continue;
            double best = 0;
            for (int pass = 0; pass < 5; pass++) {
                pthread_t th[64];
                reader rd[64];
                pthread_barrier_t start;
                pthread_barrier_init(&start, NULL, (unsigned)n);
                for (int t = 0; t < n; t++) {
                    rd[t] = (reader){ bufs[t], bytes, (enum way)w, &start, 0, 0 };
                    pthread_create(&th[t], NULL, read_all, &rd[t]);
                }
                double slowest = 0;
                for (int t = 0; t < n; t++) {
                    pthread_join(th[t], NULL);
                    if (rd[t].seconds > slowest) slowest = rd[t].seconds;
                }
                pthread_barrier_destroy(&start);
                double gbs = (double)bytes * n / slowest / 1e9;
                if (gbs > best) best = gbs;
            }
            printf("threads %d: %-20s %5.1f GB/s\n", n, way_name[w], best);
            if (best > best_all) best_all = best;
        }
        printf("threads %d: read %.1f GB/s (best)\n", n, best_all);
    }
    return 0;
}
