/*
 * fuzz_records.h — the body the CSV and JSONL harnesses share: read every
 * record of one input through the public reader with the given options,
 * check the invariants records.h promises for each record, and write every
 * record through the JSONL and CSV writers into /dev/null.
 *
 * Not for: the records tests proper (tests/records_*.c check exact values);
 * this only looks for crashes, leaks, undefined behaviour and broken
 * promises on arbitrary bytes.
 */
#ifndef LLP_FUZZ_RECORDS_H
#define LLP_FUZZ_RECORDS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "records.h"

/* Reads `path` with `opts` (paths filled in here). A fatal refusal must
 * carry a message; every record must keep records.h's promises. */
static void fuzz_read_all(const char *path, llp_reader_opts opts)
{
    char *paths[1] = {(char *)path};
    opts.paths = paths;
    opts.n_paths = 1;
    opts.quiet = true;
    opts.tool = "fuzz";
    llp_err err = {{0}};
    llp_reader *rd = llp_reader_open(&opts, &err);
    if (!rd) {
        if (!err.msg[0]) abort();
        return;
    }
    size_t n_cols = 0;
    char *const *cols = llp_reader_columns(rd, &n_cols);
    static const char *const added[] = {"label", "score"};
    llp_writer *wr[2] = {0};
    llp_format out_formats[2] = {LLP_FMT_JSONL, LLP_FMT_CSV};
    for (int k = 0; k < 2; k++) {
        llp_writer_opts wo = {
            .format = out_formats[k], .input_format = llp_reader_format(rd),
            .input_columns = cols, .n_input_columns = n_cols,
            .output_columns = added, .n_output_columns = 2,
            .stream = fuzz_null_stream(), .stream_name = "/dev/null",
        };
        wr[k] = llp_writer_open(&wo, &err);
        if (!wr[k]) abort();
    }
    llp_record *rec;
    int rc;
    long n = 0;
    while ((rc = llp_reader_next(rd, &rec, &err)) == 1) {
        n++;
        if (!rec->id || !rec->text || !rec->where || !json_is_object(rec->fields)) abort();
        if (strlen(rec->text) > rec->text_len) abort();
        if (rec->ordinal != n) abort();
        if (!rec->error && n % 2) {
            llp_record_add(rec, "label", json_string("x"));
            llp_record_add(rec, "score", json_real(0.5));
        } else if (!rec->error && n % 3 == 0) {
            llp_record_fail(rec, "fuzz %ld", n);
        }
        for (int k = 0; k < 2; k++)
            if (llp_writer_write(wr[k], rec, &err) != LLP_WRITE_OK) abort();
        llp_record_free(rec);
    }
    if (rc < 0 && !err.msg[0]) abort();
    for (int k = 0; k < 2; k++)
        if (llp_writer_close(wr[k], &err) != LLP_WRITE_OK) abort();
    llp_reader_close(rd);
}

#endif
