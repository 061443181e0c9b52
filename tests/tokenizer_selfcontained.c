/*
 * tokenizer_selfcontained.c — the tokenizer on a tiny vocabulary this test
 * writes with the project's GGUF writer: merge order by score, leftmost on
 * ties, byte fallback, invalid UTF-8, the empty string, BOS/EOS and
 * space-prefix rules from metadata, special-token parsing, decoding rules,
 * load errors, agreement with a naive quadratic BPE on random texts (which
 * also checks that cutting long texts into chunks changes nothing),
 * decode(encode(x)) == x on random byte strings, and speed on 1 MB.
 *
 * Not for: agreement with the reference on the real Llama-2 vocabulary
 * (tokenizer_vectors.c).
 *
 * Round trips hold for any bytes except a literal "▁" (U+2581, E2 96 81),
 * which decodes to a space, and texts holding special-token text (a space
 * is added after each special token); the random strings avoid both.
 */
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "tap.h"
#include "tokenizer.h"
#include "utf8.h"

#define SP "\xE2\x96\x81"   /* "▁" */

/* Pieces after <unk>, <s>, </s> and the 256 byte tokens (ids from 259). */
static const struct { const char *piece; float score; int type; } PIECES[] = {
    { SP, -5.0f, LLP_TOKEN_NORMAL },
    { "a", -6.0f, LLP_TOKEN_NORMAL },
    { "b", -6.0f, LLP_TOKEN_NORMAL },
    { "c", -6.0f, LLP_TOKEN_NORMAL },
    { "\xC3\xA9", -6.0f, LLP_TOKEN_NORMAL },          /* é */
    { "ab", -1.0f, LLP_TOKEN_NORMAL },
    { "bc", -0.5f, LLP_TOKEN_NORMAL },
    { "abc", -2.0f, LLP_TOKEN_NORMAL },
    { SP "a", -3.0f, LLP_TOKEN_NORMAL },
    { SP "ab", -4.0f, LLP_TOKEN_NORMAL },
    { "aa", -1.0f, LLP_TOKEN_NORMAL },
    { SP SP, -2.0f, LLP_TOKEN_NORMAL },
    { "c" SP, -1.5f, LLP_TOKEN_NORMAL },              /* a space inside a piece */
    { "c" SP "a", -1.2f, LLP_TOKEN_NORMAL },
    { "\xC3\xA9\xC3\xA9", -0.2f, LLP_TOKEN_NORMAL },  /* éé */
    { "zz", 0.0f, LLP_TOKEN_UNUSED },
    { "<user>", 0.0f, LLP_TOKEN_USER_DEFINED },
    { "<ctl>", 0.0f, LLP_TOKEN_CONTROL },
};
#define N_PIECES ((int)(sizeof PIECES / sizeof PIECES[0]))
#define FIRST_PIECE 259
#define N_VOCAB (FIRST_PIECE + N_PIECES)

/* Variants of the vocabulary file, for the metadata rules and load errors. */
enum {
    V_PLAIN = 0,
    V_NO_BOS_EOS_PREFIX = 1 << 0,   /* add_bos false, add_eos true, add_space_prefix false */
    V_GPT2 = 1 << 1,
    V_NO_MODEL = 1 << 2,
    V_NO_TOKENS = 1 << 3,
    V_SHORT_SCORES = 1 << 4,
    V_SHORT_TYPES = 1 << 5,
    V_BAD_BYTE = 1 << 6,
    V_BOOL_AS_STRING = 1 << 7,
    V_NO_BYTES_NO_UNK = 1 << 8,     /* byte tokens made normal "x00".., no unknown id */
    V_CHAT_TEMPLATE = 1 << 9,
};

static char path_buf[4096];

static const char *write_vocab(const char *name, unsigned v)
{
    static char strings[N_VOCAB][16];
    const char *tokens[N_VOCAB];
    float scores[N_VOCAB];
    int32_t types[N_VOCAB];
    tokens[0] = "<unk>"; tokens[1] = "<s>"; tokens[2] = "</s>";
    types[0] = LLP_TOKEN_UNKNOWN; types[1] = types[2] = LLP_TOKEN_CONTROL;
    scores[0] = scores[1] = scores[2] = 0.0f;
    for (int b = 0; b < 256; b++) {
        snprintf(strings[3 + b], sizeof strings[0], (v & V_NO_BYTES_NO_UNK) ? "x%02X" : "<0x%02X>", b);
        tokens[3 + b] = strings[3 + b];
        types[3 + b] = (v & V_NO_BYTES_NO_UNK) ? LLP_TOKEN_NORMAL : LLP_TOKEN_BYTE;
        scores[3 + b] = 0.0f;
    }
    if (v & V_BAD_BYTE) tokens[3 + 7] = "<0xZZ>";
    for (int i = 0; i < N_PIECES; i++) {
        tokens[FIRST_PIECE + i] = PIECES[i].piece;
        scores[FIRST_PIECE + i] = PIECES[i].score;
        types[FIRST_PIECE + i] = PIECES[i].type;
    }

    gguf_writer *w = gguf_writer_new();
    gguf_set_str(w, "general.architecture", "llama");
    if (!(v & V_NO_MODEL)) gguf_set_str(w, "tokenizer.ggml.model", (v & V_GPT2) ? "gpt2" : "llama");
    if (!(v & V_NO_TOKENS)) gguf_set_arr_str(w, "tokenizer.ggml.tokens", tokens, N_VOCAB);
    gguf_set_arr(w, "tokenizer.ggml.scores", GGUF_F32, scores, (v & V_SHORT_SCORES) ? 3 : N_VOCAB);
    gguf_set_arr(w, "tokenizer.ggml.token_type", GGUF_I32, types, (v & V_SHORT_TYPES) ? N_VOCAB - 1 : N_VOCAB);
    gguf_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    gguf_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
    gguf_set_u32(w, "tokenizer.ggml.unknown_token_id", (v & V_NO_BYTES_NO_UNK) ? 99999 : 0);
    if (v & V_BOOL_AS_STRING) gguf_set_str(w, "tokenizer.ggml.add_bos_token", "yes");
    else gguf_set_bool(w, "tokenizer.ggml.add_bos_token", !(v & V_NO_BOS_EOS_PREFIX));
    gguf_set_bool(w, "tokenizer.ggml.add_eos_token", (v & V_NO_BOS_EOS_PREFIX) != 0);
    gguf_set_bool(w, "tokenizer.ggml.add_space_prefix", !(v & V_NO_BOS_EOS_PREFIX));
    if (v & V_CHAT_TEMPLATE) gguf_set_str(w, "tokenizer.chat_template", "{{ messages }}");

    snprintf(path_buf, sizeof path_buf, "%s/tok-%d-%s.gguf", tmp_dir(), (int)getpid(), name);
    llp_err err;
    if (gguf_writer_write(w, path_buf, &err) != 0) diag("writing %s: %s", path_buf, err.msg);
    gguf_writer_free(w);
    return path_buf;
}

static llp_tokenizer *load_variant(const char *name, unsigned v, llp_err *err)
{
    const char *path = write_vocab(name, v);
    llp_tokenizer *t = llp_tokenizer_load(path, err);
    unlink(path);
    return t;
}

/* ---- helpers -------------------------------------------------------------- */

static int32_t id_of(const llp_tokenizer *t, const char *piece)
{
    return llp_token_find(t, piece, strlen(piece));
}

/* "a b c" style rendering of ids as pieces, for diagnostics. */
static void show(const llp_tokenizer *t, const char *label, const int32_t *ids, size_t n)
{
    char line[1024];
    size_t used = 0;
    for (size_t i = 0; i < n && used + 40 < sizeof line; i++) {
        size_t len;
        const char *p = llp_token_piece(t, ids[i], &len);
        used += (size_t)snprintf(line + used, sizeof line - used, " [%.*s]", p ? (int)len : 1, p ? p : "?");
    }
    line[used] = '\0';
    diag("%s:%s", label, line);
}

/* Encode text and compare with the expected pieces (NULL-terminated list). */
static void expect(const llp_tokenizer *t, const char *text, size_t len, bool add_special, bool parse_special,
                   const char *const *want, const char *name)
{
    llp_tokens got = { 0 };
    llp_err err;
    int rc = llp_tokenize(t, text, len, add_special, parse_special, &got, &err);
    int32_t want_ids[64];
    size_t n = 0;
    for (; want[n]; n++) want_ids[n] = id_of(t, want[n]);
    bool same = rc == 0 && got.n == n && (n == 0 || memcmp(got.ids, want_ids, n * sizeof *want_ids) == 0);
    if (!ok(same, "%s", name)) {
        show(t, "got ", got.ids, got.n);
        show(t, "want", want_ids, n);
    }
    llp_tokens_free(&got);
}

#define EXPECT(t, text, name, ...) \
    expect(t, text, strlen(text), false, false, (const char *const[]){ __VA_ARGS__, NULL }, name)

static bool round_trips(const llp_tokenizer *t, const char *text, size_t len, bool add_special)
{
    llp_tokens ids = { 0 };
    llp_err err;
    if (llp_tokenize(t, text, len, add_special, false, &ids, &err) != 0) return false;
    size_t n;
    char *back = llp_detokenize(t, ids.ids, ids.n, false, &n, &err);
    bool same = back && n == len && memcmp(back, text, len) == 0;
    free(back);
    llp_tokens_free(&ids);
    return same;
}

static bool decodes_to(const llp_tokenizer *t, const int32_t *ids, size_t n, bool special, const char *want)
{
    llp_err err;
    size_t len;
    char *s = llp_detokenize(t, ids, n, special, &len, &err);
    bool same = s && len == strlen(want) && memcmp(s, want, len) == 0;
    if (!same) diag("decoded to '%s'", s ? s : err.msg);
    free(s);
    return same;
}

/* ---- a naive BPE, the oracle ----------------------------------------------- */

/* Quadratic but obviously right: merge the best adjacent pair (highest
 * score, leftmost first) of the whole text until none merges. Mergeable
 * pieces are the normal and user-defined ones of PIECES. Returns ids. */
static size_t naive_encode(const char *text, size_t len, int32_t *out)
{
    if (len == 0) return 0;   /* empty text: no space prefix, no ids */
    char *e = malloc(len * 3 + 4);
    size_t el = 0;
    memcpy(e, SP, 3);
    el = 3;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') { memcpy(e + el, SP, 3); el += 3; }
        else e[el++] = text[i];
    }
    size_t *start = malloc((el + 1) * sizeof *start), *n = malloc((el + 1) * sizeof *n), m = 0;
    for (size_t i = 0; i < el;) {
        size_t k = llp_utf8_seq_len((const unsigned char *)e + i, el - i);
        if (k == 0) k = 1;
        start[m] = i;
        n[m++] = k;
        i += k;
    }
    for (;;) {
        long best = -1;
        float best_score = 0;
        for (size_t i = 0; i + 1 < m; i++) {
            for (int p = 0; p < N_PIECES; p++) {
                if (PIECES[p].type != LLP_TOKEN_NORMAL && PIECES[p].type != LLP_TOKEN_USER_DEFINED) continue;
                size_t pl = strlen(PIECES[p].piece);
                if (pl == n[i] + n[i + 1] && memcmp(PIECES[p].piece, e + start[i], pl) == 0 &&
                    (best < 0 || PIECES[p].score > best_score)) {
                    best = (long)i;
                    best_score = PIECES[p].score;
                }
            }
        }
        if (best < 0) break;
        n[best] += n[best + 1];
        memmove(start + best + 1, start + best + 2, (m - (size_t)best - 2) * sizeof *start);
        memmove(n + best + 1, n + best + 2, (m - (size_t)best - 2) * sizeof *n);
        m--;
    }
    size_t n_out = 0;
    for (size_t i = 0; i < m; i++) {
        int found = -1;
        for (int p = 0; p < N_PIECES && found < 0; p++)
            if ((PIECES[p].type == LLP_TOKEN_NORMAL || PIECES[p].type == LLP_TOKEN_USER_DEFINED) &&
                strlen(PIECES[p].piece) == n[i] && memcmp(PIECES[p].piece, e + start[i], n[i]) == 0)
                found = FIRST_PIECE + p;
        if (found >= 0) out[n_out++] = found;
        else for (size_t k = 0; k < n[i]; k++) out[n_out++] = 3 + (unsigned char)e[start[i] + k];
    }
    free(e);
    free(start);
    free(n);
    return n_out;
}

/* Random text from pieces that exercise merges, spaces, byte fallback and
 * invalid UTF-8, never forming "▁" or a special token's text. */
static size_t random_text(char *buf, size_t max_parts, unsigned *seed)
{
    static const char *const parts[] = { "a", "b", "c", " ", "  ", "\xC3\xA9", "x", "\xFF", "\xC3", "\x80",
                                         "\n", "zz", "<", "\xE2\x96", "\x00", "\xF0\x9F\x9A\x80" };
    static const size_t part_len[] = { 1, 1, 1, 1, 2, 2, 1, 1, 1, 1, 1, 2, 1, 2, 1, 4 };
    size_t n_parts = (size_t)(rand_r(seed) % (int)(max_parts + 1)), len = 0;
    for (size_t i = 0; i < n_parts; i++) {
        int k = rand_r(seed) % (int)(sizeof parts / sizeof parts[0]);
        memcpy(buf + len, parts[k], part_len[k]);
        len += part_len[k];
    }
    /* "\xE2\x96" followed by "\x80" .. could spell U+2581's neighbours but
     * never E2 96 81 itself: no part starts with \x81. */
    return len;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_merges(const llp_tokenizer *t)
{
    EXPECT(t, "abc", "higher score merges first: bc before ab, then abc", SP, "abc");
    EXPECT(t, "ab c", "spaces become the space mark", SP "ab", SP, "c");
    EXPECT(t, "aaa", "ties: the leftmost pair merges first", SP, "aa", "a");
    EXPECT(t, "aaaa", "ties again", SP, "aa", "aa");
    EXPECT(t, "c a", "a piece with a space inside", SP, "c" SP "a");
    EXPECT(t, "\xC3\xA9\xC3\xA9\xC3\xA9", "multi-byte characters merge", SP, "\xC3\xA9\xC3\xA9", "\xC3\xA9");
    EXPECT(t, "  ", "leading spaces", SP SP, SP);
}

static void test_bytes(const llp_tokenizer *t)
{
    EXPECT(t, "x", "a character not in the vocabulary becomes its byte", SP, "<0x78>");
    EXPECT(t, "\xC3\xBC", "an unknown two-byte character becomes two bytes", SP, "<0xC3>", "<0xBC>");
    EXPECT(t, "\xFF", "an invalid byte becomes a byte token", SP, "<0xFF>");
    EXPECT(t, "\xC3", "a truncated sequence at the end becomes a byte token", SP, "<0xC3>");
    EXPECT(t, "\xC3" "a", "a truncated sequence does not swallow the next character", SP, "<0xC3>", "a");
    EXPECT(t, "a\x80" "b", "a stray continuation byte stands alone", SP "a", "<0x80>", "b");
    EXPECT(t, "zz", "unused pieces never come from text", SP, "<0x7A>", "<0x7A>");
    expect(t, "a\0b", 3, false, false, (const char *const[]){ SP "a", "<0x00>", "b", NULL },
           "a NUL byte is a byte token");
    ok(round_trips(t, "\xC3" "a\x80\xFF\xE2\x96", 6, false), "invalid UTF-8 round-trips");
}

static void test_empty_and_bos(const llp_tokenizer *t, const llp_tokenizer *t2)
{
    llp_tokens v = { 0 };
    llp_err err;
    llp_tokenize(t, "", 0, false, false, &v, &err);
    is_int(v.n, 0, "empty text gives no ids");
    llp_tokenize(t, "", 0, true, false, &v, &err);
    ok(v.n == 1 && v.ids[0] == 1, "empty text with add_special gives only BOS");
    ok(decodes_to(t, v.ids, v.n, false, ""), "BOS alone decodes to nothing");
    llp_tokens_free(&v);
    expect(t, "ab", 2, true, false, (const char *const[]){ "<s>", SP "ab", NULL }, "BOS in front when add_bos_token");
    ok(round_trips(t, "ab", 2, true) && round_trips(t, " ab", 3, true) && round_trips(t, "  ab ", 5, false),
       "round trips with and without BOS, with leading and trailing spaces");

    /* add_bos_token false, add_eos_token true, add_space_prefix false */
    ok(!llp_tokenizer_add_bos(t2) && llp_tokenizer_add_eos(t2) && !llp_tokenizer_add_space_prefix(t2),
       "metadata flags read");
    expect(t2, "ab", 2, true, false, (const char *const[]){ "ab", "</s>", NULL },
           "no BOS, EOS at the end, no space prefix");
    expect(t2, "ab", 2, false, false, (const char *const[]){ "ab", NULL }, "no EOS without add_special");
    expect(t2, " ab", 3, false, false, (const char *const[]){ SP "ab", NULL }, "a leading space is the text's own");
    ok(round_trips(t2, " ab", 3, false) && round_trips(t2, "ab c", 4, true),
       "round trips without space prefix (the leading space is kept)");
}

static void test_special(const llp_tokenizer *t)
{
    expect(t, "<s>ab", 5, false, true, (const char *const[]){ "<s>", SP "ab", NULL },
           "parse_special: '<s>' becomes BOS, the text after it gets the space prefix");
    llp_tokens v = { 0 };
    llp_err err;
    llp_tokenize(t, "<s>ab</s><ctl>", 14, false, false, &v, &err);
    bool none = true;
    for (size_t i = 0; i < v.n; i++) none = none && !llp_token_is_control(t, v.ids[i]);
    ok(none && v.n > 3, "without parse_special, control text stays text");
    ok(round_trips(t, "<s>ab</s><ctl>", 14, false), "and round-trips");
    llp_tokens_free(&v);
    expect(t, "ab<ctl>abc", 10, false, true, (const char *const[]){ SP "ab", "<ctl>", SP, "abc", NULL },
           "a control token in the middle");
    expect(t, "<s><s>", 6, false, true, (const char *const[]){ "<s>", "<s>", NULL }, "adjacent specials");
    expect(t, "a<user>b", 8, false, false, (const char *const[]){ SP "a", "<user>", SP, "b", NULL },
           "user-defined pieces are cut out even without parse_special");
    expect(t, "<s>", 3, true, true, (const char *const[]){ "<s>", "<s>", NULL },
           "add_special and a literal <s> give two BOS, as the reference does");

    int32_t ids[] = { 1, id_of(t, SP "ab"), id_of(t, "<ctl>"), id_of(t, "<user>"), 2 };
    ok(decodes_to(t, ids, 5, false, "ab<user>"), "decode: control tokens give nothing, user-defined their text");
    ok(decodes_to(t, ids, 5, true, "<s>ab<ctl><user></s>"), "decode with special: control tokens' text");
}

static void test_decode(const llp_tokenizer *t)
{
    int32_t sp_ab = id_of(t, SP "ab"), sp = id_of(t, SP), ab = id_of(t, "ab");
    ok(decodes_to(t, (int32_t[]){ sp_ab }, 1, false, "ab"), "the first piece loses its leading space");
    ok(decodes_to(t, (int32_t[]){ sp, sp_ab }, 2, false, " ab"), "only one space is dropped");
    ok(decodes_to(t, (int32_t[]){ 1, sp, sp_ab }, 3, false, " ab"), "after BOS, the same");
    ok(decodes_to(t, (int32_t[]){ ab, sp_ab }, 2, false, "ab ab"), "later pieces keep their spaces");
    ok(decodes_to(t, (int32_t[]){ 3 + 0xC3, 3 + 0xA9 }, 2, false, "\xC3\xA9"), "byte tokens give raw bytes");
    ok(decodes_to(t, (int32_t[]){ id_of(t, "zz"), 0 }, 2, false, ""), "unused and unknown tokens give nothing");
    ok(decodes_to(t, NULL, 0, false, ""), "no ids, empty text");

    llp_err err;
    size_t len;
    char *s = llp_detokenize(t, (int32_t[]){ ab, N_VOCAB }, 2, false, &len, &err);
    ok(s == NULL && strstr(err.msg, "token 277 (position 2) is not in the vocabulary of 277"),
       "an id outside the vocabulary is an error naming it: %s", err.msg);
    free(s);
    s = llp_detokenize(t, (int32_t[]){ -1 }, 1, false, &len, &err);
    ok(s == NULL, "a negative id is an error");
    free(s);

    char buf[16];
    size_t n = llp_token_to_text(t, sp_ab, false, buf, sizeof buf);
    ok(n == 3 && memcmp(buf, " ab", 3) == 0, "token_to_text keeps the space");
    n = llp_token_to_text(t, sp_ab, false, buf, 1);
    ok(n == 3 && buf[0] == ' ', "token_to_text reports the full length when the buffer is short");
    is_int(llp_token_to_text(t, 1, false, buf, sizeof buf), 0, "token_to_text of BOS is empty");
    is_int(llp_token_to_text(t, 1, true, buf, sizeof buf), 3, "token_to_text of BOS with special is <s>");
    size_t pl;
    const char *p = llp_token_piece(t, sp_ab, &pl);
    ok(p && pl == 5 && memcmp(p, SP "ab", 5) == 0, "token_piece is the stored piece");
    ok(llp_token_piece(t, N_VOCAB, &pl) == NULL && pl == 0, "token_piece of an id out of range is NULL");
    is_int(llp_token_find(t, "nope", 4), -1, "token_find of an absent piece");
    ok(llp_token_is_byte(t, 3) && !llp_token_is_byte(t, sp), "is_byte");
    ok(llp_token_is_control(t, 1) && llp_token_is_control(t, 0) && !llp_token_is_control(t, sp), "is_control");
    is_int(llp_token_type(t, FIRST_PIECE + 15), LLP_TOKEN_UNUSED, "token_type");
    ok(llp_token_score(t, ab) == -1.0f, "token_score");
}

static void test_load_errors(void)
{
    llp_err err;
    char want[4200];
    llp_tokenizer *t = load_variant("gpt2", V_GPT2, &err);
    snprintf(want, sizeof want, "%s: tokenizer model 'gpt2' is not supported (tokenizer.ggml.model)", path_buf);
    ok(!t && strcmp(err.msg, want) == 0, "gpt2 refused: %s", err.msg);
    t = load_variant("nomodel", V_NO_MODEL, &err);
    ok(!t && strstr(err.msg, "tokenizer.ggml.model is missing"), "no tokenizer model: %s", err.msg);
    t = load_variant("notokens", V_NO_TOKENS, &err);
    ok(!t && strstr(err.msg, "(tokenizer.ggml.tokens)") && strstr(err.msg, path_buf), "no tokens: %s", err.msg);
    t = load_variant("scores", V_SHORT_SCORES, &err);
    ok(!t && strstr(err.msg, "tokenizer.ggml.scores has 3 entries, tokenizer.ggml.tokens has 277"),
       "scores count mismatch: %s", err.msg);
    t = load_variant("types", V_SHORT_TYPES, &err);
    ok(!t && strstr(err.msg, "tokenizer.ggml.token_type has 276 entries"), "types count mismatch: %s", err.msg);
    t = load_variant("badbyte", V_BAD_BYTE, &err);
    ok(!t && strstr(err.msg, "token 10 has type byte") && strstr(err.msg, "<0xZZ>"), "bad byte piece: %s", err.msg);
    t = load_variant("boolstr", V_BOOL_AS_STRING, &err);
    ok(!t && strstr(err.msg, "tokenizer.ggml.add_bos_token is not a boolean"), "wrong key type: %s", err.msg);
    t = load_variant("nobytes", V_NO_BYTES_NO_UNK, &err);
    ok(!t && strstr(err.msg, "no byte token <0x00> and no unknown token"), "no byte fallback: %s", err.msg);
    t = llp_tokenizer_load("/nonexistent/m.gguf", &err);
    ok(!t && strstr(err.msg, "/nonexistent/m.gguf"), "a missing file names the path: %s", err.msg);

    t = load_variant("chat", V_CHAT_TEMPLATE, &err);
    ok(t && llp_tokenizer_has_chat_template(t), "chat template presence");
    llp_tokenizer_free(t);
}

static void test_random(const llp_tokenizer *t)
{
    unsigned seed = 12345;
    char *buf = malloc(4 * 400 + 8);
    int32_t *want = malloc(sizeof *want * 3 * 2000);
    int n_same = 0, n_round = 0, n_cases = 300, n_shown = 0;
    for (int c = 0; c < n_cases; c++) {
        size_t len = random_text(buf, c < 250 ? 60 : 400, &seed);
        llp_tokens got = { 0 };
        llp_err err;
        llp_tokenize(t, buf, len, false, false, &got, &err);
        size_t n_want = naive_encode(buf, len, want);
        if (got.n == n_want && (n_want == 0 || memcmp(got.ids, want, n_want * sizeof *want) == 0)) n_same++;
        else if (n_shown++ < 3) {
            diag("case %d, %zu bytes", c, len);
            show(t, "got ", got.ids, got.n);
            show(t, "want", want, n_want);
        }
        llp_tokens_free(&got);
        if (round_trips(t, buf, len, c % 2 == 0)) n_round++;
    }
    is_int(n_same, n_cases, "random texts: same ids as the naive quadratic BPE (%d cases)", n_cases);
    is_int(n_round, n_cases, "random byte strings: decode(encode(x)) == x (%d cases)", n_cases);
    free(buf);
    free(want);
}

static void test_speed(const llp_tokenizer *t)
{
    size_t len = 1 << 20;
    char *text = malloc(len);
    unsigned seed = 7;
    static const char *const words[] = { "abc ", "aa ", "b", "c a ", "\xC3\xA9\xC3\xA9 ", "xyz ", "\n", "  " };
    size_t used = 0;
    while (used < len) {
        const char *w = words[rand_r(&seed) % 8];
        size_t n = strlen(w);
        if (used + n > len) n = len - used;
        memcpy(text + used, w, n);
        used += n;
    }
    llp_tokens v = { 0 };
    llp_err err;
    double t0 = llp_now();
    int rc = llp_tokenize(t, text, len, true, false, &v, &err);
    double dt = llp_now() - t0;
    ok(rc == 0 && v.n > len / 8, "1 MB of text: %zu tokens in %.3f s", v.n, dt);
    ok(dt < 5.0, "1 MB of text tokenizes in under 5 s (no quadratic step)");
    size_t back_len;
    char *back = llp_detokenize(t, v.ids, v.n, false, &back_len, &err);
    ok(back && back_len == len && memcmp(back, text, len) == 0, "and decodes back");
    free(back);

    /* No safe place to cut: one long run of the same character. */
    memset(text, 'a', 200000);
    v.n = 0;
    t0 = llp_now();
    llp_tokenize(t, text, 200000, false, false, &v, &err);
    dt = llp_now() - t0;
    ok(v.n == 100001 && dt < 5.0, "200 KB of 'a' (one chunk): %zu tokens in %.3f s", v.n, dt);
    llp_tokens_free(&v);
    free(text);
}

int main(void)
{
    llp_err err;
    llp_tokenizer *t = load_variant("plain", V_PLAIN, &err);
    if (!ok(t != NULL, "load the tiny vocabulary")) {
        diag("%s", err.msg);
        return done_testing();
    }
    llp_tokenizer *t2 = load_variant("nobos", V_NO_BOS_EOS_PREFIX, &err);
    if (!ok(t2 != NULL, "load the variant without BOS and space prefix")) {
        diag("%s", err.msg);
        return done_testing();
    }
    is_int(llp_tokenizer_n_vocab(t), N_VOCAB, "vocabulary size");
    ok(llp_tokenizer_bos(t) == 1 && llp_tokenizer_eos(t) == 2 && llp_tokenizer_unk(t) == 0, "special ids");
    ok(!llp_tokenizer_has_chat_template(t), "no chat template");

    test_merges(t);
    test_bytes(t);
    test_empty_and_bos(t, t2);
    test_special(t);
    test_decode(t);
    test_load_errors();
    test_random(t);
    test_speed(t);

    llp_tokenizer_free(t);
    llp_tokenizer_free(t2);
    return done_testing();
}
