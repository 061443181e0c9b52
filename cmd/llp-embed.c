/*
 * llp-embed — one embedding vector per record, optionally kept in a named
 * collection of the store, and nearest-neighbour search over a collection.
 *
 * Wiring only: flags (cli.h), the model (engine.h), pooling and batching
 * (embed.h), the record loop and store (batch.h, store.h). Not for: the
 * vector arithmetic or the scheduler (lib/embed.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "cli.h"
#include "embed.h"
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
    "                         by cosine, best first, each with `score`\n"
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

/* Vectors computed recently in this job, by content hash: a text repeated
 * before its first copy reached the store's cache is not embedded again. */
#define RECENT_MAX 256

typedef struct embed_task {
    llp_engine *engine;
    llp_embedder *embedder;
    const embed_opts *o;
    const char *into;
    int dim;
    char recent_hash[RECENT_MAX][LLP_HASH_HEX];
    float *recent_vec[RECENT_MAX];
    int n_recent, recent_next;
} embed_task;

static const float *recent_find(const embed_task *t, const char *hash)
{
    for (int i = 0; i < t->n_recent; i++)
        if (strcmp(t->recent_hash[i], hash) == 0) return t->recent_vec[i];
    return NULL;
}

static void recent_add(embed_task *t, const char *hash, const float *vec)
{
    int at = t->recent_next;
    t->recent_next = (t->recent_next + 1) % RECENT_MAX;
    if (t->n_recent < RECENT_MAX) t->n_recent++;
    else free(t->recent_vec[at]);
    memcpy(t->recent_hash[at], hash, LLP_HASH_HEX);
    t->recent_vec[at] = llp_malloc(sizeof(float) * (size_t)t->dim);
    memcpy(t->recent_vec[at], vec, sizeof(float) * (size_t)t->dim);
}

static json_t *vector_json(const float *v, int dim)
{
    json_t *a = json_array();
    for (int d = 0; d < dim; d++) json_array_append_new(a, json_real(v[d]));
    return a;
}

static void set_field(json_t *f, const char *into, const char *name, json_t *value)
{
    char *key = llp_output_name(into, "embedding", name);
    json_object_set_new(f, key, value);
    free(key);
}

/* Store the vectors of this call in the collection, in one transaction
 * unless the record loop already has one open. */
static int store_vectors(embed_task *t, llp_batch *b, llp_record *const *recs, int n,
                         char (*hashes)[LLP_HASH_HEX], float *const *vecs, llp_err *err)
{
    llp_store *s = llp_batch_store(b);
    if (!s || !t->o->collection) return 0;
    bool own = !llp_store_in_transaction(s);
    if (own && llp_store_begin(s, err)) return -1;
    for (int i = 0; i < n; i++) {
        if (!vecs[i]) continue;
        if (llp_store_embedding_put(s, t->o->collection, recs[i]->id, hashes[i], vecs[i],
                                    t->dim, t->engine->fingerprint, err)) {
            if (own) llp_store_rollback(s);
            return -1;
        }
    }
    return own ? llp_store_commit(s, err) : 0;
}

static int process(void *ctx, llp_batch *b, llp_record *const *recs, int n,
                   llp_batch_result *res, llp_err *err)
{
    embed_task *t = ctx;
    char (*hashes)[LLP_HASH_HEX] = llp_calloc((size_t)n, LLP_HASH_HEX);
    const char **texts = llp_calloc((size_t)n, sizeof *texts);
    size_t *lens = llp_calloc((size_t)n, sizeof *lens);
    int *todo = llp_calloc((size_t)n, sizeof *todo);   /* records to embed */
    int *same = llp_calloc((size_t)n, sizeof *same);   /* earlier record with this text, or -1 */
    const float **known = llp_calloc((size_t)n, sizeof *known);
    float **vecs = llp_calloc((size_t)n, sizeof *vecs);
    llp_embed_result *out = llp_calloc((size_t)n, sizeof *out);
    int n_todo = 0, rc = 0;

    for (int i = 0; i < n; i++) {
        llp_hash128(recs[i]->text, recs[i]->text_len, hashes[i]);
        same[i] = -1;
        for (int j = 0; j < i && same[i] < 0; j++)
            if (strcmp(hashes[j], hashes[i]) == 0) same[i] = j;
        if (same[i] >= 0) continue;
        if ((known[i] = recent_find(t, hashes[i]))) continue;
        texts[n_todo] = recs[i]->text;
        lens[n_todo] = recs[i]->text_len;
        todo[n_todo++] = i;
    }
    if (n_todo > 0 && llp_embed_texts(t->embedder, texts, lens, n_todo, out, err)) {
        rc = -1;
        goto done;
    }
    llp_embed_result *by_record[LLP_BATCH_MAX_GROUP] = { 0 };
    for (int j = 0; j < n_todo; j++) by_record[todo[j]] = &out[j];
    for (int i = 0; i < n; i++) {
        int src = same[i] >= 0 ? same[i] : i;
        llp_embed_result *r = by_record[src];
        if (r && r->error) {
            llp_batch_result_fail(&res[i], "%s", r->error);
            continue;
        }
        const float *v = r ? r->vec : known[src];
        vecs[i] = (float *)v;
        json_t *f = json_object();
        set_field(f, t->into, "embedding", vector_json(v, t->dim));
        set_field(f, t->into, "dim", json_integer(t->dim));
        if (r && r->truncated) set_field(f, t->into, "truncated", json_true());
        if (t->o->p.long_mode == LLP_EMBED_CHUNK)
            set_field(f, t->into, "chunks", json_integer(r ? r->n_chunks : 1));
        res[i].fields = f;
        res[i].tokens_in = src == i && r ? r->n_tokens : 0;
    }
    /* vecs may point into the recent list: store before it changes */
    rc = store_vectors(t, b, recs, n, hashes, vecs, err);
    for (int j = 0; j < n_todo; j++)
        if (out[j].vec) recent_add(t, hashes[todo[j]], out[j].vec);
done:
    for (int j = 0; j < n_todo; j++) llp_embed_result_free(&out[j]);
    free(out);
    free(vecs);
    free(known);
    free(same);
    free(todo);
    free(lens);
    free(texts);
    free(hashes);
    return rc;
}

/* ---- search ----------------------------------------------------------------------- */

static int run_similar(const llp_cli *cli, embed_task *t)
{
    llp_err err;
    const char *q = t->o->similar;
    size_t qlen = strlen(q);
    llp_embed_result r = { 0 };
    if (qlen == 0) return llp_cli_usage_error(cli, "--similar: the text is empty");
    if (llp_embed_texts(t->embedder, &q, &qlen, 1, &r, &err))
        llp_die(cli->tool, "%s", err.msg);
    char *path = llp_store_resolve_path(cli->db_path, &err);
    llp_store *s = path ? llp_store_open(path, &err) : NULL;
    free(path);
    if (!s) llp_die(cli->tool, "%s", err.msg);
    int k = t->o->k, n = 0;
    llp_neighbor *hits = llp_calloc((size_t)k, sizeof *hits);
    if (llp_embed_search(s, t->o->collection, t->engine->fingerprint, r.vec, t->dim, k, hits,
                         &n, &err))
        llp_die(cli->tool, "%s", err.msg);
    llp_store_close(s);
    if (n == 0 && !cli->quiet)
        llp_note(cli->tool, "collection '%s' has no vectors of this model", t->o->collection);

    const char *cols[] = { "score" };
    llp_writer_opts wo = { .format = cli->out, .input_format = LLP_FMT_JSONL,
                           .output_columns = cols, .n_output_columns = 1 };
    llp_writer *w = llp_writer_open(&wo, &err);
    if (!w) llp_die(cli->tool, "%s", err.msg);
    int rc = LLP_EXIT_OK;
    for (int i = 0; i < n; i++) {
        if (rc == LLP_EXIT_OK) {
            llp_record *rec = llp_record_new(hits[i].record_id, "", 0, t->o->collection);
            json_object_del(rec->fields, "text");
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
    llp_cli_tool tool = { .usage = usage, .options = long_options, .short_options = "k:",
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
                           .n_threads = cli.threads };
    llp_engine *e = llp_engine_open(&eo, &err);
    if (!e) llp_die(cli.tool, "%s", err.msg);
    /* several sequences, so that several records share a forward call */
    llp_context *ctx = llp_embed_context_new(e->model, cli.ctx_size, cli.threads, &err);
    if (!ctx) llp_die(cli.tool, "%s", err.msg);
    llp_context_free(e->ctx);
    e->ctx = ctx;

    embed_task t = { .engine = e, .o = &o, .into = cli.into, .dim = e->model->cfg.dim };
    t.embedder = llp_embedder_new(e->ctx, e->tok, &o.p);
    if (o.similar) {
        rc = run_similar(&cli, &t);
    } else {
        bool bos = o.p.add_bos < 0 ? llp_tokenizer_add_bos(e->tok) : o.p.add_bos > 0;
        json_t *params = json_pack("{s:s,s:s,s:s,s:b,s:i,s:s?}",
                                   "pooling", llp_pooling_name(o.p.pooling),
                                   "normalize", llp_embed_norm_name(o.p.normalize),
                                   "long", llp_embed_long_name(o.p.long_mode), "bos", bos,
                                   "n_ctx", llp_context_n_ctx(ctx), "collection", o.collection);
        const char *base[] = { "embedding", "dim", "truncated", "chunks" };
        size_t n_cols = o.p.long_mode == LLP_EMBED_CHUNK ? 4 : 3;
        char *cols[4];
        for (size_t i = 0; i < n_cols; i++) cols[i] = llp_output_name(cli.into, "embedding", base[i]);
        llp_batch_tool bt = {
            .task = "embed", .params = params, .model_fp = e->fingerprint,
            .model_path = e->model->path, .model_size = e->file_size, .model_meta = e->meta,
            .process = process, .ctx = &t, .max_batch = 64,
            .output_columns = (const char *const *)cols, .n_output_columns = n_cols,
        };
        rc = llp_batch_run(&cli, &bt, argc, argv);
        for (size_t i = 0; i < n_cols; i++) free(cols[i]);
        json_decref(params);
    }
    for (int i = 0; i < t.n_recent; i++) free(t.recent_vec[i]);
    llp_embedder_free(t.embedder);
    llp_engine_free(e);
    llp_cli_free(&cli);
    return rc;
}
