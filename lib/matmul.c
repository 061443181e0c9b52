/*
 * matmul.c — llp_matmul: splits a weight-matrix product across the thread
 * pool and hands each piece to the selected kernel set; llp_matmul_ref, the
 * scalar reference.
 *
 * Not for: the block arithmetic itself (quant.c for the reference,
 * lib/kernels/ for the fast paths).
 *
 * This first version splits rows across threads and calls llp_dot_ref for
 * every output; the dispatching kernels replace the inner loop.
 */
#include "matmul.h"
#include "quant.h"

#include <stdio.h>
#include <stdlib.h>

void llp_matmul_ref(uint32_t type, const void *W, int64_t n_in,
                    int64_t n_out, const float *X, int64_t n_tok, float *Y)
{
    size_t row_bytes = llp_row_size(type, n_in);
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t r = 0; r < n_out; r++)
            Y[t * n_out + r] = llp_dot_ref(type,
                                           (const char *)W + (size_t)r * row_bytes,
                                           X + t * n_in, n_in);
}

bool llp_matmul_supports(uint32_t type)
{
    const llp_type_info *info = llp_type_get(type);
    return info && info->supported;
}

const char *llp_matmul_kernels(void)
{
    return "scalar";
}

int llp_matmul_set_kernels(const char *name)
{
    return name && name[0] == 's' ? 0 : -1;
}

typedef struct {
    uint32_t type;
    const char *W;
    size_t row_bytes;
    int64_t n_in, n_out, n_tok;
    const float *X;
    float *Y;
} ref_job;

static void ref_task(void *ctx, int task, int n_tasks)
{
    const ref_job *j = ctx;
    int64_t r0 = j->n_out * task / n_tasks, r1 = j->n_out * (task + 1) / n_tasks;
    for (int64_t t = 0; t < j->n_tok; t++)
        for (int64_t r = r0; r < r1; r++)
            j->Y[t * j->n_out + r] = llp_dot_ref(j->type,
                                                 j->W + (size_t)r * j->row_bytes,
                                                 j->X + t * j->n_in, j->n_in);
}

void llp_matmul(llp_pool *pool, uint32_t type, const void *W, int64_t n_in,
                int64_t n_out, const float *X, int64_t n_tok, float *Y)
{
    if (!llp_matmul_supports(type)) {
        fprintf(stderr, "llamapipe: llp_matmul: unsupported weight type %s\n",
                llp_type_name(type));
        abort();
    }
    ref_job j = { type, W, llp_row_size(type, n_in), n_in, n_out, n_tok, X, Y };
    int n_tasks = llp_pool_size(pool) * 4;
    if (n_tasks > n_out) n_tasks = (int)n_out;
    llp_pool_run(pool, ref_task, &j, n_tasks);
}
