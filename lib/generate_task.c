/*
 * generate_task.c — llp-generate's record work (see generate_task.h).
 */
#include "generate_task.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

llp_gen_params llp_gen_params_from_cli(const llp_cli *cli, const llp_engine *e, int chat,
                                       const char *system)
{
    llp_gen_params p = { 0 };
    p.sampling = llp_cli_sampling(cli);
    p.n_predict = cli->sampling.n_predict;
    p.stop = (const char *const *)cli->sampling.stop;
    p.n_stop = cli->sampling.n_stop;
    p.chat = llp_engine_chat(e, chat);
    p.system = system;
    return p;
}

static void stream_text(void *ctx, const char *bytes, size_t n)
{
    (void)ctx;
    fwrite(bytes, 1, n, stdout);
    fflush(stdout);
}

static int process(void *ctx, llp_batch *b, llp_record *const *recs, int n,
                   llp_batch_result *res, llp_err *err)
{
    llp_gen_task *t = ctx;
    (void)b;
    (void)err;
    for (int i = 0; i < n; i++) {
        if (recs[i]->text_len == 0) {
            llp_batch_result_fail(&res[i], "empty prompt");
            continue;
        }
        llp_gen_hooks hooks = { .on_text = t->stream ? stream_text : NULL,
                                .should_stop = llp_batch_stop_requested };
        llp_gen_result g;
        llp_err gerr;
        int rc = llp_generate_text(t->gen, recs[i]->text, recs[i]->text_len, &hooks, &g, &gerr);
        if (rc == LLP_GEN_STOPPED) return LLP_BATCH_STOPPED;
        if (rc) {
            llp_batch_result_fail(&res[i], "%s", gerr.msg);
            continue;
        }
        t->streamed = t->stream;
        res[i].fields = llp_gen_result_fields(&g, t->into);
        res[i].tokens_in = g.tokens_in;
        res[i].tokens_out = g.tokens_out;
        llp_gen_result_free(&g);
    }
    return 0;
}

/* --out text: the completion, one per record (already on screen when it was
 * streamed, then only the line end). */
static void print_text(FILE *out, const llp_record *r, void *ctx)
{
    llp_gen_task *t = ctx;
    if (r->error) {
        fprintf(stderr, "llp-generate: error: %s\n", r->error);
    } else if (!t->streamed) {
        json_t *c = json_object_get(r->fields, t->cols[0]);
        if (json_is_string(c)) fputs(json_string_value(c), out);
    }
    fputc('\n', out);
    t->streamed = false;
}

void llp_gen_task_init(llp_gen_task *t, llp_context *ctx, const llp_tokenizer *tok,
                       const llp_gen_params *p, const char *into, bool stream,
                       llp_batch_tool *bt)
{
    memset(t, 0, sizeof *t);
    t->gen = llp_generator_new(ctx, tok, p);
    t->into = into;
    t->stream = stream;
    t->params = llp_gen_params_json(p);
    llp_gen_output_columns(into, t->cols);
    bt->task = "generate";
    bt->params = t->params;
    bt->process = process;
    bt->ctx = t;
    bt->prefer_field = "prompt";
    bt->output_columns = (const char *const *)t->cols;
    bt->n_output_columns = 5;
    bt->text_fn = print_text;
    bt->text_ctx = t;
}

void llp_gen_task_free(llp_gen_task *t)
{
    llp_generator_free(t->gen);
    json_decref(t->params);
    for (int i = 0; i < 5; i++) free(t->cols[i]);
    memset(t, 0, sizeof *t);
}
