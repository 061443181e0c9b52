/*
 * records_csv_malformed.c — CSV/TSV that breaks the grammar: a quote never
 * closed, text after a closing quote, a quote inside an unquoted field (CSV
 * only), rows past the record and field limits, a malformed header. Each
 * is a failed record located at the line its row starts on, no later row
 * is absorbed into a field, and the rows before and after are read as
 * usual.
 *
 * Not for: well-formed CSV (records_csv.c), the CLI exit code
 * (cli_records.t).
 */
#include "records_helpers.h"

static const char *dir;

/* Reads `content` (n bytes) as file `name`; TSV when the name says so. */
static long read_bytes(const char *name, const char *content, size_t n, llp_record ***recs,
                       llp_err *err)
{
    const char *path = scratch_path(dir, name);
    write_bytes(path, content, n);
    char *paths[] = {(char *)path, NULL};
    llp_reader_opts o = paths_opts(paths);
    return read_all(&o, recs, err);
}

static long read_str(const char *name, const char *content, llp_record ***recs, llp_err *err)
{
    return read_bytes(name, content, strlen(content), recs, err);
}

/* The error with the scratch directory cut off ("a.csv:2: ..."), or "". */
static const char *short_error(const llp_record *r)
{
    if (!r->error) return "";
    const char *slash = strrchr(r->where, '/');
    size_t skip = slash ? (size_t)(slash + 1 - r->where) : 0;
    return r->error + skip;
}

static void expect_error(const llp_record *r, const char *want, const char *what)
{
    ok(strcmp(short_error(r), want) == 0, "%s: %s", what, want);
    if (strcmp(short_error(r), want) != 0) diag("got: %s", r->error ? r->error : "(none)");
}

static void test_unclosed_quote(void)
{
    llp_record **r;
    llp_err err = {{0}};
    /* The example from issue 17: before, one record swallowed the file. */
    long n = read_str("unclosed.csv", "id,text\n1,\"unterminated\n2,ok\n3,fine\n", &r, &err);
    is_int(n, 3, "unclosed quote: three records, none absorbed");
    if (n != 3) { diag("%s", err.msg); return; }
    expect_error(r[0], "unclosed.csv:2: quoted field 2 is never closed (the input ends inside it)",
                 "unclosed quote at the end");
    ok(strcmp(r[0]->id, "1") == 0, "unclosed quote: the fields before it are kept (id %s)", r[0]->id);
    ok(!r[1]->error && strcmp(r[1]->text, "ok") == 0 && strcmp(r[1]->id, "2") == 0,
       "unclosed quote: the next line is read as its own row");
    ok(!r[2]->error && strcmp(r[2]->text, "fine") == 0 && strstr(r[2]->where, "unclosed.csv:4"),
       "unclosed quote: line numbers go on from there (%s)", r[2]->where);
    free_records(r, n);

    /* A quote that closes lines later, then runs into text: the rows it
     * took in are read again as rows. */
    n = read_str("later.csv", "id,text\n1,\"abc\n2,\"ok\",x\n3,fine\n", &r, &err);
    is_int(n, 3, "quote closed on a later line: three records");
    if (n != 3) { diag("%s", err.msg); return; }
    expect_error(r[0], "later.csv:2: text after the closing quote of field 2 (on line 3)",
                 "text after a closing quote, found on a later line");
    ok(r[1]->error && strstr(r[1]->error, "later.csv:3: row has 3 fields, header has 2"),
       "the line after the bad row's first is a row again (%s)", r[1]->error ? r[1]->error : "none");
    ok(!r[2]->error && strcmp(r[2]->text, "fine") == 0, "and the row after it is fine");
    free_records(r, n);

    /* Unclosed in the middle of a TSV file: same rule. */
    n = read_str("unclosed.tsv", "id\ttext\na\t\"open\nb\tgood\n", &r, &err);
    ok(n == 2 && r[0]->error && strstr(r[0]->error, "unclosed.tsv:2: quoted field 2 is never closed") &&
       !r[1]->error && strcmp(r[1]->text, "good") == 0, "TSV: an unclosed quote is reported too");
    if (n > 0) free_records(r, n);
}

static void test_quotes_in_fields(void)
{
    llp_record **r;
    llp_err err = {{0}};
    long n = read_str("stray.csv", "id,text\n1,say \"hi\" now\n2,\"fine \"\"quoted\"\"\"\n3,\"x\" y\n4,last\n",
                      &r, &err);
    is_int(n, 4, "stray quotes: four records");
    if (n != 4) { diag("%s", err.msg); return; }
    expect_error(r[0], "stray.csv:2: quote inside unquoted field 2 (a field that holds quotes "
                       "must be quoted whole, each quote doubled)", "CSV: quote inside an unquoted field");
    ok(!r[1]->error && strcmp(r[1]->text, "fine \"quoted\"") == 0, "doubled quotes are fine");
    expect_error(r[2], "stray.csv:4: text after the closing quote of field 2",
                 "CSV: a space after a closing quote");
    ok(!r[3]->error && strcmp(r[3]->text, "last") == 0, "the row after is read");
    free_records(r, n);

    /* TSV from databases holds quotes as text; only a quoted field that
     * does not end at its closing quote is an error. */
    n = read_str("quotes.tsv", "id\ttext\n1\tsay \"hi\" now\n2\t\"ab\"cd\n3\tok\n", &r, &err);
    is_int(n, 3, "TSV quotes: three records");
    if (n != 3) { diag("%s", err.msg); return; }
    ok(!r[0]->error && strcmp(r[0]->text, "say \"hi\" now") == 0, "TSV: a quote mid-field is a byte");
    expect_error(r[1], "quotes.tsv:3: text after the closing quote of field 2",
                 "TSV: text after a closing quote");
    ok(!r[2]->error && strcmp(r[2]->text, "ok") == 0, "TSV: the row after is read");
    free_records(r, n);
}

static void test_limits(void)
{
    llp_record **r;
    llp_err err = {{0}};
    /* An unclosed quote on a line longer than the record limit: reported
     * at the limit, not read into memory to the end. */
    size_t big = (size_t)LLP_CSV_MAX_RECORD + 4096;
    char *csv = llp_malloc(big + 64);
    size_t off = (size_t)sprintf(csv, "id,text\n1,\"");
    memset(csv + off, 'a', big);
    off += big;
    off += (size_t)sprintf(csv + off, "\n9,end\n");
    long n = read_bytes("huge.csv", csv, off, &r, &err);
    free(csv);
    is_int(n, 2, "record limit: the line after the long one is read");
    if (n != 2) { diag("%s", err.msg); return; }
    expect_error(r[0], "huge.csv:2: record longer than 16 MiB, the CSV limit (is a quote never closed?)",
                 "record limit");
    ok(strcmp(r[n - 1]->text, "end") == 0 && !r[n - 1]->error, "record limit: the last row is read");
    free_records(r, n);

    /* One field too many. */
    size_t fields = LLP_CSV_MAX_FIELDS + 1;
    char *wide = llp_malloc(fields * 2 + 64);
    off = (size_t)sprintf(wide, "text\nx");
    for (size_t i = 1; i < fields; i++) wide[off++] = ',', wide[off++] = 'y';
    off += (size_t)sprintf(wide + off, "\nfine\n");
    n = read_bytes("wide.csv", wide, off, &r, &err);
    free(wide);
    is_int(n, 2, "field limit: two records");
    if (n == 2) {
        expect_error(r[0], "wide.csv:2: record has more than 65536 fields, the CSV limit", "field limit");
        ok(!r[1]->error && strcmp(r[1]->text, "fine") == 0, "field limit: the next row is read");
        free_records(r, n);
    }
}

static void test_header(void)
{
    llp_record **r;
    llp_err err = {{0}};
    long n = read_str("badhead.csv", "id,\"text\n1,a\n", &r, &err);
    ok(n < 0 && strstr(err.msg, "badhead.csv:1: header: quoted field 2 is never closed"),
       "malformed header: fatal, naming file and line (%s)", err.msg);
    n = read_str("badhead2.csv", "\n\nid,te\"xt\n1,a\n", &r, &err);
    ok(n < 0 && strstr(err.msg, "badhead2.csv:3: header: quote inside unquoted field 2"),
       "malformed header after blank lines: its own line (%s)", err.msg);
}

int main(void)
{
    dir = scratch_dir("records_csv_malformed");
    test_unclosed_quote();
    test_quotes_in_fields();
    test_limits();
    test_header();
    return done_testing();
}
