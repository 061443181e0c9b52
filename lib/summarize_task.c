/*
 * summarize_task.c — llp-summarize's record work (see summarize_task.h):
 * documents run through the summarizer's scheduler together. Every node
 * of every document in flight whose input is known takes a free sequence
 * (older documents first), a combining node starts as soon as its
 * children are done (summary_tree.c), and a document is finished, in any
 * order, when its root is; the record loop writes them in input order.
 */
#include "summarize_task.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_sched.h"

/* Most documents in flight at once: enough to keep every sequence busy
 * while the last nodes of earlier documents finish. */
#define MAX_DOCS 64

struct sum_doc {
    long ticket;
    char *id;
    llp_summary_build *build;
    llp_summary_store store;        /* the task's, with document = id */
    int running;                    /* its nodes in the scheduler */
    bool reported;                  /* failed and told: its results are dropped */
    struct llp_summarize_task *task;
    struct sum_doc *next;
};

/* A request in the scheduler: which node of which document. */
struct sum_call {
    struct sum_doc *doc;
    int node, level;
};

/* The store's node lookups and items, timed for the task's account. */
static int timed_lookup(void *ctx, int level, const char *text, size_t len, char **summary,
                        llp_err *err)
{
    struct sum_doc *d = ctx;
    double t0 = llp_now();
    int rc = llp_summary_store_lookup(&d->store, level, text, len, summary, err);
    d->task->store_s += llp_now() - t0;
    return rc;
}

static int timed_node(void *ctx, const llp_summary_node *n, llp_err *err)
{
    struct sum_doc *d = ctx;
    double t0 = llp_now();
    int rc = llp_summary_store_node(&d->store, n, err);
    d->task->store_s += llp_now() - t0;
    return rc;
}

static void set_field(json_t *f, const char *into, const char *name, json_t *value)
{
    char *key = llp_output_name(into, "summary", name);
    json_object_set_new(f, key, value);
    free(key);
}

static void doc_unlink(llp_summarize_task *t, struct sum_doc *d)
{
    struct sum_doc **p = &t->docs;
    while (*p && *p != d) p = &(*p)->next;
    if (*p) *p = d->next;
    t->n_docs--;
    llp_summary_build_free(d->build);
    free(d->id);
    free(d);
}

/* The document failed: report it once; it leaves when its running nodes
 * have come back. */
static void doc_fail(llp_summarize_task *t, llp_batch *b, struct sum_doc *d, const char *msg)
{
    if (!d->reported) {
        llp_batch_result res = { 0 };
        llp_batch_result_fail(&res, "%s", msg);
        llp_batch_finished(b, d->ticket, &res);
        d->reported = true;
    }
    if (d->running == 0) doc_unlink(t, d);
}

static void doc_complete(llp_summarize_task *t, llp_batch *b, struct sum_doc *d)
{
    llp_summary_tree tree;
    llp_summary_build_take(d->build, &tree);
    const llp_summary_node *root = llp_summary_root(&tree);
    json_t *f = json_object();
    set_field(f, t->into, "summary", llp_json_string(root->summary, strlen(root->summary)));
    set_field(f, t->into, "chunks", json_integer(tree.n_leaves));
    set_field(f, t->into, "levels", json_integer(tree.levels));
    llp_batch_result res = { .fields = f, .tokens_in = tree.tokens_in,
                             .tokens_out = tree.tokens_out };
    llp_summary_tree_free(&tree);
    llp_batch_finished(b, d->ticket, &res);
    doc_unlink(t, d);
}

static struct sum_call *call_new(llp_summarize_task *t)
{
    for (int i = 0; i < t->n_calls; i++)
        if (!t->calls[i].doc) return &t->calls[i];
    return NULL;    /* cannot happen: one call per sequence */
}

/* Put one node of d into the scheduler. Returns 0, or -1 with msg set
 * (the document fails). */
static int submit_node(llp_summarize_task *t, struct sum_doc *d, const llp_summary_want *w,
                       llp_err *msg)
{
    llp_tokens ids = { 0 };
    int cut = 0;
    if (llp_summarizer_prompt_ids(t->summarizer, w->level, w->text, w->len, &ids, &cut, msg)) {
        llp_tokens_free(&ids);
        return -1;
    }
    struct sum_call *c = call_new(t);
    llp_gen_request r = { .ids = ids.ids, .n_ids = (int)ids.n, .n_cut = cut,
                          .seed = llp_summarizer_seed(t->summarizer), .tag = c };
    int rc = c ? llp_gen_sched_submit(t->sched, &r, msg) : llp_err_set(msg, "no free sequence");
    llp_tokens_free(&ids);
    if (rc) return -1;
    c->doc = d;
    c->node = w->node;
    c->level = w->level;
    d->running++;
    return 0;
}

/* Give free sequences to ready nodes, older documents first, and finish
 * the documents whose root is done. Returns 0, or -1 with err (recording
 * a node failed: the job stops). */
static int fill(llp_summarize_task *t, llp_batch *b, llp_err *err)
{
    struct sum_doc *d = t->docs;
    while (d) {
        struct sum_doc *next = d->next;
        while (!d->reported) {
            if (llp_summary_build_finished(d->build)) {
                doc_complete(t, b, d);
                break;
            }
            if (llp_gen_sched_n_free(t->sched) == 0) break;
            llp_summary_want w;
            llp_err msg;
            int rc = llp_summary_build_next(d->build, &w, &msg);
            if (rc == 0) break;
            if (rc == LLP_SUMMARIZE_FATAL) {
                *err = msg;
                return -1;
            }
            if (rc < 0 || submit_node(t, d, &w, &msg)) {
                doc_fail(t, b, d, msg.msg);
                break;
            }
        }
        d = next;
    }
    return 0;
}

static int start(void *ctx, llp_batch *b, llp_record *rec, long ticket, llp_err *err)
{
    llp_summarize_task *t = ctx;
    t->store.store = llp_batch_store(b);
    t->store.job_id = llp_batch_job_id(b);
    if (rec->text_len == 0) {
        llp_batch_result res = { 0 };
        llp_batch_result_fail(&res, "empty text");
        llp_batch_finished(b, ticket, &res);
        return 0;
    }
    struct sum_doc *d = llp_calloc(1, sizeof *d);
    d->ticket = ticket;
    d->id = llp_strdup(rec->id);
    d->store = t->store;
    d->store.document = d->id;
    d->task = t;
    /* each node is committed as it finishes (summarize.h), so a stop
     * keeps them for the next run */
    llp_summarize_plan plan = {
        .tok = t->tok, .chunk_tokens = llp_summarizer_chunk_tokens(t->summarizer),
        .lookup = timed_lookup, .lookup_ctx = d, .on_node = timed_node, .node_ctx = d,
    };
    llp_err derr;
    if (!(d->build = llp_summary_build_new(&plan, rec->text, rec->text_len, &derr))) {
        free(d->id);
        free(d);
        llp_batch_result res = { 0 };
        llp_batch_result_fail(&res, "%s", derr.msg);
        llp_batch_finished(b, ticket, &res);
        return 0;
    }
    struct sum_doc **tail = &t->docs;
    while (*tail) tail = &(*tail)->next;
    *tail = d;
    t->n_docs++;
    return fill(t, b, err);
}

static int advance(void *ctx, llp_batch *b, llp_err *err)
{
    llp_summarize_task *t = ctx;
    if (llp_batch_stop_requested()) return LLP_BATCH_STOPPED;
    if (llp_gen_sched_n_active(t->sched) > 0 && llp_gen_sched_step(t->sched, err)) return -1;
    void *tag;
    llp_gen_result g;
    while (llp_gen_sched_take(t->sched, &tag, &g)) {
        struct sum_call *c = tag;
        struct sum_doc *d = c->doc;
        int node = c->node;
        c->doc = NULL;
        int lv = c->level < 1 ? 0 : c->level > LLP_SUMMARY_TIME_LEVELS ? LLP_SUMMARY_TIME_LEVELS - 1
                 : c->level - 1;
        t->level[lv].nodes++;
        t->level[lv].tokens_in += g.tokens_in;
        t->level[lv].tokens_out += g.tokens_out;
        t->level[lv].seconds += g.compute_s;
        d->running--;
        char *summary = llp_summarizer_text(&g);
        llp_err msg;
        int rc = d->reported ? 0
                 : llp_summary_build_done(d->build, node, summary, g.tokens_in, g.tokens_out, &msg);
        free(summary);
        llp_gen_result_free(&g);
        if (rc == LLP_SUMMARIZE_FATAL) {
            *err = msg;
            return -1;
        }
        if (rc || d->reported) doc_fail(t, b, d, msg.msg);
    }
    return fill(t, b, err);
}

static void cancel(void *ctx, llp_batch *b)
{
    llp_summarize_task *t = ctx;
    (void)b;
    llp_gen_sched_cancel(t->sched);
    for (int i = 0; i < t->n_calls; i++) t->calls[i].doc = NULL;
    while (t->docs) doc_unlink(t, t->docs);
}

/* -v: the scheduler's split, then each level's share of it */
static double timing(void *ctx, char *buf, size_t size)
{
    llp_summarize_task *t = ctx;
    llp_gen_sched_stats st = llp_gen_sched_get_stats(t->sched);
    int n = llp_gen_sched_stats_format(&st, buf, size);
    for (int i = 0; i < LLP_SUMMARY_TIME_LEVELS && n >= 0 && (size_t)n < size; i++) {
        if (!t->level[i].nodes) continue;
        n += snprintf(buf + n, size - (size_t)n, "; level %d%s: %.2f s for %lld node%s (%lld "
                      "tokens in, %lld out)", i + 1, i == LLP_SUMMARY_TIME_LEVELS - 1 ? "+" : "",
                      t->level[i].seconds, (long long)t->level[i].nodes,
                      t->level[i].nodes == 1 ? "" : "s", (long long)t->level[i].tokens_in,
                      (long long)t->level[i].tokens_out);
    }
    return t->store_s;
}

static bool wants(void *ctx)
{
    llp_summarize_task *t = ctx;
    return t->n_docs < MAX_DOCS && llp_gen_sched_n_free(t->sched) > 0;
}

void llp_summarize_task_init(llp_summarize_task *t, llp_summarizer *s, const llp_tokenizer *tok,
                             const char *model_fp, bool no_cache, const char *into,
                             llp_batch_tool *bt)
{
    memset(t, 0, sizeof *t);
    t->summarizer = s;
    t->tok = tok;
    t->sched = llp_summarizer_sched(s);
    t->n_calls = llp_gen_sched_n_slots(t->sched);
    t->calls = llp_calloc((size_t)t->n_calls, sizeof *t->calls);
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
    bt->start = start;
    bt->advance = advance;
    bt->cancel = cancel;
    bt->wants = wants;
    bt->timing = timing;
    bt->ctx = t;
    bt->documents = true;
    bt->output_columns = (const char *const *)t->cols;
    bt->n_output_columns = 3;
}

void llp_summarize_task_free(llp_summarize_task *t)
{
    while (t->docs) doc_unlink(t, t->docs);
    free(t->calls);
    for (int i = 0; i < 3; i++) free(t->cols[i]);
    json_decref(t->params);
    memset(t, 0, sizeof *t);
}
