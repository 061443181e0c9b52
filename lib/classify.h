/*
 * classify.h — label scoring: which of a fixed set of labels a model finds
 * most likely to follow a prompt built around each text. Used by
 * llp-classify and by the pipeline runner's classify step.
 *
 * Not for: reading records or flags (the binaries), sampling or generating
 * text (generate.h), the chat wrappers themselves (chat.h).
 *
 * What is computed. For a row with text X the prompt is the template with
 * {labels} replaced by "a, b, c" and {text} by X, wrapped in the model's chat
 * format when it has one, BOS in front. For each label l with tokens
 * t1..tk (as they follow the prompt, see "Label tokens"):
 *     logprob[l] = sum_j log softmax(logits after prompt t1..t(j-1))[tj]
 * summed exactly in double over the full vocabulary, and
 *     prob[l] = exp(logprob[l]) / sum_m exp(logprob[m]),
 * label = argmax prob (the first on ties), score = prob[label].
 *
 * How the work is shared (the fast path, llp_classify_rows):
 *   - The prefix common to every row (everything of the template before
 *     {text}: instructions, few-shot examples, chat header) is decoded once
 *     per classifier into KV sequence 0, then copied (llp_kv_copy) into each
 *     row's sequence; a row decodes only its own tokens.
 *   - A row's prompt is decoded once. The logits after its last token give
 *     the first token of every label at once; labels of one token need no
 *     more work. For each label of two or more tokens, its tokens t1..t(k-1)
 *     are decoded in a sequence of their own holding a copy of the row's
 *     prompt (the first such label reuses the row's sequence itself).
 *   - Rows are decoded together: the prompts of up to max_rows rows go
 *     through llp_decode in one batch (different sequences, chunked at the
 *     context's batch size), then the label continuations of all those rows
 *     and labels in another.
 * The plain path (llp_classify_plain) decodes prompt + label from position
 * 0 in a fresh sequence for each label separately: no sharing, no batching.
 * It is the reference the tests hold the fast path to.
 *
 * Label tokens. SentencePiece marks a word's leading space with "▁", so a
 * label is scored as it would be written after the prompt: trailing spaces
 * of the template are dropped and the label follows after one space
 * ("Label: positive" -> "▁positive"), or directly when the prompt ends with
 * a newline. Its tokens are found by tokenizing the template's tail (what
 * follows {text}) alone and joined with the label, and taking the tokens
 * after the tail's; when a merge crosses that boundary (rare), the label is
 * tokenized on its own (with the tokenizer's space prefix) instead.
 *
 * Row tokens. The whole prompt is tokenized in one piece (so the text's
 * first word merges with a space before it as the model saw in training);
 * the tokens it shares with the prefix (normally all of the prefix) are
 * taken from sequence 0, the rest are the row's own. A text too long for
 * the context is cut (at a UTF-8 character boundary, keeping its start) so
 * that prompt + label tokens fit; the template stays whole and the row is
 * flagged truncated.
 *
 * Templates: {text} exactly once (required), {labels} anywhere, and
 * optionally {examples} (before {text}) where few-shot examples go; without
 * it they go before the line holding {text}. Each example is rendered as
 * that line and the rest of the template with the example's text, followed
 * by its label and a blank line.
 */
#ifndef LLP_CLASSIFY_H
#define LLP_CLASSIFY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "chat.h"
#include "model.h"
#include "tokenizer.h"
#include "util.h"

/* The template used without --prompt-file. */
#define LLP_CLASSIFY_DEFAULT_TEMPLATE \
    "Classify the text as exactly one of these labels: {labels}.\n\nText: {text}\nLabel:"

#define LLP_CLASSIFY_MAX_ROWS 64     /* upper bound on max_rows */

typedef struct llp_classify_params {
    const char *const *labels;  /* n_labels >= 2, distinct, non-empty */
    int n_labels;
    const char *prompt_template;/* NULL: LLP_CLASSIFY_DEFAULT_TEMPLATE */
    const char *examples_path;  /* few-shot CSV with columns text,label; NULL: none */
    int chat;                   /* -1: the model's own format (chat.h); 0: none; 1: the
                                   model's, Llama-2 when it has none */
    int n_ctx;                  /* positions per sequence; 0: the model's, at most 4096 */
    int n_threads;              /* 0: physical cores */
    llp_kv_type kv_type;        /* KV cache element type; 0: f16 */
    int max_rows;               /* rows per llp_classify_rows call; 0: 16 (fewer when
                                   the KV cache would pass 8 GiB) */
    bool no_prefix_sharing;     /* decode every row's prompt from position 0 (tests) */
} llp_classify_params;

/* What one row gives. Zero-initialise before use; free with
 * llp_classify_result_free. */
typedef struct llp_classify_result {
    int label;          /* index of the most probable label; -1 when failed */
    double *prob;       /* (n_labels) probabilities over the labels, sum 1 */
    double *logprob;    /* (n_labels) natural log P(label tokens | prompt) */
    int n_prompt;       /* prompt tokens: BOS, template, text */
    int n_unique;       /* of those, decoded for this row (not from the shared prefix) */
    int n_label_tokens; /* label tokens decoded for this row */
    bool truncated;     /* the text was cut to fit the context */
    char *error;        /* per-row failure ("empty text"); malloc'd, NULL when fine */
} llp_classify_result;

void llp_classify_result_free(llp_classify_result *r);

/* Split a --labels value "a,b,c" (spaces around names dropped) into a
 * malloc'd array of malloc'd strings; free with llp_classify_labels_free.
 * Returns 0, or -1 with err: fewer than 2 labels, an empty or duplicate one. */
int llp_classify_parse_labels(const char *spec, char ***labels, int *n, llp_err *err);
void llp_classify_labels_free(char **labels, int n);

/* Read a --prompt-file (whole file, NUL-terminated, malloc'd), or NULL with
 * err naming the file. */
char *llp_classify_read_template(const char *path, llp_err *err);

/* Check what needs no model: the labels (as above) and the template
 * ({text} exactly once, {examples} at most once and before {text}).
 * Returns 0, or -1 with err describing a usage error. */
int llp_classify_check(const llp_classify_params *p, llp_err *err);

typedef struct llp_classifier llp_classifier;

/* Build the prompt parts, tokenize the labels, load the examples, and make
 * an inference context of its own on model m (sized for the rows, labels and
 * n_ctx). chat_template is the model's tokenizer.chat_template (NULL if
 * none) and model_path its file, for chat detection. The model and tokenizer
 * stay the caller's and must outlive the classifier. Returns NULL with err:
 * bad parameters, an unreadable or malformed examples file (naming file and
 * line), an example label not among the labels, a template that leaves no
 * room for text in the context. */
llp_classifier *llp_classifier_new(const llp_model *m, const llp_tokenizer *tok,
                                   const char *chat_template, const llp_classify_params *p,
                                   llp_err *err);
void llp_classifier_free(llp_classifier *c);

int llp_classifier_n_labels(const llp_classifier *c);
const char *llp_classifier_label(const llp_classifier *c, int l);
/* Rows per llp_classify_rows call (the batch tool's max_batch). */
int llp_classifier_max_rows(const llp_classifier *c);
/* Token ids of label l as scored (owned by the classifier). */
int llp_classifier_label_tokens(const llp_classifier *c, int l, const int32_t **ids);
/* The tokens of the whole prompt for a text (BOS, head, text, tail), never
 * cut: what the classifier decodes before the label (llp-finetune trains on
 * exactly these). Returns 0 or -1 with err. */
int llp_classifier_prompt_tokens(const llp_classifier *c, const char *text, size_t len,
                                 llp_tokens *out, llp_err *err);
/* Positions per sequence (the context the rows must fit). */
int llp_classifier_n_ctx(const llp_classifier *c);
/* Tokens of the shared prefix (BOS, instructions, examples). */
int llp_classifier_prefix_tokens(const llp_classifier *c);
/* The rendered prompt around the text: head + TEXT + tail (owned). */
const char *llp_classifier_head(const llp_classifier *c);
const char *llp_classifier_tail(const llp_classifier *c);

/* Score n texts (n <= max rows) on the fast path. results[0..n-1] must be
 * zero-initialised; each gets its probabilities, or its error (empty text).
 * Returns 0, or -1 with err on a fatal engine error. */
int llp_classify_rows(llp_classifier *c, const char *const *texts, const size_t *lens, int n,
                      llp_classify_result *results, llp_err *err);

/* Score one text on the plain path (see above). Same result. */
int llp_classify_plain(llp_classifier *c, const char *text, size_t len,
                       llp_classify_result *result, llp_err *err);

/* ---- records ------------------------------------------------------------ */

/* What shapes the output, for the store's cache key: labels, the rendered
 * head and tail (template, examples, chat format), n_ctx. New reference. */
json_t *llp_classifier_params_json(const llp_classifier *c);

/* The fields a record gets: label, score, p_<label>... and truncated: true
 * when cut, each named through llp_output_name(into, "label", name). New
 * reference. */
json_t *llp_classify_fields(const llp_classifier *c, const llp_classify_result *r,
                            const char *into);

/* The output columns in order (label, score, p_<label>..., truncated) named
 * under --into; a malloc'd array of malloc'd names, *n set. Free with
 * llp_classify_labels_free(cols, n). */
char **llp_classify_columns(const llp_classifier *c, const char *into, int *n);

#endif
