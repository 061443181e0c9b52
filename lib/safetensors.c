/*
 * safetensors.c — the safetensors reader and the shard set of a model
 * directory (contract in safetensors.h).
 *
 * Not for: Hugging Face names or shapes (convert.c), config files
 * (hf_config.c, hf_vocab.c).
 */
#include "safetensors.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quant.h"

struct st_file {
    char *path;
    uint8_t *map;              /* the whole file */
    size_t size;
    uint64_t data_start;       /* 8 + header length */
    st_tensor *tensors;        /* sorted by begin */
    size_t n_tensors;
};

/* A name as it may appear in a message: at most 64 bytes, unprintable
 * bytes as '?'. */
static const char *shown(const char *name, char buf[72])
{
    size_t i = 0;
    for (; name[i] && i < 64; i++) {
        unsigned char c = (unsigned char)name[i];
        buf[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (name[i]) { memcpy(buf + i, "...", 4); return buf; }
    buf[i] = 0;
    return buf;
}

/* dtype names of the format, with their element sizes; only the three
 * float types are read. */
static int dtype_lookup(const char *s, uint32_t *type, size_t *size)
{
    static const struct { const char *name; int size; int type; } dtypes[] = {
        { "F32", 4, LLP_F32 }, { "F16", 2, LLP_F16 }, { "BF16", 2, LLP_BF16 },
        { "F64", 8, -1 }, { "I64", 8, -1 }, { "U64", 8, -1 }, { "I32", 4, -1 },
        { "U32", 4, -1 }, { "I16", 2, -1 }, { "U16", 2, -1 }, { "I8", 1, -1 },
        { "U8", 1, -1 }, { "BOOL", 1, -1 }, { "F8_E4M3", 1, -1 }, { "F8_E5M2", 1, -1 },
    };
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(s, dtypes[i].name) == 0) {
            *size = (size_t)dtypes[i].size;
            if (dtypes[i].type < 0) return 1;        /* known, not read */
            *type = (uint32_t)dtypes[i].type;
            return 0;
        }
    return -1;
}

static int by_begin(const void *a, const void *b)
{
    const st_tensor *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* One entry of the header. */
static int parse_entry(st_file *f, const char *name, json_t *v, st_tensor *t, llp_err *err)
{
    char nb[72];
    const char *p = f->path;
    if (!json_is_object(v))
        return llp_err_set(err, "%s: header entry for tensor '%s' is not an object", p, shown(name, nb));
    json_t *dt = json_object_get(v, "dtype"), *shape = json_object_get(v, "shape"),
           *offs = json_object_get(v, "data_offsets");
    if (!json_is_string(dt))
        return llp_err_set(err, "%s: tensor '%s' has no dtype string", p, shown(name, nb));
    size_t esize = 0;
    int known = dtype_lookup(json_string_value(dt), &t->type, &esize);
    if (known < 0)
        return llp_err_set(err, "%s: tensor '%s' has unknown dtype '%.16s'", p, shown(name, nb),
                           json_string_value(dt));
    if (known > 0)
        return llp_err_set(err, "%s: tensor '%s' has dtype %s; llp-convert reads F32, F16 and "
                           "BF16 tensors only", p, shown(name, nb), json_string_value(dt));
    if (!json_is_array(shape) || json_array_size(shape) > ST_MAX_DIMS)
        return llp_err_set(err, "%s: tensor '%s' has no shape array of at most %d extents", p,
                           shown(name, nb), ST_MAX_DIMS);
    t->n_dims = (int)json_array_size(shape);
    uint64_t n = 1;
    for (int d = 0; d < t->n_dims; d++) {
        json_t *e = json_array_get(shape, (size_t)d);
        if (!json_is_integer(e) || json_integer_value(e) < 0)
            return llp_err_set(err, "%s: tensor '%s' has a shape extent that is not a "
                               "non-negative integer (shape[%d])", p, shown(name, nb), d);
        t->shape[d] = json_integer_value(e);
        if (__builtin_mul_overflow(n, (uint64_t)t->shape[d], &n))
            return llp_err_set(err, "%s: tensor '%s' has a shape too large", p, shown(name, nb));
    }
    t->n_elements = n;
    if (!json_is_array(offs) || json_array_size(offs) != 2 ||
        !json_is_integer(json_array_get(offs, 0)) || !json_is_integer(json_array_get(offs, 1)) ||
        json_integer_value(json_array_get(offs, 0)) < 0 ||
        json_integer_value(json_array_get(offs, 1)) < json_integer_value(json_array_get(offs, 0)))
        return llp_err_set(err, "%s: tensor '%s' has data_offsets that are not two integers "
                           "0 <= begin <= end", p, shown(name, nb));
    t->begin = (uint64_t)json_integer_value(json_array_get(offs, 0));
    t->end = (uint64_t)json_integer_value(json_array_get(offs, 1));
    uint64_t want;
    if (__builtin_mul_overflow(n, (uint64_t)esize, &want) || t->end - t->begin != want)
        return llp_err_set(err, "%s: tensor '%s' has data_offsets [%llu, %llu] (%llu bytes), but "
                           "its shape and dtype need %llu bytes", p, shown(name, nb),
                           (unsigned long long)t->begin, (unsigned long long)t->end,
                           (unsigned long long)(t->end - t->begin), (unsigned long long)(n * esize));
    t->name = llp_strdup(name);
    return 0;
}

static int parse_header(st_file *f, llp_err *err)
{
    const char *p = f->path;
    uint64_t hlen;
    char nb[72];
    if (f->size < 8) return llp_err_set(err, "%s: too short for a safetensors file (%zu bytes)", p, f->size);
    memcpy(&hlen, f->map, 8);                      /* little-endian host */
    if (hlen > f->size - 8)
        return llp_err_set(err, "%s: header length %llu is past the end of the file (%zu bytes)",
                           p, (unsigned long long)hlen, f->size);
    if (hlen > ST_MAX_HEADER)
        return llp_err_set(err, "%s: header length %llu is larger than %u bytes", p,
                           (unsigned long long)hlen, ST_MAX_HEADER);
    f->data_start = 8 + hlen;
    json_error_t jerr;
    json_t *root = json_loadb((const char *)f->map + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return llp_err_set(err, "%s: header is not valid JSON: %s (byte %d)", p, jerr.text, jerr.position);
    if (!json_is_object(root)) {
        json_decref(root);
        return llp_err_set(err, "%s: header is not a JSON object", p);
    }
    size_t cap = json_object_size(root);
    f->tensors = llp_calloc(cap ? cap : 1, sizeof *f->tensors);
    const char *name;
    json_t *v;
    json_object_foreach(root, name, v) {
        if (strcmp(name, "__metadata__") == 0) {
            const char *k;
            json_t *mv;
            if (!json_is_object(v)) goto bad_meta;
            json_object_foreach(v, k, mv) if (!json_is_string(mv)) goto bad_meta;
            continue;
        }
        if (parse_entry(f, name, v, &f->tensors[f->n_tensors], err)) {
            json_decref(root);
            return -1;
        }
        f->n_tensors++;
    }
    json_decref(root);

    if (f->n_tensors > 1) qsort(f->tensors, f->n_tensors, sizeof *f->tensors, by_begin);
    uint64_t data_size = f->size - f->data_start, at = 0;
    for (size_t i = 0; i < f->n_tensors; i++) {
        st_tensor *t = &f->tensors[i];
        if (t->begin < at)
            return llp_err_set(err, "%s: tensor '%s' (data_offsets [%llu, %llu]) overlaps the "
                               "tensor before it", p, shown(t->name, nb),
                               (unsigned long long)t->begin, (unsigned long long)t->end);
        if (t->begin > at)
            return llp_err_set(err, "%s: tensor '%s' starts at %llu, leaving a hole after byte "
                               "%llu of the data", p, shown(t->name, nb),
                               (unsigned long long)t->begin, (unsigned long long)at);
        if (t->end > data_size)
            return llp_err_set(err, "%s: tensor '%s' (data_offsets [%llu, %llu]) ends past the end "
                               "of the file (data is %llu bytes): truncated?", p, shown(t->name, nb),
                               (unsigned long long)t->begin, (unsigned long long)t->end,
                               (unsigned long long)data_size);
        t->data = f->map + f->data_start + t->begin;
        at = t->end;
    }
    if (at != data_size)
        return llp_err_set(err, "%s: %llu bytes after the last tensor are not part of any tensor",
                           p, (unsigned long long)(data_size - at));
    return 0;

bad_meta:
    json_decref(root);
    return llp_err_set(err, "%s: __metadata__ is not an object of strings", p);
}

st_file *st_open(const char *path, llp_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        llp_err_set(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        llp_err_set(err, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    st_file *f = llp_calloc(1, sizeof *f);
    f->path = llp_strdup(path);
    f->size = (size_t)sb.st_size;
    if (f->size > 0) {
        void *m = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            llp_err_set(err, "%s: cannot map: %s", path, strerror(errno));
            close(fd);
            st_close(f);
            return NULL;
        }
        f->map = m;
    }
    close(fd);
    if (parse_header(f, err)) {
        st_close(f);
        return NULL;
    }
    return f;
}

void st_close(st_file *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->n_tensors; i++) free((char *)f->tensors[i].name);
    free(f->tensors);
    if (f->map) munmap(f->map, f->size);
    free(f->path);
    free(f);
}

const char *st_path(const st_file *f) { return f->path; }
size_t st_n_tensors(const st_file *f) { return f->n_tensors; }
const st_tensor *st_tensor_at(const st_file *f, size_t i) { return i < f->n_tensors ? &f->tensors[i] : NULL; }

const st_tensor *st_find(const st_file *f, const char *name)
{
    for (size_t i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

void st_release(const st_file *f, const st_tensor *t)
{
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)t->data, b = a + (t->end - t->begin);
    a = (a + (uintptr_t)page - 1) / (uintptr_t)page * (uintptr_t)page;   /* whole pages inside */
    b = b / (uintptr_t)page * (uintptr_t)page;
    if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
}

/* ---- shard sets ------------------------------------------------------- */

struct st_set {
    st_file **files;
    size_t n_files;
};

void st_set_close(st_set *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n_files; i++) st_close(s->files[i]);
    free(s->files);
    free(s);
}

size_t st_set_n_files(const st_set *s) { return s->n_files; }
const st_file *st_set_file(const st_set *s, size_t i) { return i < s->n_files ? s->files[i] : NULL; }

const st_tensor *st_set_find(const st_set *s, const char *name, const st_file **file)
{
    for (size_t i = 0; i < s->n_files; i++) {
        const st_tensor *t = st_find(s->files[i], name);
        if (t) {
            if (file) *file = s->files[i];
            return t;
        }
    }
    return NULL;
}

static int add_file(st_set *s, const char *path, llp_err *err)
{
    st_file *f = st_open(path, err);
    if (!f) return -1;
    s->files = llp_realloc(s->files, (s->n_files + 1) * sizeof *s->files);
    s->files[s->n_files++] = f;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.safetensors in dir, in name order; no name in two files. */
static int open_all(st_set *s, const char *dir, llp_err *err)
{
    DIR *d = opendir(dir);
    if (!d) return llp_err_set(err, "%s: cannot read the directory: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len > 12 && strcmp(e->d_name + len - 12, ".safetensors") == 0) {
            names = llp_realloc(names, (n + 1) * sizeof *names);
            names[n++] = llp_strdup(e->d_name);
        }
    }
    closedir(d);
    if (n > 1) qsort(names, n, sizeof *names, cmp_str);
    int rc = 0;
    if (n == 0) rc = llp_err_set(err, "%s: no *.safetensors files (and no model.safetensors.index.json)", dir);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *path = llp_path_join(dir, names[i]);
        rc = add_file(s, path, err);
        free(path);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    if (rc) return rc;
    char nb[72];
    for (size_t i = 0; i < s->n_files; i++)
        for (size_t j = 0; j < s->files[i]->n_tensors; j++)
            for (size_t k = i + 1; k < s->n_files; k++)
                if (st_find(s->files[k], s->files[i]->tensors[j].name))
                    return llp_err_set(err, "%s: tensor '%s' is also in %s", st_path(s->files[k]),
                                       shown(s->files[i]->tensors[j].name, nb), st_path(s->files[i]));
    return 0;
}

static int open_index(st_set *s, const char *dir, const char *index, llp_err *err)
{
    json_error_t jerr;
    char nb[72];
    json_t *root = json_load_file(index, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return llp_err_set(err, "%s: not valid JSON: %s (line %d)", index, jerr.text, jerr.line);
    json_t *map = json_object_get(root, "weight_map");
    int rc = 0;
    if (!json_is_object(map) || json_object_size(map) == 0) {
        rc = llp_err_set(err, "%s: no weight_map object (weight_map)", index);
        goto done;
    }
    const char *name;
    json_t *v;
    /* open each shard once, in the order the map first names them */
    json_object_foreach(map, name, v) {
        if (!json_is_string(v)) {
            rc = llp_err_set(err, "%s: weight_map entry for '%s' is not a file name (weight_map)",
                             index, shown(name, nb));
            goto done;
        }
        const char *shard = json_string_value(v);
        if (!*shard || strchr(shard, '/') || strcmp(shard, ".") == 0 || strcmp(shard, "..") == 0) {
            rc = llp_err_set(err, "%s: shard name '%s' for tensor '%s' is not a plain file name "
                             "(weight_map)", index, shown(shard, nb), name);
            goto done;
        }
        char *path = llp_path_join(dir, shard);
        bool seen = false;
        for (size_t i = 0; i < s->n_files && !seen; i++) seen = strcmp(st_path(s->files[i]), path) == 0;
        if (!seen) rc = add_file(s, path, err);
        free(path);
        if (rc) goto done;
    }
    json_object_foreach(map, name, v) {
        char *path = llp_path_join(dir, json_string_value(v));
        const st_file *f = NULL;
        for (size_t i = 0; i < s->n_files; i++)
            if (strcmp(st_path(s->files[i]), path) == 0) f = s->files[i];
        free(path);
        if (!st_find(f, name)) {
            rc = llp_err_set(err, "%s: weight_map puts tensor '%s' in %s, which has no such tensor",
                             index, shown(name, nb), st_path(f));
            goto done;
        }
    }
    for (size_t i = 0; i < s->n_files; i++)
        for (size_t j = 0; j < s->files[i]->n_tensors; j++) {
            const char *tn = s->files[i]->tensors[j].name;
            json_t *where = json_object_get(map, tn);
            char *path = where ? llp_path_join(dir, json_string_value(where)) : NULL;
            bool listed = path && strcmp(path, st_path(s->files[i])) == 0;
            free(path);
            if (!listed) {
                rc = llp_err_set(err, "%s: tensor '%s' of %s is not in the weight_map of %s",
                                 st_path(s->files[i]), shown(tn, nb), st_path(s->files[i]), index);
                goto done;
            }
        }
done:
    json_decref(root);
    return rc;
}

st_set *st_set_open(const char *dir, llp_err *err)
{
    st_set *s = llp_calloc(1, sizeof *s);
    char *index = llp_path_join(dir, "model.safetensors.index.json");
    struct stat sb;
    int rc = stat(index, &sb) == 0 ? open_index(s, dir, index, err) : open_all(s, dir, err);
    free(index);
    if (rc) {
        st_set_close(s);
        return NULL;
    }
    return s;
}
