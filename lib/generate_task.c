/*
 * generate_task.c — llp-generate's record work (see generate_task.h).
 */
#include "generate_task.h"

#include "gen_sched.h"

#include <stdint.h>
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

/* The records run through the generator's scheduler, up to one per
 * sequence of its context (--parallel): the batch loop hands each over
 * with start, advance runs one forward pass for all of them, and each
 * finished one goes back with its ticket. */
static int start(void *ctx, llp_batch *b, llp_record *rec, long ticket, llp_err *err)
{
    llp_gen_task *t = ctx;
    (void)err;
    llp_batch_result res = { 0 };
    llp_tokens ids = { 0 };
    llp_err rerr;
    if (rec->text_len == 0) {
        llp_batch_result_fail(&res, "empty prompt");
    } else if (llp_gen_tokenize_prompt(t->gen, rec->text, rec->text_len, &ids, &rerr)) {
        llp_batch_result_fail(&res, "%s", rerr.msg);
    } else {
        int cut = llp_gen_fit_prompt(t->gen, &ids);
        if (cut && !t->quiet)
            llp_warn("llp-generate", "%s: prompt of %d tokens cut to %d (its start dropped) to "
                     "leave %d of the %d-token context for the completion",
                     rec->where, (int)ids.n + cut, (int)ids.n,
                     llp_gen_room(t->n_ctx, t->n_predict), t->n_ctx);
        /* its own sampler stream: the same output whatever shares its passes */
        llp_gen_request r = { .ids = ids.ids, .n_ids = (int)ids.n, .n_cut = cut,
                              .seed = llp_gen_record_seed(t->seed, rec->id),
                              .hooks = &t->hooks, .tag = (void *)(intptr_t)ticket };
        if (llp_gen_sched_submit(t->sched, &r, &rerr) == 0) {
            llp_tokens_free(&ids);
            return 0;
        }
        llp_batch_result_fail(&res, "%s", rerr.msg);
    }
    llp_tokens_free(&ids);
    llp_batch_finished(b, ticket, &res);
    return 0;
}

static int advance(void *ctx, llp_batch *b, llp_err *err)
{
    llp_gen_task *t = ctx;
    if (llp_batch_stop_requested()) return LLP_BATCH_STOPPED;
    if (llp_gen_sched_step(t->sched, err)) return -1;
    void *tag;
    llp_gen_result g;
    while (llp_gen_sched_take(t->sched, &tag, &g)) {
        llp_batch_result res = { .fields = llp_gen_result_fields(&g, t->into),
                                 .tokens_in = g.tokens_in, .tokens_out = g.tokens_out };
        if (t->stream) t->streamed = true;
        llp_gen_result_free(&g);
        llp_batch_finished(b, (long)(intptr_t)tag, &res);
    }
    return 0;
}

static double timing(void *ctx, char *buf, size_t size)
{
    llp_gen_task *t = ctx;
    llp_gen_sched_stats st = llp_gen_sched_get_stats(t->sched);
    llp_gen_sched_stats_format(&st, buf, size);
    return 0;
}

static void cancel(void *ctx, llp_batch *b)
{
    llp_gen_task *t = ctx;
    (void)b;
    llp_gen_sched_cancel(t->sched);
}

static bool wants(void *ctx)
{
    llp_gen_task *t = ctx;
    return llp_gen_sched_n_free(t->sched) > 0;
}

/* A sampled completion depends on its record's id (its sampler stream),
 * so the id joins the cache key; a greedy one depends on the text alone. */
static void input_extra(void *ctx, const llp_record *r, llp_hasher *h)
{
    llp_gen_task *t = ctx;
    if (t->sampled) {
        llp_hasher_add_str(h, "record-id");
        llp_hasher_add_str(h, r->id);
    }
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
    t->sched = llp_generator_sched(t->gen);
    t->seed = p->sampling.seed;
    t->sampled = p->sampling.temp > 0;
    /* streaming shows one record's tokens as they come: one at a time */
    t->hooks.on_text = stream ? stream_text : NULL;
    t->into = into;
    t->stream = stream;
    t->n_ctx = llp_context_n_ctx(ctx);
    t->n_predict = p->n_predict;
    t->params = llp_gen_params_json(p);
    llp_gen_output_columns(into, t->cols);
    bt->task = "generate";
    bt->params = t->params;
    bt->start = start;
    bt->advance = advance;
    bt->cancel = cancel;
    bt->wants = wants;
    bt->timing = timing;
    bt->input_extra = input_extra;
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
