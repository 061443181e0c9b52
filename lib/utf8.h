/*
 * utf8.h — checking and repairing UTF-8 byte strings.
 *
 * For: the record layer (text read from CSV, lines and documents may hold any
 * bytes), and anything that turns model output bytes (a token can end in the
 * middle of a character) into a JSON string.
 *
 * Not for: tokenization (the tokenizer works on raw bytes and falls back to
 * byte tokens), or Unicode normalisation of any kind.
 *
 * "Valid" means RFC 3629: no overlong forms, no surrogates (U+D800..DFFF), no
 * code point above U+10FFFF. NUL bytes are valid UTF-8; callers that cannot
 * hold them check for them separately.
 */
#ifndef LLP_UTF8_H
#define LLP_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length in bytes (1..4) of the valid UTF-8 sequence starting at s[0], or 0
 * when the bytes at s (n of them available) do not start one. */
size_t llp_utf8_seq_len(const unsigned char *s, size_t n);

/* True when all n bytes of s are valid UTF-8. */
bool llp_utf8_valid(const char *s, size_t n);

/* Number of bytes of s (n bytes) that are not part of a valid sequence. */
size_t llp_utf8_invalid_bytes(const char *s, size_t n);

/* A newly allocated copy of s (n bytes) in which every maximal invalid
 * subsequence is replaced by U+FFFD (EF BF BD), the "substitution of maximal
 * subparts" practice of Unicode chapter 3, so the same bytes always give the
 * same string. The result is NUL-terminated; its length (which may hold
 * embedded NULs copied from s) is stored in *out_len when out_len is non-NULL.
 * The caller frees it. Never fails (allocation failure aborts). */
char *llp_utf8_sanitize(const char *s, size_t n, size_t *out_len);

#endif
