/*
 * attention_avx2.c — x86_attention.inc compiled for AVX2 (see there).
 */
#define LLP_ISA avx2
#include "kernels/x86_attention.inc"
