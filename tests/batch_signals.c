/*
 * batch_signals.c — how the batch loop stops: SIGINT and SIGTERM finish the
 * record in progress, say so on stderr, commit, mark the job interrupted
 * and exit 130/143; a second signal during a long step kills the process
 * at once and still leaves the job marked interrupted, never running;
 * downstream closing the pipe stops quietly with exit 0; and the progress
 * line (--progress, -q, count, rate, ETA): '\r' redraws at most ten a
 * second on a terminal, one '\n' line per update into a file.
 *
 * Not for: SIGKILL and resume (batch_kill_resume.c) or cache rules
 * (store_cache.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
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

/* Send stderr of this (child) process to path. */
static void stderr_to(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
}

/* Wait (at most 20 s) until the file at path holds `want`. */
static bool wait_for_text(const char *path, const char *want)
{
    for (int i = 0; i < 2000; i++) {
        char *t = slurp(path);
        bool found = strstr(t, want) != NULL;
        free(t);
        if (found) return true;
        sleep_ms(10);
    }
    return false;
}

/* ok() on two strings, showing both when they differ. */
static void is_str(const char *got, const char *want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void is_str(const char *got, const char *want, const char *fmt, ...)
{
    char name[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    if (!ok(strcmp(got, want) == 0, "%s", name)) diag("got '%s', want '%s'", got, want);
}

static const char notice_int[] =
    "llp-fake: interrupted: finishing the current step and saving finished work; "
    "press Ctrl-C again to stop at once\n";
static const char notice_term[] =
    "llp-fake: terminated: finishing the current step and saving finished work; "
    "a second SIGTERM stops at once\n";

static void test_signal(int sig, int want_code)
{
    char db[1300], out[1300], err[1300];
    snprintf(db, sizeof db, "%s/sig%d.db", dir, sig);
    snprintf(out, sizeof out, "%s/sig%d.jsonl", dir, sig);
    snprintf(err, sizeof err, "%s/sig%d.err", dir, sig);
    const char *args[] = { "--db", db, in, NULL };
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        stderr_to(err);
        fake_tool f = { 0 };
        f.sleep_ms = 20;
        _exit(fake_run(&f, 1, out, NULL, args));
    }
    sleep_ms(500);
    kill(pid, sig);
    int code = wait_exit(pid);
    is_int(code, want_code, "signal %d: exit code %d", sig, want_code);
    char *e = slurp(err);
    is_str(e, sig == SIGINT ? notice_int : notice_term,
           "signal %d: stderr says it is finishing the step, and how to stop at once", sig);
    free(e);
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

/* A second signal while a step that does not poll the flag is running:
 * the process dies of the signal at once, and the job is still marked
 * interrupted (by the watcher thread), with the counters of its last
 * commit. */
static void test_second_signal(int sig)
{
    char db[1300], out[1300], err[1300];
    snprintf(db, sizeof db, "%s/twice%d.db", dir, sig);
    snprintf(out, sizeof out, "%s/twice%d.jsonl", dir, sig);
    snprintf(err, sizeof err, "%s/twice%d.err", dir, sig);
    const char *args[] = { "--db", db, in, NULL };
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        stderr_to(err);
        fake_tool f = { 0 };
        f.busy_ms = 400;
        _exit(fake_run(&f, 1, out, NULL, args));
    }
    /* once the job row exists and a few records are committed (the first
     * commit comes after 2 s), ask it to stop */
    for (int i = 0; i < 2000 && db_int(db, "SELECT count(*) FROM items") < 1; i++)
        sleep_ms(10);
    kill(pid, sig);
    ok(wait_for_text(err, sig == SIGINT ? notice_int : notice_term),
       "second signal %d: the first one was acknowledged", sig);
    kill(pid, sig);
    int code = wait_exit(pid);
    is_int(code, 1000 + sig, "second signal %d: the process dies of it, mid-step", sig);
    char *st = db_text(db, "SELECT status FROM jobs");
    is_str(st, "interrupted", "second signal %d: the job is marked interrupted, not running",
           sig);
    free(st);
    ok(db_int(db, "SELECT finished_at IS NOT NULL FROM jobs") == 1,
       "second signal %d: with its finishing time", sig);
    long long items = db_int(db, "SELECT count(*) FROM items");
    ok(items >= 1, "second signal %d: committed records are kept (%lld)", sig, items);
    is_int(db_int(db, "SELECT n_items FROM jobs"), items,
           "second signal %d: counters as of the last commit", sig);
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

/* How many times c occurs in s. */
static int count_char(const char *s, char c)
{
    int n = 0;
    for (; *s; s++) n += *s == c;
    return n;
}

/* The bar on a terminal (a pseudo-terminal here): '\r' redraws. */
static void test_progress_terminal(void)
{
    char out[1300];
    snprintf(out, sizeof out, "%s/progress-tty.jsonl", dir);
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) || unlockpt(master)) {
        ok(0, "a pseudo-terminal: %s", strerror(errno));
        return;
    }
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    struct termios tio;
    tcgetattr(slave, &tio);
    cfmakeraw(&tio);
    tcsetattr(slave, TCSANOW, &tio);
    FILE *tty = fdopen(slave, "w");
    write_input(in, 30, 0, NULL);
    const char *args[] = { "--no-db", "--progress", in, NULL };
    fake_tool f = { 0 };
    f.sleep_ms = 25;
    double t0 = llp_now();
    fake_run_stream(&f, 1, out, tty, args);
    double secs = llp_now() - t0;
    fclose(tty);
    char buf[16384];
    size_t n = 0;
    fcntl(master, F_SETFL, O_NONBLOCK);
    for (ssize_t got; n < sizeof buf - 1 && (got = read(master, buf + n, sizeof buf - 1 - n)) > 0;)
        n += (size_t)got;
    buf[n] = 0;
    close(master);
    int draws = count_char(buf, '\r');
    ok(draws >= 2, "a terminal: the bar redraws with \\r (%d times)", draws);
    ok(draws <= (int)(secs * 10) + 3, "at most 10 redraws a second (%d in %.2f s)", draws, secs);
    is_int(count_char(buf, '\n'), 1, "a terminal: one line end, at the end");
    ok(strstr(buf, "llp-fake: 30/30 100%") != NULL, "a terminal: count of total and percent");
}

static void test_progress(void)
{
    char prog[1300], out[1300];
    snprintf(prog, sizeof prog, "%s/progress.txt", dir);
    snprintf(out, sizeof out, "%s/progress.jsonl", dir);
    write_input(in, 30, 0, NULL);
    const char *args[] = { "--no-db", "--progress", in, NULL };
    fake_tool f = { 0 };
    f.sleep_ms = 80;
    double t0 = llp_now();
    is_int(fake_run(&f, 1, out, prog, args), 0, "--progress run exits 0");
    double secs = llp_now() - t0;
    char *p = slurp(prog);
    ok(strchr(p, '\r') == NULL, "into a file: no \\r redraws");
    ok(strncmp(p, "llp-fake: 0/30 0%", 17) == 0, "the first line: nothing done yet");
    ok(strstr(p, "llp-fake: 30/30 100%") != NULL, "progress shows count of "
       "total and percent");
    ok(strstr(p, "/s") != NULL, "progress shows a rate");
    ok(strstr(p, "ETA ") != NULL, "progress shows an ETA while running");
    ok(p[0] && p[strlen(p) - 1] == '\n', "every line ends in \\n");
    int lines = count_char(p, '\n');
    ok(lines >= 3 && lines <= (int)secs + 3, "at most one line a second (%d in %.2f s)", lines,
       secs);
    bool repeated = false;
    for (char *a = p, *b; (b = strchr(a, '\n')) && b[1]; a = b + 1) {
        char *c = strchr(b + 1, '\n');
        if (c && c - b - 1 == b - a && memcmp(a, b + 1, (size_t)(b - a)) == 0) repeated = true;
    }
    ok(!repeated, "no line is written twice");
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
    test_second_signal(SIGINT);
    test_second_signal(SIGTERM);
    write_input(in, 100, 0, NULL);
    test_closed_pipe();
    test_progress();
    test_progress_terminal();
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) diag("could not remove %s", dir);
    return done_testing();
}
