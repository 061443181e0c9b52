/*
 * embed.h — text embeddings: the final hidden states of a Llama model
 * (after output_norm, before the output head) pooled into one vector per
 * text, many texts per forward call, and nearest-neighbour search over a
 * stored collection. Used by llp-embed and the pipeline runner.
 *
 * Not for: the forward pass itself (model.h), storing vectors (store.h:
 * llp_store_embedding_put), reading records or flags (the binary).
 *
 * Pooling, as llama.cpp's --pooling does it:
 *   mean  the average of the hidden states of every token, BOS included
 *   cls   the hidden state of the first token (BOS when one is added)
 *   last  the hidden state of the last token
 * then, with LLP_EMBED_L2, divided by its Euclidean norm.
 *
 * Batching: each text (or chunk of a text) gets its own sequence of the
 * context's KV cache; as many sequences as the context has are fed in one
 * forward call, up to its n_batch tokens, and a text longer than n_batch
 * continues in the next call. The result does not depend on how texts were
 * grouped: embedding texts together or one at a time gives the same vectors
 * up to float rounding in the matrix kernels.
 *
 * Texts longer than the context (n_ctx tokens, BOS included):
 *   LLP_EMBED_TRUNCATE  the first n_ctx tokens are embedded, truncated is set
 *   LLP_EMBED_CHUNK     the tokens are cut into windows of at most n_ctx
 *                       (each after the first starts with its own BOS when
 *                       BOS is added); each window is pooled, the pooled
 *                       vectors are averaged weighted by their token counts,
 *                       then normalized. With mean pooling this is the mean
 *                       over every token of every window.
 */
#ifndef LLP_EMBED_H
#define LLP_EMBED_H

#include <stdbool.h>
#include <stddef.h>

#include "model.h"
#include "store.h"
#include "tokenizer.h"
#include "util.h"

typedef enum llp_pooling {
    LLP_POOL_MEAN = 0,
    LLP_POOL_CLS,
    LLP_POOL_LAST,
} llp_pooling;

typedef enum llp_embed_norm {
    LLP_EMBED_L2 = 0,
    LLP_EMBED_NONE,
} llp_embed_norm;

typedef enum llp_embed_long {
    LLP_EMBED_TRUNCATE = 0,
    LLP_EMBED_CHUNK,
} llp_embed_long;

/* Parse "mean|cls|last", "l2|none", "truncate|chunk". Return 0, or -1 with
 * err naming the flag and the accepted values. Names are static strings. */
int llp_pooling_parse(const char *s, llp_pooling *out, llp_err *err);
int llp_embed_norm_parse(const char *s, llp_embed_norm *out, llp_err *err);
int llp_embed_long_parse(const char *s, llp_embed_long *out, llp_err *err);
const char *llp_pooling_name(llp_pooling p);
const char *llp_embed_norm_name(llp_embed_norm n);
const char *llp_embed_long_name(llp_embed_long l);

typedef struct llp_embed_params {
    llp_pooling pooling;        /* default mean */
    llp_embed_norm normalize;   /* default l2 */
    llp_embed_long long_mode;   /* default truncate */
    int add_bos;                /* -1: as the vocabulary says; 0 no; 1 yes */
} llp_embed_params;

/* A context sized for embedding with model m: n_ctx positions per sequence
 * (0: the model's own, at most 4096), as many sequences as fit in a KV
 * cache of about LLP_EMBED_KV_BUDGET bytes (at least 1, at most
 * LLP_EMBED_MAX_SEQ), n_batch 512 tokens, n_threads (0: physical cores). */
#define LLP_EMBED_KV_BUDGET ((size_t)2 << 30)
#define LLP_EMBED_MAX_SEQ 32
llp_context *llp_embed_context_new(const llp_model *m, int n_ctx, int n_threads,
                                   llp_kv_type kv_type, llp_err *err);

/* The outcome for one text. vec is malloc'd (dim floats) on success. */
typedef struct llp_embed_result {
    float *vec;
    int n_tokens;       /* tokens fed to the model, BOS included */
    int n_chunks;       /* windows embedded (1 unless chunked) */
    bool truncated;     /* tokens past the context were dropped */
    char *error;        /* malloc'd message for this text ("empty text"), or NULL */
} llp_embed_result;

void llp_embed_result_free(llp_embed_result *r);   /* leaves it zeroed */

typedef struct llp_embedder llp_embedder;

/* The embedder borrows ctx and tok (they must outlive it) and uses every
 * sequence of ctx. Params are copied. */
llp_embedder *llp_embedder_new(llp_context *ctx, const llp_tokenizer *tok,
                               const llp_embed_params *p);
void llp_embedder_free(llp_embedder *e);
int llp_embedder_dim(const llp_embedder *e);

/* Embed n texts (texts[i] of lens[i] bytes) into out[0..n-1], which the
 * caller zeroes and frees with llp_embed_result_free. A problem with one
 * text (empty) sets that result's error and does not stop the others.
 * Returns 0, or -1 with err set when the model fails (out then holds no
 * vectors). */
int llp_embed_texts(llp_embedder *e, const char *const *texts, const size_t *lens, int n,
                    llp_embed_result *out, llp_err *err);

/* ---- vectors ------------------------------------------------------------ */

/* Cosine similarity of two vectors of dim floats (0 when either is zero). */
float llp_cosine(const float *a, const float *b, int dim);

/* Scale v to unit Euclidean length (a zero vector stays zero). */
void llp_l2_normalize(float *v, int dim);

/* One search hit. */
typedef struct llp_neighbor {
    char *record_id;    /* malloc'd */
    char *text;         /* malloc'd: the text the vector was made from, as
                           stored; NULL when the store has none */
    float score;        /* cosine similarity with the query */
} llp_neighbor;

/* The k vectors of a collection most similar to query by cosine (only those
 * made by model_fp when it is non-NULL; vectors of another dimension are
 * skipped), best first; ties keep the store's order. Writes at most k hits
 * to out (caller's array of k) and their number to *n_out. Returns 0, or -1
 * with err set. Free each hit's record_id and text. */
int llp_embed_search(llp_store *s, const char *collection, const char *model_fp,
                     const float *query, int dim, int k, llp_neighbor *out, int *n_out,
                     llp_err *err);

#endif
