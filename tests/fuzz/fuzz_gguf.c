/*
 * fuzz_gguf.c — libFuzzer harness for everything that reads a GGUF file
 * from a stranger: the reader (any bytes either open as a file whose every
 * accessor then works on every key and tensor, or are refused with a
 * message naming the file), and on top of an accepted file the vocabulary
 * loader, the model loader (llama.* keys, tensor shapes) and `llp info`.
 * Never a crash, a leak or undefined behaviour.
 *
 * Not for: encoding and decoding text (fuzz_tokenizer.c) or running a
 * model (the seeds' weights are never used).
 *
 * Run: make fuzz (all harnesses), or build/fuzz/fuzz_gguf CORPUS_DIR
 * tests/fuzz/corpus/gguf. Seeds are small valid files made by the writer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "gguf.h"
#include "info.h"
#include "model.h"
#include "tokenizer.h"

/* Touch every value the accessors can return, so that a bad offset kept by
 * a lax validation shows up as an ASan report here rather than later. */
static void walk(const gguf_file *f)
{
    volatile uint64_t sink = gguf_version(f) + gguf_alignment(f) + gguf_data_offset(f)
                           + gguf_file_size(f);
    for (int64_t i = 0; i < gguf_n_kv(f); i++) {
        const char *key = gguf_kv_key(f, i);
        uint32_t type = gguf_kv_type(f, i);
        sink += strlen(key) + type + (uint64_t)gguf_find_key(f, key);
        int64_t iv; uint64_t uv; double dv; bool bv; const char *s; size_t len;
        if (gguf_get_int(f, key, &iv) == 0) sink += (uint64_t)iv;
        if (gguf_get_uint(f, key, &uv) == 0) sink += uv;
        if (gguf_get_float(f, key, &dv) == 0) sink += (uint64_t)(dv == dv);
        if (gguf_get_bool(f, key, &bv) == 0) sink += bv;
        if (gguf_get_str(f, key, &s, &len) == 0) sink += strlen(s) + len;
        uint32_t et; uint64_t n;
        if (gguf_get_arr(f, key, &et, &n) == 0) {
            const uint8_t *raw = gguf_arr_data(f, key);
            size_t esize = gguf_value_size(et);
            for (uint64_t j = 0; j < n && j < 4096; j++) {
                if (raw && esize) sink += raw[j * esize + esize - 1];
                sink += (uint64_t)gguf_arr_int(f, key, j);
                sink += (uint64_t)(gguf_arr_float(f, key, j) != 0);
                const char *e = gguf_arr_str(f, key, j, &len);
                if (e && len) sink += (uint8_t)e[len - 1];
            }
            /* Out-of-range elements must be refused, not read. */
            sink += (uint64_t)gguf_arr_int(f, key, n) + (gguf_arr_str(f, key, n, &len) != NULL);
        }
        sink += strlen(gguf_value_type_name(type));
    }
    sink += (gguf_kv_key(f, -1) == NULL) + (gguf_kv_key(f, gguf_n_kv(f)) == NULL);
    const uint8_t *bytes = gguf_bytes(f);
    for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        sink += (gguf_find_tensor(f, t->name) != NULL) + t->n_dims + t->type;
        /* The first and last byte of the data lie inside the mapping. */
        if (t->n_bytes) {
            const uint8_t *d = t->data;
            sink += d[0] + d[t->n_bytes - 1];
            sink += (uint64_t)(d - bytes);
        }
    }
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_bytes_path(data, size);
    llp_err err = {{0}};
    gguf_file *f = gguf_open(path, &err);
    if (!f) {
        /* Every refusal names the file. */
        if (strncmp(err.msg, path, strlen(path)) != 0) abort();
        return 0;
    }
    walk(f);

    llp_tokenizer *t = llp_tokenizer_from_gguf(f, &err);
    if (t) {
        llp_tokens ids = {0};
        if (llp_tokenize(t, "Hello <s> world\xff", 16, true, true, &ids, &err) != 0) abort();
        size_t len;
        free(llp_detokenize(t, ids.ids, ids.n, true, &len, &err));
        llp_tokens_free(&ids);
        llp_tokenizer_free(t);
    } else if (strncmp(err.msg, path, strlen(path)) != 0) {
        abort();
    }

    json_decref(llp_model_info(path, &err));

    llp_model *m = llp_model_from_gguf(f, &err);   /* owns f when it succeeds */
    if (m) llp_model_free(m);
    else gguf_close(f);
    return 0;
}
