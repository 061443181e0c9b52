/*
 * summarize.h — summaries of documents of any length: a document that fits
 * in the context is summarized in one call; a longer one is split into
 * chunks that fit (split.h), each chunk is summarized, and the summaries
 * are joined and summarized again, level by level, until one remains
 * (map-reduce). Every summary made on the way is kept as a node of a tree,
 * and can be recorded in the store under its document. Used by
 * llp-summarize and the pipeline runner.
 *
 * Not for: generation itself (generate.h), chat formats (chat.h), reading
 * documents or flags (the binary), or the store's schema (store.h).
 *
 * The tree of a document (docs/summarize.md shows it in the store):
 *
 *   level 3                  [L3.1]  = the document's summary
 *                           /      \
 *   level 2             [L2.1]    [L2.2]        joined level-1 summaries
 *                      /  |  \     |   \
 *   level 1        [L1.1][L1.2][L1.3][L1.4][L1.5]   chunks of the document
 *
 * Level 1 nodes summarize chunks of the document (bytes start..end of it);
 * a node of level k > 1 summarizes the summaries of its children at level
 * k-1, consecutive nodes joined by blank lines. A document that fits is one
 * node, L1.1, which is also the root. Within a level, nodes are numbered
 * from 1 in document order; each node but the root has one parent.
 *
 * Termination: the summary budget is capped so that at least two clipped
 * summaries fit in one chunk, so every combining level at least halves the
 * number of nodes.
 */
#ifndef LLP_SUMMARIZE_H
#define LLP_SUMMARIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "chat.h"
#include "generate.h"
#include "model.h"
#include "store.h"
#include "tokenizer.h"
#include "util.h"

/* Returned by llp_summarize_tree and llp_summarize_document when
 * should_stop turned true (between nodes, or inside a generation at its
 * next token): the node in progress is dropped, the nodes finished before
 * it were already passed to on_node. */
#define LLP_SUMMARIZE_STOPPED (-2)
/* Returned when on_node failed (the store could not record a node): not a
 * fault of the document, the job must stop. */
#define LLP_SUMMARIZE_FATAL (-3)

/* The smallest summary budget (--max-tokens) a summarizer accepts. */
#define LLP_SUMMARY_MIN_TOKENS 16

typedef struct llp_summary_node {
    int level;              /* 1: a chunk of the document */
    int index;              /* 1-based within its level, document order */
    int parent;             /* index of the parent at level + 1; 0 for the root */
    int first_child;        /* level > 1: index of the first child at level - 1 */
    int n_children;         /* level > 1: children, consecutive from first_child */
    size_t start, end;      /* level 1: bytes of the document; else 0, 0 */
    int tokens_in;          /* prompt tokens of the call (0 when cached) */
    int tokens_out;         /* tokens generated (0 when cached) */
    char *input;            /* malloc'd: the text summarized (chunk, or joined children) */
    char *summary;          /* malloc'd, trimmed */
    bool cached;            /* taken from an earlier run */
} llp_summary_node;

typedef struct llp_summary_tree {
    llp_summary_node *nodes;    /* level 1 first, then level 2, ...; root last */
    int n_nodes;
    int levels;                 /* 1 when the document fit in one chunk */
    int n_leaves;               /* level-1 chunks (the `chunks` output field) */
    int tokens_in, tokens_out;  /* over every node computed */
} llp_summary_tree;

void llp_summary_tree_free(llp_summary_tree *t);   /* leaves it zeroed */
const llp_summary_node *llp_summary_root(const llp_summary_tree *t);

/* ---- the map-reduce, independent of the model ---------------------------- */

/* Summarize one text: a chunk of the document (level 1) or joined
 * summaries (level > 1). *summary: malloc'd. Returns 0, -1 with err, or
 * LLP_SUMMARIZE_STOPPED (a stop request cut it short: no summary). */
typedef int (*llp_summarize_fn)(void *ctx, int level, const char *text, size_t len,
                                char **summary, int *tokens_in, int *tokens_out,
                                llp_err *err);

/* Optional: a summary made earlier for the same text at the same kind of
 * level; returns 1 with *summary malloc'd, 0 when there is none, -1 with
 * err on a failure. */
typedef int (*llp_summary_lookup_fn)(void *ctx, int level, const char *text, size_t len,
                                     char **summary, llp_err *err);

/* Optional: told of each node as soon as its summary is known (computed,
 * found by the lookup, or empty because its input was), before the next
 * node starts; n->parent is not known yet. Durability hangs on this: the
 * store writes the node here, so work finished before a stop or a crash
 * is kept. Returns 0, or -1 with err (the tree stops: LLP_SUMMARIZE_FATAL). */
typedef int (*llp_summary_node_fn)(void *ctx, const llp_summary_node *n, llp_err *err);

typedef struct llp_summarize_plan {
    const llp_tokenizer *tok;   /* measures chunks */
    int chunk_tokens;           /* most tokens of text one call may take */
    llp_summarize_fn summarize;
    void *ctx;                  /* for summarize */
    llp_summary_lookup_fn lookup;   /* may be NULL */
    void *lookup_ctx;
    bool (*should_stop)(void);  /* polled between nodes; may be NULL */
    llp_summary_node_fn on_node;    /* may be NULL */
    void *node_ctx;
} llp_summarize_plan;

/* Build the whole tree of text (len bytes, not empty), one node at a time
 * through the builder below. Returns 0, -1 with err set,
 * LLP_SUMMARIZE_STOPPED or LLP_SUMMARIZE_FATAL; on failure *out is left
 * empty. */
int llp_summarize_tree(const llp_summarize_plan *p, const char *text, size_t len,
                       llp_summary_tree *out, llp_err *err);

/* ---- the tree built incrementally (summary_tree.c) -----------------------
 * For callers that summarize many nodes at once: every node whose input is
 * known can be handed out before the others finish, and a combining node
 * is formed as soon as its children are done (the same groups as a
 * level-by-level build). The plan's summarize and should_stop are not
 * used: the caller makes the summaries; lookup and on_node are. */
typedef struct llp_summary_build llp_summary_build;

typedef struct llp_summary_want {
    int node;               /* the node's handle, for llp_summary_build_done */
    int level;              /* 1: a chunk; else joined summaries */
    const char *text;       /* what to summarize (the builder's) */
    size_t len;
} llp_summary_want;

/* Split text into its chunks (level 1). NULL with err when it cannot be
 * split or holds only whitespace. */
llp_summary_build *llp_summary_build_new(const llp_summarize_plan *p, const char *text,
                                         size_t len, llp_err *err);
void llp_summary_build_free(llp_summary_build *b);

/* The next node to summarize, lowest level first, marked running: 1 with
 * *w set; 0 when none is ready (the running ones must finish first, or the
 * tree is done). Nodes the lookup knows, or whose input is empty, are
 * finished here without being handed out. -1 with err (a lookup or
 * counting failure) or LLP_SUMMARIZE_FATAL (on_node failed). */
int llp_summary_build_next(llp_summary_build *b, llp_summary_want *w, llp_err *err);

/* The summary of a running node (copied, trimmed); on_node hears of it.
 * Returns 0, -1 with err, or LLP_SUMMARIZE_FATAL. */
int llp_summary_build_done(llp_summary_build *b, int node, const char *summary, int tokens_in,
                           int tokens_out, llp_err *err);

/* True once the root has its summary. */
bool llp_summary_build_finished(const llp_summary_build *b);

/* The finished tree, nodes level by level (the builder keeps nothing). */
void llp_summary_build_take(llp_summary_build *b, llp_summary_tree *out);

/* ---- summaries with a model ---------------------------------------------- */

typedef struct llp_summarizer_params {
    int max_tokens;             /* summary budget per call (tokens) */
    const char *prompt;         /* template with exactly one {text}; NULL: defaults */
    llp_chat_format chat;       /* how prompts are wrapped */
    const char *system;         /* system prompt for chat formats, or NULL */
    llp_sampling sampling;      /* temp 0: greedy */
    const char *const *stop;
    int n_stop;
} llp_summarizer_params;

typedef struct llp_summarizer llp_summarizer;

/* Check the template, measure the prompt's own tokens, and choose the chunk
 * size: n_ctx - prompt - budget - a small margin, with the budget lowered
 * (never raised) until a chunk holds two summaries. Fails when the context
 * cannot hold the prompt, a budget of 16 and three times that of text:
 * "context of 64 tokens is too small for the prompt (58 tokens) and a
 * summary". The summarizer uses sequence 0 of ctx. */
llp_summarizer *llp_summarizer_new(llp_context *ctx, const llp_tokenizer *tok,
                                   const llp_summarizer_params *p, llp_err *err);
void llp_summarizer_free(llp_summarizer *s);

int llp_summarizer_budget(const llp_summarizer *s);        /* after capping */
int llp_summarizer_chunk_tokens(const llp_summarizer *s);

/* Read a --prompt-file: the whole file, malloc'd and NUL-terminated, or
 * NULL with err naming the file. */
char *llp_summary_read_template(const char *path, llp_err *err);

/* Check a template: 0 when it holds {text} exactly once, else -1 with err
 * "the prompt template must contain {text} exactly once (found N)". */
int llp_summary_template_check(const char *tmpl, llp_err *err);

/* The default templates for a chat format: level 1 (a chunk) and combining. */
const char *llp_summary_default_prompt(llp_chat_format chat, bool combine);

/* The parameters that decide a summary, for cache keys and jobs.params. */
json_t *llp_summarizer_params_json(const llp_summarizer *s);

/* llp_summarize_fn over the model: the template around the text, then
 * generation with the budget. ctx is the llp_summarizer. The generation
 * polls the should_stop given to llp_summarize_document at every token. */
int llp_summarizer_run(void *ctx, int level, const char *text, size_t len, char **summary,
                       int *tokens_in, int *tokens_out, llp_err *err);

/* For running many summaries at once over the summarizer's scheduler
 * (gen_sched.h): the prompt ids of one call (the template around the text,
 * wrapped and fitted; *cut as llp_gen_fit_prompt), the scheduler, the seed
 * every call samples with (the run's: a node's summary depends on its text
 * alone, as its cache key does), and the summary of a finished generation
 * (malloc'd, valid UTF-8, as llp_summarizer_run makes it). */
int llp_summarizer_prompt_ids(llp_summarizer *s, int level, const char *text, size_t len,
                              llp_tokens *ids, int *cut, llp_err *err);
struct llp_gen_sched *llp_summarizer_sched(llp_summarizer *s);
uint64_t llp_summarizer_seed(const llp_summarizer *s);
char *llp_summarizer_text(const llp_gen_result *r);

/* ---- the tree in the store ------------------------------------------------
 * Each node becomes an item of the job with task LLP_SUMMARY_CHUNK_TASK,
 * record_id "DOC#L<level>.<index>", and output
 *   {"document": DOC, "level": k, "index": i,
 *    "children": ["DOC#L<k-1>.<c>", ...] (level > 1),
 *    "start": s, "end": e (level 1), "summary": "..."}
 * written and committed the moment the node is done, in its own short
 * transaction (no lock is held while the model computes). So a stopped,
 * failed or killed run keeps every finished summary, and the links go
 * downwards only: a node's parent is not known when it is written (it is
 * the node of the level above that lists it in "children").
 * Its cache key is (task, model_fp, params_hash, hash of the level kind and
 * the text summarized), so a later run reuses the summary of every chunk
 * that did not change, even when its document did, and a rerun of an
 * interrupted document reuses every node it finished. */
#define LLP_SUMMARY_CHUNK_TASK "summarize-chunk"

typedef struct llp_summary_store {
    llp_store *store;           /* NULL: nothing recorded, nothing cached */
    int64_t job_id;
    const char *model_fp;
    const char *params_hash;
    bool no_cache;              /* record, but never reuse */
    const char *document;       /* record id of the document being summarized */
} llp_summary_store;

/* llp_summary_lookup_fn over the store; ctx is an llp_summary_store. */
int llp_summary_store_lookup(void *ctx, int level, const char *text, size_t len,
                             char **summary, llp_err *err);

/* llp_summary_node_fn over the store (ctx: an llp_summary_store): record
 * node n of s->document as an item and commit it (or add it to the
 * transaction already open). Returns 0 or -1 with err. */
int llp_summary_store_node(void *ctx, const llp_summary_node *n, llp_err *err);

/* The tree of one document with the model: llp_summarize_tree over
 * llp_summarizer_run, reusing summaries found in the store and recording
 * each node in it as it finishes (store may be NULL; store->document names
 * the document). should_stop (may be NULL) is polled between nodes and at
 * every generated token. Returns as llp_summarize_tree. */
int llp_summarize_document(llp_summarizer *s, llp_summary_store *store,
                           bool (*should_stop)(void), const char *text, size_t len,
                           llp_summary_tree *out, llp_err *err);

#endif
