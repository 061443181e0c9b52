/*
 * store_fill.c — writes a shard store the way a finished llp-summarize run
 * would leave it, fast: one model, one job of N items, each item with a
 * summary text (indexed by FTS5 like a real one), a label and a score. Used
 * by bench/merge_bench.sh to time `llp-jobs merge` over many such stores
 * without spending hours computing real outputs.
 *
 * Not for: tests (tests/shard_merge.t merges stores the tools wrote), or
 * anything a user runs. Build (after `make`, which builds the library):
 *   cc -std=c11 -D_GNU_SOURCE -O2 -Ilib bench/store_fill.c build/rel/libllamapipe.a \
 *      -lopenblas -lsqlite3 -lyaml -ljansson -lxxhash -lm -pthread -o build/store_fill
 *   build/store_fill OUT.db SHARD N_ITEMS [SUMMARY_BYTES]
 *
 * Items are committed 1000 to a transaction (the tools commit every 16
 * records or 2 s; the file that results is the same, only writing it is
 * slower). Record ids are "doc-SHARD-I", so stores of different shards
 * never share an item, as real shards do not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "store.h"

/* Deterministic pseudo-random words: a summary of about `bytes` bytes. */
static void fake_summary(char *out, size_t bytes, uint64_t seed)
{
    static const char *const words[] = {
        "the", "customer", "reports", "delivery", "was", "late", "and", "refund",
        "requested", "product", "quality", "good", "battery", "screen", "support",
        "answered", "quickly", "price", "too", "high", "would", "buy", "again",
        "package", "damaged", "replacement", "arrived", "on", "time", "manual"};
    size_t n_words = sizeof words / sizeof words[0], len = 0;
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    out[0] = '\0';
    while (len + 16 < bytes) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;          /* xorshift64 */
        const char *w = words[x % n_words];
        len += (size_t)snprintf(out + len, bytes - len, "%s%s", len ? " " : "", w);
    }
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: store_fill OUT.db SHARD N_ITEMS [SUMMARY_BYTES]\n");
        return 2;
    }
    const char *path = argv[1];
    int shard = atoi(argv[2]);
    long n_items = atol(argv[3]);
    size_t summary_bytes = argc == 5 ? (size_t)atol(argv[4]) : 400;
    if (n_items < 0 || summary_bytes < 32 || summary_bytes > 1 << 20) {
        fprintf(stderr, "store_fill: N_ITEMS >= 0 and 32 <= SUMMARY_BYTES <= 1 MiB\n");
        return 2;
    }

    llp_err err;
    llp_store *s = llp_store_open(path, &err);
    if (!s) {
        fprintf(stderr, "store_fill: %s\n", err.msg);
        return 1;
    }
    /* The same model in every shard, as a cluster run has. */
    char fp[LLP_HASH_HEX];
    llp_hash128("bench-model", 11, fp);
    json_t *meta = json_pack("{s:s,s:i}", "architecture", "llama", "n_layer", 40);
    int64_t model = llp_store_model(s, "/models/llama-2-13b-chat.Q4_K_M.gguf", fp,
                                    7865956224, meta, &err);
    json_decref(meta);
    json_t *params = json_pack("{s:i,s:s}", "max_tokens", 128, "prompt", "default");
    char params_hash[LLP_HASH_HEX];
    llp_hash_json(params, params_hash);
    char *job_argv[] = {"llp-summarize", "--shard", argv[2], "docs/"};
    llp_job_spec spec = {"summarize", 0, 4, job_argv, params, model};
    int64_t job = model < 0 ? -1 : llp_store_job_begin(s, &spec, &err);
    json_decref(params);
    if (job < 0) {
        fprintf(stderr, "store_fill: %s\n", err.msg);
        llp_store_close(s);
        return 1;
    }

    char *summary = malloc(summary_bytes);
    if (!summary) {
        fprintf(stderr, "store_fill: out of memory\n");
        llp_store_close(s);
        return 1;
    }
    static const char *const labels[] = {"positive", "negative", "neutral"};
    llp_job_counts counts = {0};
    int rc = 0;
    for (long i = 0; i < n_items && !rc; i++) {
        if (i % 1000 == 0 && (rc = llp_store_begin(s, &err))) break;
        char id[64], text[96];
        snprintf(id, sizeof id, "doc-%d-%ld", shard, i);
        snprintf(text, sizeof text, "the text of document %d-%ld", shard, i);
        fake_summary(summary, summary_bytes, (uint64_t)shard << 32 | (uint64_t)i);
        json_t *out = json_pack("{s:s,s:i,s:s,s:f}", "summary", summary, "chunks", 1,
                                "label", labels[i % 3], "score", 0.5 + (double)(i % 50) / 100);
        llp_cache_key key = {"summarize", fp, params_hash, ""};
        llp_hash128(text, strlen(text), key.input_hash);
        llp_item item = {id, out, NULL, 900, 128, 2500.0, false};
        rc = llp_store_item_put(s, job, &key, &item, &err);
        json_decref(out);
        counts.n_items++;
        counts.tokens_in += 900;
        counts.tokens_out += 128;
        if (!rc && (i % 1000 == 999 || i == n_items - 1)) rc = llp_store_commit(s, &err);
    }
    free(summary);
    if (!rc) rc = llp_store_job_update(s, job, LLP_JOB_DONE, &counts, &err);
    if (rc) fprintf(stderr, "store_fill: %s\n", err.msg);
    llp_store_close(s);
    return rc ? 1 : 0;
}
