/*
 * train_data.h — training sequences from records: the three data shapes of
 * llp-finetune, tokenized, with the positions the loss is taken on.
 *
 *   prompt/completion  JSONL {"prompt": P, "completion": C}: BOS + P (in the
 *                      model's chat format when chat is on) + C + EOS; loss
 *                      on C and EOS.
 *   chat               JSONL {"messages": [{"role": "system"|"user"|
 *                      "assistant", "content": ...}, ...]}: each user turn
 *                      rendered as chat.h renders a prompt (the system
 *                      message in the first), each assistant turn after it
 *                      followed by EOS (Llama-2) or <|im_end|> (ChatML);
 *                      loss on the assistant turns.
 *   classification     CSV or JSONL with a text and a label: the prompt
 *                      exactly as llp-classify builds it (classify.h:
 *                      template, examples, chat wrapper, BOS) followed by
 *                      the label's tokens as llp-classify scores them;
 *                      loss on the label tokens.
 *
 * A bad row (a missing field, a label not among the labels, a sequence
 * longer than the context, an empty completion) is reported through
 * on_error with its file and line and left out; it is not fatal.
 *
 * Not for: reading files (records.h) or training (train.h).
 */
#ifndef LLP_TRAIN_DATA_H
#define LLP_TRAIN_DATA_H

#include <stdbool.h>
#include <stdint.h>

#include "chat.h"
#include "classify.h"
#include "records.h"
#include "tokenizer.h"
#include "util.h"

typedef struct llp_train_example {
    int32_t *tokens;    /* (n) */
    uint8_t *target;    /* (n) 1 where the token is predicted with loss */
    int n;
    int n_targets;
    int label;          /* classification: the label's index; else -1 */
    char *where;        /* "train.csv:17" */
} llp_train_example;

typedef struct llp_train_set {
    llp_train_example *ex;
    int n;
    long n_bad;         /* rows reported and left out */
    int64_t n_tokens, n_targets;
} llp_train_set;

typedef enum llp_data_shape {
    LLP_DATA_AUTO = 0,      /* by the first record: messages, else prompt */
    LLP_DATA_PROMPT,
    LLP_DATA_CHAT,
    LLP_DATA_LABELED,
} llp_data_shape;

typedef struct llp_train_data_opts {
    llp_reader_opts reader;         /* the files and how to read them */
    llp_data_shape shape;           /* LLP_DATA_LABELED when --labels */
    const llp_tokenizer *tok;
    llp_chat_format chat;           /* prompt/completion and chat rows */
    const llp_classifier *classifier;   /* labeled rows */
    const char *label_column;       /* labeled rows: NULL = "label" */
    int n_ctx;                      /* longest sequence */
    void (*on_error)(void *ctx, const char *msg);
    void *ctx;
} llp_train_data_opts;

/* Read every record of the inputs into set (appended). Returns 0, or -1
 * with err on a fatal error (an unreadable file, a malformed CSV). */
int llp_train_data_load(const llp_train_data_opts *o, llp_train_set *set, llp_err *err);
void llp_train_set_free(llp_train_set *set);

#endif
