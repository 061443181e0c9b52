/*
 * fuzz_jsonl.c — libFuzzer harness for the JSONL reader: any bytes read as
 * JSON Lines with the default text field, and again with --field body,
 * --id-column key and a preferred "prompt" field, each record then written
 * out as JSONL and CSV. No crash, leak, undefined behaviour, or record
 * breaking the promises of records.h.
 *
 * Not for: exact parsing results (tests/records_jsonl.c).
 */
#include "fuzz_records.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_bytes_path(data, size);
    fuzz_read_all(path, (llp_reader_opts){.format = LLP_FMT_JSONL});
    fuzz_read_all(path, (llp_reader_opts){.format = LLP_FMT_JSONL, .field = "body",
                                          .id_column = "key"});
    fuzz_read_all(path, (llp_reader_opts){.format = LLP_FMT_JSONL, .prefer_field = "prompt"});
    return 0;
}
