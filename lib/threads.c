/*
 * threads.c — the persistent worker pool behind llp_pool_run, and the
 * physical-core probe.
 *
 * Not for: task logic (the callers own it) or CPU feature detection
 * (lib/kernels/dispatch.c).
 *
 * How a run is published and claimed. One 64-bit atomic word `claim` holds
 * the run's generation (bits 40..63), its task count (bits 20..39) and the
 * next unclaimed task (bits 0..19). The caller writes the job (fn, ctx),
 * resets `done`, then stores claim = (generation, n_tasks, 0). Every thread
 * claims tasks with a compare-and-swap on that word, so the generation, the
 * bound and the index are always read together: a worker that wakes late for
 * an old run can never take a task of a new one, and the job fields it read
 * are valid whenever its claim succeeds (the caller rewrites them only after
 * every claimed task has reported done). The caller returns once `done` (tasks finished in this run) reaches
 * n_tasks; it does not wait for workers to notice the run at all, which keeps
 * a run that the caller finishes alone as cheap as a plain loop.
 *
 * Waiting. A worker spins on `claim` for up to SPIN_SECONDS after its last
 * run (without limit while `held` is non-zero: llp_pool_hold), then sleeps
 * on a condition variable. Sleepers are counted in
 * `n_sleeping`; the caller publishes a run and then reads n_sleeping (both
 * sequentially consistent), the sleeper increments n_sleeping under the mutex
 * and re-reads claim before waiting, so either the caller sees the sleeper or
 * the sleeper sees the run. When the pool has more threads than online CPUs
 * (tests do this) workers do not spin at all, and spinning callers yield.
 */
#include "threads.h"
#include "util.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef void (*llp_task_fn)(void *ctx, int task, int n_tasks);

#define SPIN_SECONDS 0.002

/* Fields of the claim word. */
#define TASK_BITS 20
#define TASK_MASK ((1u << TASK_BITS) - 1)
#define GEN_SHIFT (2 * TASK_BITS)
#define GEN_MASK  ((1u << (64 - GEN_SHIFT)) - 1)
#define CLAIM_GEN(v)   ((uint32_t)((v) >> GEN_SHIFT))
#define CLAIM_COUNT(v) ((uint32_t)((v) >> TASK_BITS) & TASK_MASK)
#define CLAIM_NEXT(v)  ((uint32_t)(v) & TASK_MASK)

struct llp_pool {
    int n_threads;                  /* counting the caller */
    pthread_t *workers;             /* n_threads - 1 */
    double spin_seconds;            /* 0 when oversubscribed */
    int yield_when_waiting;         /* oversubscribed: callers yield */
    uint32_t generation;            /* caller-private copy of the last run */

    /* The current job; written by the caller only while no task of the
     * previous run can still be claimed. Atomic so a late reader is not a
     * data race (its claim then fails). */
    _Atomic(llp_task_fn) fn;
    _Atomic(void *) ctx;

    _Alignas(64) _Atomic uint64_t claim;   /* generation | n_tasks | next */
    _Alignas(64) atomic_int done;          /* tasks finished in this run */
    _Alignas(64) atomic_int n_sleeping;
    atomic_int held;                       /* llp_pool_hold count */
    atomic_int stop;
    pthread_mutex_t mutex;
    pthread_cond_t wake;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Claim and run tasks of run `gen` until none are left or a newer run has
 * been published. */
static void run_tasks(llp_pool *p, uint32_t gen)
{
    llp_task_fn fn = atomic_load_explicit(&p->fn, memory_order_relaxed);
    void *ctx = atomic_load_explicit(&p->ctx, memory_order_relaxed);
    uint64_t v = atomic_load_explicit(&p->claim, memory_order_acquire);
    for (;;) {
        if (CLAIM_GEN(v) != gen || CLAIM_NEXT(v) >= CLAIM_COUNT(v))
            return;
        if (atomic_compare_exchange_weak_explicit(&p->claim, &v, v + 1,
                                                  memory_order_acq_rel,
                                                  memory_order_acquire)) {
            fn(ctx, (int)CLAIM_NEXT(v), (int)CLAIM_COUNT(v));
            atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
            v = atomic_load_explicit(&p->claim, memory_order_acquire);
        }
    }
}

/* Wait until claim carries a generation other than `seen`; returns it. */
static uint32_t wait_for_run(llp_pool *p, uint32_t seen)
{
    if (p->spin_seconds > 0) {
        double t0 = llp_now();
        for (unsigned i = 1;; i++) {
            uint64_t v = atomic_load_explicit(&p->claim, memory_order_acquire);
            if (CLAIM_GEN(v) != seen) return CLAIM_GEN(v);
            cpu_relax();
            if ((i & 1023) == 0 && llp_now() - t0 > p->spin_seconds &&
                !atomic_load_explicit(&p->held, memory_order_relaxed))
                break;
        }
    }
    pthread_mutex_lock(&p->mutex);
    atomic_fetch_add(&p->n_sleeping, 1);
    uint32_t gen;
    while ((gen = CLAIM_GEN(atomic_load(&p->claim))) == seen)
        pthread_cond_wait(&p->wake, &p->mutex);
    atomic_fetch_sub(&p->n_sleeping, 1);
    pthread_mutex_unlock(&p->mutex);
    return gen;
}

static void *worker_main(void *arg)
{
    llp_pool *p = arg;
    uint32_t seen = 0;
    for (;;) {
        seen = wait_for_run(p, seen);
        if (atomic_load_explicit(&p->stop, memory_order_acquire)) return NULL;
        run_tasks(p, seen);
    }
}

int llp_physical_cores(void)
{
    cpu_set_t set;
    int online = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (online < 1) online = 1;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return online;

    /* Count distinct (package, core) pairs among the CPUs we may use. */
    static long seen_pkg[CPU_SETSIZE], seen_core[CPU_SETSIZE];
    int n_seen = 0, n_allowed = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &set)) continue;
        n_allowed++;
        long ids[2] = { -1, -1 };
        const char *names[2] = { "physical_package_id", "core_id" };
        for (int k = 0; k < 2; k++) {
            char path[128];
            snprintf(path, sizeof path,
                     "/sys/devices/system/cpu/cpu%d/topology/%s", cpu, names[k]);
            FILE *f = fopen(path, "r");
            if (!f) continue;
            if (fscanf(f, "%ld", &ids[k]) != 1) ids[k] = -1;
            fclose(f);
        }
        if (ids[1] < 0) return n_allowed > 0 ? CPU_COUNT(&set) : online;
        int dup = 0;
        for (int i = 0; i < n_seen && !dup; i++)
            dup = seen_pkg[i] == ids[0] && seen_core[i] == ids[1];
        if (!dup) {
            seen_pkg[n_seen] = ids[0];
            seen_core[n_seen] = ids[1];
            n_seen++;
        }
    }
    return n_seen > 0 ? n_seen : online;
}

llp_pool *llp_pool_new(int n_threads)
{
    if (n_threads < 1) n_threads = llp_physical_cores();
    llp_pool *p = llp_calloc(1, sizeof *p);
    p->n_threads = n_threads;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int oversubscribed = online > 0 && n_threads > online;
    p->spin_seconds = oversubscribed ? 0 : SPIN_SECONDS;
    p->yield_when_waiting = oversubscribed;
    atomic_init(&p->fn, NULL);
    atomic_init(&p->ctx, NULL);
    atomic_init(&p->claim, 0);
    atomic_init(&p->done, 0);
    atomic_init(&p->n_sleeping, 0);
    atomic_init(&p->held, 0);
    atomic_init(&p->stop, 0);
    pthread_mutex_init(&p->mutex, NULL);
    pthread_cond_init(&p->wake, NULL);
    p->workers = llp_calloc((size_t)n_threads, sizeof *p->workers);
    for (int i = 0; i < n_threads - 1; i++) {
        int rc = pthread_create(&p->workers[i], NULL, worker_main, p);
        if (rc != 0) {
            fprintf(stderr, "llamapipe: cannot start worker thread %d of %d\n",
                    i + 1, n_threads - 1);
            abort();
        }
    }
    return p;
}

/* Publish a new generation of n_tasks tasks (the job fields must already be
 * written) and wake sleepers. */
static uint32_t publish(llp_pool *p, int n_tasks)
{
    p->generation = (p->generation + 1) & GEN_MASK;
    if (p->generation == 0) p->generation = 1;  /* 0 is "nothing seen yet" */
    atomic_store(&p->claim, (uint64_t)p->generation << GEN_SHIFT
                            | (uint64_t)n_tasks << TASK_BITS);
    if (atomic_load(&p->n_sleeping) > 0) {
        pthread_mutex_lock(&p->mutex);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mutex);
    }
    return p->generation;
}

void llp_pool_free(llp_pool *p)
{
    if (!p) return;
    atomic_store(&p->stop, 1);
    publish(p, 0);
    for (int i = 0; i < p->n_threads - 1; i++)
        pthread_join(p->workers[i], NULL);
    pthread_mutex_destroy(&p->mutex);
    pthread_cond_destroy(&p->wake);
    free(p->workers);
    free(p);
}

int llp_pool_size(const llp_pool *p)
{
    return p ? p->n_threads : 1;
}

void llp_pool_hold(llp_pool *p)
{
    if (p) atomic_fetch_add_explicit(&p->held, 1, memory_order_relaxed);
}

void llp_pool_release(llp_pool *p)
{
    if (p && atomic_load_explicit(&p->held, memory_order_relaxed) > 0)
        atomic_fetch_sub_explicit(&p->held, 1, memory_order_relaxed);
}

void llp_pool_run(llp_pool *p, llp_task_fn fn, void *ctx, int n_tasks)
{
    if (n_tasks <= 0) return;
    if (n_tasks > LLP_POOL_MAX_TASKS) {
        fprintf(stderr, "llamapipe: llp_pool_run: %d tasks (at most %d)\n",
                n_tasks, LLP_POOL_MAX_TASKS);
        abort();
    }
    if (!p || p->n_threads == 1 || n_tasks == 1) {
        for (int t = 0; t < n_tasks; t++) fn(ctx, t, n_tasks);
        return;
    }
    atomic_store_explicit(&p->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&p->ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    uint32_t gen = publish(p, n_tasks);
    run_tasks(p, gen);
    for (unsigned i = 1;
         atomic_load_explicit(&p->done, memory_order_acquire) < n_tasks; i++) {
        cpu_relax();
        if (p->yield_when_waiting && (i & 63) == 0) sched_yield();
    }
}
