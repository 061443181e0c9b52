/*
 * hash.h — 128-bit content hashes (hex strings) for cache keys and model
 * fingerprints.
 *
 * Not for: --shard assignment (records.h: llp_shard_match), or anything
 * cryptographic. These hashes identify content we wrote or read ourselves
 * (inputs, parameters, model files); they are not a defence against someone
 * crafting collisions.
 *
 * Why XXH3-128 from libxxhash: it is a well-kept, widely packaged library
 * (Debian libxxhash-dev), hashes at memory speed (a fingerprint reads a few
 * MiB of a model, a cache lookup hashes every record), and 128 bits makes an
 * accidental collision between two cache keys negligible even in stores of
 * billions of items. Its output is stable across platforms and versions
 * (the canonical big-endian form is specified), so a store stays valid when
 * it moves between machines or is merged with others.
 */
#ifndef LLP_HASH_H
#define LLP_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "util.h"

/* 32 lowercase hex digits plus the terminating NUL. */
#define LLP_HASH_HEX 33

/* Hash of a byte range, as hex. */
void llp_hash128(const void *data, size_t n, char out[LLP_HASH_HEX]);

/* Streaming hasher over several parts. Each part added with
 * llp_hasher_add_str/add_json is length-prefixed, so ("ab","c") and
 * ("a","bc") hash differently. Create, add, finish (which frees it). */
typedef struct llp_hasher llp_hasher;
llp_hasher *llp_hasher_new(void);
void llp_hasher_add(llp_hasher *h, const void *data, size_t n); /* raw bytes */
void llp_hasher_add_str(llp_hasher *h, const char *s);          /* NULL = "" */
void llp_hasher_add_json(llp_hasher *h, const json_t *v);       /* canonical */
void llp_hasher_finish(llp_hasher *h, char out[LLP_HASH_HEX]);

/* Canonical hash of a JSON value: keys sorted, compact encoding, so the same
 * parameters in any key order give the same hash. NULL hashes as `null`. */
void llp_hash_json(const json_t *v, char out[LLP_HASH_HEX]);

/* Fingerprint of a GGUF model file, independent of the loader: the caller
 * passes the whole file as `bytes` (usually its mmap), its `size`, and the
 * offset where tensor data starts. Hashed: the file size, everything before
 * data_offset (header, key-value table, tensor table), and 16 sampled 4 KiB
 * blocks of the data section (evenly spaced, including the first and the
 * last). Two files with the same fingerprint are, for every practical
 * purpose, the same model; renaming or moving a file keeps its fingerprint.
 * `path` only names the file in errors. Fails when data_offset > size. */
int llp_model_fingerprint(const char *path, const void *bytes, uint64_t size,
                          uint64_t data_offset, char out[LLP_HASH_HEX],
                          llp_err *err);

#endif
