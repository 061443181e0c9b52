/*
 * summary_tree.c — the map-reduce tree of one document (summarize.h),
 * built incrementally: the chunks are known at once, and each combining
 * node is formed as soon as the summaries it joins are known, so a caller
 * running many summaries at once (the summarize task, over the scheduler's
 * sequences) keeps every node whose input is ready in flight. The
 * synchronous llp_summarize_tree drives the same builder one node at a
 * time.
 *
 * Not for: the model, prompts or the store (summarize.c), splitting text
 * (split.c).
 *
 * Grouping, level k over the nodes of level k-1 from a cursor: a group
 * takes two summaries (or the one left at the end of a closed level), then
 * one more while the joined text still fits a chunk. Deciding whether the
 * next summary fits needs that summary, so a group is formed the moment
 * its last member and the one after it (or the end of the level) are
 * known. The groups are therefore the ones a level-by-level build makes,
 * whatever order the summaries finish in. A level is closed when its
 * cursor has passed every node of the level below and that level is
 * closed; a closed level of one node is the root.
 */
#include "summarize.h"

#include <stdlib.h>
#include <string.h>

#include "split.h"

/* Tokens a blank line between two joined summaries may cost. */
#define JOIN_TOKENS 4

enum node_state { NODE_READY, NODE_RUNNING, NODE_DONE };

typedef struct level {
    llp_summary_node *nodes;
    enum node_state *state;
    int n, cap;
    bool closed;             /* no node will be added */
    int cursor;              /* level k > 1: next node of level k-1 to group */
} level;

struct llp_summary_build {
    llp_summarize_plan plan;
    level *levels;           /* levels[0] is level 1 */
    int n_levels, cap_levels;
    int n_leaves;
    int tokens_in, tokens_out;
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* A malloc'd copy of s[0..n) without surrounding whitespace. */
static char *trimmed(const char *s, size_t n)
{
    size_t a = 0;
    while (a < n && is_space(s[a])) a++;
    while (n > a && is_space(s[n - 1])) n--;
    return llp_strndup(s + a, n - a);
}

static level *level_at(llp_summary_build *b, int k)
{
    while (b->n_levels < k) {
        if (b->n_levels == b->cap_levels) {
            b->cap_levels = b->cap_levels ? 2 * b->cap_levels : 8;
            b->levels = llp_realloc(b->levels, sizeof *b->levels * (size_t)b->cap_levels);
        }
        memset(&b->levels[b->n_levels++], 0, sizeof *b->levels);
    }
    return &b->levels[k - 1];
}

static llp_summary_node *add_node(level *L, int level_no)
{
    if (L->n == L->cap) {
        L->cap = L->cap ? 2 * L->cap : 16;
        L->nodes = llp_realloc(L->nodes, sizeof *L->nodes * (size_t)L->cap);
        L->state = llp_realloc(L->state, sizeof *L->state * (size_t)L->cap);
    }
    llp_summary_node *n = &L->nodes[L->n];
    memset(n, 0, sizeof *n);
    n->level = level_no;
    n->index = L->n + 1;
    L->state[L->n++] = NODE_READY;
    return n;
}

static int node_id(int level_no, int index) { return (level_no << 24) | (index - 1); }

static llp_summary_node *node_of(llp_summary_build *b, int id, enum node_state **state)
{
    int k = id >> 24, i = id & 0xffffff;
    if (k < 1 || k > b->n_levels || i >= b->levels[k - 1].n) return NULL;
    *state = &b->levels[k - 1].state[i];
    return &b->levels[k - 1].nodes[i];
}

/* A summary shortened to at most max tokens (normally it already is). */
static char *clipped(const llp_tokenizer *tok, const char *s, int max)
{
    size_t keep = llp_prefix_for_tokens(tok, s, strlen(s), max, true);
    return trimmed(s, keep);
}

/* Summaries [first, first + count) of L, each clipped, joined by blank
 * lines (empty ones left out). */
static char *join(const level *L, const llp_tokenizer *tok, int first, int count, int clip)
{
    size_t cap = 1, n = 0;
    for (int i = 0; i < count; i++) cap += strlen(L->nodes[first + i].summary) + 2;
    char *out = llp_malloc(cap);
    for (int i = 0; i < count; i++) {
        char *c = clipped(tok, L->nodes[first + i].summary, clip);
        size_t cl = strlen(c);
        if (cl > 0) {
            if (n > 0) {
                memcpy(out + n, "\n\n", 2);
                n += 2;
            }
            memcpy(out + n, c, cl);
            n += cl;
        }
        free(c);
    }
    out[n] = 0;
    return out;
}

static bool done_at(const level *L, int i) { return i < L->n && L->state[i] == NODE_DONE; }

/* Form every group of level k that can be decided now. Returns 0 or -1
 * with err (counting tokens failed). */
static int group_level(llp_summary_build *b, int k, llp_err *err)
{
    const llp_summarize_plan *p = &b->plan;
    int clip = p->chunk_tokens / 2 - JOIN_TOKENS;
    if (clip < 1) clip = 1;
    for (;;) {
        level *below = &b->levels[k - 2], *L = level_at(b, k);
        below = &b->levels[k - 2];          /* level_at may move the array */
        int c = L->cursor;
        if (below->closed && c == below->n) {
            L->closed = true;
            return 0;
        }
        int take = below->closed && below->n - c < 2 ? below->n - c : 2;
        for (int i = 0; i < take; i++)
            if (!done_at(below, c + i)) return 0;
        char *joined = join(below, p->tok, c, take, clip);
        for (;;) {
            if (c + take == below->n && below->closed) break;   /* the level ends here */
            if (!done_at(below, c + take)) {                      /* not known yet: wait */
                free(joined);
                return 0;
            }
            char *more = join(below, p->tok, c, take + 1, clip);
            int n = llp_count_tokens(p->tok, more, strlen(more), err);
            if (n < 0) {
                free(more);
                free(joined);
                return -1;
            }
            if (n > p->chunk_tokens) {
                free(more);
                break;
            }
            free(joined);
            joined = more;
            take++;
        }
        llp_summary_node *n = add_node(L, k);
        n->first_child = c + 1;
        n->n_children = take;
        n->input = joined;
        for (int i = 0; i < take; i++) below->nodes[c + i].parent = n->index;
        L->cursor = c + take;
    }
}

/* Group every level that can move; a closed level of one node is the
 * root and has no level above. */
static int regroup(llp_summary_build *b, llp_err *err)
{
    for (int k = 2;; k++) {
        level *below = &b->levels[k - 2];
        if (below->closed && below->n <= 1) return 0;
        if (below->n < 2 && !below->closed) return 0;
        if (group_level(b, k, err)) return -1;
    }
}

/* The node now has its summary: tell on_node, then group what it allows. */
static int finish(llp_summary_build *b, llp_summary_node *n, enum node_state *st, llp_err *err)
{
    *st = NODE_DONE;
    const llp_summarize_plan *p = &b->plan;
    if (p->on_node && p->on_node(p->node_ctx, n, err)) return LLP_SUMMARIZE_FATAL;
    return regroup(b, err);
}

llp_summary_build *llp_summary_build_new(const llp_summarize_plan *p, const char *text,
                                         size_t len, llp_err *err)
{
    llp_span *spans;
    int n_spans;
    if (llp_split_text(p->tok, text, len, p->chunk_tokens, &spans, &n_spans, err)) return NULL;
    if (n_spans == 0) {
        free(spans);
        llp_err_set(err, "the document holds only whitespace");
        return NULL;
    }
    llp_summary_build *b = llp_calloc(1, sizeof *b);
    b->plan = *p;
    level *L = level_at(b, 1);
    for (int i = 0; i < n_spans; i++) {
        llp_summary_node *n = add_node(L, 1);
        n->start = spans[i].start;
        n->end = spans[i].end;
        n->input = llp_strndup(text + spans[i].start, spans[i].end - spans[i].start);
    }
    L->closed = true;
    b->n_leaves = n_spans;
    free(spans);
    return b;
}

void llp_summary_build_free(llp_summary_build *b)
{
    if (!b) return;
    for (int k = 0; k < b->n_levels; k++) {
        level *L = &b->levels[k];
        for (int i = 0; i < L->n; i++) {
            free(L->nodes[i].input);
            free(L->nodes[i].summary);
        }
        free(L->nodes);
        free(L->state);
    }
    free(b->levels);
    free(b);
}

int llp_summary_build_next(llp_summary_build *b, llp_summary_want *w, llp_err *err)
{
    const llp_summarize_plan *p = &b->plan;
again:
    /* lowest level first: a synchronous build goes level by level */
    for (int k = 1; k <= b->n_levels; k++) {
        level *L = &b->levels[k - 1];
        for (int i = 0; i < L->n; i++) {
            if (L->state[i] != NODE_READY) continue;
            llp_summary_node *n = &L->nodes[i];
            size_t len = strlen(n->input), s0 = 0;
            while (s0 < len && is_space(n->input[s0])) s0++;
            if (s0 == len) {
                /* joined summaries that are all empty: an empty summary, no call */
                n->summary = llp_strdup("");
            } else if (p->lookup) {
                char *s = NULL;
                int hit = p->lookup(p->lookup_ctx, n->level, n->input, len, &s, err);
                if (hit < 0) return -1;
                if (hit) {
                    n->summary = trimmed(s, strlen(s));
                    n->cached = true;
                    free(s);
                }
            }
            if (n->summary) {
                int rc = finish(b, n, &L->state[i], err);
                if (rc) return rc;
                goto again;     /* it may have formed nodes at any level */
            }
            L->state[i] = NODE_RUNNING;
            w->node = node_id(k, n->index);
            w->level = k;
            w->text = n->input;
            w->len = len;
            return 1;
        }
    }
    return 0;
}

int llp_summary_build_done(llp_summary_build *b, int node, const char *summary, int tokens_in,
                           int tokens_out, llp_err *err)
{
    enum node_state *st;
    llp_summary_node *n = node_of(b, node, &st);
    if (!n || *st != NODE_RUNNING) return llp_err_set(err, "summary of an unknown node");
    n->summary = trimmed(summary, strlen(summary));
    n->tokens_in = tokens_in;
    n->tokens_out = tokens_out;
    b->tokens_in += tokens_in;
    b->tokens_out += tokens_out;
    return finish(b, n, st, err);
}

bool llp_summary_build_finished(const llp_summary_build *b)
{
    if (b->n_levels == 0) return false;
    const level *top = &b->levels[b->n_levels - 1];
    return top->closed && top->n == 1 && top->state[0] == NODE_DONE;
}

void llp_summary_build_take(llp_summary_build *b, llp_summary_tree *out)
{
    memset(out, 0, sizeof *out);
    int total = 0;
    for (int k = 0; k < b->n_levels; k++) total += b->levels[k].n;
    out->nodes = llp_calloc((size_t)total, sizeof *out->nodes);
    for (int k = 0; k < b->n_levels; k++) {
        level *L = &b->levels[k];
        memcpy(out->nodes + out->n_nodes, L->nodes, sizeof *L->nodes * (size_t)L->n);
        out->n_nodes += L->n;
        L->n = 0;   /* the strings now belong to the tree */
    }
    out->levels = b->n_levels;
    out->n_leaves = b->n_leaves;
    out->tokens_in = b->tokens_in;
    out->tokens_out = b->tokens_out;
}

int llp_summarize_tree(const llp_summarize_plan *p, const char *text, size_t len,
                       llp_summary_tree *out, llp_err *err)
{
    memset(out, 0, sizeof *out);
    llp_summary_build *b = llp_summary_build_new(p, text, len, err);
    if (!b) return -1;
    llp_summary_want w;
    int rc;
    while ((rc = llp_summary_build_next(b, &w, err)) == 1) {
        if (p->should_stop && p->should_stop()) {
            rc = LLP_SUMMARIZE_STOPPED;
            break;
        }
        char *s = NULL;
        int tin = 0, tout = 0;
        rc = p->summarize(p->ctx, w.level, w.text, w.len, &s, &tin, &tout, err);
        if (rc) {
            if (rc != LLP_SUMMARIZE_STOPPED) rc = -1;
            break;
        }
        rc = llp_summary_build_done(b, w.node, s, tin, tout, err);
        free(s);
        if (rc) break;
    }
    if (rc == 0 && !llp_summary_build_finished(b))
        rc = llp_err_set(err, "the summary tree ended without a root");
    if (rc == 0) llp_summary_build_take(b, out);
    llp_summary_build_free(b);
    return rc;
}
