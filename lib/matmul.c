/*
 * matmul.c — llp_matmul: quantizes the activations once, splits the product
 * into (row chunk x token chunk) tasks across the thread pool, and runs each
 * with the current kernel set's tile function; llp_matmul_ref, the scalar
 * reference.
 *
 * Not for: block arithmetic (lib/kernels/ for the fast paths, quant.c for the
 * reference) or choosing the kernel set (kernels/dispatch.c).
 *
 * Splitting. Generation (n_tok <= TILE_MAX_GEN) is bound by memory: every
 * weight byte is read once, and every chunk a thread starts costs a ramp-up
 * of its memory streams. So each thread takes one long chunk covering its
 * share of GEN_HEAD_PERCENT of the rows, and the rest is cut into
 * GEN_TAIL_TASKS chunks per thread that whichever thread is ahead claims.
 * That evens out small differences between cores; a core interrupted for
 * longer than a tail chunk delays the product, the price of fewer stream
 * restarts. Measured on 1.1B shapes, 2 threads, tg32, against 4 equal
 * chunks per thread: Q4_K 29.0 -> 29.0-30.2 GB/s, Q6_K 28.6-29.0 ->
 * 29.5-29.6, Q4_0 32.0 -> 32.3-32.7. Prompt batches are bound by
 * arithmetic: rows are cut into chunks of about CHUNK_BYTES of weights (they
 * stay in L2 while the kernel walks TOKEN_CHUNK tokens over them, four
 * tokens per unpacked block), and tokens into chunks of TOKEN_CHUNK.
 *
 * Float weights in batches (F32, F16, BF16 with n_tok >= SGEMM_MIN_TOKENS)
 * go to OpenBLAS SGEMM instead: each task converts a chunk of SGEMM_ROWS
 * rows to f32 (F32 rows are used in place) and runs a single-threaded
 * cblas_sgemm of (n_tok x n_in) times (n_in x rows) on it. Measured on the
 * 2-core Zen 5 machine at 128 tokens (bench/matmul_bench.c): our FMA tile
 * kernel 23-42 GFLOP/s, SGEMM 55-106 GFLOP/s for F32 and F16 on 2048-wide
 * and 5632-wide products, so SGEMM wins from a few tokens up; below 8
 * tokens the weight conversion dominates and the FMA kernel (memory-bound
 * like the quantized ones) is used. OpenBLAS is switched to one thread per
 * call (openblas_set_num_threads(1), process-wide, on first use) because
 * our pool already runs one task per core.
 *
 * Scratch: quantized activations and converted weight chunks live in
 * per-thread buffers that grow to the largest size seen and are freed when
 * the thread exits (about 1.1 bytes per activation value; a 512-token batch
 * of 11008-wide rows needs 6 MB).
 */
#include "matmul.h"
#include "quant.h"
#include "kernels/kernels.h"
#include "util.h"

#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define TILE_MAX_GEN 4
#define SGEMM_MIN_TOKENS 8
#define SGEMM_ROWS 64
#define TASKS_PER_THREAD 4
#define GEN_HEAD_PERCENT 90
#define GEN_TAIL_TASKS 1
#define CHUNK_BYTES (64 * 1024)
#define TOKEN_CHUNK 64

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
    return type < LLP_TYPE_COUNT && llp_act_format_for(type) != LLP_ACT_NONE &&
           llp_kernels_scalar.gemm[type] != NULL;
}

const char *llp_matmul_kernels(void)
{
    return llp_kernels_current()->name;
}

int llp_matmul_set_kernels(const char *name)
{
    return llp_kernels_select(name);
}

/* ---- per-thread scratch ----------------------------------------------------- */

/* Slot 0: activations quantized to 32-value blocks, slot 2: to 256-value
 * blocks (the calling thread). Slot 1: converted weight chunks (any pool
 * thread). */
typedef struct {
    void *buf[3];
    size_t bytes[3];
} scratch_set;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p)
{
    scratch_set *s = p;
    free(s->buf[0]);
    free(s->buf[1]);
    free(s->buf[2]);
    free(s);
}

static void scratch_init(void)
{
    if (pthread_key_create(&scratch_key, scratch_free) != 0) {
        fprintf(stderr, "llamapipe: cannot create a thread-local key\n");
        abort();
    }
}

static void *scratch_get(int slot, size_t bytes)
{
    pthread_once(&scratch_once, scratch_init);
    scratch_set *s = pthread_getspecific(scratch_key);
    if (!s) {
        s = llp_calloc(1, sizeof *s);
        pthread_setspecific(scratch_key, s);
    }
    if (bytes > s->bytes[slot]) {
        free(s->buf[slot]);
        s->bytes[slot] = bytes + bytes / 4;
        if (posix_memalign(&s->buf[slot], 64, s->bytes[slot]) != 0) {
            fprintf(stderr, "llamapipe: out of memory (%zu bytes of scratch)\n",
                    s->bytes[slot]);
            abort();
        }
    }
    return s->buf[slot];
}

/* ---- activation quantization, split over tokens ------------------------- */

typedef struct {
    llp_quantize_act_fn quantize;
    const float *X;
    int64_t n_in, n_tok;
    uint8_t *A;
    size_t a_stride;
} quant_job;

static void quant_task(void *ctx, int task, int n_tasks)
{
    const quant_job *j = ctx;
    int64_t t0 = j->n_tok * task / n_tasks, t1 = j->n_tok * (task + 1) / n_tasks;
    for (int64_t t = t0; t < t1; t++)
        j->quantize(j->X + t * j->n_in, j->A + (size_t)t * j->a_stride, j->n_in);
}

/* ---- the product ----------------------------------------------------------- */

typedef struct {
    llp_gemm_fn gemm;
    llp_gemm_packed_fn packed;      /* set when W is packed (row chunks of whole groups) */
    int64_t n_in, n_out, n_tok;
    const uint8_t *W;
    size_t w_stride;
    const uint8_t *A;
    size_t a_stride;
    float *Y;
    /* Row chunk c covers head_rows rows from c * head_rows if c < n_head,
     * else row_chunk rows after the head chunks. */
    int64_t n_head, head_rows, row_chunk, tok_chunk, n_row_chunks;
} gemm_job;

static void gemm_task(void *ctx, int task, int n_tasks)
{
    const gemm_job *j = ctx;
    int64_t c = task % j->n_row_chunks, rows = c < j->n_head ? j->head_rows : j->row_chunk;
    int64_t r0 = c < j->n_head ? c * j->head_rows
                               : j->n_head * j->head_rows + (c - j->n_head) * j->row_chunk;
    int64_t t0 = (task / j->n_row_chunks) * j->tok_chunk;
    int64_t nr = j->n_out - r0 < rows ? j->n_out - r0 : rows;
    int64_t nt = j->n_tok - t0 < j->tok_chunk ? j->n_tok - t0 : j->tok_chunk;
    if (j->packed) {
        /* A packed group of 16 rows is as long as 16 rows: r0 rows' worth in. */
        j->packed(j->n_in, j->W + (size_t)r0 * j->w_stride, (int)nr,
                  j->A + (size_t)t0 * j->a_stride, j->a_stride, (int)nt,
                  j->Y + t0 * j->n_out + r0, j->n_out);
        return;
    }
    j->gemm(j->n_in, j->W + (size_t)r0 * j->w_stride, j->w_stride, (int)nr,
            j->A + (size_t)t0 * j->a_stride, j->a_stride, (int)nt,
            j->Y + t0 * j->n_out + r0, j->n_out);
}

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* LLP_NO_BLAS=1 keeps float batches on the kernel sets (tests, benchmarks). */
static int getenv_no_blas(void)
{
    const char *v = getenv("LLP_NO_BLAS");
    return v && *v && strcmp(v, "0") != 0;
}

/* ---- float weights in batches: SGEMM ---------------------------------------- */

typedef struct {
    uint32_t type;
    int64_t n_in, n_out, n_tok;
    const uint8_t *W;
    size_t w_stride;
    const float *X;
    float *Y;
} sgemm_job;

static void sgemm_task(void *ctx, int task, int n_tasks)
{
    const sgemm_job *j = ctx;
    int64_t r0 = (int64_t)task * SGEMM_ROWS;
    int64_t nr = j->n_out - r0 < SGEMM_ROWS ? j->n_out - r0 : SGEMM_ROWS;
    const float *Wf = (const float *)(j->W + (size_t)r0 * j->w_stride);
    if (j->type != LLP_F32) {
        float *buf = scratch_get(1, sizeof(float) * (size_t)(nr * j->n_in));
        llp_dequantize_row(j->type, j->W + (size_t)r0 * j->w_stride, buf, nr * j->n_in);
        Wf = buf;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)j->n_tok, (int)nr,
                (int)j->n_in, 1.0f, j->X, (int)j->n_in, Wf, (int)j->n_in, 0.0f,
                j->Y + r0, (int)j->n_out);
}

static void blas_single_thread(void)
{
    openblas_set_num_threads(1);
}

static void matmul_sgemm(llp_pool *pool, uint32_t type, const void *W, int64_t n_in,
                         int64_t n_out, const float *X, int64_t n_tok, float *Y)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, blas_single_thread);
    sgemm_job j = { type, n_in, n_out, n_tok, W, llp_row_size(type, n_in), X, Y };
    llp_pool_run(pool, sgemm_task, &j, (int)ceil_div(n_out, SGEMM_ROWS));
}

static void matmul_quantized(llp_pool *pool, uint32_t type, const void *W, bool packed,
                             int64_t n_in, int64_t n_out, const float *X, int64_t n_tok,
                             float *Y);

/* Abort with a message when `who` is handed weights it cannot multiply:
 * a type without kernels, or packed weights of a type without a layout. */
static void require_type(const char *who, uint32_t type, bool packed)
{
    if (packed ? llp_pack_supported(type) : llp_matmul_supports(type)) return;
    fprintf(stderr, "llamapipe: %s: unsupported weight type %s%s\n", who,
            llp_type_name(type), packed ? " (packed)" : "");
    abort();
}

void llp_matmul(llp_pool *pool, uint32_t type, const void *W, int64_t n_in,
                int64_t n_out, const float *X, int64_t n_tok, float *Y)
{
    require_type("llp_matmul", type, false);
    if (n_out <= 0 || n_tok <= 0) return;
    if (n_tok >= SGEMM_MIN_TOKENS && llp_act_format_for(type) == LLP_ACT_F32 &&
        n_in <= INT32_MAX && n_out <= INT32_MAX && n_tok <= INT32_MAX &&
        !getenv_no_blas()) {
        matmul_sgemm(pool, type, W, n_in, n_out, X, n_tok, Y);
        return;
    }
    matmul_quantized(pool, type, W, false, n_in, n_out, X, n_tok, Y);
}

size_t llp_matmul_packed_bytes(uint32_t type, int64_t n_in, int64_t n_out)
{
    return llp_pack_supported(type) ? llp_packed_bytes(type, n_in, n_out) : 0;
}

bool llp_matmul_prefers_packed(uint32_t type)
{
    /* The scalar set multiplies either layout as slowly, so packing would
     * only cost load time; a set packs the types it has products for. */
    const llp_kernel_set *ks = llp_kernels_current();
    return llp_pack_supported(type) && ks != &llp_kernels_scalar && ks->gemm_packed[type];
}

void *llp_matmul_pack(uint32_t type, const void *W, int64_t n_in, int64_t n_out)
{
    if (!llp_pack_supported(type) || n_out <= 0 || n_in <= 0) return NULL;
    size_t bytes = llp_packed_bytes(type, n_in, n_out);
    /* Large matrices on 2 MiB boundaries and marked for transparent huge
     * pages: a fraction of the page faults at load and of the TLB misses
     * while streaming (the kernel may still decline). */
    const size_t huge = (size_t)2 << 20;
    void *P = NULL;
    if (posix_memalign(&P, bytes >= huge ? huge : 64, bytes) != 0) {
        fprintf(stderr, "llamapipe: out of memory (%zu bytes of packed weights)\n", bytes);
        abort();
    }
    if (bytes >= huge) madvise(P, bytes & ~(huge - 1), MADV_HUGEPAGE);
    llp_pack_rows(type, W, n_in, n_out, P);
    return P;
}

void llp_matmul_packed(llp_pool *pool, uint32_t type, const void *P, int64_t n_in,
                       int64_t n_out, const float *X, int64_t n_tok, float *Y)
{
    require_type("llp_matmul_packed", type, true);
    if (n_out <= 0 || n_tok <= 0) return;
    matmul_quantized(pool, type, P, true, n_in, n_out, X, n_tok, Y);
}

/* X quantized to the activation format of `type` (the float rows
 * themselves for float types), in the calling thread's scratch slot for
 * that format. */
static const uint8_t *activations(llp_pool *pool, const llp_kernel_set *ks, uint32_t type,
                                  const float *X, int64_t n_in, int64_t n_tok,
                                  size_t *a_stride)
{
    enum llp_act_format fmt = llp_act_format_for(type);
    if (fmt == LLP_ACT_F32) {
        *a_stride = (size_t)n_in * sizeof(float);
        return (const uint8_t *)X;
    }
    quant_job q = { .X = X, .n_in = n_in, .n_tok = n_tok };
    int slot;
    if (fmt == LLP_ACT_Q8_32) {
        q.quantize = ks->quantize_q8_32;
        q.a_stride = (size_t)(n_in / 32) * sizeof(llp_act_q8_32);
        slot = 0;
    } else {
        q.quantize = ks->quantize_q8_256;
        q.a_stride = (size_t)(n_in / 256) * sizeof(llp_act_q8_256);
        slot = 2;
    }
    q.A = scratch_get(slot, q.a_stride * (size_t)n_tok);
    int n_threads = llp_pool_size(pool);
    int q_tasks = n_tok < 4 ? 1 : (int)(n_tok < n_threads ? n_tok : n_threads);
    llp_pool_run(pool, quant_task, &q, q_tasks);
    *a_stride = q.a_stride;
    return q.A;
}

/* The job of one product on prepared activations; returns its task count. */
static int64_t plan_job(gemm_job *j, const llp_kernel_set *ks, int n_threads, uint32_t type,
                        const void *W, bool packed, int64_t n_in, int64_t n_out,
                        int64_t n_tok, float *Y, const uint8_t *A, size_t a_stride)
{
    *j = (gemm_job){
        .gemm = ks->gemm[type] ? ks->gemm[type] : llp_kernels_scalar.gemm[type],
        .packed = !packed ? NULL : ks->gemm_packed[type] ? ks->gemm_packed[type]
                                                         : llp_kernels_scalar.gemm_packed[type],
        .n_in = n_in, .n_out = n_out, .n_tok = n_tok,
        .W = W, .w_stride = llp_row_size(type, n_in), .Y = Y,
        .A = A, .a_stride = a_stride,
    };
    /* Row chunks are whole packed groups, or multiples of the unpacked
     * kernels' 4-row tile. */
    const int64_t unit = packed ? LLP_PACK_ROWS : 4;
    if (n_tok <= TILE_MAX_GEN) {
        /* In units: one head chunk per thread over GEN_HEAD_PERCENT of the
         * rows, the rest in GEN_TAIL_TASKS chunks per thread. The head
         * chunks never reach the last unit, so the tail is never empty. */
        int64_t units = ceil_div(n_out, unit);
        int64_t head = units * GEN_HEAD_PERCENT / 100 / n_threads;
        int64_t tail = ceil_div(units - head * n_threads, (int64_t)n_threads * GEN_TAIL_TASKS);
        j->tok_chunk = n_tok;
        j->n_head = head > 0 ? n_threads : 0;
        j->head_rows = head * unit;
        j->row_chunk = tail * unit;
        j->n_row_chunks = j->n_head + ceil_div(n_out - j->n_head * j->head_rows, j->row_chunk);
        return j->n_row_chunks;
    }
    j->tok_chunk = TOKEN_CHUNK;
    j->row_chunk = CHUNK_BYTES / (int64_t)j->w_stride;
    /* Enough tasks to keep every thread busy. */
    int64_t n_tok_chunks = ceil_div(n_tok, j->tok_chunk);
    int64_t max_rows = ceil_div(n_out * n_tok_chunks, (int64_t)n_threads * TASKS_PER_THREAD);
    if (j->row_chunk > max_rows) j->row_chunk = max_rows;
    if (j->row_chunk < 4) j->row_chunk = 4;
    if (j->row_chunk > n_out) j->row_chunk = n_out;
    int64_t n_tasks = ceil_div(n_out, j->row_chunk) * n_tok_chunks;
    if (n_tasks > LLP_POOL_MAX_TASKS / 4)
        j->row_chunk = ceil_div(n_out, LLP_POOL_MAX_TASKS / 4 / n_tok_chunks);
    j->row_chunk = ceil_div(j->row_chunk, unit) * unit;
    j->n_row_chunks = ceil_div(n_out, j->row_chunk);
    return j->n_row_chunks * ceil_div(n_tok, j->tok_chunk);
}

static void matmul_quantized(llp_pool *pool, uint32_t type, const void *W, bool packed,
                             int64_t n_in, int64_t n_out, const float *X, int64_t n_tok,
                             float *Y)
{
    const llp_kernel_set *ks = llp_kernels_current();
    size_t a_stride;
    const uint8_t *A = activations(pool, ks, type, X, n_in, n_tok, &a_stride);
    gemm_job j;
    int64_t n_tasks = plan_job(&j, ks, llp_pool_size(pool), type, W, packed, n_in, n_out,
                               n_tok, Y, A, a_stride);
    llp_pool_run(pool, gemm_task, &j, (int)n_tasks);
}

/* ---- several products of one input in one pool run ---------------------- */

typedef struct {
    gemm_job job[LLP_MATMUL_MANY_MAX];
    int first[LLP_MATMUL_MANY_MAX + 1];     /* first task of each job */
    int n_jobs;
} many_job;

static void many_task(void *ctx, int task, int n_tasks)
{
    const many_job *m = ctx;
    int i = 0;
    while (task >= m->first[i + 1]) i++;
    gemm_task((void *)&m->job[i], task - m->first[i], m->first[i + 1] - m->first[i]);
}

void llp_matmul_many(llp_pool *pool, const llp_matmul_op *ops, int n_ops, int64_t n_in,
                     const float *X, int64_t n_tok)
{
    bool fused = n_ops > 1 && n_ops <= LLP_MATMUL_MANY_MAX && n_tok > 0;
    for (int i = 0; i < n_ops && fused; i++)
        if (llp_act_format_for(ops[i].type) == LLP_ACT_F32 || ops[i].n_out <= 0) fused = false;
    if (!fused) {
        for (int i = 0; i < n_ops; i++) {
            if (ops[i].packed)
                llp_matmul_packed(pool, ops[i].type, ops[i].W, n_in, ops[i].n_out, X, n_tok,
                                  ops[i].Y);
            else
                llp_matmul(pool, ops[i].type, ops[i].W, n_in, ops[i].n_out, X, n_tok, ops[i].Y);
        }
        return;
    }
    const llp_kernel_set *ks = llp_kernels_current();
    /* Activations once per format (indexed by enum llp_act_format). */
    const uint8_t *A[LLP_ACT_Q8_256 + 1] = { NULL };
    size_t stride[LLP_ACT_Q8_256 + 1] = { 0 };
    many_job m = { .n_jobs = n_ops };
    for (int i = 0; i < n_ops; i++) {
        require_type("llp_matmul_many", ops[i].type, ops[i].packed);
        int f = llp_act_format_for(ops[i].type);
        if (!A[f]) A[f] = activations(pool, ks, ops[i].type, X, n_in, n_tok, &stride[f]);
        int64_t n = plan_job(&m.job[i], ks, llp_pool_size(pool), ops[i].type, ops[i].W,
                             ops[i].packed, n_in, ops[i].n_out, n_tok, ops[i].Y, A[f], stride[f]);
        m.first[i + 1] = m.first[i] + (int)n;
    }
    llp_pool_run(pool, many_task, &m, m.first[n_ops]);
}
