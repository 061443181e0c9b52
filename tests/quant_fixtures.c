/*
 * quant_fixtures.c — our decoders read llama.cpp-quantized files right, and
 * our encoders are no worse than llama.cpp's.
 *
 * The shared fixtures hold one small model (fxa) as F32 and as every
 * quantized type llama.cpp writes. Every tensor of every fxa-TYPE.gguf is
 * dequantized with llp_dequantize_row and compared with the same tensor of
 * fxa-f32.gguf: the relative RMS error must be the small error of that
 * quantization (a wrong bit layout gives errors near 1 or more). Then the
 * first rows of each F32 tensor are quantized with llp_quantize_row to the
 * type llama.cpp chose for it, and our error must not exceed llama.cpp's on
 * the same rows by more than 2 %.
 *
 * Not for: exact bit patterns (quant_blocks.c) or logits (model tests).
 *
 * Measured when written (relative RMS, mean over tensors; llama.cpp's file
 * vs our re-quantization): Q8_0 0.0053/0.0053, Q6_K 0.0177/0.0168,
 * Q5_1 0.0378/0.0337, Q5_K 0.0361/0.0347, Q5_0 0.0426/0.0399,
 * Q4_1 0.0782/0.0698, Q4_K 0.0713/0.0704, Q4_0 0.0858/0.0807,
 * Q3_K 0.1509/0.1434, Q2_K 0.2965/0.2673; F16 0.0002, BF16 0.0017.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "quant.h"
#include "tap.h"
#include "util.h"

/* Upper bounds on the relative RMS error of llama.cpp's files: the worst
 * tensor measured, plus about 10 %. */
static double decode_bound(uint32_t type)
{
    switch (type) {
    case LLP_F32:  return 0;
    case LLP_F16:  return 0.00025;
    case LLP_BF16: return 0.002;
    case LLP_Q8_0: return 0.006;
    case LLP_Q6_K: return 0.0195;
    case LLP_Q5_1: return 0.042;
    case LLP_Q5_K: return 0.040;
    case LLP_Q5_0: return 0.047;
    case LLP_Q4_1: return 0.087;
    case LLP_Q4_K: return 0.079;
    case LLP_Q4_0: return 0.095;
    case LLP_Q3_K: return 0.167;
    case LLP_Q2_K: return 0.330;
    default:       return 0;
    }
}

#define ROWS_REQUANTIZED 32

static double rel_rms(const float *ref, const float *y, int64_t n)
{
    double e = 0, s = 0;
    for (int64_t i = 0; i < n; i++) {
        e += ((double)y[i] - ref[i]) * ((double)y[i] - ref[i]);
        s += (double)ref[i] * ref[i];
    }
    return s > 0 ? sqrt(e / s) : sqrt(e);
}

static void check_file(const gguf_file *ref, const char *variant)
{
    char rel[128];
    snprintf(rel, sizeof rel, "models/fxa-%s.gguf", variant);
    const char *path = fixture_path(rel);
    if (!path) {
        ok(0, "fixture %s present", rel);
        return;
    }
    llp_err err;
    gguf_file *f = gguf_open(path, &err);
    if (!ok(f != NULL, "open %s", rel)) {
        diag("%s", err.msg);
        return;
    }
    int decode_good = 1, encode_good = 1, n_checked = 0;
    for (int64_t t = 0; t < gguf_n_tensors(f); t++) {
        const gguf_tensor *q = gguf_tensor_at(f, t);
        const gguf_tensor *r = gguf_find_tensor(ref, q->name);
        if (!r || r->type != LLP_F32 || memcmp(r->ne, q->ne, sizeof q->ne)) {
            diag("%s: %s has no F32 twin of the same shape", rel, q->name);
            decode_good = 0;
            continue;
        }
        int64_t cols = q->ne[0], rows = 1;
        for (uint32_t d = 1; d < q->n_dims; d++) rows *= q->ne[d];
        size_t row_bytes = llp_row_size(q->type, cols);
        const float *x = r->data;
        float *y = llp_malloc((size_t)(cols * rows) * sizeof(float));
        for (int64_t i = 0; i < rows; i++)
            llp_dequantize_row(q->type, (const uint8_t *)q->data + i * row_bytes,
                               y + i * cols, cols);
        double theirs_all = rel_rms(x, y, cols * rows);
        if (theirs_all > decode_bound(q->type)) {
            diag("%s: %s (%s) decodes with relative RMS error %.5f > %.5f", rel,
                 q->name, llp_type_name(q->type), theirs_all, decode_bound(q->type));
            decode_good = 0;
        }
        if (q->type != LLP_F32) {
            int64_t some = rows < ROWS_REQUANTIZED ? rows : ROWS_REQUANTIZED;
            void *mine = llp_malloc(row_bytes * (size_t)some);
            float *z = llp_malloc((size_t)(cols * some) * sizeof(float));
            for (int64_t i = 0; i < some; i++) {
                uint8_t *row = (uint8_t *)mine + i * row_bytes;
                llp_quantize_row(q->type, x + i * cols, row, cols);
                llp_dequantize_row(q->type, row, z + i * cols, cols);
            }
            double theirs = rel_rms(x, y, cols * some), ours = rel_rms(x, z, cols * some);
            if (ours > theirs * 1.02) {
                diag("%s: %s (%s) re-quantized: ours %.5f, llama.cpp %.5f", rel,
                     q->name, llp_type_name(q->type), ours, theirs);
                encode_good = 0;
            }
            free(mine);
            free(z);
        }
        free(y);
        n_checked++;
    }
    ok(decode_good && n_checked > 0,
       "fxa-%s: all %d tensors decode within their type's error of fxa-f32", variant, n_checked);
    ok(encode_good, "fxa-%s: llp_quantize_row is no worse than llama.cpp on the same rows",
       variant);
    gguf_close(f);
}

int main(void)
{
    require_fixtures("models/fxa-f32.gguf");
    llp_err err;
    gguf_file *ref = gguf_open(fixture_path("models/fxa-f32.gguf"), &err);
    if (!ok(ref != NULL, "open fxa-f32.gguf")) {
        diag("%s", err.msg);
        return done_testing();
    }
    static const char *variants[] = {
        "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1",
        "q2_k", "q3_k_m", "q4_k_m", "q5_k_m", "q6_k",
    };
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++)
        check_file(ref, variants[v]);
    gguf_close(ref);
    return done_testing();
}
