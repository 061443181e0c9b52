/*
 * batch_kill_resume.c — SPEC section 9: a batch killed with SIGKILL at any
 * point, then re-run, gives the same final output as an uninterrupted run,
 * with no duplicate and no missing record. Twelve kill points (from before
 * the store is opened to after the last record), each killed twice before
 * the re-run, with one and four records per process call.
 *
 * Not for: SIGINT/SIGTERM (batch_signals.c) or cache rules (store_cache.c).
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "batch_fake.h"
#include "tap.h"

#define N_RECORDS 60
#define N_POINTS 12

static char dir[1024], in[1200], ref[1200];

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Start the fake tool in a child and SIGKILL it after `after_ms`. */
static void run_and_kill(const char *db, const char *out, int max_batch,
                         int after_ms)
{
    const char *args[] = { "--db", db, "-q", in, NULL };
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        fake_tool f = { 0 };
        f.sleep_ms = 8;
        _exit(fake_run(&f, max_batch, out, NULL, args));
    }
    sleep_ms(after_ms);
    kill(pid, SIGKILL);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
}

/* Every id r1..rN exactly once, in order. */
static int ids_once_in_order(const char *path)
{
    char *s = slurp(path);
    const char *p = s;
    int good = 1;
    for (int i = 1; i <= N_RECORDS && good; i++) {
        char id[32];
        snprintf(id, sizeof id, "\"id\":\"r%d\"", i);
        const char *at = strstr(p, id);
        if (!at) good = 0;
        else p = at + strlen(id);
    }
    if (good && count_lines(path) != N_RECORDS) good = 0;
    free(s);
    return good;
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s/batch_kill_resume.XXXXXX", tmp_dir());
    if (!mkdtemp(dir)) {
        printf("1..1\nnot ok 1 - mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    snprintf(in, sizeof in, "%s/in.jsonl", dir);
    snprintf(ref, sizeof ref, "%s/ref.jsonl", dir);
    /* A few records fail: they must come out the same after resume too. */
    write_input(in, N_RECORDS, 17, "this one will FAIL");

    fake_tool r = { 0 };
    const char *uninterrupted[] = { "--no-db", "-q", in, NULL };
    is_int(fake_run(&r, 1, ref, NULL, uninterrupted), 3,
           "uninterrupted reference run (one failing record: exit 3)");
    char *want = slurp(ref);

    for (int point = 0; point < N_POINTS; point++) {
        char db[1300], out[1300];
        snprintf(db, sizeof db, "%s/kill%d.db", dir, point);
        snprintf(out, sizeof out, "%s/kill%d.jsonl", dir, point);
        int max_batch = point % 2 ? 4 : 1;
        /* 0 ms (before the store exists) to ~500 ms (near or past the end
         * of the 60 records at 8 ms each). */
        int after = point * 45;
        run_and_kill(db, out, max_batch, after);
        run_and_kill(db, out, max_batch, after / 2 + 5);

        fake_tool f = { 0 };
        const char *args[] = { "--db", db, "-q", in, NULL };
        int code = fake_run(&f, max_batch, out, NULL, args);
        char *got = slurp(out);
        is_int(code, 3, "kill point %d (%d ms, batch %d): re-run exit 3",
               point, after, max_batch);
        ok(strcmp(got, want) == 0,
           "kill point %d: output identical to the uninterrupted run "
           "(recomputed %ld)", point, f.computed);
        ok(ids_once_in_order(out),
           "kill point %d: every record once, in order", point);
        char sql[200];
        snprintf(sql, sizeof sql,
                 "SELECT count(DISTINCT record_id) = count(*) AND count(*) = %d"
                 " FROM items WHERE job_id = (SELECT max(id) FROM jobs)",
                 N_RECORDS);
        is_int(db_int(db, sql), 1,
               "kill point %d: the final job has every item once", point);
        free(got);
    }
    free(want);
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) diag("could not remove %s", dir);
    return done_testing();
}
