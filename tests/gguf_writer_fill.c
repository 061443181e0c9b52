/*
 * gguf_writer_fill.c — tensors produced at write time
 * (gguf_add_tensor_fill): the file is byte for byte the one
 * gguf_add_tensor writes from the same data, fill runs once per tensor in
 * order with its index, and a failing fill stops the write, leaves neither
 * PATH nor PATH.tmp (an older PATH stays as it was) and returns fill's
 * message.
 *
 * Not for: the rest of the writer (tests/gguf_roundtrip.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf.h"
#include "quant.h"
#include "tap.h"

typedef struct fill_ctx {
    int calls;
    size_t order[8];
    int fail_at;            /* index whose fill fails; -1 none */
} fill_ctx;

static uint8_t pattern(size_t tensor, uint64_t i) { return (uint8_t)(tensor * 31 + i * 7 + 1); }

static int fill(void *ctx, size_t index, void *dst, uint64_t n_bytes, llp_err *err)
{
    fill_ctx *c = ctx;
    c->order[c->calls++ % 8] = index;
    if ((int)index == c->fail_at) return llp_err_set(err, "tensor %zu: made-up failure", index);
    for (uint64_t i = 0; i < n_bytes; i++) ((uint8_t *)dst)[i] = pattern(index, i);
    return 0;
}

static char *slurp(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    *n = (size_t)ftell(fp);
    rewind(fp);
    char *b = malloc(*n + 1);
    if (fread(b, 1, *n, fp) != *n) { free(b); b = NULL; }
    fclose(fp);
    return b;
}

static const int64_t shapes[3][2] = { { 32, 3 }, { 7, 1 }, { 64, 2 } };
static const uint32_t types[3] = { LLP_F32, LLP_F16, LLP_Q8_0 };
static const char *names[3] = { "a.weight", "b", "c.weight" };

static gguf_writer *make(bool with_fill, fill_ctx *ctx, uint8_t **bufs)
{
    gguf_writer *w = gguf_writer_new();
    gguf_set_str(w, "general.architecture", "llama");
    for (size_t t = 0; t < 3; t++) {
        uint32_t n_dims = shapes[t][1] == 1 ? 1 : 2;
        if (with_fill) {
            gguf_add_tensor_fill(w, names[t], n_dims, shapes[t], types[t], fill, ctx);
        } else {
            size_t n = llp_row_size(types[t], shapes[t][0]) * (size_t)shapes[t][1];
            bufs[t] = malloc(n);
            for (size_t i = 0; i < n; i++) bufs[t][i] = pattern(t, i);
            gguf_add_tensor(w, names[t], n_dims, shapes[t], types[t], bufs[t]);
        }
    }
    return w;
}

int main(void)
{
    char a[512], b[512], tmp[520];
    snprintf(a, sizeof a, "%s/fill-copy-%d.gguf", tmp_dir(), (int)getpid());
    snprintf(b, sizeof b, "%s/fill-made-%d.gguf", tmp_dir(), (int)getpid());
    snprintf(tmp, sizeof tmp, "%s.tmp", b);
    llp_err err;
    uint8_t *bufs[3] = { 0 };

    gguf_writer *w = make(false, NULL, bufs);
    ok(gguf_writer_write(w, a, &err) == 0, "copied tensors are written");
    gguf_writer_free(w);
    for (int t = 0; t < 3; t++) free(bufs[t]);

    fill_ctx ctx = { .fail_at = -1 };
    w = make(true, &ctx, NULL);
    ok(gguf_writer_write(w, b, &err) == 0, "filled tensors are written");
    is_int(ctx.calls, 3, "fill runs once per tensor");
    ok(ctx.order[0] == 0 && ctx.order[1] == 1 && ctx.order[2] == 2, "in order, with each index");
    size_t na = 0, nb = 0;
    char *da = slurp(a, &na), *db = slurp(b, &nb);
    ok(da && db && na == nb && memcmp(da, db, na) == 0, "the file is byte for byte gguf_add_tensor's (%zu bytes)", na);
    free(da);
    gguf_file *f = gguf_open(b, &err);
    ok(f && gguf_n_tensors(f) == 3 && gguf_find_tensor(f, "c.weight")->type == LLP_Q8_0, "and gguf_open reads it");
    gguf_close(f);

    /* a failing fill: nothing new at PATH, no PATH.tmp, fill's message */
    ctx = (fill_ctx){ .fail_at = 1 };
    ok(gguf_writer_write(w, b, &err) == -1, "a failing fill fails the write");
    ok(strcmp(err.msg, "tensor 1: made-up failure") == 0, "with fill's message: %s", err.msg);
    is_int(ctx.calls, 2, "and stops at the failing tensor");
    size_t nc = 0;
    char *dc = slurp(b, &nc);
    ok(dc && nc == nb && memcmp(dc, db, nb) == 0, "the older file at PATH is untouched");
    ok(access(tmp, F_OK) != 0, "no PATH.tmp is left");
    gguf_writer_free(w);
    free(db);
    free(dc);
    unlink(a);
    unlink(b);
    return done_testing();
}
