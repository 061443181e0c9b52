/*
 * embed_task.h — llp-embed's work on a group of records, as a process
 * callback for the record loop (batch.h), so that llp-embed and a pipeline's
 * embed step do exactly the same thing: embed the texts (embed.h), add the
 * fields `embedding`, `dim`, `truncated` (when true) and `chunks` (with
 * --long chunk), and keep the vectors in a collection of the store.
 *
 * Not for: pooling or batching (embed.h), flags (the binary), the store's
 * schema (store.h).
 *
 * Deduplication: a text repeated within a call, or seen in the last
 * LLP_EMBED_RECENT vectors of the job, is not embedded again (the store's
 * cache covers repeats further apart once their items are committed). In a
 * collection, vectors are keyed by (collection, hash of the text, model), so
 * the same text is stored once however often it comes.
 */
#ifndef LLP_EMBED_TASK_H
#define LLP_EMBED_TASK_H

#include <stdbool.h>

#include "batch.h"
#include "embed.h"

#define LLP_EMBED_RECENT 256

typedef struct llp_embed_task llp_embed_task;

/* The task borrows the embedder and the strings. model_fp: the vectors'
 * model in the collection. collection: NULL for none. into: --into or NULL.
 * chunked: add `chunks` (--long chunk). */
llp_embed_task *llp_embed_task_new(llp_embedder *e, const char *model_fp,
                                   const char *collection, const char *into, bool chunked);
void llp_embed_task_free(llp_embed_task *t);

/* The parameters that decide an embed job's output (jobs.params and the
 * cache key): pooling, normalize, long, bos (as resolved for tok), n_ctx,
 * collection. New reference. */
json_t *llp_embed_params_json(const llp_embed_params *p, const llp_tokenizer *tok, int n_ctx,
                              const char *collection);

/* llp_batch_process_fn; ctx is the llp_embed_task. */
int llp_embed_task_process(void *ctx, llp_batch *b, llp_record *const *recs, int n,
                           llp_batch_result *res, llp_err *err);

#endif
