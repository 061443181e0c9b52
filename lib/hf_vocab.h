/*
 * hf_vocab.h — the vocabulary of a Hugging Face Llama directory, as the
 * GGUF tokenizer keys (tokenizer.ggml.*) need it.
 *
 * Sources, in this order:
 *   - tokenizer.model: SentencePiece's ModelProto (protobuf). Pieces
 *     (piece, score, type), trainer_spec (model_type must be BPE; unk, bos,
 *     eos, pad ids; byte_fallback) and normalizer_spec (add_dummy_prefix,
 *     which becomes add_space_prefix). Read by a small protobuf wire-format
 *     reader of our own; unknown fields are skipped, malformed ones refused.
 *   - or, without tokenizer.model, tokenizer.json when it describes a
 *     SentencePiece-style vocabulary: model.type "BPE" with byte_fallback
 *     true, <0x00>..<0xFF> byte pieces and "▁" as the space. Each piece a
 *     merge produces gets the score -(rank of its first merge), so merging
 *     by highest score applies the merges in their order; other pieces get
 *     -1e9 (bytes and specials 0). Any other tokenizer.json (byte-level BPE
 *     as in Llama 3, WordPiece, Unigram) is refused with the reason.
 *   - tokenizer_config.json: bos_token / eos_token / unk_token / pad_token
 *     (a string or {"content": ...}), add_bos_token (default true),
 *     add_eos_token (default false), chat_template (a string, or a list of
 *     {name, template} of which "default" is taken), added_tokens_decoder
 *     (ids past the SentencePiece pieces are appended: control when
 *     "special", else user-defined; so are added_tokens.json's, the older
 *     {"TEXT": id} form, and tokenizer.json's added_tokens past its
 *     vocabulary). Ids must continue the vocabulary without a gap, and an
 *     id inside it must name the same piece. special_tokens_map.json fills the
 *     token names tokenizer_config.json leaves out; config.json's
 *     *_token_id the ids neither names; then the trainer_spec's ids.
 *   - The vocabulary is padded to config.json's vocab_size with unused
 *     "[PAD<id>]" pieces (as llama.cpp's converter does); more pieces than
 *     vocab_size is an error.
 *
 * Not for: tokenizing (tokenizer.h reads what we write), config.json
 * itself (hf_config.h).
 */
#ifndef LLP_HF_VOCAB_H
#define LLP_HF_VOCAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hf_config.h"
#include "util.h"

typedef struct hf_vocab {
    int n;                   /* pieces */
    char **pieces;           /* NUL-terminated UTF-8 */
    float *scores;
    int32_t *types;          /* enum llp_token_type (tokenizer.h) */
    int bos, eos, unk, pad;  /* -1: none */
    bool add_bos, add_eos, add_space_prefix;
    char *chat_template;     /* NULL: none */
    const char *source;      /* "tokenizer.model" or "tokenizer.json" */
} hf_vocab;

/* Load the vocabulary of the directory dir (config: its config.json).
 * 0, or -1 with err naming the file and field at fault. */
int hf_vocab_load(const char *dir, const hf_config *config, hf_vocab *v, llp_err *err);
void hf_vocab_free(hf_vocab *v);

/* Parse a SentencePiece model (the bytes of tokenizer.model); `path` is
 * for messages. Exposed for the fuzz harness and the tests. */
int hf_vocab_from_spm(const uint8_t *data, size_t n, const char *path, hf_vocab *v, llp_err *err);

#endif
