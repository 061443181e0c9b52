/*
 * store_concurrency.c — SPEC section 9: several processes writing one store
 * at once all finish, with all their items. Four batch runs over different
 * inputs (and two over the same input) share one new store, racing from
 * its creation and migration on; then four processes hammer it with small
 * raw transactions.
 *
 * Not for: cache rules (store_cache.c) or kills (batch_kill_resume.c).
 */
#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include "batch_fake.h"
#include "tap.h"

#define N_PROCS 4
#define N_RECORDS 150

static char dir[1024];

static int wait_exit(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
}

static void test_batch_runs(void)
{
    char db[1300];
    snprintf(db, sizeof db, "%s/shared.db", dir);
    pid_t pids[N_PROCS + 1];
    char ins[N_PROCS][1300], outs[N_PROCS + 1][1300];
    for (int p = 0; p < N_PROCS; p++) {
        snprintf(ins[p], sizeof ins[p], "%s/in%d.jsonl", dir, p);
        FILE *f = fopen(ins[p], "w");
        for (int i = 1; i <= N_RECORDS; i++)
            fprintf(f, "{\"id\":\"p%d-%d\",\"text\":\"process %d record %d\"}\n",
                    p, i, p, i);
        fclose(f);
    }
    fflush(stdout);
    /* Process N_PROCS reads the same input as process 0. */
    for (int p = 0; p <= N_PROCS; p++) {
        snprintf(outs[p], sizeof outs[p], "%s/out%d.jsonl", dir, p);
        pids[p] = fork();
        if (pids[p] == 0) {
            fake_tool f = { 0 };
            f.sleep_ms = 1;
            const char *args[] = { "--db", db, "-q", ins[p % N_PROCS], NULL };
            _exit(fake_run(&f, p % 2 ? 3 : 1, outs[p], NULL, args));
        }
    }
    int all_zero = 1;
    for (int p = 0; p <= N_PROCS; p++) {
        int code = wait_exit(pids[p]);
        if (code != 0) {
            all_zero = 0;
            diag("process %d exited %d", p, code);
        }
    }
    ok(all_zero, "%d processes writing one new store all exit 0",
       N_PROCS + 1);
    is_int(db_int(db, "SELECT count(*) FROM jobs WHERE status = 'done'"),
           N_PROCS + 1, "every job finished as done");
    is_int(db_int(db, "SELECT count(*) FROM jobs WHERE n_items = 150"),
           N_PROCS + 1, "every job counts all its items");
    is_int(db_int(db, "SELECT count(*) FROM jobs j WHERE (SELECT"
                      " count(DISTINCT record_id) FROM items i"
                      " WHERE i.job_id = j.id) = 150"),
           N_PROCS + 1, "every job has all its items in the store");
    for (int p = 0; p <= N_PROCS; p++)
        is_int(count_lines(outs[p]), N_RECORDS, "process %d wrote all records",
               p);
    is_int(db_int(db, "PRAGMA user_version"), LLP_STORE_SCHEMA_VERSION,
           "racing opens migrated the schema once");
}

/* Many small write transactions from each process. */
static void test_raw_transactions(void)
{
    char db[1300];
    snprintf(db, sizeof db, "%s/raw.db", dir);
    pid_t pids[N_PROCS];
    fflush(stdout);
    for (int p = 0; p < N_PROCS; p++) {
        pids[p] = fork();
        if (pids[p] == 0) {
            llp_err err;
            llp_store *s = llp_store_open(db, &err);
            if (!s) {
                fprintf(stderr, "%s\n", err.msg);
                _exit(1);
            }
            llp_job_spec spec = { "raw", 0, 0, NULL, NULL, 0 };
            int64_t job = llp_store_job_begin(s, &spec, &err);
            json_t *out = json_pack("{s:i}", "p", p);
            for (int t = 0; t < 100; t++) {
                if (llp_store_begin(s, &err)) _exit(2);
                for (int i = 0; i < 5; i++) {
                    char id[32];
                    snprintf(id, sizeof id, "%d-%d", t, i);
                    llp_cache_key key = { "raw", "", "", "" };
                    llp_hash128(id, strlen(id), key.input_hash);
                    llp_item item = { .record_id = id, .output = out };
                    if (llp_store_item_put(s, job, &key, &item, &err)) _exit(3);
                }
                if (llp_store_commit(s, &err)) {
                    fprintf(stderr, "%s\n", err.msg);
                    _exit(4);
                }
            }
            json_decref(out);
            llp_store_close(s);
            _exit(0);
        }
    }
    int all_zero = 1;
    for (int p = 0; p < N_PROCS; p++)
        if (wait_exit(pids[p]) != 0) all_zero = 0;
    ok(all_zero, "%d processes x 100 transactions all succeed", N_PROCS);
    is_int(db_int(db, "SELECT count(*) FROM items"), N_PROCS * 500,
           "every item of every process is there");
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s/store_concurrency.XXXXXX", tmp_dir());
    if (!mkdtemp(dir)) {
        printf("1..1\nnot ok 1 - mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    test_batch_runs();
    test_raw_transactions();
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) diag("could not remove %s", dir);
    return done_testing();
}
