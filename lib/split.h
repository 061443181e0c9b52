/*
 * split.h — cut a text into chunks that each fit a token budget, at the
 * most natural boundaries available: paragraphs (blank lines) first, then
 * sentences and lines, then whitespace, and as a last resort anywhere
 * between two UTF-8 characters. Used by summarize.c to map-reduce documents
 * longer than the context; any tool that must fit text into a context may
 * use it.
 *
 * Not for: tokenizing (tokenizer.h) or deciding the budget (the caller
 * subtracts its prompt and output from the context).
 *
 * Chunks are spans of the original text, in order, trimmed of surrounding
 * whitespace; the whitespace between two chunks belongs to neither, and
 * nothing else is dropped or reordered. A chunk's token count is that of
 * its bytes tokenized alone (no BOS), which is what it costs inside a
 * prompt give or take a token or two at its edges.
 */
#ifndef LLP_SPLIT_H
#define LLP_SPLIT_H

#include <stddef.h>

#include "tokenizer.h"
#include "util.h"

typedef struct llp_span {
    size_t start, end;      /* bytes [start, end) of the text */
    int n_tokens;           /* tokens of those bytes alone */
} llp_span;

/* Split text into chunks of at most max_tokens tokens each (max_tokens >=
 * 1). Whitespace-only text gives no chunks. *out is malloc'd (the caller
 * frees it), *n_out its count. Returns 0, or -1 with err set (tokenizer
 * failure). */
int llp_split_text(const llp_tokenizer *tok, const char *text, size_t len, int max_tokens,
                   llp_span **out, int *n_out, llp_err *err);

/* Tokens of text[0..len) tokenized alone (no BOS, no specials parsed), or
 * -1 with err set. */
int llp_count_tokens(const llp_tokenizer *tok, const char *text, size_t len, llp_err *err);

/* The length in bytes of the longest prefix of text, ending on a UTF-8
 * character boundary, whose tokens number at most max_tokens; when
 * prefer_space, cut back to the last whitespace of that prefix if one lies
 * in its second half. At least one character when len > 0, so a caller
 * that loops always progresses. */
size_t llp_prefix_for_tokens(const llp_tokenizer *tok, const char *text, size_t len,
                             int max_tokens, bool prefer_space);

#endif
