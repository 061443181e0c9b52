/*
 * kquants_avx2.c — the avx2 copy of the x86 K-quant kernels (Q2_K ... Q6_K):
 * AVX2 + FMA + F16C (vpmaddubsw byte dots).
 *
 * Not for: code of its own; the body is x86_kquants.inc, shared with the
 * other x86 set. The Makefile compiles this file with the matching -m flags
 * and kernels/dispatch.c only calls it when the CPU has them.
 */
#define LLP_ISA avx2
#include "kernels/x86_kquants.inc"
