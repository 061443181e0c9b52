/*
 * cli_jobs.c — bin/llp-jobs end to end: list (text, jsonl, csv), show,
 * export (full records or --added, a pipeline job's last step), records with
 * duplicate ids (each its own item, through shards and merges), merge of
 * shard stores (twice: idempotent), gc, and its errors and exit codes. The stores are filled by the fake tool of batch_fake.h, so
 * this test needs no model and no other binary.
 *
 * Not for: the store API itself (store_schema.c) or the batch loop
 * (store_cache.c).
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "batch_fake.h"
#include "tap.h"

static char dir[1024], in[1200], bin[1024];

/* Run `llp-jobs ARGS` through the shell; stdout into *out (malloc'd),
 * stderr into *err_text; returns the exit code. */
static int jobs(char **out, char **err_text, const char *args)
{
    char cmd[4096], o[1300], e[1300];
    snprintf(o, sizeof o, "%s/stdout", dir);
    snprintf(e, sizeof e, "%s/stderr", dir);
    snprintf(cmd, sizeof cmd, "'%s/llp-jobs' %s >'%s' 2>'%s'", bin, args, o, e);
    int status = system(cmd);
    if (out) *out = slurp(o);
    if (err_text) {
        *err_text = slurp(e);
        for (char *c = *err_text; *c; c++)
            if (*c == '\n') *c = ' ';
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ok() that the strings are equal, showing both when they are not. */
static int same_text(const char *got, const char *want, const char *name)
{
    int same = got && strcmp(got, want) == 0;
    if (!same) diag("got:  '%s'\n# want: '%s'", got ? got : "(null)", want);
    return ok(same, "%s", name);
}

static int count_char(const char *s, char c)
{
    int n = 0;
    for (; *s; s++) n += *s == c;
    return n;
}

static void test_list_show_export(const char *db)
{
    char args[2048], *out, *err;
    snprintf(args, sizeof args, "--db '%s' list --out jsonl", db);
    is_int(jobs(&out, &err, args), 0, "list --out jsonl exits 0");
    is_int(count_char(out, '\n'), 2, "one line per job");
    const char *keys[] = { "id", "tool", "status", "started_at", "finished_at",
                           "n_items", "n_cached", "n_failed", "tokens_in",
                           "tokens_out" };
    char *line = strtok(out, "\n");
    json_t *first = line ? json_loads(line, 0, NULL) : NULL;
    int have_all = first != NULL;
    for (size_t i = 0; first && i < sizeof keys / sizeof *keys; i++)
        if (!json_object_get(first, keys[i])) {
            diag("missing key %s", keys[i]);
            have_all = 0;
        }
    ok(have_all, "each job object has id, tool, status, times, counts, tokens");
    ok(first && json_integer_value(json_object_get(first, "n_items")) == 10 &&
           json_integer_value(json_object_get(first, "n_failed")) == 2 &&
           strcmp(json_string_value(json_object_get(first, "status")),
                  "partial") == 0,
       "first job: 10 items, 2 failed, partial");
    json_decref(first);
    free(out);
    free(err);

    snprintf(args, sizeof args, "--db '%s' list", db);
    jobs(&out, NULL, args);
    ok(strncmp(out, "ID", 2) == 0 && strstr(out, "STATUS") &&
           strstr(out, "partial") && count_char(out, '\n') == 3,
       "list defaults to a text table with a header");
    free(out);

    snprintf(args, sizeof args, "--db '%s' list --out csv", db);
    jobs(&out, NULL, args);
    ok(strncmp(out, "id,uuid,tool,parent_job,status,", 31) == 0 &&
           count_char(out, '\n') == 3,
       "list --out csv: header and one row per job");
    free(out);

    snprintf(args, sizeof args, "--db '%s' show 1", db);
    is_int(jobs(&out, NULL, args), 0, "show 1 exits 0");
    ok(strstr(out, "argv") && strstr(out, "llp-fake") && strstr(out, "params")
           && strstr(out, "fake-model-fp"),
       "show prints argv, params and the model");
    free(out);

    snprintf(args, sizeof args, "--db '%s' show last --out jsonl", db);
    jobs(&out, NULL, args);
    json_t *last = json_loads(out, 0, NULL);
    ok(last && json_integer_value(json_object_get(last, "id")) == 2 &&
           json_integer_value(json_object_get(last, "n_cached")) == 8,
       "show last --out jsonl: the newest job, 8 cached");
    json_decref(last);
    free(out);

    snprintf(args, sizeof args, "--db '%s' export 1", db);
    is_int(jobs(&out, NULL, args), 0, "export exits 0");
    ok(count_char(out, '\n') == 10 && strstr(out, "\"upper\":\"RECORD NUMBER 1\"")
           && strstr(out, "\"error\""),
       "export gives every record with its outputs and errors");
    ok(strstr(out, "\"id\":\"r1\"") < strstr(out, "\"id\":\"r10\""),
       "export keeps input order");
    free(out);

    snprintf(args, sizeof args, "--db '%s' export 1", db);
    jobs(&out, NULL, args);
    const char *want = "{\"id\":\"r1\",\"text\":\"record number 1\",\"upper\":"
                        "\"RECORD NUMBER 1\",\"len\":15}\n";
    ok(strncmp(out, want, strlen(want)) == 0,
       "export gives the record as the tool wrote it: input fields, then "
       "the added ones");
    free(out);

    snprintf(args, sizeof args, "--db '%s' export 2 --out csv", db);
    jobs(&out, NULL, args);
    ok(strncmp(out, "id,text,upper,len,error\n", 24) == 0 &&
           strstr(out, "\nr2,record number 2,RECORD NUMBER 2,15,\n") &&
           count_char(out, '\n') == 11,
       "export --out csv: the input columns, then those of every item, error "
       "last");
    free(out);

    snprintf(args, sizeof args, "--db '%s' export 2 --added --out csv", db);
    jobs(&out, NULL, args);
    ok(strncmp(out, "id,upper,len,error\n", 19) == 0 &&
           count_char(out, '\n') == 11,
       "export --added: only the id, the added fields and error");
    free(out);

    snprintf(args, sizeof args, "--db '%s' --added list", db);
    is_int(jobs(NULL, &err, args), 2, "--added with list is a usage error");
    ok(strstr(err, "--added is an option of export, not of: list") != NULL,
       "and says so: %s", err);
    free(err);
}

/* Item 3 of issue 17: records with the same id are each their own item. */
static void test_duplicate_ids(void)
{
    char csv[1300], db[1300], out_path[1300], args[4096], *out, *err;
    snprintf(csv, sizeof csv, "%s/dups.csv", dir);
    snprintf(db, sizeof db, "%s/dups.db", dir);
    snprintf(out_path, sizeof out_path, "%s/dups.out", dir);
    FILE *f = fopen(csv, "w");
    fputs("id,text\n1,same text\n1,same text\n1,other text\n2,more\n", f);
    fclose(f);
    const char *run[] = { "--db", db, "-q", csv, NULL };
    fake_tool t = { 0 };
    is_int(fake_run(&t, 4, out_path, NULL, run), 0, "duplicate ids: the run exits 0");
    is_int(db_int(db, "SELECT n_items FROM jobs"), 4,
           "duplicate ids: the job counts 4 records");
    is_int(db_int(db, "SELECT count(*) FROM items"), 4,
           "duplicate ids: 4 items, one per input record, repeats included");
    is_int(db_int(db, "SELECT group_concat(ordinal, '') FROM items"), 1234,
           "duplicate ids: each item has its record's position");
    snprintf(args, sizeof args, "--db '%s' export last --out csv", db);
    is_int(jobs(&out, NULL, args), 0, "duplicate ids: export exits 0");
    same_text(out, "id,text,upper,len,error\n1,same text,SAME TEXT,9,\n"
                "1,same text,SAME TEXT,9,\n1,other text,OTHER TEXT,10,\n"
                "2,more,MORE,4,\n",
           "duplicate ids: export gives every record, in input order");
    free(out);

    /* A second run takes every record from the cache and still records each. */
    fake_tool t2 = { 0 };
    fake_run(&t2, 4, out_path, NULL, run);
    is_int(db_int(db, "SELECT count(*) FROM items WHERE job_id = 2"), 4,
           "duplicate ids: a cached re-run records 4 items too");

    /* Shards of the same input, merged: every record kept, once. */
    char s0[1300], s1[1300], all[1300];
    snprintf(s0, sizeof s0, "%s/dups0.db", dir);
    snprintf(s1, sizeof s1, "%s/dups1.db", dir);
    snprintf(all, sizeof all, "%s/dupsall.db", dir);
    const char *r0[] = { "--db", s0, "-q", "--shard", "0/2", csv, NULL };
    const char *r1[] = { "--db", s1, "-q", "--shard", "1/2", csv, NULL };
    fake_tool f0 = { 0 }, f1 = { 0 };
    fake_run(&f0, 4, out_path, NULL, r0);
    fake_run(&f1, 4, out_path, NULL, r1);
    snprintf(args, sizeof args, "merge '%s' '%s' '%s'", all, s0, s1);
    is_int(jobs(NULL, &err, args), 0, "duplicate ids: merging the shards exits 0");
    free(err);
    is_int(db_int(all, "SELECT count(*) FROM items"), 4,
           "duplicate ids: the merged shards hold every record");
    is_int(db_int(all, "SELECT sum(n_items) FROM jobs"), 4,
           "duplicate ids: job counts equal the items");
    is_int(jobs(NULL, &err, args), 0, "duplicate ids: merging again exits 0");
    ok(strstr(err, "0 jobs, 0 items") != NULL,
       "duplicate ids: merging again adds nothing: %s", err);
    free(err);
    is_int(db_int(all, "SELECT count(*) FROM items"), 4,
           "duplicate ids: still 4 items after the second merge");
}

/* Item 10 of issue 17: a pipeline job's export is its last step's records. */
static void test_pipeline_export(void)
{
    char db[1300], args[4096], *out, *err;
    snprintf(db, sizeof db, "%s/pipe.db", dir);
    llp_err e;
    llp_store *s = llp_store_open(db, &e);
    llp_job_spec pipe = { "pipeline:demo", 0, 0, NULL, NULL, 0 };
    int64_t pj = llp_store_job_begin(s, &pipe, &e);
    llp_job_spec step1 = { "tokenize", pj, 0, NULL, NULL, 0 };
    llp_job_spec step2 = { "classify", pj, 0, NULL, NULL, 0 };
    int64_t j1 = llp_store_job_begin(s, &step1, &e);
    int64_t j2 = llp_store_job_begin(s, &step2, &e);
    llp_job_spec other = { "tokenize", 0, 0, NULL, NULL, 0 };
    llp_store_job_begin(s, &other, &e);   /* a later unrelated job */
    const char *ids[] = { "a", "b" };
    for (int i = 0; i < 2; i++) {
        llp_cache_key key = { "tokenize", "", "p", "" };
        llp_hash128(ids[i], 1, key.input_hash);
        json_t *in1 = json_pack("{s:s,s:s}", "id", ids[i], "text", "words");
        json_t *o1 = json_pack("{s:i}", "n_tokens", 2);
        llp_item it1 = { .record_id = ids[i], .output = o1, .ordinal = i + 1,
                         .input = in1 };
        llp_store_item_put(s, j1, &key, &it1, &e);
        key.task = "classify";
        json_t *in2 = json_pack("{s:s,s:s,s:i}", "id", ids[i], "text", "words",
                                "n_tokens", 2);
        json_t *o2 = json_pack("{s:s}", "label", "ok");
        llp_item it2 = { .record_id = ids[i], .output = o2, .ordinal = i + 1,
                         .input = in2 };
        llp_store_item_put(s, j2, &key, &it2, &e);
        json_decref(in1);
        json_decref(o1);
        json_decref(in2);
        json_decref(o2);
    }
    /* An item of another task in the job (as a summarize job's chunk
     * summaries) is not one of its records. */
    llp_cache_key chunk = { "classify-chunk", "", "p", "" };
    llp_hash128("c", 1, chunk.input_hash);
    json_t *oc = json_pack("{s:s}", "summary", "part");
    llp_item ic = { .record_id = "a#L1.0", .output = oc };
    llp_store_item_put(s, j2, &chunk, &ic, &e);
    json_decref(oc);
    llp_store_close(s);
    snprintf(args, sizeof args, "--db '%s' export %lld", db, (long long)pj);
    is_int(jobs(&out, &err, args), 0, "pipeline export exits 0");
    same_text(out, "{\"id\":\"a\",\"text\":\"words\",\"n_tokens\":2,\"label\":\"ok\"}\n"
                "{\"id\":\"b\",\"text\":\"words\",\"n_tokens\":2,\"label\":\"ok\"}\n",
           "pipeline export: the last step's records, with every field the "
           "steps added, and no item of another task");
    ok(strstr(err, "job 1 is a pipeline: exporting its last step, job 3") != NULL,
       "pipeline export says which step job it exports: %s", err);
    free(out);
    free(err);
    snprintf(args, sizeof args, "--db '%s' -q export %lld", db, (long long)pj);
    jobs(NULL, &err, args);
    same_text(err, "", "pipeline export -q: no note");
    free(err);
}

static void test_merge(void)
{
    char a[1300], b[1300], all[1300], args[4096], *out, *err;
    snprintf(a, sizeof a, "%s/shard0.db", dir);
    snprintf(b, sizeof b, "%s/shard1.db", dir);
    snprintf(all, sizeof all, "%s/all.db", dir);
    const char *s0[] = { "--db", a, "-q", "--shard", "0/2", in, NULL };
    const char *s1[] = { "--db", b, "-q", "--shard", "1/2", in, NULL };
    fake_tool f = { 0 }, g = { 0 };
    char out_path[1300];
    snprintf(out_path, sizeof out_path, "%s/o.jsonl", dir);
    fake_run(&f, 1, out_path, NULL, s0);
    fake_run(&g, 1, out_path, NULL, s1);

    snprintf(args, sizeof args, "merge '%s' '%s' '%s'", all, a, b);
    is_int(jobs(NULL, &err, args), 0, "merge exits 0");
    ok(strstr(err, "1 jobs") != NULL, "merge reports what it added: %s", err);
    free(err);
    is_int(db_int(all, "SELECT count(*) FROM jobs"), 2, "merged: both jobs");
    is_int(db_int(all, "SELECT count(*) FROM items"), 10,
           "merged: every item of both shards");
    is_int(db_int(all, "SELECT count(DISTINCT job_id) FROM items"), 2,
           "merged items point at the remapped jobs");
    is_int(db_int(all, "SELECT count(*) FROM models"), 1,
           "one model, deduplicated by fingerprint");
    is_int(db_int(all, "SELECT count(*) FROM jobs j JOIN models m"
                       " ON m.id = j.model_id"), 2,
           "merged jobs point at the merged model");

    is_int(jobs(NULL, &err, args), 0, "merging again exits 0");
    ok(strstr(err, "0 jobs, 0 items") != NULL, "merging again adds nothing");
    free(err);
    is_int(db_int(all, "SELECT count(*) FROM items"), 10,
           "merge is idempotent: still 10 items");
    is_int(db_int(all, "SELECT count(*) FROM items_fts"), 8,
           "merged computed outputs are searchable");

    snprintf(args, sizeof args, "--db '%s' list --out jsonl", all);
    jobs(&out, NULL, args);
    is_int(count_char(out, '\n'), 2, "list works on the merged store");
    free(out);

    snprintf(args, sizeof args, "merge '%s' '%s/missing.db'", all, dir);
    is_int(jobs(NULL, &err, args), 1, "merging a missing store exits 1");
    ok(strstr(err, "missing.db") != NULL, "and names it: %s", err);
    free(err);
}

static void test_gc(const char *db)
{
    /* A job left running by a killed process. */
    const char *args_run[] = { "--db", db, "-q", "--no-cache", in, NULL };
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        fake_tool f = { 0 };
        f.sleep_ms = 200;
        char o[1300];
        snprintf(o, sizeof o, "%s/killed.jsonl", dir);
        _exit(fake_run(&f, 1, o, NULL, args_run));
    }
    struct timespec ts = { 0, 300 * 1000000L };
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    is_int(db_int(db, "SELECT count(*) FROM jobs WHERE status = 'running'"), 1,
           "a killed run leaves its job running");

    /* A failed item later superseded by a success of the same key. */
    llp_err e;
    llp_store *s = llp_store_open(db, &e);
    llp_job_spec spec = { "fake", 0, 0, NULL, NULL, 0 };
    int64_t j1 = llp_store_job_begin(s, &spec, &e);
    int64_t j2 = llp_store_job_begin(s, &spec, &e);
    llp_cache_key key = { "fake", "m", "p", "" };
    llp_hash128("x", 1, key.input_hash);
    llp_item bad = { .record_id = "x", .error = "x: transient failure" };
    json_t *o = json_pack("{s:s}", "upper", "X");
    llp_item good = { .record_id = "x", .output = o };
    llp_store_item_put(s, j1, &key, &bad, &e);
    llp_store_item_put(s, j2, &key, &good, &e);
    json_decref(o);
    llp_job_counts c = { 1, 0, 0, 0, 0, 0 };
    llp_store_job_update(s, j1, LLP_JOB_PARTIAL, &c, &e);
    llp_store_job_update(s, j2, LLP_JOB_DONE, &c, &e);
    llp_store_close(s);
    long long before = db_int(db, "SELECT count(*) FROM items WHERE error"
                                  " IS NOT NULL");

    char args[2048], *err;
    snprintf(args, sizeof args, "--db '%s' gc", db);
    is_int(jobs(NULL, &err, args), 0, "gc exits 0");
    ok(strstr(err, "rows deleted") != NULL, "gc reports: %s", err);
    free(err);
    is_int(db_int(db, "SELECT count(*) FROM jobs WHERE status = 'running'"), 0,
           "gc marks jobs of dead processes interrupted");
    is_int(db_int(db, "SELECT count(*) FROM items WHERE error IS NOT NULL"),
           before - 1, "gc drops the failed item a later success superseded");
    is_int(db_int(db, "SELECT count(*) FROM items WHERE record_id = 'x'"), 1,
           "gc keeps the success");
}

static void test_errors(const char *db)
{
    char args[2048], *out, *err;
    snprintf(args, sizeof args, "--db '%s' show 99", db);
    is_int(jobs(NULL, &err, args), 1, "show of a missing job exits 1");
    ok(strstr(err, "llp-jobs: error:") && strstr(err, "no job 99"),
       "and says so: %s", err);
    free(err);
    snprintf(args, sizeof args, "--db '%s/none.db' list", dir);
    is_int(jobs(NULL, &err, args), 1, "a missing store exits 1");
    ok(strstr(err, "none.db") != NULL, "naming it: %s", err);
    free(err);
    snprintf(args, sizeof args, "--db '%s/none.db' list", dir);
    char none[1300];
    snprintf(none, sizeof none, "%s/none.db", dir);
    ok(access(none, F_OK) != 0, "listing does not create a store");
    snprintf(args, sizeof args, "--db '%s' frobnicate", db);
    is_int(jobs(NULL, NULL, args), 2, "an unknown command exits 2");
    snprintf(args, sizeof args, "--db '%s' show", db);
    is_int(jobs(NULL, NULL, args), 2, "show without JOB exits 2");
    snprintf(args, sizeof args, "--db '%s' list --out yaml", db);
    is_int(jobs(NULL, NULL, args), 2, "a bad --out exits 2");
    is_int(jobs(NULL, NULL, ""), 2, "no command exits 2");
    is_int(jobs(&out, NULL, "--help"), 0, "--help exits 0");
    ok(strstr(out, "Examples") && strstr(out, "merge OUT IN"),
       "--help shows the commands and examples");
    free(out);
}

int main(void)
{
    const char *b = getenv("LLP_BIN");
    if (!b || !*b) skip_all("LLP_BIN not set (run via make test)");
    snprintf(bin, sizeof bin, "%s", b);
    snprintf(dir, sizeof dir, "%s/cli_jobs.XXXXXX", tmp_dir());
    if (!mkdtemp(dir)) {
        printf("1..1\nnot ok 1 - mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    snprintf(in, sizeof in, "%s/in.jsonl", dir);
    FILE *f = fopen(in, "w");
    for (int i = 1; i <= 10; i++)
        fprintf(f, "{\"id\":\"r%d\",\"text\":\"%s %d\"}\n", i,
                i == 4 || i == 7 ? "FAIL" : "record number", i);
    fclose(f);

    char db[1300], out[1300];
    snprintf(db, sizeof db, "%s/jobs.db", dir);
    snprintf(out, sizeof out, "%s/o.jsonl", dir);
    const char *args[] = { "--db", db, "-q", in, NULL };
    fake_tool t1 = { 0 }, t2 = { 0 };
    fake_run(&t1, 1, out, NULL, args);
    fake_run(&t2, 1, out, NULL, args);

    test_list_show_export(db);
    test_duplicate_ids();
    test_pipeline_export();
    test_merge();
    test_errors(db);
    test_gc(db);
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) diag("could not remove %s", dir);
    return done_testing();
}
