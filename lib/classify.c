/*
 * classify.c — label scoring on the engine (see classify.h): the shared
 * prefix in sequence 0, row prompts decoded together, label continuations
 * decoded together, exact log-probabilities, and the plain reference path.
 *
 * Not for: building the prompt text or the label tokens
 * (classify_prompt.c), records and flags (the binaries).
 *
 * Sequences of the classifier's context:
 *   0                          the shared prefix, decoded once
 *   1 + row * slots + j        row `row` of a call; j = 0 holds the row's
 *                              prompt (and the first multi-token label's
 *                              continuation), j = 1.. a copy of the prompt
 *                              for each further multi-token label
 * slots = max(1, number of labels of two or more tokens).
 */
#include "classify_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "records.h"

#define DEFAULT_MAX_ROWS 16
#define KV_BUDGET_BYTES (8.0 * 1024 * 1024 * 1024)

/* Where one output row of logits goes: label < 0 means "after the prompt"
 * (the first token of every label); otherwise token `next` of that label. */
typedef struct cls_target {
    int row;
    int label;
    int next;
} cls_target;

/* The tokens of one or more llp_decode calls, built up then run in
 * n_batch-sized chunks. */
typedef struct cls_stream {
    int n, cap;
    int32_t *tok, *pos, *seq;
    bool *want;
    cls_target *target;     /* (n) meaningful where want */
} cls_stream;

struct llp_classifier {
    const llp_model *model;
    const llp_tokenizer *tok;
    llp_context *ctx;           /* owned */
    int n_labels;
    char **labels;              /* (n_labels) owned copies */
    llp_tokens *label_ids;      /* (n_labels) tokens of each label after the prompt */
    int *slot;                  /* (n_labels) sequence slot of a multi-token label, or -1 */
    int max_label_len;          /* tokens of the longest label */
    int slots;                  /* sequences per row */
    char *head, *tail;          /* the prompt around the text */
    size_t head_len, tail_len;
    bool parse_special;         /* chat formats: parse special-token text */
    llp_chat_format chat;
    llp_tokens prefix;          /* BOS + head (trailing spaces dropped) */
    bool prefix_ready;          /* decoded into sequence 0 */
    bool share_prefix;
    int max_rows, n_ctx, n_vocab;
    cls_stream stream;
    float *logits;              /* (logits_rows, n_vocab) scratch */
    int logits_rows;
};

/* ---- small helpers ------------------------------------------------------ */

void llp_classify_result_free(llp_classify_result *r)
{
    if (!r) return;
    free(r->prob);
    free(r->logprob);
    free(r->error);
    memset(r, 0, sizeof *r);
}

static void result_init(llp_classify_result *r, int n_labels)
{
    llp_classify_result_free(r);
    r->label = -1;
    r->prob = llp_calloc((size_t)n_labels, sizeof(double));
    r->logprob = llp_calloc((size_t)n_labels, sizeof(double));
}

static void result_fail(llp_classify_result *r, const char *msg)
{
    free(r->error);
    r->error = llp_strdup(msg);
    r->label = -1;
}

/* log softmax(row)[id], in double over the whole vocabulary */
static double log_softmax_at(const float *row, int n, int32_t id, double *lse_cache)
{
    if (isnan(*lse_cache)) {
        float max = row[0];
        for (int i = 1; i < n; i++) if (row[i] > max) max = row[i];
        double sum = 0;
        for (int i = 0; i < n; i++) sum += exp((double)row[i] - max);
        *lse_cache = max + log(sum);
    }
    return (double)row[id] - *lse_cache;
}

/* probabilities = softmax of the log-probabilities; label = argmax */
static void result_finish(llp_classify_result *r, int n_labels)
{
    double max = r->logprob[0];
    for (int l = 1; l < n_labels; l++) if (r->logprob[l] > max) max = r->logprob[l];
    double sum = 0;
    for (int l = 0; l < n_labels; l++) sum += exp(r->logprob[l] - max);
    r->label = 0;
    for (int l = 0; l < n_labels; l++) {
        r->prob[l] = exp(r->logprob[l] - max) / sum;
        if (r->prob[l] > r->prob[r->label]) r->label = l;
    }
}

/* ---- the token stream --------------------------------------------------- */

static void stream_reset(cls_stream *s) { s->n = 0; }

static void stream_push(cls_stream *s, int32_t tok, int pos, int seq, bool want, cls_target t)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->tok = llp_realloc(s->tok, sizeof(int32_t) * (size_t)s->cap);
        s->pos = llp_realloc(s->pos, sizeof(int32_t) * (size_t)s->cap);
        s->seq = llp_realloc(s->seq, sizeof(int32_t) * (size_t)s->cap);
        s->want = llp_realloc(s->want, sizeof(bool) * (size_t)s->cap);
        s->target = llp_realloc(s->target, sizeof(cls_target) * (size_t)s->cap);
    }
    s->tok[s->n] = tok;
    s->pos[s->n] = pos;
    s->seq[s->n] = seq;
    s->want[s->n] = want;
    s->target[s->n] = t;
    s->n++;
}

static void stream_free(cls_stream *s)
{
    free(s->tok);
    free(s->pos);
    free(s->seq);
    free(s->want);
    free(s->target);
}

/* Decode the stream in chunks of at most n_batch tokens; every wanted
 * token's logits add a log-probability to its target's result. */
static int stream_run(llp_classifier *c, llp_classify_result *res, llp_err *err)
{
    cls_stream *s = &c->stream;
    int n_batch = llp_context_n_batch(c->ctx);
    for (int at = 0; at < s->n;) {
        int chunk = s->n - at < n_batch ? s->n - at : n_batch;
        int n_want = 0;
        for (int i = at; i < at + chunk; i++) n_want += s->want[i];
        if (n_want > c->logits_rows) {
            c->logits = llp_realloc(c->logits, sizeof(float) * (size_t)n_want * c->n_vocab);
            c->logits_rows = n_want;
        }
        llp_batch b = { chunk, s->tok + at, s->pos + at, s->seq + at, s->want + at };
        if (n_want > 0 && llp_decode(c->ctx, &b, c->logits, NULL, err)) return -1;
        if (n_want == 0 && llp_decode(c->ctx, &b, NULL, NULL, err)) return -1;
        int row = 0;
        for (int i = at; i < at + chunk; i++) {
            if (!s->want[i]) continue;
            const float *lg = c->logits + (size_t)row++ * c->n_vocab;
            const cls_target *t = &s->target[i];
            llp_classify_result *r = &res[t->row];
            double lse = NAN;
            if (t->label < 0) {
                for (int l = 0; l < c->n_labels; l++)
                    r->logprob[l] += log_softmax_at(lg, c->n_vocab, c->label_ids[l].ids[0], &lse);
            } else {
                r->logprob[t->label] +=
                    log_softmax_at(lg, c->n_vocab, c->label_ids[t->label].ids[t->next], &lse);
            }
        }
        at += chunk;
    }
    stream_reset(s);
    return 0;
}

/* ---- row tokens --------------------------------------------------------- */

static int tokenize_prompt(const llp_classifier *c, const char *text, size_t len,
                           llp_tokens *out, llp_err *err)
{
    cls_buf b = { 0 };
    cls_buf_add(&b, c->head, c->head_len);
    cls_buf_add(&b, text, len);
    cls_buf_add(&b, c->tail, c->tail_len);
    out->n = 0;
    int rc = llp_tokenize(c->tok, b.s, b.len, true, c->parse_special, out, err);
    free(b.s);
    return rc;
}

int llp_classifier_prompt_tokens(const llp_classifier *c, const char *text, size_t len,
                                 llp_tokens *out, llp_err *err)
{
    return tokenize_prompt(c, text, len, out, err);
}

int llp_classifier_n_ctx(const llp_classifier *c) { return c->n_ctx; }

/* Prompt tokens plus the label continuation must fit the context. */
static bool fits(const llp_classifier *c, size_t n_prompt)
{
    return n_prompt + (size_t)c->max_label_len - 1 <= (size_t)c->n_ctx;
}

static bool utf8_continuation(unsigned char b) { return (b & 0xC0) == 0x80; }

/* The prompt tokens of a text, its start kept when it must be cut. */
static int row_tokens(const llp_classifier *c, const char *text, size_t len, llp_tokens *out,
                      bool *truncated, llp_err *err)
{
    *truncated = false;
    if (tokenize_prompt(c, text, len, out, err)) return -1;
    if (fits(c, out->n)) return 0;
    /* largest prefix of the text (on a character boundary) that fits; the
     * empty text fits (checked when the classifier was made) */
    size_t lo = 0, hi = len;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        while (mid > lo && utf8_continuation((unsigned char)text[mid])) mid--;
        if (mid == lo) {
            mid = lo + 1;
            while (mid < hi && utf8_continuation((unsigned char)text[mid])) mid++;
            if (mid >= hi) break;
        }
        if (tokenize_prompt(c, text, mid, out, err)) return -1;
        if (fits(c, out->n)) lo = mid;
        else hi = mid;
    }
    *truncated = true;
    return tokenize_prompt(c, text, lo, out, err);
}

static int common_prefix(const llp_tokens *a, const llp_tokens *b)
{
    size_t n = a->n < b->n ? a->n : b->n, i = 0;
    while (i < n && a->ids[i] == b->ids[i]) i++;
    /* the row decodes at least its last token itself: its logits are needed */
    if (i == b->n && i > 0) i--;
    return (int)i;
}

/* ---- making a classifier ------------------------------------------------ */

static int setup_labels(llp_classifier *c, llp_err *err)
{
    c->label_ids = llp_calloc((size_t)c->n_labels, sizeof(llp_tokens));
    c->slot = llp_malloc(sizeof(int) * (size_t)c->n_labels);
    int n_multi = 0;
    c->max_label_len = 1;
    for (int l = 0; l < c->n_labels; l++) {
        if (cls_label_tokens(c->tok, c->tail, c->parse_special, c->labels[l], &c->label_ids[l],
                             err))
            return -1;
        int k = (int)c->label_ids[l].n;
        if (k > c->max_label_len) c->max_label_len = k;
        c->slot[l] = k > 1 ? n_multi++ : -1;
    }
    for (int l = 0; l < c->n_labels; l++)
        for (int m = 0; m < l; m++)
            if (c->label_ids[l].n == c->label_ids[m].n &&
                memcmp(c->label_ids[l].ids, c->label_ids[m].ids,
                       sizeof(int32_t) * c->label_ids[l].n) == 0)
                return llp_err_set(err, "labels '%s' and '%s' give the same tokens", c->labels[m],
                                   c->labels[l]);
    c->slots = n_multi > 1 ? n_multi : 1;
    return 0;
}

static int setup_context(llp_classifier *c, const llp_classify_params *p, llp_err *err)
{
    const llp_config *cfg = &c->model->cfg;
    c->n_ctx = p->n_ctx > 0 ? p->n_ctx : (cfg->n_ctx_train < 4096 ? cfg->n_ctx_train : 4096);
    int rows = p->max_rows > 0 ? p->max_rows : DEFAULT_MAX_ROWS;
    if (rows > LLP_CLASSIFY_MAX_ROWS) rows = LLP_CLASSIFY_MAX_ROWS;
    double per_seq = (double)llp_kv_bytes_per_seq(p->kv_type, cfg->n_layers, c->n_ctx,
                                                  cfg->kv_dim);
    while (p->max_rows <= 0 && rows > 1 && (1.0 + rows * c->slots) * per_seq > KV_BUDGET_BYTES)
        rows--;
    c->max_rows = rows;
    llp_context_params cp = { .n_ctx = c->n_ctx, .n_seq = 1 + rows * c->slots,
                              .n_batch = 512, .n_threads = p->n_threads,
                              .kv_type = p->kv_type };
    c->ctx = llp_context_new(c->model, &cp, err);
    return c->ctx ? 0 : -1;
}

llp_classifier *llp_classifier_new(const llp_model *m, const llp_tokenizer *tok,
                                   const char *chat_template, const llp_classify_params *p,
                                   llp_err *err)
{
    if (llp_classify_check(p, err)) return NULL;
    llp_classifier *c = llp_calloc(1, sizeof *c);
    c->model = m;
    c->tok = tok;
    c->n_vocab = m->cfg.n_vocab;
    c->share_prefix = !p->no_prefix_sharing;
    c->n_labels = p->n_labels;
    c->labels = llp_malloc(sizeof(char *) * (size_t)p->n_labels);
    for (int l = 0; l < p->n_labels; l++) c->labels[l] = llp_strdup(p->labels[l]);
    c->chat = llp_chat_choose(p->chat, chat_template, m->path);
    c->parse_special = c->chat != LLP_CHAT_NONE;

    cls_example *ex = NULL;
    int n_ex = 0;
    if (p->examples_path &&
        cls_examples_load(p->examples_path, p->labels, p->n_labels, &ex, &n_ex, err))
        goto fail;
    int rc = cls_render(p, c->chat, ex, n_ex, &c->head, &c->tail, err);
    cls_examples_free(ex, n_ex);
    if (rc) goto fail;
    c->head_len = strlen(c->head);
    c->tail_len = strlen(c->tail);
    size_t stable = c->head_len;
    while (stable > 0 && c->head[stable - 1] == ' ') stable--;
    if (llp_tokenize(tok, c->head, stable, true, c->parse_special, &c->prefix, err)) goto fail;
    if (setup_labels(c, err) || setup_context(c, p, err)) goto fail;

    llp_tokens empty = { 0 };
    if (tokenize_prompt(c, "", 0, &empty, err)) goto fail;
    size_t need = empty.n + 1;
    llp_tokens_free(&empty);
    if (!fits(c, need)) {
        llp_err_set(err, "the prompt template%s and labels take %zu tokens; the context holds %d "
                    "(raise -c)", n_ex ? ", examples" : "", need - 1 + c->max_label_len - 1,
                    c->n_ctx);
        goto fail;
    }
    return c;
fail:
    llp_classifier_free(c);
    return NULL;
}

void llp_classifier_free(llp_classifier *c)
{
    if (!c) return;
    llp_context_free(c->ctx);
    for (int l = 0; l < c->n_labels; l++) {
        free(c->labels[l]);
        if (c->label_ids) llp_tokens_free(&c->label_ids[l]);
    }
    free(c->labels);
    free(c->label_ids);
    free(c->slot);
    free(c->head);
    free(c->tail);
    llp_tokens_free(&c->prefix);
    stream_free(&c->stream);
    free(c->logits);
    free(c);
}

int llp_classifier_n_labels(const llp_classifier *c) { return c->n_labels; }
const char *llp_classifier_label(const llp_classifier *c, int l) { return c->labels[l]; }
int llp_classifier_max_rows(const llp_classifier *c) { return c->max_rows; }
int llp_classifier_prefix_tokens(const llp_classifier *c) { return (int)c->prefix.n; }
const char *llp_classifier_head(const llp_classifier *c) { return c->head; }
const char *llp_classifier_tail(const llp_classifier *c) { return c->tail; }

int llp_classifier_label_tokens(const llp_classifier *c, int l, const int32_t **ids)
{
    *ids = c->label_ids[l].ids;
    return (int)c->label_ids[l].n;
}

/* ---- scoring ------------------------------------------------------------ */

static int ensure_prefix(llp_classifier *c, llp_err *err)
{
    if (c->prefix_ready || c->prefix.n == 0) return 0;
    if (llp_decode_tokens(c->ctx, 0, 0, c->prefix.ids, (int)c->prefix.n, NULL, err)) return -1;
    c->prefix_ready = true;
    return 0;
}

/* Queue the continuation of label l for a row whose prompt (n_prompt
 * tokens) sits in sequence seq: tokens 1..k-1 are predicted from tokens
 * 0..k-2 at positions n_prompt.. */
static void queue_label(llp_classifier *c, int row, int l, int seq, int n_prompt)
{
    const llp_tokens *ids = &c->label_ids[l];
    for (size_t m = 0; m + 1 < ids->n; m++)
        stream_push(&c->stream, ids->ids[m], n_prompt + (int)m, seq, true,
                    (cls_target){ row, l, (int)m + 1 });
}

int llp_classify_rows(llp_classifier *c, const char *const *texts, const size_t *lens, int n,
                      llp_classify_result *res, llp_err *err)
{
    if (n > c->max_rows)
        return llp_err_set(err, "%d rows in one call (the classifier takes %d)", n, c->max_rows);
    if (c->share_prefix && ensure_prefix(c, err)) return -1;
    llp_tokens *toks = llp_calloc((size_t)(n > 0 ? n : 1), sizeof(llp_tokens));
    int rc = 0;
    stream_reset(&c->stream);

    /* phase 1: every row's own prompt tokens, after its copy of the prefix */
    for (int i = 0; i < n; i++) {
        llp_classify_result *r = &res[i];
        result_init(r, c->n_labels);
        if (lens[i] == 0) {
            result_fail(r, "empty text");
            continue;
        }
        if (row_tokens(c, texts[i], lens[i], &toks[i], &r->truncated, err)) {
            rc = -1;
            goto done;
        }
        int n_prompt = (int)toks[i].n;
        int shared = c->share_prefix ? common_prefix(&c->prefix, &toks[i]) : 0;
        int seq = 1 + i * c->slots;
        llp_kv_copy(c->ctx, 0, seq, shared);
        for (int pos = shared; pos < n_prompt; pos++)
            stream_push(&c->stream, toks[i].ids[pos], pos, seq, pos == n_prompt - 1,
                        (cls_target){ i, -1, 0 });
        r->n_prompt = n_prompt;
        r->n_unique = n_prompt - shared;
    }
    if (stream_run(c, res, err)) {
        rc = -1;
        goto done;
    }

    /* phase 2: the continuations of multi-token labels, each in its slot */
    for (int i = 0; i < n; i++) {
        if (res[i].error) continue;
        int seq = 1 + i * c->slots;
        for (int l = 0; l < c->n_labels; l++) {
            if (c->slot[l] < 0) continue;
            if (c->slot[l] > 0) llp_kv_copy(c->ctx, seq, seq + c->slot[l], res[i].n_prompt);
            queue_label(c, i, l, seq + c->slot[l], res[i].n_prompt);
            res[i].n_label_tokens += (int)c->label_ids[l].n - 1;
        }
    }
    if (stream_run(c, res, err)) {
        rc = -1;
        goto done;
    }
    for (int i = 0; i < n; i++)
        if (!res[i].error) result_finish(&res[i], c->n_labels);
done:
    stream_reset(&c->stream);
    for (int i = 0; i < n; i++) llp_tokens_free(&toks[i]);
    free(toks);
    return rc;
}

int llp_classify_plain(llp_classifier *c, const char *text, size_t len,
                       llp_classify_result *r, llp_err *err)
{
    result_init(r, c->n_labels);
    if (len == 0) {
        result_fail(r, "empty text");
        return 0;
    }
    llp_tokens toks = { 0 };
    if (row_tokens(c, text, len, &toks, &r->truncated, err)) {
        llp_tokens_free(&toks);
        return -1;
    }
    int n_prompt = (int)toks.n, rc = 0;
    r->n_prompt = r->n_unique = n_prompt;
    for (int l = 0; l < c->n_labels && rc == 0; l++) {
        stream_reset(&c->stream);
        for (int pos = 0; pos < n_prompt; pos++)
            stream_push(&c->stream, toks.ids[pos], pos, 1, pos == n_prompt - 1,
                        (cls_target){ 0, l, 0 });
        queue_label(c, 0, l, 1, n_prompt);
        r->n_label_tokens += (int)c->label_ids[l].n - 1;
        rc = stream_run(c, r, err);
    }
    if (rc == 0) result_finish(r, c->n_labels);
    llp_tokens_free(&toks);
    return rc;
}

/* ---- records ------------------------------------------------------------ */

json_t *llp_classifier_params_json(const llp_classifier *c)
{
    json_t *labels = json_array();
    for (int l = 0; l < c->n_labels; l++) json_array_append_new(labels, json_string(c->labels[l]));
    return json_pack("{s:o,s:o,s:o,s:i,s:s}", "labels", labels,
                     "head", llp_json_string(c->head, c->head_len),
                     "tail", llp_json_string(c->tail, c->tail_len), "n_ctx", c->n_ctx,
                     "chat", llp_chat_format_name(c->chat));
}

static char *prob_name(const char *into, const char *label)
{
    size_t n = strlen(label) + 3;
    char *base = llp_malloc(n);
    snprintf(base, n, "p_%s", label);
    char *name = llp_output_name(into, "label", base);
    free(base);
    return name;
}

json_t *llp_classify_fields(const llp_classifier *c, const llp_classify_result *r,
                            const char *into)
{
    json_t *f = json_object();
    char *name = llp_output_name(into, "label", "label");
    json_object_set_new(f, name, json_string(c->labels[r->label]));
    free(name);
    name = llp_output_name(into, "label", "score");
    json_object_set_new(f, name, json_real(r->prob[r->label]));
    free(name);
    for (int l = 0; l < c->n_labels; l++) {
        name = prob_name(into, c->labels[l]);
        json_object_set_new(f, name, json_real(r->prob[l]));
        free(name);
    }
    if (r->truncated) {
        name = llp_output_name(into, "label", "truncated");
        json_object_set_new(f, name, json_true());
        free(name);
    }
    return f;
}

char **llp_classify_columns(const llp_classifier *c, const char *into, int *n)
{
    char **cols = llp_malloc(sizeof(char *) * (size_t)(c->n_labels + 3));
    int k = 0;
    cols[k++] = llp_output_name(into, "label", "label");
    cols[k++] = llp_output_name(into, "label", "score");
    for (int l = 0; l < c->n_labels; l++) cols[k++] = prob_name(into, c->labels[l]);
    cols[k++] = llp_output_name(into, "label", "truncated");
    *n = k;
    return cols;
}
