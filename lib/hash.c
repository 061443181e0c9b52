/*
 * hash.c — XXH3-128 hex hashes, a length-prefixed streaming hasher, the
 * canonical JSON hash, and the GGUF model fingerprint.
 *
 * Not for: shard assignment (records.c) or any security use; see hash.h for
 * why XXH3-128.
 */
#include "hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

struct llp_hasher {
    XXH3_state_t *state;
};

static void to_hex(XXH128_hash_t h, char out[LLP_HASH_HEX])
{
    /* The canonical form is big-endian and specified by xxHash, so the hex
     * string is the same on every platform. */
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, h);
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = digits[c.digest[i] >> 4];
        out[2 * i + 1] = digits[c.digest[i] & 15];
    }
    out[32] = '\0';
}

void llp_hash128(const void *data, size_t n, char out[LLP_HASH_HEX])
{
    to_hex(XXH3_128bits(data, n), out);
}

llp_hasher *llp_hasher_new(void)
{
    llp_hasher *h = llp_malloc(sizeof *h);
    h->state = XXH3_createState();
    if (!h->state) {
        fprintf(stderr, "llamapipe: error: out of memory (hash state)\n");
        abort();
    }
    XXH3_128bits_reset(h->state);
    return h;
}

void llp_hasher_add(llp_hasher *h, const void *data, size_t n)
{
    if (n) XXH3_128bits_update(h->state, data, n);
}

static void add_length(llp_hasher *h, uint64_t n)
{
    unsigned char le[8];
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)(n >> (8 * i));
    llp_hasher_add(h, le, sizeof le);
}

void llp_hasher_add_str(llp_hasher *h, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    add_length(h, n);
    llp_hasher_add(h, s, n);
}

/* Compact, sorted keys, 17 significant digits: one byte string per value. */
static char *canonical_json(const json_t *v)
{
    if (!v) return llp_strdup("null");
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY |
                                JSON_REAL_PRECISION(17));
    return s ? s : llp_strdup("null");
}

void llp_hasher_add_json(llp_hasher *h, const json_t *v)
{
    char *s = canonical_json(v);
    llp_hasher_add_str(h, s);
    free(s);
}

void llp_hasher_finish(llp_hasher *h, char out[LLP_HASH_HEX])
{
    to_hex(XXH3_128bits_digest(h->state), out);
    XXH3_freeState(h->state);
    free(h);
}

void llp_hash_json(const json_t *v, char out[LLP_HASH_HEX])
{
    char *s = canonical_json(v);
    llp_hash128(s, strlen(s), out);
    free(s);
}

/* Sampled data blocks: enough to tell apart two quantizations or
 * fine-tunes of one architecture (their header and tensor tables can be
 * identical) while reading only 64 KiB of a multi-GiB file. */
#define FP_BLOCKS 16
#define FP_BLOCK_BYTES 4096

int llp_model_fingerprint(const char *path, const void *bytes, uint64_t size,
                          uint64_t data_offset, char out[LLP_HASH_HEX],
                          llp_err *err)
{
    if (data_offset > size)
        return llp_err_set(err, "%s: data offset %llu is past the end of the "
                           "file (%llu bytes)", path ? path : "model",
                           (unsigned long long)data_offset,
                           (unsigned long long)size);
    if (!bytes && size)
        return llp_err_set(err, "%s: no file contents to fingerprint",
                           path ? path : "model");
    const unsigned char *p = bytes;
    llp_hasher *h = llp_hasher_new();
    llp_hasher_add_str(h, "llamapipe-model-fingerprint-v1");
    add_length(h, size);
    add_length(h, data_offset);
    llp_hasher_add(h, p, (size_t)data_offset);

    uint64_t data_len = size - data_offset;
    if (data_len <= (uint64_t)FP_BLOCKS * FP_BLOCK_BYTES) {
        llp_hasher_add(h, p + data_offset, (size_t)data_len);
    } else {
        uint64_t span = data_len - FP_BLOCK_BYTES;
        for (int i = 0; i < FP_BLOCKS; i++) {
            uint64_t at = data_offset + span * (uint64_t)i / (FP_BLOCKS - 1);
            add_length(h, at);
            llp_hasher_add(h, p + at, FP_BLOCK_BYTES);
        }
    }
    llp_hasher_finish(h, out);
    return 0;
}
