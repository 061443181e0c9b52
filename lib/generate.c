/*
 * generate.c — the generation loop: feed the prompt as one batch, then
 * sample, emit and feed back one token at a time until EOS, the token
 * budget, the context end or a stop string.
 *
 * Streaming with stop strings: text that could still turn out to be the
 * start of a stop string is held back until the next token decides, so a
 * stop string never reaches the stream.
 */
#include "generate.h"

#include <stdlib.h>
#include <string.h>

#include "records.h"
#include "util.h"

struct llp_generator {
    llp_context *ctx;
    const llp_tokenizer *tok;
    llp_gen_params params;
    llp_sampler *sampler;
    int n_vocab;
    float *logits;      /* (n_batch or prompt rows, n_vocab) */
    size_t logits_rows;
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
    g->n_vocab = llp_context_model(ctx)->cfg.n_vocab;
    g->sampler = llp_sampler_new(&p->sampling, g->n_vocab);
    return g;
}

void llp_generator_free(llp_generator *g)
{
    if (!g) return;
    llp_sampler_free(g->sampler);
    free(g->logits);
    free(g);
}

static float *logits_rows(llp_generator *g, size_t rows)
{
    if (rows > g->logits_rows) {
        free(g->logits);
        g->logits = llp_malloc(sizeof(float) * rows * (size_t)g->n_vocab);
        g->logits_rows = rows;
    }
    return g->logits;
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

/* Longest suffix of text[0..len) that is a proper prefix of a stop string. */
static size_t held_back(const char *text, size_t len, const char *const *stop, int n_stop)
{
    size_t hold = 0;
    for (int s = 0; s < n_stop; s++) {
        size_t sl = strlen(stop[s]);
        for (size_t k = sl - 1; k > hold && k > 0; k--)
            if (k <= len && memcmp(text + len - k, stop[s], k) == 0) {
                hold = k;
                break;
            }
    }
    return hold;
}

/* Position of the first stop string in text[from..len), or -1. */
static long find_stop(const char *text, size_t len, size_t from, const char *const *stop,
                      int n_stop)
{
    long best = -1;
    for (int s = 0; s < n_stop; s++) {
        size_t sl = strlen(stop[s]);
        if (sl == 0 || sl > len) continue;
        for (size_t i = from; i + sl <= len; i++)
            if (memcmp(text + i, stop[s], sl) == 0) {
                if (best < 0 || (long)i < best) best = (long)i;
                break;
            }
    }
    return best;
}

typedef struct text_buf {
    char *s;
    size_t len, cap, emitted;
} text_buf;

static void text_append(text_buf *t, const char *b, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->s = llp_realloc(t->s, t->cap);
    }
    memcpy(t->s + t->len, b, n);
    t->len += n;
    t->s[t->len] = 0;
}

static int write_rows(FILE *f, const float *rows, size_t n_rows, int n_vocab, llp_err *err)
{
    if (!f) return 0;
    if (fwrite(rows, sizeof(float) * (size_t)n_vocab, n_rows, f) != n_rows)
        return llp_err_set(err, "cannot write logits: %s", "write failed");
    return 0;
}

int llp_gen_room(int n_ctx, int n_predict)
{
    int room = n_predict < 0 ? n_ctx / 4 : n_predict;
    int most = n_ctx - (n_ctx / 2 < 16 ? n_ctx / 2 : 16);
    if (room > most) room = most;
    return room < 1 ? 1 : room;
}

int llp_generate_ids(llp_generator *g, const int32_t *ids_in, int n_in, const llp_gen_hooks *hooks,
                     llp_gen_result *res, llp_err *err)
{
    static const llp_gen_hooks no_hooks = { 0 };
    if (!hooks) hooks = &no_hooks;
    memset(res, 0, sizeof *res);
    if (n_in <= 0) return llp_err_set(err, "empty prompt");
    int n_ctx = llp_context_n_ctx(g->ctx);

    /* fit the prompt: keep its end (and a leading BOS), leaving room for -n
     * tokens, or for a quarter of the context when -n is -1 */
    const int32_t *ids = ids_in;
    int32_t *fitted = NULL;
    int n = n_in;
    int room = llp_gen_room(n_ctx, g->params.n_predict);
    if (n > n_ctx - room) {
        bool keep_bos = ids_in[0] == llp_tokenizer_bos(g->tok);
        int keep_tail = n_ctx - room - (keep_bos ? 1 : 0);
        fitted = llp_malloc(sizeof(int32_t) * (size_t)(n_ctx - room));
        if (keep_bos) fitted[0] = ids_in[0];
        memcpy(fitted + (keep_bos ? 1 : 0), ids_in + (n_in - keep_tail),
               sizeof(int32_t) * (size_t)keep_tail);
        ids = fitted;
        n = n_ctx - room;
        res->truncated = true;
        res->n_cut = n_in - n;
    }

    llp_sampler_reset(g->sampler);
    for (int i = 0; i < n; i++) llp_sampler_accept(g->sampler, ids[i]);

    /* the prompt, one batch at a time; every row is kept only when the
     * logits are being written out */
    int n_batch = llp_context_n_batch(g->ctx);
    float *last = logits_rows(g, hooks->logits_out ? (size_t)n_batch : 1);
    int32_t *pos = llp_malloc(sizeof(int32_t) * (size_t)n_batch);
    bool *want = llp_malloc(sizeof(bool) * (size_t)n_batch);
    int rc = 0;
    for (int done = 0; done < n && rc == 0; ) {
        if (hooks->should_stop && hooks->should_stop()) {
            rc = LLP_GEN_STOPPED;
            break;
        }
        int chunk = n - done < n_batch ? n - done : n_batch;
        for (int i = 0; i < chunk; i++) {
            pos[i] = done + i;
            want[i] = hooks->logits_out || done + i == n - 1;
        }
        llp_batch b = { chunk, ids + done, pos, NULL, want };
        rc = llp_decode(g->ctx, &b, hooks->logits_out || done + chunk == n ? last : NULL, NULL, err);
        if (rc == 0 && hooks->logits_out) rc = write_rows(hooks->logits_out, last, (size_t)chunk,
                                                         g->n_vocab, err);
        done += chunk;
    }
    res->tokens_in = n;
    /* the last prompt row is the first row of `last` when only it was kept,
     * else the row of the last token of the final chunk */
    float *row = hooks->logits_out ? last + (size_t)(((n - 1) % n_batch)) * g->n_vocab : last;

    text_buf text = { 0 };
    text_append(&text, "", 0);
    int32_t eos = llp_tokenizer_eos(g->tok);
    int budget = g->params.n_predict;
    int p = n;
    res->stop = "length";
    while (rc == 0) {
        if (budget >= 0 && res->tokens_out >= budget) break;
        /* a stop request abandons the completion at the next token: a
         * long generation must not hold up Ctrl-C until its budget ends */
        if (hooks->should_stop && hooks->should_stop()) {
            rc = LLP_GEN_STOPPED;
            break;
        }
        if (p >= n_ctx) break;
        int32_t next = llp_sampler_sample(g->sampler, row);
        llp_sampler_accept(g->sampler, next);
        res->tokens_out++;
        if (hooks->ids_out) llp_tokens_push(hooks->ids_out, next);
        bool is_eos = next == eos;
        if (!is_eos) {
            char piece[256];
            size_t k = llp_token_to_text(g->tok, next, false, piece, sizeof piece);
            size_t before = text.len;
            text_append(&text, piece, k);
            size_t longest = 0;
            for (int s = 0; s < g->params.n_stop; s++)
                if (strlen(g->params.stop[s]) > longest) longest = strlen(g->params.stop[s]);
            size_t from = before >= longest ? before - longest : 0;
            long at = find_stop(text.s, text.len, from, g->params.stop, g->params.n_stop);
            if (at >= 0) {
                text.len = (size_t)at;
                text.s[text.len] = 0;
                res->stop = "stop-string";
            }
        } else {
            res->stop = "eos";
        }
        /* feed the token back: its logits drive the next step (and are
         * written out for the conformance hook even for the last token) */
        bool finished = is_eos || strcmp(res->stop, "stop-string") == 0 ||
                        (budget >= 0 && res->tokens_out >= budget);
        if (!finished || hooks->logits_out) {
            if (p >= n_ctx) break;
            int32_t tp = p;
            llp_batch b = { 1, &next, &tp, NULL, NULL };
            rc = llp_decode(g->ctx, &b, last, NULL, err);
            if (rc == 0) rc = write_rows(hooks->logits_out, last, 1, g->n_vocab, err);
            row = last;
            p++;
        }
        if (hooks->on_text) {
            size_t safe = finished ? text.len
                                   : text.len - held_back(text.s, text.len, g->params.stop,
                                                          g->params.n_stop);
            if (safe > text.emitted) {
                hooks->on_text(hooks->text_ctx, text.s + text.emitted, safe - text.emitted);
                text.emitted = safe;
            }
        }
        if (finished) break;
    }
    if (rc == 0 && hooks->on_text && text.len > text.emitted)
        hooks->on_text(hooks->text_ctx, text.s + text.emitted, text.len - text.emitted);
    free(pos);
    free(want);
    free(fitted);
    if (rc != 0) {
        free(text.s);
        memset(res, 0, sizeof *res);
        return rc == LLP_GEN_STOPPED ? LLP_GEN_STOPPED : -1;
    }
    res->text = text.s;
    res->len = text.len;
    return 0;
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
