/*
 * summarize_tree.c — the splitter and the map-reduce tree, without a model:
 * chunks fit their budget, cut at paragraphs before sentences before
 * whitespace before characters, and cover the text in order; the tree's
 * levels, counts, parents and children follow from the number of leaves
 * when each summary fills half a chunk; a lookup that knows every summary
 * makes no calls; on_node hears of each node as it finishes, in order; a
 * stop request between nodes or inside a call stops, keeping the nodes
 * finished before it; a failing on_node stops the tree; edge documents.
 *
 * Not for: summaries made by a model or the store (tests/cli_summarize.t).
 * The summarizer here is a stand-in that returns a prefix of its input.
 */
#include <stdlib.h>
#include <string.h>

#include "split.h"
#include "summarize.h"
#include "synth.h"
#include "quant.h"
#include "tap.h"

static llp_tokenizer *tok;

static int tokens(const char *s, size_t n) { return llp_count_tokens(tok, s, n, NULL); }

/* Every non-space byte of text is in exactly one span, spans in order,
 * none empty, none over max, none starting or ending with whitespace. */
static int covers(const char *text, const llp_span *sp, int n, int max)
{
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        if (sp[i].start < at || sp[i].end <= sp[i].start) return 0;
        for (size_t k = at; k < sp[i].start; k++)
            if (!strchr(" \t\r\n", text[k])) return 0;
        if (strchr(" \t\r\n", text[sp[i].start]) || strchr(" \t\r\n", text[sp[i].end - 1]))
            return 0;
        if (tokens(text + sp[i].start, sp[i].end - sp[i].start) > max) return 0;
        if (sp[i].n_tokens != tokens(text + sp[i].start, sp[i].end - sp[i].start)) return 0;
        at = sp[i].end;
    }
    for (size_t k = at; text[k]; k++)
        if (!strchr(" \t\r\n", text[k])) return 0;
    return 1;
}

static void test_split(void)
{
    const char paras[] = "First paragraph, one line.\n\nSecond paragraph\nhas two lines.\n"
                         "   \n\nThird. It has two sentences.\n";
    llp_span *sp;
    int n;
    llp_split_text(tok, paras, strlen(paras), 10000, &sp, &n, NULL);
    ok(n == 1 && covers(paras, sp, n, 10000), "a text that fits is one chunk");
    free(sp);
    int p2 = tokens("Second paragraph\nhas two lines.", 31);
    llp_split_text(tok, paras, strlen(paras), p2, &sp, &n, NULL);
    ok(n == 3 && covers(paras, sp, n, p2) &&
           strncmp(paras + sp[1].start, "Second paragraph\nhas two lines.", 31) == 0 &&
           sp[1].end - sp[1].start == 31,
       "a budget of one paragraph: one chunk per paragraph (%d chunks)", n);
    free(sp);

    char para[4000] = "";
    for (int i = 0; i < 30; i++) {
        char s[64];
        snprintf(s, sizeof s, "Sentence number %d ends here%s ", i, i % 3 ? "." : "!");
        strcat(para, s);
    }
    int max = tokens(para, strlen(para)) / 4;
    llp_split_text(tok, para, strlen(para), max, &sp, &n, NULL);
    int at_ends = 1;
    for (int i = 0; i < n; i++) {
        char last = para[sp[i].end - 1];
        if (last != '.' && last != '!') at_ends = 0;
    }
    ok(n >= 4 && covers(para, sp, n, max) && at_ends,
       "a paragraph over budget is cut at sentence ends (%d chunks of <= %d tokens)", n, max);
    free(sp);

    char run[3000] = "";
    for (int i = 0; i < 200; i++) strcat(run, i % 2 ? "word " : "another ");
    llp_split_text(tok, run, strlen(run), 40, &sp, &n, NULL);
    int at_space = 1;
    for (int i = 0; i < n - 1; i++)
        if (run[sp[i].end] != ' ') at_space = 0;
    ok(n > 1 && covers(run, sp, n, 40) && at_space,
       "a sentence over budget is cut at whitespace (%d chunks)", n);
    free(sp);

    char utf[1200] = "";
    for (int i = 0; i < 150; i++) strcat(utf, i % 5 ? "\xc3\xa9" : "\xe2\x82\xac");
    llp_split_text(tok, utf, strlen(utf), 25, &sp, &n, NULL);
    int boundaries = 1;
    for (int i = 0; i < n; i++)
        if (((unsigned char)utf[sp[i].start] & 0xC0) == 0x80) boundaries = 0;
    ok(n > 1 && covers(utf, sp, n, 25) && boundaries,
       "text without whitespace is cut between UTF-8 characters (%d chunks)", n);
    free(sp);

    llp_split_text(tok, " \n\n \t\n", 6, 10, &sp, &n, NULL);
    ok(n == 0 && sp == NULL, "whitespace only: no chunks");
    size_t k = llp_prefix_for_tokens(tok, "\xe2\x82\xac", 3, 0, false);
    is_int(k, 3, "a prefix always takes one whole character");
}

/* ---- the tree with a stand-in summarizer ------------------------------------ */

typedef struct fake {
    int summary_tokens;     /* each summary is a prefix of this many tokens */
    int calls, max_in;
    int chunk_tokens;
    int stop_after;         /* should_stop turns true after this many calls (0: never) */
    int stop_in_call;       /* this call (1-based) is cut short by a stop (0: none) */
} fake;

static fake F;

static int fake_summarize(void *ctx, int level, const char *text, size_t len, char **summary,
                          int *tin, int *tout, llp_err *err)
{
    fake *f = ctx;
    f->calls++;
    if (f->calls == f->stop_in_call) return LLP_SUMMARIZE_STOPPED;
    int n = tokens(text, len);
    if (n > f->max_in) f->max_in = n;
    /* repeat the text until long enough, then cut to the summary size */
    size_t cap = len * 8 + 64, m = 0;
    char *buf = malloc(cap);
    char tag[32];
    int tl = snprintf(tag, sizeof tag, "L%d ", level);
    memcpy(buf, tag, (size_t)tl);
    m = (size_t)tl;
    while (m + len + 2 < cap) {
        memcpy(buf + m, text, len);
        m += len;
        buf[m++] = ' ';
    }
    size_t keep = llp_prefix_for_tokens(tok, buf, m, f->summary_tokens, true);
    buf[keep] = 0;
    *summary = buf;
    *tin = n;
    *tout = tokens(buf, keep);
    (void)err;
    return 0;
}

static bool fake_stop(void) { return F.stop_after > 0 && F.calls >= F.stop_after; }

/* A lookup that knows the summaries of an earlier tree, by input text. */
static int tree_lookup(void *ctx, int level, const char *text, size_t len, char **summary,
                       llp_err *err)
{
    const llp_summary_tree *t = ctx;
    for (int i = 0; i < t->n_nodes; i++)
        if ((t->nodes[i].level == 1) == (level == 1) && strlen(t->nodes[i].input) == len &&
            memcmp(t->nodes[i].input, text, len) == 0) {
            *summary = llp_strdup(t->nodes[i].summary);
            return 1;
        }
    (void)err;
    return 0;
}

/* on_node: counts the nodes, checks they come in tree order with their
 * summary set, and fails at node fail_at (0: never). */
typedef struct heard {
    int n, fail_at, last_level, last_index;
    bool in_order;
} heard;

static int hear_node(void *ctx, const llp_summary_node *n, llp_err *err)
{
    heard *h = ctx;
    h->n++;
    bool next = n->level == h->last_level ? n->index == h->last_index + 1
                                          : n->level == h->last_level + 1 && n->index == 1;
    if (!next || !n->summary) h->in_order = false;
    h->last_level = n->level;
    h->last_index = n->index;
    if (h->n == h->fail_at) return llp_err_set(err, "store: disk full");
    return 0;
}

static char *long_document(int paragraphs)
{
    size_t cap = (size_t)paragraphs * 400 + 1, n = 0;
    char *d = malloc(cap);
    for (int p = 0; p < paragraphs; p++)
        n += (size_t)snprintf(d + n, cap - n,
                              "Paragraph %d tells of a river that ran past house %d. The "
                              "light was low and the road was long. Everyone went home.\n\n",
                              p, p * 7);
    return d;
}

static void check_structure(const llp_summary_tree *t, const char *doc)
{
    int want_levels = 1, c = t->n_leaves;
    int counts[64] = { 0 };
    counts[1] = c;
    while (c > 1) {
        c = (c + 1) / 2;
        counts[++want_levels] = c;
    }
    is_int(t->levels, want_levels, "%d leaves, two summaries per chunk: %d levels", t->n_leaves,
           want_levels);
    int per_level[64] = { 0 }, parents_ok = 1, children_ok = 1, order_ok = 1;
    size_t last_end = 0;
    int base[64] = { 0 };
    for (int i = 0; i < t->n_nodes; i++) {
        const llp_summary_node *n = &t->nodes[i];
        if (n->level < 1 || n->level > 63) return;
        if (per_level[n->level]++ == 0) base[n->level] = i;
        if (n->index != per_level[n->level]) order_ok = 0;
        if (n->level == 1) {
            if (n->start < last_end || n->end <= n->start || n->end > strlen(doc)) order_ok = 0;
            last_end = n->end;
        }
    }
    int counts_ok = 1;
    for (int l = 1; l <= t->levels; l++)
        if (per_level[l] != counts[l]) counts_ok = 0;
    ok(counts_ok, "nodes per level halve, rounding up");
    for (int i = 0; i < t->n_nodes; i++) {
        const llp_summary_node *n = &t->nodes[i];
        bool root = i == t->n_nodes - 1;
        if (root != (n->parent == 0)) parents_ok = 0;
        if (!root) {
            const llp_summary_node *p = &t->nodes[base[n->level + 1] + n->parent - 1];
            if (p->level != n->level + 1 || n->index < p->first_child ||
                n->index >= p->first_child + p->n_children)
                parents_ok = 0;
        }
        if (n->level > 1 && (n->n_children < 1 || n->n_children > 2)) children_ok = 0;
    }
    ok(parents_ok, "every node but the root has a parent one level up that lists it");
    ok(children_ok, "combining nodes have one or two children");
    ok(order_ok, "indexes count from 1 in order; leaves cover the document in order");
    const llp_summary_node *root = llp_summary_root(t);
    ok(root && root->level == t->levels && root->index == 1, "the root is L%d.1", t->levels);
}

static void test_tree(void)
{
    char *doc = long_document(40);
    F = (fake){ .chunk_tokens = 120 };
    F.summary_tokens = F.chunk_tokens / 2 - 10;
    llp_summarize_plan plan = { .tok = tok, .chunk_tokens = F.chunk_tokens,
                                .summarize = fake_summarize, .ctx = &F };
    llp_summary_tree t;
    llp_err err;
    int rc = llp_summarize_tree(&plan, doc, strlen(doc), &t, &err);
    ok(rc == 0, "a %d-token document in chunks of %d tokens", tokens(doc, strlen(doc)),
       F.chunk_tokens);
    ok(t.n_leaves >= 8, "%d leaf chunks", t.n_leaves);
    ok(t.levels >= 4, "at least three levels of combining (%d levels)", t.levels);
    check_structure(&t, doc);
    is_int(F.calls, t.n_nodes, "one call per node");
    ok(F.max_in <= F.chunk_tokens, "no call got more than a chunk (%d tokens)", F.max_in);

    /* a second run whose lookup knows every summary makes no call */
    fake again = F;
    again.calls = 0;
    llp_summarize_plan p2 = plan;
    p2.ctx = &again;
    p2.lookup = tree_lookup;
    p2.lookup_ctx = &t;
    llp_summary_tree t2;
    llp_summarize_tree(&p2, doc, strlen(doc), &t2, &err);
    int same = t2.n_nodes == t.n_nodes && t2.levels == t.levels;
    for (int i = 0; same && i < t.n_nodes; i++)
        same = strcmp(t.nodes[i].summary, t2.nodes[i].summary) == 0 && t2.nodes[i].cached;
    ok(same && again.calls == 0, "every summary found by the lookup: no calls, same tree");
    llp_summary_tree_free(&t2);
    llp_summary_tree_free(&t);

    F.calls = 0;
    F.stop_after = 3;
    plan.should_stop = fake_stop;
    rc = llp_summarize_tree(&plan, doc, strlen(doc), &t, &err);
    ok(rc == LLP_SUMMARIZE_STOPPED && t.n_nodes == 0 && F.calls == 3,
       "a stop request ends the tree after the call in progress");
    plan.should_stop = NULL;
    F.stop_after = 0;

    heard h = { .in_order = true };
    plan.on_node = hear_node;
    plan.node_ctx = &h;
    F.calls = 0;
    rc = llp_summarize_tree(&plan, doc, strlen(doc), &t, &err);
    ok(rc == 0 && h.n == t.n_nodes && h.in_order,
       "on_node hears of every node once, level by level, in order (%d of %d)", h.n, t.n_nodes);
    int all_nodes = t.n_nodes;
    llp_summary_tree_free(&t);
    h = (heard){ .in_order = true };
    F.calls = 0;
    F.stop_in_call = 5;
    rc = llp_summarize_tree(&plan, doc, strlen(doc), &t, &err);
    ok(rc == LLP_SUMMARIZE_STOPPED && h.n == 4 && t.n_nodes == 0,
       "a stop inside the 5th call: the 4 nodes before it were handed on, not the 5th (%d)",
       h.n);
    F.stop_in_call = 0;
    h = (heard){ .in_order = true, .fail_at = all_nodes - 1 };
    F.calls = 0;
    rc = llp_summarize_tree(&plan, doc, strlen(doc), &t, &err);
    ok(rc == LLP_SUMMARIZE_FATAL && strcmp(err.msg, "store: disk full") == 0 &&
           F.calls == all_nodes - 1,
       "on_node failing stops the tree at once, as fatal, with its message");
    plan.on_node = NULL;
    free(doc);

    const char small[] = "A short note.\n\nIt fits.";
    rc = llp_summarize_tree(&plan, small, strlen(small), &t, &err);
    ok(rc == 0 && t.n_nodes == 1 && t.levels == 1 && t.n_leaves == 1 && t.nodes[0].parent == 0,
       "a document that fits is one node, L1.1, the root");
    llp_summary_tree_free(&t);
    rc = llp_summarize_tree(&plan, "  \n\n ", 5, &t, &err);
    ok(rc == -1 && strcmp(err.msg, "the document holds only whitespace") == 0,
       "whitespace only: an error");
}

int main(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/summarize_tree_%d.gguf", tmp_dir(), (int)getpid());
    llp_synth_spec spec = { 0 };
    llp_synth_shape("tiny", &spec);
    spec.type = LLP_F32;
    spec.output_type = LLP_TYPE_COUNT;
    llp_err err;
    if (llp_synth_write(&spec, path, &err) || !(tok = llp_tokenizer_load(path, &err))) {
        diag("%s", err.msg);
        ok(0, "synthetic vocabulary");
        return done_testing();
    }
    unlink(path);
    test_split();
    test_tree();
    llp_tokenizer_free(tok);
    return done_testing();
}
