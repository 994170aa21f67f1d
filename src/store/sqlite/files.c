/*
 * files.c - uploads and the outputs of tasks (migration 0007). Storage only: who may read a
 * file, where its bytes live and what its URLs are is decided above.
 */
#include <stdlib.h>
#include <string.h>

#include "store/sqlite/sq.h"

#define FILE_COLS                                                                                            \
    "id, user_id, purpose, task_id, backend, key, content_type, size, status, width, height, duration_ms, "  \
    "created_at, updated_at, expires_at"

static const char SQL_FILE_INSERT[] =
    "INSERT INTO files(" FILE_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";
/* ?2 unbound (NULL): anyone's file. */
static const char SQL_FILE_GET[] = "SELECT " FILE_COLS " FROM files WHERE id = ?1 AND (?2 IS NULL OR user_id = ?2)";
static const char SQL_FILE_BY_KEY[] = "SELECT " FILE_COLS " FROM files WHERE backend = ?1 AND key = ?2";
static const char SQL_FILE_SET_READY[] =
    "UPDATE files SET status = 'ready', content_type = ?2, size = ?3, width = ?4, height = ?5, duration_ms = ?6,"
    " updated_at = ?7 WHERE id = ?1 AND status = 'pending'";
static const char SQL_FILE_EXISTS[] = "SELECT 1 FROM files WHERE id = ?1";
/* Ids are time-ordered: oldest output first (their order at the provider). */
static const char SQL_FILES_OF_TASK[] = "SELECT " FILE_COLS " FROM files WHERE task_id = ?1 ORDER BY id";

static int file_read(sqlite3_stmt *st, void *out)
{
    struct stored_file *f = out;
    memset(f, 0, sizeof *f);
    if (sq_col_text(st, 0, f->id, sizeof f->id) < 0 || sq_col_text(st, 1, f->user_id, sizeof f->user_id) < 0 ||
        sq_col_text(st, 2, f->purpose, sizeof f->purpose) < 0 ||
        sq_col_text(st, 3, f->task_id, sizeof f->task_id) < 0 ||
        sq_col_text(st, 4, f->backend, sizeof f->backend) < 0 || sq_col_text(st, 5, f->key, sizeof f->key) < 0 ||
        sq_col_text(st, 6, f->content_type, sizeof f->content_type) < 0 ||
        sq_col_text(st, 8, f->status, sizeof f->status) < 0)
        return -1;
    f->size = sq_col_int(st, 7);
    f->width = sq_col_int(st, 9);
    f->height = sq_col_int(st, 10);
    f->duration_ms = sq_col_int(st, 11);
    f->created_at = sq_col_int(st, 12);
    f->updated_at = sq_col_int(st, 13);
    f->expires_at = sq_col_int(st, 14);
    return 0;
}

static int file_fields_ok(const struct stored_file *f)
{
    return sq_fits(f->id, sizeof f->id) && f->id[0] && sq_fits(f->user_id, sizeof f->user_id) &&
           sq_fits(f->purpose, sizeof f->purpose) && sq_fits(f->task_id, sizeof f->task_id) &&
           sq_fits(f->backend, sizeof f->backend) && sq_fits(f->key, sizeof f->key) &&
           sq_fits(f->content_type, sizeof f->content_type) && sq_fits(f->status, sizeof f->status);
}

static enum store_rc file_insert_tx(struct sq *c, void *arg)
{
    const struct stored_file *f = arg;
    sqlite3_stmt *st = sq_stmt(c, SQL_FILE_INSERT);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, f->id);
    sq_bind_text(st, 2, f->user_id);
    sq_bind_text(st, 3, f->purpose);
    sq_bind_text_or_null(st, 4, f->task_id);
    sq_bind_text(st, 5, f->backend);
    sq_bind_text(st, 6, f->key);
    sq_bind_text(st, 7, f->content_type);
    sqlite3_bind_int64(st, 8, f->size);
    sq_bind_text(st, 9, f->status);
    sqlite3_bind_int64(st, 10, f->width);
    sqlite3_bind_int64(st, 11, f->height);
    sqlite3_bind_int64(st, 12, f->duration_ms);
    sqlite3_bind_int64(st, 13, f->created_at);
    sqlite3_bind_int64(st, 14, f->updated_at ? f->updated_at : f->created_at);
    sq_bind_time(st, 15, f->expires_at);
    return sq_exec(c, st, "file_insert", 1, STORE_OK);
}

enum store_rc sq_file_insert(struct store *s, const struct stored_file *f)
{
    if (!file_fields_ok(f)) {
        sq_log_error("file_insert", "file field unterminated or empty");
        return STORE_ERROR;
    }
    return sq_run((struct sq *)s, SQ_WRITE, "file_insert", file_insert_tx, (void *)(uintptr_t)f);
}

enum store_rc sq_file_get(struct store *s, const char *id, const char *user_id, struct stored_file *out)
{
    struct sq_row_args a = {SQL_FILE_GET, id, user_id, file_read, out, "file_get"};
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "file_get", sq_row_tx, &a);
}

enum store_rc sq_file_get_by_key(struct store *s, const char *backend, const char *key, struct stored_file *out)
{
    struct sq_row_args a = {SQL_FILE_BY_KEY, backend, key, file_read, out, "file_get_by_key"};
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "file_get_by_key", sq_row_tx, &a);
}

struct file_ready_args {
    const char *id, *content_type;
    int64_t size, width, height, duration_ms, now;
};

static enum store_rc file_ready_tx(struct sq *c, void *arg)
{
    struct file_ready_args *a = arg;
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, SQL_FILE_SET_READY);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->id);
    sq_bind_text(st, 2, a->content_type ? a->content_type : "");
    sqlite3_bind_int64(st, 3, a->size);
    sqlite3_bind_int64(st, 4, a->width);
    sqlite3_bind_int64(st, 5, a->height);
    sqlite3_bind_int64(st, 6, a->duration_ms);
    sqlite3_bind_int64(st, 7, a->now);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE) {
        rc = sq_fail(c, src, "file_set_ready", 0);
    } else if (sqlite3_changes(c->db) == 0) {
        /* Not pending: CONFLICT when the file exists (ready already), NOTFOUND otherwise. */
        sq_done(st);
        st = sq_stmt(c, SQL_FILE_EXISTS);
        if (st == NULL)
            return STORE_ERROR;
        sq_bind_text(st, 1, a->id);
        src = sqlite3_step(st);
        if (src == SQLITE_ROW)
            rc = STORE_CONFLICT;
        else if (src == SQLITE_DONE)
            rc = STORE_NOTFOUND;
        else
            rc = sq_fail(c, src, "file_set_ready", 0);
    }
    sq_done(st);
    return rc;
}

enum store_rc sq_file_set_ready(struct store *s, const char *id, const char *content_type, int64_t size,
                                int64_t width, int64_t height, int64_t duration_ms, int64_t now)
{
    struct stored_file f;
    if (content_type != NULL && !sq_fits(content_type, sizeof f.content_type)) {
        sq_log_error("file_set_ready", "content type too long");
        return STORE_ERROR;
    }
    struct file_ready_args a = {id, content_type, size, width, height, duration_ms, now};
    return sq_run((struct sq *)s, SQ_WRITE, "file_set_ready", file_ready_tx, &a);
}

struct files_of_task_args {
    const char *task_id;
    struct stored_file **out;
    size_t *n;
};

static enum store_rc files_of_task_tx(struct sq *c, void *arg)
{
    struct files_of_task_args *a = arg;
    free(*a->out);
    *a->out = NULL;
    *a->n = 0;
    sqlite3_stmt *st = sq_stmt(c, SQL_FILES_OF_TASK);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->task_id);
    void *rows = NULL;
    enum store_rc rc = sq_rows(c, st, sizeof **a->out, file_read, &rows, a->n, "files_of_task");
    *a->out = rows;
    return rc;
}

enum store_rc sq_files_of_task(struct store *s, const char *task_id, struct stored_file **out, size_t *n)
{
    struct files_of_task_args a = {task_id, out, n};
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "files_of_task", files_of_task_tx, &a);
}
