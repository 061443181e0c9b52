/*
 * llp-embed — one embedding vector per record, optionally kept in a named
 * collection of the store, and nearest-neighbour search over a collection.
 *
 * Wiring only: flags (cli.h), the model (engine.h), pooling and batching
 * (embed.h), the per-record work and collections (embed_task.h), the record
 * loop (batch.h). Not for: the vector arithmetic or the scheduler
 * (lib/embed.c), or anything a pipeline's embed step also needs
 * (lib/embed_task.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "cli.h"
#include "embed.h"
#include "embed_task.h"
#include "engine.h"

static const char usage[] =
    "Usage: llp-embed -m MODEL [OPTIONS] [FILE|DIR...]\n"
    "       llp-embed -m MODEL --collection NAME --similar TEXT [-k N]\n"
    "\n"
    "Embed each record's text: the model's final hidden states (after the last\n"
    "norm) pooled into one vector. Each record gets `embedding` (floats) and\n"
    "`dim`; `truncated: true` when the text was longer than the context.\n"
    "\n"
    "Embedding options:\n"
    "      --pooling P        mean (default: all tokens, BOS included), cls (first\n"
    "                         token) or last (last token)\n"
    "      --normalize N      l2 (default) or none\n"
    "      --long MODE        truncate (default) or chunk: embed a long text in\n"
    "                         context-sized chunks and average them by tokens\n"
    "      --no-bos           do not put BOS in front of each text\n"
    "      --collection NAME  also keep the vectors in this collection of the store\n"
    "                         (one per distinct text and model)\n"
    "      --similar TEXT     search the collection: the records nearest to TEXT\n"
    "                         by cosine, best first, each with `id`, `text`\n"
    "                         (the text embedded) and `score`; only reads the store\n"
    "  -k N                   how many records --similar returns (default 10)\n"
    "\n"
    "Examples:\n"
    "  llp-embed -m M --column review examples/reviews.csv > vectors.csv\n"
    "  llp-embed -m M --collection docs examples/docs/\n"
    "  llp-embed -m M --collection docs --similar 'how to bake bread' -k 3\n";

enum { OPT_POOLING = LLP_OPT_TOOL, OPT_NORMALIZE, OPT_LONG, OPT_NO_BOS, OPT_COLLECTION,
       OPT_SIMILAR };

static const struct option long_options[] = {
    { "pooling", required_argument, NULL, OPT_POOLING },
    { "normalize", required_argument, NULL, OPT_NORMALIZE },
    { "long", required_argument, NULL, OPT_LONG },
    { "no-bos", no_argument, NULL, OPT_NO_BOS },
    { "collection", required_argument, NULL, OPT_COLLECTION },
    { "similar", required_argument, NULL, OPT_SIMILAR },
    { 0 },
};

typedef struct embed_opts {
    llp_embed_params p;
    const char *collection;
    const char *similar;
    int k;
} embed_opts;

static int on_option(void *ctx, int id, const char *arg, llp_err *err)
{
    embed_opts *o = ctx;
    switch (id) {
    case OPT_POOLING: return llp_pooling_parse(arg, &o->p.pooling, err);
    case OPT_NORMALIZE: return llp_embed_norm_parse(arg, &o->p.normalize, err);
    case OPT_LONG: return llp_embed_long_parse(arg, &o->p.long_mode, err);
    case OPT_NO_BOS: o->p.add_bos = 0; return 0;
    case OPT_COLLECTION:
        if (!*arg) return llp_err_set(err, "--collection: the name is empty");
        o->collection = arg;
        return 0;
    case OPT_SIMILAR: o->similar = arg; return 0;
    case 'k': return llp_opt_int("-k", arg, 1, 1000000, &o->k, err);
    }
    return llp_err_set(err, "unhandled option");
}

/* ---- records ------------------------------------------------------------------ */

/* ---- search ----------------------------------------------------------------------- */

static int run_similar(const llp_cli *cli, const embed_opts *o, llp_engine *e,
                       llp_embedder *embedder)
{
    llp_err err;
    const char *q = o->similar;
    int dim = llp_embedder_dim(embedder);
    size_t qlen = strlen(q);
    llp_embed_result r = { 0 };
    if (qlen == 0) return llp_cli_usage_error(cli, "--similar: the text is empty");
    if (llp_embed_texts(embedder, &q, &qlen, 1, &r, &err))
        llp_die(cli->tool, "%s", err.msg);
    char *path = llp_store_resolve_path(cli->db_path, &err);
    llp_store *s = path ? llp_store_open_readonly(path, &err) : NULL;
    free(path);
    if (!s) llp_die(cli->tool, "%s", err.msg);
    int k = o->k, n = 0;
    llp_neighbor *hits = llp_calloc((size_t)k, sizeof *hits);
    if (llp_embed_search(s, o->collection, e->fingerprint, r.vec, dim, k, hits, &n, &err))
        llp_die(cli->tool, "%s", err.msg);
    llp_store_close(s);
    if (n == 0 && !cli->quiet)
        llp_note(cli->tool, "collection '%s' has no vectors of this model", o->collection);

    /* --out text: id, score, text */
    const char *cols[] = { "score", "text" };
    llp_writer_opts wo = { .format = cli->out, .input_format = LLP_FMT_JSONL,
                           .output_columns = cols, .n_output_columns = 2 };
    llp_writer *w = llp_writer_open(&wo, &err);
    if (!w) llp_die(cli->tool, "%s", err.msg);
    int rc = LLP_EXIT_OK;
    for (int i = 0; i < n; i++) {
        if (rc == LLP_EXIT_OK) {
            /* id, the stored text (null for vectors stored without it,
             * before schema version 2), score */
            const char *text = hits[i].text;
            llp_record *rec = llp_record_new(hits[i].record_id, text ? text : "",
                                             text ? strlen(text) : 0, o->collection);
            if (!text) llp_record_add(rec, "text", json_null());
            llp_record_add(rec, "score", json_real(hits[i].score));
            int wr = llp_writer_write(w, rec, &err);
            llp_record_free(rec);
            if (wr == LLP_WRITE_FAILED) {
                llp_error(cli->tool, "%s", err.msg);
                rc = LLP_EXIT_FATAL;
            } else if (wr == LLP_WRITE_CLOSED) {
                rc = -1;
            }
        }
        free(hits[i].record_id);
        free(hits[i].text);
    }
    if (llp_writer_close(w, &err) == LLP_WRITE_FAILED && rc == LLP_EXIT_OK) {
        llp_error(cli->tool, "%s", err.msg);
        rc = LLP_EXIT_FATAL;
    }
    free(hits);
    llp_embed_result_free(&r);
    return rc < 0 ? LLP_EXIT_OK : rc;
}

int main(int argc, char **argv)
{
    llp_cli cli;
    embed_opts o = { .p = { .add_bos = -1 }, .k = 10 };
    llp_cli_init(&cli, "llp-embed");
    llp_cli_tool tool = { .groups = LLP_CLI_EMBED, .usage = usage, .options = long_options, .short_options = "k:",
                          .on_option = on_option, .ctx = &o };
    int rc = llp_cli_parse(&cli, &tool, argc, argv, NULL);
    if (rc != LLP_CLI_RUN) return rc;
    if (o.similar && !o.collection)
        return llp_cli_usage_error(&cli, "--similar needs --collection NAME to search");
    if (o.similar && (cli.n_args > 0 || cli.files_from))
        return llp_cli_usage_error(&cli, "--similar searches a collection; it reads no input");
    if (o.similar && cli.no_db)
        return llp_cli_usage_error(&cli, "--similar searches the store; it cannot run with --no-db");
    if (o.collection && cli.no_db && !cli.quiet)
        llp_warn(cli.tool, "--no-db: the vectors are not kept in collection '%s'", o.collection);

    llp_err err;
    llp_engine_opts eo = { .model_path = cli.model, .n_ctx = cli.ctx_size,
                           .n_threads = cli.threads,
                           .lora = cli.lora, .lora_scale = cli.lora_scale,
                           .n_lora = cli.n_lora, .lora_merge = cli.lora_merge };
    llp_engine *e = llp_engine_open(&eo, &err);
    if (!e) llp_die(cli.tool, "%s", err.msg);
    /* several sequences, so that several records share a forward call */
    llp_context *ctx = llp_embed_context_new(e->model, cli.ctx_size, cli.threads, cli.kv_type, &err);
    if (!ctx) llp_die(cli.tool, "%s", err.msg);
    llp_context_free(e->ctx);
    e->ctx = ctx;

    llp_embedder *embedder = llp_embedder_new(e->ctx, e->tok, &o.p);
    if (o.similar) {
        rc = run_similar(&cli, &o, e, embedder);
    } else {
        json_t *params = llp_embed_params_json(&o.p, e->tok, llp_context_n_ctx(ctx), o.collection);
        const char *base[] = { "embedding", "dim", "truncated", "chunks" };
        size_t n_cols = o.p.long_mode == LLP_EMBED_CHUNK ? 4 : 3;
        char *cols[4];
        for (size_t i = 0; i < n_cols; i++) cols[i] = llp_output_name(cli.into, "embedding", base[i]);
        llp_embed_task *task = llp_embed_task_new(embedder, e->fingerprint, o.collection,
                                                  cli.into, o.p.long_mode == LLP_EMBED_CHUNK);
        llp_batch_tool bt = {
            .task = "embed", .params = params, .model_fp = e->fingerprint,
            .model_path = e->model->path, .model_size = e->file_size, .model_meta = e->meta,
            .process = llp_embed_task_process, .ctx = task, .max_batch = 64,
            .output_columns = (const char *const *)cols, .n_output_columns = n_cols,
        };
        rc = llp_batch_run(&cli, &bt, argc, argv);
        llp_embed_task_free(task);
        for (size_t i = 0; i < n_cols; i++) free(cols[i]);
        json_decref(params);
    }
    llp_embedder_free(embedder);
    llp_engine_free(e);
    llp_cli_free(&cli);
    return rc;
}
