/*
 * generate_stop.c — a stop request (Ctrl-C) ends a generation at the next
 * token, not at the end of its budget: hooks.should_stop is polled before
 * every token, the call returns LLP_GEN_STOPPED with no result, and the
 * generator works normally afterwards.
 *
 * Not for: how the batch loop turns the stop into an exit code
 * (tests/batch_signals.c) or the summarizer's use of it
 * (tests/cli_summarize.t).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "generate.h"
#include "quant.h"
#include "synth.h"
#include "tap.h"

static llp_tokens generated;    /* ids_out of the current call */
static size_t stop_after;       /* should_stop turns true at this many tokens */
static int polls, polls_after_true;
static bool said_stop;

static bool stop_after_tokens(void)
{
    polls++;
    if (said_stop) polls_after_true++;
    said_stop = generated.n >= stop_after;
    return said_stop;
}

int main(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/generate_stop_%d.gguf", tmp_dir(), (int)getpid());
    llp_synth_spec spec = { 0 };
    llp_synth_shape("tiny", &spec);
    spec.type = LLP_F32;
    spec.output_type = LLP_TYPE_COUNT;
    spec.seed = 3;
    llp_err err;
    if (llp_synth_write(&spec, path, &err)) {
        diag("%s", err.msg);
        ok(0, "synthetic model written");
        return done_testing();
    }
    llp_engine_opts eo = { .model_path = path, .n_ctx = 256, .n_threads = 1 };
    llp_engine *e = llp_engine_open(&eo, &err);
    unlink(path);
    if (!ok(e != NULL, "synthetic model opens")) {
        diag("%s", err.msg);
        return done_testing();
    }
    llp_gen_params p = { 0 };
    p.n_predict = 64;
    p.chat = LLP_CHAT_NONE;
    llp_generator *g = llp_generator_new(e->ctx, e->tok, &p);
    const char prompt[] = "Once upon a time";

    llp_gen_hooks plain = { .ids_out = &generated };
    llp_gen_result full;
    int rc = llp_generate_text(g, prompt, strlen(prompt), &plain, &full, &err);
    ok(rc == 0 && full.tokens_out > 8, "without a stop request: %d tokens", full.tokens_out);
    int full_tokens = full.tokens_out;
    char *full_text = llp_strndup(full.text, full.len);
    llp_gen_result_free(&full);

    generated.n = 0;
    stop_after = 5;
    llp_gen_hooks hooks = { .ids_out = &generated, .should_stop = stop_after_tokens };
    llp_gen_result r;
    rc = llp_generate_text(g, prompt, strlen(prompt), &hooks, &r, &err);
    is_int(rc, LLP_GEN_STOPPED, "a stop request returns LLP_GEN_STOPPED");
    is_int(generated.n, 5, "the generation stops at the next token (5 of %d)", full_tokens);
    is_int(polls_after_true, 0, "nothing runs after the request is seen");
    ok(r.text == NULL && r.tokens_out == 0, "a stopped generation has no result");

    generated.n = 0;
    stop_after = 0;
    said_stop = false;
    polls = 0;
    rc = llp_generate_text(g, prompt, strlen(prompt), &hooks, &r, &err);
    ok(rc == LLP_GEN_STOPPED && generated.n == 0 && polls == 1,
       "a request before the prompt is computed: no token at all");

    generated.n = 0;
    rc = llp_generate_text(g, prompt, strlen(prompt), &plain, &r, &err);
    ok(rc == 0 && r.len == strlen(full_text) && memcmp(r.text, full_text, r.len) == 0,
       "the generator is unharmed: the next call gives the full completion again");
    llp_gen_result_free(&r);

    free(full_text);
    llp_tokens_free(&generated);
    llp_generator_free(g);
    llp_engine_free(e);
    return done_testing();
}
