/*
 * attention_avx512.c — x86_attention.inc compiled for AVX512 (see there).
 */
#define LLP_ISA avx512
#include "kernels/x86_attention.inc"
