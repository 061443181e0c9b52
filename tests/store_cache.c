/*
 * store_cache.c — cache and resume rules of the batch loop, with a fake
 * tool that counts what it computes: a second run computes nothing, one
 * changed input of 100 is the only one recomputed, failed records are
 * retried, --no-cache, params and --into change the key, batched process
 * calls keep input order, --shard partitions, --no-db, and job rows.
 *
 * Not for: signals, kills and pipes (batch_signals.c, batch_kill_resume.c)
 * or several processes (store_concurrency.c).
 */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch_fake.h"
#include "tap.h"

static char dir[1024], db[1200], in[1200], out1[1200], out2[1200];

static void paths(void)
{
    snprintf(db, sizeof db, "%s/cache.db", dir);
    snprintf(in, sizeof in, "%s/in.jsonl", dir);
    snprintf(out1, sizeof out1, "%s/out1.jsonl", dir);
    snprintf(out2, sizeof out2, "%s/out2.jsonl", dir);
}

static int lines_differing(const char *a, const char *b)
{
    char *x = slurp(a), *y = slurp(b);
    int diff = 0;
    char *sx, *sy;
    char *lx = strtok_r(x, "\n", &sx), *ly = strtok_r(y, "\n", &sy);
    while (lx || ly) {
        if (!lx || !ly || strcmp(lx, ly) != 0) diff++;
        lx = lx ? strtok_r(NULL, "\n", &sx) : NULL;
        ly = ly ? strtok_r(NULL, "\n", &sy) : NULL;
    }
    free(x);
    free(y);
    return diff;
}

static void test_second_run_and_one_change(void)
{
    write_input(in, 100, 0, NULL);
    const char *args[] = { "--db", db, "-q", in, NULL };
    fake_tool f = { 0 };
    is_int(fake_run(&f, 1, out1, NULL, args), 0, "first run exits 0");
    is_int(f.computed, 100, "first run computes all 100");
    is_int(count_lines(out1), 100, "first run writes 100 records");
    is_int(db_int(db, "SELECT n_items FROM jobs ORDER BY id DESC LIMIT 1"), 100,
           "job counts 100 items");
    char *st = db_text(db, "SELECT status FROM jobs ORDER BY id DESC LIMIT 1");
    ok(strcmp(st, "done") == 0, "job status done (%s)", st);
    free(st);
    is_int(db_int(db, "SELECT tokens_in FROM jobs ORDER BY id DESC LIMIT 1"),
           db_int(db, "SELECT sum(tokens_in) FROM items"),
           "job tokens_in is the sum over its items");

    fake_tool g = { 0 };
    is_int(fake_run(&g, 1, out2, NULL, args), 0, "second run exits 0");
    is_int(g.computed, 0, "second run recomputes nothing");
    is_int(lines_differing(out1, out2), 0,
           "second run's output is identical");
    is_int(db_int(db, "SELECT n_cached FROM jobs ORDER BY id DESC LIMIT 1"),
           100, "second job counts 100 cached");
    is_int(db_int(db, "SELECT count(*) FROM items WHERE cached = 1"), 100,
           "cached items are recorded as such");

    write_input(in, 100, 37, "a changed record");
    fake_tool h = { 0 };
    is_int(fake_run(&h, 1, out2, NULL, args), 0, "third run exits 0");
    is_int(h.computed, 1, "one changed input of 100: one recomputed");
    is_int(lines_differing(out1, out2), 1, "only that record's output differs");
    char *o = slurp(out2);
    ok(strstr(o, "A CHANGED RECORD") != NULL, "the changed record was computed");
    free(o);

    fake_tool k = { 0 };
    const char *nocache[] = { "--db", db, "-q", "--no-cache", in, NULL };
    fake_run(&k, 1, out2, NULL, nocache);
    is_int(k.computed, 100, "--no-cache recomputes everything");

    fake_tool p = { 0 };
    p.tag = "other params";
    fake_run(&p, 1, out2, NULL, args);
    is_int(p.computed, 100, "other params: a different cache key");

    fake_tool q = { 0 };
    const char *into[] = { "--db", db, "-q", "--into", "shout", in, NULL };
    fake_run(&q, 1, out2, NULL, into);
    is_int(q.computed, 100, "--into is part of the cache key");
}

static void test_failures_retried(void)
{
    char fin[1300], fdb[1300];
    snprintf(fin, sizeof fin, "%s/fail.jsonl", dir);
    snprintf(fdb, sizeof fdb, "%s/fail.db", dir);
    FILE *f = fopen(fin, "w");
    for (int i = 1; i <= 20; i++)
        fprintf(f, "{\"id\":\"f%d\",\"text\":\"%s %d\"}\n", i,
                i % 5 == 0 ? "FAIL" : "fine", i);
    fclose(f);
    const char *args[] = { "--db", fdb, "-q", fin, NULL };
    fake_tool a = { 0 };
    is_int(fake_run(&a, 1, out1, NULL, args), 3,
           "some records failed: exit code 3");
    char *o = slurp(out1);
    int n_err = 0;
    for (char *p = o; (p = strstr(p, "\"error\"")); p++) n_err++;
    is_int(n_err, 4, "each failed record carries an error field");
    ok(strstr(o, "fake: refused text") != NULL, "the error says why");
    free(o);
    is_int(count_lines(out1), 20, "failed records are written, not dropped");
    char *st = db_text(fdb, "SELECT status FROM jobs");
    ok(strcmp(st, "partial") == 0, "job status partial (%s)", st);
    free(st);
    is_int(db_int(fdb, "SELECT n_failed FROM jobs"), 4, "job counts 4 failed");
    is_int(db_int(fdb, "SELECT count(*) FROM items WHERE error IS NOT NULL"), 4,
           "failed items are recorded with their error");

    fake_tool b = { 0 };
    is_int(fake_run(&b, 1, out2, NULL, args), 3, "second run: still exit 3");
    is_int(b.computed, 4, "failed records are retried, the rest cached");
}

static void test_batched_process(void)
{
    char bdb[1300];
    snprintf(bdb, sizeof bdb, "%s/batched.db", dir);
    write_input(in, 50, 0, NULL);
    const char *args[] = { "--db", bdb, "-q", in, NULL };
    fake_tool one = { 0 };
    fake_run(&one, 1, out1, NULL, args);
    write_input(in, 50, 20, "changed twenty");
    char bdb2[1300];
    snprintf(bdb2, sizeof bdb2, "%s/batched2.db", dir);
    const char *args2[] = { "--db", bdb2, "-q", in, NULL };
    fake_tool eight = { 0 };
    is_int(fake_run(&eight, 8, out2, NULL, args2), 0, "batched run exits 0");
    ok(eight.max_seen == 8 && eight.calls == 7,
       "process gets up to 8 records a call (calls %ld, max %d)", eight.calls,
       eight.max_seen);
    is_int(lines_differing(out1, out2), 1,
           "batched output is in input order (differs only where input does)");
    write_input(in, 50, 0, NULL);
    fake_tool again = { 0 };
    fake_run(&again, 8, out2, NULL, args2);
    is_int(again.computed, 1, "batched: mixed cached and computed records");
    is_int(lines_differing(out1, out2), 0,
           "batched: cached and computed records stay in input order");
}

static void test_shards(void)
{
    char sdb[1300];
    snprintf(sdb, sizeof sdb, "%s/shard.db", dir);
    write_input(in, 60, 0, NULL);
    const char *s0[] = { "--no-db", "-q", "--shard", "0/3", in, NULL };
    const char *s1[] = { "--no-db", "-q", "--shard", "1/3", in, NULL };
    const char *s2[] = { "--no-db", "-q", "--shard", "2/3", in, NULL };
    const char *const *shards[] = { s0, s1, s2 };
    long total = 0;
    int all_nonempty = 1;
    char *joined = llp_strdup("");
    for (int k = 0; k < 3; k++) {
        fake_tool f = { 0 };
        fake_run(&f, 1, out1, NULL, shards[k]);
        long n = count_lines(out1);
        total += n;
        if (n == 0) all_nonempty = 0;
        char *o = slurp(out1);
        joined = llp_realloc(joined, strlen(joined) + strlen(o) + 1);
        strcat(joined, o);
        free(o);
    }
    is_int(total, 60, "three shards together hold every record once");
    ok(all_nonempty, "every shard gets records");
    int every = 1;
    for (int i = 1; i <= 60; i++) {
        char id[32];
        snprintf(id, sizeof id, "\"id\":\"r%d\"", i);
        if (!strstr(joined, id)) every = 0;
    }
    ok(every, "no record is missing from the union of shards");
    free(joined);
}

static void test_no_db(void)
{
    char nodb[1300];
    snprintf(nodb, sizeof nodb, "%s/never.db", dir);
    setenv("LLP_DB", nodb, 1);
    write_input(in, 10, 0, NULL);
    const char *args[] = { "--no-db", "-q", in, NULL };
    fake_tool a = { 0 }, b = { 0 };
    is_int(fake_run(&a, 1, out1, NULL, args), 0, "--no-db run exits 0");
    fake_run(&b, 1, out1, NULL, args);
    is_int(b.computed, 10, "--no-db: nothing cached");
    ok(access(nodb, F_OK) != 0, "--no-db: no store file created");
    const char *env[] = { "-q", in, NULL };
    fake_tool c = { 0 };
    fake_run(&c, 1, out1, NULL, env);
    ok(access(nodb, F_OK) == 0, "$LLP_DB names the store when --db is absent");
    unsetenv("LLP_DB");
}

/* Run with stderr captured into *msg (malloc'd). */
static int run_capturing_stderr(fake_tool *f, const char *const *args,
                                char **msg)
{
    char path[1300];
    snprintf(path, sizeof path, "%s/stderr.txt", dir);
    fflush(stderr);
    int saved = dup(2);
    FILE *e = fopen(path, "w");
    dup2(fileno(e), 2);
    int rc = fake_run(f, 1, out1, NULL, args);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fclose(e);
    *msg = slurp(path);
    char *nl = strchr(*msg, '\n');
    if (nl) *nl = '\0';
    return rc;
}

static void test_fatal_and_resume(void)
{
    char *msg;
    char fdb[1300];
    snprintf(fdb, sizeof fdb, "%s/fatal.db", dir);
    write_input(in, 60, 0, NULL);
    const char *args[] = { "--db", fdb, "-q", in, NULL };
    fake_tool a = { 0 };
    a.fatal_at = 41;
    is_int(run_capturing_stderr(&a, args, &msg), 1, "a fatal error exits 1");
    ok(strcmp(msg, "llp-fake: error: fake: fatal error at record r41") == 0,
       "the message names the tool and the record: %s", msg);
    free(msg);
    char *st = db_text(fdb, "SELECT status FROM jobs");
    ok(strcmp(st, "failed") == 0, "job status failed (%s)", st);
    free(st);
    is_int(db_int(fdb, "SELECT count(*) FROM items"), 40,
           "records finished before the fatal error are committed");
    fake_tool b = { 0 };
    is_int(fake_run(&b, 1, out2, NULL, args), 0, "re-run exits 0");
    is_int(b.computed, 20, "re-run computes only the 20 not finished");

    const char *missing[] = { "--db", fdb, "-q", "/nonexistent/input.jsonl",
                              NULL };
    fake_tool c = { 0 };
    is_int(run_capturing_stderr(&c, missing, &msg), 1,
           "a missing input file exits 1");
    ok(strstr(msg, "llp-fake: error: /nonexistent/input.jsonl") == msg,
       "the message names the file: %s", msg);
    free(msg);
    const char *usage[] = { "--db", fdb, "--shard", "5/2", in, NULL };
    is_int(fake_run(&c, 1, out1, NULL, usage), 2, "a usage error exits 2");
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s/store_cache.XXXXXX", tmp_dir());
    if (!mkdtemp(dir)) {
        printf("1..1\nnot ok 1 - mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    paths();
    test_second_run_and_one_change();
    test_failures_retried();
    test_batched_process();
    test_shards();
    test_no_db();
    test_fatal_and_resume();
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) diag("could not remove %s", dir);
    return done_testing();
}
