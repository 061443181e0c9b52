/*
 * make_seeds.c — writes the GGUF seed files of tests/fuzz/corpus/gguf with
 * the project's writer: small valid files that between them hold every
 * value type, arrays of numbers and strings, tensors of a float, a legacy
 * and a K-quant type, GGUF v2 and a non-default alignment, so the fuzzer
 * starts from inputs that get past the header.
 *
 * Not for: the test suite (the seeds are committed; rerun this only to
 * change them) or models anything could run (the tensors are not a model).
 *
 *   cc -D_GNU_SOURCE -Ilib tests/fuzz/make_seeds.c build/rel/libllamapipe.a \
 *      -lopenblas -lsqlite3 -lyaml -ljansson -lxxhash -lm -pthread \
 *      -o /tmp/make_seeds && /tmp/make_seeds tests/fuzz/corpus/gguf
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "quant.h"
#include "synth.h"

static void write_or_die(gguf_writer *w, const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    llp_err err = {{0}};
    if (gguf_writer_write(w, path, &err) != 0) {
        fprintf(stderr, "make_seeds: %s\n", err.msg);
        exit(1);
    }
    gguf_writer_free(w);
}

static void every_value_type(gguf_writer *w)
{
    gguf_set_str(w, "general.architecture", "llama");
    gguf_set_u8(w, "t.u8", 200);
    gguf_set_i8(w, "t.i8", -5);
    gguf_set_u16(w, "t.u16", 60000);
    gguf_set_i16(w, "t.i16", -300);
    gguf_set_u32(w, "llama.block_count", 2);
    gguf_set_i32(w, "t.i32", -70000);
    gguf_set_f32(w, "t.f32", 1.5f);
    gguf_set_bool(w, "t.bool", true);
    gguf_set_u64(w, "t.u64", 1ull << 40);
    gguf_set_i64(w, "t.i64", -(1ll << 40));
    gguf_set_f64(w, "t.f64", 0.25);
    static const int32_t ints[] = {1, -2, 3, 4};
    gguf_set_arr(w, "t.arr_i32", GGUF_I32, ints, 4);
    static const float floats[] = {0.5f, -1.0f};
    gguf_set_arr(w, "t.arr_f32", GGUF_F32, floats, 2);
    static const char *const strs[] = {"<s>", "\xE2\x96\x81the", ""};
    gguf_set_arr_str(w, "t.arr_str", strs, 3);
}

int main(int argc, char **argv)
{
    if (argc != 2) { fprintf(stderr, "usage: make_seeds DIR\n"); return 2; }
    const char *dir = argv[1];

    /* v3: every value type, three small tensors (F32, Q8_0, Q4_K). */
    gguf_writer *w = gguf_writer_new();
    every_value_type(w);
    float f32[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    int64_t ne_f32[2] = {4, 2};
    gguf_add_tensor(w, "a.weight", 2, ne_f32, LLP_F32, f32);
    float ramp[256];
    for (int i = 0; i < 256; i++) ramp[i] = (float)(i - 128) / 64;
    uint8_t q8[sizeof ramp], q4k[sizeof ramp];
    llp_quantize_row(LLP_Q8_0, ramp, q8, 32);
    int64_t ne_q8[1] = {32};
    gguf_add_tensor(w, "b.weight", 1, ne_q8, LLP_Q8_0, q8);
    llp_quantize_row(LLP_Q4_K, ramp, q4k, 256);
    int64_t ne_q4k[1] = {256};
    gguf_add_tensor(w, "c.weight", 1, ne_q4k, LLP_Q4_K, q4k);
    write_or_die(w, dir, "v3-types-tensors.gguf");

    /* v2, alignment 64, one F16 tensor of four dimensions. */
    w = gguf_writer_new();
    gguf_writer_set_version(w, 2);
    gguf_set_u32(w, "general.alignment", 64);
    gguf_set_str(w, "general.name", "seed");
    uint16_t f16[16];
    for (int i = 0; i < 16; i++) f16[i] = llp_f32_to_fp16((float)i);
    int64_t ne4[4] = {2, 2, 2, 2};
    gguf_add_tensor(w, "d.weight", 4, ne4, LLP_F16, f16);
    write_or_die(w, dir, "v2-align64-f16.gguf");

    /* Keys only, no tensors. */
    w = gguf_writer_new();
    every_value_type(w);
    write_or_die(w, dir, "kv-only.gguf");

    /* A small vocabulary, as llp-tokenize would load it. */
    w = gguf_writer_new();
    static const char *const tokens[] = {"<unk>", "<s>", "</s>", "<0x0A>", "\xE2\x96\x81", "a", "b", "ab"};
    static const float scores[] = {0, 0, 0, 0, -1, -2, -2, -0.5f};
    static const int32_t types[] = {2, 3, 3, 6, 1, 1, 1, 1};
    gguf_set_str(w, "tokenizer.ggml.model", "llama");
    gguf_set_arr_str(w, "tokenizer.ggml.tokens", tokens, 8);
    gguf_set_arr(w, "tokenizer.ggml.scores", GGUF_F32, scores, 8);
    gguf_set_arr(w, "tokenizer.ggml.token_type", GGUF_I32, types, 8);
    write_or_die(w, dir, "vocab.gguf");

    /* The smallest model the loader accepts: 260 tokens (specials and
     * bytes), dim 32, one layer, Q4_0 matrices, tied output. */
    llp_synth_spec spec = {.n_vocab = 260, .dim = 32, .n_layers = 1, .n_heads = 1,
                           .n_heads_kv = 1, .ffn_dim = 32, .n_ctx = 64,
                           .type = LLP_Q4_0, .tied = true, .seed = 1};
    char path[4096];
    snprintf(path, sizeof path, "%s/model-micro.gguf", dir);
    llp_err err = {{0}};
    if (llp_synth_write(&spec, path, &err) != 0) {
        fprintf(stderr, "make_seeds: %s\n", err.msg);
        return 1;
    }
    return 0;
}
