/*
 * tokenizer.c — the Llama SentencePiece-BPE tokenizer (see tokenizer.h for
 * the rules it follows and the API).
 *
 * Not for: chat templates, model weights, or other tokenizer families.
 *
 * Layout of this file: loading and validating the vocabulary; two small
 * open-addressing hash tables (piece text -> id, and a set of character
 * pairs found inside pieces); the BPE merge loop over one chunk of text;
 * splitting a text at special tokens and into chunks; decoding.
 *
 * Why a hand-written hash table: the keys are the pieces the tokenizer
 * already stores contiguously, so a table of int32 ids (8 bytes a piece,
 * no per-key allocation, lookup by (pointer, length) straight into the text
 * being tokenized) is both smaller and faster than a general string map, and
 * it is thirty lines.
 */
#include "tokenizer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

/* "▁" (U+2581), SentencePiece's visible space. */
static const char SPACE_MARK[] = "\xE2\x96\x81";
#define SPACE_MARK_LEN 3

/* Longest text llp_tokenize takes in one call: keeps every offset of the
 * escaped text (a space grows to 3 bytes) inside 32 bits. */
#define MAX_TEXT_BYTES ((size_t)512 << 20)

/* A chunk is cut at the first safe character pair after this many
 * characters; smaller chunks only add per-chunk overhead. */
#define CHUNK_MIN_CHARS 64

/* ---- hash tables -------------------------------------------------------- */

static uint64_t hash_bytes(const char *s, size_t n, uint64_t seed)
{
    /* FNV-1a, 64-bit: short keys, good enough spread for power-of-two tables. */
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Piece text -> id. Slots hold ids (-1 empty); keys are compared against
 * the tokenizer's stored pieces. */
typedef struct piece_map {
    int32_t *slot;
    size_t mask;
} piece_map;

/* Character pairs that occur inside some mergeable piece, as 64-bit hashes
 * of their bytes (0 empty). A hash collision can only make a pair look
 * present, which makes a chunk longer, never a result different. */
typedef struct pair_set {
    uint64_t *slot;
    size_t mask;
} pair_set;

struct llp_tokenizer {
    int32_t n_vocab;
    char *text;            /* every piece, each followed by a NUL */
    size_t *piece_off;     /* (n_vocab) offset of each piece in text */
    uint32_t *piece_len;   /* (n_vocab) bytes */
    float *score;          /* (n_vocab) merge priority; NaN read as -inf */
    uint8_t *type;         /* (n_vocab) enum llp_token_type */
    int16_t *byte_value;   /* (n_vocab) 0..255 for byte tokens, else -1 */

    piece_map all;         /* every piece (llp_token_find) */
    piece_map mergeable;   /* normal and user-defined pieces */
    pair_set pairs;        /* adjacent characters inside mergeable pieces */

    int32_t byte_token[256];   /* byte fallback: <0xXX>, else the 1-byte piece, else unk */
    int32_t *specials;     /* control, unknown, user-defined ids, longest piece first */
    int32_t n_specials;

    int32_t bos, eos, unk;
    bool add_bos, add_eos, add_space_prefix, has_chat_template;
};

static size_t table_size_for(size_t n)
{
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    return cap;
}

static const char *piece_at(const llp_tokenizer *t, int32_t id) { return t->text + t->piece_off[id]; }

static void piece_map_build(piece_map *m, const llp_tokenizer *t, bool mergeable_only)
{
    size_t cap = table_size_for((size_t)t->n_vocab);
    m->slot = llp_malloc(cap * sizeof *m->slot);
    m->mask = cap - 1;
    for (size_t i = 0; i < cap; i++) m->slot[i] = -1;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        if (mergeable_only && t->type[id] != LLP_TOKEN_NORMAL && t->type[id] != LLP_TOKEN_USER_DEFINED)
            continue;
        const char *p = piece_at(t, id);
        size_t len = t->piece_len[id];
        size_t i = hash_bytes(p, len, 0) & m->mask;
        for (;; i = (i + 1) & m->mask) {
            int32_t other = m->slot[i];
            if (other < 0) { m->slot[i] = id; break; }
            if (t->piece_len[other] == len && memcmp(piece_at(t, other), p, len) == 0) {
                m->slot[i] = id;   /* a repeated piece: the last id wins, as in the reference */
                break;
            }
        }
    }
}

static int32_t piece_map_find(const piece_map *m, const llp_tokenizer *t, const char *s, size_t len)
{
    for (size_t i = hash_bytes(s, len, 0) & m->mask;; i = (i + 1) & m->mask) {
        int32_t id = m->slot[i];
        if (id < 0) return -1;
        if (t->piece_len[id] == len && memcmp(piece_at(t, id), s, len) == 0) return id;
    }
}

static uint64_t pair_hash(const char *s, size_t len)
{
    return hash_bytes(s, len, 0x9e3779b97f4a7c15ull) | 1;   /* never 0 */
}

static void pair_set_add(pair_set *ps, uint64_t h)
{
    for (size_t i = h & ps->mask;; i = (i + 1) & ps->mask) {
        if (ps->slot[i] == h) return;
        if (ps->slot[i] == 0) { ps->slot[i] = h; return; }
    }
}

static bool pair_set_has(const pair_set *ps, uint64_t h)
{
    for (size_t i = h & ps->mask;; i = (i + 1) & ps->mask) {
        if (ps->slot[i] == h) return true;
        if (ps->slot[i] == 0) return false;
    }
}

/* Length of the character starting at s (n bytes left): a valid UTF-8
 * sequence, else the single byte. */
static size_t char_len(const char *s, size_t n)
{
    if ((unsigned char)s[0] < 0x80) return 1;
    size_t k = llp_utf8_seq_len((const unsigned char *)s, n);
    return k ? k : 1;
}

static void pair_set_build(pair_set *ps, const llp_tokenizer *t)
{
    size_t n_pairs = 0;
    for (int32_t id = 0; id < t->n_vocab; id++) n_pairs += t->piece_len[id];
    size_t cap = table_size_for(n_pairs);
    ps->slot = llp_calloc(cap, sizeof *ps->slot);
    ps->mask = cap - 1;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        if (t->type[id] != LLP_TOKEN_NORMAL && t->type[id] != LLP_TOKEN_USER_DEFINED) continue;
        const char *p = piece_at(t, id);
        size_t len = t->piece_len[id], i = 0;
        while (i < len) {
            size_t a = char_len(p + i, len - i);
            if (i + a >= len) break;
            size_t b = char_len(p + i + a, len - i - a);
            pair_set_add(ps, pair_hash(p + i, a + b));
            i += a;
        }
    }
}

/* ---- loading ------------------------------------------------------------ */

void llp_tokenizer_free(llp_tokenizer *t)
{
    if (!t) return;
    free(t->text);
    free(t->piece_off);
    free(t->piece_len);
    free(t->score);
    free(t->type);
    free(t->byte_value);
    free(t->all.slot);
    free(t->mergeable.slot);
    free(t->pairs.slot);
    free(t->specials);
    free(t);
}

/* Optional boolean key: absent keeps *out; wrong type is an error. */
static int read_bool(const gguf_file *f, const char *key, bool *out, llp_err *err)
{
    int rc = gguf_get_bool(f, key, out);
    if (rc == -2) return llp_err_set(err, "%s: %s is not a boolean", gguf_path(f), key);
    return 0;
}

/* Optional token id key: absent keeps *out; out of range gives -1. */
static int read_id(const gguf_file *f, const char *key, int32_t n_vocab, int32_t *out, llp_err *err)
{
    int64_t v;
    int rc = gguf_get_int(f, key, &v);
    if (rc == -2) return llp_err_set(err, "%s: %s is not an integer", gguf_path(f), key);
    if (rc == 0) *out = (v >= 0 && v < n_vocab) ? (int32_t)v : -1;
    else if (*out >= n_vocab) *out = -1;
    return 0;
}

static bool is_int_type(uint32_t t)
{
    return t == GGUF_U8 || t == GGUF_I8 || t == GGUF_U16 || t == GGUF_I16 || t == GGUF_U32 ||
           t == GGUF_I32 || t == GGUF_U64 || t == GGUF_I64;
}

/* Parse "<0xXX>" (either hex case); -1 when the piece is not of that form. */
static int parse_byte_piece(const char *p, size_t len)
{
    if (len != 6 || memcmp(p, "<0x", 3) != 0 || p[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0'
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
              : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

static int cmp_special(const void *a, const void *b, void *ctx)
{
    const llp_tokenizer *t = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (t->piece_len[x] != t->piece_len[y]) return t->piece_len[x] > t->piece_len[y] ? -1 : 1;
    return (x > y) - (x < y);
}

/* Read tokens, scores and types into t (n_vocab set). */
static int load_pieces(llp_tokenizer *t, const gguf_file *f, llp_err *err)
{
    const char *path = gguf_path(f);
    int32_t n = t->n_vocab;
    size_t total = 0;
    for (int32_t i = 0; i < n; i++) {
        size_t len;
        if (!gguf_arr_str(f, "tokenizer.ggml.tokens", (uint64_t)i, &len))
            return llp_err_set(err, "%s: token %d cannot be read (tokenizer.ggml.tokens)", path, i);
        if (len > UINT32_MAX)
            return llp_err_set(err, "%s: token %d is %zu bytes long (tokenizer.ggml.tokens)", path, i, len);
        total += len + 1;
    }
    t->text = llp_malloc(total);
    t->piece_off = llp_malloc((size_t)n * sizeof *t->piece_off);
    t->piece_len = llp_malloc((size_t)n * sizeof *t->piece_len);
    t->score = llp_malloc((size_t)n * sizeof *t->score);
    t->type = llp_malloc((size_t)n * sizeof *t->type);
    t->byte_value = llp_malloc((size_t)n * sizeof *t->byte_value);

    size_t off = 0;
    for (int32_t i = 0; i < n; i++) {
        size_t len;
        const char *s = gguf_arr_str(f, "tokenizer.ggml.tokens", (uint64_t)i, &len);
        memcpy(t->text + off, s, len);
        t->text[off + len] = '\0';
        t->piece_off[i] = off;
        t->piece_len[i] = (uint32_t)len;
        off += len + 1;
    }

    uint32_t et;
    uint64_t count;
    int rc = gguf_get_arr(f, "tokenizer.ggml.scores", &et, &count);
    if (rc == -2) return llp_err_set(err, "%s: tokenizer.ggml.scores is not an array", path);
    if (rc == 0) {
        if (et != GGUF_F32 && et != GGUF_F64)
            return llp_err_set(err, "%s: tokenizer.ggml.scores holds type %u, not floats", path, et);
        if (count != (uint64_t)n)
            return llp_err_set(err, "%s: tokenizer.ggml.scores has %llu entries, tokenizer.ggml.tokens has %d",
                               path, (unsigned long long)count, n);
    }
    for (int32_t i = 0; i < n; i++) {
        float s = rc == 0 ? (float)gguf_arr_float(f, "tokenizer.ggml.scores", (uint64_t)i) : 0.0f;
        t->score[i] = isnan(s) ? -INFINITY : s;
    }

    rc = gguf_get_arr(f, "tokenizer.ggml.token_type", &et, &count);
    if (rc == -2) return llp_err_set(err, "%s: tokenizer.ggml.token_type is not an array", path);
    if (rc == 0) {
        if (!is_int_type(et))
            return llp_err_set(err, "%s: tokenizer.ggml.token_type holds type %u, not integers", path, et);
        if (count != (uint64_t)n)
            return llp_err_set(err, "%s: tokenizer.ggml.token_type has %llu entries, tokenizer.ggml.tokens has %d",
                               path, (unsigned long long)count, n);
    }
    for (int32_t i = 0; i < n; i++) {
        int64_t ty = rc == 0 ? gguf_arr_int(f, "tokenizer.ggml.token_type", (uint64_t)i) : LLP_TOKEN_NORMAL;
        if (ty < LLP_TOKEN_NORMAL || ty > LLP_TOKEN_BYTE)
            return llp_err_set(err, "%s: token %d has unknown type %lld (tokenizer.ggml.token_type)",
                               path, i, (long long)ty);
        t->type[i] = (uint8_t)ty;
        t->byte_value[i] = -1;
        if (ty == LLP_TOKEN_BYTE) {
            int b = parse_byte_piece(piece_at(t, i), t->piece_len[i]);
            if (b < 0)
                return llp_err_set(err, "%s: token %d has type byte but its piece '%.40s' is not <0xXX> "
                                   "(tokenizer.ggml.token_type)", path, i, piece_at(t, i));
            t->byte_value[i] = (int16_t)b;
        }
    }
    return 0;
}

/* Byte fallback ids and the special-token list; needs the maps built. */
static int index_specials(llp_tokenizer *t, const char *path, llp_err *err)
{
    for (int b = 0; b < 256; b++) {
        char hex[7];
        snprintf(hex, sizeof hex, "<0x%02X>", b);
        int32_t id = piece_map_find(&t->all, t, hex, 6);
        if (id < 0) {
            char one = (char)b;
            id = piece_map_find(&t->mergeable, t, &one, 1);
        }
        if (id < 0) id = t->unk;
        if (id < 0)
            return llp_err_set(err, "%s: vocabulary has no byte token <0x%02X> and no unknown token "
                               "to stand for that byte (tokenizer.ggml.tokens)", path, b);
        t->byte_token[b] = id;
    }

    t->specials = llp_malloc((size_t)t->n_vocab * sizeof *t->specials);
    t->n_specials = 0;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        int ty = t->type[id];
        if ((ty == LLP_TOKEN_CONTROL || ty == LLP_TOKEN_UNKNOWN || ty == LLP_TOKEN_USER_DEFINED) &&
            t->piece_len[id] > 0)
            t->specials[t->n_specials++] = id;
    }
    qsort_r(t->specials, (size_t)t->n_specials, sizeof *t->specials, cmp_special, t);
    return 0;
}

llp_tokenizer *llp_tokenizer_from_gguf(const gguf_file *f, llp_err *err)
{
    const char *path = gguf_path(f);
    const char *model;
    int rc = gguf_get_str(f, "tokenizer.ggml.model", &model, NULL);
    if (rc == -1) {
        llp_err_set(err, "%s: no tokenizer in this file (tokenizer.ggml.model is missing)", path);
        return NULL;
    }
    if (rc != 0) {
        llp_err_set(err, "%s: tokenizer.ggml.model is not a string", path);
        return NULL;
    }
    if (strcmp(model, "llama") != 0) {
        llp_err_set(err, "%s: tokenizer model '%.100s' is not supported (tokenizer.ggml.model)", path, model);
        return NULL;
    }

    uint32_t et;
    uint64_t count;
    rc = gguf_get_arr(f, "tokenizer.ggml.tokens", &et, &count);
    if (rc == -1) {
        llp_err_set(err, "%s: the vocabulary is missing (tokenizer.ggml.tokens)", path);
        return NULL;
    }
    if (rc != 0 || et != GGUF_STRING) {
        llp_err_set(err, "%s: tokenizer.ggml.tokens is not an array of strings", path);
        return NULL;
    }
    if (count == 0 || count > INT32_MAX) {
        llp_err_set(err, "%s: tokenizer.ggml.tokens has %llu entries", path, (unsigned long long)count);
        return NULL;
    }

    llp_tokenizer *t = llp_calloc(1, sizeof *t);
    t->n_vocab = (int32_t)count;
    t->bos = 1;
    t->eos = 2;
    t->unk = 0;
    t->add_bos = true;
    t->add_eos = false;
    t->add_space_prefix = true;
    t->has_chat_template = gguf_find_key(f, "tokenizer.chat_template") >= 0;

    if (load_pieces(t, f, err) ||
        read_id(f, "tokenizer.ggml.bos_token_id", t->n_vocab, &t->bos, err) ||
        read_id(f, "tokenizer.ggml.eos_token_id", t->n_vocab, &t->eos, err) ||
        read_id(f, "tokenizer.ggml.unknown_token_id", t->n_vocab, &t->unk, err) ||
        read_bool(f, "tokenizer.ggml.add_bos_token", &t->add_bos, err) ||
        read_bool(f, "tokenizer.ggml.add_eos_token", &t->add_eos, err) ||
        read_bool(f, "tokenizer.ggml.add_space_prefix", &t->add_space_prefix, err)) {
        llp_tokenizer_free(t);
        return NULL;
    }
    piece_map_build(&t->all, t, false);
    piece_map_build(&t->mergeable, t, true);
    pair_set_build(&t->pairs, t);
    if (index_specials(t, path, err)) {
        llp_tokenizer_free(t);
        return NULL;
    }
    return t;
}

llp_tokenizer *llp_tokenizer_load(const char *path, llp_err *err)
{
    gguf_file *f = gguf_open(path, err);
    if (!f) return NULL;
    llp_tokenizer *t = llp_tokenizer_from_gguf(f, err);
    gguf_close(f);
    return t;
}

/* ---- vocabulary --------------------------------------------------------- */

int32_t llp_tokenizer_n_vocab(const llp_tokenizer *t) { return t->n_vocab; }
int32_t llp_tokenizer_bos(const llp_tokenizer *t) { return t->bos; }
int32_t llp_tokenizer_eos(const llp_tokenizer *t) { return t->eos; }
int32_t llp_tokenizer_unk(const llp_tokenizer *t) { return t->unk; }
bool llp_tokenizer_add_bos(const llp_tokenizer *t) { return t->add_bos; }
bool llp_tokenizer_add_eos(const llp_tokenizer *t) { return t->add_eos; }
bool llp_tokenizer_add_space_prefix(const llp_tokenizer *t) { return t->add_space_prefix; }
bool llp_tokenizer_has_chat_template(const llp_tokenizer *t) { return t->has_chat_template; }

static bool valid_id(const llp_tokenizer *t, int32_t id) { return id >= 0 && id < t->n_vocab; }

int llp_token_type(const llp_tokenizer *t, int32_t id) { return valid_id(t, id) ? t->type[id] : 0; }
float llp_token_score(const llp_tokenizer *t, int32_t id) { return valid_id(t, id) ? t->score[id] : 0.0f; }

bool llp_token_is_control(const llp_tokenizer *t, int32_t id)
{
    return valid_id(t, id) && (t->type[id] == LLP_TOKEN_CONTROL || t->type[id] == LLP_TOKEN_UNKNOWN);
}

bool llp_token_is_byte(const llp_tokenizer *t, int32_t id)
{
    return valid_id(t, id) && t->type[id] == LLP_TOKEN_BYTE;
}

const char *llp_token_piece(const llp_tokenizer *t, int32_t id, size_t *len)
{
    if (!valid_id(t, id)) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = t->piece_len[id];
    return piece_at(t, id);
}

int32_t llp_token_find(const llp_tokenizer *t, const char *piece, size_t len)
{
    return piece_map_find(&t->all, t, piece, len);
}

void llp_tokens_push(llp_tokens *v, int32_t id)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 64;
        v->ids = llp_realloc(v->ids, v->cap * sizeof *v->ids);
    }
    v->ids[v->n++] = id;
}

void llp_tokens_free(llp_tokens *v)
{
    free(v->ids);
    v->ids = NULL;
    v->n = v->cap = 0;
}

/* ---- BPE over one chunk ----------------------------------------------- */

/* A symbol: a run of bytes of the chunk, in a doubly linked list. */
typedef struct symbol {
    uint32_t start;    /* offset in the chunk buffer */
    uint32_t n;        /* bytes; 0 once merged into its left neighbour */
    int32_t prev, next;
    int32_t id;        /* the piece id once merged, else -1 */
} symbol;

/* A candidate merge of symbol `left` with its right neighbour. Stale when
 * either side has changed since: the byte count no longer adds up. */
typedef struct bigram {
    float score;
    int32_t left;
    uint32_t size;
    int32_t id;
} bigram;

/* Scratch for one llp_tokenize call, reused across chunks. */
typedef struct spm_work {
    char *buf;         /* escaped bytes of the current chunk */
    size_t len, cap;
    symbol *sym;
    size_t n_sym, sym_cap;
    bigram *heap;
    size_t n_heap, heap_cap;
} spm_work;

static bool bigram_before(const bigram *a, const bigram *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void heap_push(spm_work *w, bigram b)
{
    if (w->n_heap == w->heap_cap) {
        w->heap_cap = w->heap_cap ? w->heap_cap * 2 : 256;
        w->heap = llp_realloc(w->heap, w->heap_cap * sizeof *w->heap);
    }
    size_t i = w->n_heap++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!bigram_before(&b, &w->heap[parent])) break;
        w->heap[i] = w->heap[parent];
        i = parent;
    }
    w->heap[i] = b;
}

static bigram heap_pop(spm_work *w)
{
    bigram top = w->heap[0], last = w->heap[--w->n_heap];
    size_t i = 0, n = w->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && bigram_before(&w->heap[c + 1], &w->heap[c])) c++;
        if (!bigram_before(&w->heap[c], &last)) break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n > 0) w->heap[i] = last;
    return top;
}

static void try_pair(const llp_tokenizer *t, spm_work *w, int32_t left, int32_t right)
{
    if (left < 0 || right < 0) return;
    const symbol *l = &w->sym[left], *r = &w->sym[right];
    uint32_t size = l->n + r->n;
    int32_t id = piece_map_find(&t->mergeable, t, w->buf + l->start, size);
    if (id < 0) return;
    heap_push(w, (bigram){ t->score[id], left, size, id });
}

/* Merge the chunk's symbols and append their ids to out. */
static void bpe_chunk(const llp_tokenizer *t, spm_work *w, llp_tokens *out)
{
    if (w->n_sym == 0) return;
    w->n_heap = 0;
    for (size_t i = 0; i + 1 < w->n_sym; i++) try_pair(t, w, (int32_t)i, (int32_t)i + 1);

    while (w->n_heap > 0) {
        bigram b = heap_pop(w);
        symbol *l = &w->sym[b.left];
        if (l->n == 0 || l->next < 0) continue;
        symbol *r = &w->sym[l->next];
        if (l->n + r->n != b.size) continue;
        l->n += r->n;
        l->id = b.id;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) w->sym[r->next].prev = b.left;
        try_pair(t, w, l->prev, b.left);
        try_pair(t, w, b.left, l->next);
    }

    for (int32_t i = 0; i >= 0; i = w->sym[i].next) {
        const symbol *s = &w->sym[i];
        int32_t id = s->id >= 0 ? s->id : piece_map_find(&t->mergeable, t, w->buf + s->start, s->n);
        if (id >= 0) {
            llp_tokens_push(out, id);
            continue;
        }
        for (uint32_t k = 0; k < s->n; k++)
            llp_tokens_push(out, t->byte_token[(unsigned char)w->buf[s->start + k]]);
    }
    w->len = 0;
    w->n_sym = 0;
}

/* Append one character (bytes c, n of them) to the chunk, first cutting the
 * chunk when no piece holds the previous character followed by this one. */
static void add_char(const llp_tokenizer *t, spm_work *w, const char *c, size_t n, llp_tokens *out)
{
    if (w->n_sym >= CHUNK_MIN_CHARS) {
        const symbol *prev = &w->sym[w->n_sym - 1];
        char pair[8];
        memcpy(pair, w->buf + prev->start, prev->n);
        memcpy(pair + prev->n, c, n);
        if (!pair_set_has(&t->pairs, pair_hash(pair, prev->n + n))) bpe_chunk(t, w, out);
    }
    if (w->len + n > w->cap) {
        w->cap = (w->len + n) * 2;
        w->buf = llp_realloc(w->buf, w->cap);
    }
    if (w->n_sym == w->sym_cap) {
        w->sym_cap = w->sym_cap ? w->sym_cap * 2 : 256;
        w->sym = llp_realloc(w->sym, w->sym_cap * sizeof *w->sym);
    }
    memcpy(w->buf + w->len, c, n);
    int32_t i = (int32_t)w->n_sym++;
    w->sym[i] = (symbol){ (uint32_t)w->len, (uint32_t)n, i - 1, -1, -1 };
    if (i > 0) w->sym[i - 1].next = i;
    w->len += n;
}

/* Tokenize one run of plain text (no special tokens in it). */
static void encode_run(const llp_tokenizer *t, spm_work *w, const char *s, size_t len, bool prefix,
                       llp_tokens *out)
{
    if (prefix) add_char(t, w, SPACE_MARK, SPACE_MARK_LEN, out);
    size_t i = 0;
    while (i < len) {
        if (s[i] == ' ') {
            add_char(t, w, SPACE_MARK, SPACE_MARK_LEN, out);
            i++;
            continue;
        }
        size_t n = char_len(s + i, len - i);
        add_char(t, w, s + i, n, out);
        i += n;
    }
    bpe_chunk(t, w, out);
}

/* ---- special tokens and the whole text ---------------------------------- */

/* A stretch of the input: plain text (id -1) or one special token. */
typedef struct fragment {
    size_t off, len;
    int32_t id;
} fragment;

typedef struct fragments {
    fragment *v;
    size_t n, cap;
} fragments;

static void frag_push(fragments *f, size_t off, size_t len, int32_t id)
{
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 16;
        f->v = llp_realloc(f->v, f->cap * sizeof *f->v);
    }
    f->v[f->n++] = (fragment){ off, len, id };
}

/* Cut every occurrence of special token `id` out of the text fragments. */
static void split_at_special(const llp_tokenizer *t, const char *text, fragments *in, fragments *out,
                             int32_t id)
{
    const char *p = piece_at(t, id);
    size_t plen = t->piece_len[id];
    out->n = 0;
    for (size_t k = 0; k < in->n; k++) {
        fragment fr = in->v[k];
        if (fr.id >= 0 || fr.len < plen) {
            frag_push(out, fr.off, fr.len, fr.id);
            continue;
        }
        size_t pos = fr.off, end = fr.off + fr.len;
        for (;;) {
            const char *hit = memmem(text + pos, end - pos, p, plen);
            if (!hit) break;
            size_t at = (size_t)(hit - text);
            if (at > pos) frag_push(out, pos, at - pos, -1);
            frag_push(out, at, plen, id);
            pos = at + plen;
        }
        if (pos < end) frag_push(out, pos, end - pos, -1);
    }
}

int llp_tokenize(const llp_tokenizer *t, const char *text, size_t len, bool add_special,
                 bool parse_special, llp_tokens *out, llp_err *err)
{
    if (len > MAX_TEXT_BYTES)
        return llp_err_set(err, "text of %zu bytes is too long to tokenize at once (limit %zu MiB)",
                           len, MAX_TEXT_BYTES >> 20);
    if (add_special && t->add_bos && t->bos >= 0) llp_tokens_push(out, t->bos);

    fragments a = { 0 }, b = { 0 };
    if (len > 0) frag_push(&a, 0, len, -1);
    for (int32_t k = 0; k < t->n_specials && a.n > 0; k++) {
        int32_t id = t->specials[k];
        if (!parse_special && t->type[id] != LLP_TOKEN_USER_DEFINED) continue;
        split_at_special(t, text, &a, &b, id);
        fragments tmp = a;
        a = b;
        b = tmp;
    }

    spm_work w = { 0 };
    bool after_special = true;   /* the text start counts as "after a special token" */
    for (size_t k = 0; k < a.n; k++) {
        if (a.v[k].id >= 0) {
            llp_tokens_push(out, a.v[k].id);
            after_special = true;
            continue;
        }
        encode_run(t, &w, text + a.v[k].off, a.v[k].len, t->add_space_prefix && after_special, out);
        after_special = false;
    }
    free(w.buf);
    free(w.sym);
    free(w.heap);
    free(a.v);
    free(b.v);

    if (add_special && t->add_eos && t->eos >= 0) llp_tokens_push(out, t->eos);
    return 0;
}

/* ---- decoding ----------------------------------------------------------- */

size_t llp_token_to_text(const llp_tokenizer *t, int32_t id, bool special, char *out, size_t cap)
{
    if (!valid_id(t, id)) return 0;
    const char *p = piece_at(t, id);
    size_t len = t->piece_len[id], n = 0;
    switch (t->type[id]) {
    case LLP_TOKEN_NORMAL:
        for (size_t i = 0; i < len;) {
            if (i + SPACE_MARK_LEN <= len && memcmp(p + i, SPACE_MARK, SPACE_MARK_LEN) == 0) {
                if (n < cap) out[n] = ' ';
                n++;
                i += SPACE_MARK_LEN;
            } else {
                if (n < cap) out[n] = p[i];
                n++;
                i++;
            }
        }
        return n;
    case LLP_TOKEN_BYTE:
        if (cap > 0) out[0] = (char)t->byte_value[id];
        return 1;
    case LLP_TOKEN_USER_DEFINED:
        break;
    case LLP_TOKEN_CONTROL:
    case LLP_TOKEN_UNKNOWN:
        if (!special) return 0;
        break;
    default:
        return 0;
    }
    memcpy(out, p, len < cap ? len : cap);
    return len;
}

char *llp_detokenize(const llp_tokenizer *t, const int32_t *ids, size_t n, bool special,
                     size_t *len, llp_err *err)
{
    size_t bound = 1;
    for (size_t i = 0; i < n; i++) {
        if (!valid_id(t, ids[i])) {
            llp_err_set(err, "token %lld (position %zu) is not in the vocabulary of %d",
                        (long long)ids[i], i + 1, t->n_vocab);
            return NULL;
        }
        bound += t->piece_len[ids[i]];
    }
    char *buf = llp_malloc(bound);
    size_t used = 0;
    /* The space added in front at encoding sits on the first token after a
     * leading BOS, or on the first token. */
    size_t strip_at = (n > 0 && t->bos >= 0 && ids[0] == t->bos) ? 1 : 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = llp_token_to_text(t, ids[i], special, buf + used, bound - used);
        if (i == strip_at && t->add_space_prefix && k > 0 && buf[used] == ' ') {
            memmove(buf + used, buf + used + 1, k - 1);
            k--;
        }
        used += k;
    }
    buf[used] = '\0';
    if (len) *len = used;
    return buf;
}
