/*
 * gguf_fixture_rewrite.c — the reader understands files written by
 * llama.cpp, and the writer lays files out exactly as llama.cpp does: every
 * GGUF in the shared fixtures is opened, rebuilt key by key and tensor by
 * tensor through gguf_writer, and the result must be byte-identical.
 *
 * Not for: hand-made or malformed files (gguf_roundtrip.c,
 * gguf_malformed.c). Skips when the fixtures are absent (fails under CI).
 */
#include "gguf.h"
#include "quant.h"
#include "tap.h"

#include <dirent.h>
#include <stdint.h>

/* A growable byte buffer for raw-encoded values. */
typedef struct buf {
    uint8_t *p;
    size_t len, cap;
} buf;

static void put(buf *b, const void *bytes, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, bytes, n);
    b->len += n;
}

/* Copy key i of f into w with its exact encoding. */
static void copy_kv(const gguf_file *f, int64_t i, gguf_writer *w)
{
    const char *key = gguf_kv_key(f, i), *s;
    uint32_t type = gguf_kv_type(f, i), et;
    size_t len;
    uint64_t n, u;
    buf b = { 0 };
    if (type == GGUF_STRING) {
        gguf_get_str(f, key, &s, &len);
        u = len;
        put(&b, &u, 8);
        put(&b, s, len);
    } else if (type == GGUF_ARRAY) {
        gguf_get_arr(f, key, &et, &n);
        put(&b, &et, 4);
        put(&b, &n, 8);
        if (et == GGUF_STRING) {
            for (uint64_t j = 0; j < n; j++) {
                s = gguf_arr_str(f, key, j, &len);
                u = len;
                put(&b, &u, 8);
                put(&b, s, len);
            }
        } else {
            put(&b, gguf_arr_data(f, key), (size_t)n * gguf_value_size(et));
        }
    } else {
        /* Scalars are re-encoded from the typed getters, which are exact
         * for a value's own type (the low bytes of the int64 are the
         * little-endian encoding of any narrower integer). */
        int64_t v;
        uint64_t uv;
        double d;
        bool bo;
        size_t sz = gguf_value_size(type);
        uint8_t raw[8] = { 0 };
        if (type == GGUF_F32) { gguf_get_float(f, key, &d); float x = (float)d; memcpy(raw, &x, 4); }
        else if (type == GGUF_F64) { gguf_get_float(f, key, &d); memcpy(raw, &d, 8); }
        else if (type == GGUF_BOOL) { gguf_get_bool(f, key, &bo); raw[0] = bo; }
        else if (gguf_get_int(f, key, &v) == 0) memcpy(raw, &v, sz);
        else { gguf_get_uint(f, key, &uv); memcpy(raw, &uv, sz); }
        put(&b, raw, sz);
    }
    gguf_set_raw(w, key, type, b.p, b.len);
    free(b.p);
}

static void rewrite(const char *in, const char *out)
{
    llp_err err = { "" };
    gguf_file *f = gguf_open(in, &err);
    if (!ok(f != NULL, "open %s", in)) {
        diag("%s", err.msg);
        return;
    }
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_version(w, gguf_version(f));
    for (int64_t i = 0; i < gguf_n_kv(f); i++) copy_kv(f, i, w);
    for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        gguf_add_tensor_ref(w, t->name, t->n_dims, t->ne, t->type, t->data);
    }
    int rc = gguf_writer_write(w, out, &err);
    gguf_writer_free(w);
    if (!ok(rc == 0, "rewrite %s", in)) diag("%s", err.msg);

    FILE *fp = fopen(out, "rb");
    uint64_t size = gguf_file_size(f), same = 0;
    const uint8_t *orig = gguf_bytes(f);
    int c;
    uint64_t pos = 0, first_diff = UINT64_MAX;
    while (fp && (c = getc(fp)) != EOF) {
        if (pos < size && orig[pos] == (uint8_t)c) same++;
        else if (first_diff == UINT64_MAX) first_diff = pos;
        pos++;
    }
    if (fp) fclose(fp);
    ok(pos == size && same == size, "%s: rewritten byte for byte (%llu bytes)", in,
       (unsigned long long)size);
    if (pos != size || same != size)
        diag("sizes %llu vs %llu, first difference at %llu", (unsigned long long)pos,
             (unsigned long long)size, (unsigned long long)first_diff);
    gguf_close(f);
}

int main(void)
{
    require_fixtures("models");
    char dir[4096], in[8192], out[4096];
    snprintf(dir, sizeof dir, "%s", fixture_path("models"));
    snprintf(out, sizeof out, "%s/gguf_fixture_rewrite_%d.gguf", tmp_dir(), (int)getpid());
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 5, ".gguf") != 0) continue;
        snprintf(in, sizeof in, "%s/%s", dir, e->d_name);
        rewrite(in, out);
        n++;
    }
    if (d) closedir(d);
    ok(n > 0, "found %d fixture models", n);
    unlink(out);
    return done_testing();
}
