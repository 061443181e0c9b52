/*
 * records_lines_docs.c — plain-line and document input, and how inputs are
 * found: directories recursed in sorted order with binary and hidden files
 * skipped, --files-from, suffix detection, ordinals across files, missing
 * paths; plus the UTF-8 repair helper.
 *
 * Not for: CSV (records_csv.c) or JSONL (records_jsonl.c) parsing.
 */
#include "records_helpers.h"

#include <fcntl.h>

static const char *dir;

static void test_lines(void)
{
    const char *path = scratch_path(dir, "notes.txt");
    write_text(path, "first\r\n\n  \nlat\xe9 bytes\nlast");
    char *paths[] = {(char *)path, NULL};
    llp_reader_opts o = paths_opts(paths);
    llp_record **r;
    llp_err err = {{0}};
    long n = read_all(&o, &r, &err);
    is_int(n, 5, "lines: one record per line, blank ones included");
    if (n != 5) { diag("%s", err.msg); return; }
    ok(strcmp(r[0]->text, "first") == 0 && strcmp(r[0]->id, "1") == 0, "lines: CR stripped, ordinal id");
    ok(!r[1]->error && r[1]->text_len == 0, "lines: an empty line is a record with empty text, not dropped");
    ok(!r[2]->error && strcmp(r[2]->text, "  ") == 0, "lines: a whitespace-only line is a record with that text");
    ok(!r[3]->error && r[3]->text_len == 10 && (unsigned char)r[3]->text[3] == 0xe9,
       "lines: Latin-1 byte kept raw");
    ok(strcmp(field_str(r[3], "text"), "lat\xEF\xBF\xBD bytes") == 0, "lines: JSON text repaired");
    ok(strcmp(r[4]->text, "last") == 0, "lines: last line without newline");
    free_records(r, n);

    char *out = transcode(&o, (llp_writer_opts){0}, NULL);
    static const char want_lines[] = "{\"id\":\"1\",\"text\":\"first\"}\n{\"id\":\"2\",\"text\":\"\"}\n"
                                     "{\"id\":\"3\",\"text\":\"  \"}\n";
    ok(out && strncmp(out, want_lines, sizeof want_lines - 1) == 0,
       "lines in: JSONL {id, text} out by default, empty and blank lines kept as text");
    free(out);
}

static void make_tree(void)
{
    char d[4096];
    snprintf(d, sizeof d, "%s/docs", dir);
    mkdir(d, 0755);
    snprintf(d, sizeof d, "%s/docs/sub", dir);
    mkdir(d, 0755);
    snprintf(d, sizeof d, "%s/docs/.git", dir);
    mkdir(d, 0755);
    write_text(scratch_path(dir, "docs/b.md"), "# B\n\nSecond doc.\n");
    write_text(scratch_path(dir, "docs/a.md"), "First doc.");
    write_text(scratch_path(dir, "docs/sub/c.txt"), "Third, nested.\n");
    write_text(scratch_path(dir, "docs/Z.txt"), "Upper case sorts first.\n");
    write_text(scratch_path(dir, "docs/.hidden.md"), "not read\n");
    write_text(scratch_path(dir, "docs/.git/HEAD"), "ref: x\n");
    write_text(scratch_path(dir, "docs/empty.md"), "");
    static const char bin[] = "\x7f" "ELF\x02\x01\x01\0\0\0 binary";
    write_bytes(scratch_path(dir, "docs/prog.bin"), bin, sizeof bin - 1);
    unsigned char noise[4096];
    for (size_t i = 0; i < sizeof noise; i++) noise[i] = (unsigned char)(0x80 + (i * 37) % 128);
    write_bytes(scratch_path(dir, "docs/noise.dat"), noise, sizeof noise);
}

static void test_directory_docs(void)
{
    char root[4096];
    snprintf(root, sizeof root, "%s/docs", dir);
    char *paths[] = {root, NULL};
    llp_reader_opts o = paths_opts(paths);
    o.documents = true;
    llp_reader *rd;
    llp_err err = {{0}};
    llp_record **r;
    long n = read_all(&o, &r, &err);
    is_int(n, 5, "dir: 5 text files (hidden, .git, binary and noise skipped)");
    if (n != 5) { diag("%s", err.msg); return; }
    const char *want[] = {"Z.txt", "a.md", "b.md", "empty.md", "sub/c.txt"};
    for (int i = 0; i < 5; i++) {
        char full[4200];
        snprintf(full, sizeof full, "%s/%s", root, want[i]);
        ok(strcmp(r[i]->id, full) == 0, "dir: record %d is %s (sorted by bytes, recursed)", i + 1, want[i]);
    }
    ok(strcmp(r[1]->text, "First doc.") == 0, "doc: whole file is the text");
    ok(strcmp(r[2]->text, "# B\n\nSecond doc.\n") == 0, "doc: paragraphs kept");
    ok(!r[3]->error && r[3]->text_len == 0, "doc: an empty file is a record with empty text");
    free_records(r, n);

    rd = llp_reader_open(&o, &err);
    llp_record *rec;
    while (rd && llp_reader_next(rd, &rec, &err) == 1) llp_record_free(rec);
    is_int(rd ? llp_reader_skipped(rd) : -1, 2, "dir: two binary files counted as skipped");
    llp_reader_close(rd);

    /* Not quiet: each skipped file gets a note on stderr. */
    char note_path[4200];
    snprintf(note_path, sizeof note_path, "%s/notes.err", dir);
    fflush(stderr);
    int saved = dup(2), errfd = open(note_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    dup2(errfd, 2);
    o.quiet = false;
    n = read_all(&o, &r, &err);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char notes[8192];
    ssize_t got = pread(errfd, notes, sizeof notes - 1, 0);
    notes[got > 0 ? got : 0] = 0;
    close(errfd);
    ok(strstr(notes, "llp-test: note: skipping binary file ") && strstr(notes, "noise.dat") &&
       strstr(notes, "prog.bin"), "skipped binary files are named on stderr");
    if (n > 0) free_records(r, n);
    o.quiet = true;

    /* Without documents mode, the same files are read line by line, and the
     * ordinal keeps counting across files. */
    o.documents = false;
    n = read_all(&o, &r, &err);
    ok(n == 6 && strcmp(r[5]->id, "6") == 0 && strcmp(r[5]->text, "Third, nested.") == 0,
       "dir as lines: ordinals run across files (%ld records)", n);
    if (n > 0) free_records(r, n);
}

static void test_files_from_and_detection(void)
{
    write_text(scratch_path(dir, "m.csv"), "text\nfrom csv\n");
    write_text(scratch_path(dir, "m.jsonl"), "{\"text\":\"from jsonl\"}\n");
    write_text(scratch_path(dir, "m.tsv"), "id\ttext\nt\tfrom tsv\n");
    const char *list = scratch_path(dir, "list.txt");
    char content[8192];
    snprintf(content, sizeof content, "%s/m.csv\n\n%s/m.jsonl\r\n%s/m.tsv\n%s/docs/a.md\n",
             dir, dir, dir, dir);
    write_text(list, content);
    llp_reader_opts o = paths_opts(NULL);
    o.files_from = list;
    llp_record **r;
    llp_err err = {{0}};
    long n = read_all(&o, &r, &err);
    is_int(n, 4, "--files-from: every listed path, blank lines ignored");
    if (n == 4) {
        ok(strcmp(r[0]->text, "from csv") == 0, "suffix .csv read as CSV");
        ok(strcmp(r[1]->text, "from jsonl") == 0, "suffix .jsonl read as JSONL");
        ok(strcmp(r[2]->text, "from tsv") == 0 && strcmp(r[2]->id, "t") == 0, "suffix .tsv read as TSV");
        ok(strcmp(r[3]->text, "First doc.") == 0, "other suffix read as lines");
        free_records(r, n);
    }
    llp_reader *rd = llp_reader_open(&o, &err);
    ok(rd && llp_reader_format(rd) == LLP_FMT_CSV, "first input's format is reported for the writer");
    size_t nc = 0;
    char *const *cols = rd ? llp_reader_columns(rd, &nc) : NULL;
    ok(nc == 1 && cols && strcmp(cols[0], "text") == 0, "first input's CSV columns are reported");
    llp_reader_close(rd);

    o.format = LLP_FMT_LINES;
    n = read_all(&o, &r, &err);
    ok(n == 6 && strcmp(r[0]->text, "text") == 0, "--in lines overrides the suffix");
    if (n > 0) free_records(r, n);

    /* --files-from - takes the list from stdin. */
    if (freopen(list, "rb", stdin)) {
        llp_reader_opts so = paths_opts(NULL);
        so.files_from = "-";
        n = read_all(&so, &r, &err);
        ok(n == 4 && strcmp(r[3]->text, "First doc.") == 0, "--files-from - reads paths from stdin");
        if (n > 0) free_records(r, n);
    }

    char missing[4200];
    snprintf(missing, sizeof missing, "%s/nope.txt", dir);
    char *paths[] = {missing, NULL};
    llp_reader_opts m = paths_opts(paths);
    n = read_all(&m, &r, &err);
    ok(n < 0 && strstr(err.msg, "nope.txt: No such file or directory"), "missing path: fatal error naming it");
    m = paths_opts(NULL);
    m.files_from = missing;
    n = read_all(&m, &r, &err);
    ok(n < 0 && strstr(err.msg, "nope.txt"), "missing --files-from: fatal error");

    /* An explicitly named binary file is read anyway: the user asked for it. */
    char bin[4200];
    snprintf(bin, sizeof bin, "%s/docs/noise.dat", dir);
    char *bpaths[] = {bin, NULL};
    llp_reader_opts b = paths_opts(bpaths);
    b.format = LLP_FMT_DOC;
    n = read_all(&b, &r, &err);
    ok(n == 1 && r[0]->text_len == 4096 && !r[0]->error, "named binary file is not skipped");
    if (n > 0) free_records(r, n);
}

static void test_utf8(void)
{
    static const struct { const char *in, *out; size_t in_len; } cases[] = {
        {"plain", "plain", 5},
        {"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9},
        {"a\xffz", "a\xEF\xBF\xBDz", 3},
        {"\xc0\xaf", "\xEF\xBF\xBD\xEF\xBF\xBD", 2},              /* overlong '/' */
        {"\xed\xa0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", 3}, /* surrogate */
        {"\xe2\x82", "\xEF\xBF\xBD", 2},                          /* cut sequence: one U+FFFD */
        {"\xf4\x90\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", 4}, /* > U+10FFFF */
        {"\xf0\x9f\x98x", "\xEF\xBF\xBDx", 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        char *s = llp_utf8_sanitize(cases[i].in, cases[i].in_len, &len);
        ok(len == strlen(cases[i].out) && memcmp(s, cases[i].out, len) == 0 && llp_utf8_valid(s, len),
           "utf8 sanitize case %zu", i + 1);
        ok(llp_utf8_valid(cases[i].in, cases[i].in_len) == (strcmp(cases[i].in, cases[i].out) == 0),
           "utf8 valid agrees on case %zu", i + 1);
        free(s);
    }
    size_t len;
    char *s = llp_utf8_sanitize("a\0b", 3, &len);
    ok(len == 3 && s[1] == 0 && s[2] == 'b', "utf8 sanitize keeps NUL bytes and length");
    free(s);
    is_int(llp_utf8_invalid_bytes("ok\xff\xfe\xc3", 5), 3, "utf8 invalid byte count");
}

int main(void)
{
    dir = scratch_dir("records_lines_docs");
    test_lines();
    make_tree();
    test_directory_docs();
    test_files_from_and_detection();
    test_utf8();
    return done_testing();
}
