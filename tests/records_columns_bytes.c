/*
 * records_columns_bytes.c — what CSV/TSV output keeps: every input's
 * columns (CSV files with different headers, JSONL records with different
 * fields, a mix), never a field dropped by a writer whose header is fixed,
 * and every input field's bytes as they came in (invalid UTF-8, CR, CRLF),
 * while JSONL output stays valid JSON with U+FFFD.
 *
 * Not for: reading well-formed or malformed CSV (records_csv.c,
 * records_csv_malformed.c), stdin (cli_records.t).
 */
#include "records_helpers.h"

static const char *dir;

/* Reads the given files and writes them with a reader-backed writer in
 * `fmt`, adding n_tokens=1 to each record; the output, newly allocated. */
static char *convert(char **paths, llp_format fmt, const char *column)
{
    llp_reader_opts ro = paths_opts(paths);
    ro.column = column;
    llp_err err = {{0}};
    llp_reader *r = llp_reader_open(&ro, &err);
    if (!r) {
        diag("open: %s", err.msg);
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    const char *outs[] = {"n_tokens"};
    llp_writer_opts wo = {.format = fmt, .input_format = llp_reader_format(r), .reader = r,
                          .output_columns = outs, .n_output_columns = 1, .stream = mem};
    llp_writer *w = llp_writer_open(&wo, &err);
    if (!w) diag("writer: %s", err.msg);
    llp_record *rec;
    int rc;
    while (w && (rc = llp_reader_next(r, &rec, &err)) == 1) {
        if (!rec->error) llp_record_add(rec, "n_tokens", json_integer(1));
        if (llp_writer_write(w, rec, &err) != LLP_WRITE_OK) diag("write: %s", err.msg);
        llp_record_free(rec);
    }
    llp_writer_close(w, &err);
    llp_reader_close(r);
    fclose(mem);
    return buf;
}

static bool starts_with(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static void expect_output(const char *got, const char *want, const char *what)
{
    ok(got && strcmp(got, want) == 0, "%s", what);
    if (!got || strcmp(got, want) != 0) diag("got:\n%s", got ? got : "(null)");
}

static void test_csv_headers_union(void)
{
    const char *a = scratch_path(dir, "a.csv"), *b = scratch_path(dir, "b.csv");
    write_text(a, "id,text,lang\n1,hello,en\n");
    write_text(b, "id,source,text\n2,web,bonjour\n");
    char *paths[] = {(char *)a, (char *)b, NULL};
    char *out = convert(paths, LLP_FMT_AUTO, NULL);
    expect_output(out, "id,text,lang,source,n_tokens,error\n"
                       "1,hello,en,,1,\n"
                       "2,bonjour,,web,1,\n",
                  "two CSV files, two headers: the union of their columns, first seen first");
    free(out);
}

static void test_jsonl_fields_union(void)
{
    const char *j = scratch_path(dir, "mixed.jsonl");
    write_text(j, "{\"id\":\"1\",\"text\":\"a\"}\n"
                  "not json\n"
                  "{\"id\":\"2\",\"text\":\"b\",\"extra\":\"e\",\"n\":3}\n");
    char *paths[] = {(char *)j, NULL};
    char *out = convert(paths, LLP_FMT_CSV, NULL);
    /* The line that is not JSON fails; its message names it. */
    ok(starts_with(out, "id,text,extra,n,n_tokens,error\n1,a,,,1,\n") &&
       strstr(out, "\n2,b,e,3,1,\n"),
       "JSONL with different fields: every field gets a column (a first pass over the file)");
    if (out && !strstr(out, "\n2,b,e,3,1,\n")) diag("got:\n%s", out);
    free(out);

    /* CSV, JSONL and lines together. */
    const char *c = scratch_path(dir, "one.csv"), *t = scratch_path(dir, "lines.txt");
    write_text(c, "text,stars\ngood,5\n");
    write_text(t, "plain line\n");
    char *paths2[] = {(char *)c, (char *)j, (char *)t, NULL};
    out = convert(paths2, LLP_FMT_TSV, NULL);
    ok(starts_with(out, "text\tstars\tid\textra\tn\tn_tokens\terror\n") &&
       strstr(out, "\nb\t\t2\te\t3\t1\t\n") && strstr(out, "\nplain line\t\t5\t\t\t1\t\n"),
       "CSV, JSONL and lines: one header holding all their fields");
    if (out && !strstr(out, "\nb\t\t2\te\t3\t1\t\n")) diag("got:\n%s", out);
    free(out);
}

static void test_writer_refuses_to_drop(void)
{
    /* A writer without a reader takes its columns from the first record; a
     * later good record with another field is a write error, not a loss. */
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    llp_writer_opts wo = {.format = LLP_FMT_CSV, .stream = mem};
    llp_err err = {{0}};
    llp_writer *w = llp_writer_open(&wo, &err);
    llp_record *r1 = llp_record_new("1", "a", 1, "x.jsonl:1");
    llp_record *r2 = llp_record_new("2", "b", 1, "x.jsonl:2");
    llp_record_add(r2, "extra", json_string("e"));
    llp_record *r3 = llp_record_new("3", "c", 1, "x.jsonl:3");
    llp_record_add(r3, "other", json_string("o"));
    llp_record_fail(r3, "boom");
    is_int(llp_writer_write(w, r1, &err), LLP_WRITE_OK, "first record fixes the columns");
    is_int(llp_writer_write(w, r2, &err), LLP_WRITE_FAILED, "a field outside them: write error");
    ok(strstr(err.msg, "x.jsonl:2: field 'extra' has no column in the CSV header") != NULL,
       "the error names the record and the field (%s)", err.msg);
    is_int(llp_writer_write(w, r3, &err), LLP_WRITE_OK,
           "a failed record is written: its error says what is wrong");
    llp_writer_close(w, &err);
    fclose(mem);
    ok(buf && !strstr(buf, "\n2,"), "the refused record is not written short of a field");
    free(buf);
    llp_record_free(r1);
    llp_record_free(r2);
    llp_record_free(r3);
}

static void test_bytes_pass_through(void)
{
    /* Latin-1 in a column the tool does not read and in the text, a CRLF
     * and a lone CR inside quotes, a quote. */
    static const char csv[] = "id,text,note\r\n"
                              "1,\"caf\xe9\r\nline\",na\xefve\r\n"
                              "2,\"cr\ronly \"\"q\"\"\",\xff\r\n";
    const char *path = scratch_path(dir, "bytes.csv");
    write_bytes(path, csv, sizeof csv - 1);
    char *paths[] = {(char *)path, NULL};
    char *out = convert(paths, LLP_FMT_AUTO, NULL);
    expect_output(out, "id,text,note,n_tokens,error\n"
                       "1,\"caf\xe9\r\nline\",na\xefve,1,\n"
                       "2,\"cr\ronly \"\"q\"\"\",\xff,1,\n",
                  "CSV out: every field byte for byte (invalid UTF-8, CRLF, lone CR in quotes)");
    free(out);

    out = convert(paths, LLP_FMT_TSV, NULL);
    expect_output(out, "id\ttext\tnote\tn_tokens\terror\n"
                       "1\t\"caf\xe9\r\nline\"\tna\xefve\t1\t\n"
                       "2\t\"cr\ronly \"\"q\"\"\"\t\xff\t1\t\n",
                  "TSV out: the same bytes");
    free(out);

    /* The TSV output read back gives the same fields, bytes and all. */
    const char *again = scratch_path(dir, "bytes.tsv");
    char *tsv = convert(paths, LLP_FMT_TSV, NULL);
    write_text(again, tsv ? tsv : "");
    free(tsv);
    char *paths2[] = {(char *)again, NULL};
    llp_reader_opts o = paths_opts(paths2);
    llp_record **r;
    llp_err err = {{0}};
    long n = read_all(&o, &r, &err);
    ok(n == 2 && strcmp(r[0]->text, "caf\xe9\r\nline") == 0 && r[1]->n_raw == 1 &&
       strcmp(r[1]->raw[0].bytes, "\xff") == 0, "TSV output reads back to the input bytes");
    if (n > 0) free_records(r, n);

    /* JSONL must be UTF-8: U+FFFD there, and valid JSON. */
    out = convert(paths, LLP_FMT_JSONL, NULL);
    ok(out && strstr(out, "{\"id\":\"1\",\"text\":\"caf\xEF\xBF\xBD\\r\\nline\",\"note\":\"na\xEF\xBF\xBDve\"") != NULL,
       "JSONL out: U+FFFD for bytes that are not UTF-8, CRLF escaped");
    json_error_t jerr;
    json_t *j = out ? json_loadb(out, strcspn(out, "\n"), 0, &jerr) : NULL;
    ok(j != NULL, "JSONL out: valid JSON");
    json_decref(j);
    free(out);

    /* A tool that replaces a field replaces its bytes: no stale raw bytes. */
    llp_record *rec = llp_record_new("1", "\xff", 1, "x:1");
    llp_record_add(rec, "text", json_string("new"));
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    const char *cols[] = {"id", "text"};
    llp_writer_opts wo = {.format = LLP_FMT_CSV, .input_columns = (char *const *)cols,
                          .n_input_columns = 2, .stream = mem};
    llp_writer *w = llp_writer_open(&wo, &err);
    llp_writer_write(w, rec, &err);
    llp_writer_close(w, &err);
    fclose(mem);
    expect_output(buf, "id,text,error\n1,new,\n", "a replaced field is written as replaced");
    free(buf);
    llp_record_free(rec);
}

int main(void)
{
    dir = scratch_dir("records_columns_bytes");
    test_csv_headers_union();
    test_jsonl_fields_union();
    test_writer_refuses_to_drop();
    test_bytes_pass_through();
    return done_testing();
}
