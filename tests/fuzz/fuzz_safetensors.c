/*
 * fuzz_safetensors.c — libFuzzer harness for the binary files llp-convert
 * takes from a stranger: the safetensors reader (any bytes either open as a
 * file whose every tensor's data lies inside the mapping, or are refused
 * with a message naming the file) and, on the same bytes, the SentencePiece
 * model reader of tokenizer.model (hf_vocab_from_spm: accepted, or refused
 * naming the file). Never a crash, a leak or undefined behaviour.
 *
 * Not for: JSON config files (jansson parses them; hf_config.c only reads
 * fields) or the conversion itself (tests/convert_*.t).
 *
 * Run: make fuzz (all harnesses), or build/fuzz/fuzz_safetensors CORPUS_DIR
 * tests/fuzz/corpus/safetensors. Seeds: two small safetensors files and a
 * tokenizer.model made by tests/hf_export.py.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "hf_vocab.h"
#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_bytes_path(data, size);
    llp_err err = {{0}};
    st_file *f = st_open(path, &err);
    if (!f) {
        if (strncmp(err.msg, path, strlen(path)) != 0) abort();
    } else {
        /* touch the first and last byte of every tensor: an offset the
         * validation let through past the mapping shows up here */
        volatile uint64_t sink = 0;
        for (size_t i = 0; i < st_n_tensors(f); i++) {
            const st_tensor *t = st_tensor_at(f, i);
            uint64_t n = t->end - t->begin;
            if (n) sink += ((const uint8_t *)t->data)[0] + ((const uint8_t *)t->data)[n - 1];
            if (st_find(f, t->name) == NULL) abort();
            sink += t->n_elements + (uint64_t)t->n_dims + t->type;
        }
        (void)sink;
        st_close(f);
    }

    hf_vocab v;
    if (hf_vocab_from_spm(data, size, path, &v, &err) == 0) {
        for (int i = 0; i < v.n; i++)
            if (!v.pieces[i] || v.types[i] < 1 || v.types[i] > 6) abort();
        hf_vocab_free(&v);
    } else if (strncmp(err.msg, path, strlen(path)) != 0) {
        abort();
    }
    return 0;
}
