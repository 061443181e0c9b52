/*
 * quantize_types.c — llp_quantize_file to every target: the per-tensor
 * types follow llama.cpp's rules, the output loads and runs, the weights
 * survive the round trip within a measured error, and the logits stay
 * within a measured mean KL divergence of the F32 source.
 *
 * Not for: the block encoders in isolation (quant_roundtrip.c, on Gaussian
 * rows) or the command line (cli_quantize_info.t, which also compares our
 * types with llama.cpp's own fxa-* files).
 *
 * Two random-weight F32 models (synth.c; weights uniform, std 1/sqrt(n_in)):
 *   A "small": dim 256, 2 layers, 4/2 heads, ffn 768, vocab 512 — every
 *     row a multiple of 256, as in Llama-2.
 *   B dim 288, 8 layers, 8/2 heads (GQA 4), ffn 800, vocab 512 — rows of
 *     288 and 800 are not multiples of 256, so K-quants fall back (Q4_K ->
 *     Q5_0 ...) and output.weight is Q8_0; 8 layers make the "more bits"
 *     layers 0, 3, 6, 7.
 * The expected types are written out here independently of quantize.c.
 *
 * Round trip: relative RMS error sqrt(sum (w - q)^2 / sum w^2) of each
 * converted tensor against the F32 source. Measured maximum over all
 * tensors of that type in both models (uniform weights, so lower than
 * quant_roundtrip.c's Gaussian figures), and the bound asserted (+15 %):
 *
 *   type   measured  bound        type   measured  bound
 *   F16    0.00021   0.00025      Q5_0   0.02827   0.0325
 *   BF16   0.00167   0.0019       Q4_1   0.05445   0.0625
 *   Q8_0   0.00380   0.0044       Q4_K   0.05489   0.063
 *   Q6_K   0.01265   0.0145       Q4_0   0.05931   0.068
 *   Q5_1   0.02635   0.030        Q3_K   0.11858   0.136
 *   Q5_K   0.02706   0.031        Q2_K   0.22311   0.257
 *
 * Mean KL divergence KL(p_f32 || p_quant) of the next-token distributions
 * over the 16 positions of a fixed prompt (BOS + 15 ids), measured on
 * model A / model B; the bound asserted is about 1.5x the larger. On B
 * every K-quant falls back (Q6_K -> Q8_0, Q2_K/Q3_K -> Q4_0), so those
 * rows repeat the legacy figures. The top-1 token agrees at all 16
 * positions for F16, BF16, Q8_0 and Q6_K; at 8 to 15 of 16 for 5 bits and
 * fewer (random weights give flat distributions, where near-ties flip).
 *
 *   target  A         B         bound     target  A         B         bound
 *   F32     0         0         1e-9      Q4_1    0.00607   0.0187    0.028
 *   F16     9.7e-8    3.8e-7    6e-7      Q4_K    0.00592   0.00568   0.009
 *   BF16    7.1e-6    1.9e-5    3e-5      Q4_0    0.00709   0.0206    0.031
 *   Q8_0    8.4e-5    2.95e-4   4.5e-4    Q3_K    0.0274    0.0206    0.041
 *   Q6_K    5.1e-4    2.95e-4   8e-4      Q2_K    0.0735    0.0206    0.11
 *   Q5_1    0.00166   0.00471   0.007     Q3_K_M  0.0205    0.0153    0.031
 *   Q5_K    0.00170   0.00471   0.007     Q4_K_M  0.00595   0.00437   0.009
 *   Q5_0    0.00191   0.00523   0.008     Q5_K_M  0.00156   0.00391   0.006
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "model.h"
#include "quant.h"
#include "quantize.h"
#include "synth.h"
#include "tap.h"

#define N_PROMPT 16

/* ---- the models ---------------------------------------------------------- */

typedef struct model_case {
    const char *label;
    llp_synth_spec spec;
    char path[512];
    float *logits;      /* (N_PROMPT, n_vocab) of the F32 source */
} model_case;

/* ---- expected types, written out from llama.cpp's rules ----------------- */

static bool is_k(uint32_t t)
{
    return t == LLP_Q2_K || t == LLP_Q3_K || t == LLP_Q4_K || t == LLP_Q5_K || t == LLP_Q6_K;
}

/* "More bits" layers, listed rather than computed. */
static bool more_bits(int layer, int n_layers)
{
    static const int two[] = { 1 }, eight[] = { 0, 3, 6, 7 };
    const int *list = n_layers == 2 ? two : eight;
    int n = n_layers == 2 ? 1 : 4;
    for (int i = 0; i < n; i++)
        if (list[i] == layer) return true;
    return false;
}

static uint32_t fallback(uint32_t t, int64_t n_in)
{
    if (n_in % 256 == 0 || !is_k(t)) return t;
    switch (t) {
    case LLP_Q2_K: case LLP_Q3_K: return LLP_Q4_0;
    case LLP_Q4_K: return LLP_Q5_0;
    case LLP_Q5_K: return LLP_Q5_1;
    default: return LLP_Q8_0;
    }
}

static uint32_t expected_type(const char *target, const char *name, uint32_t n_dims,
                              int64_t n_in, int n_layers, int gqa)
{
    if (n_dims < 2 || strstr(name, "_norm")) return LLP_F32;
    if (!strcmp(target, "F32")) return LLP_F32;
    if (!strcmp(target, "F16")) return LLP_F16;
    if (!strcmp(target, "BF16")) return LLP_BF16;
    uint32_t base = (uint32_t)llp_type_from_name(target);
    if (!strncmp(target, "Q3_K", 4)) base = LLP_Q3_K;
    if (!strncmp(target, "Q4_K", 4)) base = LLP_Q4_K;
    if (!strncmp(target, "Q5_K", 4)) base = LLP_Q5_K;
    if (!strcmp(name, "output.weight")) {
        if (n_in % llp_type_get(base)->block_size) return LLP_Q8_0;
        return fallback(base == LLP_Q8_0 ? LLP_Q8_0 : LLP_Q6_K, n_in);
    }
    int layer = -1;
    sscanf(name, "blk.%d.", &layer);
    uint32_t t = base;
    bool m = layer >= 0 && more_bits(layer, n_layers);
    bool q2 = !strcmp(target, "Q2_K"), q3m = !strcmp(target, "Q3_K_M"),
         q4m = !strcmp(target, "Q4_K_M"), q5m = !strcmp(target, "Q5_K_M"),
         q4s = !strcmp(target, "Q4_K") || !strcmp(target, "Q4_K_S");
    if (strstr(name, "attn_v.weight")) {
        if (q2) t = gqa >= 4 ? LLP_Q4_K : LLP_Q3_K;
        if (q3m) t = layer < 2 ? LLP_Q5_K : LLP_Q4_K;
        if ((q4m || q5m) && m) t = LLP_Q6_K;
        if (q4s && layer < 4) t = LLP_Q5_K;
    } else if (strstr(name, "ffn_down")) {
        if (q2) t = LLP_Q3_K;
        if (q3m) t = layer < n_layers / 16 ? LLP_Q5_K : LLP_Q4_K;
        if ((q4m || q5m) && m) t = LLP_Q6_K;
        if (q4s && layer < n_layers / 8) t = LLP_Q5_K;
    } else if (strstr(name, "attn_output")) {
        if (q2) t = LLP_Q3_K;
        if (q3m) t = LLP_Q4_K;
    }
    return fallback(t, n_in);
}

/* ---- round trip ---------------------------------------------------------- */

/* Bound on the relative RMS round-trip error of a tensor of each type. */
static double roundtrip_bound(uint32_t t)
{
    switch (t) {
    case LLP_F32: return 1e-9;
    case LLP_F16: return 0.00025;
    case LLP_BF16: return 0.0019;
    case LLP_Q8_0: return 0.0044;
    case LLP_Q6_K: return 0.0145;
    case LLP_Q5_1: return 0.030;
    case LLP_Q5_K: return 0.031;
    case LLP_Q5_0: return 0.0325;
    case LLP_Q4_1: return 0.0625;
    case LLP_Q4_K: return 0.063;
    case LLP_Q4_0: return 0.068;
    case LLP_Q3_K: return 0.136;
    case LLP_Q2_K: return 0.257;
    default: return 0;
    }
}

static double worst_error[LLP_TYPE_COUNT];

static double relative_rms(const gguf_tensor *src, const gguf_tensor *dst)
{
    int64_t n = src->ne[0], rows = 1;
    for (uint32_t d = 1; d < src->n_dims; d++) rows *= src->ne[d];
    float *a = malloc(sizeof(float) * (size_t)n), *b = malloc(sizeof(float) * (size_t)n);
    double err = 0, ref = 0;
    size_t sa = llp_row_size(src->type, n), sb = llp_row_size(dst->type, n);
    for (int64_t r = 0; r < rows; r++) {
        llp_dequantize_row(src->type, (const uint8_t *)src->data + sa * (size_t)r, a, n);
        llp_dequantize_row(dst->type, (const uint8_t *)dst->data + sb * (size_t)r, b, n);
        for (int64_t i = 0; i < n; i++) {
            err += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
            ref += (double)a[i] * a[i];
        }
    }
    free(a);
    free(b);
    return ref > 0 ? sqrt(err / ref) : 0;
}

/* ---- logits -------------------------------------------------------------- */

static const int32_t prompt[N_PROMPT] = { 1, 300, 301, 17, 400, 260, 355, 42,
                                          511, 289, 333, 100, 270, 480, 9, 444 };

/* Logits of every prompt position, (N_PROMPT, n_vocab); NULL on failure. */
static float *prompt_logits(const char *path, int *n_vocab)
{
    llp_err err = { "" };
    llp_model *m = llp_model_load(path, &err);
    if (!m) {
        diag("%s", err.msg);
        return NULL;
    }
    llp_context_params cp = { .n_ctx = 64, .n_threads = 2 };
    llp_context *c = llp_context_new(m, &cp, &err);
    *n_vocab = m->cfg.n_vocab;
    float *out = malloc(sizeof(float) * (size_t)*n_vocab * N_PROMPT);
    int32_t pos[N_PROMPT];
    bool want[N_PROMPT];
    for (int i = 0; i < N_PROMPT; i++) {
        pos[i] = i;
        want[i] = true;
    }
    llp_batch b = { N_PROMPT, prompt, pos, NULL, want };
    if (!c || llp_decode(c, &b, out, NULL, &err)) {
        diag("%s", err.msg);
        free(out);
        out = NULL;
    }
    llp_context_free(c);
    llp_model_free(m);
    return out;
}

/* Mean over positions of KL(p || q), p and q the softmax of the rows. */
static double mean_kl(const float *p_logits, const float *q_logits, int n_vocab, int *top1_same)
{
    double total = 0;
    *top1_same = 0;
    for (int t = 0; t < N_PROMPT; t++) {
        const float *p = p_logits + (size_t)t * n_vocab, *q = q_logits + (size_t)t * n_vocab;
        double pmax = p[0], qmax = q[0], ps = 0, qs = 0, kl = 0;
        int pa = 0, qa = 0;
        for (int i = 1; i < n_vocab; i++) {
            if (p[i] > pmax) { pmax = p[i]; pa = i; }
            if (q[i] > qmax) { qmax = q[i]; qa = i; }
        }
        *top1_same += pa == qa;
        for (int i = 0; i < n_vocab; i++) {
            ps += exp(p[i] - pmax);
            qs += exp(q[i] - qmax);
        }
        double plz = pmax + log(ps), qlz = qmax + log(qs);
        for (int i = 0; i < n_vocab; i++) {
            double lp = p[i] - plz, lq = q[i] - qlz;
            kl += exp(lp) * (lp - lq);
        }
        total += kl;
    }
    return total / N_PROMPT;
}

/* ---- one target on one model --------------------------------------------- */

typedef struct target {
    const char *name;
    double kl_bound;        /* mean KL over the prompt, both models */
} target;

/* Mean KL bounds: the measured figures are in the table at the top. */
static const target targets[] = {
    { "F32", 1e-9 },
    { "F16", 6e-7 },
    { "BF16", 3e-5 },
    { "Q8_0", 4.5e-4 },
    { "Q6_K", 8e-4 },
    { "Q5_1", 0.007 },
    { "Q5_K", 0.007 },
    { "Q5_0", 0.008 },
    { "Q4_1", 0.028 },
    { "Q4_K", 0.009 },
    { "Q4_0", 0.031 },
    { "Q3_K", 0.041 },
    { "Q2_K", 0.11 },
    { "Q3_K_M", 0.031 },
    { "Q4_K_M", 0.009 },
    { "Q5_K_M", 0.006 },
};
#define N_TARGETS (sizeof targets / sizeof targets[0])

static double measured_kl[N_TARGETS][2];

static void check_target(model_case *mc, int which, size_t ti, const gguf_file *src)
{
    const target *tg = &targets[ti];
    const llp_synth_spec *s = &mc->spec;
    char out[600];
    llp_err err = { "" };
    snprintf(out, sizeof out, "%s/quantize_types_%s_%s.gguf", tmp_dir(), mc->label, tg->name);
    int ftype = llp_ftype_from_name(tg->name);
    llp_quantize_opts o = { .ftype = (uint32_t)ftype, .n_threads = 2 };
    llp_quantize_stats st;
    if (!ok(llp_quantize_file(mc->path, out, &o, &st, &err) == 0, "%s -> %s: written",
            mc->label, tg->name)) {
        diag("%s", err.msg);
        return;
    }

    gguf_file *q = gguf_open(out, &err);
    if (!ok(q != NULL, "%s -> %s: opens", mc->label, tg->name)) {
        diag("%s", err.msg);
        return;
    }
    int64_t ft = -1, qv = -1;
    gguf_get_int(q, "general.file_type", &ft);
    gguf_get_int(q, "general.quantization_version", &qv);
    ok(ft == ftype && qv == 2, "%s -> %s: general.file_type %lld, quantization_version %lld",
       mc->label, tg->name, (long long)ft, (long long)qv);
    ok(gguf_n_kv(q) == gguf_n_kv(src) + 1 && gguf_n_tensors(q) == gguf_n_tensors(src),
       "%s -> %s: every key (plus quantization_version) and tensor kept", mc->label, tg->name);

    int wrong = 0, too_far = 0;
    for (int64_t i = 0; i < gguf_n_tensors(q); i++) {
        const gguf_tensor *t = gguf_tensor_at(q, i), *o_t = gguf_find_tensor(src, t->name);
        uint32_t want = expected_type(tg->name, t->name, t->n_dims, t->ne[0], s->n_layers,
                                      s->n_heads / s->n_heads_kv);
        if (t->type != want) {
            if (wrong++ < 5)
                diag("%s: %s is %s, expected %s", tg->name, t->name, llp_type_name(t->type),
                     llp_type_name(want));
        }
        if (!o_t) continue;
        double e = relative_rms(o_t, t);
        if (e > worst_error[t->type]) worst_error[t->type] = e;
        if (e > roundtrip_bound(t->type)) {
            if (too_far++ < 5)
                diag("%s: %s (%s) round-trip error %.5f > %.5f", tg->name, t->name,
                     llp_type_name(t->type), e, roundtrip_bound(t->type));
        }
    }
    ok(wrong == 0, "%s -> %s: every tensor has the type llama.cpp gives it", mc->label, tg->name);
    ok(too_far == 0, "%s -> %s: round-trip error within the bound of each type", mc->label,
       tg->name);
    int sum = 0;
    for (int t = 0; t < LLP_TYPE_COUNT; t++) sum += st.n_by_type[t];
    ok(sum == st.n_tensors && st.n_tensors == gguf_n_tensors(q) &&
       st.dst_file_bytes == gguf_file_size(q) && st.src_file_bytes == gguf_file_size(src),
       "%s -> %s: stats add up (%d tensors, %d by fallback)", mc->label, tg->name, st.n_tensors,
       st.n_fallback);
    bool k_base = is_k(llp_ftype_base_type((uint32_t)ftype));
    bool quantized = k_base || llp_type_get(llp_ftype_base_type((uint32_t)ftype))->block_size > 1;
    /* On B: every K type falls back, and so does the Q6_K output of the
     * legacy targets; Q8_0's output is Q8_0 and fits. */
    bool expect_fallback = quantized && ftype != LLP_FTYPE_Q8_0;
    ok(which == 0 ? st.n_fallback == 0 : (st.n_fallback > 0) == expect_fallback,
       "%s -> %s: fallback only where rows do not fit (%d tensors)", mc->label, tg->name,
       st.n_fallback);
    gguf_close(q);

    int n_vocab = 0, same = 0;
    float *logits = prompt_logits(out, &n_vocab);
    if (!ok(logits != NULL, "%s -> %s: loads and runs", mc->label, tg->name)) return;
    double kl = mean_kl(mc->logits, logits, n_vocab, &same);
    measured_kl[ti][which] = kl;
    ok(kl <= tg->kl_bound, "%s -> %s: mean KL %.3g <= %.3g (top-1 same at %d of %d)", mc->label,
       tg->name, kl, tg->kl_bound, same, N_PROMPT);
    free(logits);
    remove(out);
}

/* ---- the rules on Llama-2 shapes, without files ------------------------- */

static void check_rules(void)
{
    /* Llama-2 7B: 32 layers; the "more bits" layers of a published Q4_K_M. */
    static const int more7b[] = { 0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31 };
    int got = 0, right = 0;
    for (int l = 0; l < 32; l++) {
        bool want = false;
        for (size_t i = 0; i < sizeof more7b / sizeof more7b[0]; i++) want |= more7b[i] == l;
        got += llp_quant_use_more_bits(l, 32);
        right += llp_quant_use_more_bits(l, 32) == want;
    }
    ok(got == 16 && right == 32, "use_more_bits(32 layers): layers 0-3, 6, 9, ..., 27, 28-31");

    llp_quant_rules r = { .ftype = LLP_FTYPE_Q4_K_M, .n_layers = 32, .n_gqa = 1 };
    int64_t ne_dim[2] = { 4096, 4096 }, ne_ffn[2] = { 11008, 4096 }, ne_out[2] = { 4096, 32000 },
            ne_norm[1] = { 4096 };
    bool fb;
    int q6_v = 0, q6_down = 0;
    char name[64];
    for (int l = 0; l < 32; l++) {
        snprintf(name, sizeof name, "blk.%d.attn_v.weight", l);
        q6_v += llp_quant_tensor_type(&r, name, 2, ne_dim, LLP_F16, &fb) == LLP_Q6_K;
        snprintf(name, sizeof name, "blk.%d.ffn_down.weight", l);
        q6_down += llp_quant_tensor_type(&r, name, 2, ne_ffn, LLP_F16, &fb) == LLP_Q6_K;
    }
    ok(q6_v == 16 && q6_down == 16, "7B Q4_K_M: 16 attn_v and 16 ffn_down in Q6_K (%d, %d)",
       q6_v, q6_down);
    is_int(llp_quant_tensor_type(&r, "output.weight", 2, ne_out, LLP_F16, &fb), LLP_Q6_K,
           "7B Q4_K_M: output.weight Q6_K");
    is_int(llp_quant_tensor_type(&r, "token_embd.weight", 2, ne_out, LLP_F16, &fb), LLP_Q4_K,
           "7B Q4_K_M: token_embd.weight Q4_K");
    is_int(llp_quant_tensor_type(&r, "blk.5.attn_norm.weight", 1, ne_norm, LLP_F32, &fb), LLP_F32,
           "7B Q4_K_M: norms keep their type");
    r.tied = true;
    is_int(llp_quant_tensor_type(&r, "token_embd.weight", 2, ne_out, LLP_F16, &fb), LLP_Q6_K,
           "tied embeddings: token_embd.weight takes the output rule (Q6_K)");
    r.tied = false;
    /* ffn_down of 11008-wide rows: 11008 = 43 * 256, no fallback. Q3_K_M:
     * ffn_down Q5_K in layers < 32/16 = 2, then Q4_K; attn_v Q5_K in 0-1. */
    r.ftype = LLP_FTYPE_Q3_K_M;
    is_int(llp_quant_tensor_type(&r, "blk.1.ffn_down.weight", 2, ne_ffn, LLP_F16, &fb), LLP_Q5_K,
           "7B Q3_K_M: ffn_down of layer 1 Q5_K");
    is_int(llp_quant_tensor_type(&r, "blk.2.ffn_down.weight", 2, ne_ffn, LLP_F16, &fb), LLP_Q4_K,
           "7B Q3_K_M: ffn_down of layer 2 Q4_K");
    is_int(llp_quant_tensor_type(&r, "blk.2.attn_v.weight", 2, ne_dim, LLP_F16, &fb), LLP_Q4_K,
           "7B Q3_K_M: attn_v of layer 2 Q4_K");
    is_int(llp_quant_tensor_type(&r, "blk.9.attn_output.weight", 2, ne_dim, LLP_F16, &fb),
           LLP_Q4_K, "7B Q3_K_M: attn_output Q4_K");
    is_int(llp_quant_tensor_type(&r, "blk.9.attn_q.weight", 2, ne_dim, LLP_F16, &fb), LLP_Q3_K,
           "7B Q3_K_M: attn_q Q3_K");
    /* 70B: 80 layers, 64/8 heads: attn_v bumped to Q5_K, Q2_K's too. */
    llp_quant_rules r70 = { .ftype = LLP_FTYPE_Q4_K_M, .n_layers = 80, .n_gqa = 8, .is_70b = true };
    int64_t ne_v70[2] = { 8192, 1024 };
    is_int(llp_quant_tensor_type(&r70, "blk.11.attn_v.weight", 2, ne_v70, LLP_F16, &fb), LLP_Q5_K,
           "70B Q4_K_M: attn_v of a plain layer Q5_K");
    r70.ftype = LLP_FTYPE_Q2_K;
    is_int(llp_quant_tensor_type(&r70, "blk.11.attn_v.weight", 2, ne_v70, LLP_F16, &fb), LLP_Q5_K,
           "70B Q2_K: attn_v Q5_K (Q4_K for GQA >= 4, then the 70B bump)");
    /* pure */
    llp_quant_rules rp = { .ftype = LLP_FTYPE_Q4_K_M, .pure = true, .n_layers = 32, .n_gqa = 1 };
    is_int(llp_quant_tensor_type(&rp, "output.weight", 2, ne_out, LLP_F16, &fb), LLP_Q4_K,
           "pure: output.weight in the base type");
    is_int(llp_quant_tensor_type(&rp, "blk.0.attn_v.weight", 2, ne_dim, LLP_F16, &fb), LLP_Q4_K,
           "pure: attn_v in the base type");
    /* fallback table, rows of 288 (a multiple of 32, not of 256) and 48 */
    int64_t ne288[2] = { 288, 288 }, ne48[2] = { 48, 48 };
    static const struct { uint32_t ftype, want; } table[] = {
        { LLP_FTYPE_Q3_K_S, LLP_Q4_0 }, { LLP_FTYPE_Q4_K_S, LLP_Q5_0 },
        { LLP_FTYPE_Q5_K_S, LLP_Q5_1 }, { LLP_FTYPE_Q6_K, LLP_Q8_0 },
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        llp_quant_rules rf = { .ftype = table[i].ftype, .n_layers = 32, .n_gqa = 1 };
        fb = false;
        uint32_t t = llp_quant_tensor_type(&rf, "blk.20.attn_q.weight", 2, ne288, LLP_F32, &fb);
        ok(t == table[i].want && fb, "fallback for %s rows of 288: %s", llp_ftype_name(table[i].ftype),
           llp_type_name(t));
        t = llp_quant_tensor_type(&rf, "blk.20.attn_q.weight", 2, ne48, LLP_F32, &fb);
        ok(t == LLP_F16 && fb, "fallback for %s rows of 48: F16", llp_ftype_name(table[i].ftype));
    }
    llp_quant_rules r2 = { .ftype = LLP_FTYPE_Q2_K, .n_layers = 32, .n_gqa = 1 };
    is_int(llp_quant_tensor_type(&r2, "blk.3.ffn_gate.weight", 2, ne288, LLP_F32, &fb), LLP_Q4_0,
           "fallback for Q2_K: Q4_0");
    llp_quant_rules r40 = { .ftype = LLP_FTYPE_Q4_0, .n_layers = 32, .n_gqa = 1 };
    is_int(llp_quant_tensor_type(&r40, "blk.3.ffn_gate.weight", 2, ne48, LLP_F32, &fb), LLP_F16,
           "Q4_0 rows of 48: F16");

    /* names */
    is_int(llp_ftype_from_name("q4_k_m"), 15, "names: q4_k_m is file type 15");
    is_int(llp_ftype_from_name("Q4_K"), 14, "names: Q4_K means Q4_K_S (14)");
    is_int(llp_ftype_from_name("Q3_K"), 11, "names: Q3_K means Q3_K_S (11)");
    is_int(llp_ftype_from_name("Q5_K"), 16, "names: Q5_K means Q5_K_S (16)");
    is_int(llp_ftype_from_name("BF16"), 32, "names: BF16 is 32");
    is_int(llp_ftype_from_name("IQ2_XXS"), -1, "names: IQ2_XXS cannot be produced");
    ok(llp_ftype_name(19) && strcmp(llp_ftype_name(19), "IQ2_XXS") == 0 && !llp_ftype_name(99),
       "names: file type 19 is IQ2_XXS, 99 is unknown");
}

/* ---- errors and determinism ----------------------------------------------- */

static void check_errors_and_threads(const char *src_path)
{
    char path[512], out[512], out2[512];
    llp_err err = { "" };

    /* A tensor with a NaN is refused, naming it. */
    snprintf(path, sizeof path, "%s/quantize_types_nan.gguf", tmp_dir());
    snprintf(out, sizeof out, "%s/quantize_types_nan_out.gguf", tmp_dir());
    float w[64 * 4];
    for (int i = 0; i < 64 * 4; i++) w[i] = (float)(i % 7) - 3.0f;
    w[64 * 2 + 5] = NAN;
    gguf_writer *gw = gguf_writer_new();
    gguf_set_str(gw, "general.architecture", "llama");
    int64_t ne[2] = { 64, 4 };
    gguf_add_tensor(gw, "blk.0.attn_q.weight", 2, ne, LLP_F32, w);
    ok(gguf_writer_write(gw, path, &err) == 0, "a file with a NaN weight written");
    gguf_writer_free(gw);
    llp_quantize_opts o = { .ftype = LLP_FTYPE_Q8_0, .n_threads = 2 };
    ok(llp_quantize_file(path, out, &o, NULL, &err) == -1 &&
       strstr(err.msg, "blk.0.attn_q.weight") && strstr(err.msg, "not finite") &&
       strstr(err.msg, "row 2"), "NaN: refused with the tensor and row (%s)", err.msg);
    FILE *fp = fopen(out, "rb");
    ok(fp == NULL, "NaN: no output file");
    if (fp) fclose(fp);
    remove(path);

    /* A target we cannot produce. */
    o.ftype = 19;
    ok(llp_quantize_file(src_path, out, &o, NULL, &err) == -1 && strstr(err.msg, "IQ2_XXS"),
       "file type 19 (IQ2_XXS) refused: %s", err.msg);

    /* One thread and four threads write the same bytes. */
    snprintf(out2, sizeof out2, "%s/quantize_types_t4.gguf", tmp_dir());
    o.ftype = LLP_FTYPE_Q4_K_M;
    o.n_threads = 1;
    int rc1 = llp_quantize_file(src_path, out, &o, NULL, &err);
    o.n_threads = 4;
    int rc4 = llp_quantize_file(src_path, out2, &o, NULL, &err);
    gguf_file *a = rc1 == 0 ? gguf_open(out, &err) : NULL;
    gguf_file *b = rc4 == 0 ? gguf_open(out2, &err) : NULL;
    ok(a && b && gguf_file_size(a) == gguf_file_size(b) &&
       memcmp(gguf_bytes(a), gguf_bytes(b), gguf_file_size(a)) == 0,
       "Q4_K_M with 1 and 4 threads: byte-identical files");
    gguf_close(a);
    gguf_close(b);
    remove(out);
    remove(out2);
}

int main(void)
{
    static model_case models[2] = {
        { .label = "A" },
        { .label = "B", .spec = { .n_vocab = 512, .dim = 288, .n_layers = 8, .n_heads = 8,
                                  .n_heads_kv = 2, .ffn_dim = 800, .n_ctx = 256 } },
    };
    llp_err err = { "" };
    check_rules();

    llp_synth_shape("small", &models[0].spec);
    for (int i = 0; i < 2; i++) {
        model_case *mc = &models[i];
        mc->spec.type = LLP_F32;
        mc->spec.output_type = LLP_TYPE_COUNT;
        mc->spec.seed = 11 + (uint64_t)i;
        snprintf(mc->path, sizeof mc->path, "%s/quantize_types_src_%s.gguf", tmp_dir(), mc->label);
        if (!ok(llp_synth_write(&mc->spec, mc->path, &err) == 0, "model %s written", mc->label)) {
            diag("%s", err.msg);
            return done_testing();
        }
        int n_vocab;
        mc->logits = prompt_logits(mc->path, &n_vocab);
        ok(mc->logits != NULL, "model %s: F32 logits", mc->label);
    }
    check_errors_and_threads(models[0].path);

    for (int i = 0; i < 2; i++) {
        gguf_file *src = gguf_open(models[i].path, &err);
        for (size_t t = 0; t < N_TARGETS; t++) check_target(&models[i], i, t, src);
        gguf_close(src);
    }

    diag("measured worst round-trip error per type (both models):");
    for (int t = 0; t < LLP_TYPE_COUNT; t++)
        if (worst_error[t] > 0) diag("  %-5s %.5f (bound %.5f)", llp_type_name((uint32_t)t),
                                     worst_error[t], roundtrip_bound((uint32_t)t));
    diag("measured mean KL over %d positions, model A / model B:", N_PROMPT);
    for (size_t t = 0; t < N_TARGETS; t++)
        diag("  %-7s %.3g / %.3g (bound %.3g)", targets[t].name, measured_kl[t][0],
             measured_kl[t][1], targets[t].kl_bound);
    for (int i = 0; i < 2; i++) {
        free(models[i].logits);
        remove(models[i].path);
    }
    return done_testing();
}
