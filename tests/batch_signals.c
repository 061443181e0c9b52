/*
 * batch_signals.c — how the batch loop stops: SIGINT and SIGTERM finish the
 * record in progress, commit, mark the job interrupted and exit 130/143;
 * downstream closing the pipe stops quietly with exit 0; and the progress
 * line (--progress, -q, rate limit, count, rate, ETA).
 *
 * Not for: SIGKILL and resume (batch_kill_resume.c) or cache rules
 * (store_cache.c).
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "batch_fake.h"
#include "tap.h"

static char dir[1024], in[1200];

static int wait_exit(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 1000 + WTERMSIG(status);
    return -1;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static void test_signal(int sig, int want_code)
{
    char db[1300], out[1300];
    snprintf(db, sizeof db, "%s/sig%d.db", dir, sig);
    snprintf(out, sizeof out, "%s/sig%d.jsonl", dir, sig);
    const char *args[] = { "--db", db, "-q", in, NULL };
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        fake_tool f = { 0 };
        f.sleep_ms = 20;
        _exit(fake_run(&f, 1, out, NULL, args));
    }
    sleep_ms(500);
    kill(pid, sig);
    int code = wait_exit(pid);
    is_int(code, want_code, "signal %d: exit code %d", sig, want_code);
    char *st = db_text(db, "SELECT status FROM jobs");
    ok(strcmp(st, "interrupted") == 0, "signal %d: job marked interrupted (%s)",
       sig, st);
    free(st);
    long written = count_lines(out);
    long long items = db_int(db, "SELECT count(*) FROM items");
    ok(written > 0 && written < 100, "signal %d: stopped part way (%ld records)",
       sig, written);
    is_int(items, written, "signal %d: every written record was committed",
           sig);
    is_int(db_int(db, "SELECT n_items FROM jobs"), items,
           "signal %d: job counters match the committed items", sig);

    fake_tool g = { 0 };
    is_int(fake_run(&g, 1, out, NULL, args), 0, "signal %d: re-run exits 0",
           sig);
    is_int(g.computed, 100 - items, "signal %d: re-run computes only the rest",
           sig);
    is_int(count_lines(out), 100, "signal %d: re-run writes every record", sig);
}

static void test_closed_pipe(void)
{
    char db[1300], dev[64];
    snprintf(db, sizeof db, "%s/pipe.db", dir);
    int fds[2];
    if (pipe(fds) != 0) {
        ok(0, "pipe: %s", strerror(errno));
        return;
    }
    snprintf(dev, sizeof dev, "/dev/fd/%d", fds[1]);
    const char *args[] = { "--db", db, "-q", in, NULL };
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        fake_tool f = { 0 };
        f.sleep_ms = 10;
        int rc = fake_run(&f, 1, dev, NULL, args);
        _exit(rc);
    }
    close(fds[1]);
    /* Like `| head -3`: read three lines, then close. */
    FILE *r = fdopen(fds[0], "r");
    char line[4096];
    int got = 0;
    while (got < 3 && fgets(line, sizeof line, r)) got++;
    fclose(r);
    is_int(got, 3, "downstream read 3 records");
    is_int(wait_exit(pid), 0, "closed pipe: exit 0, quietly");
    char *st = db_text(db, "SELECT status FROM jobs");
    ok(strcmp(st, "interrupted") == 0, "closed pipe: job interrupted (%s)", st);
    free(st);
    long long items = db_int(db, "SELECT count(*) FROM items");
    ok(items >= 3 && items < 100,
       "closed pipe: finished records are committed (%lld)", items);
}

static void test_progress(void)
{
    char prog[1300], out[1300];
    snprintf(prog, sizeof prog, "%s/progress.txt", dir);
    snprintf(out, sizeof out, "%s/progress.jsonl", dir);
    write_input(in, 30, 0, NULL);
    const char *args[] = { "--no-db", "--progress", in, NULL };
    fake_tool f = { 0 };
    f.sleep_ms = 25;
    double t0 = llp_now();
    is_int(fake_run(&f, 1, out, prog, args), 0, "--progress run exits 0");
    double secs = llp_now() - t0;
    char *p = slurp(prog);
    ok(strstr(p, "\r") != NULL, "progress redraws with \\r");
    ok(strstr(p, "llp-fake: 30/30 100%") != NULL, "progress shows count of "
       "total and percent");
    ok(strstr(p, "/s") != NULL, "progress shows a rate");
    ok(strstr(p, "ETA ") != NULL, "progress shows an ETA while running");
    ok(p[0] && p[strlen(p) - 1] == '\n', "progress ends its line at the end");
    int draws = 0;
    for (char *c = p; *c; c++) draws += *c == '\r';
    ok(draws >= 2 && draws <= (int)(secs * 10) + 3,
       "at most 10 redraws a second (%d in %.2f s)", draws, secs);
    char *o = slurp(out);
    ok(strstr(o, "\r") == NULL && count_lines(out) == 30,
       "progress never reaches the records");
    free(o);
    free(p);

    const char *quiet[] = { "--no-db", "--progress", "-q", in, NULL };
    fake_tool g = { 0 };
    fake_run(&g, 1, out, prog, quiet);
    p = slurp(prog);
    is_int(strlen(p), 0, "-q silences the progress line");
    free(p);

    /* Failed and cached counts appear in the line. */
    char db[1300];
    snprintf(db, sizeof db, "%s/progress.db", dir);
    write_input(in, 10, 4, "FAIL here");
    const char *cached[] = { "--db", db, "--progress", in, NULL };
    fake_tool h = { 0 }, k = { 0 };
    fake_run(&h, 1, out, NULL, (const char *[]){ "--db", db, "-q", in, NULL });
    fake_run(&k, 1, out, prog, cached);
    p = slurp(prog);
    ok(strstr(p, "cached 9") && strstr(p, "failed 1"),
       "progress shows cached and failed counts");
    free(p);
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s/batch_signals.XXXXXX", tmp_dir());
    if (!mkdtemp(dir)) {
        printf("1..1\nnot ok 1 - mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    snprintf(in, sizeof in, "%s/in.jsonl", dir);
    write_input(in, 100, 0, NULL);
    test_signal(SIGINT, 130);
    test_signal(SIGTERM, 143);
    test_closed_pipe();
    test_progress();
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) diag("could not remove %s", dir);
    return done_testing();
}
