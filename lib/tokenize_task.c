/*
 * tokenize_task.c — llp-tokenize's encoding work (see tokenize_task.h).
 */
#include "tokenize_task.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void llp_tok_vocab_hash(const gguf_file *f, char out[LLP_HASH_HEX])
{
    llp_hash128(gguf_bytes(f), (size_t)gguf_data_offset(f), out);
}

static int process(void *ctx, llp_batch *b, llp_record *const *recs, int n, llp_batch_result *res,
                   llp_err *err)
{
    llp_tok_task *t = ctx;
    (void)b;
    (void)err;
    for (int i = 0; i < n; i++) {
        /* an empty text is tokens [] (just BOS when BOS is on), not an error */
        const llp_record *r = recs[i];
        llp_tokens v = { 0 };
        llp_err terr;
        if (llp_tokenize(t->tok, r->text, r->text_len, !t->no_bos, t->special, &v, &terr) != 0) {
            llp_batch_result_fail(&res[i], "%s", terr.msg);
            continue;
        }
        json_t *f = json_object();
        if (t->col_tokens) {
            json_t *ids = json_array();
            for (size_t k = 0; k < v.n; k++) json_array_append_new(ids, json_integer(v.ids[k]));
            json_object_set_new(f, t->col_tokens, ids);
        }
        json_object_set_new(f, t->col_n, json_integer((json_int_t)v.n));
        if (t->col_pieces) {
            json_t *pieces = json_array();
            for (size_t k = 0; k < v.n; k++) {
                size_t len;
                const char *p = llp_token_piece(t->tok, v.ids[k], &len);
                json_array_append_new(pieces, llp_json_string(p, len));
            }
            json_object_set_new(f, t->col_pieces, pieces);
        }
        res[i].fields = f;
        res[i].tokens_in = (int64_t)v.n;
        llp_tokens_free(&v);
    }
    return 0;
}

/* Print a JSON array's items separated by spaces (strings as they are). */
static void print_array(FILE *out, const json_t *a)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (i) fputc(' ', out);
        if (json_is_string(v)) fwrite(json_string_value(v), 1, json_string_length(v), out);
        else fprintf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    }
}

/* --out text: ids (tab, pieces), or the count. */
static void print_text(FILE *out, const llp_record *r, void *ctx)
{
    const llp_tok_task *t = ctx;
    if (r->error) {
        fprintf(out, "error: %s\n", r->error);
        return;
    }
    if (t->count) {
        json_t *n = json_object_get(r->fields, t->col_n);
        fprintf(out, "%" JSON_INTEGER_FORMAT "\n", json_integer_value(n));
        return;
    }
    print_array(out, json_object_get(r->fields, t->col_tokens));
    if (t->col_pieces) {
        fputc('\t', out);
        print_array(out, json_object_get(r->fields, t->col_pieces));
    }
    fputc('\n', out);
}

void llp_tok_task_init(llp_tok_task *t, const llp_tokenizer *tok, const char *vocab_hash,
                       bool pieces, bool count, bool no_bos, bool special, const char *into,
                       llp_batch_tool *bt)
{
    memset(t, 0, sizeof *t);
    t->tok = tok;
    t->pieces = pieces;
    t->count = count;
    t->no_bos = no_bos;
    t->special = special;
    const char *primary = count ? "n_tokens" : "tokens";
    if (!count) t->col_tokens = t->cols[t->n_cols++] = llp_output_name(into, primary, "tokens");
    t->col_n = t->cols[t->n_cols++] = llp_output_name(into, primary, "n_tokens");
    if (pieces && !count)
        t->col_pieces = t->cols[t->n_cols++] = llp_output_name(into, primary, "pieces");
    t->params = json_pack("{s:s,s:b,s:b,s:b,s:b}", "vocabulary", vocab_hash, "bos", !no_bos,
                          "special", special, "pieces", pieces, "count", count);
    bt->task = "tokenize";
    bt->params = t->params;
    bt->process = process;
    bt->ctx = t;
    bt->max_batch = 64;
    bt->output_columns = (const char *const *)t->cols;
    bt->n_output_columns = (size_t)t->n_cols;
    bt->text_fn = print_text;
    bt->text_ctx = t;
}

void llp_tok_task_free(llp_tok_task *t)
{
    for (int i = 0; i < t->n_cols; i++) free(t->cols[i]);
    json_decref(t->params);
    memset(t, 0, sizeof *t);
}
