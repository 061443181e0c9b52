/*
 * llp-tokenize — text to token ids (and back) with a model's vocabulary.
 *
 * Wiring only: flags (cli.h), the vocabulary (tokenizer.h), records
 * (records.h) and the record loop with its store and cache (batch.h).
 * Only the vocabulary is loaded: the GGUF file is opened (mmap), its
 * tokenizer keys copied, and it is closed; tensor data is never read.
 *
 * Not for: anything another tool needs (that lives in lib/tokenizer.c).
 *
 * Encoding runs through the shared record loop, so jobs are recorded and
 * results cached. --decode reads ids that are a JSON array in JSONL input,
 * which the record reader (text fields are strings) does not pass to a
 * record loop; it is a pure function of the ids, so it runs its own small
 * reader -> writer loop with no store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "cli.h"
#include "gguf.h"
#include "hash.h"
#include "records.h"
#include "tokenizer.h"
#include "tokenize_task.h"

static const char usage[] =
    "Usage: llp-tokenize -m MODEL [OPTIONS] [FILE...]\n"
    "\n"
    "Turn each record's text into the model's token ids. Records are lines of\n"
    "stdin or the files (one per line), JSONL, or CSV/TSV. Each record gets\n"
    "`tokens` (ids) and `n_tokens`. Only the model's vocabulary is read, so this\n"
    "is fast even for a 70B model file.\n"
    "\n"
    "Tokenize options:\n"
    "      --pieces           also add `pieces`, the vocabulary strings of the ids\n"
    "      --count            print only the number of tokens of each record, one\n"
    "                         per line (with --out jsonl|csv|tsv: add only `n_tokens`)\n"
    "      --decode           the other way: read ids (the `tokens` field of JSONL,\n"
    "                         or --field NAME; or lines of space-separated ids) and\n"
    "                         print the text, one per line (with --out jsonl|csv|tsv:\n"
    "                         add `text`)\n"
    "      --no-bos           do not put BOS in front (nor EOS at the end, for a\n"
    "                         vocabulary that asks for it)\n"
    "      --special          turn the text of special tokens (<s>, </s>) into those\n"
    "                         tokens instead of tokenizing it as text\n"
    "\n"
    "With --out text, each record prints as its ids separated by spaces (and,\n"
    "with --pieces, a tab and the pieces).\n"
    "\n"
    "Examples:\n"
    "  echo 'Hello world' | llp-tokenize -m llama-2-7b.Q4_K_M.gguf --out text\n"
    "  llp-tokenize -m M --count notes.txt\n"
    "  llp-tokenize -m M --pieces --in jsonl docs.jsonl > tokens.jsonl\n"
    "  llp-tokenize -m M --out jsonl < in.txt | llp-tokenize -m M --decode\n"
    "  echo '1 15043 3186' | llp-tokenize -m M --decode\n";

enum { OPT_PIECES = LLP_OPT_TOOL, OPT_COUNT, OPT_DECODE, OPT_NO_BOS, OPT_SPECIAL };

static const struct option long_options[] = {
    { "pieces", no_argument, NULL, OPT_PIECES },
    { "count", no_argument, NULL, OPT_COUNT },
    { "decode", no_argument, NULL, OPT_DECODE },
    { "no-bos", no_argument, NULL, OPT_NO_BOS },
    { "special", no_argument, NULL, OPT_SPECIAL },
    { 0 },
};

typedef struct tok_task {
    const llp_tokenizer *tok;
    bool pieces, count, decode, no_bos, special;
    /* output field names after --into */
    char *col_tokens, *col_n, *col_pieces, *col_text;
    /* --decode: the raw bytes of the record being written, for --out text */
    const char *decoded;
    size_t decoded_len;
} tok_task;

static int on_option(void *ctx, int id, const char *arg, llp_err *err)
{
    tok_task *t = ctx;
    switch (id) {
    case OPT_PIECES: t->pieces = true; return 0;
    case OPT_COUNT: t->count = true; return 0;
    case OPT_DECODE: t->decode = true; return 0;
    case OPT_NO_BOS: t->no_bos = true; return 0;
    case OPT_SPECIAL: t->special = true; return 0;
    }
    return llp_err_set(err, "unhandled option");
}

/* ---- decoding ------------------------------------------------------------ */

/* Ids from a JSON array of integers. Returns 0, or -1 with a message. */
static int ids_from_json(const json_t *a, llp_tokens *v, char *msg, size_t cap)
{
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x) {
        if (!json_is_integer(x) || json_integer_value(x) < INT32_MIN || json_integer_value(x) > INT32_MAX) {
            snprintf(msg, cap, "item %zu is not a token id", i + 1);
            return -1;
        }
        llp_tokens_push(v, (int32_t)json_integer_value(x));
    }
    return 0;
}

/* Ids from text: decimal integers separated by spaces, tabs or commas,
 * optionally in [brackets]. */
static int ids_from_text(const char *s, size_t len, llp_tokens *v, char *msg, size_t cap)
{
    size_t i = 0;
    while (i < len) {
        char c = s[i];
        if (c == ' ' || c == '\t' || c == ',' || c == '[' || c == ']' || c == '\r') {
            i++;
            continue;
        }
        size_t start = i;
        if (c == '-') i++;
        long long val = 0;
        size_t digits = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9' && digits < 12) {
            val = val * 10 + (s[i] - '0');
            i++;
            digits++;
        }
        bool sep_after = i == len || strchr(" \t,[]\r", s[i]);
        if (digits == 0 || digits >= 12 || !sep_after) {
            size_t end = start;
            while (end < len && !strchr(" \t,[]\r", s[end])) end++;
            snprintf(msg, cap, "'%.*s' is not a token id", (int)(end - start < 40 ? end - start : 40), s + start);
            return -1;
        }
        if (s[start] == '-') val = -val;
        if (val < INT32_MIN || val > INT32_MAX) {
            snprintf(msg, cap, "'%lld' is not a token id", val);
            return -1;
        }
        llp_tokens_push(v, (int32_t)val);
    }
    return 0;
}

static void print_decoded(FILE *out, const llp_record *r, void *ctx)
{
    const tok_task *t = ctx;
    if (r->error) fprintf(out, "error: %s\n", r->error);
    else {
        fwrite(t->decoded, 1, t->decoded_len, out);
        fputc('\n', out);
    }
}

/* True when the reader failed this JSONL record only because the ids field
 * is an array rather than a string, which is what --decode wants. */
static bool array_field_ok(const llp_record *r, const char *field)
{
    const json_t *upstream = json_object_get(r->fields, "error");
    if (json_is_string(upstream) && json_string_length(upstream) > 0) return false;
    return json_is_array(json_object_get(r->fields, field));
}

static int run_decode(llp_cli *cli, tok_task *t)
{
    llp_err err;
    llp_reader_opts ro;
    llp_cli_reader_opts(cli, &ro);
    const char *field = cli->field ? cli->field : "tokens";
    ro.field = field;
    ro.tool = cli->tool;
    llp_writer *wr = NULL;
    llp_reader *rd = llp_reader_open(&ro, &err);
    if (!rd) goto fatal;

    const char *cols[] = { t->col_text };
    llp_writer_opts wo = { 0 };
    wo.format = cli->out == LLP_FMT_AUTO ? LLP_FMT_TEXT : cli->out;
    wo.input_format = llp_reader_format(rd);
    wo.input_columns = llp_reader_columns(rd, &wo.n_input_columns);
    wo.reader = rd;
    wo.output_columns = cols;
    wo.n_output_columns = 1;
    wo.text_fn = print_decoded;
    wo.text_ctx = t;
    /* The writer opens after the first record is checked, so a refused run
     * writes nothing (not even a CSV header). A line of ids has no fields of
     * its own: its `text` is the ids, which the decoded text replaces. */
    llp_format in_format = llp_reader_format(rd);
    if (wo.format == LLP_FMT_CSV || wo.format == LLP_FMT_TSV) {
        size_t n_cols;   /* learned before the first record is taken */
        if (!llp_reader_all_columns(rd, &n_cols, &err)) goto fatal;
    }
    bool check_clash = wo.format != LLP_FMT_TEXT && in_format != LLP_FMT_LINES &&
                       in_format != LLP_FMT_DOC;

    long n_failed = 0, n_written = 0;
    int rc;
    llp_record *rec;
    while ((rc = llp_reader_next(rd, &rec, &err)) == 1) {
        if (cli->shard_n > 1 && !llp_shard_match(rec->id, cli->shard_k, cli->shard_n)) {
            llp_record_free(rec);
            continue;
        }
        const json_t *arr = json_object_get(rec->fields, field);
        if (rec->error && llp_reader_format(rd) == LLP_FMT_JSONL && array_field_ok(rec, field)) {
            free(rec->error);
            rec->error = NULL;
        }
        char *text = NULL;
        size_t text_len = 0;
        /* The decoded text never replaces an input field (a tokenize
         * output's own `text`): pass --into, as in every tool. */
        const char *clash = !check_clash || rec->error ? NULL
                            : llp_record_field_clash(rec, cols, 1);
        if (clash && n_written == 0) {
            int code = llp_cli_usage_error(cli, "%s: input field '%s' is also a field %s adds; "
                                           "pass --into NAME to give the added fields other names",
                                           rec->where, clash, cli->tool);
            llp_record_free(rec);
            llp_reader_close(rd);
            return code;
        }
        if (!wr && !(wr = llp_writer_open(&wo, &err))) {
            llp_record_free(rec);
            goto fatal;
        }
        if (clash)
            llp_record_fail(rec, "input field '%s' is also a field %s adds; pass --into NAME "
                            "to give the added fields other names", clash, cli->tool);
        if (!rec->error) {
            llp_tokens v = { 0 };
            char msg[256];
            int prc = json_is_array(arr) ? ids_from_json(arr, &v, msg, sizeof msg)
                                         : ids_from_text(rec->text, rec->text_len, &v, msg, sizeof msg);
            if (prc != 0) llp_record_fail(rec, "%s", msg);
            else if (!(text = llp_detokenize(t->tok, v.ids, v.n, t->special, &text_len, &err)))
                llp_record_fail(rec, "%s", err.msg);
            else llp_record_add(rec, t->col_text, llp_json_string(text, text_len));
            llp_tokens_free(&v);
        }
        if (rec->error) n_failed++;
        t->decoded = text ? text : "";
        t->decoded_len = text_len;
        int w = llp_writer_write(wr, rec, &err);
        n_written++;
        free(text);
        llp_record_free(rec);
        if (w == LLP_WRITE_CLOSED) {
            rc = 0;
            break;
        }
        if (w < 0) goto fatal;
    }
    if (rc < 0) goto fatal;
    if (!wr && !(wr = llp_writer_open(&wo, &err))) goto fatal;
    if (llp_writer_close(wr, &err) == LLP_WRITE_FAILED) {
        wr = NULL;
        goto fatal;
    }
    llp_reader_close(rd);
    return n_failed ? LLP_EXIT_PARTIAL : LLP_EXIT_OK;

fatal:
    llp_error(cli->tool, "%s", err.msg);
    llp_writer_close(wr, &err);
    llp_reader_close(rd);
    return LLP_EXIT_FATAL;
}

/* ---- main ---------------------------------------------------------------- */

int main(int argc, char **argv)
{
    llp_cli cli;
    tok_task t = { 0 };
    llp_cli_init(&cli, "llp-tokenize");
    llp_cli_tool tool = { .groups = LLP_CLI_TOKENIZE, .usage = usage, .options = long_options, .on_option = on_option, .ctx = &t };
    int rc = llp_cli_parse(&cli, &tool, argc, argv, NULL);
    if (rc != LLP_CLI_RUN) return rc;
    if (t.decode && (t.count || t.pieces))
        return llp_cli_usage_error(&cli, "--decode cannot be combined with --count or --pieces");
    if (!cli.model) llp_die(cli.tool, "no model: pass -m MODEL or set LLP_MODEL");

    llp_err err;
    gguf_file *f = gguf_open(cli.model, &err);
    if (!f) llp_die(cli.tool, "%s", err.msg);
    llp_tokenizer *tok = llp_tokenizer_from_gguf(f, &err);
    if (!tok) {
        gguf_close(f);
        llp_die(cli.tool, "%s", err.msg);
    }
    /* The cache key names the vocabulary by a hash of the file's metadata
     * (header, key-value table, tensor table): no tensor data is read. */
    char vocab_hash[LLP_HASH_HEX];
    llp_tok_vocab_hash(f, vocab_hash);
    gguf_close(f);
    t.tok = tok;

    const char *primary = t.decode ? "text" : t.count ? "n_tokens" : "tokens";
    t.col_tokens = llp_output_name(cli.into, primary, "tokens");
    t.col_n = llp_output_name(cli.into, primary, "n_tokens");
    t.col_pieces = llp_output_name(cli.into, primary, "pieces");
    t.col_text = llp_output_name(cli.into, primary, "text");

    if (t.decode) {
        rc = run_decode(&cli, &t);
    } else {
        if (t.count && cli.out == LLP_FMT_AUTO) cli.out = LLP_FMT_TEXT;
        llp_tok_task task;
        llp_batch_tool bt = { 0 };
        llp_tok_task_init(&task, tok, vocab_hash, t.pieces, t.count, t.no_bos, t.special,
                          cli.into, &bt);
        rc = llp_batch_run(&cli, &bt, argc, argv);
        llp_tok_task_free(&task);
    }

    free(t.col_tokens);
    free(t.col_n);
    free(t.col_pieces);
    free(t.col_text);
    llp_tokenizer_free(tok);
    llp_cli_free(&cli);
    return rc;
}
