/*
 * threads.h — a persistent worker pool for the engine's parallel loops
 * (matrix products, attention heads), and the physical-core count that sizes
 * it by default.
 *
 * Not for: long-running or blocking jobs (I/O, the store), nested
 * parallelism (a task must not call llp_pool_run on the same pool), or
 * anything needing a result per task beyond what the task writes itself.
 *
 * Model: llp_pool_run(p, fn, ctx, n_tasks) calls fn(ctx, task, n_tasks) once
 * for every task in 0..n_tasks-1, spread over the pool's threads, and
 * returns when all have finished. The calling thread is one of the pool's
 * threads: a pool of size 1 starts no workers and runs everything inline.
 * Tasks are handed out dynamically (an atomic counter), so n_tasks larger
 * than the pool size balances uneven work. Between runs workers spin for a
 * short while (dispatch latency of a few hundred nanoseconds when runs follow
 * each other closely, as in a token step) and then sleep on a condition
 * variable so an idle pool costs no CPU; llp_pool_hold keeps them spinning
 * through longer gaps.
 *
 * One caller at a time: llp_pool_run is not reentrant and must not be called
 * from two threads concurrently on the same pool.
 */
#ifndef LLP_THREADS_H
#define LLP_THREADS_H

typedef struct llp_pool llp_pool;

/* A pool of n_threads threads in total, counting the caller (n_threads - 1
 * workers are started). n_threads < 1 means llp_physical_cores(). Never
 * returns NULL; aborts with a message if threads cannot be created. */
llp_pool *llp_pool_new(int n_threads);

/* Stop and join the workers and free the pool. NULL is allowed. */
void llp_pool_free(llp_pool *p);

/* Threads in the pool, counting the caller. */
int llp_pool_size(const llp_pool *p);

/* Run fn(ctx, task, n_tasks) for every task in [0, n_tasks) and wait for all
 * of them. n_tasks <= 0 returns at once; more than LLP_POOL_MAX_TASKS aborts
 * (split work into chunks, not elements). p may be NULL: then every task runs
 * on the caller. */
#define LLP_POOL_MAX_TASKS ((1 << 20) - 1)
void llp_pool_run(llp_pool *p, void (*fn)(void *ctx, int task, int n_tasks),
                  void *ctx, int n_tasks);

/* Keep the workers spinning between runs (pause in a loop, no sleeping on
 * the condition variable however long the gap) until the matching
 * llp_pool_release: for a stretch of work that issues many runs with
 * single-threaded code between them (a forward pass), so no run pays for
 * waking a sleeper. Holds nest (a count). While held, idle workers burn
 * their CPUs; release as soon as the stretch ends. After the release
 * an idle worker sleeps once its usual short spin has passed. Callable only from
 * the thread that calls llp_pool_run; p may be NULL (no effect). */
void llp_pool_hold(llp_pool *p);
void llp_pool_release(llp_pool *p);

/* Physical cores this process may run on (SMT siblings counted once), at
 * least 1. */
int llp_physical_cores(void);

#endif
