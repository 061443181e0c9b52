/*
 * convert_internal.h — what convert.c (models) and convert_lora.c
 * (adapters) share: the plan of one output tensor and the fill callback
 * that produces its bytes while the file is written.
 *
 * Not for: anything outside lib/convert*.c.
 */
#ifndef LLP_CONVERT_INTERNAL_H
#define LLP_CONVERT_INTERNAL_H

#include "convert.h"
#include "safetensors.h"
#include "threads.h"

/* One output tensor: where its data comes from and what it becomes. */
typedef struct cv_tensor {
    char name[112];             /* GGUF name */
    const char *source;         /* Hugging Face name (owned by its st_file) */
    const st_file *file;
    const st_tensor *src;
    int64_t rows, cols;         /* source rows (1 for 1-D) and values per row */
    uint32_t dst_type;
    int64_t head_dim;           /* > 0: Q/K row permutation with this head size */
} cv_tensor;

typedef struct cv_job {
    cv_tensor *tensors;
    size_t n;
    llp_pool *pool;
    const llp_convert_opts *opts;
} cv_job;

/* gguf_tensor_fill for job->tensors[index]. */
int cv_fill(void *ctx, size_t index, void *dst, uint64_t n_bytes, llp_err *err);

/* "[a, b]" of a safetensors shape into buf. */
const char *cv_shape(const st_tensor *t, char *buf, size_t size);

/* Sort tensors in llama.cpp's order: by layer (outside blk.N first), then
 * by name. */
void cv_sort(cv_tensor *t, size_t n);

#endif
