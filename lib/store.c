/*
 * store.c — opening the SQLite store: path resolution, pragmas (WAL, busy
 * timeout, synchronous), schema migrations, transactions with retry on a
 * busy write lock, and error messages that name the database.
 *
 * Not for: the rows themselves (store_rows.c: models, jobs, items,
 * embeddings) or llp-jobs administration (store_admin.c).
 */
#include "store_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- schema -------------------------------------------------------------
 * Migrations, applied in order; migration i takes user_version i-1 to i.
 * Never edit one that has shipped: add a new one (docs/store.md, "Migrations
 * policy"). Timestamps are UTC ISO-8601 text with milliseconds; JSON columns
 * are text. Foreign keys are documented by REFERENCES but not enforced, so
 * that merge and gc can copy and clean rows in any order. */
static const char *const migrations[] = {
    /* 1: the initial schema */
    "CREATE TABLE models ("
    "  id INTEGER PRIMARY KEY,"
    "  fingerprint TEXT NOT NULL UNIQUE,"
    "  path TEXT NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  metadata TEXT NOT NULL DEFAULT '{}',"
    "  first_seen TEXT NOT NULL,"
    "  last_seen TEXT NOT NULL);"
    "CREATE TABLE jobs ("
    "  id INTEGER PRIMARY KEY,"
    "  uuid TEXT NOT NULL UNIQUE,"
    "  tool TEXT NOT NULL,"
    "  parent_job INTEGER REFERENCES jobs(id),"
    "  argv TEXT NOT NULL DEFAULT '[]',"
    "  params TEXT NOT NULL DEFAULT '{}',"
    "  params_hash TEXT NOT NULL,"
    "  model_id INTEGER REFERENCES models(id),"
    "  host TEXT NOT NULL,"
    "  pid INTEGER NOT NULL,"
    "  started_at TEXT NOT NULL,"
    "  finished_at TEXT,"
    "  status TEXT NOT NULL CHECK (status IN"
    "    ('running','done','failed','interrupted','partial')),"
    "  n_items INTEGER NOT NULL DEFAULT 0,"
    "  n_cached INTEGER NOT NULL DEFAULT 0,"
    "  n_failed INTEGER NOT NULL DEFAULT 0,"
    "  tokens_in INTEGER NOT NULL DEFAULT 0,"
    "  tokens_out INTEGER NOT NULL DEFAULT 0,"
    "  elapsed_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX jobs_parent ON jobs(parent_job);"
    "CREATE TABLE items ("
    "  id INTEGER PRIMARY KEY,"
    "  job_id INTEGER NOT NULL REFERENCES jobs(id),"
    "  record_id TEXT NOT NULL,"
    "  task TEXT NOT NULL,"
    "  model_fp TEXT NOT NULL,"
    "  params_hash TEXT NOT NULL,"
    "  input_hash TEXT NOT NULL,"
    "  output TEXT,"
    "  error TEXT,"
    "  cached INTEGER NOT NULL DEFAULT 0,"
    "  tokens_in INTEGER NOT NULL DEFAULT 0,"
    "  tokens_out INTEGER NOT NULL DEFAULT 0,"
    "  ms REAL NOT NULL DEFAULT 0,"
    "  created_at TEXT NOT NULL);"
    "CREATE INDEX items_cache_key ON items(task, model_fp, params_hash,"
    "  input_hash);"
    "CREATE UNIQUE INDEX items_job_record ON items(job_id, record_id, task,"
    "  input_hash);"
    "CREATE TABLE embeddings ("
    "  id INTEGER PRIMARY KEY,"
    "  collection TEXT NOT NULL,"
    "  record_id TEXT NOT NULL,"
    "  content_hash TEXT NOT NULL,"
    "  dim INTEGER NOT NULL,"
    "  vector BLOB NOT NULL,"
    "  model_fp TEXT NOT NULL,"
    "  created_at TEXT NOT NULL,"
    "  UNIQUE (collection, content_hash, model_fp));"
    /* Full-text search over the string fields of computed outputs. Cached
     * items repeat an earlier output, so they are not indexed again. */
    "CREATE VIRTUAL TABLE items_fts USING fts5(record_id UNINDEXED, text);"
    "CREATE TRIGGER items_fts_insert AFTER INSERT ON items"
    "  WHEN new.output IS NOT NULL AND new.cached = 0 BEGIN"
    "  INSERT INTO items_fts(rowid, record_id, text) VALUES (new.id,"
    "    new.record_id, (SELECT group_concat(value, ' ')"
    "                    FROM json_each(new.output) WHERE type = 'text'));"
    "END;"
    "CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN"
    "  DELETE FROM items_fts WHERE rowid = old.id;"
    "END;",

    /* 2: every input record is its own item, duplicate ids included: the
     * record's ordinal (1-based position in the run's input; 0 for items
     * recorded before version 2 and for items that are not input records,
     * such as summary chunks) joins the item's identity. Items keep the
     * input record's fields (for llp-jobs export), embeddings the text
     * they were made from (for llp-embed --similar). */
    "ALTER TABLE items ADD COLUMN ordinal INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE items ADD COLUMN input TEXT;"
    "DROP INDEX items_job_record;"
    "CREATE UNIQUE INDEX items_job_record ON items(job_id, ordinal, record_id,"
    "  task, input_hash);"
    "ALTER TABLE embeddings ADD COLUMN text TEXT;",

    /* 3: llp-finetune's loss curve: one row per optimizer step of a
     * training job (docs/store.md, "train_steps"). */
    "CREATE TABLE train_steps ("
    "  id INTEGER PRIMARY KEY,"
    "  job_id INTEGER NOT NULL REFERENCES jobs(id),"
    "  step INTEGER NOT NULL,"
    "  epoch INTEGER NOT NULL,"
    "  loss REAL NOT NULL,"
    "  val_loss REAL,"
    "  lr REAL NOT NULL,"
    "  grad_norm REAL NOT NULL,"
    "  tokens INTEGER NOT NULL,"
    "  ms REAL NOT NULL,"
    "  created_at TEXT NOT NULL,"
    "  UNIQUE (job_id, step));",
};
#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

_Static_assert(N_MIGRATIONS == LLP_STORE_SCHEMA_VERSION,
               "one migration per schema version");

/* A writer waits this long for another process's write lock, in total. */
#define BUSY_TIMEOUT_MS 30000
#define BUSY_RETRY_SECONDS 300

/* ---- errors -------------------------------------------------------------- */

int store_fail(llp_store *s, llp_err *err, int rc, const char *what)
{
    const char *path = s && s->path ? s->path : "store";
    const char *msg = s && s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
    case SQLITE_READONLY:
        return llp_err_set(err, "%s: database is read-only (%s)", path, what);
    case SQLITE_FULL:
        return llp_err_set(err, "%s: disk full (%s; %s)", path, msg, what);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return llp_err_set(err, "%s: database is locked by another process "
                           "(%s)", path, what);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return llp_err_set(err, "%s: not a llamapipe store, or corrupt (%s)",
                           path, msg);
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN: {
        /* The system's reason (a directory, a read-only file system, no
         * space) tells the user more than SQLite's own message. */
        int sys = s && s->db ? sqlite3_system_errno(s->db) : 0;
        if (sys) return llp_err_set(err, "%s: %s: %s (%s)", path, msg, strerror(sys), what);
        return llp_err_set(err, "%s: %s (%s)", path, msg, what);
    }
    default:
        return llp_err_set(err, "%s: %s (%s)", path, msg, what);
    }
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Run SQL with no results, retrying while the database is busy: the busy
 * handler covers most waits, but SQLite returns SQLITE_BUSY at once where
 * waiting could deadlock (e.g. a stale WAL snapshot), so we retry too. */
int store_exec(llp_store *s, const char *sql, const char *what, llp_err *err)
{
    double give_up = llp_now() + BUSY_RETRY_SECONDS;
    for (int attempt = 0;; attempt++) {
        char *emsg = NULL;
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, &emsg);
        sqlite3_free(emsg);
        if (rc == SQLITE_OK) return 0;
        if ((rc & 0xff) != SQLITE_BUSY || llp_now() > give_up)
            return store_fail(s, err, rc, what);
        sleep_ms(attempt < 10 ? 5 + attempt * 5 : 100);
    }
}

/* ---- paths --------------------------------------------------------------- */

char *llp_store_resolve_path(const char *explicit_path, llp_err *err)
{
    if (explicit_path && *explicit_path) return llp_strdup(explicit_path);
    const char *env = getenv("LLP_DB");
    if (env && *env) return llp_strdup(env);
    const char *xdg = getenv("XDG_DATA_HOME");
    char buf[4096];
    if (xdg && xdg[0] == '/') {
        snprintf(buf, sizeof buf, "%s/llamapipe/llamapipe.db", xdg);
        return llp_strdup(buf);
    }
    const char *home = getenv("HOME");
    if (!home || !*home) {
        llp_err_set(err, "no store path: set --db, $LLP_DB, $XDG_DATA_HOME "
                    "or $HOME (or use --no-db)");
        return NULL;
    }
    snprintf(buf, sizeof buf, "%s/.local/share/llamapipe/llamapipe.db", home);
    return llp_strdup(buf);
}

/* mkdir -p of the directory part of `path`. */
static int make_parent_dirs(const char *path, llp_err *err)
{
    char *dir = llp_strdup(path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) {
        free(dir);
        return 0;
    }
    *slash = '\0';
    for (char *p = dir + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
            int e = errno;
            llp_err_set(err, "%s: cannot create directory %s: %s", path, dir,
                        strerror(e));
            free(dir);
            return -1;
        }
        *p = saved;
        if (saved == '\0') break;
    }
    free(dir);
    return 0;
}

/* A store that does not exist yet needs a directory it can be created in.
 * Checked first because SQLite, failing to create it, retries read-only and
 * reports that retry's "No such file or directory" instead of the reason
 * (a read-only file system, say). */
static int check_creatable(const char *path, llp_err *err)
{
    if (access(path, F_OK) == 0 || errno != ENOENT) return 0;
    char *dir = llp_strdup(path);
    char *slash = strrchr(dir, '/');
    if (slash) slash[slash == dir] = '\0';
    int rc = access(slash ? dir : ".", W_OK);
    int e = errno;
    free(dir);
    if (rc == 0) return 0;
    return llp_err_set(err, "%s: cannot create the store: %s", path, strerror(e));
}

/* ---- open, migrate, close ------------------------------------------------ */

int llp_store_user_version(llp_store *s)
{
    if (!s) return -1;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL))
        return -1;
    int v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    return v;
}

/* Bring the schema up to version `target` inside one IMMEDIATE
 * transaction, so two processes opening a new store at once migrate it
 * exactly once. */
static int migrate(llp_store *s, int target, llp_err *err)
{
    int v = llp_store_user_version(s);
    if (v == target) return 0;
    if (llp_store_begin(s, err)) return -1;
    v = llp_store_user_version(s);
    if (v < 0) {
        llp_store_rollback(s);
        return store_fail(s, err, sqlite3_errcode(s->db), "reading version");
    }
    if (v > LLP_STORE_SCHEMA_VERSION) {
        llp_store_rollback(s);
        return llp_err_set(err, "%s: store schema version %d is newer than "
                           "this llamapipe knows (%d); upgrade llamapipe",
                           s->path, v, LLP_STORE_SCHEMA_VERSION);
    }
    for (; v < target; v++) {
        char what[64];
        snprintf(what, sizeof what, "migrating schema to version %d", v + 1);
        if (store_exec(s, migrations[v], what, err)) {
            llp_store_rollback(s);
            return -1;
        }
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
        if (store_exec(s, sql, what, err)) {
            llp_store_rollback(s);
            return -1;
        }
    }
    return llp_store_commit(s, err);
}

llp_store *store_open_at_version(const char *path, int target, llp_err *err)
{
    if (!path || !*path) {
        llp_err_set(err, "empty store path");
        return NULL;
    }
    if (make_parent_dirs(path, err)) return NULL;
    if (check_creatable(path, err)) return NULL;
    llp_store *s = llp_calloc(1, sizeof *s);
    s->path = llp_strdup(path);
    /* Opened by URI so that llp_store_merge can ATTACH a read-only input
     * with URI parameters (mode=ro, immutable=1). */
    char *uri = store_file_uri(path, "");
    int rc = sqlite3_open_v2(uri, &s->db, SQLITE_OPEN_READWRITE |
                             SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, NULL);
    free(uri);
    if (rc != SQLITE_OK) {
        store_fail(s, err, rc, "opening");
        llp_store_close(s);
        return NULL;
    }
    sqlite3_extended_result_codes(s->db, 1);
    if (sqlite3_db_readonly(s->db, "main") == 1) {
        llp_err_set(err, "%s: database is read-only", path);
        llp_store_close(s);
        return NULL;
    }
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);

    /* WAL lets readers and one writer work at once; synchronous=FULL syncs
     * the WAL at every commit, so committed batches survive power loss, not
     * only a killed process (one fsync per batch of records is cheap). */
    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
    double give_up = llp_now() + BUSY_RETRY_SECONDS;
    while (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            rc = SQLITE_OK;
            break;
        }
        if ((rc & 0xff) != SQLITE_BUSY || llp_now() > give_up) break;
        sqlite3_reset(st);
        sleep_ms(20);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) {
        store_fail(s, err, rc, "switching to WAL mode");
        llp_store_close(s);
        return NULL;
    }
    if (store_exec(s, "PRAGMA synchronous=FULL", "setting pragmas", err) ||
        migrate(s, target, err)) {
        llp_store_close(s);
        return NULL;
    }
    s->version = target;
    return s;
}

llp_store *llp_store_open(const char *path, llp_err *err)
{
    return store_open_at_version(path, LLP_STORE_SCHEMA_VERSION, err);
}

/* ---- opening for reading only ----------------------------------------------
 * A store on a read-only medium, or one this user may not write, must stay
 * inspectable. SQLite opens a WAL database read-only when its -wal and -shm
 * files exist or can be created; on a read-only medium after a clean close
 * neither exists, and the `immutable` URI parameter (no locks, no WAL) is
 * the only way in. That is safe exactly when there is no write-ahead log to
 * miss: nobody can be writing there, and an empty or absent -wal holds no
 * committed transactions. */

char *store_file_uri(const char *path, const char *query)
{
    size_t n = strlen(path);
    char *uri = llp_malloc(3 * n + strlen(query) + 8);
    char *o = uri + sprintf(uri, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
            (*p >= '0' && *p <= '9') || strchr("/-._~", *p))
            *o++ = (char)*p;
        else
            o += sprintf(o, "%%%02X", *p);
    }
    if (*query) sprintf(o, "?%s", query);
    else *o = '\0';
    return uri;
}

bool store_has_wal_data(const char *path)
{
    char *wal = llp_malloc(strlen(path) + 5);
    sprintf(wal, "%s-wal", path);
    struct stat st;
    bool data = stat(wal, &st) == 0 && st.st_size > 0;
    free(wal);
    return data;
}

/* Open `path` (a plain path, or a URI with SQLITE_OPEN_URI in flags) read
 * only and read its version; the version is -1 when reading failed, with
 * the SQLite result code in *rc. */
static llp_store *open_read_only(const char *path, const char *name, int flags,
                                 int *rc)
{
    llp_store *s = llp_calloc(1, sizeof *s);
    s->path = llp_strdup(name);
    s->read_only = true;
    s->version = -1;
    *rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READONLY | flags, NULL);
    if (*rc != SQLITE_OK) return s;
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    /* Reading the schema is what opens the WAL, so failures show here. */
    sqlite3_stmt *st;
    *rc = sqlite3_prepare_v2(s->db, "SELECT count(*) FROM sqlite_master", -1,
                             &st, NULL);
    if (*rc == SQLITE_OK) {
        *rc = sqlite3_step(st);
        if (*rc == SQLITE_ROW) *rc = SQLITE_OK;
        sqlite3_finalize(st);
    }
    if (*rc == SQLITE_OK) s->version = llp_store_user_version(s);
    return s;
}

llp_store *llp_store_open_readonly(const char *path, llp_err *err)
{
    if (!path || !*path) {
        llp_err_set(err, "empty store path");
        return NULL;
    }
    if (access(path, F_OK) != 0) {
        llp_err_set(err, "%s: cannot open the store: %s", path, strerror(errno));
        return NULL;
    }
    int rc;
    llp_store *s = open_read_only(path, path, 0, &rc);
    if (s->version < 0 && ((rc & 0xff) == SQLITE_CANTOPEN ||
                           (rc & 0xff) == SQLITE_READONLY)) {
        if (store_has_wal_data(path)) {
            llp_err_set(err, "%s: cannot read the store read-only: its "
                        "write-ahead log %s-wal holds data, and the -shm file "
                        "SQLite needs to read it cannot be opened or created "
                        "here; copy the store with its -wal file to a "
                        "writable place", path, path);
            llp_store_close(s);
            return NULL;
        }
        llp_store_close(s);
        char *uri = store_file_uri(path, "immutable=1");
        s = open_read_only(uri, path, SQLITE_OPEN_URI, &rc);
        free(uri);
    }
    if (s->version < 0) {
        store_fail(s, err, rc, "opening read-only");
        llp_store_close(s);
        return NULL;
    }
    if (s->version > LLP_STORE_SCHEMA_VERSION) {
        llp_err_set(err, "%s: store schema version %d is newer than this "
                    "llamapipe knows (%d); upgrade llamapipe", path,
                    s->version, LLP_STORE_SCHEMA_VERSION);
        llp_store_close(s);
        return NULL;
    }
    if (s->version < 1) {
        llp_err_set(err, "%s: not a llamapipe store (schema version %d)",
                    path, s->version);
        llp_store_close(s);
        return NULL;
    }
    return s;
}

void llp_store_close(llp_store *s)
{
    if (!s) return;
    if (s->in_tx) llp_store_rollback(s);
    store_finalize_statements(s);
    if (s->db) sqlite3_close(s->db);
    free(s->path);
    free(s);
}

const char *llp_store_path(const llp_store *s) { return s ? s->path : NULL; }
sqlite3 *llp_store_sqlite(llp_store *s) { return s ? s->db : NULL; }

/* ---- transactions -------------------------------------------------------- */

int llp_store_begin(llp_store *s, llp_err *err)
{
    if (!s) return 0;
    if (s->in_tx)
        return llp_err_set(err, "%s: transaction already open", s->path);
    if (s->read_only)
        return llp_err_set(err, "%s: database is read-only (opened for "
                           "reading)", s->path);
    if (store_exec(s, "BEGIN IMMEDIATE", "starting a transaction", err))
        return -1;
    s->in_tx = true;
    return 0;
}

int llp_store_commit(llp_store *s, llp_err *err)
{
    if (!s || !s->in_tx) return 0;
    if (store_exec(s, "COMMIT", "committing", err)) {
        /* A failed COMMIT (disk full) leaves the transaction open: roll it
         * back so the store stays usable; earlier commits are intact. */
        llp_store_rollback(s);
        return -1;
    }
    s->in_tx = false;
    return 0;
}

void llp_store_rollback(llp_store *s)
{
    if (!s || !s->in_tx) return;
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    s->in_tx = false;
}

bool llp_store_in_transaction(const llp_store *s)
{
    return s && s->in_tx;
}
