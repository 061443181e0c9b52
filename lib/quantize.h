/*
 * quantize.h — convert a GGUF model file to another weight type (what
 * llp-quantize does): the target file types, the per-tensor type rules of
 * the published llama.cpp mixes, and the multithreaded file conversion.
 *
 * Not for: the block formats themselves (quant.h: llp_quantize_row and
 * llp_dequantize_row do the per-row work), reading or writing GGUF
 * (gguf.h), or describing a model (info.h).
 *
 * Targets are llama.cpp "file types" (ftypes), the number stored in
 * general.file_type. A file type names a base tensor type and a rule for
 * which tensors get another type. The rules below are those of llama.cpp's
 * quantizer (src/llama-quant.cpp, 2025) for the dense `llama` architecture,
 * so our Q4_K_M puts the same type on every tensor as a published Q4_K_M:
 *
 *   - Only matrices are quantized: tensors with 2+ dimensions whose name
 *     ends in "weight" and is not a norm ("_norm.weight"). Everything else
 *     (norms, 1-D tensors) is copied unchanged, in its source type.
 *   - F32, F16, BF16 targets: every matrix in that type, no exceptions.
 *   - output.weight (and token_embd.weight when the model has no
 *     output.weight, i.e. tied embeddings): Q8_0 when its rows are not a
 *     multiple of the base type's block, else Q8_0 for the Q8_0 target, else
 *     Q6_K — for every quantized target, legacy ones included.
 *   - "use more bits" for layer i of n: i < n/8, or i >= 7n/8, or
 *     (i - n/8) % 3 == 2 (the first and last eighth and every third layer
 *     between). For n = 32 (Llama-2 7B): layers 0-3, 6, 9, ..., 27, 28-31.
 *   - Q2_K:   attn_v Q4_K if n_head/n_head_kv >= 4 else Q3_K; ffn_down Q3_K;
 *             attn_output Q3_K.
 *   - Q3_K_S: no exceptions.     Q3_K_L: attn_v, ffn_down, attn_output Q5_K.
 *   - Q3_K_M: attn_v Q5_K in layers 0-1 else Q4_K; ffn_down Q5_K in layers
 *             i < n/16 else Q4_K; attn_output Q4_K.
 *   - Q4_K_S: attn_v Q5_K in layers 0-3; ffn_down Q5_K in layers i < n/8.
 *   - Q4_K_M: attn_v and ffn_down Q6_K on "more bits" layers.
 *   - Q5_K_S: no exceptions.     Q5_K_M: attn_v, ffn_down Q6_K on "more
 *             bits" layers.
 *   - A 70B-shaped model (80 layers, grouped-query attention): an attn_v
 *     that would be Q3_K or Q4_K becomes Q5_K.
 *   - Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q6_K: no exceptions beyond the output.
 *   - llama.cpp counts attn_v and ffn_down tensors in layer order; for a
 *     Llama file (one of each per layer) that count is the layer number
 *     in the tensor's name (blk.N.), which is what we use.
 *
 * Fallback, when a tensor's rows (ne[0]) are not a multiple of the chosen
 * type's block (256 for K-quants): Q2_K, Q3_K -> Q4_0; Q4_K -> Q5_0;
 * Q5_K -> Q5_1; Q6_K -> Q8_0; and F16 when the fallback does not fit either
 * (rows not a multiple of 32), or when a 32-block type itself does not fit.
 * llama.cpp (2025) uses IQ4_NL for Q2_K/Q3_K, a type llamapipe does not
 * support; its later versions use Q4_0, as we do. llama.cpp refuses a
 * 32-block type that does not fit; we write F16.
 *
 * Names: llp_ftype_from_name accepts the llama.cpp names above, case
 * insensitive. The bare K names mean the small mixes: Q3_K = Q3_K_S
 * (every matrix Q3_K but the output), Q4_K = Q4_K_S, Q5_K = Q5_K_S.
 * `pure` skips the mix rules and the output rule: every matrix gets the
 * base type (fallback still applies).
 */
#ifndef LLP_QUANTIZE_H
#define LLP_QUANTIZE_H

#include <stdbool.h>
#include <stdint.h>

#include "quant.h"
#include "util.h"

/* llama.cpp file types (enum llama_ftype), general.file_type. */
enum llp_ftype {
    LLP_FTYPE_F32 = 0, LLP_FTYPE_F16 = 1, LLP_FTYPE_Q4_0 = 2, LLP_FTYPE_Q4_1 = 3,
    LLP_FTYPE_Q8_0 = 7, LLP_FTYPE_Q5_0 = 8, LLP_FTYPE_Q5_1 = 9, LLP_FTYPE_Q2_K = 10,
    LLP_FTYPE_Q3_K_S = 11, LLP_FTYPE_Q3_K_M = 12, LLP_FTYPE_Q3_K_L = 13,
    LLP_FTYPE_Q4_K_S = 14, LLP_FTYPE_Q4_K_M = 15, LLP_FTYPE_Q5_K_S = 16,
    LLP_FTYPE_Q5_K_M = 17, LLP_FTYPE_Q6_K = 18, LLP_FTYPE_BF16 = 32,
};

/* Name of a file type ("Q4_K_M", "F16", "IQ2_XXS", ...), including those
 * we cannot produce; NULL for a number no llama.cpp version defines. */
const char *llp_ftype_name(uint32_t ftype);
/* A file type we can produce, by name (aliases above); -1 if none. */
int llp_ftype_from_name(const char *name);
/* Base tensor type of a file type we can produce; LLP_TYPE_COUNT if none. */
uint32_t llp_ftype_base_type(uint32_t ftype);
/* The names llp_ftype_from_name accepts as targets, for --help, as one
 * comma-separated static string. */
const char *llp_ftype_target_names(void);

/* What the per-tensor rules need to know about the model. */
typedef struct llp_quant_rules {
    uint32_t ftype;     /* target file type */
    bool pure;          /* no mix rules, no output rule */
    int n_layers;       /* {arch}.block_count */
    int n_gqa;          /* head_count / head_count_kv (1 when unknown) */
    bool is_70b;        /* 80 layers and grouped-query attention */
    bool tied;          /* the file has no output.weight */
} llp_quant_rules;

/* The type a tensor gets. `src_type` is returned for tensors that are not
 * quantized (norms, 1-D). *fallback (may be NULL) is set when the rows did
 * not fit the type the rules chose. */
uint32_t llp_quant_tensor_type(const llp_quant_rules *r, const char *name, uint32_t n_dims,
                               const int64_t *ne, uint32_t src_type, bool *fallback);

/* The "use more bits" layer rule (exposed for tests). */
bool llp_quant_use_more_bits(int layer, int n_layers);

/* ---- converting rows -------------------------------------------------- */

struct llp_pool;

/* Convert n_rows rows of n values each from src_type to dst_type (any
 * types llp_dequantize_row and llp_quantize_row take), rows spread over the
 * pool (NULL: the caller's thread). Destination row r is source row
 * row_map[r], or row r when row_map is NULL (llp-convert permutes Q/K rows
 * this way). Every row is written; returns 0, or -1 when a source row holds
 * a value that is not finite, with the first such destination row in
 * *bad_row (may be NULL). The tensor loop of llp_quantize_file and
 * llp-convert both go through here. */
int llp_convert_rows(struct llp_pool *pool, uint32_t src_type, const void *src, uint32_t dst_type,
                     void *dst, int64_t n, int64_t n_rows, const int64_t *row_map,
                     int64_t *bad_row);

/* ---- converting a file ------------------------------------------------ */

/* One tensor as it is written, for progress reports. */
typedef struct llp_quant_tensor_report {
    int index, count;           /* 1-based position, number of tensors */
    const char *name;
    uint32_t n_dims;
    const int64_t *ne;
    uint32_t src_type, dst_type;
    bool converted;             /* false: copied unchanged */
    bool fallback;
    uint64_t src_bytes, dst_bytes;
    double seconds;
} llp_quant_tensor_report;

typedef struct llp_quantize_opts {
    uint32_t ftype;             /* target (enum llp_ftype) */
    int n_threads;              /* 0: physical cores */
    bool pure;
    /* Allow quantized (not F32/F16/BF16) source tensors to be converted to
     * another type: they lose precision twice, so llama.cpp refuses them
     * unless asked, and so do we. */
    bool allow_requantize;
    /* Adapters to merge (lora.h): each adapted matrix is dequantized, gets
     * scale * B A added row by row and is quantized to its target type (even
     * when that is its own type: merging a quantized base rounds it again,
     * which is allowed without allow_requantize). */
    const struct llp_lora *const *lora;
    const float *lora_scale;    /* (n_lora) user scales */
    int n_lora;
    /* Called after each tensor (may be NULL). */
    void (*on_tensor)(void *ctx, const llp_quant_tensor_report *r);
    void *ctx;
} llp_quantize_opts;

typedef struct llp_quantize_stats {
    int n_tensors;
    int n_converted;            /* the rest were copied unchanged */
    int n_fallback;
    int n_by_type[LLP_TYPE_COUNT];          /* output tensors per type */
    uint64_t bytes_by_type[LLP_TYPE_COUNT]; /* output tensor bytes per type */
    uint64_t src_bytes, dst_bytes;          /* tensor data, in and out */
    uint64_t src_file_bytes, dst_file_bytes;
    uint64_t n_params;                      /* values in all tensors */
} llp_quantize_stats;

/* Convert `in` to `out` (written to OUT.tmp, then renamed). Every key-value
 * pair is copied in order except split.* keys, then
 * general.quantization_version (2) and general.file_type come last, as
 * llama.cpp writes them; tensors are in llama.cpp's order (by layer, then
 * name), so an F16 or BF16 conversion is byte-identical to llama.cpp's. Rows are
 * converted in parallel on a thread pool. Returns 0, or -1 with err naming
 * the file and tensor at fault (an unknown target, a quantized source
 * without allow_requantize, a non-finite value, a write error). stats may
 * be NULL. */
int llp_quantize_file(const char *in, const char *out, const llp_quantize_opts *o,
                      llp_quantize_stats *stats, llp_err *err);

#endif
