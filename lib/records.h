/*
 * records.h — the record layer: reading batches of records from files,
 * directories or stdin (JSONL, CSV, TSV, plain lines, whole documents) and
 * writing them back out (JSONL, CSV, TSV, a human text line).
 *
 * Not for: command-line parsing (cli.h turns flags into the option structs
 * below), the store, or anything a tool computes. A tool reads a record,
 * adds its fields with llp_record_add(), or marks it failed with
 * llp_record_fail(), and hands it to the writer.
 *
 * A record is a jansson object (jansson keeps keys in insertion order, so
 * input fields come back out in the order they came in) plus metadata:
 *
 *   input                       record->fields (object)         id        text
 *   ---------------------------------------------------------------------------
 *   JSONL line                  the object, untouched           `id`/--id-column field, else ordinal
 *   CSV/TSV row                 every column, as strings        `id`/--id-column column, else ordinal
 *   line of text                {"id": ordinal, "text": line}   ordinal
 *   document                    {"id": path, "text": content}   the path ("stdin" for stdin)
 *
 * The ordinal is the 1-based position of the record in the whole input
 * (over all files), as a decimal string, so ids stay unique when several
 * files are read. `text` is the field/column named by --field (JSONL) or
 * --column (CSV/TSV; --field is accepted there too), default "text".
 *
 * Bytes: record->text holds the input bytes unchanged (a tokenizer falls back
 * to byte tokens for invalid UTF-8), while every string stored in
 * record->fields is valid UTF-8 (invalid sequences become U+FFFD, one per
 * maximal invalid subsequence), so JSON output and the store's JSON are
 * always valid. The bytes of a field that are not valid UTF-8 are kept
 * beside it (record->raw), and the CSV/TSV writer writes those instead, so
 * every input field, the text included, comes back byte for byte in CSV and
 * TSV (CR, LF and CRLF inside quotes too); JSONL output, which must be
 * UTF-8, has the U+FFFD.
 *
 * Malformed CSV/TSV (records_csv.c has the grammar): a quoted field never
 * closed, text after a closing quote, in CSV a quote inside an unquoted
 * field, or a row past LLP_CSV_MAX_RECORD bytes or LLP_CSV_MAX_FIELDS
 * fields is a failed record located at the line where the row starts
 * ("in.csv:2: quoted field 2 is never closed (the input ends inside it)"),
 * and reading goes on from that row's second line, so the rows after a
 * stray quote are read as rows, not absorbed into a field. A malformed
 * header is fatal.
 *
 * Per-record problems (a ragged or malformed CSV row, a JSONL line that is
 * not an object, empty text, a NUL byte) never stop the reader: the record comes back with
 * record->error set ("reviews.csv:17: row has 3 fields, header has 4") and
 * the tool passes it on untouched. A record whose input already carries a
 * non-empty `error` field (failed upstream in a pipe) comes back with that
 * error too, so failures flow through a chain of tools instead of turning
 * into confusing new ones. Only problems with a whole input (missing file,
 * unreadable directory, CSV without the text column) are fatal.
 *
 * Typical use (see cli.h for filling the options from argv):
 *
 *   llp_reader *rd = llp_reader_open(&ropts, &err);        // fatal on NULL
 *   wopts.input_format  = llp_reader_format(rd);
 *   wopts.input_columns = llp_reader_columns(rd, &wopts.n_input_columns);
 *   llp_writer *wr = llp_writer_open(&wopts, &err);
 *   llp_record *rec;
 *   while ((rc = llp_reader_next(rd, &rec, &err)) == 1) {
 *       if (!rec->error) { ... llp_record_add(rec, name, value) ... }
 *       int w = llp_writer_write(wr, rec, &err);
 *       llp_record_free(rec);
 *       if (w == LLP_WRITE_CLOSED) break;          // `| head -1`: stop quietly
 *       if (w < 0) fatal(err.msg);
 *   }
 *   if (rc < 0) fatal(err.msg);
 */
#ifndef LLP_RECORDS_H
#define LLP_RECORDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "utf8.h"
#include "util.h"

/* ---- formats ---------------------------------------------------------- */

typedef enum llp_format {
    LLP_FMT_AUTO = 0, /* detect: by suffix, by first byte of stdin, else lines/doc */
    LLP_FMT_JSONL,
    LLP_FMT_CSV,
    LLP_FMT_TSV,
    LLP_FMT_LINES,    /* input only: one record per line */
    LLP_FMT_DOC,      /* input only: one record per file (all of stdin is one) */
    LLP_FMT_TEXT,     /* output only: one line per record, for people */
} llp_format;

/* "jsonl", "csv", ... ("auto" for LLP_FMT_AUTO). Static string. */
const char *llp_format_name(llp_format f);

/* Parse a --in value (jsonl|csv|tsv|lines|doc) or --out value
 * (jsonl|csv|tsv|text) into *out. Returns 0, or -1 with err naming the
 * accepted values. */
int llp_format_parse_in(const char *s, llp_format *out, llp_err *err);
int llp_format_parse_out(const char *s, llp_format *out, llp_err *err);

/* ---- records ---------------------------------------------------------- */

/* An input field whose bytes are not valid UTF-8: record->fields holds it
 * with U+FFFD, and these are its bytes, written by the CSV/TSV writer while
 * the field still holds `value` (a tool that replaces the field replaces
 * its bytes too). */
typedef struct llp_raw_field {
    char   *name;     /* owned */
    json_t *value;    /* a reference: the repaired string in fields */
    char   *bytes;    /* owned, len bytes (NUL-terminated) */
    size_t  len;
} llp_raw_field;

typedef struct llp_record {
    json_t *fields;   /* object, owned: input fields in input order, then the
                         fields a tool added; all strings valid UTF-8 */
    char   *id;       /* owned, never NULL */
    char   *text;     /* owned, NUL-terminated raw input bytes (may be invalid
                         UTF-8); "" when the record has no usable text */
    size_t  text_len; /* bytes in text, excluding the terminator */
    char   *where;    /* owned: "reviews.csv:17", "stdin:3", "docs/a.md" */
    char   *error;    /* owned, NULL when fine; messages start with `where` */
    long    ordinal;  /* 1-based position in the whole input */
    llp_raw_field *raw;  /* owned: the input fields that are not valid UTF-8 */
    size_t  n_raw;
} llp_record;

/* Add (or replace) field `name` with `value`, taking the reference (like
 * json_object_set_new). Strings put here must be valid UTF-8: build them with
 * llp_json_string() when they come from model output. */
void llp_record_add(llp_record *r, const char *name, json_t *value);

/* Mark the record failed with a printf-style message; the record's location
 * is prefixed ("in.jsonl:3: " + message). Replaces an earlier error. */
void llp_record_fail(llp_record *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A new record with the given id and text, {"id": id, "text": text} as fields
 * (text sanitized to UTF-8 in the object, kept raw in ->text) and `where` as
 * its location. For tools that make records from arguments (llp-generate -p). */
llp_record *llp_record_new(const char *id, const char *text, size_t text_len,
                           const char *where);

void llp_record_free(llp_record *r);   /* NULL is fine */

/* A JSON string from arbitrary bytes: invalid UTF-8 becomes U+FFFD. */
json_t *llp_json_string(const char *s, size_t n);

/* The name a tool's output field gets under --into NAME. A tool's first
 * (primary) output field takes NAME itself; every other one becomes
 * NAME_field. With into == NULL the field keeps its own name.
 *   llp_output_name(NULL,   "label", "score")   -> "score"
 *   llp_output_name("mood", "label", "label")   -> "mood"
 *   llp_output_name("mood", "label", "score")   -> "mood_score"
 * Newly allocated; the caller frees it. */
char *llp_output_name(const char *into, const char *primary, const char *field);

/* The first of names[0..n) that is already a field of the record, or NULL.
 * A tool's added fields never replace an input field (a gold `label`
 * column, a `summary` the user wrote): the record loop refuses the run, or
 * fails the record, when this finds one (docs/errors.md, "name clashes"). */
const char *llp_record_field_clash(const llp_record *r, const char *const *names,
                                   size_t n);

/* --shard K/N: true when the record with this id belongs to shard k of n
 * (xxh64 of the id, seed 0, modulo n). Every tool and llp-run use this one
 * function, so the same id lands in the same shard everywhere. */
bool llp_shard_match(const char *id, int k, int n);

/* ---- reader ----------------------------------------------------------- */

/* CSV/TSV limits: a row (its bytes as read, quotes included) of more than
 * LLP_CSV_MAX_RECORD bytes or more than LLP_CSV_MAX_FIELDS fields is a
 * malformed row. Far past any real record, they stop a quote that is never
 * closed from reading the rest of a large file into one field. Longer
 * texts belong in documents (--in doc) or JSONL. */
#define LLP_CSV_MAX_RECORD (16 << 20)
#define LLP_CSV_MAX_FIELDS 65536

typedef struct llp_reader_opts {
    llp_format  format;        /* LLP_FMT_AUTO: detect per input */
    char *const *paths;        /* positional inputs: files or directories */
    int         n_paths;       /* 0 and no files_from: read stdin */
    const char *files_from;    /* file of paths, one a line; "-" for stdin */
    const char *field;         /* JSONL text field; NULL = "text" */
    const char *prefer_field;  /* without --field: a JSONL field read in
                                  preference to "text" when a record has it
                                  (llp-generate: "prompt") */
    const char *column;        /* CSV/TSV text column; NULL = field, else "text" */
    const char *id_column;     /* id field/column; NULL = "id" when present */
    bool        no_header;     /* CSV/TSV has no header: columns col1..colN */
    bool        documents;     /* undetected inputs are documents, not lines
                                  (llp-summarize: all of stdin is one doc) */
    bool        quiet;         /* no notes on stderr (skipped binary files) */
    const char *tool;          /* "llp-summarize", prefix for notes */
} llp_reader_opts;

typedef struct llp_reader llp_reader;

/* Expand the inputs (directories recursed in sorted byte order of names,
 * hidden entries and symlinked directories skipped), check that every named
 * path exists, and open the first input so that its format and CSV header
 * are known. Returns NULL with err on a fatal problem: a missing path, an
 * unreadable --files-from, a CSV without the text or id column. */
llp_reader *llp_reader_open(const llp_reader_opts *opts, llp_err *err);

/* Next record: returns 1 and stores a new record in *out (the caller frees it
 * with llp_record_free), 0 at the end of all input, -1 with err on a fatal
 * error (read error, a later CSV file without the text column). */
int llp_reader_next(llp_reader *r, llp_record **out, llp_err *err);

/* Format of the first input (LLP_FMT_JSONL when there is none): a tool's
 * output format defaults from it. */
llp_format llp_reader_format(const llp_reader *r);

/* Header columns of the first input when it is CSV/TSV (col1..colN with
 * no_header), else NULL with *n = 0. Owned by the reader. */
char *const *llp_reader_columns(const llp_reader *r, size_t *n);

/* Every input's columns, for a CSV/TSV header that loses none (owned by the
 * reader, never NULL on success; NULL with err on a read error or a
 * malformed header): in the
 * order first seen, each CSV/TSV input's header, the fields of every record
 * of each JSONL file (a first pass over the file), id and text for lines
 * and documents. Stdin cannot be read twice: its header, or for JSONL the
 * fields of its first record (read ahead, and returned by llp_reader_next
 * as usual). From the first call on, a JSONL record with a field outside
 * these columns comes back failed, naming the field, rather than lose it
 * in CSV. */
char *const *llp_reader_all_columns(llp_reader *r, size_t *n, llp_err *err);

/* Records returned so far, and files skipped as binary. */
long llp_reader_count(const llp_reader *r);
long llp_reader_skipped(const llp_reader *r);

void llp_reader_close(llp_reader *r);  /* NULL is fine */

/* ---- writer ----------------------------------------------------------- */

typedef struct llp_writer llp_writer;

/* Results of llp_writer_write(). */
enum {
    LLP_WRITE_OK     = 0,
    LLP_WRITE_CLOSED = 1,   /* downstream closed the pipe (EPIPE): stop quietly */
    LLP_WRITE_FAILED = -1,  /* any other write error, err says which */
};

/* Prints one record for --out text; the default prints the id, then each
 * output column's value (strings as they are with newlines shown as spaces,
 * other values as compact JSON), tab-separated; a failed record prints the id
 * and "error: MESSAGE". */
typedef void (*llp_text_fn)(FILE *out, const llp_record *r, void *ctx);

typedef struct llp_writer_opts {
    llp_format   format;            /* LLP_FMT_AUTO: CSV if input_format is
                                       CSV, TSV if TSV, else JSONL */
    llp_format   input_format;      /* from llp_reader_format() */
    llp_reader  *reader;            /* the reader of the records written, or
                                       NULL: CSV/TSV output takes its input
                                       columns from llp_reader_all_columns() */
    char *const *input_columns;     /* without a reader: the input columns;
                                       NULL: taken from the first record */
    size_t       n_input_columns;
    const char *const *output_columns; /* the fields the tool adds, after
                                       --into renaming, in column order */
    size_t       n_output_columns;
    FILE        *stream;            /* NULL = stdout */
    const char  *stream_name;       /* for messages; NULL = "stdout" */
    llp_text_fn  text_fn;           /* NULL = the default text line */
    void        *text_ctx;
} llp_writer_opts;

/* Output shapes:
 *   JSONL  each record's object (input fields, then added fields), plus
 *          "error" when the record failed; compact, one per line; floats
 *          with 9 significant digits (exact for float32).
 *   CSV/TSV a header, then per record: the input columns in input order,
 *          the output columns, and always a last `error` column (empty when
 *          fine; an input `error` column is folded into it). Missing values
 *          are empty, strings are written as they are, other JSON values as
 *          compact JSON, fields quoted only when they must be (RFC 4180),
 *          input fields that are not valid UTF-8 as their bytes (see
 *          "Bytes"). No field is dropped: with a reader, the columns are
 *          every input's (llp_reader_all_columns), and any record that is
 *          not failed yet has a field outside the columns is a write error
 *          (LLP_WRITE_FAILED) naming the record and the field.
 *   text   llp_writer_opts.text_fn.
 * Opening ignores SIGPIPE for the process, so a closed pipe is seen as EPIPE
 * by the writer rather than killing the tool mid-batch. */
llp_writer *llp_writer_open(const llp_writer_opts *opts, llp_err *err);

/* Write one record and flush it, so a pipe downstream sees it at once.
 * Returns LLP_WRITE_OK, LLP_WRITE_CLOSED or LLP_WRITE_FAILED (err set). */
int llp_writer_write(llp_writer *w, const llp_record *r, llp_err *err);

llp_format llp_writer_format(const llp_writer *w);

/* Flush and free; the stream is not closed. Returns like llp_writer_write
 * (a failing final flush is reported). NULL is fine. */
int llp_writer_close(llp_writer *w, llp_err *err);

#endif
