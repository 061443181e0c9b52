/*
 * store_internal.h — what store.c, store_rows.c and store_admin.c share:
 * the store struct and helpers for errors, retries and timestamps.
 *
 * Not for: anything outside lib/store*.c; everyone else uses store.h.
 */
#ifndef LLP_STORE_INTERNAL_H
#define LLP_STORE_INTERNAL_H

#include <sqlite3.h>
#include "store.h"

/* Cached prepared statements (prepared on first use, finalized at close). */
enum store_stmt {
    STMT_ITEM_PUT,
    STMT_CACHE_GET,
    STMT_EMBEDDING_PUT,
    N_STORE_STMTS
};

struct llp_store {
    sqlite3 *db;
    char *path;
    bool in_tx;                       /* inside llp_store_begin/commit */
    bool read_only;                   /* llp_store_open_readonly */
    int version;                      /* schema version of the open file:
                                         LLP_STORE_SCHEMA_VERSION, or older
                                         when opened read-only */
    sqlite3_stmt *stmts[N_STORE_STMTS];
};

/* SQL fragment for "now" as UTC ISO-8601 with milliseconds. */
#define STORE_NOW "strftime('%Y-%m-%dT%H:%M:%fZ','now')"

/* Fill err with a message naming the store for SQLite result code rc, while
 * doing `what` ("committing"). Returns -1. */
int store_fail(llp_store *s, llp_err *err, int rc, const char *what);

/* sqlite3_exec with retry while busy. Returns 0 or -1 (err set). */
int store_exec(llp_store *s, const char *sql, const char *what, llp_err *err);

/* The cached statement `which` with `sql`, reset and unbound; NULL with err
 * set when it cannot be prepared. */
sqlite3_stmt *store_stmt(llp_store *s, enum store_stmt which, const char *sql,
                         llp_err *err);

/* Step a write statement to completion, retrying while busy (outside a
 * transaction the statement takes the write lock itself). Returns the final
 * SQLite result code (SQLITE_DONE on success). */
int store_step_write(sqlite3_stmt *st);

void store_finalize_statements(llp_store *s);

/* "file:" URI of a path (for opens with SQLITE_OPEN_URI, and ATTACH on a
 * connection opened so): bytes other than unreserved ones and '/' are
 * percent-encoded; `query` ("immutable=1", or "" for none) follows a '?'.
 * Newly allocated. */
char *store_file_uri(const char *path, const char *query);

/* True when PATH-wal exists and holds data (committed pages, maybe). */
bool store_has_wal_data(const char *path);

/* llp_store_open, migrating only up to schema version `target` (at most
 * LLP_STORE_SCHEMA_VERSION): tests make stores of older versions with it. */
llp_store *store_open_at_version(const char *path, int target, llp_err *err);

#endif
