/*
 * utf8.c — UTF-8 validation and U+FFFD repair (see utf8.h).
 *
 * Not for: decoding to code points or anything locale-dependent; the record
 * layer only needs to know which bytes form valid sequences.
 */
#include "utf8.h"

#include <string.h>

#include "util.h"

/* How far the bytes at s (n available) follow the pattern of a valid UTF-8
 * sequence: returns the full sequence length when valid, else minus the
 * length of the "maximal subpart" (the longest prefix that could still have
 * begun a valid sequence, at least 1). The byte ranges are RFC 3629's table,
 * which is what rules out overlongs, surrogates and values past U+10FFFF. */
static long seq_match(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;   /* allowed range of the 2nd byte */

    if (c < 0x80) return 1;
    if (c < 0xC2) return -1;              /* continuation byte or overlong lead */
    if (c < 0xE0) need = 2;
    else if (c < 0xF0) {
        need = 3;
        if (c == 0xE0) lo = 0xA0;         /* overlong */
        if (c == 0xED) hi = 0x9F;         /* surrogates */
    } else if (c < 0xF5) {
        need = 4;
        if (c == 0xF0) lo = 0x90;         /* overlong */
        if (c == 0xF4) hi = 0x8F;         /* past U+10FFFF */
    } else return -1;

    for (size_t i = 1; i < need; i++) {
        unsigned char lo_i = i == 1 ? lo : 0x80, hi_i = i == 1 ? hi : 0xBF;
        if (i >= n || s[i] < lo_i || s[i] > hi_i) return -(long)i;
    }
    return (long)need;
}

size_t llp_utf8_seq_len(const unsigned char *s, size_t n)
{
    if (n == 0) return 0;
    long m = seq_match(s, n);
    return m > 0 ? (size_t)m : 0;
}

bool llp_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) { i++; continue; }   /* ASCII fast path */
        long m = seq_match(p + i, n - i);
        if (m < 0) return false;
        i += (size_t)m;
    }
    return true;
}

size_t llp_utf8_invalid_bytes(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, bad = 0;
    while (i < n) {
        if (p[i] < 0x80) { i++; continue; }
        long m = seq_match(p + i, n - i);
        if (m < 0) { bad += (size_t)-m; i += (size_t)-m; }
        else i += (size_t)m;
    }
    return bad;
}

char *llp_utf8_sanitize(const char *s, size_t n, size_t *out_len)
{
    const unsigned char *p = (const unsigned char *)s;
    /* Worst case: every byte is its own invalid subpart, 1 byte -> 3. (n is
     * the size of a buffer already in memory, so 3n cannot overflow on a
     * 64-bit machine.) */
    char *out = llp_malloc(n * 3 + 1);
    size_t o = 0, i = 0;
    while (i < n) {
        if (p[i] < 0x80) { out[o++] = (char)p[i++]; continue; }
        long m = seq_match(p + i, n - i);
        if (m > 0) {
            memcpy(out + o, p + i, (size_t)m);
            o += (size_t)m;
            i += (size_t)m;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += (size_t)-m;
        }
    }
    out[o] = 0;
    if (out_len) *out_len = o;
    return out;
}
