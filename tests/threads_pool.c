/*
 * threads_pool.c — the worker pool runs every task exactly once, for many
 * task counts and pool sizes, across many back-to-back runs, and returns
 * only after all tasks finished.
 *
 * Not for: speed (bench/matmul_bench.c) or matmul results
 * (tests/kernels_vs_ref.c).
 */
#include "threads.h"
#include "tap.h"

#include <stdatomic.h>

#define MAX_TASKS 300

typedef struct {
    atomic_int hits[MAX_TASKS];   /* times each task ran in this run */
    atomic_int bad_n;             /* runs where fn saw the wrong n_tasks */
    int n_expected;
} count_job;

static void count_task(void *ctx, int task, int n_tasks)
{
    count_job *j = ctx;
    if (n_tasks != j->n_expected || task < 0 || task >= n_tasks)
        atomic_fetch_add(&j->bad_n, 1);
    else
        atomic_fetch_add(&j->hits[task], 1);
}

/* Run n_tasks tasks once; true when each ran exactly once. */
static int run_once(llp_pool *p, count_job *j, int n_tasks)
{
    for (int i = 0; i < MAX_TASKS; i++) atomic_store(&j->hits[i], 0);
    atomic_store(&j->bad_n, 0);
    j->n_expected = n_tasks;
    llp_pool_run(p, count_task, j, n_tasks);
    if (atomic_load(&j->bad_n)) return 0;
    for (int i = 0; i < MAX_TASKS; i++)
        if (atomic_load(&j->hits[i]) != (i < n_tasks ? 1 : 0)) return 0;
    return 1;
}

/* A task that sums a slice; checks results are visible after the run. */
typedef struct {
    long sums[64];
} sum_job;

static void sum_task(void *ctx, int task, int n_tasks)
{
    sum_job *j = ctx;
    long s = 0;
    for (long i = task * 1000L; i < (task + 1) * 1000L; i++) s += i;
    j->sums[task] = s;
}

int main(void)
{
    static count_job job;
    ok(llp_physical_cores() >= 1, "physical cores: %d", llp_physical_cores());
    is_int(llp_pool_size(NULL), 1, "NULL pool has size 1");
    ok(run_once(NULL, &job, 7), "NULL pool runs tasks inline");

    for (int n_threads = 1; n_threads <= 4; n_threads++) {
        llp_pool *p = llp_pool_new(n_threads);
        is_int(llp_pool_size(p), n_threads, "pool size %d", n_threads);

        int all_ok = 1;
        for (int n = 0; n <= MAX_TASKS && all_ok; n += (n < 20 ? 1 : 37))
            all_ok = run_once(p, &job, n);
        ok(all_ok, "%d threads: every task once for n_tasks 0..%d", n_threads,
           MAX_TASKS);

        all_ok = 1;
        int failed_at = -1;
        for (int rep = 0; rep < 10000 && all_ok; rep++) {
            all_ok = run_once(p, &job, 1 + rep % 9);
            if (!all_ok) failed_at = rep;
        }
        ok(all_ok, "%d threads: 10000 back-to-back runs (failed at %d)",
           n_threads, failed_at);

        /* Results written by workers are visible to the caller on return. */
        sum_job sj;
        int sums_ok = 1;
        for (int rep = 0; rep < 1000 && sums_ok; rep++) {
            for (int t = 0; t < 64; t++) sj.sums[t] = -1;
            llp_pool_run(p, sum_task, &sj, 64);
            for (long t = 0; t < 64; t++) {
                long lo = t * 1000, hi = lo + 999;
                if (sj.sums[t] != (lo + hi) * 1000 / 2) sums_ok = 0;
            }
        }
        ok(sums_ok, "%d threads: task results visible after 1000 runs",
           n_threads);

        /* A pause long enough for workers to go to sleep, then more runs. */
        usleep(20000);
        ok(run_once(p, &job, 5) && run_once(p, &job, 50),
           "%d threads: runs after workers slept", n_threads);

        /* Held (nested): pauses longer than the spin, runs still complete;
         * after the release workers may sleep and runs still complete. */
        llp_pool_hold(p);
        llp_pool_hold(p);
        int held_ok = 1;
        for (int rep = 0; rep < 5 && held_ok; rep++) {
            usleep(5000);
            held_ok = run_once(p, &job, 2 + rep) && run_once(p, &job, 40);
        }
        llp_pool_release(p);
        held_ok = held_ok && run_once(p, &job, 9);
        llp_pool_release(p);
        llp_pool_release(p);   /* unmatched: ignored */
        usleep(20000);
        held_ok = held_ok && run_once(p, &job, 7);
        ok(held_ok, "%d threads: runs while held across pauses, and after release",
           n_threads);
        llp_pool_free(p);
    }
    llp_pool *p = llp_pool_new(0);
    is_int(llp_pool_size(p), llp_physical_cores(), "default size is physical cores");
    llp_pool_free(p);
    llp_pool_free(NULL);
    llp_pool_hold(NULL);
    llp_pool_release(NULL);
    ok(1, "llp_pool_free, llp_pool_hold, llp_pool_release (NULL) are no-ops");
    return done_testing();
}
