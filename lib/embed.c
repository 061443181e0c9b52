/*
 * embed.c — pooled hidden states of many texts per forward call, and cosine
 * search over a collection (embed.h).
 *
 * Not for: storing vectors or records (store.c, batch.c) or the forward
 * pass (model.c).
 *
 * The scheduler: every text becomes one or more token windows (a window is
 * at most n_ctx tokens and gets a sequence of its own). Each forward call
 * first gives every free sequence the next waiting window, then takes
 * tokens from the windows in sequence order until n_batch tokens are in the
 * batch. A window's hidden rows are summed as they come back; when its last
 * token is in, the window is pooled and added to its text, weighted by its
 * token count; when a text's last window is in, its vector is final.
 */
#include "embed.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- names ---------------------------------------------------------------- */

static const char *const pooling_names[] = { "mean", "cls", "last" };
static const char *const norm_names[] = { "l2", "none" };
static const char *const long_names[] = { "truncate", "chunk" };

static int parse_name(const char *flag, const char *s, const char *const *names, int n,
                      int *out, llp_err *err)
{
    for (int i = 0; i < n; i++)
        if (s && strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    char list[128] = "";
    for (int i = 0; i < n; i++) {
        strncat(list, names[i], sizeof list - strlen(list) - 1);
        if (i + 1 < n) strncat(list, ", ", sizeof list - strlen(list) - 1);
    }
    return llp_err_set(err, "%s: expected one of %s, got '%s'", flag, list, s ? s : "");
}

int llp_pooling_parse(const char *s, llp_pooling *out, llp_err *err)
{
    int v;
    if (parse_name("--pooling", s, pooling_names, 3, &v, err)) return -1;
    *out = (llp_pooling)v;
    return 0;
}

int llp_embed_norm_parse(const char *s, llp_embed_norm *out, llp_err *err)
{
    int v;
    if (parse_name("--normalize", s, norm_names, 2, &v, err)) return -1;
    *out = (llp_embed_norm)v;
    return 0;
}

int llp_embed_long_parse(const char *s, llp_embed_long *out, llp_err *err)
{
    int v;
    if (parse_name("--long", s, long_names, 2, &v, err)) return -1;
    *out = (llp_embed_long)v;
    return 0;
}

const char *llp_pooling_name(llp_pooling p) { return pooling_names[p]; }
const char *llp_embed_norm_name(llp_embed_norm n) { return norm_names[n]; }
const char *llp_embed_long_name(llp_embed_long l) { return long_names[l]; }

/* ---- vectors ---------------------------------------------------------------- */

float llp_cosine(const float *a, const float *b, int dim)
{
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < dim; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    if (aa == 0 || bb == 0) return 0;
    return (float)(ab / (sqrt(aa) * sqrt(bb)));
}

void llp_l2_normalize(float *v, int dim)
{
    double ss = 0;
    for (int i = 0; i < dim; i++) ss += (double)v[i] * v[i];
    if (ss == 0) return;
    double inv = 1.0 / sqrt(ss);
    for (int i = 0; i < dim; i++) v[i] = (float)(v[i] * inv);
}

void llp_embed_result_free(llp_embed_result *r)
{
    if (!r) return;
    free(r->vec);
    free(r->error);
    memset(r, 0, sizeof *r);
}

/* ---- the embedder ------------------------------------------------------------ */

struct llp_embedder {
    llp_context *ctx;
    const llp_tokenizer *tok;
    llp_embed_params p;
    int dim, n_ctx, n_seq, n_batch;
    /* forward-call buffers, n_batch each (hidden: n_batch x dim) */
    int32_t *tokens, *pos, *seq;
    bool *want;
    int *row_slot;      /* (n_batch) the slot each output row belongs to */
    float *hidden;
};

llp_context *llp_embed_context_new(const llp_model *m, int n_ctx, int n_threads,
                                   llp_kv_type kv_type, llp_err *err)
{
    const llp_config *c = &m->cfg;
    if (n_ctx <= 0) n_ctx = c->n_ctx_train < 4096 ? c->n_ctx_train : 4096;
    if (n_ctx <= 0) n_ctx = 512;
    /* keys and values, every layer, every position of one sequence */
    size_t per_seq = llp_kv_bytes_per_seq(kv_type, c->n_layers, n_ctx, c->kv_dim);
    size_t n_seq = per_seq ? LLP_EMBED_KV_BUDGET / per_seq : 1;
    if (n_seq < 1) n_seq = 1;
    if (n_seq > LLP_EMBED_MAX_SEQ) n_seq = LLP_EMBED_MAX_SEQ;
    llp_context_params cp = { .n_ctx = n_ctx, .n_seq = (int)n_seq, .n_batch = 512,
                              .n_threads = n_threads, .kv_type = kv_type };
    return llp_context_new(m, &cp, err);
}

llp_embedder *llp_embedder_new(llp_context *ctx, const llp_tokenizer *tok,
                               const llp_embed_params *p)
{
    llp_embedder *e = llp_calloc(1, sizeof *e);
    e->ctx = ctx;
    e->tok = tok;
    if (p) e->p = *p;
    else e->p.add_bos = -1;
    e->dim = llp_context_model(ctx)->cfg.dim;
    e->n_ctx = llp_context_n_ctx(ctx);
    e->n_seq = llp_context_n_seq(ctx);
    e->n_batch = llp_context_n_batch(ctx);
    size_t nb = (size_t)e->n_batch;
    e->tokens = llp_malloc(sizeof(int32_t) * nb);
    e->pos = llp_malloc(sizeof(int32_t) * nb);
    e->seq = llp_malloc(sizeof(int32_t) * nb);
    e->want = llp_malloc(sizeof(bool) * nb);
    e->row_slot = llp_malloc(sizeof(int) * nb);
    e->hidden = llp_malloc(sizeof(float) * nb * (size_t)e->dim);
    return e;
}

void llp_embedder_free(llp_embedder *e)
{
    if (!e) return;
    free(e->tokens);
    free(e->pos);
    free(e->seq);
    free(e->want);
    free(e->row_slot);
    free(e->hidden);
    free(e);
}

int llp_embedder_dim(const llp_embedder *e) { return e->dim; }

/* One window of tokens of one text, fed as its own sequence. */
typedef struct window {
    int text;
    int32_t *ids;       /* (n) owned */
    int n;
} window;

/* A sequence of the KV cache and the window it is feeding. */
typedef struct slot {
    int win;            /* index into the windows, -1 when free */
    int fed;            /* tokens of the window already in a batch */
    double *sum;        /* (dim) sum of the window's wanted hidden rows */
    int rows;           /* rows summed */
} slot;

typedef struct text_acc {
    double *sum;        /* (dim) pooled windows, each times its token count */
    double weight;      /* tokens over all windows */
    int windows_left;
} text_acc;

/* Cut text i into windows appended to *wins. Returns the number of windows
 * (0 for an empty text). */
static int make_windows(llp_embedder *e, int text, const int32_t *content, int n_content,
                        bool bos, window **wins, int *n_wins, int *cap,
                        llp_embed_result *res)
{
    int32_t bos_id = llp_tokenizer_bos(e->tok);
    int per = bos ? e->n_ctx - 1 : e->n_ctx;     /* content tokens per window */
    if (per < 1) per = 1;
    int made = 0;
    for (int start = 0; start < n_content || (made == 0 && bos); start += per) {
        if (made > 0 && e->p.long_mode == LLP_EMBED_TRUNCATE) {
            res->truncated = true;
            break;
        }
        int take = n_content - start < per ? n_content - start : per;
        if (take < 0) take = 0;
        if (*n_wins == *cap) {
            *cap = *cap ? *cap * 2 : 16;
            *wins = llp_realloc(*wins, sizeof(window) * (size_t)*cap);
        }
        window *w = &(*wins)[(*n_wins)++];
        w->text = text;
        w->n = take + (bos ? 1 : 0);
        w->ids = llp_malloc(sizeof(int32_t) * (size_t)w->n);
        int k = 0;
        if (bos) w->ids[k++] = bos_id;
        memcpy(w->ids + k, content + start, sizeof(int32_t) * (size_t)take);
        res->n_tokens += w->n;
        made++;
        if (take == 0) break;
    }
    res->n_chunks = made;
    return made;
}

/* Whether token j of a window gives an output row under the pooling. */
static bool wanted(llp_pooling p, int j, int n)
{
    switch (p) {
    case LLP_POOL_CLS: return j == 0;
    case LLP_POOL_LAST: return j == n - 1;
    case LLP_POOL_MEAN: break;
    }
    return true;
}

/* A window is complete: pool it into its text; a text is complete: write
 * its vector. */
static void finish_window(llp_embedder *e, slot *s, const window *w, text_acc *acc,
                          llp_embed_result *out)
{
    text_acc *t = &acc[w->text];
    for (int d = 0; d < e->dim; d++) t->sum[d] += s->sum[d] / s->rows * w->n;
    t->weight += w->n;
    if (--t->windows_left > 0) return;
    llp_embed_result *r = &out[w->text];
    r->vec = llp_malloc(sizeof(float) * (size_t)e->dim);
    for (int d = 0; d < e->dim; d++) r->vec[d] = (float)(t->sum[d] / t->weight);
    if (e->p.normalize == LLP_EMBED_L2) llp_l2_normalize(r->vec, e->dim);
}

/* Feed every window through the model, n_seq at a time. */
static int run_windows(llp_embedder *e, window *wins, int n_wins, text_acc *acc,
                       llp_embed_result *out, llp_err *err)
{
    slot *slots = llp_calloc((size_t)e->n_seq, sizeof(slot));
    for (int s = 0; s < e->n_seq; s++) {
        slots[s].win = -1;
        slots[s].sum = llp_malloc(sizeof(double) * (size_t)e->dim);
    }
    int next = 0, active = 0, rc = 0;
    while ((next < n_wins || active > 0) && rc == 0) {
        for (int s = 0; s < e->n_seq && next < n_wins; s++) {
            if (slots[s].win >= 0) continue;
            slots[s].win = next++;
            slots[s].fed = 0;
            slots[s].rows = 0;
            memset(slots[s].sum, 0, sizeof(double) * (size_t)e->dim);
            active++;
        }
        int n = 0, n_rows = 0;
        for (int s = 0; s < e->n_seq && n < e->n_batch; s++) {
            if (slots[s].win < 0) continue;
            const window *w = &wins[slots[s].win];
            while (slots[s].fed < w->n && n < e->n_batch) {
                int j = slots[s].fed++;
                e->tokens[n] = w->ids[j];
                e->pos[n] = j;
                e->seq[n] = s;
                e->want[n] = wanted(e->p.pooling, j, w->n);
                if (e->want[n]) e->row_slot[n_rows++] = s;
                n++;
            }
        }
        llp_batch b = { n, e->tokens, e->pos, e->seq, e->want };
        if (llp_decode(e->ctx, &b, NULL, e->hidden, err)) {
            rc = -1;
            break;
        }
        for (int r = 0; r < n_rows; r++) {
            slot *s = &slots[e->row_slot[r]];
            const float *h = e->hidden + (size_t)r * e->dim;
            for (int d = 0; d < e->dim; d++) s->sum[d] += h[d];
            s->rows++;
        }
        for (int s = 0; s < e->n_seq; s++) {
            if (slots[s].win < 0 || slots[s].fed < wins[slots[s].win].n) continue;
            finish_window(e, &slots[s], &wins[slots[s].win], acc, out);
            slots[s].win = -1;
            active--;
        }
    }
    for (int s = 0; s < e->n_seq; s++) free(slots[s].sum);
    free(slots);
    return rc;
}

int llp_embed_texts(llp_embedder *e, const char *const *texts, const size_t *lens, int n,
                    llp_embed_result *out, llp_err *err)
{
    bool bos = e->p.add_bos < 0 ? llp_tokenizer_add_bos(e->tok) : e->p.add_bos > 0;
    if (llp_tokenizer_bos(e->tok) < 0) bos = false;
    window *wins = NULL;
    int n_wins = 0, cap = 0, rc = 0;
    text_acc *acc = llp_calloc((size_t)(n > 0 ? n : 1), sizeof(text_acc));
    for (int i = 0; i < n && rc == 0; i++) {
        memset(&out[i], 0, sizeof out[i]);
        if (lens[i] == 0) {
            out[i].error = llp_strdup("empty text");
            continue;
        }
        llp_tokens ids = { 0 };
        if (llp_tokenize(e->tok, texts[i], lens[i], false, false, &ids, err)) {
            rc = -1;
            break;
        }
        acc[i].windows_left = make_windows(e, i, ids.ids, (int)ids.n, bos, &wins, &n_wins,
                                           &cap, &out[i]);
        acc[i].sum = llp_calloc((size_t)e->dim, sizeof(double));
        llp_tokens_free(&ids);
    }
    if (rc == 0) rc = run_windows(e, wins, n_wins, acc, out, err);
    if (rc != 0)
        for (int i = 0; i < n; i++) llp_embed_result_free(&out[i]);
    for (int w = 0; w < n_wins; w++) free(wins[w].ids);
    free(wins);
    for (int i = 0; i < n; i++) free(acc[i].sum);
    free(acc);
    return rc;
}

/* ---- search ----------------------------------------------------------------------- */

typedef struct search_state {
    const float *query;
    int dim, k, n;
    llp_neighbor *best;     /* (k) best first */
} search_state;

static int visit_vector(void *ctx, const char *record_id, const char *text,
                        const float *vec, int dim)
{
    search_state *st = ctx;
    if (dim != st->dim) return 0;
    float score = llp_cosine(st->query, vec, dim);
    if (st->n == st->k && !(score > st->best[st->k - 1].score)) return 0;
    int at = st->n < st->k ? st->n : st->k - 1;
    if (st->n == st->k) {
        free(st->best[at].record_id);
        free(st->best[at].text);
    } else {
        st->n++;
    }
    /* move worse hits down; equal scores stay ahead (store order) */
    while (at > 0 && score > st->best[at - 1].score) {
        st->best[at] = st->best[at - 1];
        at--;
    }
    st->best[at].record_id = llp_strdup(record_id);
    st->best[at].text = text ? llp_strdup(text) : NULL;
    st->best[at].score = score;
    return 0;
}

int llp_embed_search(llp_store *s, const char *collection, const char *model_fp,
                     const float *query, int dim, int k, llp_neighbor *out, int *n_out,
                     llp_err *err)
{
    *n_out = 0;
    if (k <= 0) return 0;
    search_state st = { query, dim, k, 0, out };
    if (llp_store_embeddings_each(s, collection, model_fp, visit_vector, &st, err)) {
        for (int i = 0; i < st.n; i++) {
            free(out[i].record_id);
            free(out[i].text);
        }
        return -1;
    }
    *n_out = st.n;
    return 0;
}
