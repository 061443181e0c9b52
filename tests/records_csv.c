/*
 * records_csv.c — CSV and TSV input and output: RFC 4180 quoting, CRLF, BOM,
 * ragged rows, huge fields, bad bytes, header handling, and the round trip
 * that keeps every input column in order with the new columns after.
 *
 * Not for: JSONL (records_jsonl.c), lines and documents
 * (records_lines_docs.c).
 */
#include "records_helpers.h"

static const char *dir;

static long read_csv(const char *name, const char *content, llp_record ***recs, llp_err *err,
                     const char *column)
{
    const char *path = scratch_path(dir, name);
    write_text(path, content);
    char *paths[] = {(char *)path, NULL};
    llp_reader_opts o = paths_opts(paths);
    o.column = column;
    return read_all(&o, recs, err);
}

static void test_quoting(void)
{
    llp_record **r;
    llp_err err = {{0}};
    long n = read_csv("quoted.csv",
                      "id,text,note\n"
                      "a,\"hello, world\",\"she said \"\"hi\"\"\"\n"
                      "b,\"line one\nline two\",x\n"
                      "c,plain,\n",
                      &r, &err, NULL);
    is_int(n, 3, "quoted: three records");
    if (n != 3) { diag("%s", err.msg); return; }
    ok(strcmp(r[0]->text, "hello, world") == 0, "quoted: comma inside quotes kept");
    ok(strcmp(field_str(r[0], "note"), "she said \"hi\"") == 0, "quoted: doubled quotes undone");
    ok(strcmp(r[1]->text, "line one\nline two") == 0, "quoted: newline inside quotes kept");
    ok(strcmp(r[0]->id, "a") == 0 && strcmp(r[2]->id, "c") == 0, "quoted: ids from the id column");
    ok(strcmp(r[1]->where + strlen(r[1]->where) - 12, "quoted.csv:3") == 0, "quoted: row 2 starts on line 3 (%s)", r[1]->where);
    ok(strcmp(r[2]->where + strlen(r[2]->where) - 12, "quoted.csv:5") == 0, "quoted: line count goes on after a multi-line field (%s)", r[2]->where);
    ok(strcmp(field_str(r[2], "note"), "") == 0 && !r[2]->error, "quoted: empty last field is fine");
    for (long i = 0; i < n; i++) ok(!r[i]->error, "quoted: record %ld has no error", i + 1);
    free_records(r, n);
}

static void test_crlf_bom(void)
{
    llp_record **r;
    llp_err err = {{0}};
    long n = read_csv("crlf.csv", "\xEF\xBB\xBFtext,n\r\nfirst,1\r\n\"two\r\nlines\",2\r\nlast,3", &r, &err, NULL);
    is_int(n, 3, "crlf+bom: three records");
    if (n != 3) { diag("%s", err.msg); return; }
    ok(json_object_get(r[0]->fields, "text") != NULL, "bom: stripped from the first header name");
    ok(strcmp(r[0]->text, "first") == 0, "crlf: no CR left at the end of a field");
    ok(strcmp(field_str(r[0], "n"), "1") == 0, "crlf: last column has no CR");
    ok(strcmp(r[1]->text, "two\r\nlines") == 0, "crlf: CRLF inside quotes kept as is");
    ok(strcmp(r[2]->text, "last") == 0 && strcmp(field_str(r[2], "n"), "3") == 0,
       "last row without a newline is read");
    ok(strcmp(r[0]->id, "1") == 0 && strcmp(r[2]->id, "3") == 0, "no id column: ordinal ids");
    free_records(r, n);
}

static void test_ragged_empty_nul(void)
{
    llp_record **r;
    llp_err err = {{0}};
    static const char csv[] = "id,text,a,b\n1,ok,x,y\n2,short,x\n3,,x,y\n4,long,x,y,z\n5,n\0ul,x,y\n6,fine,,\n";
    const char *path = scratch_path(dir, "ragged.csv");
    write_bytes(path, csv, sizeof csv - 1);
    char *paths[] = {(char *)path, NULL};
    llp_reader_opts o = paths_opts(paths);
    long n = read_all(&o, &r, &err);
    is_int(n, 6, "ragged: every row gives a record");
    if (n != 6) { diag("%s", err.msg); return; }
    ok(!r[0]->error, "ragged: good row has no error");
    ok(r[1]->error && strstr(r[1]->error, "ragged.csv:3: row has 3 fields, header has 4"),
       "ragged: short row error names file:line and counts (%s)", r[1]->error ? r[1]->error : "none");
    ok(strcmp(field_str(r[1], "b"), "") == 0, "ragged: missing field is empty");
    ok(!r[2]->error && r[2]->text_len == 0, "an empty text field is a record with empty text (the task decides)");
    ok(r[3]->error && strstr(r[3]->error, "row has 5 fields, header has 4"), "ragged: long row error");
    ok(r[4]->error && strstr(r[4]->error, "NUL byte"), "NUL byte is a record error (%s)", r[4]->error ? r[4]->error : "none");
    ok(!r[5]->error && strcmp(r[5]->text, "fine") == 0, "reading goes on after bad rows; empty fields ok");
    free_records(r, n);
}

static void test_big_field_and_bad_utf8(void)
{
    size_t big = 1 << 20;
    char *csv = llp_malloc(big + 64);
    strcpy(csv, "text,k\n\"");
    size_t off = strlen(csv);
    for (size_t i = 0; i < big; i++) csv[off + i] = (char)('a' + i % 26);
    off += big;
    static const char tail[] = "\",1\nbad \xff\xfe bytes \xc3(,2\n";
    memcpy(csv + off, tail, sizeof tail - 1);
    off += sizeof tail - 1;
    const char *path = scratch_path(dir, "big.csv");
    write_bytes(path, csv, off);
    free(csv);

    llp_record **r;
    llp_err err = {{0}};
    char *paths[] = {(char *)path, NULL};
    llp_reader_opts o = paths_opts(paths);
    long n = read_all(&o, &r, &err);
    is_int(n, 2, "big: two records");
    if (n != 2) { diag("%s", err.msg); return; }
    is_int(r[0]->text_len, big, "big: 1 MB field read whole");
    ok(r[0]->text[big - 1] == (char)('a' + (big - 1) % 26), "big: last byte right");
    ok(memcmp(r[1]->text, "bad \xff\xfe bytes \xc3(", 16) == 0, "bad utf-8: raw bytes kept for the tool");
    const char *j = field_str(r[1], "text");
    ok(strcmp(j, "bad \xEF\xBF\xBD\xEF\xBF\xBD bytes \xEF\xBF\xBD(") == 0,
       "bad utf-8: JSON field has U+FFFD per bad byte");
    ok(!r[1]->error, "bad utf-8: not an error");
    free_records(r, n);
}

static void test_columns(void)
{
    llp_record **r;
    llp_err err = {{0}};
    long n = read_csv("cols.csv", "key,review,stars\nk1,great,5\n", &r, &err, NULL);
    ok(n < 0 && strstr(err.msg, "no column 'text'") && strstr(err.msg, "--column") &&
       strstr(err.msg, "key, review, stars"), "no text column: fatal error asks for --column (%s)", err.msg);
    n = read_csv("cols.csv", "key,review,stars\nk1,great,5\n", &r, &err, "review");
    ok(n == 1 && strcmp(r[0]->text, "great") == 0, "--column picks the text column");
    if (n > 0) free_records(r, n);

    const char *path = scratch_path(dir, "cols.csv");
    char *paths[] = {(char *)path, NULL};
    llp_reader_opts o = paths_opts(paths);
    o.column = "review";
    o.id_column = "key";
    n = read_all(&o, &r, &err);
    ok(n == 1 && strcmp(r[0]->id, "k1") == 0, "--id-column picks the id");
    if (n > 0) free_records(r, n);
    o.id_column = "nope";
    n = read_all(&o, &r, &err);
    ok(n < 0 && strstr(err.msg, "no column 'nope'"), "--id-column missing: fatal (%s)", err.msg);

    o.id_column = NULL;
    o.no_header = true;
    o.column = "col2";
    n = read_all(&o, &r, &err);
    is_int(n, 2, "--no-header: header row is data");
    if (n == 2) {
        ok(strcmp(r[0]->text, "review") == 0 && strcmp(r[1]->text, "great") == 0, "--no-header: col2 read");
        ok(strcmp(field_str(r[1], "col3"), "5") == 0, "--no-header: columns named col1..colN");
        free_records(r, n);
    }

    n = read_csv("dup.csv", "text,x,x\nt,1,2\n", &r, &err, NULL);
    ok(n == 1 && strcmp(field_str(r[0], "x"), "1") == 0 && strcmp(field_str(r[0], "x_2"), "2") == 0,
       "repeated header names are kept as name_2");
    if (n > 0) free_records(r, n);

    n = read_csv("upstream.csv", "text,label,error\nfine,pos,\nbad,,x.csv:2: boom\n", &r, &err, NULL);
    ok(n == 2 && !r[0]->error && r[1]->error && strcmp(r[1]->error, "x.csv:2: boom") == 0,
       "an upstream error column carries over to the record");
    if (n > 0) free_records(r, n);

    n = read_csv("empty.csv", "", &r, &err, NULL);
    ok(n == 0, "empty file: no records, no error");
}

static void test_round_trip(void)
{
    const char *path = scratch_path(dir, "trip.csv");
    write_text(path, "id,review,stars,error\n"
                     "r1,\"good, really\",5,\n"
                     "r2,\"said \"\"meh\"\"\nthen left\",2,\n"
                     "r3,,1\n");
    char *paths[] = {(char *)path, NULL};
    llp_reader_opts o = paths_opts(paths);
    o.column = "review";
    const char *outs[] = {"label", "score", "p_positive"};
    llp_writer_opts wo = {.output_columns = outs, .n_output_columns = 3};
    const char *add[] = {"label", "\"pos, maybe\"", "score", "0.25", "p_positive", "[1,2]", NULL};
    char *out = transcode(&o, wo, add);
    const char *want =
        "id,review,stars,label,score,p_positive,error\n"
        "r1,\"good, really\",5,\"pos, maybe\",0.25,\"[1,2]\",\n"
        "r2,\"said \"\"meh\"\"\nthen left\",2,\"pos, maybe\",0.25,\"[1,2]\",\n"
        "r3,,1,,,,\"trip.csv:5: row has 3 fields, header has 4\"\n";
    const char *got = out ? out : "";
    /* The error names the full path; compare with it cut down to the name. */
    char *cut = strstr(got, "r3,,1,,,,") ? llp_strdup(got) : NULL;
    if (cut) {
        char *e = strstr(cut, "r3,,1,,,,") + 9;
        if (*e == '"') e++;
        char *base = strstr(e, "trip.csv");
        if (base) memmove(e, base, strlen(base) + 1);
    }
    ok(cut && strcmp(cut, want) == 0, "round trip: columns in order, new columns after, error last");
    if (!cut || strcmp(cut, want) != 0) diag("got: %s", got);
    free(cut);

    /* Reading the output again gives the same input columns. */
    const char *again = scratch_path(dir, "trip2.csv");
    write_text(again, got);
    char *paths2[] = {(char *)again, NULL};
    llp_reader_opts o2 = paths_opts(paths2);
    o2.column = "review";
    llp_record **r;
    llp_err err = {{0}};
    long n = read_all(&o2, &r, &err);
    ok(n == 3 && strcmp(r[1]->text, "said \"meh\"\nthen left") == 0 &&
       strcmp(field_str(r[0], "label"), "pos, maybe") == 0, "round trip: output reads back");
    ok(n == 3 && r[2]->error && !r[0]->error, "round trip: the error column reads back as the error");
    if (n > 0) free_records(r, n);

    /* A second pass of the same tool replaces its columns, not duplicates. */
    char *out2 = transcode(&o2, wo, add);
    ok(out2 && strncmp(out2, "id,review,stars,label,score,p_positive,error\n", 45) == 0,
       "round trip: re-run keeps one copy of each output column");
    free(out2);

    /* JSONL output of CSV input: the columns as an object. */
    llp_writer_opts jo = {.format = LLP_FMT_JSONL};
    char *js = transcode(&o, jo, NULL);
    ok(js && strncmp(js, "{\"id\":\"r1\",\"review\":\"good, really\",\"stars\":\"5\",\"error\":\"\"}\n", 58) == 0,
       "CSV in, JSONL out: columns as string fields in order");
    free(js);

    /* Header-only input still gives a header. */
    const char *hdr = scratch_path(dir, "hdr.csv");
    write_text(hdr, "id,review\n");
    char *paths3[] = {(char *)hdr, NULL};
    llp_reader_opts o3 = paths_opts(paths3);
    o3.column = "review";
    char *h = transcode(&o3, wo, NULL);
    ok(h && strcmp(h, "id,review,label,score,p_positive,error\n") == 0, "header-only CSV: header out");
    free(h);
    free(out);
}

static void test_tsv(void)
{
    const char *path = scratch_path(dir, "data.tsv");
    write_text(path, "id\ttext\textra\nt1\thas, comma\t \nt2\t\"tab\there\"\tz\n");
    char *paths[] = {(char *)path, NULL};
    llp_reader_opts o = paths_opts(paths);
    llp_record **r;
    llp_err err = {{0}};
    long n = read_all(&o, &r, &err);
    is_int(n, 2, "tsv: two records");
    if (n == 2) {
        ok(strcmp(r[0]->text, "has, comma") == 0, "tsv: comma is plain text");
        ok(strcmp(field_str(r[0], "extra"), " ") == 0, "tsv: spaces are kept");
        ok(strcmp(r[1]->text, "tab\there") == 0, "tsv: quoted tab");
        free_records(r, n);
    }
    const char *outs[] = {"n"};
    llp_writer_opts wo = {.output_columns = outs, .n_output_columns = 1};
    const char *add[] = {"n", "7", NULL};
    char *out = transcode(&o, wo, add);
    ok(out && strcmp(out, "id\ttext\textra\tn\terror\nt1\thas, comma\t \t7\t\nt2\t\"tab\there\"\tz\t7\t\n") == 0,
       "tsv in: tsv out by default");
    free(out);
}

int main(void)
{
    dir = scratch_dir("records_csv");
    test_quoting();
    test_crlf_bom();
    test_ragged_empty_nul();
    test_big_field_and_bad_utf8();
    test_columns();
    test_round_trip();
    test_tsv();
    return done_testing();
}
