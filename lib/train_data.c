/*
 * train_data.c — records to training sequences (see train_data.h).
 *
 * Not for: the prompt of classification itself (classify_prompt.c renders
 * it; this file only asks the classifier for its tokens).
 */
#include "train_data.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void llp_train_set_free(llp_train_set *set)
{
    for (int i = 0; i < set->n; i++) {
        free(set->ex[i].tokens);
        free(set->ex[i].target);
        free(set->ex[i].where);
    }
    free(set->ex);
    memset(set, 0, sizeof *set);
}

/* A sequence being built: tokens and their loss flags. */
typedef struct seq_buf {
    llp_tokens tok;
    uint8_t *target;
    size_t cap;
} seq_buf;

static void seq_add(seq_buf *s, const int32_t *ids, size_t n, bool target)
{
    for (size_t i = 0; i < n; i++) {
        llp_tokens_push(&s->tok, ids[i]);
        if (s->tok.n > s->cap) {
            s->cap = s->cap ? 2 * s->cap : 256;
            s->target = llp_realloc(s->target, s->cap);
        }
        s->target[s->tok.n - 1] = target;
    }
}

static int seq_text(seq_buf *s, const llp_tokenizer *tok, const char *text, bool bos,
                    bool parse_special, bool target, llp_err *err)
{
    llp_tokens t = { 0 };
    int rc = bos ? llp_tokenize(tok, text, strlen(text), true, parse_special, &t, err)
                 : llp_tokenize(tok, text, strlen(text), false, parse_special, &t, err);
    if (rc == 0) seq_add(s, t.ids, t.n, target);
    llp_tokens_free(&t);
    return rc;
}

static void seq_token(seq_buf *s, int32_t id, bool target)
{
    if (id >= 0) seq_add(s, &id, 1, target);
}

static const char *field_str(const llp_record *r, const char *name)
{
    json_t *v = json_object_get(r->fields, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The row's failure, reported: "where: what". Returns 1. */
static int row_error(const llp_train_data_opts *o, llp_train_set *set, const llp_record *r,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int row_error(const llp_train_data_opts *o, llp_train_set *set, const llp_record *r,
                     const char *fmt, ...)
{
    char what[768], msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(msg, sizeof msg, "%s: %s", r->where, what);
    set->n_bad++;
    if (o->on_error) o->on_error(o->ctx, msg);
    return 1;
}

/* prompt + completion + EOS */
static int build_prompt(const llp_train_data_opts *o, llp_train_set *set, const llp_record *r,
                        seq_buf *s, llp_err *err)
{
    const char *p = field_str(r, "prompt"), *c = field_str(r, "completion");
    if (!p) return row_error(o, set, r, "no string field 'prompt'");
    if (!c) return row_error(o, set, r, "no string field 'completion'");
    if (!*c) return row_error(o, set, r, "the completion is empty");
    char *prompt = llp_chat_format_prompt(o->chat, NULL, p);
    bool special = o->chat != LLP_CHAT_NONE;
    int rc = seq_text(s, o->tok, prompt, true, special, false, err);
    free(prompt);
    if (rc || seq_text(s, o->tok, c, false, false, true, err)) return -1;
    seq_token(s, llp_tokenizer_eos(o->tok), true);
    return 0;
}

/* system?, (user, assistant)+ */
static int build_chat(const llp_train_data_opts *o, llp_train_set *set, const llp_record *r,
                      seq_buf *s, llp_err *err)
{
    json_t *msgs = json_object_get(r->fields, "messages");
    if (!json_is_array(msgs) || json_array_size(msgs) == 0)
        return row_error(o, set, r, "no 'messages' array");
    llp_chat_format chat = o->chat == LLP_CHAT_NONE ? LLP_CHAT_LLAMA2 : o->chat;
    const char *system = NULL, *user = NULL;
    int n_assistant = 0;
    for (size_t i = 0; i < json_array_size(msgs); i++) {
        json_t *m = json_array_get(msgs, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        const char *content = json_string_value(json_object_get(m, "content"));
        if (!role || !content)
            return row_error(o, set, r, "message %zu has no string 'role' and 'content'", i + 1);
        if (!strcmp(role, "system")) {
            if (i != 0) return row_error(o, set, r, "message %zu: a system message comes first", i + 1);
            system = content;
        } else if (!strcmp(role, "user")) {
            if (user) return row_error(o, set, r, "message %zu: two user messages in a row", i + 1);
            user = content;
        } else if (!strcmp(role, "assistant")) {
            if (!user)
                return row_error(o, set, r, "message %zu: an assistant message needs a user "
                                 "message before it", i + 1);
            char *prompt = llp_chat_format_prompt(chat, n_assistant ? NULL : system, user);
            int rc = seq_text(s, o->tok, prompt, true, true, false, err);
            free(prompt);
            if (rc || seq_text(s, o->tok, content, false, false, true, err)) return -1;
            if (chat == LLP_CHAT_CHATML) {
                if (seq_text(s, o->tok, "<|im_end|>", false, true, true, err)) return -1;
            } else {
                seq_token(s, llp_tokenizer_eos(o->tok), true);
            }
            user = NULL;
            n_assistant++;
        } else {
            return row_error(o, set, r, "message %zu: unknown role '%s' (system, user, "
                             "assistant)", i + 1, role);
        }
    }
    if (n_assistant == 0) return row_error(o, set, r, "no assistant message to learn");
    return 0;
}

/* llp-classify's prompt + the label's tokens */
static int build_labeled(const llp_train_data_opts *o, llp_train_set *set, const llp_record *r,
                         seq_buf *s, int *label, llp_err *err)
{
    const char *col = o->label_column ? o->label_column : "label";
    json_t *lv = json_object_get(r->fields, col);
    if (!json_is_string(lv))
        return row_error(o, set, r, "no label field or column '%s'", col);
    const char *lab = json_string_value(lv);
    size_t a = 0, z = strlen(lab);
    while (a < z && (lab[a] == ' ' || lab[a] == '\t')) a++;
    while (z > a && (lab[z - 1] == ' ' || lab[z - 1] == '\t')) z--;
    const llp_classifier *c = o->classifier;
    *label = -1;
    for (int l = 0; l < llp_classifier_n_labels(c); l++) {
        const char *name = llp_classifier_label(c, l);
        if (strlen(name) == z - a && memcmp(name, lab + a, z - a) == 0) *label = l;
    }
    if (*label < 0) return row_error(o, set, r, "label '%.*s' is not one of --labels", (int)(z - a),
                                     lab + a);
    if (r->text_len == 0) return row_error(o, set, r, "empty text");
    llp_tokens t = { 0 };
    if (llp_classifier_prompt_tokens(c, r->text, r->text_len, &t, err)) return -1;
    seq_add(s, t.ids, t.n, false);
    llp_tokens_free(&t);
    const int32_t *ids;
    int n = llp_classifier_label_tokens(c, *label, &ids);
    seq_add(s, ids, (size_t)n, true);
    return 0;
}

int llp_train_data_load(const llp_train_data_opts *o, llp_train_set *set, llp_err *err)
{
    llp_reader *rd = llp_reader_open(&o->reader, err);
    if (!rd) return -1;
    llp_data_shape shape = o->shape;
    llp_record *rec;
    int rc;
    while ((rc = llp_reader_next(rd, &rec, err)) == 1) {
        /* the reader asks every record for a text field; prompt/completion
         * and chat rows have other fields instead */
        if (rec->error && shape != LLP_DATA_LABELED && json_object_size(rec->fields) > 0 &&
            (json_object_get(rec->fields, "prompt") || json_object_get(rec->fields, "messages") ||
             json_object_get(rec->fields, "completion"))) {
            free(rec->error);
            rec->error = NULL;
        }
        if (rec->error) {
            row_error(o, set, rec, "%s", rec->error + (strncmp(rec->error, rec->where,
                                                              strlen(rec->where)) == 0
                                                          ? strlen(rec->where) + 2 : 0));
            llp_record_free(rec);
            continue;
        }
        if (shape == LLP_DATA_AUTO)
            shape = json_object_get(rec->fields, "messages") ? LLP_DATA_CHAT : LLP_DATA_PROMPT;
        if (shape != LLP_DATA_LABELED && !json_object_get(rec->fields, "prompt") &&
            !json_object_get(rec->fields, "messages")) {
            row_error(o, set, rec, "no 'prompt' and 'completion' fields, nor 'messages' (or "
                      "pass --labels for labeled rows)");
            llp_record_free(rec);
            continue;
        }
        seq_buf s = { 0 };
        int label = -1, bad;
        if (shape == LLP_DATA_CHAT) bad = build_chat(o, set, rec, &s, err);
        else if (shape == LLP_DATA_PROMPT) bad = build_prompt(o, set, rec, &s, err);
        else bad = build_labeled(o, set, rec, &s, &label, err);
        if (bad < 0) {
            free(s.tok.ids);
            free(s.target);
            llp_record_free(rec);
            rc = -1;
            break;
        }
        if (!bad && (int)s.tok.n > o->n_ctx)
            bad = row_error(o, set, rec, "%zu tokens, longer than the context (-c %d)", s.tok.n,
                            o->n_ctx);
        if (!bad) {
            set->ex = llp_realloc(set->ex, sizeof *set->ex * (size_t)(set->n + 1));
            llp_train_example *e = &set->ex[set->n++];
            e->tokens = s.tok.ids;
            e->target = s.target;
            e->n = (int)s.tok.n;
            e->target[0] = 0;       /* nothing predicts the first token */
            e->n_targets = 0;
            for (int i = 1; i < e->n; i++) e->n_targets += e->target[i];
            e->label = label;
            e->where = llp_strdup(rec->where);
            set->n_tokens += e->n;
            set->n_targets += e->n_targets;
        } else {
            free(s.tok.ids);
            free(s.target);
        }
        llp_record_free(rec);
    }
    llp_reader_close(rd);
    return rc < 0 ? -1 : 0;
}
