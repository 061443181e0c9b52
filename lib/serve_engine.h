/*
 * serve_engine.h — the one thread of llp-serve that runs the model. It owns
 * the inference context and its continuous-batching scheduler
 * (gen_sched.h): request threads hand it jobs through a bounded queue and
 * wait for the answer, or take a streamed completion piece by piece. The
 * generations of all requests share each forward pass; embedding,
 * classification and summarization jobs run on contexts of their own,
 * between the scheduler's passes, on the same thread (so no two forward
 * passes ever run at once on the model).
 *
 * Not for: HTTP or JSON (serve_http.c, serve_api.c), recording requests
 * (serve_record.h), or the token loop itself (gen_sched.c).
 *
 * A job's life: the request thread fills it (llp_serve_job_new), submits
 * it; the engine takes it from the queue into a slot (generate) or runs it
 * (the others) and marks it done; the request thread waits
 * (llp_serve_engine_wait or, streaming, llp_serve_engine_next_piece), reads
 * the result, and frees it. Cancelling (the client went away, the request
 * ran out of time) drops the job from its slot at the engine's next turn,
 * that is within one forward pass; the job is done once the engine lets
 * go of it, so freeing it after llp_serve_engine_cancel is safe.
 */
#ifndef LLP_SERVE_ENGINE_H
#define LLP_SERVE_ENGINE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "engine.h"
#include "generate.h"

typedef enum llp_serve_job_kind {
    LLP_SERVE_GENERATE = 0,     /* ids through the scheduler */
    LLP_SERVE_EMBED,            /* texts -> vectors */
    LLP_SERVE_CLASSIFY,         /* texts x labels -> probabilities */
    LLP_SERVE_SUMMARIZE,        /* one text -> its summary (map-reduce) */
} llp_serve_job_kind;

typedef enum llp_serve_job_state {
    LLP_SERVE_QUEUED = 0,
    LLP_SERVE_RUNNING,
    LLP_SERVE_DONE,
} llp_serve_job_state;

typedef struct llp_serve_job llp_serve_job;
struct llp_serve_job {
    llp_serve_job_kind kind;
    /* ---- the request (set before submit, read-only after) ---- */
    llp_tokens ids;             /* generate: the prompt, fitted to the context */
    llp_gen_params params;      /* generate: sampling, n_predict, stop (into stops) */
    char **stops;               /* owned */
    int n_stops;
    uint64_t seed;              /* generate: the sampler's seed */
    char **texts;               /* embed, classify, summarize: owned */
    size_t *lens;
    int n_texts;
    char **labels;              /* classify: owned */
    int n_labels;
    int max_tokens;             /* summarize: the summary budget */
    /* ---- the answer (the engine writes it, under the engine's lock) ---- */
    llp_serve_job_state state;
    bool cancel;                /* asked by the request thread */
    int status;                 /* 0 fine; else the HTTP status of the failure */
    char error[1024];           /* its message */
    llp_gen_result res;         /* generate */
    json_t *out;                /* embed: {"vectors": [[...]...], "tokens": n};
                                   classify: {"rows": [{label, score, probs}], "tokens"};
                                   summarize: {"summary", "chunks", "tokens_in", "tokens_out"} */
    /* streamed pieces of a generation: bytes, and where each piece ends */
    char *text;
    size_t text_len, text_cap;
    size_t *ends;
    size_t n_pieces, cap_pieces, pieces_taken;
    /* ---- the engine's own ---- */
    llp_gen_hooks hooks;
    struct llp_serve_engine *engine;
    llp_serve_job *next;        /* in the queue */
    pthread_cond_t changed;     /* a piece came, or the job is done */
    double queued_at, started_at;   /* llp_now() */
};

typedef struct llp_serve_engine llp_serve_engine;

/* A new job of the given kind (free with llp_serve_job_free). */
llp_serve_job *llp_serve_job_new(llp_serve_job_kind kind);
void llp_serve_job_free(llp_serve_job *j);

typedef struct llp_serve_engine_opts {
    int max_queue;              /* jobs waiting for the engine; more are refused */
    int n_ctx;                  /* for the task contexts: 0, the engine's */
    int n_threads;
} llp_serve_engine_opts;

/* Start the engine thread over e (its context's sequences are the slots;
 * the engine stays the caller's and must outlive llp_serve_engine_stop). */
llp_serve_engine *llp_serve_engine_start(llp_engine *e, const llp_serve_engine_opts *o,
                                         llp_err *err);

/* Finish every job already accepted, then stop the thread and free the
 * engine. Jobs submitted after this starts are refused. */
void llp_serve_engine_stop(llp_serve_engine *s);

/* Refuse new jobs from now on (the server is draining). */
void llp_serve_engine_close(llp_serve_engine *s);

/* Queue a job. Returns 0; 1 when the queue is full (503 with
 * Retry-After); 2 when the engine is closed (draining). */
int llp_serve_engine_submit(llp_serve_engine *s, llp_serve_job *j);

/* Wait until j is done, the deadline (llp_now() seconds) passes, or
 * gone(gone_ctx) says the client left (polled every 50 ms; may be NULL).
 * On a deadline or a departure the job is cancelled first. Returns 0 when
 * the job finished, 1 on the deadline, 2 when the client left. */
int llp_serve_engine_wait(llp_serve_engine *s, llp_serve_job *j, double deadline,
                          bool (*gone)(void *), void *gone_ctx);

/* Streaming: the next piece of j's completion (one per token that added
 * text). Returns 1 with *piece (malloc'd, NUL-terminated, *len bytes), 0
 * when the job is done and every piece was taken, -1 when the deadline
 * (llp_now() seconds) passed first; the job goes on (the caller decides
 * whether to wait again or cancel). */
int llp_serve_engine_next_piece(llp_serve_engine *s, llp_serve_job *j, double deadline,
                                char **piece, size_t *len);

/* Drop j wherever it is (queue or slot) and return once the engine has let
 * go of it: j is done (status 499 when it had not finished). */
void llp_serve_engine_cancel(llp_serve_engine *s, llp_serve_job *j);

/* Cancel every job, queued or running (the grace period of a stop ran
 * out): their waiters get status 499 at once. */
void llp_serve_engine_abort(llp_serve_engine *s);

/* Gauges for /metrics and /health. */
typedef struct llp_serve_engine_stats {
    int slots, slots_busy, queued;
    int64_t passes, tokens_fed;
} llp_serve_engine_stats;
void llp_serve_engine_get_stats(llp_serve_engine *s, llp_serve_engine_stats *st);

#endif
