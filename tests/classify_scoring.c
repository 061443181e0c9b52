/*
 * classify_scoring.c — label scoring (lib/classify.h) on random-weight
 * models this test writes: the fast path (shared prefix, rows batched,
 * label continuations batched) gives the probabilities of the plain path
 * that scores each label from scratch; prefix sharing and batch sizes do not
 * change results; probabilities sum to 1 and the label is their argmax;
 * labels, templates, examples, chat wrapping and truncation behave as
 * documented.
 *
 * Not for: the command line, CSV/JSONL round trips or the store
 * (tests/cli_classify.t).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "quant.h"
#include "synth.h"
#include "tap.h"

static char tmpdir[512];

static const char *words[] = { "the", "food", "was", "great", "awful", "service", "slow",
                               "quick", "and", "not", "very", "good", "bad", "price", "ok",
                               "film", "plot", "actors", "loved", "hated", "meh", "again" };

/* A deterministic text of roughly n words, with punctuation now and then. */
static char *make_text(int i, int n)
{
    size_t cap = (size_t)n * 12 + 16, len = 0;
    char *s = malloc(cap);
    uint32_t x = 2654435761u * (uint32_t)(i + 1);
    for (int w = 0; w < n; w++) {
        x = x * 1103515245u + 12345u;
        const char *word = words[(x >> 16) % (sizeof words / sizeof words[0])];
        len += (size_t)snprintf(s + len, cap - len, "%s%s%s", w ? " " : "", word,
                                (x >> 8) % 7 == 0 ? "," : "");
    }
    if (i % 3 == 0) len += (size_t)snprintf(s + len, cap - len, "!");
    return s;
}

typedef struct fixture {
    llp_model *model;
    llp_tokenizer *tok;
} fixture;

static int open_model(const char *shape, uint32_t type, bool chat, fixture *f)
{
    llp_synth_spec spec = { 0 };
    llp_synth_shape(shape, &spec);
    spec.type = type;
    spec.output_type = LLP_TYPE_COUNT;
    spec.chat_template = chat;
    spec.seed = 7;
    char path[700];
    snprintf(path, sizeof path, "%s/%s-%u%s.gguf", tmpdir, shape, type, chat ? "-chat" : "");
    llp_err err;
    if (llp_synth_write(&spec, path, &err)) {
        diag("synth: %s", err.msg);
        return -1;
    }
    f->model = llp_model_load(path, &err);
    f->tok = f->model ? llp_tokenizer_load(path, &err) : NULL;
    if (!f->tok) diag("load: %s", err.msg);
    return f->tok ? 0 : -1;
}

static void close_model(fixture *f)
{
    llp_tokenizer_free(f->tok);
    llp_model_free(f->model);
}

static llp_classifier *make(fixture *f, const llp_classify_params *p)
{
    llp_err err;
    llp_classifier *c = llp_classifier_new(f->model, f->tok, NULL, p, &err);
    if (!c) diag("classifier: %s", err.msg);
    return c;
}

/* Score texts on c in calls of c's max rows. */
static int score_all(llp_classifier *c, char **texts, int n, llp_classify_result *res)
{
    int step = llp_classifier_max_rows(c);
    for (int at = 0; at < n; at += step) {
        int k = n - at < step ? n - at : step;
        size_t lens[LLP_CLASSIFY_MAX_ROWS];
        for (int i = 0; i < k; i++) lens[i] = strlen(texts[at + i]);
        llp_err err;
        if (llp_classify_rows(c, (const char *const *)texts + at, lens, k, res + at, &err)) {
            diag("rows: %s", err.msg);
            return -1;
        }
    }
    return 0;
}

static double max_prob_diff(const llp_classify_result *a, const llp_classify_result *b, int n,
                            int n_labels)
{
    double worst = 0;
    for (int i = 0; i < n; i++) {
        if (a[i].error || b[i].error) {
            if (!a[i].error != !b[i].error) return INFINITY;
            continue;
        }
        for (int l = 0; l < n_labels; l++) {
            double d = fabs(a[i].prob[l] - b[i].prob[l]);
            if (d > worst) worst = d;
        }
    }
    return worst;
}

/* Sum to 1, label = argmax, score in range: for every row that did not fail. */
static void check_distribution(const llp_classify_result *r, int n, int n_labels,
                               const char *what)
{
    int bad_sum = 0, bad_arg = 0, bad_range = 0;
    for (int i = 0; i < n; i++) {
        if (r[i].error) continue;
        double sum = 0;
        int arg = 0;
        for (int l = 0; l < n_labels; l++) {
            sum += r[i].prob[l];
            if (r[i].prob[l] > r[i].prob[arg]) arg = l;
            if (!(r[i].prob[l] >= 0 && r[i].prob[l] <= 1)) bad_range++;
            if (!isfinite(r[i].logprob[l]) || r[i].logprob[l] > 0) bad_range++;
        }
        if (fabs(sum - 1) > 1e-5) bad_sum++;
        if (r[i].label != arg) bad_arg++;
    }
    ok(bad_sum == 0, "%s: probabilities sum to 1 within 1e-5 (%d rows off)", what, bad_sum);
    ok(bad_arg == 0, "%s: label is the argmax (%d rows off)", what, bad_arg);
    ok(bad_range == 0, "%s: probabilities in [0,1], log-probabilities finite and <= 0", what);
}

static void free_results(llp_classify_result *r, int n)
{
    for (int i = 0; i < n; i++) llp_classify_result_free(&r[i]);
}

/* The core property over one model and label set: plain == fast, and the
 * fast path is the same with and without sharing, at batch sizes 1/4/16. */
static void check_paths(fixture *f, const char *what, const char *const *labels, int n_labels,
                        const char *template, const char *examples, int n_ctx, int chat,
                        char **texts, int n)
{
    /* Float sums differ in order between batch shapes (attention runs one
     * SGEMM per run of a sequence's tokens, so a prefix decoded on its own
     * is summed differently from one decoded with the row). With float
     * weights that stays at rounding level: probabilities within 1e-4, the
     * requirement. With quantized weights the activations are rounded to 8
     * bits before each product, and a last-bit difference can move a value
     * by a whole quantization step; the margins there are those of the
     * engine's quantization noise, not of the classifier. */
    bool f32 = f->model->layers[0].wq.type == LLP_F32;
    double p_tolerance = f32 ? 1e-4 : 1e-2, same_tolerance = f32 ? 1e-5 : 1e-2;
    double lp_tolerance = f32 ? 1e-3 : 5e-2;
    llp_classify_params p = { .labels = labels, .n_labels = n_labels,
                              .prompt_template = template, .examples_path = examples,
                              .chat = chat, .n_ctx = n_ctx, .n_threads = 2, .max_rows = 16 };
    llp_classifier *fast = make(f, &p);
    p.no_prefix_sharing = true;
    llp_classifier *noshare = make(f, &p);
    p.no_prefix_sharing = false;
    p.max_rows = 1;
    llp_classifier *one = make(f, &p);
    p.max_rows = 4;
    llp_classifier *four = make(f, &p);
    if (!ok(fast && noshare && one && four, "%s: classifiers made", what)) goto out;

    llp_classify_result *rf = calloc((size_t)n, sizeof *rf), *rp = calloc((size_t)n, sizeof *rp),
                        *rn = calloc((size_t)n, sizeof *rn), *r1 = calloc((size_t)n, sizeof *r1),
                        *r4 = calloc((size_t)n, sizeof *r4);
    int rc = score_all(fast, texts, n, rf) | score_all(noshare, texts, n, rn) |
             score_all(one, texts, n, r1) | score_all(four, texts, n, r4);
    for (int i = 0; i < n && rc == 0; i++) {
        llp_err err;
        if (llp_classify_plain(fast, texts[i], strlen(texts[i]), &rp[i], &err)) {
            diag("plain: %s", err.msg);
            rc = -1;
        }
    }
    if (ok(rc == 0, "%s: %d rows scored on every path", what, n)) {
        double d = max_prob_diff(rf, rp, n, n_labels);
        ok(d <= p_tolerance, "%s: fast path == plain path within %g (max diff %.3g)", what,
           p_tolerance, d);
        d = max_prob_diff(rf, rn, n, n_labels);
        ok(d <= same_tolerance, "%s: prefix sharing on == off within %g (max diff %.3g)", what,
           same_tolerance, d);
        d = fmax(max_prob_diff(rf, r1, n, n_labels), max_prob_diff(rf, r4, n, n_labels));
        ok(d <= same_tolerance, "%s: batch sizes 1, 4, 16 agree within %g (max diff %.3g)", what,
           same_tolerance, d);
        int same_label = 0, counted = 0;
        double lp_diff = 0;
        for (int i = 0; i < n; i++) {
            if (rf[i].error) continue;
            counted++;
            /* the same label, or a tie within tolerance on the plain path */
            same_label += rf[i].label == rp[i].label || fabs(rp[i].prob[rf[i].label] -
                                                             rp[i].prob[rp[i].label]) < p_tolerance;
            for (int l = 0; l < n_labels; l++)
                lp_diff = fmax(lp_diff, fabs(rf[i].logprob[l] - rp[i].logprob[l]));
        }
        is_int(same_label, counted, "%s: same labels as the plain path", what);
        ok(lp_diff <= lp_tolerance, "%s: log-probabilities match the plain path within %g nats "
           "(max diff %.3g)", what, lp_tolerance, lp_diff);
        check_distribution(rf, n, n_labels, what);
        check_distribution(rp, n, n_labels, "plain");
        int spread = 0;
        for (int i = 0; i < n; i++) spread += !rf[i].error && rf[i].prob[rf[i].label] < 0.99;
        diag("%s: %d of %d rows have no label above 0.99", what, spread, n);
        int shared = 0, unique_ok = 1;
        for (int i = 0; i < n; i++) {
            if (rf[i].error) continue;
            shared += rf[i].n_unique < rf[i].n_prompt;
            unique_ok &= rn[i].n_unique == rn[i].n_prompt && rn[i].n_prompt == rf[i].n_prompt;
        }
        is_int(shared, counted, "%s: every row reuses the shared prefix", what);
        ok(unique_ok, "%s: without sharing every prompt token is the row's own", what);
    }
    free_results(rf, n);
    free_results(rp, n);
    free_results(rn, n);
    free_results(r1, n);
    free_results(r4, n);
    free(rf);
    free(rp);
    free(rn);
    free(r1);
    free(r4);
out:
    llp_classifier_free(fast);
    llp_classifier_free(noshare);
    llp_classifier_free(one);
    llp_classifier_free(four);
}

static void test_labels_and_templates(void)
{
    char **l = NULL;
    int n = 0;
    llp_err err;
    ok(llp_classify_parse_labels(" positive , negative,neutral ", &l, &n, &err) == 0 && n == 3 &&
           strcmp(l[0], "positive") == 0 && strcmp(l[2], "neutral") == 0,
       "labels: split on commas, spaces dropped");
    llp_classify_labels_free(l, n);
    ok(llp_classify_parse_labels("yes", &l, &n, &err) == -1 && strstr(err.msg, "at least 2"),
       "labels: one label refused (%s)", err.msg);
    ok(llp_classify_parse_labels("a,,b", &l, &n, &err) == -1 && strstr(err.msg, "empty"),
       "labels: empty label refused (%s)", err.msg);
    ok(llp_classify_parse_labels("a,b,a", &l, &n, &err) == -1 && strstr(err.msg, "twice"),
       "labels: duplicate refused (%s)", err.msg);

    const char *labels[] = { "a", "b" };
    llp_classify_params p = { .labels = labels, .n_labels = 2 };
    ok(llp_classify_check(&p, &err) == 0, "template: the default passes");
    p.prompt_template = "Sort this: {labels}";
    ok(llp_classify_check(&p, &err) == -1 && strstr(err.msg, "{text}"),
       "template: no {text} refused (%s)", err.msg);
    p.prompt_template = "{text} and {text}";
    ok(llp_classify_check(&p, &err) == -1, "template: {text} twice refused (%s)", err.msg);
    p.prompt_template = "{text}\n{examples}";
    ok(llp_classify_check(&p, &err) == -1, "template: {examples} after {text} refused (%s)",
       err.msg);
}

static void test_rendering(fixture *f)
{
    const char *labels[] = { "positive", "negative", "neutral" };
    char ex_path[700];
    snprintf(ex_path, sizeof ex_path, "%s/shots.csv", tmpdir);
    FILE *fp = fopen(ex_path, "w");
    fputs("text,label\n\"Loved it, truly\",positive\nbroke in a day, negative\n", fp);
    fclose(fp);
    llp_classify_params p = { .labels = labels, .n_labels = 3, .examples_path = ex_path,
                              .chat = 0, .n_threads = 1, .max_rows = 2 };
    llp_classifier *c = make(f, &p);
    if (ok(c != NULL, "examples: classifier made")) {
        is_int(strcmp(llp_classifier_head(c),
                      "Classify the text as exactly one of these labels: positive, negative, "
                      "neutral.\n\nText: Loved it, truly\nLabel: positive\n\nText: broke in a "
                      "day\nLabel: negative\n\nText: "),
               0, "examples: rendered before the text line in the template's own form");
        is_int(strcmp(llp_classifier_tail(c), "\nLabel:"), 0, "default tail");
        /* labels as they follow "Label:": the joint tokenization's last tokens */
        llp_tokens joint = { 0 };
        llp_err err;
        llp_tokenize(f->tok, "\nLabel: neutral", 15, false, false, &joint, &err);
        const int32_t *ids;
        int k = llp_classifier_label_tokens(c, 2, &ids);
        ok(k > 0 && (size_t)k < joint.n &&
               memcmp(ids, joint.ids + joint.n - (size_t)k, sizeof(int32_t) * (size_t)k) == 0,
           "label tokens: the tail of tokenize(tail + ' ' + label) (%d tokens)", k);
        size_t plen;
        const char *piece = llp_token_piece(f->tok, ids[0], &plen);
        ok(plen >= 3 && memcmp(piece, "\xe2\x96\x81", 3) == 0,
           "label tokens: the first carries the leading space ▁ (%s)", piece);
        llp_tokens_free(&joint);
        ok(llp_classifier_prefix_tokens(c) > 20, "examples are part of the shared prefix (%d tokens)",
           llp_classifier_prefix_tokens(c));
    }
    llp_classifier_free(c);

    fp = fopen(ex_path, "w");
    fputs("text,label\nfine,positive\nweird,maybe\n", fp);
    fclose(fp);
    llp_err err;
    c = llp_classifier_new(f->model, f->tok, NULL, &p, &err);
    ok(!c && strstr(err.msg, "shots.csv:3") && strstr(err.msg, "'maybe'"),
       "examples: an unknown label names file and line (%s)", c ? "" : err.msg);
    llp_classifier_free(c);

    p.examples_path = NULL;
    p.prompt_template = "Review: {text} \nMood ({labels}): ";
    c = make(f, &p);
    if (ok(c != NULL, "custom template: classifier made")) {
        is_int(strcmp(llp_classifier_head(c), "Review: "), 0, "custom template: head");
        is_int(strcmp(llp_classifier_tail(c), " \nMood (positive, negative, neutral):"), 0,
               "custom template: {labels} filled, trailing spaces dropped");
    }
    llp_classifier_free(c);

    p.prompt_template = NULL;
    p.chat = 1;
    c = make(f, &p);
    if (ok(c != NULL, "chat: classifier made")) {
        ok(strncmp(llp_classifier_head(c), "[INST] Classify", 15) == 0 &&
               strcmp(llp_classifier_tail(c), "\nLabel: [/INST]") == 0,
           "chat: Llama-2 wrapper around the prompt");
    }
    llp_classifier_free(c);
}

static void test_truncation_and_errors(fixture *f, char **texts, int n)
{
    const char *labels[] = { "a", "bad", "negative", "neutral" };
    llp_classify_params p = { .labels = labels, .n_labels = 4, .chat = 0, .n_ctx = 96,
                              .n_threads = 2, .max_rows = 4 };
    llp_classifier *c = make(f, &p);
    if (!ok(c != NULL, "truncation: classifier made (n_ctx 96)")) return;
    char *long_text = make_text(99, 400);
    const char *rows[4] = { long_text, "", texts[0], "short é text ü" };
    size_t lens[4] = { strlen(long_text), 0, strlen(texts[0]), strlen(rows[3]) };
    llp_classify_result res[4] = { 0 }, plain = { 0 };
    llp_err err;
    int rc = llp_classify_rows(c, rows, lens, 4, res, &err);
    if (ok(rc == 0, "truncation: rows scored")) {
        const int32_t *ids;
        int longest = 0;
        for (int l = 0; l < 4; l++) {
            int k = llp_classifier_label_tokens(c, l, &ids);
            if (k > longest) longest = k;
        }
        ok(res[0].truncated && !res[2].truncated && !res[3].truncated,
           "truncation: only the long text is flagged");
        ok(res[0].n_prompt + longest - 1 <= 96 && res[0].n_prompt + longest + 8 > 96,
           "truncation: prompt + label fills the context (%d + %d - 1 of 96)", res[0].n_prompt,
           longest);
        ok(res[1].error && strcmp(res[1].error, "empty text") == 0 && res[1].label == -1,
           "empty text: a per-row error, others unaffected");
        check_distribution(res, 4, 4, "truncation");
        rc = llp_classify_plain(c, long_text, lens[0], &plain, &err);
        ok(rc == 0 && plain.truncated && plain.n_prompt == res[0].n_prompt &&
               max_prob_diff(&plain, &res[0], 1, 4) <= 1e-4,
           "truncation: plain path cuts the same way and agrees");
    }
    ok(llp_classify_rows(c, rows, lens, 5, res, &err) == -1 && strstr(err.msg, "rows"),
       "more rows than the classifier takes: refused (%s)", err.msg);
    free_results(res, 4);
    llp_classify_result_free(&plain);
    free(long_text);
    llp_classifier_free(c);

    p.n_ctx = 24;
    p.prompt_template = "A long preamble that takes many many tokens of the tiny context "
                        "window here {labels}: {text}";
    c = llp_classifier_new(f->model, f->tok, NULL, &p, &err);
    ok(!c && strstr(err.msg, "context holds 24"), "a template larger than the context: refused "
       "(%s)", c ? "" : err.msg);
    llp_classifier_free(c);
}

int main(void)
{
    const char *base = getenv("LLP_TMP") ? getenv("LLP_TMP") : "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/classify_scoring.XXXXXX", base);
    if (!mkdtemp(tmpdir)) skip_all("cannot make a temporary directory");

    enum { N_TEXTS = 48 };
    char *texts[N_TEXTS];
    for (int i = 0; i < N_TEXTS; i++) texts[i] = make_text(i, 3 + (i * 7) % 40);

    test_labels_and_templates();

    fixture tiny = { 0 };
    if (!ok(open_model("tiny", LLP_F32, false, &tiny) == 0, "tiny F32 model written"))
        return done_testing();
    /* single-token, two-token and long labels; "negative" and "neutral" share "▁n" */
    const char *four[] = { "a", "bad", "negative", "neutral" };
    llp_classify_params probe = { .labels = four, .n_labels = 4, .chat = 0, .n_threads = 1 };
    llp_classifier *c = make(&tiny, &probe);
    if (c) {
        const int32_t *a, *b, *n1, *n2;
        int ka = llp_classifier_label_tokens(c, 0, &a), kb = llp_classifier_label_tokens(c, 1, &b);
        int k1 = llp_classifier_label_tokens(c, 2, &n1), k2 = llp_classifier_label_tokens(c, 3, &n2);
        ok(ka == 1 && kb == 2 && k1 > 2 && k2 > 2, "labels of 1, 2 and more tokens (%d %d %d %d)",
           ka, kb, k1, k2);
        ok(n1[0] == n2[0] && n1[1] == n2[1], "two labels share their first tokens");
    }
    llp_classifier_free(c);

    check_paths(&tiny, "tiny, 4 labels", four, 4, NULL, NULL, 0, 0, texts, N_TEXTS);
    /* labels of equal length keep the probabilities away from 0 and 1, so
     * the comparisons have teeth; "ok" and "okay" share two tokens */
    const char *even[] = { "ok", "okay", "go", "bad" };
    check_paths(&tiny, "tiny, even labels", even, 4, NULL, NULL, 0, 0, texts, N_TEXTS);
    const char *three[] = { "positive", "negative", "neutral" };
    check_paths(&tiny, "tiny, 3 labels, custom template", three, 3,
                "{examples}Review of the product below.\nReview: {text}\nVerdict ({labels}):",
                NULL, 0, 0, texts, 24);
    char shots[700];
    snprintf(shots, sizeof shots, "%s/few.csv", tmpdir);
    FILE *fp = fopen(shots, "w");
    fputs("id,text,label\n1,\"great, quick, \"\"good\"\"\",positive\n2,\"slow\nbad\",negative\n"
          "3,ok i guess,neutral\n", fp);
    fclose(fp);
    check_paths(&tiny, "tiny, few-shot", three, 3, NULL, shots, 0, 0, texts, 24);
    check_paths(&tiny, "tiny, chat", three, 3, NULL, NULL, 0, 1, texts, 16);
    test_rendering(&tiny);
    test_truncation_and_errors(&tiny, texts, N_TEXTS);
    close_model(&tiny);

    fixture small = { 0 };
    if (ok(open_model("small", LLP_Q8_0, false, &small) == 0, "small Q8_0 model written")) {
        check_paths(&small, "small Q8_0, 4 labels", four, 4, NULL, NULL, 0, 0, texts, 20);
        check_paths(&small, "small Q8_0, even labels", even, 4, NULL, NULL, 0, 0, texts, 20);
        close_model(&small);
    }

    for (int i = 0; i < N_TEXTS; i++) free(texts[i]);
    char cmd[800];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) diag("could not remove %s", tmpdir);
    return done_testing();
}
