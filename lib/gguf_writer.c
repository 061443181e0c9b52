/*
 * gguf_writer.c — the GGUF writer: collects key-values and tensors in
 * memory, then writes a version 3 (or 2) file with aligned tensor data,
 * atomically (PATH.tmp, fsync, rename).
 *
 * Not for: reading or validating files (gguf.c), choosing weight types or
 * quantizing (quantize.c, quant.c).
 *
 * Misuse of the setters is remembered, not reported on the spot (the API
 * returns void so that building a file reads as a plain list of calls): the
 * first problem is reported by gguf_writer_write, which then writes nothing.
 */
#include "gguf.h"
#include "quant.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gguf_writer.c writes host-order fields; it needs a byte swap on this host"
#endif

typedef struct writer_tensor {
    char *name;
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS];
    uint32_t type;
    uint64_t n_bytes;
    const void *data;
    bool owned;            /* data is our copy (gguf_add_tensor) */
    gguf_tensor_fill fill; /* data made at write time (gguf_add_tensor_fill) */
    void *fill_ctx;
} writer_tensor;

struct gguf_writer {
    uint32_t version;
    uint32_t alignment;
    uint8_t *kv;           /* the encoded key-value table */
    size_t kv_len, kv_cap;
    char **keys;           /* every key set, for duplicate detection */
    size_t n_kv, keys_cap;
    writer_tensor *tensors;
    size_t n_tensors, tensors_cap;
    char *misuse;          /* first setter misuse, reported at write time */
};

gguf_writer *gguf_writer_new(void)
{
    gguf_writer *w = llp_calloc(1, sizeof *w);
    w->version = 3;
    w->alignment = GGUF_DEFAULT_ALIGNMENT;
    return w;
}

void gguf_writer_free(gguf_writer *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->n_kv; i++) free(w->keys[i]);
    free(w->keys);
    free(w->kv);
    for (size_t i = 0; i < w->n_tensors; i++) {
        free(w->tensors[i].name);
        if (w->tensors[i].owned) free((void *)w->tensors[i].data);
    }
    free(w->tensors);
    free(w->misuse);
    free(w);
}

static void misuse(gguf_writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void misuse(gguf_writer *w, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    if (w->misuse) return;                 /* keep the first */
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    w->misuse = llp_strdup(msg);
}

void gguf_writer_set_version(gguf_writer *w, uint32_t version)
{
    if (version != 2 && version != 3) {
        misuse(w, "GGUF version %u cannot be written (supported: 2, 3)", version);
        return;
    }
    w->version = version;
}

/* ---- the key-value table ---------------------------------------------- */

static void put(gguf_writer *w, const void *bytes, size_t n)
{
    if (w->kv_len + n > w->kv_cap) {
        size_t cap = w->kv_cap ? w->kv_cap : 256;
        while (cap < w->kv_len + n) cap *= 2;
        w->kv = llp_realloc(w->kv, cap);
        w->kv_cap = cap;
    }
    if (n) memcpy(w->kv + w->kv_len, bytes, n);
    w->kv_len += n;
}

static void put_u32(gguf_writer *w, uint32_t v) { put(w, &v, 4); }
static void put_u64(gguf_writer *w, uint64_t v) { put(w, &v, 8); }

static void put_str(gguf_writer *w, const char *s, size_t len)
{
    put_u64(w, len);
    put(w, s, len);
}

/* Start a pair: key and value type. False (and nothing written) when the
 * key was set before. */
static bool begin_kv(gguf_writer *w, const char *key, uint32_t type)
{
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->keys[i], key) == 0) {
            misuse(w, "key '%s' set twice", key);
            return false;
        }
    if (w->n_kv == w->keys_cap) {
        w->keys_cap = w->keys_cap ? w->keys_cap * 2 : 16;
        w->keys = llp_realloc(w->keys, w->keys_cap * sizeof *w->keys);
    }
    w->keys[w->n_kv++] = llp_strdup(key);
    put_str(w, key, strlen(key));
    put_u32(w, type);
    return true;
}

/* A scalar of a fixed-size type; general.alignment also sets the layout. */
static void set_scalar(gguf_writer *w, const char *key, uint32_t type, const void *v)
{
    if (strcmp(key, "general.alignment") == 0) {
        uint32_t a;
        if (type != GGUF_U32) {
            misuse(w, "general.alignment must be a u32, not %s", gguf_value_type_name(type));
            return;
        }
        memcpy(&a, v, 4);
        if (a == 0 || (a & (a - 1))) {
            misuse(w, "general.alignment %u is not a power of two", a);
            return;
        }
        if (!begin_kv(w, key, type)) return;
        w->alignment = a;
    } else if (!begin_kv(w, key, type)) {
        return;
    }
    put(w, v, gguf_value_size(type));
}

void gguf_set_u8(gguf_writer *w, const char *key, uint8_t v)   { set_scalar(w, key, GGUF_U8, &v); }
void gguf_set_i8(gguf_writer *w, const char *key, int8_t v)    { set_scalar(w, key, GGUF_I8, &v); }
void gguf_set_u16(gguf_writer *w, const char *key, uint16_t v) { set_scalar(w, key, GGUF_U16, &v); }
void gguf_set_i16(gguf_writer *w, const char *key, int16_t v)  { set_scalar(w, key, GGUF_I16, &v); }
void gguf_set_u32(gguf_writer *w, const char *key, uint32_t v) { set_scalar(w, key, GGUF_U32, &v); }
void gguf_set_i32(gguf_writer *w, const char *key, int32_t v)  { set_scalar(w, key, GGUF_I32, &v); }
void gguf_set_u64(gguf_writer *w, const char *key, uint64_t v) { set_scalar(w, key, GGUF_U64, &v); }
void gguf_set_i64(gguf_writer *w, const char *key, int64_t v)  { set_scalar(w, key, GGUF_I64, &v); }
void gguf_set_f32(gguf_writer *w, const char *key, float v)    { set_scalar(w, key, GGUF_F32, &v); }
void gguf_set_f64(gguf_writer *w, const char *key, double v)   { set_scalar(w, key, GGUF_F64, &v); }

void gguf_set_bool(gguf_writer *w, const char *key, bool v)
{
    uint8_t b = v ? 1 : 0;
    set_scalar(w, key, GGUF_BOOL, &b);
}

void gguf_set_str(gguf_writer *w, const char *key, const char *v)
{
    if (begin_kv(w, key, GGUF_STRING)) put_str(w, v, strlen(v));
}

void gguf_set_arr(gguf_writer *w, const char *key, uint32_t elem_type, const void *data, uint64_t n)
{
    size_t esz = gguf_value_size(elem_type);
    if (esz == 0) {
        misuse(w, "array '%s' has element type %s (gguf_set_arr takes fixed-size types; "
               "strings go through gguf_set_arr_str)", key, gguf_value_type_name(elem_type));
        return;
    }
    if (n > SIZE_MAX / esz) {
        misuse(w, "array '%s' of %llu elements is too large", key, (unsigned long long)n);
        return;
    }
    if (!begin_kv(w, key, GGUF_ARRAY)) return;
    put_u32(w, elem_type);
    put_u64(w, n);
    put(w, data, (size_t)n * esz);
}

void gguf_set_arr_str(gguf_writer *w, const char *key, const char *const *v, uint64_t n)
{
    if (!begin_kv(w, key, GGUF_ARRAY)) return;
    put_u32(w, GGUF_STRING);
    put_u64(w, n);
    for (uint64_t i = 0; i < n; i++) put_str(w, v[i], strlen(v[i]));
}

void gguf_set_raw(gguf_writer *w, const char *key, uint32_t type, const void *bytes, size_t n_bytes)
{
    if (type == GGUF_U32 && n_bytes == 4) {         /* keeps general.alignment in effect */
        set_scalar(w, key, type, bytes);
        return;
    }
    if (!begin_kv(w, key, type)) return;
    put(w, bytes, n_bytes);
}

/* ---- tensors ---------------------------------------------------------- */

static void add_tensor(gguf_writer *w, const char *name, uint32_t n_dims, const int64_t *ne,
                       uint32_t type, const void *data, bool copy, gguf_tensor_fill fill,
                       void *fill_ctx)
{
    writer_tensor t = { .n_dims = n_dims, .type = type };
    const llp_type_info *ti = llp_type_get(type);
    uint64_t n_elements = 1, row_bytes;

    if (n_dims == 0 || n_dims > GGUF_MAX_DIMS) {
        misuse(w, "tensor '%s' has %u dimensions (1 to 4 allowed)", name, n_dims);
        return;
    }
    if (!ti) {
        misuse(w, "tensor '%s' has unknown type %u", name, type);
        return;
    }
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
        t.ne[d] = d < n_dims ? ne[d] : 1;
        if (t.ne[d] <= 0 || __builtin_mul_overflow(n_elements, (uint64_t)t.ne[d], &n_elements)) {
            misuse(w, "tensor '%s' has invalid extent ne[%u]=%lld", name, d, (long long)t.ne[d]);
            return;
        }
    }
    if (t.ne[0] % ti->block_size) {
        misuse(w, "ne[0]=%lld of tensor '%s' is not a multiple of the block size %d of %s",
               (long long)t.ne[0], name, ti->block_size, ti->name);
        return;
    }
    if (__builtin_mul_overflow((uint64_t)(t.ne[0] / ti->block_size), (uint64_t)ti->type_size,
                               &row_bytes) ||
        __builtin_mul_overflow(row_bytes, n_elements / (uint64_t)t.ne[0], &t.n_bytes) ||
        t.n_bytes > SIZE_MAX / 2) {
        misuse(w, "tensor '%s' is too large", name);
        return;
    }
    for (size_t i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0) {
            misuse(w, "tensor '%s' added twice", name);
            return;
        }
    if (w->n_tensors == w->tensors_cap) {
        w->tensors_cap = w->tensors_cap ? w->tensors_cap * 2 : 16;
        w->tensors = llp_realloc(w->tensors, w->tensors_cap * sizeof *w->tensors);
    }
    t.name = llp_strdup(name);
    t.owned = copy;
    t.fill = fill;
    t.fill_ctx = fill_ctx;
    if (fill) {
        t.data = NULL;
    } else if (copy) {
        void *d = llp_malloc((size_t)t.n_bytes);
        memcpy(d, data, (size_t)t.n_bytes);
        t.data = d;
    } else {
        t.data = data;
    }
    w->tensors[w->n_tensors++] = t;
}

void gguf_add_tensor(gguf_writer *w, const char *name, uint32_t n_dims,
                     const int64_t *ne, uint32_t type, const void *data)
{
    add_tensor(w, name, n_dims, ne, type, data, true, NULL, NULL);
}

void gguf_add_tensor_ref(gguf_writer *w, const char *name, uint32_t n_dims,
                         const int64_t *ne, uint32_t type, const void *data)
{
    add_tensor(w, name, n_dims, ne, type, data, false, NULL, NULL);
}

void gguf_add_tensor_fill(gguf_writer *w, const char *name, uint32_t n_dims,
                          const int64_t *ne, uint32_t type, gguf_tensor_fill fill, void *ctx)
{
    add_tensor(w, name, n_dims, ne, type, NULL, false, fill, ctx);
}

/* ---- writing the file ------------------------------------------------- */

/* A buffered output that remembers the first failure's errno. */
typedef struct out {
    FILE *fp;
    uint64_t pos;
    int error;
    bool fill_failed;      /* a fill callback failed: its message is in fill_err */
    llp_err fill_err;
} out;

static void emit(out *o, const void *bytes, size_t n)
{
    if (o->error || n == 0) return;
    errno = 0;
    if (fwrite(bytes, 1, n, o->fp) != n) o->error = errno ? errno : EIO;
    o->pos += n;
}

static void emit_u32(out *o, uint32_t v) { emit(o, &v, 4); }
static void emit_u64(out *o, uint64_t v) { emit(o, &v, 8); }

static void pad_to(out *o, uint32_t alignment)
{
    static const uint8_t zeros[256];
    uint64_t pad = (alignment - o->pos % alignment) % alignment;
    while (pad) {
        size_t n = pad > sizeof zeros ? sizeof zeros : (size_t)pad;
        emit(o, zeros, n);
        pad -= n;
    }
}

static uint64_t align_up(uint64_t x, uint32_t a) { return (x + a - 1) / a * a; }

static void emit_all(gguf_writer *w, out *o)
{
    emit(o, "GGUF", 4);
    emit_u32(o, w->version);
    emit_u64(o, (uint64_t)w->n_tensors);
    emit_u64(o, (uint64_t)w->n_kv);
    emit(o, w->kv, w->kv_len);

    uint64_t offset = 0;              /* relative to the data section */
    for (size_t i = 0; i < w->n_tensors; i++) {
        const writer_tensor *t = &w->tensors[i];
        emit_u64(o, strlen(t->name));
        emit(o, t->name, strlen(t->name));
        emit_u32(o, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++) emit_u64(o, (uint64_t)t->ne[d]);
        emit_u32(o, t->type);
        emit_u64(o, offset);
        offset = align_up(offset + t->n_bytes, w->alignment);
    }
    /* The data section starts aligned; a file without tensors has none,
     * and ends unpadded (as llama.cpp's vocabulary-only files do). */
    if (w->n_tensors) pad_to(o, w->alignment);
    for (size_t i = 0; i < w->n_tensors && !o->error && !o->fill_failed; i++) {
        const writer_tensor *t = &w->tensors[i];
        if (t->fill) {
            void *buf = llp_malloc(t->n_bytes ? (size_t)t->n_bytes : 1);
            if (t->fill(t->fill_ctx, i, buf, t->n_bytes, &o->fill_err) != 0)
                o->fill_failed = true;
            else
                emit(o, buf, (size_t)t->n_bytes);
            free(buf);
        } else {
            emit(o, t->data, (size_t)t->n_bytes);
        }
        pad_to(o, w->alignment);
    }
}

int gguf_writer_write(gguf_writer *w, const char *path, llp_err *err)
{
    if (w->misuse) return llp_err_set(err, "%s: not written: %s", path, w->misuse);

    size_t plen = strlen(path);
    char *tmp = llp_malloc(plen + 5);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);

    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        llp_err_set(err, "%s: cannot create %s: %s", path, tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    out o = { .fp = fdopen(fd, "wb") };
    if (!o.fp) {
        llp_err_set(err, "%s: write failed: %s", path, strerror(errno));
        close(fd);
        unlink(tmp);
        free(tmp);
        return -1;
    }
    emit_all(w, &o);
    if (o.fill_failed) {
        fclose(o.fp);
        unlink(tmp);
        free(tmp);
        if (err) *err = o.fill_err;
        return -1;
    }
    if (!o.error && fflush(o.fp) != 0) o.error = errno;
    if (!o.error && fsync(fd) != 0 && errno != EINVAL) o.error = errno;  /* EINVAL: no fsync here */
    if (fclose(o.fp) != 0 && !o.error) o.error = errno;
    if (!o.error && rename(tmp, path) != 0) {
        llp_err_set(err, "%s: cannot rename %s into place: %s", path, tmp, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    if (o.error) {
        llp_err_set(err, "%s: write failed: %s", path, strerror(o.error));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}
