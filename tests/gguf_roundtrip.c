/*
 * gguf_roundtrip.c — the GGUF writer and reader agree: a file with every
 * value type, numeric and string arrays, tensors of several types and a
 * non-default alignment reads back value for value and byte for byte, in
 * version 3 and version 2. Also: typed getters' conversions and refusals,
 * writer misuse reported at write time, and a write that fails partway
 * (file size limit) leaving the previous file intact and no PATH.tmp.
 *
 * Not for: malformed files (gguf_malformed.c) or weight decoding (quant
 * tests).
 */
#include "gguf.h"
#include "quant.h"
#include "tap.h"

#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define N_TENSORS 6

typedef struct spec_tensor {
    const char *name;
    uint32_t n_dims;
    int64_t ne[4];
    uint32_t type;
    uint8_t *data;
    size_t n_bytes;
} spec_tensor;

static spec_tensor tensors[N_TENSORS] = {
    { "token_embd.weight", 2, { 8, 3, 1, 1 }, LLP_F32, NULL, 0 },
    { "output_norm.weight", 1, { 16, 1, 1, 1 }, LLP_F16, NULL, 0 },
    { "blk.0.attn_q.weight", 2, { 64, 2, 1, 1 }, LLP_Q8_0, NULL, 0 },
    { "blk.0.ffn_down.weight", 2, { 256, 3, 1, 1 }, LLP_Q4_K, NULL, 0 },
    { "cube", 3, { 2, 3, 4, 1 }, LLP_F32, NULL, 0 },
    { "four.d", 4, { 32, 1, 2, 2 }, LLP_Q4_0, NULL, 0 },
};

static const char *const token_strs[] = { "<unk>", "<s>", "</s>", "\xe2\x96\x81Hello", "", "x y" };
static const int32_t i32_arr[] = { -5, 0, 7, INT32_MAX, INT32_MIN };
static const float f32_arr[] = { 0.5f, -1.25f, 3e10f };
static const double f64_arr[] = { 1e-300, -2.5 };
static const uint8_t u8_arr[] = { 0, 1, 255 };
static const uint64_t u64_arr[] = { UINT64_MAX, 1 };
static const int16_t i16_arr[] = { -300, 300 };
static const uint8_t bool_arr[] = { 1, 0, 1 };

/* Deterministic filler so every tensor's bytes are distinct. */
static void make_data(void)
{
    uint32_t seed = 12345;
    for (int i = 0; i < N_TENSORS; i++) {
        spec_tensor *t = &tensors[i];
        int64_t rows = t->ne[1] * t->ne[2] * t->ne[3];
        t->n_bytes = llp_row_size(t->type, t->ne[0]) * (size_t)rows;
        t->data = malloc(t->n_bytes);
        for (size_t j = 0; j < t->n_bytes; j++) {
            seed = seed * 1103515245u + 12345u;
            t->data[j] = (uint8_t)(seed >> 16);
        }
    }
}

static gguf_writer *build(uint32_t version)
{
    gguf_writer *w = gguf_writer_new();
    if (version) gguf_writer_set_version(w, version);
    gguf_set_str(w, "general.architecture", "llama");
    gguf_set_u32(w, "general.alignment", 64);
    gguf_set_u8(w, "t.u8", 200);
    gguf_set_i8(w, "t.i8", -100);
    gguf_set_u16(w, "t.u16", 65000);
    gguf_set_i16(w, "t.i16", -32000);
    gguf_set_u32(w, "t.u32", 4000000000u);
    gguf_set_i32(w, "t.i32", -2000000000);
    gguf_set_f32(w, "t.f32", 0.125f);
    gguf_set_bool(w, "t.bool", true);
    gguf_set_bool(w, "t.false", false);
    gguf_set_str(w, "t.str", "h\xc3\xa9llo world");
    gguf_set_str(w, "t.empty", "");
    gguf_set_u64(w, "t.u64", UINT64_MAX);
    gguf_set_i64(w, "t.i64", INT64_MIN);
    gguf_set_f64(w, "t.f64", 3.141592653589793);
    int8_t raw_i8 = -7;
    gguf_set_raw(w, "t.raw_i8", GGUF_I8, &raw_i8, 1);
    gguf_set_arr_str(w, "tokenizer.ggml.tokens", token_strs, 6);
    gguf_set_arr(w, "a.i32", GGUF_I32, i32_arr, 5);
    gguf_set_arr(w, "a.f32", GGUF_F32, f32_arr, 3);
    gguf_set_arr(w, "a.f64", GGUF_F64, f64_arr, 2);
    gguf_set_arr(w, "a.u8", GGUF_U8, u8_arr, 3);
    gguf_set_arr(w, "a.u64", GGUF_U64, u64_arr, 2);
    gguf_set_arr(w, "a.i16", GGUF_I16, i16_arr, 2);
    gguf_set_arr(w, "a.bool", GGUF_BOOL, bool_arr, 3);
    gguf_set_arr(w, "a.empty", GGUF_U32, NULL, 0);
    gguf_set_arr_str(w, "a.nostr", NULL, 0);
    for (int i = 0; i < N_TENSORS; i++)
        gguf_add_tensor(w, tensors[i].name, tensors[i].n_dims, tensors[i].ne, tensors[i].type,
                        tensors[i].data);
    return w;
}

#define N_KEYS 27

static void check_values(const gguf_file *f)
{
    int64_t i;
    uint64_t u;
    double d;
    bool b;
    const char *s;
    size_t len;
    uint32_t et;
    uint64_t n;

    is_int(gguf_n_kv(f), N_KEYS, "key count");
    is_int(gguf_find_key(f, "general.architecture"), 0, "first key found at 0");
    ok(strcmp(gguf_kv_key(f, 2), "t.u8") == 0, "keys keep their order");
    is_int(gguf_find_key(f, "no.such.key"), -1, "absent key: -1");
    is_int(gguf_kv_type(f, gguf_find_key(f, "t.u16")), GGUF_U16, "t.u16 has type u16");
    is_int(gguf_kv_type(f, gguf_find_key(f, "t.f64")), GGUF_F64, "t.f64 has type f64");
    is_int(gguf_kv_type(f, gguf_find_key(f, "a.i32")), GGUF_ARRAY, "a.i32 has type array");
    is_int(gguf_alignment(f), 64, "alignment 64 read back");

    ok(gguf_get_uint(f, "t.u8", &u) == 0 && u == 200, "u8");
    ok(gguf_get_int(f, "t.i8", &i) == 0 && i == -100, "i8");
    ok(gguf_get_uint(f, "t.u16", &u) == 0 && u == 65000, "u16");
    ok(gguf_get_int(f, "t.i16", &i) == 0 && i == -32000, "i16");
    ok(gguf_get_uint(f, "t.u32", &u) == 0 && u == 4000000000u, "u32");
    ok(gguf_get_int(f, "t.i32", &i) == 0 && i == -2000000000, "i32");
    ok(gguf_get_float(f, "t.f32", &d) == 0 && d == 0.125, "f32");
    ok(gguf_get_bool(f, "t.bool", &b) == 0 && b, "bool true");
    ok(gguf_get_bool(f, "t.false", &b) == 0 && !b, "bool false");
    ok(gguf_get_str(f, "t.str", &s, &len) == 0 && len == 12 && strcmp(s, "h\xc3\xa9llo world") == 0,
       "string, NUL-terminated, with length");
    ok(gguf_get_str(f, "t.empty", &s, NULL) == 0 && s[0] == 0, "empty string");
    ok(gguf_get_uint(f, "t.u64", &u) == 0 && u == UINT64_MAX, "u64");
    ok(gguf_get_int(f, "t.i64", &i) == 0 && i == INT64_MIN, "i64");
    ok(gguf_get_float(f, "t.f64", &d) == 0 && d == 3.141592653589793, "f64");
    ok(gguf_get_int(f, "t.raw_i8", &i) == 0 && i == -7, "raw-encoded i8");

    /* conversions and refusals */
    ok(gguf_get_int(f, "t.u32", &i) == 0 && i == 4000000000ll, "get_int widens u32");
    is_int(gguf_get_int(f, "t.u64", &i), -2, "get_int refuses a u64 above INT64_MAX");
    is_int(gguf_get_uint(f, "t.i8", &u), -2, "get_uint refuses a negative value");
    ok(gguf_get_int(f, "t.bool", &i) == 0 && i == 1, "get_int accepts bool");
    ok(gguf_get_float(f, "t.i32", &d) == 0 && d == -2000000000.0, "get_float accepts integers");
    is_int(gguf_get_int(f, "t.f32", &i), -2, "get_int refuses a float");
    is_int(gguf_get_str(f, "t.u8", &s, NULL), -2, "get_str refuses a number");
    is_int(gguf_get_bool(f, "t.u8", &b), -2, "get_bool refuses a number");
    is_int(gguf_get_float(f, "t.str", &d), -2, "get_float refuses a string");
    is_int(gguf_get_arr(f, "t.u8", &et, &n), -2, "get_arr refuses a scalar");
    is_int(gguf_get_uint(f, "missing", &u), -1, "absent key gives -1");

    /* arrays */
    ok(gguf_get_arr(f, "tokenizer.ggml.tokens", &et, &n) == 0 && et == GGUF_STRING && n == 6,
       "string array: type and count");
    int strs_ok = 1;
    for (uint64_t k = 0; k < 6; k++) {
        s = gguf_arr_str(f, "tokenizer.ggml.tokens", k, &len);
        strs_ok &= s && len == strlen(token_strs[k]) && memcmp(s, token_strs[k], len) == 0;
    }
    ok(strs_ok, "every string array element");
    ok(gguf_arr_str(f, "tokenizer.ggml.tokens", 6, &len) == NULL, "string index out of range: NULL");
    ok(gguf_arr_data(f, "tokenizer.ggml.tokens") == NULL, "arr_data of a string array: NULL");
    ok(gguf_get_arr(f, "a.i32", &et, &n) == 0 && et == GGUF_I32 && n == 5, "i32 array");
    int32_t i32s[5];
    memcpy(i32s, gguf_arr_data(f, "a.i32"), sizeof i32s);
    ok(memcmp(i32s, i32_arr, sizeof i32s) == 0, "i32 array raw data");
    ok(gguf_arr_int(f, "a.i32", 3) == INT32_MAX && gguf_arr_int(f, "a.i32", 4) == INT32_MIN,
       "arr_int of i32");
    ok(gguf_arr_float(f, "a.f32", 1) == -1.25 && gguf_arr_float(f, "a.f32", 2) == 3e10f,
       "arr_float of f32");
    ok(gguf_arr_float(f, "a.f64", 0) == 1e-300, "arr_float of f64");
    ok(gguf_arr_int(f, "a.u8", 2) == 255, "arr_int of u8");
    ok(gguf_arr_int(f, "a.u64", 1) == 1 && gguf_arr_int(f, "a.u64", 0) == 0,
       "arr_int of u64 (too large gives 0)");
    ok(gguf_arr_int(f, "a.i16", 0) == -300, "arr_int of i16");
    ok(gguf_arr_int(f, "a.bool", 0) == 1 && gguf_arr_int(f, "a.bool", 1) == 0 &&
       gguf_arr_float(f, "a.bool", 2) == 1.0, "bool array");
    ok(gguf_arr_int(f, "a.f32", 1) == -1, "arr_int truncates floats");
    ok(gguf_arr_int(f, "a.i32", 5) == 0 && gguf_arr_float(f, "a.i32", 99) == 0,
       "numeric index out of range: 0");
    ok(gguf_get_arr(f, "a.empty", &et, &n) == 0 && et == GGUF_U32 && n == 0, "empty numeric array");
    ok(gguf_get_arr(f, "a.nostr", &et, &n) == 0 && et == GGUF_STRING && n == 0, "empty string array");
}

static void check_tensors(const gguf_file *f)
{
    is_int(gguf_n_tensors(f), N_TENSORS, "tensor count");
    is_int(gguf_data_offset(f) % 64, 0, "data section aligned to 64");
    for (int i = 0; i < N_TENSORS; i++) {
        const spec_tensor *want = &tensors[i];
        const gguf_tensor *t = gguf_tensor_at(f, i);
        int shape_ok = t && strcmp(t->name, want->name) == 0 && t->n_dims == want->n_dims &&
                       t->type == want->type;
        for (int d = 0; shape_ok && d < 4; d++) shape_ok = t->ne[d] == want->ne[d];
        ok(shape_ok, "tensor %d '%s': name, dims, extents, type", i, want->name);
        ok(t && t->offset % 64 == 0 && t->n_bytes == want->n_bytes &&
           (const uint8_t *)t->data == gguf_bytes(f) + gguf_data_offset(f) + t->offset,
           "tensor %d: offset aligned, size %zu, data pointer", i, want->n_bytes);
        ok(t && memcmp(t->data, want->data, want->n_bytes) == 0, "tensor %d: data bytes", i);
        ok(gguf_find_tensor(f, want->name) == t, "find_tensor('%s')", want->name);
    }
    ok(gguf_find_tensor(f, "blk.0.attn_k.weight") == NULL, "absent tensor: NULL");
    ok(gguf_tensor_at(f, N_TENSORS) == NULL && gguf_tensor_at(f, -1) == NULL,
       "tensor_at out of range: NULL");
    const gguf_tensor *last = gguf_tensor_at(f, N_TENSORS - 1);
    ok(gguf_data_offset(f) + last->offset + last->n_bytes <= gguf_file_size(f), "data inside the file");
}

static void roundtrip(uint32_t version, const char *path)
{
    llp_err err = { "" };
    gguf_writer *w = build(version);
    int rc = gguf_writer_write(w, path, &err);
    gguf_writer_free(w);
    if (!ok(rc == 0, "v%u: write %s", version ? version : 3, path)) diag("%s", err.msg);
    gguf_file *f = gguf_open(path, &err);
    if (!ok(f != NULL, "v%u: open", version ? version : 3)) {
        diag("%s", err.msg);
        return;
    }
    is_int(gguf_version(f), version ? version : 3, "version read back");
    ok(strcmp(gguf_path(f), path) == 0, "path kept");
    struct stat st;
    ok(stat(path, &st) == 0 && (uint64_t)st.st_size == gguf_file_size(f), "file size");
    check_values(f);
    check_tensors(f);
    gguf_close(f);
}

static void minimal_file(const char *path)
{
    llp_err err = { "" };
    gguf_writer *w = gguf_writer_new();
    int rc = gguf_writer_write(w, path, &err);
    gguf_writer_free(w);
    gguf_file *f = rc == 0 ? gguf_open(path, &err) : NULL;
    ok(f && gguf_n_kv(f) == 0 && gguf_n_tensors(f) == 0 && gguf_alignment(f) == 32,
       "a file with no keys and no tensors round-trips (default alignment 32)");
    if (!f) diag("%s", err.msg);
    gguf_close(f);
}

static void writer_misuse(const char *path)
{
    static const float four[4] = { 1, 2, 3, 4 };
    static const struct { const char *what, *phrase; } cases[] = {
        { "key set twice", "key 't.a' set twice" },
        { "alignment not a power of two", "general.alignment 48 is not a power of two" },
        { "ne[0] not a multiple of the block size", "is not a multiple of the block size 32 of Q8_0" },
        { "tensor added twice", "tensor 'w' added twice" },
        { "five dimensions", "has 5 dimensions" },
        { "version 1", "GGUF version 1 cannot be written" },
    };
    for (int c = 0; c < 6; c++) {
        gguf_writer *w = gguf_writer_new();
        int64_t ne[5] = { 4, 1, 1, 1, 1 }, ne_q[1] = { 33 };
        gguf_add_tensor(w, "w", 1, ne, LLP_F32, four);
        switch (c) {
        case 0: gguf_set_u32(w, "t.a", 1); gguf_set_str(w, "t.a", "again"); break;
        case 1: gguf_set_u32(w, "general.alignment", 48); break;
        case 2: gguf_add_tensor(w, "q", 1, ne_q, LLP_Q8_0, four); break;
        case 3: gguf_add_tensor(w, "w", 1, ne, LLP_F32, four); break;
        case 4: gguf_add_tensor(w, "five", 5, ne, LLP_F32, four); break;
        case 5: gguf_writer_set_version(w, 1); break;
        }
        llp_err err = { "" };
        unlink(path);
        int rc = gguf_writer_write(w, path, &err);
        gguf_writer_free(w);
        ok(rc == -1 && strncmp(err.msg, path, strlen(path)) == 0 && strstr(err.msg, cases[c].phrase)
           && access(path, F_OK) != 0, "writer refuses: %s", cases[c].what);
        if (rc != -1 || !strstr(err.msg, cases[c].phrase)) diag("got: %s", err.msg);
    }
}

static void write_failure(void)
{
    llp_err err = { "" };
    const char *path = "/nonexistent-dir/out.gguf";
    gguf_writer *w = gguf_writer_new();
    gguf_set_str(w, "general.name", "x");
    int rc = gguf_writer_write(w, path, &err);
    gguf_writer_free(w);
    ok(rc == -1 && strncmp(err.msg, "/nonexistent-dir/out.gguf: ", 27) == 0 &&
       strstr(err.msg, "No such file or directory"), "unwritable path: error names it");
    diag("%s", err.msg);
}

/* A write that fails partway (here: RLIMIT_FSIZE, in a child process, as a
 * stand-in for a full disk) reports "PATH: write failed: ...", leaves the
 * file already at PATH untouched and removes PATH.tmp. */
static void failed_write_keeps_old_file(const char *path)
{
    char tmp[4200];
    llp_err err = { "" };
    gguf_writer *w = gguf_writer_new();
    gguf_set_str(w, "general.name", "old");
    ok(gguf_writer_write(w, path, &err) == 0, "write the old file");
    gguf_writer_free(w);

    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        static uint8_t big[1 << 16];
        int64_t ne[1] = { sizeof big / 4 };
        struct rlimit rl = { 4096, 4096 };
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &rl);
        gguf_writer *big_w = gguf_writer_new();
        gguf_set_str(big_w, "general.name", "new");
        gguf_add_tensor(big_w, "big", 1, ne, LLP_F32, big);
        int rc = gguf_writer_write(big_w, path, &err);
        gguf_writer_free(big_w);
        char want[4200];
        snprintf(want, sizeof want, "%s: write failed: File too large", path);
        if (rc != -1 || strcmp(err.msg, want) != 0) {
            fprintf(stderr, "child got rc %d: %s\n", rc, err.msg);
            _exit(1);
        }
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
       "a write that fails partway says \"PATH: write failed: File too large\"");
    gguf_file *f = gguf_open(path, &err);
    const char *s = NULL;
    ok(f && gguf_get_str(f, "general.name", &s, NULL) == 0 && strcmp(s, "old") == 0 &&
       gguf_n_tensors(f) == 0, "the old file is intact after the failed write");
    gguf_close(f);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    ok(access(tmp, F_OK) != 0, "the failed write left no .tmp file");
}

/* Writing over an existing file replaces it whole, and leaves no PATH.tmp. */
static void replace_existing(const char *path)
{
    char tmp[4200];
    llp_err err = { "" };
    gguf_writer *w = gguf_writer_new();
    gguf_set_str(w, "general.name", "replacement");
    int rc = gguf_writer_write(w, path, &err);
    gguf_writer_free(w);
    gguf_file *f = rc == 0 ? gguf_open(path, &err) : NULL;
    const char *s = NULL;
    ok(f && gguf_n_tensors(f) == 0 && gguf_get_str(f, "general.name", &s, NULL) == 0 &&
       strcmp(s, "replacement") == 0, "rewriting a path replaces the old file");
    gguf_close(f);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    ok(access(tmp, F_OK) != 0, "no .tmp file left behind");
}

int main(void)
{
    char path[4096];
    make_data();
    snprintf(path, sizeof path, "%s/gguf_roundtrip_%d.gguf", tmp_dir(), (int)getpid());

    roundtrip(0, path);
    roundtrip(2, path);
    minimal_file(path);
    writer_misuse(path);
    write_failure();
    failed_write_keeps_old_file(path);
    replace_existing(path);

    unlink(path);
    for (int i = 0; i < N_TENSORS; i++) free(tensors[i].data);
    return done_testing();
}
