/*
 * membw.c — memory read-bandwidth probe: the ceiling that token generation
 * (which streams every weight once per token) is compared to.
 *
 * Not for: tests or the library. Build and run:
 *   cc -std=c11 -D_GNU_SOURCE -O2 -mavx2 -pthread bench/membw.c -o build/membw
 *   build/membw [MiB per thread, default 512] [max threads, default 2]
 *
 * Each thread sums its own buffer (well beyond the caches) with 256-bit
 * loads; the best of several passes is reported in GB/s (10^9 bytes/s), for
 * 1..max threads.
 */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const __m256i *buf;
    size_t n_vec;
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

static void *read_all(void *arg)
{
    reader *r = arg;
    pthread_barrier_wait(r->start);
    double t0 = now();
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i + 4 <= r->n_vec; i += 4) {
        a0 = _mm256_add_epi64(a0, _mm256_load_si256(r->buf + i));
        a1 = _mm256_add_epi64(a1, _mm256_load_si256(r->buf + i + 1));
        a2 = _mm256_add_epi64(a2, _mm256_load_si256(r->buf + i + 2));
        a3 = _mm256_add_epi64(a3, _mm256_load_si256(r->buf + i + 3));
    }
    r->seconds = now() - t0;
    __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
    long long out[4];
    _mm256_storeu_si256((__m256i *)out, s);
    r->sink = out[0] + out[1] + out[2] + out[3];
    return NULL;
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 512;
    int max_threads = argc > 2 ? atoi(argv[2]) : 2;
    size_t bytes = mib << 20;
    void *bufs[64];
    for (int t = 0; t < max_threads; t++) {
        if (posix_memalign(&bufs[t], 64, bytes) != 0) return 1;
        memset(bufs[t], t + 1, bytes);
    }
    for (int n = 1; n <= max_threads; n++) {
        double best = 0;
        for (int pass = 0; pass < 5; pass++) {
            pthread_t th[64];
            reader rd[64];
            pthread_barrier_t start;
            pthread_barrier_init(&start, NULL, (unsigned)n);
            for (int t = 0; t < n; t++) {
                rd[t] = (reader){ bufs[t], bytes / 32, &start, 0, 0 };
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
        printf("threads %d: read %.1f GB/s\n", n, best);
    }
    return 0;
}
