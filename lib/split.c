/*
 * split.c — chunks of a text within a token budget (split.h).
 *
 * Not for: what the chunks are used for (summarize.c).
 *
 * Two passes. First the text becomes a list of units, each within the
 * budget: paragraphs; a paragraph over budget becomes its sentences (and
 * lines); a sentence over budget becomes windows cut at whitespace. Then
 * consecutive units are packed into chunks while the chunk still fits,
 * estimated from the units' own counts and checked by tokenizing the chunk
 * once it closes.
 */
#include "split.h"

#include <stdlib.h>
#include <string.h>

/* Tokens a join between two units may add (a blank line is two newline
 * tokens, and a word after a newline can cost one more than after a space). */
#define JOIN_TOKENS 3

/* A Llama vocabulary piece is at most a few dozen bytes: a prefix holding
 * max_tokens tokens is never longer than this many bytes per token. */
#define MAX_BYTES_PER_TOKEN 64

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

int llp_count_tokens(const llp_tokenizer *tok, const char *text, size_t len, llp_err *err)
{
    llp_tokens t = { 0 };
    if (llp_tokenize(tok, text, len, false, false, &t, err)) return -1;
    int n = (int)t.n;
    llp_tokens_free(&t);
    return n;
}

size_t llp_prefix_for_tokens(const llp_tokenizer *tok, const char *text, size_t len,
                             int max_tokens, bool prefer_space)
{
    if (len == 0) return 0;
    size_t cap = (size_t)(max_tokens > 0 ? max_tokens : 1) * MAX_BYTES_PER_TOKEN;
    size_t hi = len < cap ? len : cap, lo = 0;
    if (hi == len && llp_count_tokens(tok, text, len, NULL) <= max_tokens) return len;
    /* largest prefix length in [0, hi] whose count fits */
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2;
        int n = llp_count_tokens(tok, text, mid, NULL);
        if (n >= 0 && n <= max_tokens) lo = mid;
        else hi = mid - 1;
    }
    while (lo > 0 && lo < len && is_continuation((unsigned char)text[lo])) lo--;
    if (lo == 0) {
        /* not even one character fits: take one anyway */
        lo = 1;
        while (lo < len && is_continuation((unsigned char)text[lo])) lo++;
        return lo;
    }
    if (prefer_space) {
        for (size_t i = lo; i > lo / 2; i--)
            if (is_space(text[i - 1])) return i - 1 > 0 ? i - 1 : lo;
    }
    return lo;
}

/* ---- units ----------------------------------------------------------------- */

typedef struct unit_list {
    llp_span *v;
    int n, cap;
} unit_list;

static void units_push(unit_list *u, size_t start, size_t end, int n_tokens)
{
    if (u->n == u->cap) {
        u->cap = u->cap ? u->cap * 2 : 64;
        u->v = llp_realloc(u->v, sizeof(llp_span) * (size_t)u->cap);
    }
    u->v[u->n++] = (llp_span){ start, end, n_tokens };
}

static void trim(const char *t, size_t *s, size_t *e)
{
    while (*s < *e && is_space(t[*s])) (*s)++;
    while (*e > *s && is_space(t[*e - 1])) (*e)--;
}

typedef struct splitter {
    const llp_tokenizer *tok;
    const char *text;
    int max;
    unit_list units;
    llp_err *err;
} splitter;

/* A piece of text too long for the budget, with no boundary left to cut
 * at: windows that fit, cut at whitespace where possible. */
static int add_windows(splitter *sp, size_t s, size_t e)
{
    while (s < e) {
        size_t n = llp_prefix_for_tokens(sp->tok, sp->text + s, e - s, sp->max, true);
        size_t ws = s, we = s + n;
        trim(sp->text, &ws, &we);
        if (we > ws) {
            int k = llp_count_tokens(sp->tok, sp->text + ws, we - ws, sp->err);
            if (k < 0) return -1;
            units_push(&sp->units, ws, we, k);
        }
        s += n;
        while (s < e && is_space(sp->text[s])) s++;
    }
    return 0;
}

/* A span that fits becomes one unit; one that does not is handed to the
 * next finer cut. */
static int add_or_refine(splitter *sp, size_t s, size_t e, int (*finer)(splitter *, size_t, size_t))
{
    trim(sp->text, &s, &e);
    if (s == e) return 0;
    int n = llp_count_tokens(sp->tok, sp->text + s, e - s, sp->err);
    if (n < 0) return -1;
    if (n <= sp->max) {
        units_push(&sp->units, s, e, n);
        return 0;
    }
    return finer(sp, s, e);
}

/* Sentence ends: . ! ? (then any closing quotes or brackets) before
 * whitespace, and every line end. */
static int add_sentences(splitter *sp, size_t s, size_t e)
{
    const char *t = sp->text;
    size_t cur = s;
    for (size_t i = s; i < e; i++) {
        size_t cut = 0;
        if (t[i] == '\n') {
            cut = i;
        } else if (t[i] == '.' || t[i] == '!' || t[i] == '?') {
            size_t j = i + 1;
            while (j < e && strchr("\"')]", t[j]) && t[j]) j++;
            if (j < e && is_space(t[j])) cut = j;
        }
        if (cut > cur) {
            if (add_or_refine(sp, cur, cut, add_windows)) return -1;
            cur = cut;
        }
    }
    return add_or_refine(sp, cur, e, add_windows);
}

/* Paragraphs: runs of lines separated by lines holding only whitespace. */
static int add_paragraphs(splitter *sp, size_t len)
{
    const char *t = sp->text;
    size_t pos = 0, para = 0;
    bool open = false;
    while (pos < len) {
        const char *nl = memchr(t + pos, '\n', len - pos);
        size_t line_end = nl ? (size_t)(nl - t) : len;
        bool blank = true;
        for (size_t i = pos; i < line_end && blank; i++) blank = is_space(t[i]);
        if (blank && open) {
            if (add_or_refine(sp, para, pos, add_sentences)) return -1;
            open = false;
        } else if (!blank && !open) {
            para = pos;
            open = true;
        }
        pos = line_end + 1;
    }
    if (open) return add_or_refine(sp, para, len, add_sentences);
    return 0;
}

/* ---- packing ------------------------------------------------------------------ */

int llp_split_text(const llp_tokenizer *tok, const char *text, size_t len, int max_tokens,
                   llp_span **out, int *n_out, llp_err *err)
{
    *out = NULL;
    *n_out = 0;
    if (max_tokens < 1) max_tokens = 1;
    splitter sp = { tok, text, max_tokens, { 0 }, err };
    if (add_paragraphs(&sp, len)) {
        free(sp.units.v);
        return -1;
    }
    llp_span *chunks = llp_malloc(sizeof(llp_span) * (size_t)(sp.units.n ? sp.units.n : 1));
    int n = 0;
    const llp_span *u = sp.units.v;
    for (int i = 0; i < sp.units.n;) {
        int j = i, est = u[i].n_tokens;
        while (j + 1 < sp.units.n && est + JOIN_TOKENS + u[j + 1].n_tokens <= max_tokens) {
            est += JOIN_TOKENS + u[j + 1].n_tokens;
            j++;
        }
        int exact = u[i].n_tokens;
        for (;;) {
            if (j == i) break;
            exact = llp_count_tokens(tok, text + u[i].start, u[j].end - u[i].start, err);
            if (exact < 0) {
                free(chunks);
                free(sp.units.v);
                return -1;
            }
            if (exact <= max_tokens) break;
            j--;
            exact = u[i].n_tokens;
        }
        chunks[n++] = (llp_span){ u[i].start, u[j].end, exact };
        i = j + 1;
    }
    free(sp.units.v);
    if (n == 0) {
        free(chunks);
        chunks = NULL;
    }
    *out = chunks;
    *n_out = n;
    return 0;
}
