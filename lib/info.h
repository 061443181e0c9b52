/*
 * info.h — what `llp info MODEL` reports about a GGUF model: architecture,
 * shape, parameter count, file type, tensors and bytes per weight type,
 * context length, RoPE base, tokenizer summary, chat template, GGUF
 * version and alignment. Gathered into one JSON object (for --json and for
 * any tool that wants it) and printed for people from that object.
 *
 * Not for: loading the model to run it (model.h, engine.h) or the store's
 * own model summary (llp_model_meta in engine.h).
 *
 * Everything comes from the file's header, key-value table and tensor
 * table; tensor data is never read, so it is instant on a 70B file. The
 * file must open (gguf_open checks it whole: a tensor of a type llamapipe
 * does not support, such as IQ2_XXS, is refused with the tensor's and the
 * type's names).
 */
#ifndef LLP_INFO_H
#define LLP_INFO_H

#include <jansson.h>
#include <stdio.h>

#include "util.h"

/* The description of the model at path, a new JSON object:
 *   path, file_bytes, gguf_version, alignment, n_kv, name (or null),
 *   architecture, file_type {id, name} (null when general.file_type is
 *   absent), dim, n_layers, n_heads, n_heads_kv, head_dim, ffn_dim,
 *   n_vocab, rope_dim, n_params, context_length, rope_base, rms_eps,
 *   n_tensors, tensor_bytes, bits_per_weight, weights [{type, n_tensors,
 *   n_params, bytes}] (largest first), output_tied, tokenizer {model,
 *   n_vocab, bos {id, piece}, eos {id, piece}, add_bos, add_eos} (null
 *   when the file has no vocabulary), chat_template (bool).
 * Shape fields of an unknown architecture are null. A LoRA adapter
 * (general.type = adapter) is described instead by: path, file_bytes,
 * gguf_version, n_kv, adapter (true), type, arch, alpha, rank, tensor_type,
 * n_tensors, n_params, targets, fingerprint, tensors [{name, n_in, n_out,
 * rank}]. Returns NULL with err
 * naming the file when it cannot be opened. */
json_t *llp_model_info(const char *path, llp_err *err);

/* Print the description for people, one "label: value" line per fact. */
void llp_model_info_print(const json_t *info, FILE *out);

#endif
