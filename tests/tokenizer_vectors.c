/*
 * tokenizer_vectors.c — the tokenizer against llama.cpp's reference ids for
 * the Llama-2 vocabulary (fixtures/vectors/tokenizer/llama-spm.inp|.out,
 * fixtures/models/llama-spm-vocab.gguf): identical ids without BOS, and
 * decoding gives the input back.
 *
 * Not for: tokenizer behaviour on made-up vocabularies (tokenizer_selfcontained.c).
 *
 * File format, checked against the ids: the .inp file is a sequence of
 * cases, each the test string followed by "\n__ggml_vocab_test__\n"; the
 * newline before the separator is not part of the string (so the empty
 * string is a case, and a string may itself end in newlines). The .out file
 * has one line per case, ids separated by spaces (lines start with a space;
 * an empty line is no ids).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "tokenizer.h"

static const char SEPARATOR[] = "\n__ggml_vocab_test__\n";

static char *read_all(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, fp)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
    }
    fclose(fp);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Parse "1 2 3" into ids; returns the count. */
static size_t parse_ids(const char *line, const char *end, int32_t *ids, size_t max)
{
    size_t n = 0;
    const char *p = line;
    while (p < end && n < max) {
        while (p < end && *p == ' ') p++;
        if (p >= end) break;
        char *stop;
        long v = strtol(p, &stop, 10);
        if (stop == p) break;
        ids[n++] = (int32_t)v;
        p = stop;
    }
    return n;
}

/* Printable form of a test string for a test name: C escapes, at most 40
 * bytes shown. Static buffer. */
static const char *shown(const char *s, size_t n)
{
    static char buf[256];
    size_t used = 0;
    for (size_t i = 0; i < n && i < 40; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') used += (size_t)snprintf(buf + used, sizeof buf - used, "\\n");
        else if (c == '\t') used += (size_t)snprintf(buf + used, sizeof buf - used, "\\t");
        else if (c < 0x20 || c == 0x7f || c == '#') used += (size_t)snprintf(buf + used, sizeof buf - used, "\\x%02x", c);
        else buf[used++] = (char)c;
    }
    if (n > 40) used += (size_t)snprintf(buf + used, sizeof buf - used, "...");
    buf[used] = '\0';
    return buf;
}

static void print_ids(const char *label, const int32_t *ids, size_t n)
{
    char line[2048];
    size_t used = 0;
    for (size_t i = 0; i < n && used + 16 < sizeof line; i++)
        used += (size_t)snprintf(line + used, sizeof line - used, " %d", ids[i]);
    line[used] = '\0';
    diag("%s:%s", label, line);
}

int main(void)
{
    require_fixtures("models/llama-spm-vocab.gguf");
    require_fixtures("vectors/tokenizer/llama-spm.inp");
    require_fixtures("vectors/tokenizer/llama-spm.out");

    llp_err err = { { 0 } };
    llp_tokenizer *t = llp_tokenizer_load(fixture_path("models/llama-spm-vocab.gguf"), &err);
    if (!ok(t != NULL, "load the Llama-2 vocabulary")) {
        diag("%s", err.msg);
        return done_testing();
    }
    is_int(llp_tokenizer_n_vocab(t), 32000, "32000 tokens");
    is_int(llp_tokenizer_bos(t), 1, "BOS is 1");
    is_int(llp_tokenizer_eos(t), 2, "EOS is 2");
    ok(llp_tokenizer_add_bos(t) && !llp_tokenizer_add_eos(t), "adds BOS, not EOS");

    size_t inp_len, out_len;
    char *inp = read_all(fixture_path("vectors/tokenizer/llama-spm.inp"), &inp_len);
    char *outp = read_all(fixture_path("vectors/tokenizer/llama-spm.out"), &out_len);
    ok(inp && outp, "read the vector files");
    if (!inp || !outp) return done_testing();

    size_t sep_len = strlen(SEPARATOR), n_cases = 0, n_ids_ok = 0, n_round_ok = 0;
    const char *p = inp, *end = inp + inp_len, *o = outp, *oend = outp + out_len;
    int32_t want[4096];
    while (p < end) {
        const char *sep = memmem(p, (size_t)(end - p), SEPARATOR, sep_len);
        if (!sep) break;
        const char *eol = memchr(o, '\n', (size_t)(oend - o));
        if (!eol) eol = oend;
        size_t n_want = parse_ids(o, eol, want, 4096);
        size_t text_len = (size_t)(sep - p);
        n_cases++;

        llp_tokens got = { 0 };
        int rc = llp_tokenize(t, p, text_len, false, false, &got, &err);
        bool same = rc == 0 && got.n == n_want && (n_want == 0 || memcmp(got.ids, want, n_want * sizeof *want) == 0);
        if (!ok(same, "case %zu: ids of \"%s\"", n_cases, shown(p, text_len))) {
            print_ids("got ", got.ids, got.n);
            print_ids("want", want, n_want);
        } else {
            n_ids_ok++;
        }

        size_t dec_len;
        char *dec = llp_detokenize(t, got.ids, got.n, false, &dec_len, &err);
        bool back = dec && dec_len == text_len && memcmp(dec, p, text_len) == 0;
        if (back) n_round_ok++;
        ok(back, "case %zu: decode gives the input back", n_cases);
        free(dec);

        /* With BOS the ids are the same after it, and decoding drops it. */
        llp_tokens with_bos = { 0 };
        llp_tokenize(t, p, text_len, true, false, &with_bos, &err);
        bool bos_ok = with_bos.n == got.n + 1 && with_bos.ids[0] == 1 &&
                      (got.n == 0 || memcmp(with_bos.ids + 1, got.ids, got.n * sizeof *got.ids) == 0);
        dec = llp_detokenize(t, with_bos.ids, with_bos.n, false, &dec_len, &err);
        bos_ok = bos_ok && dec && dec_len == text_len && memcmp(dec, p, text_len) == 0;
        ok(bos_ok, "case %zu: with BOS, same ids after it and the same text back", n_cases);
        free(dec);
        llp_tokens_free(&with_bos);
        llp_tokens_free(&got);

        p = sep + sep_len;
        o = eol < oend ? eol + 1 : oend;
    }
    ok(p == end, "the .inp file ends with a separator");
    ok(o == oend, "one .out line per case");
    diag("ids identical: %zu/%zu; decode round trip: %zu/%zu", n_ids_ok, n_cases, n_round_ok, n_cases);
    ok(n_cases >= 40, "read %zu cases", n_cases);

    /* ENGINE-NOTES examples, and the special-token rules on real pieces. */
    struct { const char *text; bool parse_special; int n; int32_t ids[6]; } ex[] = {
        { "Hello world", false, 2, { 15043, 3186 } },
        { " Hello world", false, 3, { 29871, 15043, 3186 } },
        { "\n", false, 2, { 29871, 13 } },
        { "<s>Hello", true, 2, { 1, 15043 } },
        { "<s>", true, 1, { 1 } },
        { "Hi</s>", true, 2, { 6324, 2 } },
    };
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        llp_tokens got = { 0 };
        llp_tokenize(t, ex[i].text, strlen(ex[i].text), false, ex[i].parse_special, &got, &err);
        bool same = got.n == (size_t)ex[i].n && memcmp(got.ids, ex[i].ids, got.n * sizeof *got.ids) == 0;
        if (!ok(same, "example \"%s\"%s", shown(ex[i].text, strlen(ex[i].text)), ex[i].parse_special ? " (parse special)" : ""))
            print_ids("got", got.ids, got.n);
        llp_tokens_free(&got);
    }
    llp_tokens plain = { 0 };
    llp_tokenize(t, "<s>", 3, false, false, &plain, &err);
    bool no_control = plain.n > 0;
    for (size_t i = 0; i < plain.n; i++) no_control = no_control && !llp_token_is_control(t, plain.ids[i]);
    ok(no_control, "'<s>' as plain text gives no control token");
    llp_tokens_free(&plain);

    free(inp);
    free(outp);
    llp_tokenizer_free(t);
    return done_testing();
}
