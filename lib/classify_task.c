/*
 * classify_task.c — llp-classify's record work (see classify_task.h).
 */
#include "classify_task.h"

#include <string.h>

int llp_classify_task_process(void *ctx, llp_batch *b, llp_record *const *recs, int n,
                              llp_batch_result *res, llp_err *err)
{
    llp_classify_task *t = ctx;
    (void)b;
    const char *texts[LLP_CLASSIFY_MAX_ROWS] = { 0 };
    size_t lens[LLP_CLASSIFY_MAX_ROWS] = { 0 };
    llp_classify_result out[LLP_CLASSIFY_MAX_ROWS];
    memset(out, 0, sizeof out);
    for (int i = 0; i < n; i++) {
        texts[i] = recs[i]->text;
        lens[i] = recs[i]->text_len;
    }
    int rc = llp_classify_rows(t->cls, texts, lens, n, out, err);
    for (int i = 0; i < n && rc == 0; i++) {
        if (out[i].error) {
            llp_batch_result_fail(&res[i], "%s", out[i].error);
            continue;
        }
        res[i].fields = llp_classify_fields(t->cls, &out[i], t->into);
        res[i].tokens_in = out[i].n_unique;
    }
    for (int i = 0; i < n; i++) llp_classify_result_free(&out[i]);
    return rc;
}
