/*
 * gguf.c — the GGUF reader: maps a file read-only, validates its header,
 * key-value table and tensor table against the size of the file, and
 * answers typed questions about them.
 *
 * Not for: writing GGUF files (gguf_writer.c), interpreting llama.* or
 * tokenizer.* keys (model.c, tokenizer.c), or decoding weights (quant.c).
 *
 * All validation happens once, in gguf_open. Every length, count and offset
 * read from the file is compared with the bytes that remain before it is
 * used or anything is allocated from it, so a hostile file can make us
 * allocate only in proportion to bytes it really contains. The accessors
 * afterwards trust the tables built here.
 */
#include "gguf.h"
#include "quant.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gguf.c reads little-endian fields with memcpy; it needs a byte swap on this host"
#endif

/* Smallest encodings, used to reject counts the file cannot hold: a
 * key-value pair is a key length, a type and a one-byte value; a tensor info
 * is a name length, n_dims, one extent, a type and an offset. */
#define MIN_KV_BYTES     (8 + 4 + 1)
#define MIN_TENSOR_BYTES (8 + 4 + 8 + 4 + 8)

/* One string of a string array, pointing into the mapping. */
typedef struct str_ref {
    const char *s;
    size_t len;
} str_ref;

typedef struct gguf_kv {
    char *key;             /* NUL-terminated copy */
    uint32_t type;         /* enum gguf_value_type */
    uint32_t elem_type;    /* arrays: type of the elements */
    uint64_t n;            /* arrays: number of elements */
    uint64_t value_pos;    /* file offset of the value (arrays: first element) */
    char *str;             /* strings: NUL-terminated copy of the value */
    size_t str_len;
    str_ref *strs;         /* string arrays: n entries */
} gguf_kv;

/* Open-addressing hash from a name to its position in kv[] or tensors[].
 * Slots hold position + 1 (0 = empty); capacity is a power of two kept at
 * least twice the count. */
typedef struct name_index {
    int64_t *slots;
    uint64_t cap;
    int64_t count;
} name_index;

struct gguf_file {
    char *path;
    const uint8_t *map;    /* whole file, PROT_READ, MAP_PRIVATE */
    uint64_t size;
    uint32_t version;
    uint32_t alignment;
    uint64_t data_offset;
    int64_t n_kv, n_tensors;       /* parsed so far (all, once open) */
    gguf_kv *kv;
    gguf_tensor *tensors;
    name_index key_index, tensor_index;
};

/* ---- value types ------------------------------------------------------ */

static const struct { const char *name; size_t size; } value_types[] = {
    [GGUF_U8] = { "u8", 1 },     [GGUF_I8] = { "i8", 1 },
    [GGUF_U16] = { "u16", 2 },   [GGUF_I16] = { "i16", 2 },
    [GGUF_U32] = { "u32", 4 },   [GGUF_I32] = { "i32", 4 },
    [GGUF_F32] = { "f32", 4 },   [GGUF_BOOL] = { "bool", 1 },
    [GGUF_STRING] = { "string", 0 }, [GGUF_ARRAY] = { "array", 0 },
    [GGUF_U64] = { "u64", 8 },   [GGUF_I64] = { "i64", 8 },
    [GGUF_F64] = { "f64", 8 },
};
#define N_VALUE_TYPES (sizeof value_types / sizeof value_types[0])

size_t gguf_value_size(uint32_t type)
{
    return type < N_VALUE_TYPES ? value_types[type].size : 0;
}

const char *gguf_value_type_name(uint32_t type)
{
    static __thread char buf[24];
    if (type < N_VALUE_TYPES) return value_types[type].name;
    snprintf(buf, sizeof buf, "type %u", type);
    return buf;
}

/* ---- name index ------------------------------------------------------- */

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull;            /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

typedef const char *(*name_at_fn)(const gguf_file *f, int64_t i);

static const char *kv_name_at(const gguf_file *f, int64_t i) { return f->kv[i].key; }
static const char *tensor_name_at(const gguf_file *f, int64_t i) { return f->tensors[i].name; }

static int64_t index_find(const gguf_file *f, const name_index *ix, name_at_fn name_at,
                          const char *name)
{
    if (!ix->cap) return -1;
    for (uint64_t s = hash_name(name) & (ix->cap - 1);; s = (s + 1) & (ix->cap - 1)) {
        int64_t v = ix->slots[s];
        if (!v) return -1;
        if (strcmp(name_at(f, v - 1), name) == 0) return v - 1;
    }
}

static void index_put(name_index *ix, const char *name, int64_t pos)
{
    uint64_t s = hash_name(name) & (ix->cap - 1);
    while (ix->slots[s]) s = (s + 1) & (ix->cap - 1);
    ix->slots[s] = pos + 1;
    ix->count++;
}

/* Insert entry `pos` (whose name is already stored); the caller has checked
 * it is not a duplicate. Grows by doubling, so the table stays proportional
 * to the entries actually parsed. */
static void index_add(const gguf_file *f, name_index *ix, name_at_fn name_at, int64_t pos)
{
    if ((uint64_t)(ix->count + 1) * 2 > ix->cap) {
        name_index grown = { NULL, ix->cap ? ix->cap * 2 : 16, 0 };
        grown.slots = llp_calloc(grown.cap, sizeof *grown.slots);
        for (uint64_t s = 0; s < ix->cap; s++)
            if (ix->slots[s]) index_put(&grown, name_at(f, ix->slots[s] - 1), ix->slots[s] - 1);
        free(ix->slots);
        *ix = grown;
    }
    index_put(ix, name_at(f, pos), pos);
}

/* ---- the parser ------------------------------------------------------- */

typedef struct parser {
    gguf_file *f;
    llp_err *err;
    uint64_t pos;           /* next byte to read */
    const char *section;    /* "header", "key-value table", "tensor table" */
    char where[96];         /* "key 3 of 12"; empty in the header */
} parser;

/* A name from the file made safe to print: at most 64 bytes, with
 * non-printable bytes as '?' and "..." when cut. */
static const char *shown(char *buf, size_t cap, const char *s, size_t len)
{
    size_t keep = len > 64 ? 64 : len, o = 0;
    for (size_t i = 0; i < keep && o + 1 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[o++] = (c >= 0x20 && c != 0x7f) ? (char)c : '?';
    }
    if (keep < len && o + 4 < cap) { memcpy(buf + o, "...", 3); o += 3; }
    buf[o] = 0;
    return buf;
}

static int fail(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(parser *p, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return llp_err_set(p->err, "%s: %s", p->f->path, msg);
}

/* "(key 3 of 12, reading WHAT)" or "(reading WHAT)" in the header. */
static const char *context(parser *p, char *buf, size_t cap, const char *what)
{
    snprintf(buf, cap, "(%s%sreading %s)", p->where, p->where[0] ? ", " : "", what);
    return buf;
}

static uint64_t remaining(const parser *p) { return p->f->size - p->pos; }

static bool need(parser *p, uint64_t n, const char *what)
{
    char ctx[256];
    if (n <= remaining(p)) return true;
    fail(p, "file truncated in %s %s", p->section, context(p, ctx, sizeof ctx, what));
    return false;
}

static bool read_u32(parser *p, uint32_t *v, const char *what)
{
    if (!need(p, 4, what)) return false;
    memcpy(v, p->f->map + p->pos, 4);
    p->pos += 4;
    return true;
}

static bool read_u64(parser *p, uint64_t *v, const char *what)
{
    if (!need(p, 8, what)) return false;
    memcpy(v, p->f->map + p->pos, 8);
    p->pos += 8;
    return true;
}

/* A string: u64 length, then bytes. *s points into the mapping. */
static bool read_str(parser *p, const char **s, uint64_t *len, const char *what)
{
    char ctx[256], lwhat[200];
    snprintf(lwhat, sizeof lwhat, "length of %s", what);
    if (!read_u64(p, len, lwhat)) return false;
    if (*len > remaining(p)) {
        fail(p, "string length %llu runs past the end of the file (%llu bytes left) %s",
             (unsigned long long)*len, (unsigned long long)remaining(p),
             context(p, ctx, sizeof ctx, what));
        return false;
    }
    *s = (const char *)p->f->map + p->pos;
    p->pos += *len;
    return true;
}

static bool read_array(parser *p, gguf_kv *kv, const char *key)
{
    char what[160], ctx[256];
    snprintf(what, sizeof what, "element type of '%s'", key);
    if (!read_u32(p, &kv->elem_type, what)) return false;
    snprintf(what, sizeof what, "element count of '%s'", key);
    if (!read_u64(p, &kv->n, what)) return false;
    snprintf(what, sizeof what, "value of '%s'", key);
    if (kv->elem_type == GGUF_ARRAY)
        return !fail(p, "arrays of arrays are not supported %s", context(p, ctx, sizeof ctx, what));
    if (kv->elem_type >= N_VALUE_TYPES)
        return !fail(p, "unknown array element type %u %s", kv->elem_type,
                     context(p, ctx, sizeof ctx, what));
    kv->value_pos = p->pos;
    if (kv->elem_type != GGUF_STRING) {
        size_t esz = value_types[kv->elem_type].size;
        if (kv->n > remaining(p) / esz)
            return !fail(p, "array of %llu %s elements runs past the end of the file "
                         "(%llu bytes left) %s", (unsigned long long)kv->n,
                         value_types[kv->elem_type].name, (unsigned long long)remaining(p),
                         context(p, ctx, sizeof ctx, what));
        p->pos += kv->n * esz;
        return true;
    }
    /* Every string takes at least its 8-byte length, which bounds the index. */
    if (kv->n > remaining(p) / 8)
        return !fail(p, "array of %llu strings runs past the end of the file "
                     "(%llu bytes left) %s", (unsigned long long)kv->n,
                     (unsigned long long)remaining(p), context(p, ctx, sizeof ctx, what));
    kv->strs = llp_malloc((size_t)(kv->n ? kv->n : 1) * sizeof *kv->strs);
    for (uint64_t j = 0; j < kv->n; j++) {
        const char *s;
        uint64_t len;
        if (remaining(p) >= 8) {             /* fast path: no label to format */
            memcpy(&len, p->f->map + p->pos, 8);
            if (len <= remaining(p) - 8) {
                kv->strs[j].s = (const char *)p->f->map + p->pos + 8;
                kv->strs[j].len = (size_t)len;
                p->pos += 8 + len;
                continue;
            }
        }
        snprintf(what, sizeof what, "string %llu of '%s'", (unsigned long long)j, key);
        return read_str(p, &s, &len, what);   /* fails, with the message */
    }
    return true;
}

/* Key-value pair i (0-based) of n. */
static bool read_kv(parser *p, int64_t i, int64_t n)
{
    gguf_file *f = p->f;
    gguf_kv *kv = &f->kv[i];
    char key[80], what[160], ctx[256];
    const char *s;
    uint64_t len;

    snprintf(p->where, sizeof p->where, "key %lld of %lld", (long long)i + 1, (long long)n);
    if (!read_str(p, &s, &len, "key name")) return false;
    kv->key = llp_strndup(s, (size_t)len);
    f->n_kv = i + 1;                  /* from here on gguf_close frees it */
    shown(key, sizeof key, s, (size_t)len);
    if (index_find(f, &f->key_index, kv_name_at, kv->key) >= 0)
        return !fail(p, "duplicate key '%s' (key %lld)", key, (long long)i + 1);
    index_add(f, &f->key_index, kv_name_at, i);

    snprintf(what, sizeof what, "value type of '%s'", key);
    if (!read_u32(p, &kv->type, what)) return false;
    snprintf(what, sizeof what, "value of '%s'", key);
    if (kv->type >= N_VALUE_TYPES)
        return !fail(p, "unknown value type %u %s", kv->type, context(p, ctx, sizeof ctx, what));
    if (kv->type == GGUF_ARRAY) return read_array(p, kv, key);
    kv->value_pos = p->pos;
    if (kv->type == GGUF_STRING) {
        if (!read_str(p, &s, &len, what)) return false;
        kv->str = llp_strndup(s, (size_t)len);
        kv->str_len = (size_t)len;
        return true;
    }
    if (!need(p, value_types[kv->type].size, what)) return false;
    p->pos += value_types[kv->type].size;
    return true;
}

static bool read_alignment(parser *p)
{
    gguf_file *f = p->f;
    int64_t i = gguf_find_key(f, "general.alignment");
    uint32_t a;
    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    if (i < 0) return true;
    if (f->kv[i].type != GGUF_U32)
        return !fail(p, "general.alignment has type %s (expected u32) (key %lld)",
                     value_types[f->kv[i].type].name, (long long)i + 1);
    memcpy(&a, f->map + f->kv[i].value_pos, 4);
    if (a == 0 || (a & (a - 1)))
        return !fail(p, "general.alignment %u is not a power of two (key %lld)",
                     a, (long long)i + 1);
    f->alignment = a;
    return true;
}

/* Tensor info i (0-based) of n: shape, type and offset. Where its data lies
 * is checked once the data section's start is known. */
static bool read_tensor_info(parser *p, int64_t i, int64_t n)
{
    gguf_file *f = p->f;
    gguf_tensor *t = &f->tensors[i];
    char name[80], what[160];
    const char *s;
    uint64_t len, u64;
    uint32_t type;

    snprintf(p->where, sizeof p->where, "tensor %lld of %lld", (long long)i + 1, (long long)n);
    if (!read_str(p, &s, &len, "tensor name")) return false;
    t->name = llp_strndup(s, (size_t)len);
    f->n_tensors = i + 1;
    shown(name, sizeof name, s, (size_t)len);
    if (index_find(f, &f->tensor_index, tensor_name_at, t->name) >= 0)
        return !fail(p, "duplicate tensor name '%s' (tensor %lld)", name, (long long)i + 1);
    index_add(f, &f->tensor_index, tensor_name_at, i);

    snprintf(what, sizeof what, "dimension count of tensor '%s'", name);
    if (!read_u32(p, &t->n_dims, what)) return false;
    if (t->n_dims == 0 || t->n_dims > GGUF_MAX_DIMS)
        return !fail(p, "tensor '%s' has %u dimensions (%s)", name, t->n_dims,
                     t->n_dims ? "at most 4" : "at least 1");
    uint64_t n_elements = 1;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
        t->ne[d] = 1;
        if (d >= t->n_dims) continue;
        snprintf(what, sizeof what, "ne[%u] of tensor '%s'", d, name);
        if (!read_u64(p, &u64, what)) return false;
        memcpy(&t->ne[d], &u64, 8);
        if (t->ne[d] <= 0)
            return !fail(p, "tensor '%s' has extent ne[%u]=%lld (extents must be positive)",
                         name, d, (long long)t->ne[d]);
        if (__builtin_mul_overflow(n_elements, (uint64_t)t->ne[d], &n_elements) ||
            n_elements > (uint64_t)INT64_MAX)
            return !fail(p, "tensor '%s' has too many elements (ne[%u]=%lld overflows the count)",
                         name, d, (long long)t->ne[d]);
    }

    snprintf(what, sizeof what, "type of tensor '%s'", name);
    if (!read_u32(p, &type, what)) return false;
    t->type = type;
    const llp_type_info *ti = llp_type_get(type);
    if (!ti) return !fail(p, "unknown tensor type %u (tensor '%s')", type, name);
    if (!ti->supported)
        return !fail(p, "tensor '%s' has type %s, which llamapipe does not support", name, ti->name);
    if (t->ne[0] % ti->block_size)
        return !fail(p, "ne[0]=%lld of tensor '%s' is not a multiple of the block size %d of %s",
                     (long long)t->ne[0], name, ti->block_size, ti->name);
    uint64_t row_bytes, rows = n_elements / (uint64_t)t->ne[0];
    if (__builtin_mul_overflow((uint64_t)(t->ne[0] / ti->block_size), (uint64_t)ti->type_size,
                               &row_bytes) ||
        __builtin_mul_overflow(row_bytes, rows, &t->n_bytes))
        return !fail(p, "tensor '%s' is too large (%llu elements of %s)", name,
                     (unsigned long long)n_elements, ti->name);

    snprintf(what, sizeof what, "data offset of tensor '%s'", name);
    if (!read_u64(p, &t->offset, what)) return false;
    if (t->offset % f->alignment)
        return !fail(p, "tensor '%s' has misaligned offset %llu (alignment %u)", name,
                     (unsigned long long)t->offset, f->alignment);
    return true;
}

static bool check_tensor_data(parser *p, gguf_tensor *t)
{
    gguf_file *f = p->f;
    char name[80];
    shown(name, sizeof name, t->name, strlen(t->name));
    uint64_t start, end;
    bool wraps = __builtin_add_overflow(f->data_offset, t->offset, &start) ||
                 __builtin_add_overflow(start, t->n_bytes, &end);
    if (wraps)
        return !fail(p, "tensor '%s' data at offset %llu (+%llu bytes) lies past the end "
                     "of the file (size %llu)", name, (unsigned long long)t->offset,
                     (unsigned long long)t->n_bytes, (unsigned long long)f->size);
    if (end > f->size)
        return !fail(p, "tensor '%s' data [%llu, %llu) lies past the end of the file (size %llu)",
                     name, (unsigned long long)start, (unsigned long long)end,
                     (unsigned long long)f->size);
    t->data = f->map + f->data_offset + t->offset;
    return true;
}

static bool read_header(parser *p, int64_t *n_tensors, int64_t *n_kv)
{
    gguf_file *f = p->f;
    uint64_t u;
    p->section = "header";
    if (!need(p, 4, "magic")) return false;
    if (memcmp(f->map, "GGUF", 4) != 0)
        return !fail(p, "bad magic (expected GGUF)");
    p->pos = 4;
    if (!read_u32(p, &f->version, "version")) return false;
    if (f->version != 2 && f->version != 3) {
        uint32_t swapped = __builtin_bswap32(f->version);
        return !fail(p, "unsupported GGUF version %u (supported: 2, 3)%s", f->version,
                     swapped == 2 || swapped == 3 ? "; big-endian GGUF files are not supported" : "");
    }
    if (!read_u64(p, &u, "tensor count")) return false;
    memcpy(n_tensors, &u, 8);
    if (!read_u64(p, &u, "key-value count")) return false;
    memcpy(n_kv, &u, 8);
    if (*n_tensors < 0) return !fail(p, "negative tensor count %lld (header)", (long long)*n_tensors);
    if (*n_kv < 0) return !fail(p, "negative key-value count %lld (header)", (long long)*n_kv);
    uint64_t left = remaining(p);
    if ((uint64_t)*n_kv > left / MIN_KV_BYTES)
        return !fail(p, "key-value count %lld is more than the %llu bytes after the header "
                     "can hold (header)", (long long)*n_kv, (unsigned long long)left);
    /* Each count alone, so that a file cut inside its tables is reported
     * where it was cut rather than as a bad count. */
    if ((uint64_t)*n_tensors > left / MIN_TENSOR_BYTES)
        return !fail(p, "tensor count %lld is more than the %llu bytes after the header "
                     "can hold (header)", (long long)*n_tensors, (unsigned long long)left);
    return true;
}

/* Grow an array of `size`-byte entries to hold `need` entries, doubling, so
 * memory follows the entries parsed rather than the count the file claims. */
static void *grow(void *a, int64_t *cap, int64_t need, size_t size)
{
    if (need <= *cap) return a;
    int64_t c = *cap ? *cap : 16;
    while (c < need) c *= 2;
    a = llp_realloc(a, (size_t)c * size);
    memset((char *)a + (size_t)*cap * size, 0, (size_t)(c - *cap) * size);
    *cap = c;
    return a;
}

static bool parse(parser *p)
{
    gguf_file *f = p->f;
    int64_t n_tensors = 0, n_kv = 0, cap = 0;
    if (!read_header(p, &n_tensors, &n_kv)) return false;

    p->section = "key-value table";
    for (int64_t i = 0; i < n_kv; i++) {
        f->kv = grow(f->kv, &cap, i + 1, sizeof *f->kv);
        if (!read_kv(p, i, n_kv)) return false;
    }
    p->where[0] = 0;
    if (!read_alignment(p)) return false;

    p->section = "tensor table";
    cap = 0;
    for (int64_t i = 0; i < n_tensors; i++) {
        f->tensors = grow(f->tensors, &cap, i + 1, sizeof *f->tensors);
        if (!read_tensor_info(p, i, n_tensors)) return false;
    }
    /* pos <= size < 2^63 and alignment <= 2^31, so this cannot overflow. */
    f->data_offset = (p->pos + f->alignment - 1) / f->alignment * f->alignment;
    for (int64_t i = 0; i < n_tensors; i++)
        if (!check_tensor_data(p, &f->tensors[i])) return false;
    return true;
}

gguf_file *gguf_open(const char *path, llp_err *err)
{
    gguf_file *f = llp_calloc(1, sizeof *f);
    f->path = llp_strdup(path);
    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    parser p = { .f = f, .err = err, .section = "header" };

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        llp_err_set(err, "%s: cannot open: %s", path, strerror(errno));
        goto bad;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        llp_err_set(err, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        goto bad;
    }
    if (!S_ISREG(st.st_mode)) {
        llp_err_set(err, "%s: not a regular file%s", path, S_ISDIR(st.st_mode) ? " (a directory)" : "");
        close(fd);
        goto bad;
    }
    if (st.st_size == 0) {
        llp_err_set(err, "%s: empty file (0 bytes; expected a GGUF header)", path);
        close(fd);
        goto bad;
    }
    f->size = (uint64_t)st.st_size;
    void *m = mmap(NULL, (size_t)f->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        llp_err_set(err, "%s: cannot map %llu bytes: %s", path, (unsigned long long)f->size,
                    strerror(errno));
        goto bad;
    }
    f->map = m;
    if (parse(&p)) return f;
bad:
    gguf_close(f);
    return NULL;
}

void gguf_close(gguf_file *f)
{
    if (!f) return;
    for (int64_t i = 0; i < f->n_kv; i++) {
        free(f->kv[i].key);
        free(f->kv[i].str);
        free(f->kv[i].strs);
    }
    free(f->kv);
    for (int64_t i = 0; i < f->n_tensors; i++) free((char *)f->tensors[i].name);
    free(f->tensors);
    free(f->key_index.slots);
    free(f->tensor_index.slots);
    if (f->map) munmap((void *)f->map, (size_t)f->size);
    free(f->path);
    free(f);
}

/* ---- accessors -------------------------------------------------------- */

const char *gguf_path(const gguf_file *f) { return f->path; }
uint32_t gguf_version(const gguf_file *f) { return f->version; }
uint64_t gguf_file_size(const gguf_file *f) { return f->size; }
uint32_t gguf_alignment(const gguf_file *f) { return f->alignment; }
uint64_t gguf_data_offset(const gguf_file *f) { return f->data_offset; }
const uint8_t *gguf_bytes(const gguf_file *f) { return f->map; }

int64_t gguf_n_kv(const gguf_file *f) { return f->n_kv; }

const char *gguf_kv_key(const gguf_file *f, int64_t i)
{
    return i >= 0 && i < f->n_kv ? f->kv[i].key : NULL;
}

uint32_t gguf_kv_type(const gguf_file *f, int64_t i)
{
    return i >= 0 && i < f->n_kv ? f->kv[i].type : UINT32_MAX;
}

int64_t gguf_find_key(const gguf_file *f, const char *key)
{
    return index_find(f, &f->key_index, kv_name_at, key);
}

static const gguf_kv *find_kv(const gguf_file *f, const char *key)
{
    int64_t i = gguf_find_key(f, key);
    return i < 0 ? NULL : &f->kv[i];
}

/* An integer (or bool) value at p as a magnitude and sign: the value is
 * (int64_t)*bits when *neg, else *bits. False for non-integer types. */
static bool load_integer(const uint8_t *p, uint32_t type, uint64_t *bits, bool *neg)
{
    int64_t s;
    *neg = false;
    switch (type) {
    case GGUF_U8: case GGUF_BOOL: *bits = p[0]; return true;
    case GGUF_U16: { uint16_t v; memcpy(&v, p, 2); *bits = v; return true; }
    case GGUF_U32: { uint32_t v; memcpy(&v, p, 4); *bits = v; return true; }
    case GGUF_U64: memcpy(bits, p, 8); return true;
    case GGUF_I8:  { int8_t v; memcpy(&v, p, 1); s = v; break; }
    case GGUF_I16: { int16_t v; memcpy(&v, p, 2); s = v; break; }
    case GGUF_I32: { int32_t v; memcpy(&v, p, 4); s = v; break; }
    case GGUF_I64: memcpy(&s, p, 8); break;
    default: return false;
    }
    *neg = s < 0;
    *bits = (uint64_t)s;
    return true;
}

static bool load_float(const uint8_t *p, uint32_t type, double *out)
{
    uint64_t bits;
    bool neg;
    if (type == GGUF_F32) { float v; memcpy(&v, p, 4); *out = v; return true; }
    if (type == GGUF_F64) { memcpy(out, p, 8); return true; }
    if (type == GGUF_BOOL || !load_integer(p, type, &bits, &neg)) return false;
    *out = neg ? (double)(int64_t)bits : (double)bits;
    return true;
}

int gguf_get_int(const gguf_file *f, const char *key, int64_t *out)
{
    const gguf_kv *kv = find_kv(f, key);
    uint64_t bits;
    bool neg;
    if (!kv) return -1;
    if (!load_integer(f->map + kv->value_pos, kv->type, &bits, &neg)) return -2;
    if (!neg && bits > (uint64_t)INT64_MAX) return -2;
    *out = (int64_t)bits;
    return 0;
}

int gguf_get_uint(const gguf_file *f, const char *key, uint64_t *out)
{
    const gguf_kv *kv = find_kv(f, key);
    uint64_t bits;
    bool neg;
    if (!kv) return -1;
    if (!load_integer(f->map + kv->value_pos, kv->type, &bits, &neg) || neg) return -2;
    *out = bits;
    return 0;
}

int gguf_get_float(const gguf_file *f, const char *key, double *out)
{
    const gguf_kv *kv = find_kv(f, key);
    if (!kv) return -1;
    return load_float(f->map + kv->value_pos, kv->type, out) ? 0 : -2;
}

int gguf_get_bool(const gguf_file *f, const char *key, bool *out)
{
    const gguf_kv *kv = find_kv(f, key);
    if (!kv) return -1;
    if (kv->type != GGUF_BOOL) return -2;
    *out = f->map[kv->value_pos] != 0;
    return 0;
}

int gguf_get_str(const gguf_file *f, const char *key, const char **s, size_t *len)
{
    const gguf_kv *kv = find_kv(f, key);
    if (!kv) return -1;
    if (kv->type != GGUF_STRING) return -2;
    *s = kv->str;
    if (len) *len = kv->str_len;
    return 0;
}

int gguf_get_arr(const gguf_file *f, const char *key, uint32_t *elem_type, uint64_t *n)
{
    const gguf_kv *kv = find_kv(f, key);
    if (!kv) return -1;
    if (kv->type != GGUF_ARRAY) return -2;
    if (elem_type) *elem_type = kv->elem_type;
    if (n) *n = kv->n;
    return 0;
}

/* The array under key if it is numeric and has element i, else NULL. */
static const gguf_kv *numeric_elem(const gguf_file *f, const char *key, uint64_t i)
{
    const gguf_kv *kv = find_kv(f, key);
    if (!kv || kv->type != GGUF_ARRAY || kv->elem_type == GGUF_STRING || i >= kv->n) return NULL;
    return kv;
}

const void *gguf_arr_data(const gguf_file *f, const char *key)
{
    const gguf_kv *kv = find_kv(f, key);
    if (!kv || kv->type != GGUF_ARRAY || kv->elem_type == GGUF_STRING) return NULL;
    return f->map + kv->value_pos;
}

double gguf_arr_float(const gguf_file *f, const char *key, uint64_t i)
{
    const gguf_kv *kv = numeric_elem(f, key, i);
    double v;
    if (!kv) return 0;
    const uint8_t *p = f->map + kv->value_pos + i * value_types[kv->elem_type].size;
    return load_float(p, kv->elem_type, &v) ? v : (double)(p[0] != 0);   /* bool */
}

int64_t gguf_arr_int(const gguf_file *f, const char *key, uint64_t i)
{
    const gguf_kv *kv = numeric_elem(f, key, i);
    uint64_t bits;
    bool neg;
    double v;
    if (!kv) return 0;
    const uint8_t *p = f->map + kv->value_pos + i * value_types[kv->elem_type].size;
    if (load_integer(p, kv->elem_type, &bits, &neg))
        return neg || bits <= (uint64_t)INT64_MAX ? (int64_t)bits : 0;
    load_float(p, kv->elem_type, &v);
    return isfinite(v) && v > -9.2e18 && v < 9.2e18 ? (int64_t)v : 0;
}

const char *gguf_arr_str(const gguf_file *f, const char *key, uint64_t i, size_t *len)
{
    const gguf_kv *kv = find_kv(f, key);
    if (!kv || kv->type != GGUF_ARRAY || kv->elem_type != GGUF_STRING || i >= kv->n) return NULL;
    if (len) *len = kv->strs[i].len;
    return kv->strs[i].s;
}

int64_t gguf_n_tensors(const gguf_file *f) { return f->n_tensors; }

const gguf_tensor *gguf_tensor_at(const gguf_file *f, int64_t i)
{
    return i >= 0 && i < f->n_tensors ? &f->tensors[i] : NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name)
{
    int64_t i = index_find(f, &f->tensor_index, tensor_name_at, name);
    return i < 0 ? NULL : &f->tensors[i];
}
