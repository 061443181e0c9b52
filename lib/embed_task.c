/*
 * embed_task.c — the record-loop callback of llp-embed and of a pipeline's
 * embed step (embed_task.h).
 *
 * Not for: the embeddings themselves (embed.c) or flags (cmd/llp-embed.c).
 */
#include "embed_task.h"

#include <stdlib.h>
#include <string.h>

/* Vectors computed recently in this job, by content hash: a text repeated
 * before its first copy reached the store's cache is not embedded again. */
struct llp_embed_task {
    llp_embedder *embedder;
    const char *model_fp;
    const char *collection;
    const char *into;
    bool chunked;
    int dim;
    char recent_hash[LLP_EMBED_RECENT][LLP_HASH_HEX];
    float *recent_vec[LLP_EMBED_RECENT];
    int n_recent, recent_next;
};

llp_embed_task *llp_embed_task_new(llp_embedder *e, const char *model_fp,
                                   const char *collection, const char *into, bool chunked)
{
    llp_embed_task *t = llp_calloc(1, sizeof *t);
    t->embedder = e;
    t->model_fp = model_fp;
    t->collection = collection;
    t->into = into;
    t->chunked = chunked;
    t->dim = llp_embedder_dim(e);
    return t;
}

void llp_embed_task_free(llp_embed_task *t)
{
    if (!t) return;
    for (int i = 0; i < t->n_recent; i++) free(t->recent_vec[i]);
    free(t);
}

json_t *llp_embed_params_json(const llp_embed_params *p, const llp_tokenizer *tok, int n_ctx,
                              const char *collection)
{
    bool bos = p->add_bos < 0 ? llp_tokenizer_add_bos(tok) : p->add_bos > 0;
    return json_pack("{s:s,s:s,s:s,s:b,s:i,s:s?}", "pooling", llp_pooling_name(p->pooling),
                     "normalize", llp_embed_norm_name(p->normalize), "long",
                     llp_embed_long_name(p->long_mode), "bos", bos, "n_ctx", n_ctx,
                     "collection", collection);
}

static const float *recent_find(const llp_embed_task *t, const char *hash)
{
    for (int i = 0; i < t->n_recent; i++)
        if (strcmp(t->recent_hash[i], hash) == 0) return t->recent_vec[i];
    return NULL;
}

static void recent_add(llp_embed_task *t, const char *hash, const float *vec)
{
    int at = t->recent_next;
    t->recent_next = (t->recent_next + 1) % LLP_EMBED_RECENT;
    if (t->n_recent < LLP_EMBED_RECENT) t->n_recent++;
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
static int store_vectors(llp_embed_task *t, llp_batch *b, llp_record *const *recs, int n,
                         char (*hashes)[LLP_HASH_HEX], float *const *vecs, llp_err *err)
{
    llp_store *s = llp_batch_store(b);
    if (!s || !t->collection) return 0;
    bool own = !llp_store_in_transaction(s);
    if (own && llp_store_begin(s, err)) return -1;
    for (int i = 0; i < n; i++) {
        if (!vecs[i]) continue;
        if (llp_store_embedding_put(s, t->collection, recs[i]->id, recs[i]->text,
                                    recs[i]->text_len, hashes[i], vecs[i],
                                    t->dim, t->model_fp, err)) {
            if (own) llp_store_rollback(s);
            return -1;
        }
    }
    return own ? llp_store_commit(s, err) : 0;
}

int llp_embed_task_process(void *ctx, llp_batch *b, llp_record *const *recs, int n,
                           llp_batch_result *res, llp_err *err)
{
    llp_embed_task *t = ctx;
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
        if (t->chunked)
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
