/*
 * records_jsonl.c — JSONL input and output: fields passed through in order,
 * bad lines as record errors with file:line, a 10 MB line, ids, --field,
 * upstream errors, stdin detection, and a closed pipe seen as
 * LLP_WRITE_CLOSED. Also --into naming and --shard membership.
 *
 * Not for: CSV (records_csv.c), lines and documents (records_lines_docs.c).
 */
#include "records_helpers.h"

static const char *dir;

static long read_jsonl(const char *name, const char *content, const char *field,
                       llp_record ***recs, llp_err *err)
{
    const char *path = scratch_path(dir, name);
    write_text(path, content);
    char *paths[] = {(char *)path, NULL};
    llp_reader_opts o = paths_opts(paths);
    o.field = field;
    return read_all(&o, recs, err);
}

static void test_pass_through(void)
{
    const char *path = scratch_path(dir, "in.jsonl");
    write_text(path, "{\"z\":1,\"id\":\"a\",\"text\":\"hello\",\"meta\":{\"k\":[1,2.5]},\"b\":null}\n"
                     "{\"text\":\"caf\\u00e9\",\"id\":7}\n");
    char *paths[] = {(char *)path, NULL};
    llp_reader_opts o = paths_opts(paths);
    const char *outs[] = {"n_tokens"};
    llp_writer_opts wo = {.output_columns = outs, .n_output_columns = 1};
    const char *add[] = {"n_tokens", "3", NULL};
    char *out = transcode(&o, wo, add);
    ok(out && strcmp(out, "{\"z\":1,\"id\":\"a\",\"text\":\"hello\",\"meta\":{\"k\":[1,2.5]},\"b\":null,\"n_tokens\":3}\n"
                          "{\"text\":\"caf\xc3\xa9\",\"id\":7,\"n_tokens\":3}\n") == 0,
       "jsonl: input fields untouched and in order, added fields after");
    free(out);

    llp_record **r;
    llp_err err = {{0}};
    long n = read_all(&o, &r, &err);
    ok(n == 2 && strcmp(r[0]->id, "a") == 0 && strcmp(r[1]->id, "7") == 0,
       "jsonl: string and integer ids");
    ok(n == 2 && strcmp(r[1]->text, "caf\xc3\xa9") == 0, "jsonl: text field decoded");
    if (n > 0) free_records(r, n);

    /* JSONL in, CSV out: the first record's keys are the input columns. */
    llp_writer_opts co = {.format = LLP_FMT_CSV, .output_columns = outs, .n_output_columns = 1};
    char *csv = transcode(&o, co, add);
    ok(csv && strcmp(csv, "z,id,text,meta,b,n_tokens,error\n"
                          "1,a,hello,\"{\"\"k\"\":[1,2.5]}\",,3,\n"
                          ",7,caf\xc3\xa9,,,3,\n") == 0,
       "jsonl in, csv out: objects as compact JSON, missing as empty");
    free(csv);

    llp_writer_opts to = {.format = LLP_FMT_TEXT, .output_columns = outs, .n_output_columns = 1};
    char *txt = transcode(&o, to, add);
    ok(txt && strcmp(txt, "a\t3\n7\t3\n") == 0, "text out: id and added values per line");
    free(txt);
}

static void test_bad_lines(void)
{
    llp_record **r;
    llp_err err = {{0}};
    long n = read_jsonl("bad.jsonl",
                        "{\"text\":\"one\"}\n"
                        "[1,2]\n"
                        "\n"
                        "{\"text\": \"unterminated\n"
                        "\"just a string\"\r\n"
                        "{\"text\":42}\n"
                        "{\"other\":\"x\"}\n"
                        "{\"text\":\"\"}\n"
                        "{\"text\":\"nul\\u0000byte\"}\n"
                        "{\"text\":\"last\"}",
                        NULL, &r, &err);
    is_int(n, 9, "bad lines: one record per non-blank line");
    if (n != 9) { diag("%s", err.msg); return; }
    ok(!r[0]->error, "good line is fine");
    ok(r[1]->error && strstr(r[1]->error, "bad.jsonl:2: expected a JSON object, got an array"),
       "array line: record error with file:line (%s)", r[1]->error ? r[1]->error : "none");
    ok(r[2]->error && strstr(r[2]->error, "bad.jsonl:4: invalid JSON"),
       "broken line: record error, blank line 3 still counted (%s)", r[2]->error ? r[2]->error : "none");
    ok(r[3]->error && strstr(r[3]->error, "bad.jsonl:5: expected a JSON object, got a string"),
       "string line with CRLF: record error");
    ok(r[4]->error && strstr(r[4]->error, "field 'text' is a number, not a string"), "non-string text");
    ok(r[5]->error && strstr(r[5]->error, "no field 'text'"), "missing text field (%s)", r[5]->error ? r[5]->error : "none");
    ok(!r[6]->error && r[6]->text_len == 0, "an empty text is a record (the task decides)");
    ok(r[7]->error && strstr(r[7]->error, "NUL byte"), "NUL in text");
    ok(!r[8]->error && strcmp(r[8]->text, "last") == 0, "last line without newline, after errors");
    ok(strcmp(r[1]->id, "2") == 0 && strcmp(r[8]->id, "9") == 0, "failed lines still get ordinal ids");
    free_records(r, n);

    const char *path = scratch_path(dir, "bad.jsonl");
    char *paths[] = {(char *)path, NULL};
    llp_reader_opts o = paths_opts(paths);
    char *out = transcode(&o, (llp_writer_opts){.format = LLP_FMT_JSONL}, NULL);
    char *second = out ? strchr(out, '\n') + 1 : NULL;
    ok(second && strncmp(second, "{\"id\":\"2\",\"error\":\"", 19) == 0,
       "a line that is not an object is written as {id, error}");
    free(out);
}

static void test_big_line(void)
{
    size_t big = 10u << 20;
    char *s = llp_malloc(big + 64);
    strcpy(s, "{\"id\":\"big\",\"text\":\"");
    size_t off = strlen(s);
    memset(s + off, 'x', big);
    off += big;
    strcpy(s + off, "\"}\n{\"text\":\"after\"}\n");
    llp_record **r;
    llp_err err = {{0}};
    long n = read_jsonl("big.jsonl", s, NULL, &r, &err);
    free(s);
    ok(n == 2 && r[0]->text_len == big && !r[0]->error, "10 MB line read whole");
    ok(n == 2 && strcmp(r[1]->text, "after") == 0, "line after the 10 MB line");
    if (n > 0) free_records(r, n);
}

static void test_field_id_upstream(void)
{
    llp_record **r;
    llp_err err = {{0}};
    long n = read_jsonl("chain.jsonl",
                        "{\"id\":\"d1\",\"text\":\"long\",\"summary\":\"short\"}\n"
                        "{\"id\":\"d2\",\"text\":\"x\",\"error\":\"docs/b.md: too long\"}\n"
                        "{\"id\":\"d3\",\"text\":\"y\"}\n",
                        "summary", &r, &err);
    is_int(n, 3, "--field: three records");
    if (n == 3) {
        ok(strcmp(r[0]->text, "short") == 0, "--field reads another field");
        ok(r[1]->error && strcmp(r[1]->error, "docs/b.md: too long") == 0,
           "upstream error passes through as the record's error");
        ok(r[2]->error && strstr(r[2]->error, "chain.jsonl:3: no field 'summary'"), "--field missing: record error");
        free_records(r, n);
    }

    const char *path = scratch_path(dir, "ids.jsonl");
    write_text(path, "{\"key\":\"k1\",\"text\":\"a\"}\n{\"text\":\"b\"}\n");
    char *paths[] = {(char *)path, NULL};
    llp_reader_opts o = paths_opts(paths);
    o.id_column = "key";
    n = read_all(&o, &r, &err);
    ok(n == 2 && strcmp(r[0]->id, "k1") == 0 && !r[0]->error, "--id-column on JSONL");
    ok(n == 2 && r[1]->error && strstr(r[1]->error, "no field 'key'"), "--id-column missing on a line: record error");
    if (n > 0) free_records(r, n);
}

/* Read `content` from stdin (through a file put in place of fd 0). */
static long read_stdin(const char *content, bool documents, llp_record ***recs, llp_format *fmt)
{
    const char *path = scratch_path(dir, "stdin.txt");
    write_text(path, content);
    if (!freopen(path, "rb", stdin)) return -1;
    llp_reader_opts o = paths_opts(NULL);
    o.documents = documents;
    llp_err err = {{0}};
    llp_reader *rd = llp_reader_open(&o, &err);
    if (!rd) return -1;
    *fmt = llp_reader_format(rd);
    llp_reader_close(rd);
    if (!freopen(path, "rb", stdin)) return -1;
    return read_all(&o, recs, &err);
}

static void test_stdin_detection(void)
{
    llp_record **r;
    llp_format fmt;
    long n = read_stdin("\n  {\"text\":\"json\"}\n{\"text\":\"two\"}\n", false, &r, &fmt);
    ok(n == 2 && fmt == LLP_FMT_JSONL && strcmp(r[0]->text, "json") == 0,
       "stdin starting with '{' is JSONL");
    ok(n == 2 && strstr(r[0]->where, "stdin:2"), "stdin records are located as stdin:LINE");
    if (n > 0) free_records(r, n);
    n = read_stdin("\xEF\xBB\xBF{\"text\":\"bom\"}\n", false, &r, &fmt);
    ok(n == 1 && fmt == LLP_FMT_JSONL && strcmp(r[0]->text, "bom") == 0, "stdin: BOM then '{' is JSONL");
    if (n > 0) free_records(r, n);
    n = read_stdin("plain line\nsecond\n", false, &r, &fmt);
    ok(n == 2 && fmt == LLP_FMT_LINES && strcmp(r[1]->text, "second") == 0, "plain stdin: one record per line");
    if (n > 0) free_records(r, n);
    n = read_stdin("para one\n\npara two\n", true, &r, &fmt);
    ok(n == 1 && fmt == LLP_FMT_DOC && strcmp(r[0]->text, "para one\n\npara two\n") == 0 &&
       strcmp(r[0]->id, "stdin") == 0, "documents by default: all of stdin is one document");
    if (n > 0) free_records(r, n);
}

static void test_closed_pipe(void)
{
    int fds[2];
    if (pipe(fds) != 0) { ok(0, "pipe"); return; }
    close(fds[0]);
    FILE *f = fdopen(fds[1], "w");
    llp_err err = {{0}};
    llp_writer_opts wo = {.format = LLP_FMT_JSONL, .stream = f};
    llp_writer *w = llp_writer_open(&wo, &err);
    llp_record *rec = llp_record_new("1", "hi", 2, "test");
    int rc = llp_writer_write(w, rec, &err);
    is_int(rc, LLP_WRITE_CLOSED, "closed pipe: write says LLP_WRITE_CLOSED, no SIGPIPE death");
    llp_writer_close(w, &err);
    llp_record_free(rec);
    fclose(f);

    FILE *full = fopen("/dev/full", "w");
    if (!full) { ok(1, "# SKIP no /dev/full"); return; }
    wo.stream = full;
    wo.stream_name = "/dev/full";
    w = llp_writer_open(&wo, &err);
    rec = llp_record_new("1", "hi", 2, "test");
    rc = llp_writer_write(w, rec, &err);
    ok(rc == LLP_WRITE_FAILED && strstr(err.msg, "/dev/full: write error"), "full disk: LLP_WRITE_FAILED with message (%s)", err.msg);
    llp_writer_close(w, &err);
    llp_record_free(rec);
    fclose(full);
}

static void test_names_and_shards(void)
{
    char *a = llp_output_name(NULL, "label", "score");
    char *b = llp_output_name("mood", "label", "label");
    char *c = llp_output_name("mood", "label", "p_positive");
    ok(strcmp(a, "score") == 0 && strcmp(b, "mood") == 0 && strcmp(c, "mood_p_positive") == 0,
       "--into: primary field takes the name, others NAME_field");
    free(a); free(b); free(c);

    int counts[4] = {0};
    char id[32];
    for (int i = 0; i < 4000; i++) {
        snprintf(id, sizeof id, "%d", i);
        int hits = 0;
        for (int k = 0; k < 4; k++)
            if (llp_shard_match(id, k, 4)) { counts[k]++; hits++; }
        if (hits != 1) { ok(0, "shard: id %s in %d shards", id, hits); return; }
    }
    ok(1, "shard: every id in exactly one of 4 shards");
    ok(counts[0] > 800 && counts[1] > 800 && counts[2] > 800 && counts[3] > 800,
       "shard: spread evenly (%d %d %d %d)", counts[0], counts[1], counts[2], counts[3]);
    ok(llp_shard_match("anything", 0, 1), "shard 0/1 takes everything");

    llp_format f;
    llp_err err = {{0}};
    ok(llp_format_parse_in("doc", &f, &err) == 0 && f == LLP_FMT_DOC, "--in doc");
    ok(llp_format_parse_out("lines", &f, &err) < 0 && strstr(err.msg, "jsonl, csv, tsv or text"),
       "--out lines refused with the accepted list");
}

int main(void)
{
    dir = scratch_dir("records_jsonl");
    test_pass_through();
    test_bad_lines();
    test_big_line();
    test_field_id_upstream();
    test_stdin_detection();
    test_closed_pipe();
    test_names_and_shards();
    return done_testing();
}
