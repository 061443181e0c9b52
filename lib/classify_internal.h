/*
 * classify_internal.h — what classify.c (scoring) needs from
 * classify_prompt.c (labels, template rendering, examples, label tokens).
 *
 * Not for: callers outside the classifier; they use classify.h.
 */
#ifndef LLP_CLASSIFY_INTERNAL_H
#define LLP_CLASSIFY_INTERNAL_H

#include "classify.h"

/* A growable NUL-terminated byte string; zero-initialise, free(b.s). */
typedef struct cls_buf {
    char *s;
    size_t len, cap;
} cls_buf;

void cls_buf_add(cls_buf *b, const char *s, size_t n);
void cls_buf_str(cls_buf *b, const char *s);

/* One few-shot example; label is one of the classifier's labels. */
typedef struct cls_example {
    char *text;
    size_t text_len;
    char *label;
} cls_example;

/* Read a few-shot CSV (columns text,label) through the records reader.
 * Every label must be one of labels (spaces around it dropped). Returns 0,
 * or -1 with err naming the file and line at fault. */
int cls_examples_load(const char *path, const char *const *labels, int n_labels,
                      cls_example **out, int *n, llp_err *err);
void cls_examples_free(cls_example *ex, int n);

/* Render the template of p, examples included, wrapped in the chat format,
 * into the text before the row's text (*head) and after it (*tail, trailing
 * spaces dropped); both malloc'd. Returns 0 or -1 with err. */
int cls_render(const llp_classify_params *p, llp_chat_format chat, const cls_example *ex,
               int n_ex, char **head, char **tail, llp_err *err);

/* "" after a newline, else " ": what goes between a prompt and its label. */
const char *cls_label_join(const char *tail, size_t len);

/* Append the tokens of label as they follow a prompt ending in tail (see
 * "Label tokens" in classify.h). Returns 0 or -1 with err. */
int cls_label_tokens(const llp_tokenizer *tok, const char *tail, bool parse_special,
                     const char *label, llp_tokens *out, llp_err *err);

#endif
