/*
 * fuzz_regressions.c — every input the fuzzers (tests/fuzz/) found a crash,
 * leak or undefined behaviour with, replayed through the public API it was
 * found in, with what the API must do with it. Run under `make test
 * SANITIZE=1` this catches the defect itself coming back; in a plain build
 * it still checks the result.
 *
 * Not for: the harnesses themselves or their seed corpora (make fuzz), or
 * hand-written malformed inputs (gguf_malformed.c, records_*.c).
 *
 * Each case names the harness, the date found, and the defect.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
#include "pipeline.h"
#include "synth.h"
#include "tap.h"

static char dir[4096];

static const char *write_input(const char *name, const char *bytes, size_t n)
{
    static char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(bytes, 1, n, f) != n || fclose(f) != 0) {
        printf("Bail out! cannot write %s\n", path);
        exit(1);
    }
    return path;
}

/* fuzz_yaml: a step with no options (`- tokenize:`) made the loader memcpy
 * from a NULL word list (UBSan: null pointer passed as argument 2,
 * pipeline_load.c). The file's other problems must still be reported. */
static void yaml_step_without_options(void)
{
    static const char input[] =
        "version: 0\ninput:\n  stdin: true\nsteps:\n  - tokenize:\n\ninput:\n  stdin:\n      b'adinds:nt\n";
    const char *path = write_input("step-without-options.yaml", input, sizeof input - 1);
    llp_pipeline_problems problems = {0};
    llp_pipeline *p = llp_pipeline_load(path, &problems);
    ok(p == NULL && problems.n > 0, "yaml: a step without options in a bad file: refused with %d problems",
       problems.n);
    llp_pipeline_free(p);
    llp_pipeline_problems_free(&problems);

    static const char valid[] =
        "version: 1\nmodel: m.gguf\ninput:\n  stdin: true\nsteps:\n  - tokenize:\n";
    path = write_input("step-without-options-valid.yaml", valid, sizeof valid - 1);
    p = llp_pipeline_load(path, &problems);
    ok(p && p->n_steps == 1 && p->steps[0].n_words == 0,
       "yaml: a step without options in a good file loads with no option words");
    for (int i = 0; !p && i < problems.n; i++) diag("%s", problems.items[i].message);
    llp_pipeline_free(p);
    llp_pipeline_problems_free(&problems);
}

/* fuzz_yaml: a top-level key that is not a scalar (a YAML complex key,
 * "? - embed: ...") reached the "did you mean" search as a NULL word
 * (UBSan: null pointer passed to strlen, pipeline_schema.c). */
static void yaml_complex_key(void)
{
    static const char input[] =
        "? - embed: {pooling: mean, normalize: l2, collection: docs}\n  - tokendetm\n";
    const char *path = write_input("complex-key.yaml", input, sizeof input - 1);
    llp_pipeline_problems problems = {0};
    llp_pipeline *p = llp_pipeline_load(path, &problems);
    ok(p == NULL && problems.n > 0, "yaml: a complex top-level key: refused with %d problems",
       problems.n);
    llp_pipeline_free(p);
    llp_pipeline_problems_free(&problems);
}

/* fuzz_gguf: a valid model file whose llama.block_count says 536870913
 * made the loader calloc that many layers (160 GB) before looking for their
 * tensors, and llp_calloc aborted: a crash on a bad file. The layer count
 * is now checked against the tensor table first. */
static void gguf_huge_block_count(void)
{
    llp_synth_spec spec = {.n_vocab = 260, .dim = 32, .n_layers = 1, .n_heads = 1,
                           .n_heads_kv = 1, .ffn_dim = 32, .n_ctx = 64, .type = 8 /* Q8_0 */,
                           .tied = true, .seed = 1};
    char path[4200];
    snprintf(path, sizeof path, "%s/block-count.gguf", dir);
    llp_err err = {{0}};
    if (!ok(llp_synth_write(&spec, path, &err) == 0, "gguf: a micro model is written")) {
        diag("%s", err.msg);
        return;
    }
    /* Patch the value after the key "llama.block_count" and its type. */
    FILE *f = fopen(path, "r+b");
    static char bytes[1 << 16];
    size_t n = f ? fread(bytes, 1, sizeof bytes, f) : 0;
    const char key[] = "llama.block_count";
    char *at = memmem(bytes, n, key, sizeof key - 1);
    uint32_t type = 0, huge = 536870913u;
    if (at) memcpy(&type, at + sizeof key - 1, 4);
    bool patched = at && (type == 4 || type == 5) && f &&
                   fseek(f, (long)(at - bytes) + (long)sizeof key - 1 + 4, SEEK_SET) == 0 &&
                   fwrite(&huge, 4, 1, f) == 1;
    if (f) fclose(f);
    if (!ok(patched, "gguf: llama.block_count patched to %u", huge)) return;
    llp_model *m = llp_model_load(path, &err);
    ok(m == NULL && strstr(err.msg, "llama.block_count 536870913 is more than the file's"),
       "gguf: a block count the tensor table cannot back is refused by name");
    diag("%s", err.msg);
    llp_model_free(m);
}

int main(void)
{
    const char *tmp = getenv("LLP_TMP");
    snprintf(dir, sizeof dir, "%s/fuzz_regressions.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        printf("Bail out! mkdtemp %s\n", dir);
        return 1;
    }
    yaml_step_without_options();
    yaml_complex_key();
    gguf_huge_block_count();
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) diag("could not remove %s", dir);
    return done_testing();
}
