/*
 * summarize_task.h — llp-summarize's work over records, as a batch tool:
 * each document summarized (map-reduce past the context), its chunk tree
 * recorded in the store, the summary fields named after --into.
 * llp-summarize and llp-run's summarize steps both run it.
 *
 * Not for: splitting and combining (summarize.h, split.h) or flags.
 */
#ifndef LLP_SUMMARIZE_TASK_H
#define LLP_SUMMARIZE_TASK_H

#include "batch.h"
#include "hash.h"
#include "summarize.h"

struct sum_doc;
struct sum_call;

#define LLP_SUMMARY_TIME_LEVELS 4

typedef struct llp_summarize_task {
    llp_summarizer *summarizer;     /* borrowed */
    const llp_tokenizer *tok;       /* borrowed: measures chunks */
    struct llp_gen_sched *sched;    /* the summarizer's */
    struct sum_doc *docs;           /* in flight, in input order */
    int n_docs;
    struct sum_call *calls;         /* one per sequence: the requests' tags */
    int n_calls;
    llp_summary_store store;        /* chunk items: the store set at start */
    const char *into;
    json_t *params;                 /* cache parameters (owned) */
    char params_hash[LLP_HASH_HEX];
    char *cols[3];                  /* summary, chunks, levels (owned) */
    /* where the time went (-v): per tree level (1: chunks; the last
     * counts that level and those above), and the node items' store work */
    struct {
        int64_t nodes, tokens_in, tokens_out;
        double seconds;
    } level[LLP_SUMMARY_TIME_LEVELS];
    double store_s;
} llp_summarize_task;

/* Set up over a summarizer and fill the batch tool: task, params, the
 * continuous callbacks, columns, documents. Every sequence of the
 * summarizer's context runs one node at a time (--parallel). model_fp
 * names the model for the chunk items. */
void llp_summarize_task_init(llp_summarize_task *t, llp_summarizer *s, const llp_tokenizer *tok,
                             const char *model_fp, bool no_cache, const char *into,
                             llp_batch_tool *bt);
void llp_summarize_task_free(llp_summarize_task *t);

#endif
