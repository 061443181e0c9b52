/*
 * fuzz_csv.c — libFuzzer harness for the CSV/TSV reader: any bytes read as
 * CSV with a header (text column "text", id column "id"), as CSV without a
 * header (column col1), and as TSV with a header, each record then written
 * out as JSONL and CSV. No crash, leak, undefined behaviour, or record
 * breaking the promises of records.h.
 *
 * Not for: exact parsing results (tests/records_csv.c).
 */
#include "fuzz_records.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_bytes_path(data, size);
    fuzz_read_all(path, (llp_reader_opts){.format = LLP_FMT_CSV});
    fuzz_read_all(path, (llp_reader_opts){.format = LLP_FMT_CSV, .no_header = true,
                                          .column = "col1", .id_column = "col2"});
    fuzz_read_all(path, (llp_reader_opts){.format = LLP_FMT_TSV, .column = "review"});
    return 0;
}
