/*
 * pipeline_tasks.c — the step adapters: for each tool, the setup its binary
 * does between parsing flags and llp_batch_run, over a model the pipeline
 * runner opened once. The record work itself (process callback, cache
 * parameters, output columns) is the tool's task module, the same one its
 * binary runs (tokenize_task.h, generate_task.h, classify_task.h,
 * embed_task.h, summarize_task.h), so a pipeline step and its binary give
 * the same records and share cache entries: what one computed, the other
 * reuses.
 *
 * Not for: option parsing (pipeline_schema.c), the order of steps or the
 * store's pipeline job (pipeline_run.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify_task.h"
#include "embed_task.h"
#include "generate_task.h"
#include "gguf.h"
#include "pipeline_internal.h"
#include "summarize_task.h"
#include "tokenize_task.h"
#include "tokenizer.h"

struct pl_task {
    llp_step_tool tool;
    const char *into;
    json_t *params;
    char **cols;
    int n_cols;
    llp_context *ctx;               /* generate, summarize, embed: the step's own */
    /* tokenize */
    llp_tok_task *tok_task;
    /* generate */
    llp_gen_task *gen_task;
    /* classify */
    llp_classifier *cls;
    llp_classify_task cls_task;
    char **labels;
    int n_labels;
    char *template;
    /* embed */
    llp_embedder *embedder;
    llp_embed_task *embed_task;
    /* summarize */
    llp_summarizer *summarizer;
    llp_summarize_task *sum_task;
};

static void add_col(pl_task *t, const char *into, const char *primary, const char *name)
{
    t->cols = llp_realloc(t->cols, sizeof *t->cols * (size_t)(t->n_cols + 1));
    t->cols[t->n_cols++] = llp_output_name(into, primary, name);
}


/* The context of a generating step: one sequence per record in flight
 * (parallel:, else the default for the model and memory). */
static llp_context *step_context(const llp_cli *cli, llp_engine *e, llp_err *err)
{
    int n_seq = cli->parallel ? cli->parallel
                              : llp_engine_auto_parallel(e->model, cli->ctx_size, cli->kv_type);
    llp_context_params cp = { .n_ctx = cli->ctx_size, .n_seq = n_seq, .n_threads = cli->threads,
                              .kv_type = cli->kv_type };
    return llp_context_new(e->model, &cp, err);
}

/* ---- tokenize (tokenize_task.h) ------------------------------------------------ */

static int tokenize_setup(pl_task *t, const pl_step_opts *o, llp_engine *e, llp_batch_tool *bt)
{
    char vocab_hash[LLP_HASH_HEX];
    llp_tok_vocab_hash(e->model->file, vocab_hash);
    t->tok_task = llp_calloc(1, sizeof *t->tok_task);
    llp_tok_task_init(t->tok_task, e->tok, vocab_hash, o->pieces, o->count, o->no_bos,
                      o->special, t->into, bt);
    return 0;
}

/* ---- generate (cmd/llp-generate.c) --------------------------------------------- */

static int generate_setup(pl_task *t, const pl_step_opts *o, const llp_cli *cli, llp_engine *e,
                          llp_batch_tool *bt, llp_err *err)
{
    if (!(t->ctx = step_context(cli, e, err))) return -1;
    llp_gen_params p = llp_gen_params_from_cli(cli, e, o->chat, o->system);
    t->gen_task = llp_calloc(1, sizeof *t->gen_task);
    llp_gen_task_init(t->gen_task, t->ctx, e->tok, &p, t->into, false, bt);
    t->gen_task->quiet = cli->quiet;
    bt->text_fn = NULL;     /* steps write records; the binary's text printer is for people */
    return 0;
}

/* ---- classify (classify_task.h) ---------------------------------------------- */

static int classify_setup(pl_task *t, const pl_step_opts *o, const llp_cli *cli, llp_engine *e,
                          llp_batch_tool *bt, llp_err *err)
{
    if (llp_classify_parse_labels(o->labels, &t->labels, &t->n_labels, err)) return -1;
    if (o->prompt_file && !(t->template = llp_classify_read_template(o->prompt_file, err)))
        return -1;
    llp_classify_params p = {
        .labels = (const char *const *)t->labels, .n_labels = t->n_labels,
        .prompt_template = t->template, .examples_path = o->examples, .chat = o->chat,
        .n_ctx = cli->ctx_size, .n_threads = cli->threads, .kv_type = cli->kv_type,
        .max_rows = o->batch_rows,
    };
    if (llp_classify_check(&p, err)) return -1;
    const char *chat_template = NULL;
    gguf_get_str(e->model->file, "tokenizer.chat_template", &chat_template, NULL);
    if (!(t->cls = llp_classifier_new(e->model, e->tok, chat_template, &p, err))) return -1;
    t->cols = llp_classify_columns(t->cls, t->into, &t->n_cols);
    t->params = llp_classifier_params_json(t->cls);
    t->cls_task.cls = t->cls;
    t->cls_task.into = t->into;
    bt->task = "classify";
    bt->process = llp_classify_task_process;
    bt->ctx = &t->cls_task;
    bt->max_batch = llp_classifier_max_rows(t->cls);
    return 0;
}

/* ---- embed (embed_task.h) ------------------------------------------------------ */

static int embed_setup(pl_task *t, const pl_step_opts *o, const llp_cli *cli, llp_engine *e,
                       llp_batch_tool *bt, llp_err *err)
{
    if (!(t->ctx = llp_embed_context_new(e->model, cli->ctx_size, cli->threads, cli->kv_type, err))) return -1;
    t->embedder = llp_embedder_new(t->ctx, e->tok, &o->embed);
    bool chunked = o->embed.long_mode == LLP_EMBED_CHUNK;
    t->embed_task = llp_embed_task_new(t->embedder, e->fingerprint, o->collection, t->into,
                                       chunked);
    t->params = llp_embed_params_json(&o->embed, e->tok, llp_context_n_ctx(t->ctx),
                                      o->collection);
    const char *base[] = { "embedding", "dim", "truncated", "chunks" };
    for (int i = 0; i < (chunked ? 4 : 3); i++) add_col(t, t->into, "embedding", base[i]);
    bt->task = "embed";
    bt->process = llp_embed_task_process;
    bt->ctx = t->embed_task;
    bt->max_batch = 64;
    return 0;
}

/* ---- summarize (summarize_task.h) ---------------------------------------------- */

static int summarize_setup(pl_task *t, const pl_step_opts *o, const llp_cli *cli, llp_engine *e,
                           llp_batch_tool *bt, llp_err *err)
{
    if (o->prompt_file && !(t->template = llp_summary_read_template(o->prompt_file, err)))
        return -1;
    if (t->template && llp_summary_template_check(t->template, err)) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s: %.900s", o->prompt_file, err->msg);
        memcpy(err->msg, msg, sizeof msg);
        return -1;
    }
    if (!(t->ctx = step_context(cli, e, err))) return -1;
    llp_summarizer_params sp = {
        .max_tokens = o->max_tokens > 0 ? o->max_tokens : 128, .prompt = t->template,
        .system = o->system, .chat = llp_engine_chat(e, o->chat), .sampling = llp_cli_sampling(cli),
        .stop = (const char *const *)cli->sampling.stop, .n_stop = cli->sampling.n_stop,
    };
    if (!(t->summarizer = llp_summarizer_new(t->ctx, e->tok, &sp, err))) {
        if (o->prompt_file) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s: %.900s", o->prompt_file, err->msg);
            memcpy(err->msg, msg, sizeof msg);
        }
        return -1;
    }
    if (llp_summarizer_budget(t->summarizer) < sp.max_tokens && !cli->quiet)
        llp_note(cli->tool, "summary budget lowered to %d tokens to fit a context of %d",
                 llp_summarizer_budget(t->summarizer), llp_context_n_ctx(t->ctx));
    t->sum_task = llp_calloc(1, sizeof *t->sum_task);
    llp_summarize_task_init(t->sum_task, t->summarizer, e->tok, e->fingerprint, cli->no_cache, t->into,
                            bt);
    return 0;
}

/* ---- common ------------------------------------------------------------------------ */

pl_task *pl_task_new(const pl_step_opts *o, const llp_cli *cli, llp_engine *e,
                     llp_batch_tool *bt, llp_err *err)
{
    pl_task *t = llp_calloc(1, sizeof *t);
    t->tool = o->tool;
    t->into = cli->into;
    memset(bt, 0, sizeof *bt);
    int rc;
    switch (o->tool) {
    case LLP_STEP_TOKENIZE: rc = tokenize_setup(t, o, e, bt); break;
    case LLP_STEP_GENERATE: rc = generate_setup(t, o, cli, e, bt, err); break;
    case LLP_STEP_CLASSIFY: rc = classify_setup(t, o, cli, e, bt, err); break;
    case LLP_STEP_EMBED: rc = embed_setup(t, o, cli, e, bt, err); break;
    case LLP_STEP_SUMMARIZE: rc = summarize_setup(t, o, cli, e, bt, err); break;
    default: rc = llp_err_set(err, "unknown tool");
    }
    if (rc) {
        pl_task_free(t);
        return NULL;
    }
    /* a task library that filled the tool itself (generate) keeps its own */
    if (!bt->ctx) bt->ctx = t;
    if (!bt->params) bt->params = t->params;
    if (o->tool != LLP_STEP_TOKENIZE) {
        bt->model_fp = e->fingerprint;
        bt->model_path = e->model->path;
        bt->model_size = e->file_size;
        bt->model_meta = e->meta;
    }
    if (bt->text_fn && !bt->text_ctx) bt->text_ctx = t;
    if (!bt->output_columns) {
        bt->output_columns = (const char *const *)t->cols;
        bt->n_output_columns = (size_t)t->n_cols;
    }
    return t;
}

void pl_task_free(pl_task *t)
{
    if (!t) return;
    if (t->sum_task) llp_summarize_task_free(t->sum_task);
    free(t->sum_task);
    llp_summarizer_free(t->summarizer);
    llp_embed_task_free(t->embed_task);
    llp_embedder_free(t->embedder);
    llp_classifier_free(t->cls);
    if (t->tok_task) llp_tok_task_free(t->tok_task);
    free(t->tok_task);
    if (t->gen_task) llp_gen_task_free(t->gen_task);
    free(t->gen_task);
    llp_context_free(t->ctx);
    llp_classify_labels_free(t->labels, t->n_labels);
    free(t->template);
    for (int i = 0; i < t->n_cols; i++) free(t->cols[i]);
    free(t->cols);
    json_decref(t->params);
    free(t);
}
