/*
 * store_train.c — the store's training rows: one per optimizer step of an
 * llp-finetune job (table train_steps, schema version 3).
 *
 * Not for: jobs and items (store_rows.c), or the trainer (train.c).
 */
#include <math.h>

#include "store_internal.h"

int llp_store_train_step_put(llp_store *s, int64_t job_id, const llp_train_step_row *r,
                             llp_err *err)
{
    if (!s) return 0;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db,
        "INSERT OR REPLACE INTO train_steps(job_id, step, epoch, loss, val_loss, lr,"
        "  grad_norm, tokens, ms, created_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, " STORE_NOW ")", -1, &st, NULL);
    if (rc != SQLITE_OK) return store_fail(s, err, rc, "recording a training step");
    sqlite3_bind_int64(st, 1, job_id);
    sqlite3_bind_int64(st, 2, r->step);
    sqlite3_bind_int64(st, 3, r->epoch);
    sqlite3_bind_double(st, 4, r->loss);
    if (isnan(r->val_loss)) sqlite3_bind_null(st, 5);
    else sqlite3_bind_double(st, 5, r->val_loss);
    sqlite3_bind_double(st, 6, r->lr);
    sqlite3_bind_double(st, 7, r->grad_norm);
    sqlite3_bind_int64(st, 8, r->tokens);
    sqlite3_bind_double(st, 9, r->ms);
    rc = store_step_write(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return store_fail(s, err, rc, "recording a training step");
    return 0;
}

json_t *llp_store_train_steps(llp_store *s, int64_t job_id, llp_err *err)
{
    json_t *out = json_array();
    if (!s || s->version < 3) return out;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db,
        "SELECT step, epoch, loss, val_loss, lr, grad_norm, tokens, ms FROM train_steps"
        " WHERE job_id = ?1 ORDER BY step", -1, &st, NULL);
    if (rc != SQLITE_OK) {
        store_fail(s, err, rc, "reading training steps");
        json_decref(out);
        return NULL;
    }
    sqlite3_bind_int64(st, 1, job_id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *o = json_object();
        json_object_set_new(o, "step", json_integer(sqlite3_column_int64(st, 0)));
        json_object_set_new(o, "epoch", json_integer(sqlite3_column_int64(st, 1)));
        json_object_set_new(o, "loss", json_real(sqlite3_column_double(st, 2)));
        if (sqlite3_column_type(st, 3) != SQLITE_NULL)
            json_object_set_new(o, "val_loss", json_real(sqlite3_column_double(st, 3)));
        json_object_set_new(o, "lr", json_real(sqlite3_column_double(st, 4)));
        json_object_set_new(o, "grad_norm", json_real(sqlite3_column_double(st, 5)));
        json_object_set_new(o, "tokens", json_integer(sqlite3_column_int64(st, 6)));
        json_object_set_new(o, "ms", json_real(sqlite3_column_double(st, 7)));
        json_array_append_new(out, o);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        store_fail(s, err, rc, "reading training steps");
        json_decref(out);
        return NULL;
    }
    return out;
}
