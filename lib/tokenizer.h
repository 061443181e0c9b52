/*
 * tokenizer.h — the Llama SentencePiece-BPE tokenizer as GGUF stores it
 * (`tokenizer.ggml.model = llama`): text bytes to token ids and back.
 *
 * Not for: chat templates (chat.h builds prompts from pieces of text and
 * calls llp_tokenize on each), reading GGUF itself (gguf.h), or any other
 * tokenizer family (`gpt2` BPE, WordPiece, Unigram are refused at load).
 *
 * Loading reads only the vocabulary keys of an open gguf_file and copies
 * what it needs, so the file may be closed afterwards and tensor data is
 * never touched (llp-tokenize opens a 7B model in milliseconds).
 *
 * Encoding, as the reference (llama.cpp, SentencePiece) does it:
 *   1. With parse_special, the literal text of control and unknown tokens
 *      ("<s>", "</s>", "<unk>") is cut out first and becomes those tokens.
 *      User-defined tokens are always cut out, as SentencePiece does.
 *      Longer special texts are cut first, over the whole text.
 *   2. Each remaining run of text gets a space in front when
 *      add_space_prefix is set and the run starts the text or follows a
 *      special token; every space becomes U+2581 "▁".
 *   3. The run is split into characters by the UTF-8 lead byte (a stray
 *      continuation byte is a one-byte character; a truncated sequence takes
 *      what is there). Adjacent pairs whose concatenation is a vocabulary
 *      piece merge, highest score first, leftmost first on ties, until no
 *      pair merges. A priority queue over a linked list of symbols makes this
 *      O(n log n); long runs are cut at character pairs that no piece
 *      contains, which changes nothing and keeps memory proportional to the
 *      longest such stretch, not to the input.
 *   4. Symbols that are not pieces become byte tokens `<0xXX>`, one per byte
 *      (or the unknown token in a vocabulary without byte tokens).
 * Only normal and user-defined pieces take part in merging: plain text never
 * produces control, byte or unused tokens by merging.
 *
 * Decoding: "▁" becomes a space, byte tokens give their raw byte, control,
 * unknown and unused tokens give nothing (unless `special`, then their
 * text), and with add_space_prefix one leading space is dropped from the
 * first token's text — the first token after a leading BOS, or the very
 * first. So for any text s without a literal "▁" (U+2581, which decodes to a
 * space), llp_detokenize(llp_tokenize(s)) == s, with or without BOS.
 * Texts mixing special tokens and text do not round-trip (step 2 adds a
 * space after each special token).
 *
 * A tokenizer is immutable after loading: any number of threads may encode
 * and decode with one tokenizer at the same time.
 */
#ifndef LLP_TOKENIZER_H
#define LLP_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "util.h"

/* tokenizer.ggml.token_type values. */
enum llp_token_type {
    LLP_TOKEN_NORMAL = 1,
    LLP_TOKEN_UNKNOWN = 2,
    LLP_TOKEN_CONTROL = 3,
    LLP_TOKEN_USER_DEFINED = 4,
    LLP_TOKEN_UNUSED = 5,
    LLP_TOKEN_BYTE = 6,
};

typedef struct llp_tokenizer llp_tokenizer;

/* A growable array of token ids. Zero-initialise it ({0}); llp_tokenize
 * appends to it; free with llp_tokens_free. */
typedef struct llp_tokens {
    int32_t *ids;
    size_t n;
    size_t cap;
} llp_tokens;

void llp_tokens_push(llp_tokens *v, int32_t id);
void llp_tokens_free(llp_tokens *v);   /* frees ids, leaves {0} */

/* ---- loading ---------------------------------------------------------- */

/* Read the vocabulary from an open GGUF file. Keys (tokenizer.ggml.*):
 * model (must be "llama"), tokens (required, string array), scores (f32
 * array, same count; absent: all 0), token_type (integer array, same count;
 * absent: all normal), bos_token_id (default 1), eos_token_id (default 2),
 * unknown_token_id (default 0), add_bos_token (default true),
 * add_eos_token (default false), add_space_prefix (default true); and
 * whether tokenizer.chat_template is present. Special ids outside the
 * vocabulary are treated as absent (-1).
 * Returns NULL with err naming the file and the key at fault, e.g.
 * "m.gguf: tokenizer model 'gpt2' is not supported (tokenizer.ggml.model)". */
llp_tokenizer *llp_tokenizer_from_gguf(const gguf_file *f, llp_err *err);

/* Open `path`, load its vocabulary, close it. */
llp_tokenizer *llp_tokenizer_load(const char *path, llp_err *err);

void llp_tokenizer_free(llp_tokenizer *t);

/* ---- vocabulary ------------------------------------------------------- */

int32_t llp_tokenizer_n_vocab(const llp_tokenizer *t);
int32_t llp_tokenizer_bos(const llp_tokenizer *t);     /* -1: none */
int32_t llp_tokenizer_eos(const llp_tokenizer *t);     /* -1: none */
int32_t llp_tokenizer_unk(const llp_tokenizer *t);     /* -1: none */
bool llp_tokenizer_add_bos(const llp_tokenizer *t);
bool llp_tokenizer_add_eos(const llp_tokenizer *t);
bool llp_tokenizer_add_space_prefix(const llp_tokenizer *t);
bool llp_tokenizer_has_chat_template(const llp_tokenizer *t);

/* For an id outside 0..n_vocab-1: type 0, score 0, piece NULL, false. */
int llp_token_type(const llp_tokenizer *t, int32_t id);   /* enum llp_token_type */
float llp_token_score(const llp_tokenizer *t, int32_t id);
bool llp_token_is_control(const llp_tokenizer *t, int32_t id);   /* control or unknown */
bool llp_token_is_byte(const llp_tokenizer *t, int32_t id);

/* The piece as stored in the vocabulary ("▁Hello", "<0x0A>", "<s>"); not
 * NUL-terminated in general use, but always followed by a NUL. *len may be
 * NULL. Owned by the tokenizer. */
const char *llp_token_piece(const llp_tokenizer *t, int32_t id, size_t *len);

/* The id whose stored piece is exactly these bytes (any token type; the
 * last one when a vocabulary repeats a piece), or -1. */
int32_t llp_token_find(const llp_tokenizer *t, const char *piece, size_t len);

/* The bytes one token decodes to, with no leading-space rule: normal pieces
 * with "▁" as space, a byte token's byte, user-defined pieces verbatim,
 * control/unknown/unused tokens nothing (their text when `special`).
 * Writes at most `cap` bytes to out and returns the full length, like
 * snprintf without the NUL (never more than the stored piece's length).
 * For streaming generated text token by token. */
size_t llp_token_to_text(const llp_tokenizer *t, int32_t id, bool special, char *out, size_t cap);

/* ---- encoding and decoding -------------------------------------------- */

/* Append the ids of `text` (len bytes, any bytes, NULs included) to *out.
 * add_special: put BOS in front / EOS at the end as the vocabulary's
 * add_bos_token / add_eos_token say. parse_special: see step 1 above.
 * Empty text gives no ids (only BOS/EOS). Returns 0, or -1 with err set
 * (text longer than 2 GiB); *out keeps what it held before on error. */
int llp_tokenize(const llp_tokenizer *t, const char *text, size_t len,
                 bool add_special, bool parse_special, llp_tokens *out, llp_err *err);

/* The text of n ids (rules above). Returns a malloc'd NUL-terminated
 * buffer (the caller frees it; it may hold NULs and invalid UTF-8, as the
 * ids say) with its length in *len, or NULL with err naming the first id
 * outside the vocabulary ("token 40000 (position 3) is not in the
 * vocabulary of 32000"). */
char *llp_detokenize(const llp_tokenizer *t, const int32_t *ids, size_t n, bool special,
                     size_t *len, llp_err *err);

#endif
