/*
 * fuzz_tokenizer.c — libFuzzer harness for the tokenizer, both directions:
 * arbitrary bytes are encoded (with and without special-token parsing) and,
 * when the text holds no "▁" and no special-token text, must decode back to
 * themselves; the same bytes read as an array of ids are decoded, and ids
 * outside the vocabulary must be refused by name, not read.
 *
 * Not for: agreement with the reference ids (tokenizer_vectors.c) or merge
 * order rules (tokenizer_selfcontained.c).
 *
 * Vocabularies: a small one this harness writes with the GGUF writer at
 * startup (bytes, a few merges, a user-defined and a control token, so that
 * every code path of the encoder is reachable from short inputs), and the
 * Llama-2 vocabulary from $LLP_FIXTURES/models/llama-spm-vocab.gguf when
 * that file exists. The first input byte chooses vocabulary and mode; the
 * rest is the text or the ids.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf.h"
#include "tokenizer.h"

#define SP "\xE2\x96\x81"   /* "▁" */

static llp_tokenizer *small_vocab, *llama_vocab;

static llp_tokenizer *write_small_vocab(void)
{
    static const char *const pieces[] = {
        SP, "a", "b", "e", "t", SP "t", "th", "the", SP "the", "he", "er",
        "\xC3\xA9", "\xC3\xA9\xC3\xA9", SP SP, "<user>", "<ctl>",
    };
    enum { N_PIECES = sizeof pieces / sizeof pieces[0], FIRST = 3 + 256, N = FIRST + N_PIECES };
    static char bytes[256][8];
    const char *tokens[N];
    float scores[N];
    int32_t types[N];
    tokens[0] = "<unk>"; tokens[1] = "<s>"; tokens[2] = "</s>";
    types[0] = LLP_TOKEN_UNKNOWN; types[1] = types[2] = LLP_TOKEN_CONTROL;
    scores[0] = scores[1] = scores[2] = 0;
    for (int b = 0; b < 256; b++) {
        snprintf(bytes[b], sizeof bytes[b], "<0x%02X>", b);
        tokens[3 + b] = bytes[b];
        types[3 + b] = LLP_TOKEN_BYTE;
        scores[3 + b] = 0;
    }
    for (int i = 0; i < N_PIECES; i++) {
        tokens[FIRST + i] = pieces[i];
        scores[FIRST + i] = -(float)(i % 5);   /* ties on purpose */
        types[FIRST + i] = LLP_TOKEN_NORMAL;
    }
    types[FIRST + N_PIECES - 2] = LLP_TOKEN_USER_DEFINED;
    types[FIRST + N_PIECES - 1] = LLP_TOKEN_CONTROL;

    gguf_writer *w = gguf_writer_new();
    gguf_set_str(w, "general.architecture", "llama");
    gguf_set_str(w, "tokenizer.ggml.model", "llama");
    gguf_set_arr_str(w, "tokenizer.ggml.tokens", tokens, N);
    gguf_set_arr(w, "tokenizer.ggml.scores", GGUF_F32, scores, N);
    gguf_set_arr(w, "tokenizer.ggml.token_type", GGUF_I32, types, N);
    char path[] = "/tmp/fuzz-vocab-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) { perror("mkstemp"); abort(); }
    close(fd);
    llp_err err = {{0}};
    llp_tokenizer *t = NULL;
    if (gguf_writer_write(w, path, &err) == 0) t = llp_tokenizer_load(path, &err);
    unlink(path);
    gguf_writer_free(w);
    if (!t) { fprintf(stderr, "fuzz_tokenizer: %s\n", err.msg); abort(); }
    return t;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    small_vocab = write_small_vocab();
    const char *dir = getenv("LLP_FIXTURES");
    char path[4096];
    snprintf(path, sizeof path, "%s/models/llama-spm-vocab.gguf", dir ? dir : "../shared/fixtures");
    if (access(path, R_OK) == 0) {
        llp_err err = {{0}};
        llama_vocab = llp_tokenizer_load(path, &err);
        if (!llama_vocab) { fprintf(stderr, "fuzz_tokenizer: %s\n", err.msg); abort(); }
    }
    return 0;
}

/* True when decode(encode(text)) must give the text back: no "▁" (it decodes
 * to a space) and nothing special-token text could match ('<' starts all of
 * them in both vocabularies). */
static bool must_round_trip(const uint8_t *text, size_t n)
{
    if (memchr(text, '<', n)) return false;
    for (size_t i = 0; i + 2 < n; i++)
        if (memcmp(text + i, SP, 3) == 0) return false;
    return true;
}

static void encode(const llp_tokenizer *t, const uint8_t *text, size_t n, unsigned mode)
{
    bool add_special = mode & 2, parse_special = mode & 4;
    llp_tokens ids = {0};
    llp_err err = {{0}};
    if (llp_tokenize(t, (const char *)text, n, add_special, parse_special, &ids, &err) != 0) abort();
    int32_t n_vocab = llp_tokenizer_n_vocab(t);
    for (size_t i = 0; i < ids.n; i++)
        if (ids.ids[i] < 0 || ids.ids[i] >= n_vocab) abort();
    size_t len = 0;
    char *back = llp_detokenize(t, ids.ids, ids.n, false, &len, &err);
    if (!back) abort();
    if (must_round_trip(text, n) && (len != n || memcmp(back, text, n) != 0)) abort();
    free(back);
    llp_tokens_free(&ids);
}

static void decode(const llp_tokenizer *t, const uint8_t *bytes, size_t n, unsigned mode)
{
    size_t count = n / 4;
    int32_t *ids = malloc((count ? count : 1) * sizeof *ids);
    int32_t n_vocab = llp_tokenizer_n_vocab(t);
    bool wild = mode & 2;   /* raw ids, most outside the vocabulary */
    size_t first_bad = count;
    for (size_t i = 0; i < count; i++) {
        uint32_t v;
        memcpy(&v, bytes + 4 * i, 4);
        ids[i] = wild ? (int32_t)v : (int32_t)(v % (uint32_t)(n_vocab + 2));
        if ((ids[i] < 0 || ids[i] >= n_vocab) && first_bad == count) first_bad = i;
    }
    llp_err err = {{0}};
    size_t len = 0;
    char *text = llp_detokenize(t, ids, count, mode & 4, &len, &err);
    if ((text == NULL) != (first_bad < count)) abort();
    if (text && strlen(text) > len) abort();
    free(text);
    /* One token at a time, into a buffer too small on purpose. */
    char piece[4];
    for (size_t i = 0; i < count && i < 64; i++) {
        size_t need = llp_token_to_text(t, ids[i], mode & 4, piece, sizeof piece);
        size_t plen = 0;
        const char *stored = llp_token_piece(t, ids[i], &plen);
        if (stored ? need > plen : need != 0) abort();
    }
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    unsigned mode = data[0];
    const llp_tokenizer *t = (mode & 1) && llama_vocab ? llama_vocab : small_vocab;
    if (mode & 8) decode(t, data + 1, size - 1, mode);
    else encode(t, data + 1, size - 1, mode);
    return 0;
}
