/*
 * fuzz_yaml.c — libFuzzer harness for the YAML pipeline loader: any bytes
 * given to llp_pipeline_load either become a plan whose every step has a
 * command line, whose shell pipeline and dry-run plan can be printed, or
 * are refused with at least one problem, each with a message; never a
 * crash, a leak or undefined behaviour.
 *
 * Not for: running pipelines (tests of llp-run do that with real models) or
 * the exact wording of problems (tests of the loader).
 */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "pipeline.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* Pipelines expand ${LLP_MODEL}; give it a value so that both branches
     * of ${VAR:-default} are reachable. */
    setenv("LLP_MODEL", "/nonexistent/model.gguf", 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_bytes_path(data, size);
    llp_pipeline_problems problems = {0};
    llp_pipeline *p = llp_pipeline_load(path, &problems);
    FILE *sink = fuzz_null_stream();
    if (!p) {
        if (problems.n == 0) abort();
        for (int i = 0; i < problems.n; i++)
            if (!problems.items[i].message) abort();
    } else {
        llp_pipeline_run_opts o = {.shard_n = 1};
        for (int i = 0; i < p->n_steps; i++) {
            int argc = 0;
            char **argv = llp_pipeline_step_argv(p, &o, i, &argc);
            if (!argv) abort();
            llp_pipeline_words_free(argv, argc);
        }
        free(llp_pipeline_shell(p, &o));
        llp_pipeline_print_plan(p, &o, sink);
        llp_pipeline_check_files(p, sink);
        llp_pipeline_free(p);
    }
    llp_pipeline_problems_print(&problems, path, sink);
    llp_pipeline_problems_free(&problems);
    return 0;
}
