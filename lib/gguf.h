/*
 * gguf.h — read and write GGUF files (versions 2 and 3).
 *
 * The reader maps the file with mmap and checks every size, count, offset
 * and string length against the file before using it; a malformed file is
 * refused with a message "FILE: what is wrong (where)" and never causes a
 * crash or an allocation larger than the file justifies. The writer builds
 * files in memory (tests make their tiny models with it; llp-quantize writes
 * its output with it).
 *
 * Not for: interpreting llama.* keys (model.c) or tokenizer keys
 * (tokenizer.c), or decoding weight blocks (quant.c).
 */
#ifndef LLP_GGUF_H
#define LLP_GGUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "util.h"

/* Value types of the key-value table, as stored in the file. */
enum gguf_value_type {
    GGUF_U8 = 0, GGUF_I8 = 1, GGUF_U16 = 2, GGUF_I16 = 3, GGUF_U32 = 4,
    GGUF_I32 = 5, GGUF_F32 = 6, GGUF_BOOL = 7, GGUF_STRING = 8,
    GGUF_ARRAY = 9, GGUF_U64 = 10, GGUF_I64 = 11, GGUF_F64 = 12,
};

/* Bytes of one value of a fixed-size type (u8 ... f64, bool); 0 for
 * string, array and unknown types. */
size_t gguf_value_size(uint32_t type);
/* "u8", "string", "array", ...; "type N" style for unknown types. */
const char *gguf_value_type_name(uint32_t type);

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS 4

/* One tensor of the tensor table. `data` points into the mapped file. */
typedef struct gguf_tensor {
    const char *name;          /* NUL-terminated copy owned by the gguf_file */
    uint32_t n_dims;           /* 1..4 */
    int64_t ne[GGUF_MAX_DIMS]; /* extents; ne[0] is contiguous; unused = 1 */
    uint32_t type;             /* enum llp_type (quant.h) */
    uint64_t offset;           /* relative to the data section */
    uint64_t n_bytes;          /* size of the data */
    const void *data;          /* into the mapping */
} gguf_tensor;

typedef struct gguf_file gguf_file;

/* ---- reading ---------------------------------------------------------- */

/* Open and validate `path`. Checks: magic, version (2 or 3), every count,
 * string length and array extent, value types, duplicate keys,
 * general.alignment (power of two), n_dims <= 4, extents positive and ne[0] a
 * multiple of the type's block size, tensor types known and supported
 * (an unsupported one, e.g. IQ2_XXS, names the tensor and the type), offsets
 * aligned and tensor data inside the file. Returns NULL with err set.
 *
 * Messages have the form "PATH: what is wrong (where)", where keys and
 * tensors are numbered from 1 as people count them ("key 3 of 12",
 * "tensor 2 of 9"), e.g. "m.gguf: file truncated in key-value table (key 3
 * of 12, reading value of 'llama.block_count')". Names quoted in messages
 * are cut to 64 bytes with non-printable bytes shown as '?'. Arrays of
 * arrays are refused as unsupported. Tensor data may overlap. */
gguf_file *gguf_open(const char *path, llp_err *err);
void gguf_close(gguf_file *f);

const char *gguf_path(const gguf_file *f);
uint32_t gguf_version(const gguf_file *f);
uint64_t gguf_file_size(const gguf_file *f);
uint32_t gguf_alignment(const gguf_file *f);
/* Start of the data section: the end of the tensor table rounded up to
 * the alignment (in a file with no tensors it may lie past the end). */
uint64_t gguf_data_offset(const gguf_file *f);
const uint8_t *gguf_bytes(const gguf_file *f);    /* whole mapped file */

/* Key-value table. Keys are indexed 0..n_kv-1 in file order. */
int64_t gguf_n_kv(const gguf_file *f);
const char *gguf_kv_key(const gguf_file *f, int64_t i);  /* NULL if i is out of range */
uint32_t gguf_kv_type(const gguf_file *f, int64_t i);   /* UINT32_MAX if i is out of range */
int64_t gguf_find_key(const gguf_file *f, const char *key);   /* -1: absent */

/* Typed getters. Return 0 on success, -1 when the key is absent, -2 when it
 * has an incompatible type. Integer getters accept any integer type (and
 * bool) whose value fits; the float getter accepts f32, f64 and integers;
 * the bool getter accepts bool only (any non-zero byte is true). */
int gguf_get_int(const gguf_file *f, const char *key, int64_t *out);
int gguf_get_uint(const gguf_file *f, const char *key, uint64_t *out);
int gguf_get_float(const gguf_file *f, const char *key, double *out);
int gguf_get_bool(const gguf_file *f, const char *key, bool *out);
/* String value: a NUL-terminated copy owned by the file; *len may be NULL. */
int gguf_get_str(const gguf_file *f, const char *key, const char **s, size_t *len);

/* Arrays: element type and count. Elements of numeric arrays are read with
 * gguf_arr_data (raw little-endian elements, unaligned: use memcpy) or the
 * converting accessors below; string elements with gguf_arr_str. */
int gguf_get_arr(const gguf_file *f, const char *key, uint32_t *elem_type, uint64_t *n);
const void *gguf_arr_data(const gguf_file *f, const char *key);
/* Element i of a numeric array as double / int64; 0 if out of range, if
 * the key is not a numeric array, or (int64) if the value does not fit
 * (floats are truncated toward zero). gguf_arr_data is NULL for string
 * arrays and non-arrays. */
double gguf_arr_float(const gguf_file *f, const char *key, uint64_t i);
int64_t gguf_arr_int(const gguf_file *f, const char *key, uint64_t i);
/* Element i of a string array; pointer into the mapping, NOT NUL-terminated. */
const char *gguf_arr_str(const gguf_file *f, const char *key, uint64_t i, size_t *len);

/* Tensor table. */
int64_t gguf_n_tensors(const gguf_file *f);
const gguf_tensor *gguf_tensor_at(const gguf_file *f, int64_t i);
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name); /* NULL: absent */

/* ---- writing ---------------------------------------------------------- */

typedef struct gguf_writer gguf_writer;

/* The setters below cannot fail on the spot: a misuse (a key or tensor
 * name set twice, an alignment that is not a power of two, a tensor whose
 * shape or type is invalid, an unknown version) is remembered and reported
 * by gguf_writer_write, which then writes nothing. The writer never
 * produces a file gguf_open would refuse, except through gguf_set_raw. */

gguf_writer *gguf_writer_new(void);          /* version 3, alignment 32 */
void gguf_writer_free(gguf_writer *w);
void gguf_writer_set_version(gguf_writer *w, uint32_t version);

/* Key-values, written in the order they are set. Setting general.alignment
 * (u32) also changes the alignment the writer uses. */
void gguf_set_u8(gguf_writer *w, const char *key, uint8_t v);
void gguf_set_i32(gguf_writer *w, const char *key, int32_t v);
void gguf_set_u32(gguf_writer *w, const char *key, uint32_t v);
void gguf_set_u64(gguf_writer *w, const char *key, uint64_t v);
void gguf_set_f32(gguf_writer *w, const char *key, float v);
void gguf_set_bool(gguf_writer *w, const char *key, bool v);
void gguf_set_str(gguf_writer *w, const char *key, const char *v);
void gguf_set_i8(gguf_writer *w, const char *key, int8_t v);
void gguf_set_u16(gguf_writer *w, const char *key, uint16_t v);
void gguf_set_i16(gguf_writer *w, const char *key, int16_t v);
void gguf_set_i64(gguf_writer *w, const char *key, int64_t v);
void gguf_set_f64(gguf_writer *w, const char *key, double v);
/* Numeric array: n elements of elem_type, raw little-endian bytes copied. */
void gguf_set_arr(gguf_writer *w, const char *key, uint32_t elem_type, const void *data, uint64_t n);
void gguf_set_arr_str(gguf_writer *w, const char *key, const char *const *v, uint64_t n);
/* Any value with an explicit type, raw encoded bytes (for tests that need
 * unusual types); `bytes` is the value exactly as it is stored. */
void gguf_set_raw(gguf_writer *w, const char *key, uint32_t type, const void *bytes, size_t n_bytes);

/* Tensor: `data` (llp_row_size(type, ne[0]) * ne[1] * ne[2] * ne[3] bytes)
 * is copied. Any type llp_type_get knows may be written. Each tensor's data
 * starts at a multiple of the alignment and is zero-padded to one. */
void gguf_add_tensor(gguf_writer *w, const char *name, uint32_t n_dims,
                     const int64_t *ne, uint32_t type, const void *data);
/* The same without the copy: `data` must stay valid and unchanged until
 * gguf_writer_write returns (for multi-gigabyte outputs). */
void gguf_add_tensor_ref(gguf_writer *w, const char *name, uint32_t n_dims,
                         const int64_t *ne, uint32_t type, const void *data);

/* A tensor whose data is produced while the file is written, so that a
 * converter never holds the whole output in memory: at its turn,
 * gguf_writer_write allocates its n_bytes, calls fill(ctx, index, dst,
 * n_bytes, err) (index: the tensor's position among all tensors, from 0),
 * writes the bytes and frees them. fill returns 0, or -1 with err set; the
 * write then stops, PATH.tmp is removed and fill's message is returned. */
typedef int (*gguf_tensor_fill)(void *ctx, size_t index, void *dst, uint64_t n_bytes, llp_err *err);
void gguf_add_tensor_fill(gguf_writer *w, const char *name, uint32_t n_dims,
                          const int64_t *ne, uint32_t type, gguf_tensor_fill fill, void *ctx);

/* Write the file: to PATH.tmp, flushed to disk, then renamed over PATH, so
 * a failed write never leaves a partial file at PATH. Returns 0, or -1 with
 * err naming the path, e.g. "out.gguf: write failed: No space left on
 * device". The writer may be written again or freed afterwards. */
int gguf_writer_write(gguf_writer *w, const char *path, llp_err *err);

#endif
