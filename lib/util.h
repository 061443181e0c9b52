/*
 * util.h — small shared helpers: error values, checked allocation, float
 * format conversions, and time.
 *
 * Not for: anything that knows about models, records or the store.
 *
 * Errors are values: a function that can fail takes an `llp_err *` and
 * returns non-zero (or NULL) after filling it with a message that names the
 * input at fault, e.g. "model.gguf: tensor table truncated (tensor 3 of 9)".
 * The binaries print it as "llp-NAME: error: MESSAGE".
 */
#ifndef LLP_UTIL_H
#define LLP_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

typedef struct llp_err {
    char msg[1024];
} llp_err;

/* Fill err (if non-NULL) with a printf-style message. Always returns -1 so a
 * caller can write `return llp_err_set(err, ...);`. */
int llp_err_set(llp_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Allocation that aborts with a message on failure: callers never see NULL.
 * Use only for sizes the program itself chose or already checked against
 * the input; sizes read from a file must be validated first. */
void *llp_malloc(size_t n);
void *llp_calloc(size_t count, size_t size);
void *llp_realloc(void *p, size_t n);
char *llp_strdup(const char *s);
char *llp_strndup(const char *s, size_t n);
/* dir/name, newly allocated (no second slash when dir ends in one). */
char *llp_path_join(const char *dir, const char *name);

/* IEEE half, bfloat16 <-> float. */
float    llp_fp16_to_f32(uint16_t h);
uint16_t llp_f32_to_fp16(float f);
float    llp_bf16_to_f32(uint16_t h);
uint16_t llp_f32_to_bf16(float f);   /* round to nearest even */

/* The shortest decimal that reads back as f, as a double: 0.8f gives 0.8,
 * not 0.800000011920929. For recording a float setting as it was given. */
double llp_f32_decimal(float f);

/* Monotonic clock in seconds. */
double llp_now(void);

#endif
