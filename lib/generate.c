/*
 * generate.c — one generation: the prompt wrapped and tokenized, fitted to
 * the context, then run as a single request of the continuous-batching
 * scheduler (gen_sched.c holds the token loop, stop strings and
 * streaming), plus the fields and parameters a generation records.
 */
#include "generate.h"

#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "gen_sched.h"
#include "records.h"
#include "util.h"

struct llp_generator {
    llp_context *ctx;
    const llp_tokenizer *tok;
    llp_gen_params params;
    llp_gen_sched *sched;   /* over the context's sequences */
};

void llp_gen_result_free(llp_gen_result *r)
{
    if (!r) return;
    free(r->text);
    r->text = NULL;
}

llp_generator *llp_generator_new(llp_context *ctx, const llp_tokenizer *tok,
                                 const llp_gen_params *p)
{
    llp_generator *g = llp_calloc(1, sizeof *g);
    g->ctx = ctx;
    g->tok = tok;
    g->params = *p;
    g->sched = llp_gen_sched_new(ctx, tok, p);
    return g;
}

void llp_generator_free(llp_generator *g)
{
    if (!g) return;
    llp_gen_sched_free(g->sched);
    free(g);
}

int llp_gen_tokenize_prompt(llp_generator *g, const char *text, size_t len, llp_tokens *out,
                            llp_err *err)
{
    bool chat = g->params.chat != LLP_CHAT_NONE;
    char *copy = llp_strndup(text, len);
    char *wrapped = llp_chat_format_prompt(g->params.chat, g->params.system, copy);
    /* chat markers such as <|im_start|> are special tokens; a plain prompt
     * is user text and never parsed for them */
    int rc = llp_tokenize(g->tok, wrapped, strlen(wrapped), true, chat, out, err);
    free(wrapped);
    free(copy);
    return rc;
}

int llp_gen_room(int n_ctx, int n_predict)
{
    int room = n_predict < 0 ? n_ctx / 4 : n_predict;
    int most = n_ctx - (n_ctx / 2 < 16 ? n_ctx / 2 : 16);
    if (room > most) room = most;
    return room < 1 ? 1 : room;
}

int llp_gen_fit_prompt(const llp_generator *g, llp_tokens *ids)
{
    int n_ctx = llp_context_n_ctx(g->ctx);
    int room = llp_gen_room(n_ctx, g->params.n_predict);
    int n = (int)ids->n, keep = n_ctx - room;
    if (n <= keep) return 0;
    /* keep the end of the prompt, and its first token when that is BOS */
    int head = ids->ids[0] == llp_tokenizer_bos(g->tok) ? 1 : 0;
    memmove(ids->ids + head, ids->ids + (n - (keep - head)), sizeof(int32_t) * (size_t)(keep - head));
    ids->n = (size_t)keep;
    return n - keep;
}

uint64_t llp_gen_record_seed(uint64_t seed, const char *record_id)
{
    return XXH64(record_id, strlen(record_id), seed);
}

llp_gen_sched *llp_generator_sched(llp_generator *g) { return g->sched; }

int llp_generate_ids(llp_generator *g, const int32_t *ids_in, int n_in, const llp_gen_hooks *hooks,
                     llp_gen_result *res, llp_err *err)
{
    memset(res, 0, sizeof *res);
    if (n_in <= 0) return llp_err_set(err, "empty prompt");
    llp_tokens fitted = { 0 };
    for (int i = 0; i < n_in; i++) llp_tokens_push(&fitted, ids_in[i]);
    int cut = llp_gen_fit_prompt(g, &fitted);
    const int32_t *ids = fitted.ids;
    int n = (int)fitted.n;

    /* one request through the scheduler: the same loop as many records. A
     * stop request abandons it before the next pass, that is at the next
     * token: a long generation must not hold up Ctrl-C until its budget
     * ends. */
    llp_gen_request r = { ids, n, cut, g->params.sampling.seed, hooks, NULL, NULL };
    int rc = llp_gen_sched_submit(g->sched, &r, err);
    while (rc == 0 && llp_gen_sched_n_active(g->sched) > 0) {
        if (hooks && hooks->should_stop && hooks->should_stop()) {
            llp_gen_sched_cancel(g->sched);
            llp_tokens_free(&fitted);
            return LLP_GEN_STOPPED;
        }
        rc = llp_gen_sched_step(g->sched, err);
    }
    void *tag;
    if (rc == 0 && !llp_gen_sched_take(g->sched, &tag, res))
        rc = llp_err_set(err, "generation ended without a result");
    llp_tokens_free(&fitted);
    return rc;
}

int llp_generate_text(llp_generator *g, const char *text, size_t len, const llp_gen_hooks *hooks,
                      llp_gen_result *res, llp_err *err)
{
    llp_tokens ids = { 0 };
    int rc = llp_gen_tokenize_prompt(g, text, len, &ids, err);
    if (rc == 0) rc = llp_generate_ids(g, ids.ids, (int)ids.n, hooks, res, err);
    llp_tokens_free(&ids);
    return rc;
}

static const char *const gen_fields[5] = { "completion", "tokens_in", "tokens_out", "stop",
                                           "truncated" };

void llp_gen_output_columns(const char *into, char *names[5])
{
    for (int i = 0; i < 5; i++) names[i] = llp_output_name(into, "completion", gen_fields[i]);
}

json_t *llp_gen_result_fields(const llp_gen_result *r, const char *into)
{
    json_t *vals[5] = { llp_json_string(r->text, r->len), json_integer(r->tokens_in),
                        json_integer(r->tokens_out), json_string(r->stop),
                        r->truncated ? json_true() : NULL };
    json_t *f = json_object();
    for (int i = 0; i < 5; i++) {
        if (!vals[i]) continue;
        char *name = llp_output_name(into, "completion", gen_fields[i]);
        json_object_set_new(f, name, vals[i]);
        free(name);
    }
    return f;
}

json_t *llp_gen_params_json(const llp_gen_params *p)
{
    json_t *stops = json_array();
    for (int i = 0; i < p->n_stop; i++) json_array_append_new(stops, json_string(p->stop[i]));
    return json_pack("{s:f,s:i,s:f,s:f,s:f,s:I,s:i,s:o,s:s,s:s?}",
                     "temp", llp_f32_decimal(p->sampling.temp), "top_k", p->sampling.top_k,
                     "top_p", llp_f32_decimal(p->sampling.top_p), "min_p", llp_f32_decimal(p->sampling.min_p),
                     "repeat_penalty", llp_f32_decimal(p->sampling.repeat_penalty),
                     "seed", (json_int_t)p->sampling.seed, "n_predict", p->n_predict,
                     "stop", stops, "chat", llp_chat_format_name(p->chat),
                     "system", p->system);
}
