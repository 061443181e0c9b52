/*
 * lora_apply.c — adapters in the forward pass (lib/lora.c, lib/model.c):
 * B = 0 leaves logits exactly unchanged; the inference forward with an
 * adapter on the fly agrees with the trainer's forward; merging agrees with
 * on the fly; outputs stay independent of the batch with an adapter; the
 * adapter file round-trips (F32 and F16) and is checked against the base.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lora.h"
#include "model.h"
#include "quant.h"
#include "synth.h"
#include "tap.h"
#include "train.h"

static const char *model_path(const char *name, uint32_t type, int dim, int layers)
{
    static char path[4][512];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, 512, "%s/%s", tmp_dir(), name);
    llp_synth_spec s = { 0 };
    llp_synth_shape("tiny", &s);
    s.dim = dim;
    s.n_layers = layers;
    s.ffn_dim = 3 * dim;
    s.type = type;
    s.output_type = LLP_TYPE_COUNT;
    s.seed = 3;
    llp_err err;
    if (llp_synth_write(&s, p, &err)) diag("%s", err.msg);
    return p;
}

static const int32_t toks[] = { 1, 300, 301, 17, 45, 400, 9, 123, 77, 250 };
#define N_TOKS (int)(sizeof toks / sizeof toks[0])

/* logits of the last token of toks, one sequence */
static void logits_of(llp_model *m, float *out, bool reference)
{
    llp_err err;
    llp_context_params cp = { .n_ctx = 32, .n_threads = 2, .kv_type = LLP_KV_F32,
                              .reference = reference };
    llp_context *ctx = llp_context_new(m, &cp, &err);
    llp_decode_tokens(ctx, 0, 0, toks, N_TOKS, out, &err);
    llp_context_free(ctx);
}

static double max_rel(const float *a, const float *b, int n)
{
    double md = 0, ss = 0;
    for (int i = 0; i < n; i++) {
        ss += (double)b[i] * b[i];
        md = fmax(md, fabs((double)a[i] - b[i]));
    }
    return md / sqrt(ss / n);
}

static llp_lora *random_adapter(llp_model *m, const char *targets, bool zero_b)
{
    llp_err err;
    llp_lora *a = llp_lora_new(m, targets, 4, 8.0f, &err);
    llp_lora_init_random(a, 9);
    uint64_t s = 5;
    if (!zero_b)
        for (int i = 0; i < a->n; i++)
            for (int64_t j = 0; j < a->t[i].rank * a->t[i].n_out; j++) {
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                a->t[i].b[j] = (float)((double)(s >> 11) / 9007199254740992.0 - 0.5) * 0.4f;
            }
    return a;
}

int main(void)
{
    llp_err err;
    const char *q8 = model_path("la_q8.gguf", LLP_Q8_0, 64, 2);
    const char *f32 = model_path("la_f32.gguf", LLP_F32, 64, 2);
    int n_vocab = 512;
    float *base = malloc(sizeof(float) * n_vocab), *with = malloc(sizeof(float) * n_vocab);
    float *other = malloc(sizeof(float) * n_vocab);

    /* B = 0: exactly the base's logits */
    for (int ref = 0; ref < 2; ref++) {
        llp_model *m = llp_model_load(q8, &err);
        logits_of(m, base, ref);
        llp_lora *a = random_adapter(m, "q,k,v,o,gate,up,down", true);
        ok(llp_model_add_lora(m, a, 1.0f, false, &err) == 0, "adapter attaches");
        logits_of(m, with, ref);
        ok(memcmp(base, with, sizeof(float) * n_vocab) == 0,
           "%s path: a LoRA with B = 0 leaves the logits exactly unchanged",
           ref ? "reference" : "fast");
        llp_model_free(m);
        llp_lora_free(a);
    }

    /* on the fly == the trainer's forward; merged ~= on the fly (F32 base) */
    {
        llp_model *m = llp_model_load(f32, &err);
        logits_of(m, base, false);
        llp_lora *a = random_adapter(m, "q,k,v,o,gate,up,down", false);
        llp_train_params tp = { .n_ctx = 32, .n_threads = 2, .lr = 1e-3, .total_steps = 1 };
        llp_trainer *tr = llp_trainer_new(m, a, &tp, &err);
        /* the trainer gives the logits of the row before each target: a
         * dummy target after the last token */
        int32_t ext[N_TOKS + 1];
        memcpy(ext, toks, sizeof toks);
        ext[N_TOKS] = 2;
        uint8_t tg2[N_TOKS + 1] = { 0 };
        tg2[N_TOKS] = 1;
        llp_trainer_sequence(tr, ext, tg2, N_TOKS + 1, 1.0, false, other, &err);
        llp_model_add_lora(m, a, 1.0f, false, &err);
        logits_of(m, with, false);
        double d_base = max_rel(base, with, n_vocab), d = max_rel(other, with, n_vocab);
        diag("adapter moves the logits by %.3g (relative to RMS); trainer vs inference %.3g",
             d_base, d);
        ok(d_base > 1e-2, "a random adapter changes the logits (%.3g)", d_base);
        ok(d < 1e-4, "inference with the adapter on the fly equals the trainer's forward (%.3g)",
           d);
        llp_trainer_free(tr);
        llp_model_free(m);

        llp_model *mm = llp_model_load(f32, &err);
        ok(llp_model_add_lora(mm, a, 1.0f, true, &err) == 0, "adapter merges");
        logits_of(mm, other, false);
        d = max_rel(other, with, n_vocab);
        ok(d < 1e-4, "F32 base: merged equals on the fly (%.3g)", d);
        llp_model_free(mm);

        /* user scale 0 is the base again, scale 2 differs from 1 */
        mm = llp_model_load(f32, &err);
        llp_model_add_lora(mm, a, 0.0f, false, &err);
        logits_of(mm, other, false);
        ok(memcmp(other, base, sizeof(float) * n_vocab) == 0, "scale 0 gives the base exactly");
        llp_model_free(mm);
        llp_lora_free(a);
    }

    /* batch invariance with an adapter on the fly (quantized base) */
    {
        llp_model *m = llp_model_load(q8, &err);
        llp_lora *a = random_adapter(m, "q,v,o,down", false);
        llp_model_add_lora(m, a, 1.0f, false, &err);
        logits_of(m, base, false);
        llp_context_params cp = { .n_ctx = 32, .n_seq = 2, .n_batch = 64, .n_threads = 2,
                                  .kv_type = LLP_KV_F32 };
        llp_context *ctx = llp_context_new(m, &cp, &err);
        int32_t bt[2 * N_TOKS], bp[2 * N_TOKS], bs[2 * N_TOKS];
        bool want[2 * N_TOKS] = { false };
        for (int i = 0; i < N_TOKS; i++) {
            /* sequence 1: another text, interleaved with sequence 0 */
            bt[2 * i] = toks[i];
            bp[2 * i] = i;
            bs[2 * i] = 0;
            bt[2 * i + 1] = 3 + (i * 29) % 500;
            bp[2 * i + 1] = i;
            bs[2 * i + 1] = 1;
        }
        want[2 * N_TOKS - 2] = true;
        llp_batch b = { 2 * N_TOKS, bt, bp, bs, want };
        ok(llp_decode(ctx, &b, with, NULL, &err) == 0, "batched decode with an adapter");
        ok(memcmp(base, with, sizeof(float) * n_vocab) == 0,
           "with an adapter, a sequence's logits do not depend on its neighbours in the batch");
        llp_context_free(ctx);
        llp_model_free(m);
        llp_lora_free(a);
    }

    /* files: F32 and F16 round trip, the checks */
    {
        llp_model *m = llp_model_load(q8, &err);
        llp_lora *a = random_adapter(m, "q,k,v,o", false);
        char p32[512], p16[512];
        snprintf(p32, sizeof p32, "%s/la_a32.gguf", tmp_dir());
        snprintf(p16, sizeof p16, "%s/la_a16.gguf", tmp_dir());
        ok(llp_lora_write(a, p32, LLP_F32, &err) == 0 && llp_lora_write(a, p16, LLP_F16, &err) == 0,
           "adapter written in F32 and F16");
        llp_lora *b = llp_lora_load(p32, &err), *c = llp_lora_load(p16, &err);
        ok(b && c, "both load");
        bool same = b && b->n == a->n && b->alpha == a->alpha;
        double e16 = 0;
        for (int i = 0; same && i < a->n; i++) {
            same = strcmp(a->t[i].name, b->t[i].name) == 0 && a->t[i].rank == b->t[i].rank &&
                   memcmp(a->t[i].a, b->t[i].a, sizeof(float) * (size_t)(4 * a->t[i].n_in)) == 0 &&
                   memcmp(a->t[i].b, b->t[i].b, sizeof(float) * (size_t)(4 * a->t[i].n_out)) == 0;
            for (int64_t j = 0; c && j < 4 * a->t[i].n_in; j++)
                e16 = fmax(e16, fabs(a->t[i].a[j] - c->t[i].a[j]));
        }
        ok(same, "F32 adapter round-trips exactly (names, rank, alpha, tensors)");
        ok(c && c->file_type == LLP_F16 && e16 < 1e-3, "F16 adapter round-trips to f16 precision "
           "(%.2g)", e16);
        gguf_file *f = gguf_open(p32, &err);
        const char *s = NULL;
        gguf_get_str(f, "general.type", &s, NULL);
        ok(s && strcmp(s, "adapter") == 0, "general.type = adapter");
        const gguf_tensor *t = gguf_find_tensor(f, "blk.0.attn_k.weight.lora_a");
        ok(t && t->ne[0] == 64 && t->ne[1] == 4, "lora_a ne = [n_in, rank]");
        t = gguf_find_tensor(f, "blk.0.attn_k.weight.lora_b");
        ok(t && t->ne[0] == 4 && t->ne[1] == 32, "lora_b ne = [rank, n_out] (kv_dim 32)");
        gguf_close(f);

        /* against another model: names and shapes */
        const char *wide = model_path("la_wide.gguf", LLP_Q8_0, 128, 2);
        llp_model *w = llp_model_load(wide, &err);
        ok(llp_lora_check(b, w, &err) == -1 && strstr(err.msg, "is [64 -> 64] but the model's "
                                                       "is [128 -> 128]"),
           "a shape mismatch names the tensor: %s", err.msg);
        llp_model_free(w);
        const char *deep = model_path("la_one.gguf", LLP_Q8_0, 64, 1);
        w = llp_model_load(deep, &err);
        ok(llp_lora_check(b, w, &err) == -1 && strstr(err.msg, "'blk.1.attn_q.weight' matches "
                                                       "no matrix"),
           "a tensor the base lacks is named: %s", err.msg);
        llp_model_free(w);
        ok(llp_lora_load(q8, &err) == NULL && strstr(err.msg, "not a LoRA adapter"),
           "a model is not an adapter: %s", err.msg);
        llp_lora_free(b);
        llp_lora_free(c);
        llp_lora_free(a);
        llp_model_free(m);
    }

    /* an adapter as llama.cpp's convert_lora_to_gguf.py writes one: more
     * general.* keys, alpha as f32, Q8_0 lora_a and F16 lora_b */
    {
        llp_model *m = llp_model_load(q8, &err);
        llp_lora *a = random_adapter(m, "q,v", false);
        gguf_writer *w = gguf_writer_new();
        gguf_set_str(w, "general.architecture", "llama");
        gguf_set_str(w, "general.type", "adapter");
        gguf_set_str(w, "general.name", "Theirs");
        gguf_set_u32(w, "general.file_type", 7);
        gguf_set_u32(w, "general.quantization_version", 2);
        gguf_set_str(w, "adapter.type", "lora");
        gguf_set_f32(w, "adapter.lora.alpha", 8.0f);
        for (int i = 0; i < a->n; i++) {
            const llp_lora_tensor *t = &a->t[i];
            char name[128];
            int64_t ne_a[2] = { t->n_in, t->rank }, ne_b[2] = { t->rank, t->n_out };
            uint8_t *qa = malloc(llp_row_size(LLP_Q8_0, t->n_in) * (size_t)t->rank);
            for (int r = 0; r < t->rank; r++)
                llp_quantize_row(LLP_Q8_0, t->a + r * t->n_in,
                                 qa + llp_row_size(LLP_Q8_0, t->n_in) * (size_t)r, t->n_in);
            snprintf(name, sizeof name, "%s.lora_a", t->name);
            gguf_add_tensor(w, name, 2, ne_a, LLP_Q8_0, qa);
            free(qa);
            uint16_t *hb = malloc(sizeof(uint16_t) * (size_t)(t->rank * t->n_out));
            for (int64_t j = 0; j < t->rank * t->n_out; j++) hb[j] = llp_f32_to_fp16(t->b[j]);
            snprintf(name, sizeof name, "%s.lora_b", t->name);
            gguf_add_tensor(w, name, 2, ne_b, LLP_F16, hb);
            free(hb);
        }
        char pth[512];
        snprintf(pth, sizeof pth, "%s/la_theirs.gguf", tmp_dir());
        gguf_writer_write(w, pth, &err);
        gguf_writer_free(w);
        llp_lora *b = llp_lora_load(pth, &err);
        double e = 0;
        for (int i = 0; b && i < a->n; i++)
            for (int64_t j = 0; j < a->t[i].rank * a->t[i].n_in; j++)
                e = fmax(e, fabs(a->t[i].a[j] - b->t[i].a[j]));
        ok(b && b->n == 4 && b->alpha == 8.0f && e < 2e-3 && llp_lora_check(b, m, &err) == 0,
           "an adapter in llama.cpp's converter layout (Q8_0 A, F16 B) loads and checks (%.2g)",
           e);
        llp_lora_free(b);
        llp_lora_free(a);
        llp_model_free(m);
    }

    /* FILE:SCALE */
    char *path;
    float scale;
    ok(llp_lora_parse_spec("a.gguf:0.5", &path, &scale, &err) == 0 && strcmp(path, "a.gguf") == 0 &&
       scale == 0.5f, "FILE:SCALE parses");
    free(path);
    ok(llp_lora_parse_spec("dir:x/a.gguf", &path, &scale, &err) == 0 &&
       strcmp(path, "dir:x/a.gguf") == 0 && scale == 1.0f, "a colon not followed by a number is "
       "part of the file name");
    free(path);
    free(base);
    free(with);
    free(other);
    return done_testing();
}
