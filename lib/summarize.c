/*
 * summarize.c — map-reduce summaries (summarize.h): the model-backed
 * summarizer with its prompts and budget, and the tree's items in the
 * store.
 *
 * Not for: building the tree (summary_tree.c), splitting text (split.c),
 * the generation loop (generate.c) or the record loop (batch.c).
 */
#include "summarize.h"
#include "utf8.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "records.h"
#include "split.h"

/* Tokens kept free in every prompt for tokenization differences at the
 * edges of the inserted text. */
#define PROMPT_MARGIN 8
/* Tokens a blank line between two joined summaries may cost (as in
 * summary_tree.c). */
#define JOIN_TOKENS 4
#define MIN_BUDGET LLP_SUMMARY_MIN_TOKENS

void llp_summary_tree_free(llp_summary_tree *t)
{
    if (!t) return;
    for (int i = 0; i < t->n_nodes; i++) {
        free(t->nodes[i].input);
        free(t->nodes[i].summary);
    }
    free(t->nodes);
    memset(t, 0, sizeof *t);
}

const llp_summary_node *llp_summary_root(const llp_summary_tree *t)
{
    return t->n_nodes > 0 ? &t->nodes[t->n_nodes - 1] : NULL;
}

/* ---- the model-backed summarizer ----------------------------------------------- */

struct llp_summarizer {
    llp_context *ctx;
    const llp_tokenizer *tok;
    llp_summarizer_params p;
    llp_generator *gen;
    const char *prompt_chunk;       /* templates, each with one {text} */
    const char *prompt_combine;
    int budget, chunk_tokens, overhead;
    bool (*should_stop)(void);      /* of the document in progress; may be NULL */
};

static const char chat_chunk[] =
    "Write a concise summary of the following text. Reply with the summary only.\n\n{text}";
static const char chat_combine[] =
    "The following are summaries of consecutive parts of one document. Combine them into "
    "one concise summary of the whole document. Reply with the summary only.\n\n{text}";
static const char plain_chunk[] = "{text}\n\nA concise summary of the text above:\n";
static const char plain_combine[] =
    "Summaries of consecutive parts of one document:\n\n{text}\n\n"
    "A concise summary of the whole document:\n";

const char *llp_summary_default_prompt(llp_chat_format chat, bool combine)
{
    if (chat == LLP_CHAT_NONE) return combine ? plain_combine : plain_chunk;
    return combine ? chat_combine : chat_chunk;
}

char *llp_summary_read_template(const char *path, llp_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        llp_err_set(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0, got;
    char *buf = llp_malloc(cap);
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) buf = llp_realloc(buf, cap *= 2);
    }
    int bad = ferror(f);
    fclose(f);
    buf[n] = 0;
    if (bad || memchr(buf, 0, n)) {
        llp_err_set(err, "%s: %s", path, bad ? "read error" : "holds a NUL byte");
        free(buf);
        return NULL;
    }
    return buf;
}

static int count_placeholders(const char *s)
{
    int n = 0;
    for (const char *q = s; (q = strstr(q, "{text}")); q += 6) n++;
    return n;
}

/* The template with {text} replaced; *len gets its length. */
static char *fill_template(const char *tmpl, const char *text, size_t text_len, size_t *len)
{
    const char *at = strstr(tmpl, "{text}");
    size_t head = (size_t)(at - tmpl), tail = strlen(at + 6);
    char *out = llp_malloc(head + text_len + tail + 1);
    memcpy(out, tmpl, head);
    memcpy(out + head, text, text_len);
    memcpy(out + head + text_len, at + 6, tail + 1);
    *len = head + text_len + tail;
    return out;
}

static llp_gen_params gen_params(const llp_summarizer_params *p, int budget)
{
    llp_gen_params g = { 0 };
    g.sampling = p->sampling;
    g.n_predict = budget;
    g.stop = p->stop;
    g.n_stop = p->n_stop;
    g.chat = p->chat;
    g.system = p->system;
    return g;
}

/* Tokens of the wrapped prompt with empty text: what every call costs. */
static int prompt_overhead(llp_summarizer *s, const char *tmpl, llp_err *err)
{
    size_t len;
    char *prompt = fill_template(tmpl, "", 0, &len);
    llp_tokens ids = { 0 };
    int rc = llp_gen_tokenize_prompt(s->gen, prompt, len, &ids, err);
    int n = rc ? -1 : (int)ids.n;
    free(prompt);
    llp_tokens_free(&ids);
    return n;
}

int llp_summary_template_check(const char *tmpl, llp_err *err)
{
    int n = count_placeholders(tmpl);
    if (n == 1) return 0;
    return llp_err_set(err, "the prompt template must contain {text} exactly once (found %d)", n);
}

llp_summarizer *llp_summarizer_new(llp_context *ctx, const llp_tokenizer *tok,
                                   const llp_summarizer_params *p, llp_err *err)
{
    if (p->prompt && llp_summary_template_check(p->prompt, err)) return NULL;
    llp_summarizer *s = llp_calloc(1, sizeof *s);
    s->ctx = ctx;
    s->tok = tok;
    s->p = *p;
    s->prompt_chunk = p->prompt ? p->prompt : llp_summary_default_prompt(p->chat, false);
    s->prompt_combine = p->prompt ? p->prompt : llp_summary_default_prompt(p->chat, true);
    llp_gen_params gp = gen_params(p, p->max_tokens);
    s->gen = llp_generator_new(ctx, tok, &gp);
    int a = prompt_overhead(s, s->prompt_chunk, err);
    int b = a < 0 ? -1 : prompt_overhead(s, s->prompt_combine, err);
    if (a < 0 || b < 0) {
        llp_summarizer_free(s);
        return NULL;
    }
    s->overhead = a > b ? a : b;
    int n_ctx = llp_context_n_ctx(ctx);
    int avail = n_ctx - s->overhead - PROMPT_MARGIN;
    /* chunk = avail - budget must hold two summaries: budget <= (avail - joins) / 3 */
    int most = (avail - 2 * JOIN_TOKENS) / 3;
    s->budget = p->max_tokens < most ? p->max_tokens : most;
    if (p->max_tokens < MIN_BUDGET) {
        llp_err_set(err, "--max-tokens %d is too small: a summary needs at least %d tokens",
                    p->max_tokens, MIN_BUDGET);
        llp_summarizer_free(s);
        return NULL;
    }
    if (s->budget < MIN_BUDGET) {
        llp_err_set(err, "context of %d tokens is too small for the prompt (%d tokens) and a "
                    "summary", n_ctx, s->overhead);
        llp_summarizer_free(s);
        return NULL;
    }
    s->chunk_tokens = avail - s->budget;
    if (s->budget != p->max_tokens) {
        llp_generator_free(s->gen);
        gp = gen_params(p, s->budget);
        s->gen = llp_generator_new(ctx, tok, &gp);
    }
    return s;
}

void llp_summarizer_free(llp_summarizer *s)
{
    if (!s) return;
    llp_generator_free(s->gen);
    free(s);
}

int llp_summarizer_budget(const llp_summarizer *s) { return s->budget; }
int llp_summarizer_chunk_tokens(const llp_summarizer *s) { return s->chunk_tokens; }

json_t *llp_summarizer_params_json(const llp_summarizer *s)
{
    const llp_summarizer_params *p = &s->p;
    json_t *stops = json_array();
    for (int i = 0; i < p->n_stop; i++) json_array_append_new(stops, json_string(p->stop[i]));
    return json_pack("{s:i,s:s?,s:s,s:s?,s:f,s:i,s:f,s:f,s:f,s:I,s:o,s:i}",
                     "max_tokens", s->budget, "prompt", p->prompt,
                     "chat", llp_chat_format_name(p->chat), "system", p->system,
                     "temp", llp_f32_decimal(p->sampling.temp), "top_k", p->sampling.top_k,
                     "top_p", llp_f32_decimal(p->sampling.top_p), "min_p", llp_f32_decimal(p->sampling.min_p),
                     "repeat_penalty", llp_f32_decimal(p->sampling.repeat_penalty),
                     "seed", (json_int_t)p->sampling.seed, "stop", stops,
                     "n_ctx", llp_context_n_ctx(s->ctx));
}

int llp_summarizer_prompt_ids(llp_summarizer *s, int level, const char *text, size_t len,
                              llp_tokens *ids, int *cut, llp_err *err)
{
    size_t plen;
    char *prompt = fill_template(level == 1 ? s->prompt_chunk : s->prompt_combine, text, len,
                                 &plen);
    int rc = llp_gen_tokenize_prompt(s->gen, prompt, plen, ids, err);
    free(prompt);
    if (rc == 0) *cut = llp_gen_fit_prompt(s->gen, ids);
    return rc;
}

llp_gen_sched *llp_summarizer_sched(llp_summarizer *s) { return llp_generator_sched(s->gen); }
uint64_t llp_summarizer_seed(const llp_summarizer *s) { return s->p.sampling.seed; }

char *llp_summarizer_text(const llp_gen_result *r)
{
    /* valid UTF-8 from the start (a token budget can end inside a
     * character): the store keeps summaries as JSON strings, so a summary
     * reused from the cache must be the same bytes as a fresh one, or the
     * summaries combined from it would differ */
    return llp_utf8_sanitize(r->text, r->len, NULL);
}

int llp_summarizer_run(void *ctx, int level, const char *text, size_t len, char **summary,
                       int *tokens_in, int *tokens_out, llp_err *err)
{
    llp_summarizer *s = ctx;
    size_t plen;
    char *prompt = fill_template(level == 1 ? s->prompt_chunk : s->prompt_combine, text, len,
                                 &plen);
    llp_gen_result r;
    llp_gen_hooks hooks = { .should_stop = s->should_stop };
    int rc = llp_generate_text(s->gen, prompt, plen, &hooks, &r, err);
    free(prompt);
    if (rc == LLP_GEN_STOPPED) return LLP_SUMMARIZE_STOPPED;
    if (rc) return -1;
    *summary = llp_summarizer_text(&r);
    *tokens_in = r.tokens_in;
    *tokens_out = r.tokens_out;
    llp_gen_result_free(&r);
    return 0;
}

/* ---- the store ------------------------------------------------------------------- */

static void chunk_key(const llp_summary_store *s, int level, const char *text, size_t len,
                      llp_cache_key *key)
{
    key->task = LLP_SUMMARY_CHUNK_TASK;
    key->model_fp = s->model_fp ? s->model_fp : "";
    key->params_hash = s->params_hash;
    llp_hasher *h = llp_hasher_new();
    llp_hasher_add_str(h, level == 1 ? "chunk" : "combine");
    llp_hasher_add(h, text, len);
    llp_hasher_finish(h, key->input_hash);
}

int llp_summary_store_lookup(void *ctx, int level, const char *text, size_t len,
                             char **summary, llp_err *err)
{
    const llp_summary_store *s = ctx;
    if (!s->store || s->no_cache) return 0;
    llp_cache_key key;
    chunk_key(s, level, text, len, &key);
    json_t *out = NULL;
    int hit = llp_store_cache_get(s->store, &key, &out, NULL, NULL, err);
    if (hit <= 0) return hit;
    const char *v = json_string_value(json_object_get(out, "summary"));
    if (v) *summary = llp_strdup(v);
    json_decref(out);
    return v ? 1 : 0;
}

static json_t *node_ref(const char *doc, int level, int index)
{
    char *s;
    if (asprintf(&s, "%s#L%d.%d", doc, level, index) < 0) abort();
    json_t *j = llp_json_string(s, strlen(s));
    free(s);
    return j;
}

static json_t *node_output(const char *doc, const llp_summary_node *n)
{
    json_t *o = json_object();
    json_object_set_new(o, "document", llp_json_string(doc, strlen(doc)));
    json_object_set_new(o, "level", json_integer(n->level));
    json_object_set_new(o, "index", json_integer(n->index));
    if (n->level > 1) {
        json_t *kids = json_array();
        for (int c = 0; c < n->n_children; c++)
            json_array_append_new(kids, node_ref(doc, n->level - 1, n->first_child + c));
        json_object_set_new(o, "children", kids);
    } else {
        json_object_set_new(o, "start", json_integer((json_int_t)n->start));
        json_object_set_new(o, "end", json_integer((json_int_t)n->end));
    }
    json_object_set_new(o, "summary", llp_json_string(n->summary, strlen(n->summary)));
    return o;
}

int llp_summary_store_node(void *ctx, const llp_summary_node *n, llp_err *err)
{
    const llp_summary_store *s = ctx;
    if (!s->store) return 0;
    const char *doc = s->document ? s->document : "";
    llp_cache_key key;
    chunk_key(s, n->level, n->input, strlen(n->input), &key);
    char *rid;
    if (asprintf(&rid, "%s#L%d.%d", doc, n->level, n->index) < 0) abort();
    json_t *out = node_output(doc, n);
    llp_item item = { .record_id = rid, .output = out, .tokens_in = n->tokens_in,
                      .tokens_out = n->tokens_out, .cached = n->cached };
    /* outside a transaction the insert commits on its own: the node is
     * durable when this returns */
    int rc = llp_store_item_put(s->store, s->job_id, &key, &item, err);
    json_decref(out);
    free(rid);
    return rc;
}

int llp_summarize_document(llp_summarizer *s, llp_summary_store *store,
                           bool (*should_stop)(void), const char *text, size_t len,
                           llp_summary_tree *out, llp_err *err)
{
    llp_summarize_plan plan = {
        .tok = s->tok, .chunk_tokens = s->chunk_tokens,
        .summarize = llp_summarizer_run, .ctx = s,
        .lookup = store ? llp_summary_store_lookup : NULL, .lookup_ctx = store,
        .should_stop = should_stop,
        .on_node = store ? llp_summary_store_node : NULL, .node_ctx = store,
    };
    s->should_stop = should_stop;
    int rc = llp_summarize_tree(&plan, text, len, out, err);
    s->should_stop = NULL;
    return rc;
}
