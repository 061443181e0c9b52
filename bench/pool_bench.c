/*
 * pool_bench.c — dispatch latency of llp_pool_run: what a run costs the
 * caller beyond its tasks' own work, with workers spinning (runs back to
 * back, as in a token step) or asleep (runs after a pause longer than the
 * workers' spin), and whether the worker took part.
 *
 * Not for: correctness (tests/threads_pool.c) or kernel speed
 * (bench/matmul_bench.c). Build with the library objects (from `make`):
 *   cc -std=c11 -D_GNU_SOURCE -O2 -Ilib bench/pool_bench.c \
 *      build/rel/libllamapipe.a -lm -pthread -o build/pool_bench
 *   build/pool_bench [threads, default 2]
 * Figures are medians over many runs, in microseconds of wall time; run it
 * on a quiet and on a loaded machine and compare (uptime shows the load).
 */
#include "threads.h"
#include "util.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <time.h>

typedef struct {
    double work_us;             /* busy time per task */
    atomic_int by_caller;       /* tasks the calling thread ran */
    atomic_int total;
} job;

static _Thread_local int is_caller;

static void busy(double us)
{
    double t0 = llp_now();
    while ((llp_now() - t0) * 1e6 < us) { }
}

static void task(void *ctx, int t, int n)
{
    job *j = ctx;
    if (j->work_us > 0) busy(j->work_us);
    if (is_caller) atomic_fetch_add(&j->by_caller, 1);
    atomic_fetch_add(&j->total, 1);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median wall time of `runs` runs of n_tasks tasks, each preceded by a
 * pause of gap_us (0: back to back); *shared gets the fraction of tasks
 * the workers ran. */
static double measure(llp_pool *p, int n_tasks, double work_us, double gap_us, int runs,
                      double *shared)
{
    double *t = malloc(sizeof(double) * (size_t)runs);
    job j = { work_us, 0, 0 };
    for (int r = 0; r < runs; r++) {
        if (gap_us > 0) {
            struct timespec ts = { 0, (long)(gap_us * 1e3) };
            nanosleep(&ts, NULL);
        }
        double t0 = llp_now();
        llp_pool_run(p, task, &j, n_tasks);
        t[r] = (llp_now() - t0) * 1e6;
    }
    qsort(t, (size_t)runs, sizeof *t, cmp);
    double med = t[runs / 2];
    *shared = 1.0 - (double)atomic_load(&j.by_caller) / (double)atomic_load(&j.total);
    free(t);
    return med;
}

/* Per thread of this process: ms on a CPU and ms waiting for one, from
 * /proc/self/task/N/schedstat (absent on some kernels: then nothing). */
static void print_schedstat(const char *when)
{
    DIR *d = opendir("/proc/self/task");
    if (!d) return;
    printf("  %s:", when);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/self/task/%s/schedstat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        unsigned long long run = 0, wait = 0, slices = 0;
        if (fscanf(f, "%llu %llu %llu", &run, &wait, &slices) == 3)
            printf("  [tid %s run %.0f ms, runnable-waiting %.0f ms, %llu slices]", e->d_name,
                   run / 1e6, wait / 1e6, slices);
        fclose(f);
    }
    closedir(d);
    printf("\n");
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2;
    is_caller = 1;
    llp_pool *p = llp_pool_new(n);
    double sh;
    measure(p, n, 0, 0, 1000, &sh);   /* warm up */
    printf("pool of %d threads; wall microseconds per run (median), share of tasks run by workers\n", n);
    struct { const char *what; int tasks; double work, gap; int runs; } cases[] = {
        { "empty run, back to back      ", n, 0, 0, 200000 },
        { "2 x 20 us tasks, back to back", 2, 20, 0, 5000 },
        { "2 x 20 us tasks, 50 us gap   ", 2, 20, 50, 2000 },
        { "2 x 20 us tasks, 5 ms gap    ", 2, 20, 5000, 300 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double med = measure(p, cases[i].tasks, cases[i].work, cases[i].gap, cases[i].runs, &sh);
        printf("%s  %8.2f us  (overhead %6.2f us)  workers ran %4.0f%%\n", cases[i].what, med,
               med - cases[i].work * cases[i].tasks / (double)n, 100 * sh);
        print_schedstat("after");
    }
    /* The same pauses while held (llp_pool_hold): workers spin through them. */
    llp_pool_hold(p);
    double med = measure(p, 2, 20, 5000, 300, &sh);
    llp_pool_release(p);
    printf("2 x 20 us tasks, 5 ms gap, held  %8.2f us  (overhead %6.2f us)  workers ran %4.0f%%\n",
           med, med - 40.0 / n, 100 * sh);
    print_schedstat("after");
    llp_pool_free(p);
    return 0;
}
