/*
 * lora.h — low-rank adapters (LoRA) over a Llama model: the GGUF adapter
 * file in llama.cpp's layout (read and write), the checks against a base
 * model, and the two ways of using one: on the fly in the forward pass, or
 * merged into the base weights at load.
 *
 * Not for: training adapters (train.h), or the forward pass itself
 * (model.c calls llp_lora_apply on every product that has adapters).
 *
 * The file (what llama.cpp's loader reads and its LoRA converter writes):
 *   general.type = "adapter", general.architecture = "llama",
 *   adapter.type = "lora", adapter.lora.alpha (f32; 0 or absent: alpha =
 *   rank, so the scale is user_scale), and for each adapted matrix W of the
 *   base (tensor "blk.3.attn_q.weight", ne = [n_in, n_out]) two tensors
 *     "blk.3.attn_q.weight.lora_a"  ne = [n_in, rank]   (rank rows of n_in)
 *     "blk.3.attn_q.weight.lora_b"  ne = [rank, n_out]  (n_out rows of rank)
 *   in F32 or F16 (BF16 and Q8_0, which llama.cpp's converter may write,
 *   are read too). With scale = user_scale * alpha / rank,
 *     y = x W^T + scale * (x A^T) B^T         for a row x of n_in
 *   that is, llama.cpp's mul_mat(B, mul_mat(A, x)).
 */
#ifndef LLP_LORA_H
#define LLP_LORA_H

#include <stdbool.h>
#include <stdint.h>

#include "gguf.h"
#include "hash.h"
#include "model.h"
#include "util.h"

/* One adapted matrix. */
typedef struct llp_lora_tensor {
    char *name;         /* the base tensor's name, "blk.0.attn_q.weight" */
    int64_t n_in;       /* the base's ne[0] */
    int64_t n_out;      /* the base's ne[1] */
    int rank;
    float *a;           /* (rank, n_in) f32, row r = A[r][0..n_in) */
    float *b;           /* (n_out, rank) f32 */
} llp_lora_tensor;

typedef struct llp_lora {
    char *path;                 /* file it was read from; NULL when made in memory */
    float alpha;                /* adapter.lora.alpha; 0: the rank of each tensor */
    uint32_t file_type;         /* F32 or F16: the type of its tensors in the file */
    int n;                      /* adapted matrices */
    llp_lora_tensor *t;         /* (n) in file order */
    char fingerprint[LLP_HASH_HEX];  /* of the file (llp_model_fingerprint) */
} llp_lora;

/* The scale of tensor t at use: user_scale * alpha / rank (alpha 0: rank). */
float llp_lora_scale(const llp_lora *a, const llp_lora_tensor *t, float user_scale);

/* Read an adapter. Refuses (naming the file and the key or tensor) a file
 * that is not general.type = adapter / adapter.type = lora, another
 * architecture, a .lora_a without its .lora_b, ranks that disagree, a
 * tensor that is not 2-D. Tensors of any type are read (F32, F16, BF16,
 * Q8_0 as llama.cpp's converter writes them) and kept in f32. Base names are checked later,
 * against a model (llp_lora_check). */
llp_lora *llp_lora_load(const char *path, llp_err *err);
void llp_lora_free(llp_lora *a);

/* An adapter over model m with all-zero tensors on the named matrices:
 * targets is a comma list of q,k,v,o,gate,up,down (per layer). */
llp_lora *llp_lora_new(const llp_model *m, const char *targets, int rank, float alpha,
                       llp_err *err);

/* Check a --targets list without a model: 0 or -1 with err. */
int llp_lora_targets_check(const char *targets, llp_err *err);

/* The base weight an adapted tensor belongs to, or NULL. */
llp_weight *llp_lora_target(llp_model *m, const char *name);

/* Check the adapter against the model: every tensor names a matrix of the
 * model that the forward pass multiplies (not token_embd), with its
 * shape. Returns 0 or -1 with err "ADAPTER: tensor 'X' ...". */
int llp_lora_check(const llp_lora *a, const llp_model *m, llp_err *err);

/* Put the adapter's tensors into a writer (general.*, adapter.* keys and
 * one .lora_a / .lora_b pair per matrix, in `type` F32 or F16). */
void llp_lora_to_writer(const llp_lora *a, gguf_writer *w, uint32_t type);
/* Write the adapter file (atomically: PATH.tmp then rename). */
int llp_lora_write(const llp_lora *a, const char *path, uint32_t type, llp_err *err);

/* Use adapter a with user_scale on model m (checked first). Without merge,
 * every adapted product of the forward pass adds scale * (x A^T) B^T on the
 * fly; the adapter must outlive the model. With merge, W + scale * B A is
 * computed row by row and stored in W's own type (quantized again: the
 * merged model differs from the on-the-fly one by the rounding of that
 * type; F32 bases merge exactly up to float addition), so the forward pass
 * costs what the base's does. */
int llp_model_add_lora(llp_model *m, const llp_lora *a, float user_scale, bool merge,
                       llp_err *err);

/* The on-the-fly product: y[t] += scale * (x[t] A^T) B^T for n_tok rows, each
 * row computed alone in a fixed order (results never depend on the batch),
 * tasks on the pool (may be NULL). */
void llp_lora_apply(llp_pool *pool, const llp_weight_lora *l, int64_t n_in, int64_t n_out,
                    const float *x, int n_tok, float *y);

/* "FILE" or "FILE:SCALE" (SCALE a finite number) into path and scale
 * (default 1). The path is malloc'd. Returns 0 or -1 with err. */
int llp_lora_parse_spec(const char *spec, char **path, float *scale, llp_err *err);

/* JSON description of an adapter for `llp info` (new reference). */
#include <jansson.h>
json_t *llp_lora_meta(const llp_lora *a);

#endif
