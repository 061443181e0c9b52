/*
 * gguf_malformed.c — the GGUF reader refuses broken files with a message
 * that starts with the path and says what is wrong and where, and never
 * crashes, hangs or allocates what the file does not justify.
 *
 * Each case writes a valid file with the project's writer, then truncates
 * it or patches bytes at positions found by walking the file's layout here
 * (not by magic numbers). Then every prefix of the file, and a few thousand
 * deterministic random corruptions, must be refused cleanly (run this under
 * ASan to make "cleanly" mean something).
 *
 * One case goes past the reader: a well-formed GGUF that lacks a required
 * llama.* key is opened by gguf_open but refused by the model loader
 * (model.c owns that check; this only pins that the refusal names the file
 * and the key).
 *
 * Not for: well-formed files (gguf_roundtrip.c) or the model loader's other
 * checks (its own tests).
 */
#include "gguf.h"
#include "model.h"
#include "quant.h"
#include "tap.h"

#include <stdint.h>
#include <sys/stat.h>

#define N_KV 8
#define N_TENSORS 4

/* Where each field of the base file lies (file offsets). */
typedef struct kv_layout {
    uint64_t key_len_pos;      /* u64 key length */
    uint64_t type_pos;         /* u32 value type */
    uint64_t value_pos;        /* value; arrays: u32 element type */
    uint64_t count_pos;        /* arrays: u64 count */
    uint64_t first_elem_pos;   /* arrays: first element */
} kv_layout;

typedef struct tensor_layout {
    uint64_t name_len_pos, n_dims_pos, ne_pos, type_pos, offset_pos;
    uint64_t offset, n_bytes;
} tensor_layout;

static struct {
    uint64_t n_tensors_pos, n_kv_pos;
    kv_layout kv[N_KV];
    tensor_layout t[N_TENSORS];
    uint64_t data_offset;
} L;

static uint8_t *base;          /* the valid file */
static size_t base_size;

static uint32_t rd32(const uint8_t *b, uint64_t pos) { uint32_t v; memcpy(&v, b + pos, 4); return v; }
static uint64_t rd64(const uint8_t *b, uint64_t pos) { uint64_t v; memcpy(&v, b + pos, 8); return v; }
static void wr32(uint8_t *b, uint64_t pos, uint32_t v) { memcpy(b + pos, &v, 4); }
static void wr64(uint8_t *b, uint64_t pos, uint64_t v) { memcpy(b + pos, &v, 8); }

static const char *const tokens[] = { "a", "bb", "ccc" };
static const float scores[] = { -1, -2, -3 };

static int write_base(const char *path)
{
    static uint8_t data[4096];
    llp_err err = { "" };
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 7);
    gguf_writer *w = gguf_writer_new();
    gguf_set_str(w, "general.architecture", "llama");       /* key 1 */
    gguf_set_u32(w, "general.alignment", 32);                /* key 2 */
    gguf_set_str(w, "general.name", "tiny");                 /* key 3 */
    gguf_set_u32(w, "test.dup_a", 1);                        /* key 4 */
    gguf_set_u32(w, "test.dup_b", 2);                        /* key 5 */
    gguf_set_arr_str(w, "tokenizer.ggml.tokens", tokens, 3); /* key 6 */
    gguf_set_arr(w, "tokenizer.ggml.scores", GGUF_F32, scores, 3); /* key 7 */
    gguf_set_u8(w, "test.u8", 7);                            /* key 8 */
    int64_t ne_tok[2] = { 8, 4 }, ne_q[2] = { 64, 2 }, ne_k[2] = { 32, 2 }, ne_out[1] = { 16 };
    gguf_add_tensor(w, "tok.weight", 2, ne_tok, LLP_F32, data);
    gguf_add_tensor(w, "blk.q.weight", 2, ne_q, LLP_Q4_0, data);
    gguf_add_tensor(w, "blk.k.weight", 2, ne_k, LLP_Q8_0, data);
    gguf_add_tensor(w, "out.weight", 1, ne_out, LLP_F16, data);   /* last: ends the file */
    int rc = gguf_writer_write(w, path, &err);
    gguf_writer_free(w);
    if (rc) diag("%s", err.msg);
    return rc;
}

static int read_whole(const char *path)
{
    FILE *fp = fopen(path, "rb");
    struct stat st;
    if (!fp || fstat(fileno(fp), &st) != 0) return -1;
    base_size = (size_t)st.st_size;
    base = malloc(base_size);
    size_t got = fread(base, 1, base_size, fp);
    fclose(fp);
    return got == base_size ? 0 : -1;
}

/* Walk the valid base file, trusting it, recording where every field is. */
static void walk_layout(void)
{
    uint64_t pos = 8;
    L.n_tensors_pos = pos; pos += 8;
    L.n_kv_pos = pos; pos += 8;
    for (int i = 0; i < N_KV; i++) {
        kv_layout *k = &L.kv[i];
        k->key_len_pos = pos;
        pos += 8 + rd64(base, pos);
        k->type_pos = pos;
        uint32_t type = rd32(base, pos);
        pos += 4;
        k->value_pos = pos;
        if (type == GGUF_STRING) {
            pos += 8 + rd64(base, pos);
        } else if (type == GGUF_ARRAY) {
            uint32_t et = rd32(base, pos);
            k->count_pos = pos + 4;
            uint64_t n = rd64(base, pos + 4);
            pos += 12;
            k->first_elem_pos = pos;
            for (uint64_t j = 0; j < n; j++)
                pos += et == GGUF_STRING ? 8 + rd64(base, pos) : gguf_value_size(et);
        } else {
            pos += gguf_value_size(type);
        }
    }
    for (int i = 0; i < N_TENSORS; i++) {
        tensor_layout *t = &L.t[i];
        t->name_len_pos = pos;
        pos += 8 + rd64(base, pos);
        t->n_dims_pos = pos;
        uint32_t n_dims = rd32(base, pos);
        pos += 4;
        t->ne_pos = pos;
        int64_t ne0 = (int64_t)rd64(base, pos), rows = 1;
        for (uint32_t d = 1; d < n_dims; d++) rows *= (int64_t)rd64(base, pos + 8 * d);
        pos += 8 * n_dims;
        t->type_pos = pos;
        t->n_bytes = llp_row_size(rd32(base, pos), ne0) * (uint64_t)rows;
        pos += 4;
        t->offset_pos = pos;
        t->offset = rd64(base, pos);
        pos += 8;
    }
    L.data_offset = (pos + 31) / 32 * 32;
}

enum { TOK, BLK_Q, BLK_K, OUT };   /* tensor positions */

/* Apply case c to buf (a copy of the base file); returns the new length, or
 * 0 past the last case. Sets a title and the phrase the message must hold. */
static size_t mutate(int c, uint8_t *b, const char **title, char *phrase, size_t cap)
{
    size_t n = base_size;
    const tensor_layout *q = &L.t[BLK_Q], *tok = &L.t[TOK], *out = &L.t[OUT];
#define CASE(t, ...) *title = t; snprintf(phrase, cap, __VA_ARGS__)
    switch (c) {
    case 0: CASE("empty file", "empty file"); return SIZE_MAX;   /* zero bytes */
    case 1: CASE("truncated in the magic", "file truncated in header (reading magic)"); return 3;
    case 2: CASE("truncated in the header", "file truncated in header (reading version)"); return 6;
    case 3: CASE("truncated in the header counts", "file truncated in header (reading key-value count)");
        return L.n_kv_pos + 5;
    case 4: CASE("bad magic", "bad magic (expected GGUF)"); b[3] = 'X'; break;
    case 5: CASE("version 1", "unsupported GGUF version 1 (supported: 2, 3)"); wr32(b, 4, 1); break;
    case 6: CASE("version 4", "unsupported GGUF version 4 (supported: 2, 3)"); wr32(b, 4, 4); break;
    case 7: CASE("big-endian file", "big-endian GGUF files are not supported");
        wr32(b, 4, __builtin_bswap32(3)); break;
    case 8: CASE("key-value count past the end",
                 "key-value count 1099511627776 is more than the %zu bytes after the header can hold",
                 base_size - 24);
        wr64(b, L.n_kv_pos, 1ull << 40); break;
    case 9: CASE("negative key-value count", "negative key-value count -1 (header)");
        wr64(b, L.n_kv_pos, UINT64_MAX); break;
    case 10: CASE("tensor count past the end", "tensor count 1152921504606846976 is more than");
        wr64(b, L.n_tensors_pos, 1ull << 60); break;
    case 11: CASE("negative tensor count", "negative tensor count -9223372036854775808 (header)");
        wr64(b, L.n_tensors_pos, 1ull << 63); break;
    case 12: CASE("truncated in the key-value table",
                  "file truncated in key-value table (key 4 of 8, reading value of 'test.dup_a')");
        return L.kv[3].value_pos + 2;
    case 13: CASE("key name length past the end",
                  "string length 18446744073709551615 runs past the end of the file (%zu bytes left) "
                  "(key 1 of 8, reading key name)", base_size - L.kv[0].key_len_pos - 8);
        wr64(b, L.kv[0].key_len_pos, UINT64_MAX); break;
    case 14: CASE("string value length past the end", "string length 1099511627776 runs past the end "
                  "of the file (%zu bytes left) (key 3 of 8, reading value of 'general.name')",
                  base_size - L.kv[2].value_pos - 8);
        wr64(b, L.kv[2].value_pos, 1ull << 40); break;
    case 15: CASE("numeric array count past the end (2^62)",
                  "array of 4611686018427387904 f32 elements runs past the end of the file "
                  "(%zu bytes left) (key 7 of 8, reading value of 'tokenizer.ggml.scores')",
                  base_size - L.kv[6].first_elem_pos);
        wr64(b, L.kv[6].count_pos, 1ull << 62); break;
    case 16: CASE("string array count past the end (2^62)",
                  "array of 4611686018427387904 strings runs past the end of the file");
        wr64(b, L.kv[5].count_pos, 1ull << 62); break;
    case 17: CASE("string array element length past the end", "runs past the end of the file "
                  "(%zu bytes left) (key 6 of 8, reading string 1 of 'tokenizer.ggml.tokens')",
                  base_size - L.kv[5].first_elem_pos - 8 - 1 - 8);
        wr64(b, L.kv[5].first_elem_pos + 8 + 1, 1ull << 32); break;
    case 18: CASE("unknown value type", "unknown value type 13 (key 8 of 8, reading value of 'test.u8')");
        wr32(b, L.kv[7].type_pos, 13); break;
    case 19: CASE("array of arrays", "arrays of arrays are not supported (key 7 of 8");
        wr32(b, L.kv[6].value_pos, GGUF_ARRAY); break;
    case 20: CASE("unknown array element type", "unknown array element type 200 (key 7 of 8");
        wr32(b, L.kv[6].value_pos, 200); break;
    case 21: CASE("duplicate key", "duplicate key 'test.dup_a' (key 5)");
        b[L.kv[4].key_len_pos + 8 + strlen("test.dup_b") - 1] = 'a'; break;
    case 22: CASE("alignment not a power of two", "general.alignment 48 is not a power of two (key 2)");
        wr32(b, L.kv[1].value_pos, 48); break;
    case 23: CASE("alignment zero", "general.alignment 0 is not a power of two (key 2)");
        wr32(b, L.kv[1].value_pos, 0); break;
    case 24: CASE("alignment of the wrong type", "general.alignment has type i32 (expected u32) (key 2)");
        wr32(b, L.kv[1].type_pos, GGUF_I32); break;
    case 25: CASE("truncated in the tensor table", "file truncated in tensor table "
                  "(tensor 2 of 4, reading ne[1] of tensor 'blk.q.weight')");
        return q->ne_pos + 8 + 3;
    case 26: CASE("tensor name length past the end", "runs past the end of the file "
                  "(%zu bytes left) (tensor 3 of 4, reading tensor name)",
                  base_size - L.t[BLK_K].name_len_pos - 8);
        wr64(b, L.t[BLK_K].name_len_pos, 1ull << 50); break;
    case 27: CASE("truncated inside the tensor data",
                  "tensor 'out.weight' data [%llu, %llu) lies past the end of the file (size %zu)",
                  (unsigned long long)(L.data_offset + out->offset),
                  (unsigned long long)(L.data_offset + out->offset + out->n_bytes), base_size - 1);
        return base_size - 1;
    case 28: {
        uint64_t off = (base_size + 31) / 32 * 32;
        CASE("tensor data past the end",
             "tensor 'tok.weight' data [%llu, %llu) lies past the end of the file (size %zu)",
             (unsigned long long)(L.data_offset + off),
             (unsigned long long)(L.data_offset + off + tok->n_bytes), base_size);
        wr64(b, tok->offset_pos, off); break;
    }
    case 29: CASE("tensor offset wrapping around 2^64", "tensor 'tok.weight' data at offset "
                  "18446744073709551584 (+128 bytes) lies past the end of the file");
        wr64(b, tok->offset_pos, UINT64_MAX - 31); break;
    case 30: CASE("misaligned tensor offset", "tensor 'blk.q.weight' has misaligned offset %llu "
                  "(alignment 32)", (unsigned long long)q->offset + 1);
        wr64(b, q->offset_pos, q->offset + 1); break;
    case 31: CASE("unknown tensor type", "unknown tensor type 99 (tensor 'blk.q.weight')");
        wr32(b, q->type_pos, 99); break;
    case 32: CASE("unsupported tensor type (IQ2_XXS)",
                  "tensor 'blk.q.weight' has type IQ2_XXS, which llamapipe does not support");
        wr32(b, q->type_pos, 16); break;
    case 33: CASE("five dimensions", "tensor 'tok.weight' has 5 dimensions (at most 4)");
        wr32(b, tok->n_dims_pos, 5); break;
    case 34: CASE("zero dimensions", "tensor 'tok.weight' has 0 dimensions (at least 1)");
        wr32(b, tok->n_dims_pos, 0); break;
    case 35: CASE("ne[0] not a multiple of the block size",
                  "ne[0]=33 of tensor 'blk.q.weight' is not a multiple of the block size 32 of Q4_0");
        wr64(b, q->ne_pos, 33); break;
    case 36: CASE("zero extent", "tensor 'tok.weight' has extent ne[1]=0 (extents must be positive)");
        wr64(b, tok->ne_pos + 8, 0); break;
    case 37: CASE("negative extent", "tensor 'tok.weight' has extent ne[0]=-8 (extents must be positive)");
        wr64(b, tok->ne_pos, (uint64_t)-8); break;
    case 38: CASE("element count overflow", "tensor 'tok.weight' has too many elements");
        wr64(b, tok->ne_pos, 1ull << 40); wr64(b, tok->ne_pos + 8, 1ull << 40); break;
    case 39: CASE("byte size overflow", "tensor 'tok.weight' is too large");
        wr64(b, tok->ne_pos, 1ull << 61); wr64(b, tok->ne_pos + 8, 2); break;
    case 40: CASE("duplicate tensor name", "duplicate tensor name 'blk.q.weight' (tensor 3)");
        b[L.t[BLK_K].name_len_pos + 8 + strlen("blk.")] = 'q'; break;
    case 41: CASE("unprintable name shown safely", "tensor 'b?k.q.weight' has 5 dimensions");
        b[q->name_len_pos + 8 + 1] = 0x01; wr32(b, q->n_dims_pos, 5); break;
    default: return 0;
    }
#undef CASE
    return n;
}

static void write_bytes(const char *path, const uint8_t *b, size_t n)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) { perror(path); exit(1); }
    if (n && fwrite(b, 1, n, fp) != n) { perror(path); exit(1); }
    fclose(fp);
}

/* gguf_open must refuse; true when the message starts with "PATH: ". */
static bool refused(const char *path, llp_err *err)
{
    err->msg[0] = 0;
    gguf_file *f = gguf_open(path, err);
    if (f) {
        gguf_close(f);
        return false;
    }
    size_t pl = strlen(path);
    return strncmp(err->msg, path, pl) == 0 && err->msg[pl] == ':' && err->msg[pl + 1] == ' ';
}

static void cases(const char *path)
{
    uint8_t *b = malloc(base_size);
    char phrase[512];
    const char *title;
    int n_cases = 0;
    for (int c = 0;; c++) {
        memcpy(b, base, base_size);
        size_t n = mutate(c, b, &title, phrase, sizeof phrase);
        if (n == 0) break;
        write_bytes(path, b, n == SIZE_MAX ? 0 : n);
        llp_err err;
        bool r = refused(path, &err);
        ok(r && strstr(err.msg, phrase), "%s", title);
        if (!r || !strstr(err.msg, phrase)) diag("want: %s\n# got:  %s", phrase, err.msg);
        else diag("%s", err.msg + strlen(path) + 2);
        n_cases++;
    }
    diag("%d malformed cases", n_cases);
    free(b);

    llp_err err;
    ok(refused("/nonexistent-dir/m.gguf", &err) && strstr(err.msg, "cannot open: No such file"),
       "missing file");
    ok(refused(tmp_dir(), &err) && strstr(err.msg, "not a regular file (a directory)"), "a directory");
}

/* Valid GGUF, invalid Llama model: llama.block_count is missing. */
static void missing_llama_key(const char *path)
{
    llp_err err = { "" };
    gguf_writer *w = gguf_writer_new();
    gguf_set_str(w, "general.architecture", "llama");
    gguf_set_u32(w, "llama.embedding_length", 64);
    gguf_set_u32(w, "llama.context_length", 128);
    int rc = gguf_writer_write(w, path, &err);
    gguf_writer_free(w);
    gguf_file *f = rc == 0 ? gguf_open(path, &err) : NULL;
    ok(f != NULL, "a GGUF missing llama.block_count is still a valid GGUF");
    gguf_close(f);
    llp_model *m = llp_model_load(path, &err);
    size_t pl = strlen(path);
    ok(!m && strncmp(err.msg, path, pl) == 0 && err.msg[pl] == ':' &&
       strstr(err.msg, "missing required key 'llama.block_count'"),
       "the model loader refuses it, naming the file and the key");
    if (m) llp_model_free(m);
    else diag("%s", err.msg + (strncmp(err.msg, path, pl) == 0 ? pl + 2 : 0));
}

/* Every proper prefix of the file is refused with a message naming it. */
static void every_prefix(const char *path)
{
    int bad = 0;
    llp_err err;
    for (size_t n = 0; n < base_size; n++) {
        write_bytes(path, base, n);
        if (!refused(path, &err)) {
            if (!bad) diag("prefix of %zu bytes: %s", n, err.msg);
            bad++;
        }
    }
    ok(bad == 0, "all %zu proper prefixes refused, each message naming the file", base_size);
}

/* Random corruptions: the reader may accept some (a changed data byte is
 * still a valid file), but must either open cleanly or refuse by name. */
static void random_corruption(const char *path)
{
    uint8_t *b = malloc(base_size);
    uint64_t seed = 88172645463325252ull;
    int bad = 0, refused_n = 0, iters = 3000;
    for (int it = 0; it < iters; it++) {
        memcpy(b, base, base_size);
        int flips = 1 + it % 4;
        for (int k = 0; k < flips; k++) {
            seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
            /* mostly the header and tables, where the structure is */
            size_t limit = it % 3 ? (size_t)L.data_offset : base_size;
            size_t pos = (size_t)(seed % limit);
            b[pos] = it % 2 ? (uint8_t)(seed >> 32) : b[pos] ^ (uint8_t)(1u << (seed >> 40) % 8);
        }
        write_bytes(path, b, base_size);
        llp_err err;
        err.msg[0] = 0;
        gguf_file *f = gguf_open(path, &err);
        if (f) {
            /* touch every tensor's last byte: it must be mapped */
            volatile uint8_t sink = 0;
            for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
                const gguf_tensor *t = gguf_tensor_at(f, i);
                sink ^= ((const uint8_t *)t->data)[t->n_bytes - 1];
            }
            (void)sink;
            gguf_close(f);
        } else {
            refused_n++;
            if (strncmp(err.msg, path, strlen(path)) != 0) {
                if (!bad) diag("bad message: %s", err.msg);
                bad++;
            }
        }
    }
    ok(bad == 0, "%d random corruptions: %d refused by name, the rest opened cleanly",
       iters, refused_n);
    free(b);
}

int main(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/gguf_malformed_%d.gguf", tmp_dir(), (int)getpid());
    if (!ok(write_base(path) == 0 && read_whole(path) == 0, "write the valid base file"))
        return done_testing();
    walk_layout();
    {
        llp_err err;
        gguf_file *f = gguf_open(path, &err);
        ok(f && gguf_n_kv(f) == N_KV && gguf_n_tensors(f) == N_TENSORS, "the base file is valid");
        if (!f) diag("%s", err.msg);
        gguf_close(f);
    }
    const tensor_layout *last = &L.t[N_TENSORS - 1];
    ok(L.data_offset + last->offset + last->n_bytes == base_size,
       "the last tensor's data ends the file (so every prefix is broken)");

    cases(path);
    every_prefix(path);
    missing_llama_key(path);
    random_corruption(path);

    unlink(path);
    free(base);
    return done_testing();
}
