/*
 * summarize_task.c — llp-summarize's record work (see summarize_task.h).
 */
#include "summarize_task.h"

#include <stdlib.h>
#include <string.h>

static void set_field(json_t *f, const char *into, const char *name, json_t *value)
{
    char *key = llp_output_name(into, "summary", name);
    json_object_set_new(f, key, value);
    free(key);
}

static int process(void *ctx, llp_batch *b, llp_record *const *recs, int n,
                   llp_batch_result *res, llp_err *err)
{
    llp_summarize_task *t = ctx;
    t->store.store = llp_batch_store(b);
    t->store.job_id = llp_batch_job_id(b);
    for (int i = 0; i < n; i++) {
        llp_summary_tree tree;
        llp_err derr;
        /* each node of the tree is committed as it finishes (summarize.h),
         * so a stop here keeps them for the next run */
        t->store.document = recs[i]->id;
        int rc = llp_summarize_document(t->summarizer, &t->store, llp_batch_stop_requested,
                                        recs[i]->text, recs[i]->text_len, &tree, &derr);
        t->store.document = NULL;
        if (rc == LLP_SUMMARIZE_STOPPED) return LLP_BATCH_STOPPED;
        if (rc == LLP_SUMMARIZE_FATAL) {
            *err = derr;
            return -1;
        }
        if (rc) {
            llp_batch_result_fail(&res[i], "%s", derr.msg);
            continue;
        }
        const llp_summary_node *root = llp_summary_root(&tree);
        json_t *f = json_object();
        set_field(f, t->into, "summary", llp_json_string(root->summary, strlen(root->summary)));
        set_field(f, t->into, "chunks", json_integer(tree.n_leaves));
        set_field(f, t->into, "levels", json_integer(tree.levels));
        res[i].fields = f;
        res[i].tokens_in = tree.tokens_in;
        res[i].tokens_out = tree.tokens_out;
        llp_summary_tree_free(&tree);
    }
    return 0;
}

void llp_summarize_task_init(llp_summarize_task *t, llp_summarizer *s, const char *model_fp,
                             bool no_cache, const char *into, llp_batch_tool *bt)
{
    memset(t, 0, sizeof *t);
    t->summarizer = s;
    t->into = into;
    t->params = llp_summarizer_params_json(s);
    llp_hash_json(t->params, t->params_hash);
    t->store.model_fp = model_fp;
    t->store.params_hash = t->params_hash;
    t->store.no_cache = no_cache;
    const char *base[] = { "summary", "chunks", "levels" };
    for (int i = 0; i < 3; i++) t->cols[i] = llp_output_name(into, "summary", base[i]);
    bt->task = "summarize";
    bt->params = t->params;
    bt->process = process;
    bt->ctx = t;
    bt->max_batch = 1;
    bt->documents = true;
    bt->output_columns = (const char *const *)t->cols;
    bt->n_output_columns = 3;
}

void llp_summarize_task_free(llp_summarize_task *t)
{
    for (int i = 0; i < 3; i++) free(t->cols[i]);
    json_decref(t->params);
    memset(t, 0, sizeof *t);
}
