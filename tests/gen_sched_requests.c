/*
 * gen_sched_requests.c — the scheduler's per-request parameters and
 * llp_gen_sched_cancel_tag (gen_sched.h), which llp-serve relies on: three
 * requests with their own n_predict, sampling and stop strings decoded
 * together give exactly what each gives alone; cancelling one mid-way frees
 * its slot at once and leaves the others' answers unchanged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "gen_sched.h"
#include "quant.h"
#include "synth.h"
#include "tap.h"

static llp_gen_params params_of(int k, const char *const *stop)
{
    llp_gen_params p = { .sampling = llp_sampling_default(), .n_predict = 6 + 5 * k };
    p.sampling.temp = k == 1 ? 0.9f : 0;
    if (k == 2) {
        p.stop = stop;
        p.n_stop = 1;
    }
    return p;
}

typedef struct answer {
    char text[4096];
    int tokens_out;
    char stop[16];
} answer;

/* Run requests ks[0..n) together; cancel request `cancel` (-1: none) after
 * `after` passes. Fills out[k]. Returns the free slots seen right after the
 * cancel (-1 when none). */
static int run(llp_engine *e, const int *ks, int n, int cancel, int after, answer *out)
{
    static const char *const stop[] = { " " };
    llp_gen_params base = params_of(0, NULL);
    llp_gen_sched *s = llp_gen_sched_new(e->ctx, e->tok, &base);
    llp_gen_params ps[3];
    llp_tokens ids[3] = { { 0 } };
    llp_err err;
    for (int i = 0; i < n; i++) {
        int k = ks[i];
        ps[k] = params_of(k, stop);
        char prompt[64];
        snprintf(prompt, sizeof prompt, "prompt number %d says", k);
        llp_tokenize(e->tok, prompt, strlen(prompt), true, false, &ids[k], &err);
        llp_gen_request r = { ids[k].ids, (int)ids[k].n, 0, 100 + (uint64_t)k, NULL,
                              (void *)(intptr_t)(k + 1), &ps[k] };
        if (llp_gen_sched_submit(s, &r, &err)) diag("submit: %s", err.msg);
    }
    int passes = 0, free_after = -1;
    while (llp_gen_sched_n_active(s) > 0 && passes < 200) {
        if (passes == after && cancel >= 0) {
            int before = llp_gen_sched_n_free(s);
            ok(llp_gen_sched_cancel_tag(s, (void *)(intptr_t)(cancel + 1)) == 1,
               "cancel_tag finds the request");
            free_after = llp_gen_sched_n_free(s) - before;
        }
        if (llp_gen_sched_step(s, &err)) diag("step: %s", err.msg);
        passes++;
        void *tag;
        llp_gen_result res;
        while (llp_gen_sched_take(s, &tag, &res)) {
            answer *a = &out[(intptr_t)tag - 1];
            snprintf(a->text, sizeof a->text, "%s", res.text);
            a->tokens_out = res.tokens_out;
            snprintf(a->stop, sizeof a->stop, "%s", res.stop);
            llp_gen_result_free(&res);
        }
    }
    for (int k = 0; k < 3; k++) llp_tokens_free(&ids[k]);
    llp_gen_sched_free(s);
    return free_after;
}

int main(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/gen_sched_requests.gguf", tmp_dir());
    llp_synth_spec spec = { 0 };
    llp_synth_shape("tiny", &spec);
    spec.type = LLP_Q8_0;
    spec.output_type = LLP_TYPE_COUNT;
    spec.seed = 11;
    llp_err err;
    if (llp_synth_write(&spec, path, &err)) {
        ok(0, "model written: %s", err.msg);
        return done_testing();
    }
    llp_engine_opts eo = { .model_path = path, .n_ctx = 128, .n_seq = 3, .n_threads = 1 };
    llp_engine *e = llp_engine_open(&eo, &err);
    if (!ok(e != NULL, "engine with 3 sequences")) return done_testing();

    static answer alone[3], together[3], cut[3];
    for (int k = 0; k < 3; k++) run(e, &k, 1, -1, 0, alone);
    ok(alone[0].tokens_out == 6 && !strcmp(alone[0].stop, "length"),
       "request 0 keeps its own n_predict (6 tokens, got %d)", alone[0].tokens_out);
    ok(alone[1].tokens_out == 11 || !strcmp(alone[1].stop, "eos"),
       "request 1 keeps its own n_predict (11, got %d)", alone[1].tokens_out);
    ok(!strcmp(alone[2].stop, "stop-string") && strchr(alone[2].text, ' ') == NULL,
       "request 2's own stop string (a space) ends its text before it (%s, '%s')", alone[2].stop,
       alone[2].text);
    int all[3] = { 0, 1, 2 };
    run(e, all, 3, -1, 0, together);
    for (int k = 0; k < 3; k++)
        ok(!strcmp(alone[k].text, together[k].text) && alone[k].tokens_out == together[k].tokens_out,
           "request %d decoded with the others: the same answer as alone", k);
    int freed = run(e, all, 3, 1, 2, cut);
    ok(freed == 1, "cancelling request 1 frees its slot at once (%d freed)", freed);
    ok(cut[1].tokens_out == 0, "nothing of the cancelled request is returned");
    ok(!strcmp(cut[0].text, alone[0].text) && !strcmp(cut[2].text, alone[2].text),
       "the other requests' answers are unchanged");
    llp_engine_free(e);
    return done_testing();
}
