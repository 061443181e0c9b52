/*
 * kquants_avx512.c — the avx512 copy of the x86 K-quant kernels (Q2_K ... Q6_K):
 * AVX-512 F/BW/VL/DQ + VNNI (vpdpbusd byte dots on 256-bit vectors).
 *
 * Not for: code of its own; the body is x86_kquants.inc, shared with the
 * other x86 set. The Makefile compiles this file with the matching -m flags
 * and kernels/dispatch.c only calls it when the CPU has them.
 */
#define LLP_ISA avx512
#include "kernels/x86_kquants.inc"
