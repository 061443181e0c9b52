/*
 * convert.h — Hugging Face checkpoints to GGUF (what llp-convert does): a
 * Llama model directory to a GGUF model, a PEFT LoRA adapter to a GGUF
 * adapter.
 *
 * Model (llp_convert_model): config.json (hf_config.h), the safetensors
 * shards (safetensors.h), the vocabulary (hf_vocab.h). Hugging Face names
 * map to GGUF's:
 *
 *   model.embed_tokens.weight                 token_embd.weight   [vocab, dim]
 *   model.norm.weight                         output_norm.weight  [dim]
 *   lm_head.weight                            output.weight       [vocab, dim]
 *   model.layers.N.input_layernorm.weight     blk.N.attn_norm.weight
 *   model.layers.N.self_attn.{q,k,v,o}_proj   blk.N.attn_{q,k,v,output}
 *   model.layers.N.post_attention_layernorm   blk.N.ffn_norm
 *   model.layers.N.mlp.{gate,up,down}_proj    blk.N.ffn_{gate,up,down}
 *
 * (shapes as safetensors gives them, rows first; GGUF's ne is the reverse).
 * Every expected tensor must be there with the shape config.json implies;
 * a tensor of no Llama meaning is an error (rotary_emb.inv_freq buffers of
 * old checkpoints are skipped; lm_head.weight of a tied model too, with a
 * note). With tie_word_embeddings there is no output.weight, as in GGUF.
 *
 * Q/K rows: Hugging Face stores each head's rotary pairs half-split (row i
 * pairs with row i + head_dim/2); GGUF stores them adjacent (2i, 2i+1).
 * Row j*head_dim + 2i + s of the GGUF tensor is row j*head_dim +
 * s*head_dim/2 + i of the Hugging Face one (llama.cpp's converter: reshape
 * (n_head, 2, head_dim/2, n_in), swap axes 1 and 2). K uses the KV heads.
 *
 * Types: `ftype` (quantize.h) names the target; norms and other 1-D
 * tensors are always F32, matrices take the type llp-quantize's rules give
 * (llp_quant_tensor_type) and are converted through llp_convert_rows. When
 * source and target types are equal the bytes are copied exactly. The
 * output is written one tensor at a time (gguf_add_tensor_fill), reading
 * the shards through mmap and releasing each tensor's pages after use, so
 * resident memory stays near the largest tensor, not the model. The file is
 * written to OUT.tmp and renamed; on any error nothing is left at OUT or
 * OUT.tmp.
 *
 * Adapter (llp_convert_lora): adapter_config.json (r, lora_alpha,
 * target_modules; use_rslora folds sqrt(r) into alpha; fan_in_fan_out,
 * DoRA, biases, alpha_pattern and modules_to_save are refused) and
 * adapter_model.safetensors (base_model.model.<HF name>.lora_A.weight
 * [r, n_in] and .lora_B.weight [n_out, r]) to llama.cpp's adapter layout:
 * general.type = adapter, general.architecture = llama, adapter.type =
 * lora, adapter.lora.alpha, tensors "<GGUF base name>.lora_a" (ne [n_in,
 * r]) and ".lora_b" (ne [r, n_out]), F32 or F16 as stored (BF16 becomes
 * F32, exactly). lora_B rows of q and k get the permutation above (the
 * product B·A then permutes like the base weight). Each pair is checked
 * against the base GGUF: the tensor exists and its ne is [n_in, n_out].
 *
 * Not for: loading or applying adapters (lora.c), quantizing a GGUF file
 * (quantize.c).
 */
#ifndef LLP_CONVERT_H
#define LLP_CONVERT_H

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

/* One tensor as it is written, for progress lines. */
typedef struct llp_convert_report {
    int index, count;           /* 1-based position, number of tensors */
    const char *name;           /* GGUF name */
    const char *source;         /* Hugging Face name */
    uint32_t src_type, dst_type;
    bool permuted;
    double seconds;
} llp_convert_report;

typedef struct llp_convert_opts {
    int ftype;                  /* target file type; -1: the sources' own (below) */
    int n_threads;              /* 0: physical cores */
    void (*on_tensor)(void *ctx, const llp_convert_report *r);   /* may be NULL */
    void (*on_note)(void *ctx, const char *note);                /* may be NULL */
    void *ctx;
} llp_convert_opts;

/* The file type a conversion with ftype -1 writes: F32 when any matrix is
 * F32, else BF16 when all are BF16, F16 when all are F16, F32 for a mix of
 * the two: the narrowest type that holds every source value exactly. */

/* Convert the Hugging Face directory `dir` to the GGUF model `out`. 0, or
 * -1 with err naming the file and the field or tensor at fault. */
int llp_convert_model(const char *dir, const char *out, const llp_convert_opts *o, llp_err *err);

/* Convert the PEFT adapter directory `dir`, made for the base model
 * `base` (a GGUF file), to the GGUF adapter `out`. o->ftype is unused
 * (adapters keep their float type). */
int llp_convert_lora(const char *dir, const char *base, const char *out, const llp_convert_opts *o,
                     llp_err *err);

/* The GGUF row of Q/K row `hf_row` (exposed for the tests):
 * head_dim = rows / n_head. */
int64_t llp_convert_qk_row(int64_t gguf_row, int64_t head_dim);

#endif
