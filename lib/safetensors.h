/*
 * safetensors.h — read Hugging Face safetensors files: one file, or the
 * shards of a model directory through model.safetensors.index.json.
 *
 * The format: an 8-byte little-endian header length N, N bytes of JSON
 * mapping each tensor name to {"dtype", "shape", "data_offsets": [begin,
 * end]} (offsets relative to the data region that follows the header), an
 * optional "__metadata__" object of strings, then the data region. The file
 * is mapped read-only with mmap; nothing is copied.
 *
 * Validation before any tensor is handed out: the header length fits the
 * file; the header is a JSON object; every entry has a known dtype, a shape
 * of non-negative integers and two offsets; end - begin equals
 * product(shape) * dtype size; sorted by begin, the tensors cover the data
 * region exactly, in order, with no overlap and no hole, and the last one
 * ends where the file ends. Messages have the form "FILE: what is wrong
 * (tensor 'NAME')". Only F32, F16 and BF16 tensors are read; any other
 * dtype is refused by its name.
 *
 * Not for: knowing what the tensors mean (convert.c maps Hugging Face names
 * to GGUF ones) or writing safetensors (the tests write their own).
 */
#ifndef LLP_SAFETENSORS_H
#define LLP_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define ST_MAX_DIMS 8
/* A header larger than this is refused (the reference library's limit). */
#define ST_MAX_HEADER (100u << 20)

typedef struct st_tensor {
    const char *name;            /* owned by the st_file */
    uint32_t type;               /* LLP_F32, LLP_F16 or LLP_BF16 (quant.h) */
    int n_dims;                  /* 0..ST_MAX_DIMS */
    int64_t shape[ST_MAX_DIMS];  /* row-major: shape[n_dims-1] is contiguous */
    uint64_t n_elements;
    uint64_t begin, end;         /* data_offsets, relative to the data region */
    const void *data;            /* into the mapping */
} st_tensor;

typedef struct st_file st_file;

/* Open and validate one file. NULL with err set on any problem. */
st_file *st_open(const char *path, llp_err *err);
void st_close(st_file *f);

const char *st_path(const st_file *f);
size_t st_n_tensors(const st_file *f);
const st_tensor *st_tensor_at(const st_file *f, size_t i);  /* in offset order */
const st_tensor *st_find(const st_file *f, const char *name);  /* NULL: absent */

/* Tell the kernel the tensor's pages are no longer needed, so a pass over
 * a multi-gigabyte file keeps only what it is working on resident. The
 * data stays readable (it is read from the file again if touched). */
void st_release(const st_file *f, const st_tensor *t);

/* ---- a directory of shards ---------------------------------------------- */

typedef struct st_set st_set;

/* The safetensors of a model directory: the shards
 * model.safetensors.index.json names (its weight_map must match the shards'
 * contents exactly, and shard names must be plain file names), or, without
 * an index, every *.safetensors file in the directory (a tensor name in two
 * files is an error). NULL with err set; a directory without safetensors is
 * an error naming it. */
st_set *st_set_open(const char *dir, llp_err *err);
void st_set_close(st_set *s);

size_t st_set_n_files(const st_set *s);
const st_file *st_set_file(const st_set *s, size_t i);
/* The tensor called `name` and the file it is in; NULL when absent. */
const st_tensor *st_set_find(const st_set *s, const char *name, const st_file **file);

#endif
