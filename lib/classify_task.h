/*
 * classify_task.h — llp-classify's work over records, as a batch process
 * callback: several rows per call through llp_classify_rows, each row's
 * fields named after --into. llp-classify and llp-run's classify steps both
 * run it.
 *
 * Not for: scoring itself (classify.h) or flags.
 */
#ifndef LLP_CLASSIFY_TASK_H
#define LLP_CLASSIFY_TASK_H

#include "batch.h"
#include "classify.h"

typedef struct llp_classify_task {
    llp_classifier *cls;        /* borrowed */
    const char *into;           /* --into NAME, or NULL */
} llp_classify_task;

/* llp_batch_process_fn over an llp_classify_task (ctx). A record's
 * tokens_in counts its prompt tokens beyond the shared prefix (the prefix is
 * computed once per job). */
int llp_classify_task_process(void *ctx, llp_batch *b, llp_record *const *recs, int n,
                              llp_batch_result *res, llp_err *err);

#endif
