/*
 * classify_prompt.c — the text side of classification (see classify.h):
 * parsing --labels, checking and rendering the template with its few-shot
 * examples and chat wrapper into the head and tail around each text, and
 * finding the tokens of each label as they follow the prompt.
 *
 * Not for: decoding or scoring (classify.c), or reading records (records.h;
 * the examples file is read through it).
 */
#include "classify_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "records.h"

/* ---- a growable string ------------------------------------------------- */

void cls_buf_add(cls_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) cap *= 2;
        b->s = llp_realloc(b->s, cap);
        b->cap = cap;
    }
    if (n) memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

void cls_buf_str(cls_buf *b, const char *s) { cls_buf_add(b, s, strlen(s)); }

/* Append s[0..n) with every "{labels}" replaced by labels. */
static void add_with_labels(cls_buf *b, const char *s, size_t n, const char *labels)
{
    static const char key[] = "{labels}";
    const size_t klen = sizeof key - 1;
    size_t i = 0;
    while (i < n) {
        const char *hit = n - i >= klen ? memmem(s + i, n - i, key, klen) : NULL;
        if (!hit) {
            cls_buf_add(b, s + i, n - i);
            break;
        }
        cls_buf_add(b, s + i, (size_t)(hit - (s + i)));
        cls_buf_str(b, labels);
        i = (size_t)(hit - s) + klen;
    }
}

/* ---- labels and template checks ---------------------------------------- */

void llp_classify_labels_free(char **labels, int n)
{
    if (!labels) return;
    for (int i = 0; i < n; i++) free(labels[i]);
    free(labels);
}

static int check_labels(const char *const *labels, int n, llp_err *err)
{
    if (n < 2) return llp_err_set(err, "--labels: need at least 2 labels, got %d", n);
    for (int i = 0; i < n; i++) {
        if (!labels[i] || !*labels[i])
            return llp_err_set(err, "--labels: label %d is empty", i + 1);
        for (int j = 0; j < i; j++)
            if (strcmp(labels[i], labels[j]) == 0)
                return llp_err_set(err, "--labels: '%s' is given twice", labels[i]);
    }
    return 0;
}

int llp_classify_parse_labels(const char *spec, char ***out, int *n_out, llp_err *err)
{
    char **labels = NULL;
    int n = 0;
    const char *p = spec ? spec : "";
    for (;;) {
        const char *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        const char *a = p, *z = end;
        while (a < z && (*a == ' ' || *a == '\t')) a++;
        while (z > a && (z[-1] == ' ' || z[-1] == '\t')) z--;
        labels = llp_realloc(labels, sizeof(char *) * (size_t)(n + 1));
        labels[n++] = llp_strndup(a, (size_t)(z - a));
        if (!*end) break;
        p = end + 1;
    }
    if (check_labels((const char *const *)labels, n, err)) {
        llp_classify_labels_free(labels, n);
        return -1;
    }
    *out = labels;
    *n_out = n;
    return 0;
}

char *llp_classify_read_template(const char *path, llp_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        llp_err_set(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    cls_buf b = { 0 };
    char chunk[8192];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) cls_buf_add(&b, chunk, got);
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(b.s);
        llp_err_set(err, "%s: read error", path);
        return NULL;
    }
    if (!b.s) cls_buf_add(&b, "", 0);
    if (strlen(b.s) != b.len) {
        free(b.s);
        llp_err_set(err, "%s: the prompt template holds a NUL byte", path);
        return NULL;
    }
    return b.s;
}

static int count_of(const char *s, const char *key)
{
    int n = 0;
    for (const char *p = strstr(s, key); p; p = strstr(p + 1, key)) n++;
    return n;
}

int llp_classify_check(const llp_classify_params *p, llp_err *err)
{
    if (check_labels(p->labels, p->n_labels, err)) return -1;
    const char *t = p->prompt_template ? p->prompt_template : LLP_CLASSIFY_DEFAULT_TEMPLATE;
    int n_text = count_of(t, "{text}"), n_ex = count_of(t, "{examples}");
    if (n_text == 0) return llp_err_set(err, "--prompt-file: the template has no {text}");
    if (n_text > 1)
        return llp_err_set(err, "--prompt-file: the template has {text} %d times (once only)",
                           n_text);
    if (n_ex > 1) return llp_err_set(err, "--prompt-file: the template has {examples} %d times",
                                     n_ex);
    if (n_ex && strstr(t, "{examples}") > strstr(t, "{text}"))
        return llp_err_set(err, "--prompt-file: {examples} must come before {text}");
    return 0;
}

/* ---- examples ---------------------------------------------------------- */

void cls_examples_free(cls_example *ex, int n)
{
    for (int i = 0; i < n; i++) {
        free(ex[i].text);
        free(ex[i].label);
    }
    free(ex);
}

int cls_examples_load(const char *path, const char *const *labels, int n_labels,
                      cls_example **out, int *n_out, llp_err *err)
{
    char *paths[] = { (char *)path };
    llp_reader_opts ro = { .format = LLP_FMT_CSV, .paths = paths, .n_paths = 1,
                           .column = "text", .quiet = true, .tool = "llp-classify" };
    llp_reader *rd = llp_reader_open(&ro, err);
    if (!rd) return -1;
    cls_example *ex = NULL;
    int n = 0, rc;
    llp_record *rec;
    while ((rc = llp_reader_next(rd, &rec, err)) == 1) {
        int bad = 0;
        json_t *lv = json_object_get(rec->fields, "label");
        const char *label = json_is_string(lv) ? json_string_value(lv) : NULL;
        if (rec->error) {
            bad = llp_err_set(err, "--examples: %s", rec->error);
        } else if (!label) {
            bad = llp_err_set(err, "--examples: %s: no 'label' column (columns: text,label)",
                              rec->where);
        } else {
            size_t a = 0, z = strlen(label);
            while (a < z && (label[a] == ' ' || label[a] == '\t')) a++;
            while (z > a && (label[z - 1] == ' ' || label[z - 1] == '\t')) z--;
            int found = -1;
            for (int l = 0; l < n_labels; l++)
                if (strlen(labels[l]) == z - a && memcmp(labels[l], label + a, z - a) == 0)
                    found = l;
            if (found < 0) {
                bad = llp_err_set(err, "--examples: %s: label '%.*s' is not one of --labels",
                                  rec->where, (int)(z - a), label + a);
            } else {
                ex = llp_realloc(ex, sizeof *ex * (size_t)(n + 1));
                ex[n].text = llp_strndup(rec->text, rec->text_len);
                ex[n].text_len = rec->text_len;
                ex[n].label = llp_strdup(labels[found]);
                n++;
            }
        }
        llp_record_free(rec);
        if (bad) {
            rc = -1;
            break;
        }
    }
    llp_reader_close(rd);
    if (rc < 0) {
        cls_examples_free(ex, n);
        return -1;
    }
    if (n == 0) {
        cls_examples_free(ex, n);
        return llp_err_set(err, "--examples: %s has no examples", path);
    }
    *out = ex;
    *n_out = n;
    return 0;
}

/* ---- rendering --------------------------------------------------------- */

/* What joins a prompt (or example line) and the label that follows it: a
 * space, except after a newline. */
const char *cls_label_join(const char *tail, size_t len)
{
    return len > 0 && tail[len - 1] == '\n' ? "" : " ";
}

static size_t strip_spaces(const char *s, size_t n)
{
    while (n > 0 && s[n - 1] == ' ') n--;
    return n;
}

/* A marker that cannot occur in a template (which holds no NUL), used to
 * find where the text goes after the chat wrapper is put around it. */
#define TEXT_MARK "\x1e{llp-classify-text}\x1e"

int cls_render(const llp_classify_params *p, llp_chat_format chat, const cls_example *ex,
               int n_ex, char **head, char **tail, llp_err *err)
{
    const char *t = p->prompt_template ? p->prompt_template : LLP_CLASSIFY_DEFAULT_TEMPLATE;
    if (llp_classify_check(p, err)) return -1;
    cls_buf labels = { 0 };
    for (int l = 0; l < p->n_labels; l++) {
        if (l) cls_buf_str(&labels, ", ");
        cls_buf_str(&labels, p->labels[l]);
    }
    const char *text_at = strstr(t, "{text}");
    const char *ex_at = strstr(t, "{examples}");
    const char *ex_end = ex_at ? ex_at + strlen("{examples}") : t;
    /* the row's own line: from the start of the line holding {text} */
    const char *line = text_at;
    while (line > ex_end && line[-1] != '\n') line--;
    const char *after = text_at + strlen("{text}");

    cls_buf intro = { 0 }, rest = { 0 }, exb = { 0 }, user = { 0 };
    add_with_labels(&intro, line, (size_t)(text_at - line), labels.s);
    add_with_labels(&rest, after, strlen(after), labels.s);
    if (!intro.s) cls_buf_add(&intro, "", 0);
    if (!rest.s) cls_buf_add(&rest, "", 0);
    rest.len = strip_spaces(rest.s, rest.len);
    rest.s[rest.len] = 0;
    for (int i = 0; i < n_ex; i++) {
        cls_buf_add(&exb, intro.s, intro.len);
        cls_buf_add(&exb, ex[i].text, ex[i].text_len);
        cls_buf_add(&exb, rest.s, rest.len);
        cls_buf_str(&exb, cls_label_join(rest.s, rest.len));
        cls_buf_str(&exb, ex[i].label);
        cls_buf_str(&exb, "\n\n");
    }
    if (!exb.s) cls_buf_add(&exb, "", 0);
    /* user message: the template before the row's line (examples in place),
     * the row's line up to the text, the mark, the rest */
    if (ex_at) {
        add_with_labels(&user, t, (size_t)(ex_at - t), labels.s);
        cls_buf_add(&user, exb.s, exb.len);
        add_with_labels(&user, ex_end, (size_t)(line - ex_end), labels.s);
    } else {
        add_with_labels(&user, t, (size_t)(line - t), labels.s);
        cls_buf_add(&user, exb.s, exb.len);
    }
    cls_buf_add(&user, intro.s, intro.len);
    size_t mark_at_user = user.len;
    cls_buf_str(&user, TEXT_MARK);
    cls_buf_add(&user, rest.s, rest.len);

    char *probe = llp_chat_format_prompt(chat, NULL, TEXT_MARK);
    size_t wrap_head = (size_t)(strstr(probe, TEXT_MARK) - probe);
    free(probe);
    char *wrapped = llp_chat_format_prompt(chat, NULL, user.s);
    size_t mark_at = wrap_head + mark_at_user;
    size_t wlen = strlen(wrapped);
    *head = llp_strndup(wrapped, mark_at);
    const char *tl = wrapped + mark_at + strlen(TEXT_MARK);
    *tail = llp_strndup(tl, strip_spaces(tl, wlen - (size_t)(tl - wrapped)));
    free(wrapped);
    free(labels.s);
    free(intro.s);
    free(rest.s);
    free(exb.s);
    free(user.s);
    return 0;
}

/* ---- label tokens ------------------------------------------------------ */

int cls_label_tokens(const llp_tokenizer *tok, const char *tail, bool parse_special,
                     const char *label, llp_tokens *out, llp_err *err)
{
    size_t tl = strlen(tail);
    if (tl > 0) {
        llp_tokens a = { 0 }, b = { 0 };
        cls_buf joint = { 0 };
        cls_buf_add(&joint, tail, tl);
        cls_buf_str(&joint, cls_label_join(tail, tl));
        cls_buf_str(&joint, label);
        int rc = llp_tokenize(tok, tail, tl, false, parse_special, &a, err);
        if (rc == 0) rc = llp_tokenize(tok, joint.s, joint.len, false, parse_special, &b, err);
        bool prefix = rc == 0 && b.n > a.n && memcmp(a.ids, b.ids, a.n * sizeof(int32_t)) == 0;
        if (prefix)
            for (size_t i = a.n; i < b.n; i++) llp_tokens_push(out, b.ids[i]);
        llp_tokens_free(&a);
        llp_tokens_free(&b);
        free(joint.s);
        if (rc) return -1;
        if (prefix) return 0;
    }
    /* no tail, or a merge across the boundary: the label on its own */
    if (llp_tokenize(tok, label, strlen(label), false, parse_special, out, err)) return -1;
    if (out->n == 0) return llp_err_set(err, "label '%s' gives no tokens", label);
    return 0;
}
