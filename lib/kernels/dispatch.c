/*
 * dispatch.c — chooses the kernel set once per process from the CPU's
 * features (or LLP_KERNELS), and assembles the avx2 and avx512 tables from
 * the per-file kernels.
 *
 * Not for: the kernels themselves, or splitting work (matmul.c).
 */
#include "kernels/kernels.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* LLP_KERNELS_SCALAR_ONLY: a build without the per-ISA files (make fuzz, whose
 * harnesses run no kernel) has only the scalar set. */
#if (defined(__x86_64__) || defined(__i386__)) && !defined(LLP_KERNELS_SCALAR_ONLY)
#define HAVE_X86_SETS 1

LLP_DECLARE_GEMMS(avx2)
LLP_DECLARE_GEMMS(avx512)
LLP_DECLARE_ATTN(avx2)
LLP_DECLARE_ATTN(avx512)

#define X86_SET(isa, legacy, kq, ...) {                                             \
    .name = #isa,                                                              \
    .quantize_q8_32 = llp_quantize_q8_32_##isa,                                \
    .quantize_q8_256 = llp_quantize_q8_256_##isa,                              \
    .gemm = {                                                                  \
        [LLP_F32] = llp_gemm_f32_##isa,   [LLP_F16] = llp_gemm_f16_##isa,      \
        [LLP_BF16] = llp_gemm_bf16_##isa,                                      \
        [LLP_Q4_0] = llp_gemm_q4_0_##legacy, [LLP_Q4_1] = llp_gemm_q4_1_##legacy, \
        [LLP_Q5_0] = llp_gemm_q5_0_##legacy, [LLP_Q5_1] = llp_gemm_q5_1_##legacy, \
        [LLP_Q8_0] = llp_gemm_q8_0_##legacy,                                   \
        [LLP_Q2_K] = llp_gemm_q2_k_##kq,  [LLP_Q3_K] = llp_gemm_q3_k_##isa,    \
        [LLP_Q4_K] = llp_gemm_q4_k_##kq, [LLP_Q5_K] = llp_gemm_q5_k_##kq,      \
        [LLP_Q6_K] = llp_gemm_q6_k_##kq,                                       \
    },                                                                         \
    .attn_dot = { llp_attn_dot_f32_##isa, llp_attn_dot_f16_##isa },            \
    .attn_mix = { llp_attn_mix_f32_##isa, llp_attn_mix_f16_##isa },            \
    .softmax = llp_softmax_##isa,                                              \
    .swiglu = llp_swiglu_##isa,                                                \
    .attn_dot_group = { llp_attn_dot_group_f32_##isa, llp_attn_dot_group_f16_##isa }, \
    .attn_mix_group = { llp_attn_mix_group_f32_##isa, llp_attn_mix_group_f16_##isa }, \
    __VA_ARGS__                                                                \
}

/* The avx512 set's legacy types use packed_avx512.c's batch entries (lane
 * kernels of lanes_avx512.c below 8 tokens), its Q2_K and Q4_K-Q6_K the
 * lane kernels of klanes_avx512.c, and every quantized type has a product
 * on packed weights (declared in kernels.h). */
const llp_kernel_set llp_kernels_avx2 = X86_SET(avx2, avx2, avx2,
    .gemm_packed = {
        [LLP_Q4_0] = llp_gemm_packed_q4_0_avx2, [LLP_Q4_1] = llp_gemm_packed_q4_1_avx2,
        [LLP_Q5_0] = llp_gemm_packed_q5_0_avx2, [LLP_Q5_1] = llp_gemm_packed_q5_1_avx2,
        [LLP_Q8_0] = llp_gemm_packed_q8_0_avx2,
        [LLP_Q4_K] = llp_gemm_packed_q4_k_avx2, [LLP_Q5_K] = llp_gemm_packed_q5_k_avx2,
        [LLP_Q6_K] = llp_gemm_packed_q6_k_avx2,
    });
const llp_kernel_set llp_kernels_avx512 = X86_SET(avx512, packed512, klanes512,
    .gemm_packed = {
        [LLP_Q4_0] = llp_gemm_packed_q4_0_avx512, [LLP_Q4_1] = llp_gemm_packed_q4_1_avx512,
        [LLP_Q5_0] = llp_gemm_packed_q5_0_avx512, [LLP_Q5_1] = llp_gemm_packed_q5_1_avx512,
        [LLP_Q8_0] = llp_gemm_packed_q8_0_avx512,
        [LLP_Q2_K] = llp_gemm_packed_q2_k_avx512, [LLP_Q3_K] = llp_gemm_packed_q3_k_avx512,
        [LLP_Q4_K] = llp_gemm_packed_q4_k_avx512, [LLP_Q5_K] = llp_gemm_packed_q5_k_avx512,
        [LLP_Q6_K] = llp_gemm_packed_q6_k_avx512,
    });
#endif

/* The set named `name` if this CPU can run it, else NULL. */
const llp_kernel_set *llp_kernels_by_name(const char *name)
{
    if (!name) return NULL;
    if (strcmp(name, "scalar") == 0) return &llp_kernels_scalar;
#ifdef HAVE_X86_SETS
    __builtin_cpu_init();
    bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                __builtin_cpu_supports("f16c");
    bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                  __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512vl") &&
                  __builtin_cpu_supports("avx512dq") &&
                  __builtin_cpu_supports("avx512vnni");
    if (strcmp(name, "avx2") == 0 && avx2) return &llp_kernels_avx2;
    if (strcmp(name, "avx512") == 0 && avx512) return &llp_kernels_avx512;
#endif
    return NULL;
}

static const llp_kernel_set *best_available(void)
{
    const llp_kernel_set *k = llp_kernels_by_name("avx512");
    if (!k) k = llp_kernels_by_name("avx2");
    if (!k) k = &llp_kernels_scalar;
    return k;
}

static _Atomic(const llp_kernel_set *) current;

const llp_kernel_set *llp_kernels_current(void)
{
    const llp_kernel_set *k = atomic_load_explicit(&current, memory_order_acquire);
    if (k) return k;
    const char *want = getenv("LLP_KERNELS");
    if (want && *want) {
        k = llp_kernels_by_name(want);
        if (!k)
            fprintf(stderr, "llamapipe: LLP_KERNELS=%s is not available on this "
                    "CPU (scalar, avx2, avx512); using %s\n", want,
                    best_available()->name);
    }
    if (!k) k = best_available();
    atomic_store_explicit(&current, k, memory_order_release);
    return k;
}

int llp_kernels_select(const char *name)
{
    const llp_kernel_set *k = llp_kernels_by_name(name);
    if (!k) return -1;
    atomic_store_explicit(&current, k, memory_order_release);
    return 0;
}
