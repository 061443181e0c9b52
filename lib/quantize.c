/*
 * quantize.c — llp-quantize's library: file types, the per-tensor type
 * rules (documented in quantize.h) and the file conversion, rows spread
 * over a thread pool.
 *
 * Not for: block formats (quant.c, quant_k.c) or the GGUF layout
 * (gguf.c, gguf_writer.c).
 *
 * The whole output is held in memory until gguf_writer_write lays it out:
 * tensors copied unchanged are referenced in the input mapping, converted
 * ones live in one buffer each. For a 7B model that is about the size of
 * the output file.
 */
#include "quantize.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gguf.h"
#include "lora.h"
#include "threads.h"

/* ---- file types ------------------------------------------------------- */

typedef struct ftype_info {
    uint32_t ftype;
    const char *name;
    uint32_t base;          /* LLP_TYPE_COUNT: we cannot produce it */
} ftype_info;

#define NO_BASE LLP_TYPE_COUNT

static const ftype_info ftypes[] = {
    { 0, "F32", LLP_F32 },        { 1, "F16", LLP_F16 },
    { 2, "Q4_0", LLP_Q4_0 },      { 3, "Q4_1", LLP_Q4_1 },
    { 4, "Q4_1_SOME_F16", NO_BASE },
    { 7, "Q8_0", LLP_Q8_0 },      { 8, "Q5_0", LLP_Q5_0 },
    { 9, "Q5_1", LLP_Q5_1 },      { 10, "Q2_K", LLP_Q2_K },
    { 11, "Q3_K_S", LLP_Q3_K },   { 12, "Q3_K_M", LLP_Q3_K },
    { 13, "Q3_K_L", LLP_Q3_K },   { 14, "Q4_K_S", LLP_Q4_K },
    { 15, "Q4_K_M", LLP_Q4_K },   { 16, "Q5_K_S", LLP_Q5_K },
    { 17, "Q5_K_M", LLP_Q5_K },   { 18, "Q6_K", LLP_Q6_K },
    { 19, "IQ2_XXS", NO_BASE },   { 20, "IQ2_XS", NO_BASE },
    { 21, "Q2_K_S", NO_BASE },    { 22, "IQ3_XS", NO_BASE },
    { 23, "IQ3_XXS", NO_BASE },   { 24, "IQ1_S", NO_BASE },
    { 25, "IQ4_NL", NO_BASE },    { 26, "IQ3_S", NO_BASE },
    { 27, "IQ3_M", NO_BASE },     { 28, "IQ2_S", NO_BASE },
    { 29, "IQ2_M", NO_BASE },     { 30, "IQ4_XS", NO_BASE },
    { 31, "IQ1_M", NO_BASE },     { 32, "BF16", LLP_BF16 },
    { 36, "TQ1_0", NO_BASE },     { 37, "TQ2_0", NO_BASE },
    { 38, "MXFP4_MOE", NO_BASE },
};
#define N_FTYPES (sizeof ftypes / sizeof ftypes[0])

static const ftype_info *ftype_get(uint32_t ftype)
{
    for (size_t i = 0; i < N_FTYPES; i++)
        if (ftypes[i].ftype == ftype) return &ftypes[i];
    return NULL;
}

const char *llp_ftype_name(uint32_t ftype)
{
    const ftype_info *f = ftype_get(ftype);
    return f ? f->name : NULL;
}

int llp_ftype_from_name(const char *name)
{
    static const struct { const char *alias; uint32_t ftype; } aliases[] = {
        { "Q3_K", LLP_FTYPE_Q3_K_S }, { "Q4_K", LLP_FTYPE_Q4_K_S },
        { "Q5_K", LLP_FTYPE_Q5_K_S },
    };
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcasecmp(name, aliases[i].alias) == 0) return (int)aliases[i].ftype;
    for (size_t i = 0; i < N_FTYPES; i++)
        if (ftypes[i].base != NO_BASE && strcasecmp(name, ftypes[i].name) == 0)
            return (int)ftypes[i].ftype;
    return -1;
}

uint32_t llp_ftype_base_type(uint32_t ftype)
{
    const ftype_info *f = ftype_get(ftype);
    return f ? f->base : NO_BASE;
}

const char *llp_ftype_target_names(void)
{
    return "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K (= Q3_K_S), Q3_K_S, "
           "Q3_K_M, Q3_K_L, Q4_K (= Q4_K_S), Q4_K_S, Q4_K_M, Q5_K (= Q5_K_S), Q5_K_S, "
           "Q5_K_M, Q6_K";
}

/* ---- per-tensor rules ------------------------------------------------- */

enum category { CAT_OTHER, CAT_OUTPUT, CAT_TOKEN_EMBD, CAT_ATTN_V, CAT_ATTN_QKV,
                CAT_ATTN_OUTPUT, CAT_FFN_DOWN };

static enum category category_of(const char *name)
{
    if (strcmp(name, "output.weight") == 0) return CAT_OUTPUT;
    if (strcmp(name, "token_embd.weight") == 0) return CAT_TOKEN_EMBD;
    if (strstr(name, "attn_qkv.weight")) return CAT_ATTN_QKV;
    if (strstr(name, "attn_v.weight")) return CAT_ATTN_V;
    if (strstr(name, "attn_output.weight")) return CAT_ATTN_OUTPUT;
    if (strstr(name, "ffn_down")) return CAT_FFN_DOWN;
    return CAT_OTHER;
}

static bool is_quantizable(const char *name, uint32_t n_dims)
{
    size_t len = strlen(name);
    if (n_dims < 2) return false;
    if (len < 6 || strcmp(name + len - 6, "weight") != 0) return false;
    return strstr(name, "_norm.weight") == NULL;
}

/* Layer number of "blk.N.xxx", or -1. */
static int layer_of(const char *name)
{
    int layer = -1;
    if (sscanf(name, "blk.%d.", &layer) != 1) return -1;
    return layer;
}

bool llp_quant_use_more_bits(int layer, int n_layers)
{
    return layer < n_layers / 8 || layer >= 7 * n_layers / 8 ||
           (layer - n_layers / 8) % 3 == 2;
}

static int block_of(uint32_t type)
{
    const llp_type_info *ti = llp_type_get(type);
    return ti ? ti->block_size : 1;
}

/* The mix rules for a quantized target (llama_tensor_get_type_impl). */
static uint32_t mix_type(const llp_quant_rules *r, enum category cat, int layer,
                         const int64_t *ne, uint32_t type)
{
    const uint32_t ft = r->ftype;
    const int n = r->n_layers;
    const bool more = layer >= 0 && llp_quant_use_more_bits(layer, n);

    if (cat == CAT_OUTPUT || (r->tied && cat == CAT_TOKEN_EMBD)) {
        if (ne[0] % block_of(type) != 0) return LLP_Q8_0;
        return type == LLP_Q8_0 ? LLP_Q8_0 : LLP_Q6_K;
    }
    switch (cat) {
    case CAT_ATTN_V:
        if (ft == LLP_FTYPE_Q2_K) type = r->n_gqa >= 4 ? LLP_Q4_K : LLP_Q3_K;
        else if (ft == LLP_FTYPE_Q3_K_M) type = layer < 2 ? LLP_Q5_K : LLP_Q4_K;
        else if (ft == LLP_FTYPE_Q3_K_L) type = LLP_Q5_K;
        else if ((ft == LLP_FTYPE_Q4_K_M || ft == LLP_FTYPE_Q5_K_M) && more) type = LLP_Q6_K;
        else if (ft == LLP_FTYPE_Q4_K_S && layer < 4) type = LLP_Q5_K;
        if (r->is_70b && (type == LLP_Q3_K || type == LLP_Q4_K)) type = LLP_Q5_K;
        return type;
    case CAT_FFN_DOWN:
        if (ft == LLP_FTYPE_Q2_K) return LLP_Q3_K;
        if (ft == LLP_FTYPE_Q3_K_M) return layer < n / 16 ? LLP_Q5_K : LLP_Q4_K;
        if (ft == LLP_FTYPE_Q3_K_L) return LLP_Q5_K;
        if ((ft == LLP_FTYPE_Q4_K_M || ft == LLP_FTYPE_Q5_K_M) && more) return LLP_Q6_K;
        if (ft == LLP_FTYPE_Q4_K_S && layer < n / 8) return LLP_Q5_K;
        return type;
    case CAT_ATTN_OUTPUT:
        if (ft == LLP_FTYPE_Q2_K) return LLP_Q3_K;
        if (ft == LLP_FTYPE_Q3_K_M) return LLP_Q4_K;
        if (ft == LLP_FTYPE_Q3_K_L) return LLP_Q5_K;
        return type;
    case CAT_ATTN_QKV:
        if (ft == LLP_FTYPE_Q3_K_M || ft == LLP_FTYPE_Q3_K_L) return LLP_Q4_K;
        if (ft == LLP_FTYPE_Q4_K_M) return LLP_Q5_K;
        if (ft == LLP_FTYPE_Q5_K_M) return LLP_Q6_K;
        return type;
    default:
        return type;
    }
}

/* The type to use instead of `type` for rows of n values that do not fill
 * its blocks (tensor_type_fallback in llama.cpp, with Q4_0 for Q2_K/Q3_K). */
static uint32_t fallback_type(uint32_t type, int64_t n)
{
    uint32_t alt;
    switch (type) {
    case LLP_Q2_K: case LLP_Q3_K: alt = LLP_Q4_0; break;
    case LLP_Q4_K: alt = LLP_Q5_0; break;
    case LLP_Q5_K: alt = LLP_Q5_1; break;
    case LLP_Q6_K: alt = LLP_Q8_0; break;
    default: alt = LLP_F16; break;
    }
    return n % block_of(alt) == 0 ? alt : LLP_F16;
}

uint32_t llp_quant_tensor_type(const llp_quant_rules *r, const char *name, uint32_t n_dims,
                               const int64_t *ne, uint32_t src_type, bool *fallback)
{
    uint32_t base = llp_ftype_base_type(r->ftype), type = base;
    if (fallback) *fallback = false;
    if (base == NO_BASE || !is_quantizable(name, n_dims)) return src_type;
    if (base == LLP_F32 || base == LLP_F16 || base == LLP_BF16) return base;
    if (!r->pure) type = mix_type(r, category_of(name), layer_of(name), ne, base);
    if (ne[0] % block_of(type) != 0) {
        type = fallback_type(type, ne[0]);
        if (fallback) *fallback = true;
    }
    return type;
}

/* ---- copying metadata ------------------------------------------------- */

/* A growable byte buffer for a raw-encoded key value. */
typedef struct bytes {
    uint8_t *p;
    size_t len, cap;
} bytes;

static void bytes_put(bytes *b, const void *src, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = llp_realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void bytes_put_str(bytes *b, const char *s, size_t len)
{
    uint64_t n = len;
    bytes_put(b, &n, 8);
    bytes_put(b, s, len);
}

/* Copy key i of f to w with its exact type and value. */
static void copy_kv(const gguf_file *f, int64_t i, gguf_writer *w)
{
    const char *key = gguf_kv_key(f, i), *s;
    uint32_t type = gguf_kv_type(f, i), elem_type;
    size_t len;
    uint64_t n;
    bytes b = { 0 };

    if (type == GGUF_STRING) {
        gguf_get_str(f, key, &s, &len);
        bytes_put_str(&b, s, len);
    } else if (type == GGUF_ARRAY) {
        gguf_get_arr(f, key, &elem_type, &n);
        bytes_put(&b, &elem_type, 4);
        bytes_put(&b, &n, 8);
        if (elem_type == GGUF_STRING) {
            for (uint64_t j = 0; j < n; j++) {
                s = gguf_arr_str(f, key, j, &len);
                bytes_put_str(&b, s, len);
            }
        } else if (n > 0) {
            bytes_put(&b, gguf_arr_data(f, key), (size_t)n * gguf_value_size(elem_type));
        }
    } else {
        /* Fixed-size scalars: the typed getters are exact for a value's own
         * type; an integer's low bytes are its little-endian encoding. */
        uint8_t raw[8] = { 0 };
        size_t size = gguf_value_size(type);
        int64_t v;
        uint64_t u;
        double d;
        bool flag;
        if (type == GGUF_F32) {
            gguf_get_float(f, key, &d);
            float x = (float)d;
            memcpy(raw, &x, 4);
        } else if (type == GGUF_F64) {
            gguf_get_float(f, key, &d);
            memcpy(raw, &d, 8);
        } else if (type == GGUF_BOOL) {
            gguf_get_bool(f, key, &flag);
            raw[0] = flag;
        } else if (gguf_get_int(f, key, &v) == 0) {
            memcpy(raw, &v, size);
        } else {
            gguf_get_uint(f, key, &u);
            memcpy(raw, &u, size);
        }
        bytes_put(&b, raw, size);
    }
    gguf_set_raw(w, key, type, b.p, b.len);
    free(b.p);
}

/* All keys of f, in order, then general.quantization_version (2) and
 * general.file_type: like llama.cpp's gguf, which moves a key it sets again
 * to the end, so these two always come last, in this order. */
static void copy_metadata(const gguf_file *f, gguf_writer *w, uint32_t ftype)
{
    for (int64_t i = 0; i < gguf_n_kv(f); i++) {
        const char *key = gguf_kv_key(f, i);
        if (strncmp(key, "split.", 6) == 0 || strcmp(key, "general.quantization_version") == 0 ||
            strcmp(key, "general.file_type") == 0)
            continue;
        copy_kv(f, i, w);
    }
    gguf_set_u32(w, "general.quantization_version", 2);
    gguf_set_u32(w, "general.file_type", ftype);
}

/* ---- the model facts the rules need ----------------------------------- */

static int get_arch_int(const gguf_file *f, const char *arch, const char *suffix, int64_t dflt)
{
    char key[160];
    int64_t v;
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    if (gguf_get_int(f, key, &v) != 0 || v < 0 || v > 1 << 20) v = dflt;
    return (int)v;
}

static void read_rules(const gguf_file *f, const llp_quantize_opts *o, llp_quant_rules *r)
{
    const char *arch = "llama";
    gguf_get_str(f, "general.architecture", &arch, NULL);
    memset(r, 0, sizeof *r);
    r->ftype = o->ftype;
    r->pure = o->pure;
    r->n_layers = get_arch_int(f, arch, "block_count", 0);
    int n_head = get_arch_int(f, arch, "attention.head_count", 1);
    int n_head_kv = get_arch_int(f, arch, "attention.head_count_kv", n_head);
    r->n_gqa = n_head_kv > 0 && n_head >= n_head_kv ? n_head / n_head_kv : 1;
    r->is_70b = strcmp(arch, "llama") == 0 && r->n_layers == 80 && n_head != n_head_kv;
    r->tied = gguf_find_tensor(f, "output.weight") == NULL;
}

/* llama.cpp's tensor order: by layer (tensors outside blk.N first), then
 * by name. */
static int compare_tensors(const void *a, const void *b)
{
    const gguf_tensor *x = *(const gguf_tensor *const *)a, *y = *(const gguf_tensor *const *)b;
    int lx = layer_of(x->name), ly = layer_of(y->name);
    if (lx != ly) return lx < ly ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* ---- converting rows -------------------------------------------------- */

typedef struct convert_job {
    uint32_t src_type, dst_type;
    const uint8_t *src;
    const int64_t *row_map;
    int64_t n, n_rows, rows_per_task;
    size_t src_row_bytes, dst_row_bytes;
    uint8_t *dst;
    atomic_llong bad_row;       /* first row holding inf/NaN, or -1 */
    const llp_lora_tensor *delta[8];    /* adapters merged into this tensor */
    float delta_scale[8];
    int n_delta;
} convert_job;

static void convert_rows(void *ctx, int task, int n_tasks)
{
    convert_job *job = ctx;
    const int64_t n = job->n;
    int64_t first = (int64_t)task * job->rows_per_task;
    int64_t last = first + job->rows_per_task;
    if (last > job->n_rows) last = job->n_rows;
    float *row = llp_malloc(sizeof(float) * (size_t)n);
    for (int64_t r = first; r < last; r++) {
        int64_t from = job->row_map ? job->row_map[r] : r;
        llp_dequantize_row(job->src_type, job->src + job->src_row_bytes * (size_t)from, row, n);
        for (int d = 0; d < job->n_delta; d++) {      /* row r += scale * B[r] A */
            const llp_lora_tensor *lt = job->delta[d];
            for (int k = 0; k < lt->rank; k++) {
                float c = job->delta_scale[d] * lt->b[r * lt->rank + k];
                const float *a = lt->a + (int64_t)k * n;
                for (int64_t i = 0; i < n; i++) row[i] += c * a[i];
            }
        }
        for (int64_t i = 0; i < n; i++) {
            if (!isfinite(row[i])) {
                long long expected = -1;
                while (expected < 0 || expected > r) {
                    if (atomic_compare_exchange_weak(&job->bad_row, &expected, r)) break;
                }
                break;
            }
        }
        llp_quantize_row(job->dst_type, row, job->dst + job->dst_row_bytes * (size_t)r, n);
    }
    free(row);
}

/* Hand the rows of job out to the pool. Returns the first bad row or -1. */
static long long run_convert(llp_pool *pool, convert_job *job)
{
    job->src_row_bytes = llp_row_size(job->src_type, job->n);
    job->dst_row_bytes = llp_row_size(job->dst_type, job->n);
    atomic_init(&job->bad_row, -1);

    /* About 64K values per task: enough to amortize the hand-out, small
     * enough to balance the pool on the last tensor rows. */
    int64_t rows = 65536 / job->n;
    if (rows < 1) rows = 1;
    int64_t n_tasks = (job->n_rows + rows - 1) / rows;
    if (n_tasks > LLP_POOL_MAX_TASKS) {
        rows = (job->n_rows + LLP_POOL_MAX_TASKS - 1) / LLP_POOL_MAX_TASKS;
        n_tasks = (job->n_rows + rows - 1) / rows;
    }
    job->rows_per_task = rows;
    llp_pool_run(pool, convert_rows, job, (int)n_tasks);
    return atomic_load(&job->bad_row);
}

int llp_convert_rows(llp_pool *pool, uint32_t src_type, const void *src, uint32_t dst_type,
                     void *dst, int64_t n, int64_t n_rows, const int64_t *row_map,
                     int64_t *bad_row)
{
    convert_job job = { .src_type = src_type, .dst_type = dst_type, .src = src,
                        .row_map = row_map, .n = n, .n_rows = n_rows, .dst = dst };
    long long bad = run_convert(pool, &job);
    if (bad_row) *bad_row = bad;
    return bad >= 0 ? -1 : 0;
}

/* Convert tensor t into a new buffer of dst_type. Returns NULL with err set
 * when the tensor holds a non-finite value. */
static uint8_t *convert_tensor(llp_pool *pool, const gguf_file *f, const gguf_tensor *t,
                               uint32_t dst_type, const llp_quantize_opts *o,
                               uint64_t *dst_bytes, llp_err *err)
{
    int64_t n_rows = (int64_t)(t->n_bytes / llp_row_size(t->type, t->ne[0]));
    *dst_bytes = (uint64_t)llp_row_size(dst_type, t->ne[0]) * (uint64_t)n_rows;
    uint8_t *dst = llp_malloc(*dst_bytes ? (size_t)*dst_bytes : 1);
    convert_job job = { .src_type = t->type, .dst_type = dst_type, .src = t->data,
                        .n = t->ne[0], .n_rows = n_rows, .dst = dst };
    for (int i = 0; i < o->n_lora; i++)     /* the adapters' deltas for this tensor */
        for (int k = 0; k < o->lora[i]->n && job.n_delta < 8; k++)
            if (strcmp(o->lora[i]->t[k].name, t->name) == 0) {
                job.delta[job.n_delta] = &o->lora[i]->t[k];
                job.delta_scale[job.n_delta++] =
                    llp_lora_scale(o->lora[i], &o->lora[i]->t[k], o->lora_scale[i]);
            }
    long long bad = run_convert(pool, &job);
    if (bad >= 0) {
        llp_err_set(err, "%s: tensor '%s' has a value that is not finite (row %lld)",
                    gguf_path(f), t->name, (long long)bad);
        free(dst);
        return NULL;
    }
    return dst;
}

static bool is_float_type(uint32_t type)
{
    return type == LLP_F32 || type == LLP_F16 || type == LLP_BF16;
}

/* ---- the file --------------------------------------------------------- */

int llp_quantize_file(const char *in, const char *out, const llp_quantize_opts *o,
                      llp_quantize_stats *stats, llp_err *err)
{
    llp_quantize_stats local;
    llp_quantize_stats *st = stats ? stats : &local;
    memset(st, 0, sizeof *st);
    if (llp_ftype_base_type(o->ftype) == NO_BASE)
        return llp_err_set(err, "file type %u (%s) cannot be produced", o->ftype,
                           llp_ftype_name(o->ftype) ? llp_ftype_name(o->ftype) : "unknown");
    gguf_file *f = gguf_open(in, err);
    if (!f) return -1;

    llp_quant_rules rules;
    read_rules(f, o, &rules);
    int64_t n = gguf_n_tensors(f);
    const gguf_tensor **order = llp_malloc(sizeof *order * (size_t)(n ? n : 1));
    uint32_t *dst_type = llp_malloc(sizeof *dst_type * (size_t)(n ? n : 1));
    bool *fell_back = llp_calloc((size_t)(n ? n : 1), sizeof *fell_back);
    uint8_t **buffers = llp_calloc((size_t)(n ? n : 1), sizeof *buffers);
    for (int64_t i = 0; i < n; i++) order[i] = gguf_tensor_at(f, i);
    qsort(order, (size_t)n, sizeof *order, compare_tensors);

    /* Plan every tensor before converting any, so a refusal costs nothing. */
    int rc = -1;
    bool *adapted = llp_calloc((size_t)(n ? n : 1), sizeof *adapted);
    for (int a = 0; a < o->n_lora; a++)
        for (int k = 0; k < o->lora[a]->n; k++) {
            const llp_lora_tensor *lt = &o->lora[a]->t[k];
            const gguf_tensor *t = gguf_find_tensor(f, lt->name);
            if (!t || t->n_dims != 2 || strcmp(lt->name, "token_embd.weight") == 0) {
                llp_err_set(err, "%s: tensor '%s' matches no matrix of %s",
                            o->lora[a]->path ? o->lora[a]->path : "adapter", lt->name, in);
                goto done;
            }
            if (t->ne[0] != lt->n_in || t->ne[1] != lt->n_out) {
                llp_err_set(err, "%s: tensor '%s' is [%lld -> %lld] but the model's is "
                            "[%lld -> %lld] (an adapter for another model?)",
                            o->lora[a]->path ? o->lora[a]->path : "adapter", lt->name,
                            (long long)lt->n_in, (long long)lt->n_out, (long long)t->ne[0],
                            (long long)t->ne[1]);
                goto done;
            }
            for (int64_t i = 0; i < n; i++) adapted[i] |= order[i] == t;
        }
    for (int64_t i = 0; i < n; i++) {
        const gguf_tensor *t = order[i];
        dst_type[i] = llp_quant_tensor_type(&rules, t->name, t->n_dims, t->ne, t->type,
                                            &fell_back[i]);
        if (dst_type[i] != t->type && !is_float_type(t->type) && !o->allow_requantize &&
            !adapted[i]) {
            llp_err_set(err, "%s: tensor '%s' is already quantized (%s); converting it to %s "
                        "loses precision twice (allow it with --allow-requantize)",
                        in, t->name, llp_type_name(t->type), llp_type_name(dst_type[i]));
            goto done;
        }
    }

    llp_pool *pool = llp_pool_new(o->n_threads);
    gguf_writer *w = gguf_writer_new();
    copy_metadata(f, w, o->ftype);
    st->src_file_bytes = gguf_file_size(f);
    st->n_tensors = (int)n;
    for (int64_t i = 0; i < n; i++) {
        const gguf_tensor *t = order[i];
        double t0 = llp_now();
        uint64_t dst_bytes = t->n_bytes;
        bool convert = dst_type[i] != t->type || adapted[i];
        if (convert) {
            buffers[i] = convert_tensor(pool, f, t, dst_type[i], o, &dst_bytes, err);
            if (!buffers[i]) {
                gguf_writer_free(w);
                llp_pool_free(pool);
                goto done;
            }
            gguf_add_tensor_ref(w, t->name, t->n_dims, t->ne, dst_type[i], buffers[i]);
            st->n_converted++;
        } else {
            gguf_add_tensor_ref(w, t->name, t->n_dims, t->ne, t->type, t->data);
        }
        uint64_t elements = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) elements *= (uint64_t)t->ne[d];
        st->n_params += elements;
        st->n_fallback += fell_back[i];
        st->n_by_type[dst_type[i]]++;
        st->bytes_by_type[dst_type[i]] += dst_bytes;
        st->src_bytes += t->n_bytes;
        st->dst_bytes += dst_bytes;
        if (o->on_tensor) {
            llp_quant_tensor_report r = {
                .index = (int)i + 1, .count = (int)n, .name = t->name, .n_dims = t->n_dims,
                .ne = t->ne, .src_type = t->type, .dst_type = dst_type[i],
                .converted = convert, .fallback = fell_back[i], .src_bytes = t->n_bytes,
                .dst_bytes = dst_bytes, .seconds = llp_now() - t0,
            };
            o->on_tensor(o->ctx, &r);
        }
    }
    llp_pool_free(pool);
    rc = gguf_writer_write(w, out, err);
    gguf_writer_free(w);
    if (rc == 0) {
        FILE *fp = fopen(out, "rb");
        if (fp && fseek(fp, 0, SEEK_END) == 0) st->dst_file_bytes = (uint64_t)ftell(fp);
        if (fp) fclose(fp);
    }

done:
    free(adapted);
    for (int64_t i = 0; i < n; i++) free(buffers[i]);
    free(buffers);
    free(fell_back);
    free(dst_type);
    free(order);
    gguf_close(f);
    return rc;
}
