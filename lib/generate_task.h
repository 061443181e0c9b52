/*
 * generate_task.h — llp-generate's work over records, as a batch tool: the
 * process callback, the cache parameters, the output columns and the text
 * printer. llp-generate and llp-run's generate steps both run it, so a
 * pipeline step and the binary share cache entries and output.
 *
 * Not for: the generation loop itself (generate.h) or flags (cli.h).
 */
#ifndef LLP_GENERATE_TASK_H
#define LLP_GENERATE_TASK_H

#include <stdbool.h>

#include "batch.h"
#include "cli.h"
#include "engine.h"
#include "generate.h"

typedef struct llp_gen_task {
    llp_generator *gen;
    llp_gen_sched *sched;       /* the generator's: one record per sequence */
    llp_gen_hooks hooks;        /* of every request (streaming) */
    uint64_t seed;              /* the run's; each record draws from its own */
    bool sampled;               /* temp > 0: the record id joins the cache key */
    const char *into;           /* --into NAME, or NULL */
    bool stream;                /* write completions to stdout as produced */
    bool streamed;              /* the current record's text went to the stream */
    bool quiet;                 /* -q: no warning when a prompt is cut (the
                                   record's truncated field still says so) */
    json_t *params;             /* cache parameters (owned) */
    int n_ctx, n_predict;       /* for the cut-prompt warning */
    char *cols[5];              /* output columns (owned) */
} llp_gen_task;

/* The generation parameters the flags give: sampling flags, -n, --stop, and
 * the chat format for chat (1 --chat, 0 --no-chat, -1 neither). The stop
 * strings point into cli. */
llp_gen_params llp_gen_params_from_cli(const llp_cli *cli, const llp_engine *e, int chat,
                                       const char *system);

/* Set up the task on ctx and fill the batch tool: task, params, the
 * continuous callbacks, columns, text printer, prompt field. Up to one
 * record per sequence of ctx is in flight (--parallel); stream needs ctx
 * to have one sequence. The caller adds the model fields and any input
 * source. */
void llp_gen_task_init(llp_gen_task *t, llp_context *ctx, const llp_tokenizer *tok,
                       const llp_gen_params *p, const char *into, bool stream,
                       llp_batch_tool *bt);
void llp_gen_task_free(llp_gen_task *t);

#endif
