/*
 * gen_sched.c — continuous batching (gen_sched.h): sequence slots, the
 * composition of each forward pass, and the per-request token loop with
 * stop strings and streaming.
 *
 * A pass holds, in this order: the pending token of every decoding slot
 * (one each), then prompt chunks of the slots still prefilling, first
 * submitted first, until the context's n_batch tokens are used. Logits are
 * asked only for the rows that are sampled (a decoding token, the last
 * prompt token) or written out (the conformance hook's every row).
 *
 * Streaming with stop strings: text that could still turn out to be the
 * start of a stop string is held back until the next token decides, so a
 * stop string never reaches the stream.
 */
#include "gen_sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

typedef enum slot_phase {
    SLOT_FREE = 0,
    SLOT_PREFILL,       /* prompt tokens left to feed */
    SLOT_DECODE,        /* `pending` is the last sampled token, to feed at pos */
    SLOT_LAST_FEED,     /* finished; the last token is fed once more so its
                           logits row can be written out (the hook) */
} slot_phase;

typedef struct text_buf {
    char *s;
    size_t len, cap, emitted;
} text_buf;

typedef struct slot {
    slot_phase phase;
    int32_t *prompt;            /* owned copy */
    int n_prompt, n_fed;
    int pos;                    /* next position of this sequence to write */
    int32_t pending;
    llp_sampler *sampler;
    text_buf text;
    llp_gen_result res;
    const llp_gen_hooks *hooks;
    const llp_gen_params *params; /* the request's own, or the scheduler's */
    size_t longest_stop;        /* of params' stop strings */
    bool own_sampler;           /* sampler made from the request's params */
    void *tag;
    uint64_t order;             /* submission number */
    int row, n_rows;            /* this pass: its first logits row and count */
    int chunk;                  /* this pass: prompt tokens fed */
} slot;

typedef struct done_entry {
    void *tag;
    llp_gen_result res;
} done_entry;

struct llp_gen_sched {
    llp_context *ctx;
    const llp_tokenizer *tok;
    llp_gen_params params;
    int n_vocab, n_ctx, n_batch;
    slot *slots;
    int n_slots;
    uint64_t next_order;
    /* one pass */
    int32_t *tokens, *pos, *seq;
    bool *want;
    float *logits;
    size_t logits_rows;
    done_entry *done;
    size_t n_done, done_head, cap_done;
    int64_t tokens_fed, passes;
    llp_gen_sched_stats stats;
};

static const llp_gen_hooks no_hooks = { 0 };

llp_gen_sched *llp_gen_sched_new(llp_context *ctx, const llp_tokenizer *tok,
                                 const llp_gen_params *p)
{
    llp_gen_sched *s = llp_calloc(1, sizeof *s);
    s->ctx = ctx;
    s->tok = tok;
    s->params = *p;
    s->n_vocab = llp_context_model(ctx)->cfg.n_vocab;
    s->n_ctx = llp_context_n_ctx(ctx);
    s->n_batch = llp_context_n_batch(ctx);
    s->n_slots = llp_context_n_seq(ctx);
    /* every decoding slot needs its token in each pass */
    if (s->n_slots > s->n_batch) s->n_slots = s->n_batch;
    s->slots = llp_calloc((size_t)s->n_slots, sizeof *s->slots);
    for (int i = 0; i < s->n_slots; i++) s->slots[i].sampler = llp_sampler_new(&p->sampling, s->n_vocab);
    s->tokens = llp_malloc(sizeof(int32_t) * (size_t)s->n_batch);
    s->pos = llp_malloc(sizeof(int32_t) * (size_t)s->n_batch);
    s->seq = llp_malloc(sizeof(int32_t) * (size_t)s->n_batch);
    s->want = llp_malloc(sizeof(bool) * (size_t)s->n_batch);
    return s;
}

static void slot_clear(llp_gen_sched *s, slot *sl)
{
    free(sl->prompt);
    free(sl->text.s);
    llp_gen_result_free(&sl->res);
    /* a sampler made for one request's parameters gives way to one of
     * the scheduler's again */
    if (sl->own_sampler) {
        llp_sampler_free(sl->sampler);
        sl->sampler = llp_sampler_new(&s->params.sampling, s->n_vocab);
    }
    llp_sampler *keep = sl->sampler;
    memset(sl, 0, sizeof *sl);
    sl->sampler = keep;
}

static size_t longest(const llp_gen_params *p)
{
    size_t n = 0;
    for (int i = 0; i < p->n_stop; i++)
        if (strlen(p->stop[i]) > n) n = strlen(p->stop[i]);
    return n;
}

void llp_gen_sched_free(llp_gen_sched *s)
{
    if (!s) return;
    for (int i = 0; i < s->n_slots; i++) {
        slot_clear(s, &s->slots[i]);
        llp_sampler_free(s->slots[i].sampler);
    }
    for (size_t i = s->done_head; i < s->n_done; i++) llp_gen_result_free(&s->done[i].res);
    free(s->done);
    free(s->slots);
    free(s->tokens);
    free(s->pos);
    free(s->seq);
    free(s->want);
    free(s->logits);
    free(s);
}

int llp_gen_sched_n_slots(const llp_gen_sched *s) { return s->n_slots; }
int64_t llp_gen_sched_tokens_fed(const llp_gen_sched *s) { return s->tokens_fed; }
int64_t llp_gen_sched_passes(const llp_gen_sched *s) { return s->passes; }

int llp_gen_sched_n_active(const llp_gen_sched *s)
{
    int n = 0;
    for (int i = 0; i < s->n_slots; i++) n += s->slots[i].phase != SLOT_FREE;
    return n;
}

int llp_gen_sched_n_free(const llp_gen_sched *s) { return s->n_slots - llp_gen_sched_n_active(s); }

int llp_gen_sched_submit(llp_gen_sched *s, const llp_gen_request *r, llp_err *err)
{
    if (r->n_ids <= 0) return llp_err_set(err, "empty prompt");
    if (r->n_ids >= s->n_ctx)
        return llp_err_set(err, "prompt of %d tokens leaves no room in a context of %d", r->n_ids,
                           s->n_ctx);
    slot *sl = NULL;
    for (int i = 0; i < s->n_slots && !sl; i++)
        if (s->slots[i].phase == SLOT_FREE) sl = &s->slots[i];
    if (!sl) return llp_err_set(err, "no free sequence slot (%d in use)", s->n_slots);
    sl->phase = SLOT_PREFILL;
    sl->prompt = llp_malloc(sizeof(int32_t) * (size_t)r->n_ids);
    memcpy(sl->prompt, r->ids, sizeof(int32_t) * (size_t)r->n_ids);
    sl->n_prompt = r->n_ids;
    sl->hooks = r->hooks ? r->hooks : &no_hooks;
    sl->params = r->params ? r->params : &s->params;
    sl->longest_stop = longest(sl->params);
    if (r->params) {
        llp_sampler_free(sl->sampler);
        sl->sampler = llp_sampler_new(&r->params->sampling, s->n_vocab);
        sl->own_sampler = true;
    }
    sl->tag = r->tag;
    sl->order = s->next_order++;
    sl->res.truncated = r->n_cut > 0;
    sl->res.n_cut = r->n_cut;
    sl->res.stop = "length";
    sl->text.s = llp_strdup("");
    sl->text.cap = 1;
    llp_sampler_reset_seed(sl->sampler, r->seed);
    for (int i = 0; i < r->n_ids; i++) llp_sampler_accept(sl->sampler, r->ids[i]);
    return 0;
}

/* ---- text and stop strings ------------------------------------------------ */

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

static void emit(slot *sl, size_t upto)
{
    if (sl->hooks->on_text && upto > sl->text.emitted) {
        sl->hooks->on_text(sl->hooks->text_ctx, sl->text.s + sl->text.emitted,
                           upto - sl->text.emitted);
        sl->text.emitted = upto;
    }
}

/* ---- finishing ------------------------------------------------------------- */

static void finish(llp_gen_sched *s, slot *sl)
{
    emit(sl, sl->text.len);
    if (s->n_done == s->cap_done) {
        if (s->done_head > 0) {
            memmove(s->done, s->done + s->done_head, sizeof *s->done * (s->n_done - s->done_head));
            s->n_done -= s->done_head;
            s->done_head = 0;
        }
        if (s->n_done == s->cap_done) {
            s->cap_done = s->cap_done ? 2 * s->cap_done : 8;
            s->done = llp_realloc(s->done, sizeof *s->done * s->cap_done);
        }
    }
    done_entry *d = &s->done[s->n_done++];
    d->tag = sl->tag;
    d->res = sl->res;
    d->res.text = sl->text.s;
    d->res.len = sl->text.len;
    sl->text.s = NULL;
    sl->res.text = NULL;
    slot_clear(s, sl);
}

int llp_gen_sched_take(llp_gen_sched *s, void **tag, llp_gen_result *res)
{
    if (s->done_head == s->n_done) return 0;
    done_entry *d = &s->done[s->done_head++];
    *tag = d->tag;
    *res = d->res;
    if (s->done_head == s->n_done) s->done_head = s->n_done = 0;
    return 1;
}

void llp_gen_sched_cancel(llp_gen_sched *s)
{
    for (int i = 0; i < s->n_slots; i++)
        if (s->slots[i].phase != SLOT_FREE) slot_clear(s, &s->slots[i]);
}

int llp_gen_sched_cancel_tag(llp_gen_sched *s, void *tag)
{
    for (int i = 0; i < s->n_slots; i++)
        if (s->slots[i].phase != SLOT_FREE && s->slots[i].tag == tag) {
            slot_clear(s, &s->slots[i]);
            return 1;
        }
    return 0;
}

/* ---- one pass ------------------------------------------------------------------ */

static int write_rows(FILE *f, const float *rows, int n_rows, int n_vocab, llp_err *err)
{
    if (!f || n_rows <= 0) return 0;
    if (fwrite(rows, sizeof(float) * (size_t)n_vocab, (size_t)n_rows, f) != (size_t)n_rows)
        return llp_err_set(err, "cannot write logits: write failed");
    return 0;
}

static void add_token(llp_gen_sched *s, int *n, slot *sl, int32_t token, int pos, bool want,
                      int *rows)
{
    int i = (*n)++;
    s->tokens[i] = token;
    s->pos[i] = pos;
    s->seq[i] = (int)(sl - s->slots);
    s->want[i] = want;
    if (want) {
        if (sl->n_rows == 0) sl->row = *rows;
        sl->n_rows++;
        (*rows)++;
    }
}

/* The logits row of a slot's last fed token is in: sample, extend the
 * text, and decide what the slot does next. */
static void next_token(llp_gen_sched *s, slot *sl, float *row)
{
    const llp_gen_params *p = sl->params;
    llp_gen_result *res = &sl->res;
    if ((p->n_predict >= 0 && res->tokens_out >= p->n_predict) || sl->pos >= s->n_ctx) {
        finish(s, sl);
        return;
    }
    int32_t next = llp_sampler_sample(sl->sampler, row);
    llp_sampler_accept(sl->sampler, next);
    res->tokens_out++;
    if (sl->hooks->ids_out) llp_tokens_push(sl->hooks->ids_out, next);
    bool finished;
    if (next == llp_tokenizer_eos(s->tok)) {
        res->stop = "eos";
        finished = true;
    } else {
        char piece[256];
        size_t k = llp_token_to_text(s->tok, next, false, piece, sizeof piece);
        size_t before = sl->text.len;
        text_append(&sl->text, piece, k);
        size_t from = before >= sl->longest_stop ? before - sl->longest_stop : 0;
        long at = find_stop(sl->text.s, sl->text.len, from, p->stop, p->n_stop);
        if (at >= 0) {
            sl->text.len = (size_t)at;
            sl->text.s[at] = 0;
            res->stop = "stop-string";
        }
        finished = at >= 0 || (p->n_predict >= 0 && res->tokens_out >= p->n_predict);
    }
    /* the token is fed back: its logits drive the next step, and the hook
     * writes them out even for the last token */
    if ((finished && !sl->hooks->logits_out) || sl->pos >= s->n_ctx) {
        finish(s, sl);
        return;
    }
    sl->pending = next;
    sl->phase = finished ? SLOT_LAST_FEED : SLOT_DECODE;
    if (!finished)
        emit(sl, sl->text.len - held_back(sl->text.s, sl->text.len, p->stop, p->n_stop));
}

int llp_gen_sched_step(llp_gen_sched *s, llp_err *err)
{
    int n = 0, rows = 0;
    for (int i = 0; i < s->n_slots; i++) {
        slot *sl = &s->slots[i];
        sl->row = -1;
        sl->n_rows = 0;
        sl->chunk = 0;
        if (sl->phase == SLOT_DECODE || sl->phase == SLOT_LAST_FEED)
            add_token(s, &n, sl, sl->pending, sl->pos, true, &rows);
    }
    /* prompt chunks, first submitted first, in what is left of the pass */
    for (;;) {
        slot *first = NULL;
        for (int i = 0; i < s->n_slots; i++) {
            slot *sl = &s->slots[i];
            if (sl->phase == SLOT_PREFILL && sl->chunk == 0 && (!first || sl->order < first->order))
                first = sl;
        }
        int room = s->n_batch - n;
        if (!first || room == 0) break;
        int left = first->n_prompt - first->n_fed;
        first->chunk = left < room ? left : room;
        bool all_rows = first->hooks->logits_out != NULL;
        for (int k = 0; k < first->chunk; k++) {
            int at = first->n_fed + k;
            add_token(s, &n, first, first->prompt[at], at, all_rows || at == first->n_prompt - 1,
                      &rows);
        }
    }
    if (n == 0) return 0;

    if ((size_t)rows > s->logits_rows) {
        free(s->logits);
        s->logits = llp_malloc(sizeof(float) * (size_t)rows * (size_t)s->n_vocab);
        s->logits_rows = (size_t)rows;
    }
    llp_batch b = { n, s->tokens, s->pos, s->seq, s->want };
    double t0 = llp_now();
    if (llp_decode(s->ctx, &b, s->logits, NULL, err)) {
        llp_gen_sched_cancel(s);
        return -1;
    }
    double t1 = llp_now(), per_row = (t1 - t0) / n;
    int n_prompt = 0;
    for (int i = 0; i < s->n_slots; i++) {
        slot *sl = &s->slots[i];
        if (sl->phase == SLOT_FREE) continue;
        int mine = sl->phase == SLOT_PREFILL ? sl->chunk : 1;
        if (sl->phase == SLOT_PREFILL) n_prompt += sl->chunk;
        sl->res.compute_s += per_row * mine;
    }
    s->tokens_fed += n;
    s->passes++;
    s->stats.passes++;
    s->stats.prompt_tokens += n_prompt;
    s->stats.gen_tokens += n - n_prompt;
    s->stats.prompt_s += per_row * n_prompt;
    s->stats.gen_s += per_row * (n - n_prompt);

    for (int i = 0; i < s->n_slots; i++) {
        slot *sl = &s->slots[i];
        if (sl->phase == SLOT_FREE) continue;   /* no hooks: nothing of it is in the pass */
        float *row = sl->n_rows ? s->logits + (size_t)sl->row * s->n_vocab : NULL;
        if (write_rows(sl->hooks->logits_out, row, sl->n_rows, s->n_vocab, err)) {
            llp_gen_sched_cancel(s);
            return -1;
        }
        double ts = llp_now();
        sl->res.compute_s += ts - t1;   /* the rows written out: the hook's own */
        t1 = ts;
        switch (sl->phase) {
        case SLOT_PREFILL:
            if (sl->chunk == 0) break;
            sl->n_fed += sl->chunk;
            sl->pos = sl->n_fed;
            if (sl->n_fed < sl->n_prompt) break;
            sl->res.tokens_in = sl->n_prompt;
            sl->phase = SLOT_DECODE;
            next_token(s, sl, row + (size_t)(sl->n_rows - 1) * s->n_vocab);
            break;
        case SLOT_DECODE:
            sl->pos++;
            next_token(s, sl, row);
            break;
        case SLOT_LAST_FEED:
            sl->pos++;
            finish(s, sl);
            break;
        case SLOT_FREE:
            break;
        }
        ts = llp_now();
        /* finish() moved the result out of a slot that is done: the time
         * of its last token is the scheduler's only */
        if (sl->phase != SLOT_FREE) sl->res.compute_s += ts - t1;
        s->stats.sample_s += ts - t1;
        t1 = ts;
    }
    return 0;
}

llp_gen_sched_stats llp_gen_sched_get_stats(const llp_gen_sched *s)
{
    return s->stats;
}

int llp_gen_sched_stats_format(const llp_gen_sched_stats *st, char *buf, size_t size)
{
    return snprintf(buf, size,
                    "prompts %.2f s for %lld tokens (%.1f tok/s), generation %.2f s for %lld "
                    "tokens (%.1f tok/s), %lld passes, sampling %.2f s",
                    st->prompt_s, (long long)st->prompt_tokens,
                    st->prompt_s > 0 ? st->prompt_tokens / st->prompt_s : 0.0, st->gen_s,
                    (long long)st->gen_tokens, st->gen_s > 0 ? st->gen_tokens / st->gen_s : 0.0,
                    (long long)st->passes, st->sample_s);
}
