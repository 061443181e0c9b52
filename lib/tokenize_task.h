/*
 * tokenize_task.h — llp-tokenize's encoding work over records, as a batch
 * tool: the process callback, cache parameters, output columns and the
 * text printer. llp-tokenize and llp-run's tokenize steps both run it.
 *
 * Not for: the tokenizer (tokenizer.h) or --decode (the binary's own loop).
 */
#ifndef LLP_TOKENIZE_TASK_H
#define LLP_TOKENIZE_TASK_H

#include <stdbool.h>

#include "batch.h"
#include "hash.h"
#include "tokenizer.h"

typedef struct llp_tok_task {
    const llp_tokenizer *tok;
    bool pieces, count, no_bos, special;
    char *cols[3];              /* tokens, n_tokens, pieces as present (owned) */
    int n_cols;
    char *col_tokens, *col_n, *col_pieces;  /* into cols; NULL when absent */
    json_t *params;             /* cache parameters (owned) */
} llp_tok_task;

/* Set up on a tokenizer whose vocabulary is named by vocab_hash (a hash of
 * the file's metadata: no tensor data is read), and fill the batch tool:
 * task, params, process, columns, text printer. */
void llp_tok_task_init(llp_tok_task *t, const llp_tokenizer *tok, const char *vocab_hash,
                       bool pieces, bool count, bool no_bos, bool special, const char *into,
                       llp_batch_tool *bt);
void llp_tok_task_free(llp_tok_task *t);

/* The hash that names a file's vocabulary for the cache. */
void llp_tok_vocab_hash(const gguf_file *f, char out[LLP_HASH_HEX]);

#endif
