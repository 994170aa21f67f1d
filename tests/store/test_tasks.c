/*
 * Generation tasks, provider keys and files in the SQLite store (migration 0007,
 * store/sqlite/{tasks,pkeys,files}.c): every field stored and read back, ownership, the
 * conditional updates and their conflicts, list pagination and filters, the dispatcher's
 * claim (two connections claiming at once never take the same task), and store_tasks_check
 * finding each kind of violation. Bad ledger rows are written through the store's own
 * store_ledger_apply, bad task rows through a raw SQLite handle, so this suite runs on
 * sqlite: only; each test gets a fresh database.
 */
#include "../unit/test.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/ids.h"
#include "core/mem.h"
#include "store/backend.h"
#include "store/store.h"

static char g_tmpdir[64];
static unsigned g_db_n;

struct db {
    struct store *s;
    sqlite3 *raw;
    char url[128];
};

static void db_open(struct db *d)
{
    char *err = NULL;
    int applied = 0;
    char *path = xasprintf("%s/tasks-%u.db", g_tmpdir, g_db_n++);
    snprintf(d->url, sizeof d->url, "sqlite:%s", path);
    if (store_migrate(d->url, &applied, &err) != 0 || (d->s = store_open(d->url, &err)) == NULL ||
        sqlite3_open(path, &d->raw) != SQLITE_OK) {
        printf("Bail out! open %s: %s\n", d->url, err ? err : "?");
        exit(1);
    }
    sqlite3_busy_timeout(d->raw, 5000);
    free(err);
    free(path);
}

static void db_close(struct db *d)
{
    sqlite3_close(d->raw);
    store_close(d->s);
}

static int raw_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        printf("# raw: %s\n", msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return rc == SQLITE_OK;
}

static void make_user(struct store *s, char id[TG_ID_MAX], const char *tag)
{
    struct user u;
    memset(&u, 0, sizeof u);
    id_new(u.id, "usr");
    snprintf(u.email, sizeof u.email, "%.16s-%.40s@example.test", tag, u.id + 4);
    snprintf(u.role, sizeof u.role, "user");
    u.created_at = u.updated_at = 1000;
    if (store_user_create(s, &u) != STORE_OK) {
        printf("Bail out! make_user\n");
        exit(1);
    }
    memcpy(id, u.id, TG_ID_MAX);
}

/* A queued task of user_id created at `at`, due at `at`; every field its own value. The
 * JSON strings are borrowed literals (never task_clear'ed). */
static void task_fill(struct task *t, const char *user_id, int64_t at)
{
    memset(t, 0, sizeof *t);
    id_new_at(t->id, "tsk", at);
    snprintf(t->user_id, sizeof t->user_id, "%s", user_id);
    snprintf(t->kind, sizeof t->kind, "animate_move");
    snprintf(t->provider, sizeof t->provider, "dashscope");
    snprintf(t->model, sizeof t->model, "wan2.2-animate-move");
    snprintf(t->status, sizeof t->status, "queued");
    snprintf(t->phase, sizeof t->phase, "submit");
    t->progress = 3;
    t->inputs_json = (char *)"{\"image\":\"fil_a\",\"video\":\"fil_b\",\"mode\":\"wan-std\"}";
    snprintf(t->price_unit, sizeof t->price_unit, "second");
    t->unit_credits = 4;
    t->est_units = 12;
    t->reserved = 48;
    t->reserved_plan = 20;
    t->plan_expires_at = at + 86400000;
    t->settled = -1;
    t->next_at = at;
    t->deadline_at = at + 3600000;
    t->created_at = at;
    t->updated_at = at + 1;
}

static int str_eq_null(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static int task_eq(const struct task *a, const struct task *b)
{
#define S_(f) (strcmp(a->f, b->f) == 0)
#define I_(f) (a->f == b->f)
    return S_(id) && S_(user_id) && S_(kind) && S_(provider) && S_(model) && S_(status) && S_(phase) &&
           I_(progress) && str_eq_null(a->inputs_json, b->inputs_json) &&
           str_eq_null(a->outputs_json, b->outputs_json) && S_(price_unit) && I_(unit_credits) && I_(est_units) &&
           I_(reserved) && I_(reserved_plan) && I_(plan_expires_at) && I_(settled) && I_(refunded) &&
           S_(provider_task_id) && S_(key_id) && I_(attempts) && I_(polls) && I_(next_at) && I_(deadline_at) &&
           S_(error_code) && S_(error_message) && I_(created_at) && I_(updated_at) && I_(submitted_at) &&
           I_(finished_at);
#undef S_
#undef I_
}

static void print_task(const char *label, const struct task *t)
{
    printf("#   %s %s %s %s %s %s %s/%s p=%d in=%s out=%s %s %lld x %lld = %lld plan %lld@%lld s=%lld r=%lld"
           " ptid=%s key=%s a=%d polls=%d next=%lld dl=%lld err=%s/%s c=%lld u=%lld sub=%lld fin=%lld\n",
           label, t->id, t->user_id, t->kind, t->provider, t->model, t->status, t->phase, t->progress,
           t->inputs_json ? t->inputs_json : "(null)", t->outputs_json ? t->outputs_json : "(null)", t->price_unit,
           (long long)t->unit_credits, (long long)t->est_units, (long long)t->reserved, (long long)t->reserved_plan,
           (long long)t->plan_expires_at, (long long)t->settled, (long long)t->refunded, t->provider_task_id,
           t->key_id, t->attempts, t->polls, (long long)t->next_at, (long long)t->deadline_at, t->error_code,
           t->error_message, (long long)t->created_at, (long long)t->updated_at, (long long)t->submitted_at,
           (long long)t->finished_at);
}

#define CHECK_TASK_EQ(got, want, ...)                                                                         \
    do {                                                                                                      \
        int eq_ = task_eq(&(got), &(want));                                                                   \
        CHECK(eq_, __VA_ARGS__);                                                                              \
        if (!eq_) {                                                                                           \
            print_task("got ", &(got));                                                                      \
            print_task("want", &(want));                                                                     \
        }                                                                                                     \
    } while (0)

static void tasks_free(struct task *v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++)
        task_clear(&v[i]);
    free(v);
}

/* ---- insert, the reads and ownership ---- */

static void test_insert_get(void)
{
    struct db d;
    db_open(&d);
    char u1[TG_ID_MAX], u2[TG_ID_MAX];
    make_user(d.s, u1, "a");
    make_user(d.s, u2, "b");
    struct task t, got;
    task_fill(&t, u1, 10000);
    CHECK_INT_EQ(store_task_insert(d.s, &t), STORE_OK, "insert a task with every field set");
    CHECK_INT_EQ(store_task_get(d.s, t.id, NULL, &got), STORE_OK, "get by id, any user");
    CHECK_TASK_EQ(got, t, "every field reads back as written");
    task_clear(&got);
    CHECK_INT_EQ(store_task_get(d.s, t.id, u1, &got), STORE_OK, "get by id as its user");
    CHECK_TASK_EQ(got, t, "... the same row");
    task_clear(&got);
    CHECK_INT_EQ(store_task_get(d.s, t.id, u2, &got), STORE_NOTFOUND, "another user's task does not exist for them");
    CHECK(got.id[0] == 0 && got.inputs_json == NULL && got.reserved == 0, "a miss leaves the output zeroed");
    CHECK_INT_EQ(store_task_get(d.s, "tsk_nope", NULL, &got), STORE_NOTFOUND, "unknown id");
    CHECK_INT_EQ(store_task_get_by_provider_ref(d.s, "dashscope", "", &got), STORE_NOTFOUND,
                 "an empty provider task id finds nothing (not every unsubmitted task)");

    /* Unset optional fields: NULL JSON, 0 times. */
    struct task m;
    task_fill(&m, u2, 10001);
    m.inputs_json = NULL;
    m.reserved_plan = 0;
    m.plan_expires_at = 0;
    m.updated_at = 0;
    CHECK_INT_EQ(store_task_insert(d.s, &m), STORE_OK, "insert with nothing optional");
    struct task mw = m;
    mw.updated_at = m.created_at;
    CHECK_INT_EQ(store_task_get(d.s, m.id, u2, &got), STORE_OK, "get it");
    CHECK_TASK_EQ(got, mw, "NULL JSON stays NULL, updated_at = created_at");
    task_clear(&got);

    CHECK_INT_EQ(store_task_insert(d.s, &t), STORE_DUPLICATE, "an existing id is DUPLICATE");
    struct task bad;
    task_fill(&bad, u1, 10002);
    bad.reserved = 47;
    CHECK_INT_EQ(store_task_insert(d.s, &bad), STORE_ERROR, "reserved other than unit_credits x est_units is refused");
    task_fill(&bad, u1, 10003);
    bad.reserved_plan = 49;
    CHECK_INT_EQ(store_task_insert(d.s, &bad), STORE_ERROR, "reserved_plan above reserved is refused");
    task_fill(&bad, u1, 10004);
    snprintf(bad.status, sizeof bad.status, "succeeded");
    CHECK_INT_EQ(store_task_insert(d.s, &bad), STORE_ERROR, "a terminal status with nothing settled is refused");
    task_fill(&bad, u1, 10005);
    snprintf(bad.kind, sizeof bad.kind, "music");
    CHECK_INT_EQ(store_task_insert(d.s, &bad), STORE_ERROR, "an unknown kind is refused");
    task_fill(&bad, u1, 10006);
    bad.inputs_json = (char *)"{not json";
    CHECK_INT_EQ(store_task_insert(d.s, &bad), STORE_ERROR, "inputs that are not JSON are refused");
    task_fill(&bad, u1, 10007);
    snprintf(bad.user_id, sizeof bad.user_id, "usr_missing");
    CHECK_INT_EQ(store_task_insert(d.s, &bad), STORE_ERROR, "a task of no user is refused");
    task_fill(&bad, u1, 10008);
    bad.refunded = 5;
    CHECK_INT_EQ(store_task_insert(d.s, &bad), STORE_ERROR, "a live task that refunded something is refused");
    db_close(&d);
}

/* ---- the dispatcher's writes ---- */

static void test_update_finish(void)
{
    struct db d;
    db_open(&d);
    char u[TG_ID_MAX];
    make_user(d.s, u, "upd");
    struct task t, o, got;
    task_fill(&t, u, 10000);
    task_fill(&o, u, 10001);
    CHECK(store_task_insert(d.s, &t) == STORE_OK && store_task_insert(d.s, &o) == STORE_OK, "two tasks");

    struct task w = t;
    snprintf(w.status, sizeof w.status, "submitted");
    snprintf(w.phase, sizeof w.phase, "poll");
    w.progress = 10;
    snprintf(w.provider_task_id, sizeof w.provider_task_id, "ds-task-1");
    snprintf(w.key_id, sizeof w.key_id, "pk_one");
    w.attempts = 1;
    w.polls = 2;
    w.next_at = 15000;
    w.outputs_json = (char *)"{\"partial\":true}";
    snprintf(w.error_code, sizeof w.error_code, "rate_limited");
    snprintf(w.error_message, sizeof w.error_message, "retrying on another key");
    w.submitted_at = 12000;
    w.updated_at = 12001;
    /* Fields the update does not write stay as stored. */
    struct task ignored = w;
    ignored.reserved = 999;
    ignored.deadline_at = 1;
    snprintf(ignored.model, sizeof ignored.model, "other");
    CHECK_INT_EQ(store_task_update(d.s, &ignored, "running"), STORE_CONFLICT, "expecting the wrong status: CONFLICT");
    CHECK_INT_EQ(store_task_get(d.s, t.id, NULL, &got), STORE_OK, "read");
    CHECK_TASK_EQ(got, t, "a conflicting update changed nothing");
    task_clear(&got);
    CHECK_INT_EQ(store_task_update(d.s, &ignored, "queued"), STORE_OK, "queued -> submitted");
    CHECK_INT_EQ(store_task_get(d.s, t.id, NULL, &got), STORE_OK, "read");
    CHECK_TASK_EQ(got, w, "the dispatcher's fields written, the others kept");
    task_clear(&got);
    CHECK_INT_EQ(store_task_get_by_provider_ref(d.s, "dashscope", "ds-task-1", &got), STORE_OK,
                 "found by the provider's task id");
    CHECK_STR_EQ(got.id, t.id, "... the right task");
    task_clear(&got);
    CHECK_INT_EQ(store_task_get_by_provider_ref(d.s, "kie", "ds-task-1", &got), STORE_NOTFOUND,
                 "the same id at another provider is not found");

    struct task o2 = o;
    snprintf(o2.provider_task_id, sizeof o2.provider_task_id, "ds-task-1");
    CHECK_INT_EQ(store_task_update(d.s, &o2, "queued"), STORE_DUPLICATE,
                 "one provider task can belong to one task only");
    struct task term = w;
    snprintf(term.status, sizeof term.status, "succeeded");
    CHECK_INT_EQ(store_task_update(d.s, &term, "submitted"), STORE_ERROR, "update never writes a terminal status");

    CHECK_INT_EQ(store_task_set_next(d.s, t.id, 20000, 12002), STORE_OK, "a wake-up moves next_at");
    CHECK(store_task_get(d.s, t.id, NULL, &got) == STORE_OK && got.next_at == 20000 && got.updated_at == 12002,
          "next_at %lld", (long long)got.next_at);
    task_clear(&got);
    CHECK_INT_EQ(store_task_set_next(d.s, "tsk_nope", 1, 1), STORE_NOTFOUND, "set_next of no task: NOTFOUND");

    /* Finish: the one way to a terminal status. */
    struct task f = w;
    snprintf(f.status, sizeof f.status, "succeeded");
    snprintf(f.phase, sizeof f.phase, "collect"); /* written as "" whatever it says */
    f.progress = 100;
    f.settled = 40;
    f.refunded = 8;
    f.outputs_json = (char *)"[{\"file_id\":\"fil_out\"}]";
    f.error_code[0] = f.error_message[0] = '\0';
    f.finished_at = 30000;
    f.updated_at = 30000;
    f.next_at = 77; /* written as 0 */
    struct task fl = f;
    fl.finished_at = 0;
    CHECK_INT_EQ(store_task_finish(d.s, &fl), STORE_ERROR, "finish without finished_at is refused");
    struct task bad = f;
    bad.refunded = 9;
    CHECK_INT_EQ(store_task_finish(d.s, &bad), STORE_ERROR, "settled + refunded other than reserved is refused");
    CHECK_INT_EQ(store_task_finish(d.s, &f), STORE_OK, "finish as succeeded");
    struct task fw = f;
    fw.phase[0] = '\0';
    fw.next_at = 0;
    fw.updated_at = 30000;
    fw.submitted_at = w.submitted_at;
    CHECK_INT_EQ(store_task_get(d.s, t.id, u, &got), STORE_OK, "read");
    CHECK_TASK_EQ(got, fw, "terminal fields written, phase '' and next_at 0");
    task_clear(&got);
    struct task again = f;
    snprintf(again.status, sizeof again.status, "failed");
    again.settled = 0;
    again.refunded = 48;
    CHECK_INT_EQ(store_task_finish(d.s, &again), STORE_CONFLICT, "a second finish: CONFLICT");
    CHECK_INT_EQ(store_task_update(d.s, &w, "succeeded"), STORE_CONFLICT, "an update of a terminal task: CONFLICT");
    CHECK_INT_EQ(store_task_set_next(d.s, t.id, 1, 1), STORE_NOTFOUND, "set_next of a terminal task: NOTFOUND");
    CHECK(store_task_get(d.s, t.id, u, &got) == STORE_OK && strcmp(got.status, "succeeded") == 0 &&
              got.settled == 40 && got.next_at == 0,
          "the losers changed nothing");
    task_clear(&got);
    struct task live = o;
    snprintf(live.status, sizeof live.status, "running");
    live.finished_at = 1;
    CHECK_INT_EQ(store_task_finish(d.s, &live), STORE_ERROR, "finish never writes a live status");

    /* Inside a caller's transaction: a conflict is its own savepoint, the rest commits. */
    struct task of = o;
    snprintf(of.status, sizeof of.status, "canceled");
    of.settled = 0;
    of.refunded = 48;
    of.finished_at = of.updated_at = 31000;
    CHECK_INT_EQ(d.s->ops->begin(d.s, 1), STORE_OK, "begin a write transaction");
    CHECK_INT_EQ(store_task_finish(d.s, &again), STORE_CONFLICT, "in txn: the finished one conflicts");
    CHECK_INT_EQ(store_task_finish(d.s, &of), STORE_OK, "in txn: the other finishes");
    CHECK_INT_EQ(d.s->ops->commit(d.s), STORE_OK, "commit");
    CHECK(store_task_get(d.s, o.id, u, &got) == STORE_OK && strcmp(got.status, "canceled") == 0 &&
              got.refunded == 48,
          "committed");
    task_clear(&got);
    db_close(&d);
}

/* ---- lists and the live count ---- */

static void test_list(void)
{
    struct db d;
    db_open(&d);
    char u1[TG_ID_MAX], u2[TG_ID_MAX];
    make_user(d.s, u1, "l1");
    make_user(d.s, u2, "l2");
    char ids[7][TG_ID_MAX];
    static const char *const kinds[7] = {"image", "text_to_video", "image", "animate_mix", "image", "image",
                                         "text_to_video"};
    for (int i = 0; i < 7; i++) {
        struct task t;
        task_fill(&t, i < 5 ? u1 : u2, 10000 + i * 10);
        snprintf(t.kind, sizeof t.kind, "%s", kinds[i]);
        CHECK_INT_EQ(store_task_insert(d.s, &t), STORE_OK, "task %d", i);
        memcpy(ids[i], t.id, TG_ID_MAX);
    }
    /* Task 1 of u1 finishes: 4 live for u1. */
    struct task f;
    CHECK_INT_EQ(store_task_get(d.s, ids[1], NULL, &f), STORE_OK, "read task 1");
    snprintf(f.status, sizeof f.status, "failed");
    f.settled = 0;
    f.refunded = f.reserved;
    f.finished_at = f.updated_at = 20000;
    CHECK_INT_EQ(store_task_finish(d.s, &f), STORE_OK, "task 1 fails");
    task_clear(&f);
    int64_t n = -1;
    CHECK(store_task_count_live(d.s, u1, &n) == STORE_OK && n == 4, "u1 has 4 live tasks (%lld)", (long long)n);
    CHECK(store_task_count_live(d.s, u2, &n) == STORE_OK && n == 2, "u2 has 2 (%lld)", (long long)n);
    CHECK(store_task_count_live(d.s, "usr_nobody", &n) == STORE_OK && n == 0, "nobody has 0");

    struct task *v = NULL;
    size_t k = 0;
    struct task_filter fu = {.user_id = u1};
    CHECK(store_task_list(d.s, &fu, NULL, 2, &v, &k) == STORE_OK && k == 2 && strcmp(v[0].id, ids[4]) == 0 &&
              strcmp(v[1].id, ids[3]) == 0 && v[0].inputs_json != NULL,
          "u1, first page of 2: newest first");
    char cursor[TG_ID_MAX];
    memcpy(cursor, v[1].id, TG_ID_MAX);
    tasks_free(v, k);
    CHECK(store_task_list(d.s, &fu, cursor, 2, &v, &k) == STORE_OK && k == 2 && strcmp(v[0].id, ids[2]) == 0 &&
              strcmp(v[1].id, ids[1]) == 0,
          "second page: the next two");
    memcpy(cursor, v[1].id, TG_ID_MAX);
    tasks_free(v, k);
    CHECK(store_task_list(d.s, &fu, cursor, 2, &v, &k) == STORE_OK && k == 1 && strcmp(v[0].id, ids[0]) == 0,
          "last page: the oldest");
    memcpy(cursor, v[0].id, TG_ID_MAX);
    tasks_free(v, k);
    CHECK(store_task_list(d.s, &fu, cursor, 2, &v, &k) == STORE_OK && k == 0 && v == NULL,
          "past the end: empty, out NULL");

    struct task_filter fk = {.user_id = u1, .kind = "image"};
    CHECK(store_task_list(d.s, &fk, NULL, 50, &v, &k) == STORE_OK && k == 3 && strcmp(v[0].id, ids[4]) == 0 &&
              strcmp(v[2].id, ids[0]) == 0,
          "u1's images: 3");
    tasks_free(v, k);
    struct task_filter fs = {.user_id = u1, .status = "failed"};
    CHECK(store_task_list(d.s, &fs, NULL, 50, &v, &k) == STORE_OK && k == 1 && strcmp(v[0].id, ids[1]) == 0,
          "u1's failed: task 1");
    tasks_free(v, k);
    struct task_filter fsk = {.user_id = u1, .status = "queued", .kind = "text_to_video"};
    CHECK(store_task_list(d.s, &fsk, NULL, 50, &v, &k) == STORE_OK && k == 0, "u1's queued videos: none");
    tasks_free(v, k);
    struct task_filter fe = {.user_id = u2, .status = "", .kind = ""};
    CHECK(store_task_list(d.s, &fe, NULL, 50, &v, &k) == STORE_OK && k == 2 && strcmp(v[0].id, ids[6]) == 0,
          "empty filters mean any: u2's two");
    tasks_free(v, k);
    CHECK(store_task_list(d.s, NULL, NULL, 50, &v, &k) == STORE_OK && k == 7, "no filter: all 7");
    tasks_free(v, k);
    CHECK(store_task_list(d.s, NULL, "", 3, &v, &k) == STORE_OK && k == 3 && strcmp(v[0].id, ids[6]) == 0,
          "an empty cursor is the newest page");
    tasks_free(v, k);
    db_close(&d);
}

/* ---- the claim ---- */

static void test_claim(void)
{
    struct db d;
    db_open(&d);
    char u[TG_ID_MAX];
    make_user(d.s, u, "claim");
    /* Created in one order, due in another: t[0] due last. */
    struct task t[4];
    int64_t due[4] = {5000, 1000, 2000, 9000};
    for (int i = 0; i < 4; i++) {
        task_fill(&t[i], u, 100 + i);
        t[i].next_at = due[i];
        CHECK_INT_EQ(store_task_insert(d.s, &t[i]), STORE_OK, "task %d due at %lld", i, (long long)due[i]);
    }
    struct task *v = NULL;
    size_t n = 0;
    CHECK(store_tasks_claim(d.s, 500, 60000, 10, &v, &n) == STORE_OK && n == 0 && v == NULL, "nothing due at 500");
    CHECK(store_tasks_claim(d.s, 5000, 60000, 2, &v, &n) == STORE_OK && n == 2, "two of the three due at 5000");
    /* The earliest due are taken (t1 at 1000, t2 at 2000), returned oldest id first. */
    CHECK(n == 2 && strcmp(v[0].id, t[1].id) == 0 && strcmp(v[1].id, t[2].id) == 0 && v[0].next_at == 60000 &&
              v[1].next_at == 60000 && v[0].inputs_json != NULL,
          "the earliest due, leased until 60000");
    tasks_free(v, n);
    CHECK(store_tasks_claim(d.s, 5000, 60000, 10, &v, &n) == STORE_OK && n == 1 && strcmp(v[0].id, t[0].id) == 0,
          "then the last one due (t0), not the leased ones");
    tasks_free(v, n);
    CHECK(store_tasks_claim(d.s, 59999, 70000, 10, &v, &n) == STORE_OK && n == 1 && strcmp(v[0].id, t[3].id) == 0,
          "before the lease ends only t3 (due at 9000)");
    tasks_free(v, n);
    /* A terminal task is never claimed. */
    struct task f;
    CHECK_INT_EQ(store_task_get(d.s, t[1].id, NULL, &f), STORE_OK, "read t1");
    snprintf(f.status, sizeof f.status, "timed_out");
    f.settled = 0;
    f.refunded = f.reserved;
    f.finished_at = f.updated_at = 61000;
    CHECK_INT_EQ(store_task_finish(d.s, &f), STORE_OK, "t1 times out");
    task_clear(&f);
    CHECK(store_tasks_claim(d.s, 65000, 80000, 10, &v, &n) == STORE_OK && n == 2 && strcmp(v[0].id, t[0].id) == 0 &&
              strcmp(v[1].id, t[2].id) == 0,
          "after the lease: t0 and t2 again, not the finished t1 (n=%zu)", n);
    tasks_free(v, n);
    db_close(&d);
}

/* Two dispatchers, each on its own connection, claiming as fast as they can. */
#define RACE_TASKS 300
static char g_race_url[128];
static atomic_int g_race_fail;
static pthread_barrier_t g_race_start;
struct claimer {
    char (*ids)[TG_ID_MAX];
    size_t n;
    atomic_int claims;           /* claims that returned tasks */
    const struct claimer *other; /* the other dispatcher */
};

static void *race_claim(void *arg)
{
    struct claimer *c = arg;
    char *err = NULL;
    struct store *s = store_open(g_race_url, &err);
    free(err);
    if (s == NULL) {
        atomic_fetch_add(&g_race_fail, 1);
        return NULL;
    }
    c->ids = xmalloc(RACE_TASKS * sizeof *c->ids);
    pthread_barrier_wait(&g_race_start);
    for (int round = 0; round < 10 * RACE_TASKS; round++) {
        struct task *v = NULL;
        size_t n = 0;
        enum store_rc rc = store_tasks_claim(s, 10000, 1000000, 2, &v, &n);
        if (rc == STORE_BUSY)
            continue;
        if (rc != STORE_OK) {
            atomic_fetch_add(&g_race_fail, 1);
            break;
        }
        for (size_t i = 0; i < n; i++) {
            if (c->n < RACE_TASKS)
                memcpy(c->ids[c->n], v[i].id, TG_ID_MAX);
            c->n++;
        }
        tasks_free(v, n);
        if (n == 0)
            break;
        atomic_fetch_add(&c->claims, 1);
        /* Both must be claiming for the race to mean anything: after its first claim, each
         * waits (up to 10 s) until the other has made one too. */
        for (int w = 0; w < 10000 && atomic_load(&c->other->claims) == 0; w++)
            usleep(1000);
        usleep(200); /* a dispatcher works on what it claimed before it claims again */
    }
    store_close(s);
    return NULL;
}

static void test_claim_race(void)
{
    struct db d;
    db_open(&d);
    char u[TG_ID_MAX];
    make_user(d.s, u, "race");
    CHECK_INT_EQ(d.s->ops->begin(d.s, 1), STORE_OK, "begin");
    for (int i = 0; i < RACE_TASKS; i++) {
        struct task t;
        task_fill(&t, u, 100 + i);
        t.next_at = 1000 + (i * 7919) % 5000;
        if (store_task_insert(d.s, &t) != STORE_OK)
            atomic_fetch_add(&g_race_fail, 1);
    }
    CHECK_INT_EQ(d.s->ops->commit(d.s), STORE_OK, "%d tasks due", RACE_TASKS);
    snprintf(g_race_url, sizeof g_race_url, "%s", d.url);
    struct claimer c[2];
    memset(c, 0, sizeof c);
    c[0].other = &c[1];
    c[1].other = &c[0];
    pthread_t th[2];
    pthread_barrier_init(&g_race_start, NULL, 2);
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, race_claim, &c[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&g_race_start);
    CHECK_INT_EQ(atomic_load(&g_race_fail), 0, "every claim answered");
    CHECK(c[0].n > 0 && c[1].n > 0, "both dispatchers claimed some (%zu, %zu)", c[0].n, c[1].n);
    CHECK_INT_EQ(c[0].n + c[1].n, RACE_TASKS, "together they claimed every task, none twice");
    int both = 0;
    for (size_t i = 0; i < c[0].n; i++)
        for (size_t j = 0; j < c[1].n; j++)
            both += strcmp(c[0].ids[i], c[1].ids[j]) == 0;
    int dup = 0;
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < c[k].n; i++)
            for (size_t j = i + 1; j < c[k].n; j++)
                dup += strcmp(c[k].ids[i], c[k].ids[j]) == 0;
    CHECK(both == 0 && dup == 0, "no task was claimed twice (%d by both, %d twice by one)", both, dup);
    free(c[0].ids);
    free(c[1].ids);
    db_close(&d);
}

/* ---- the audit ---- */

struct found {
    int n;
    char what[16][200];
    char user[16][TG_ID_MAX];
};

static void on_violation(void *arg, const char *user_id, const char *what)
{
    struct found *f = arg;
    if (f->n < 16) {
        snprintf(f->what[f->n], sizeof f->what[f->n], "%s", what);
        snprintf(f->user[f->n], sizeof f->user[f->n], "%s", user_id);
    }
    f->n++;
}

static int check(struct store *s, struct found *f)
{
    memset(f, 0, sizeof *f);
    int64_t n = -1;
    if (store_tasks_check(s, on_violation, f, &n) != STORE_OK)
        return -1;
    for (int i = 0; i < f->n && i < 16; i++)
        printf("#   violation: %s: %s\n", f->user[i], f->what[i]);
    return n == f->n ? (int)n : -2;
}

static enum store_rc entry(struct store *s, const char *user_id, enum ledger_kind kind, enum ledger_bucket b,
                           int debit, int64_t amount, const char *task_id)
{
    struct ledger_op op = {.user_id = user_id,
                           .amount = amount,
                           .debit = debit,
                           .bucket = b,
                           .kind = kind,
                           .ref_type = "task",
                           .ref_id = task_id};
    return store_ledger_apply(s, &op, 5000, NULL, NULL);
}

static void test_check(void)
{
    struct db d;
    db_open(&d);
    char u[TG_ID_MAX], u2[TG_ID_MAX];
    make_user(d.s, u, "chk");
    make_user(d.s, u2, "chk2");
    struct ledger_op buy = {.user_id = u, .amount = 1000, .bucket = BUCKET_PAID, .kind = LK_PURCHASE,
                            .ref_type = "order", .ref_id = "ord_x"};
    CHECK_INT_EQ(store_ledger_apply(d.s, &buy, 1000, NULL, NULL), STORE_OK, "1000 paid credits");
    struct ledger_op plan = {.user_id = u, .amount = 300, .bucket = BUCKET_PLAN, .kind = LK_PLAN_GRANT,
                             .ref_type = "subscription", .ref_id = "sub_x:1", .plan_expires_at = 99999999};
    CHECK_INT_EQ(store_ledger_apply(d.s, &plan, 1000, NULL, NULL), STORE_OK, "300 plan credits");
    struct found f;
    CHECK_INT_EQ(check(d.s, &f), 0, "no tasks: clean");

    /* A live task reserved 48, 20 of them plan: clean. */
    struct task t;
    task_fill(&t, u, 10000);
    CHECK(store_task_insert(d.s, &t) == STORE_OK && entry(d.s, u, LK_SPEND, BUCKET_PLAN, 1, 20, t.id) == STORE_OK &&
              entry(d.s, u, LK_SPEND, BUCKET_PAID, 1, 28, t.id) == STORE_OK,
          "a live task and its spend");
    CHECK_INT_EQ(check(d.s, &f), 0, "a live task with its reservation: clean");

    /* A live task whose spend is missing. */
    struct task nospend;
    task_fill(&nospend, u, 10001);
    nospend.reserved_plan = 0;
    CHECK_INT_EQ(store_task_insert(d.s, &nospend), STORE_OK, "a task without its spend");
    CHECK_INT_EQ(check(d.s, &f), 1, "reported");
    CHECK(strstr(f.what[0], "spend is not its reservation") && strstr(f.what[0], nospend.id) &&
              strcmp(f.user[0], u) == 0,
          "... names the task (%s)", f.what[0]);
    CHECK_INT_EQ(entry(d.s, u, LK_SPEND, BUCKET_PAID, 1, 48, nospend.id), STORE_OK, "its spend, all paid");
    CHECK_INT_EQ(check(d.s, &f), 0, "clean again");

    /* The plan part must match reserved_plan. */
    struct task wrongplan;
    task_fill(&wrongplan, u, 10002);
    CHECK(store_task_insert(d.s, &wrongplan) == STORE_OK &&
              entry(d.s, u, LK_SPEND, BUCKET_PAID, 1, 48, wrongplan.id) == STORE_OK,
          "reserved_plan 20 but all 48 spent from paid");
    CHECK_INT_EQ(check(d.s, &f), 1, "the plan part is checked");
    char *sql = sqlite3_mprintf("UPDATE tasks SET reserved_plan = 0 WHERE id = %Q", wrongplan.id);
    CHECK(raw_exec(d.raw, sql), "raw: fix reserved_plan");
    sqlite3_free(sql);
    CHECK_INT_EQ(check(d.s, &f), 0, "clean");

    /* A refund while the task is live. */
    CHECK_INT_EQ(entry(d.s, u, LK_REFUND, BUCKET_PAID, 0, 48, wrongplan.id), STORE_OK, "refund a live task");
    CHECK_INT_EQ(check(d.s, &f), 1, "credits back while live are reported");
    CHECK(strstr(f.what[0], "out of turn") && strstr(f.what[0], wrongplan.id), "... (%s)", f.what[0]);
    /* Now it fails as the refund said: clean. */
    struct task wf;
    CHECK_INT_EQ(store_task_get(d.s, wrongplan.id, NULL, &wf), STORE_OK, "read");
    snprintf(wf.status, sizeof wf.status, "failed");
    wf.settled = 0;
    wf.refunded = 48;
    wf.finished_at = wf.updated_at = 20000;
    CHECK_INT_EQ(store_task_finish(d.s, &wf), STORE_OK, "it fails with 48 refunded");
    task_clear(&wf);
    CHECK_INT_EQ(check(d.s, &f), 0, "failed with its refund: clean");

    /* A terminal task without its refund. */
    struct task nof;
    CHECK_INT_EQ(store_task_get(d.s, nospend.id, NULL, &nof), STORE_OK, "read");
    snprintf(nof.status, sizeof nof.status, "canceled");
    nof.settled = 0;
    nof.refunded = 48;
    nof.finished_at = nof.updated_at = 20000;
    CHECK_INT_EQ(store_task_finish(d.s, &nof), STORE_OK, "canceled, no refund written");
    task_clear(&nof);
    CHECK_INT_EQ(check(d.s, &f), 1, "a refund that is not in the ledger is reported");
    CHECK(strstr(f.what[0], "do not match its entries") && strstr(f.what[0], nospend.id), "... (%s)", f.what[0]);
    /* A settle entry is the wrong kind for a canceled task. */
    CHECK_INT_EQ(entry(d.s, u, LK_SETTLE, BUCKET_PAID, 0, 48, nospend.id), STORE_OK, "a settle instead");
    CHECK_INT_EQ(check(d.s, &f), 2, "the wrong kind: still unmatched, and out of turn");
    CHECK_INT_EQ(entry(d.s, u, LK_REFUND, BUCKET_PAID, 0, 48, nospend.id), STORE_OK, "the refund too");
    CHECK_INT_EQ(check(d.s, &f), 1, "the settle of a canceled task stays reported");
    CHECK(strstr(f.what[0], "out of turn") && strstr(f.what[0], "settle"), "... (%s)", f.what[0]);

    /* Orphans: entries naming no task, or another user's. */
    struct db d2;
    db_open(&d2);
    char v[TG_ID_MAX], w[TG_ID_MAX];
    make_user(d2.s, v, "orph");
    make_user(d2.s, w, "orph2");
    struct ledger_op buy2 = {.user_id = v, .amount = 100, .bucket = BUCKET_PAID, .kind = LK_PURCHASE,
                             .ref_type = "order", .ref_id = "ord_y"};
    buy2.user_id = v;
    CHECK_INT_EQ(store_ledger_apply(d2.s, &buy2, 1000, NULL, NULL), STORE_OK, "credits for v");
    buy2.user_id = w;
    buy2.ref_id = "ord_z";
    CHECK_INT_EQ(store_ledger_apply(d2.s, &buy2, 1000, NULL, NULL), STORE_OK, "credits for w");
    CHECK_INT_EQ(entry(d2.s, v, LK_SPEND, BUCKET_PAID, 1, 5, "tsk_gone"), STORE_OK, "a spend of no task");
    CHECK_INT_EQ(check(d2.s, &f), 1, "an orphan spend is reported");
    CHECK(strstr(f.what[0], "without its user's task") && strstr(f.what[0], "tsk_gone") && strcmp(f.user[0], v) == 0,
          "... (%s)", f.what[0]);
    struct task vt;
    task_fill(&vt, v, 10000);
    vt.unit_credits = 1;
    vt.est_units = 5;
    vt.reserved = 5;
    vt.reserved_plan = 0;
    CHECK(store_task_insert(d2.s, &vt) == STORE_OK && entry(d2.s, v, LK_SPEND, BUCKET_PAID, 1, 5, vt.id) == STORE_OK,
          "v's task and its spend");
    CHECK_INT_EQ(check(d2.s, &f), 1, "v's task is clean, the orphan stays");
    struct task wt;
    task_fill(&wt, w, 10001);
    wt.unit_credits = 1;
    wt.est_units = 5;
    wt.reserved = 5;
    wt.reserved_plan = 0;
    CHECK(store_task_insert(d2.s, &wt) == STORE_OK && entry(d2.s, v, LK_SPEND, BUCKET_PAID, 1, 5, wt.id) == STORE_OK,
          "w's task, whose spend was written to v");
    CHECK_INT_EQ(check(d2.s, &f), 3, "w's task without its spend, and v's entry on another user's task");
    int saw_v = 0, saw_w = 0;
    for (int i = 0; i < f.n && i < 16; i++) {
        saw_v |= strcmp(f.user[i], v) == 0 && strstr(f.what[i], wt.id) != NULL &&
                 strstr(f.what[i], "without its user's task") != NULL;
        saw_w |= strcmp(f.user[i], w) == 0 && strstr(f.what[i], wt.id) != NULL &&
                 strstr(f.what[i], "spend is not its reservation") != NULL;
    }
    CHECK(saw_v && saw_w, "... both named");
    int64_t count = -1;
    CHECK(store_tasks_check(d2.s, NULL, NULL, &count) == STORE_OK && count == 3, "fn NULL: counted (%lld)",
          (long long)count);
    db_close(&d2);
    db_close(&d);
}

/* ---- provider keys ---- */

static int pkey_eq(const struct provider_key *a, const struct provider_key *b)
{
    return strcmp(a->id, b->id) == 0 && strcmp(a->provider, b->provider) == 0 && strcmp(a->label, b->label) == 0 &&
           strcmp(a->prefix, b->prefix) == 0 && strcmp(a->source, b->source) == 0 &&
           a->secret_box_len == b->secret_box_len && memcmp(a->secret_box, b->secret_box, a->secret_box_len) == 0 &&
           a->disabled == b->disabled && strcmp(a->disabled_reason, b->disabled_reason) == 0 && a->uses == b->uses &&
           a->failures == b->failures && a->last_used_at == b->last_used_at &&
           strcmp(a->last_error, b->last_error) == 0 && a->created_at == b->created_at &&
           a->updated_at == b->updated_at;
}

static void test_pkeys(void)
{
    struct db d;
    db_open(&d);
    struct provider_key env, adm, got;
    memset(&env, 0, sizeof env);
    snprintf(env.id, sizeof env.id, "pk_envdeterministic01");
    snprintf(env.provider, sizeof env.provider, "dashscope");
    snprintf(env.label, sizeof env.label, "TG_DASHSCOPE_API_KEYS #1");
    snprintf(env.prefix, sizeof env.prefix, "sk-ab");
    snprintf(env.source, sizeof env.source, "env");
    env.created_at = env.updated_at = 1000;
    CHECK_INT_EQ(store_pkey_insert(d.s, &env), STORE_OK, "an env key (no secret)");
    CHECK_INT_EQ(store_pkey_insert(d.s, &env), STORE_DUPLICATE, "recorded again at the next start: DUPLICATE");

    memset(&adm, 0, sizeof adm);
    id_new_at(adm.id, "pk", 2000);
    snprintf(adm.provider, sizeof adm.provider, "kie");
    snprintf(adm.label, sizeof adm.label, "backup account");
    snprintf(adm.prefix, sizeof adm.prefix, "kie_9");
    snprintf(adm.source, sizeof adm.source, "admin");
    for (size_t i = 0; i < 60; i++)
        adm.secret_box[i] = (unsigned char)(i * 37); /* contains NUL bytes */
    adm.secret_box_len = 60;
    adm.disabled = 1;
    snprintf(adm.disabled_reason, sizeof adm.disabled_reason, "401 from provider");
    adm.uses = 3;
    adm.failures = 1;
    adm.last_used_at = 1500;
    snprintf(adm.last_error, sizeof adm.last_error, "http 401");
    adm.created_at = 2000;
    adm.updated_at = 2001;
    CHECK_INT_EQ(store_pkey_insert(d.s, &adm), STORE_OK, "an admin key with its sealed secret");
    CHECK(store_pkey_get(d.s, adm.id, &got) == STORE_OK && pkey_eq(&got, &adm), "every field reads back");
    CHECK(store_pkey_get(d.s, env.id, &got) == STORE_OK && pkey_eq(&got, &env) && got.secret_box_len == 0,
          "the env key has no secret stored");
    CHECK_INT_EQ(store_pkey_get(d.s, "pk_nope", &got), STORE_NOTFOUND, "unknown key");
    CHECK(got.id[0] == 0 && got.secret_box_len == 0, "a miss leaves the output zeroed");

    struct provider_key bad = adm;
    id_new_at(bad.id, "pk", 2002);
    bad.secret_box_len = 0;
    CHECK_INT_EQ(store_pkey_insert(d.s, &bad), STORE_ERROR, "an admin key without a secret is refused");
    bad = env;
    snprintf(bad.id, sizeof bad.id, "pk_envwithsecret");
    bad.secret_box_len = 4;
    CHECK_INT_EQ(store_pkey_insert(d.s, &bad), STORE_ERROR, "an env key with a stored secret is refused");

    struct provider_key *v = NULL;
    size_t n = 0;
    CHECK(store_pkey_list(d.s, NULL, &v, &n) == STORE_OK && n == 2 && strcmp(v[0].id, env.id) == 0 &&
              strcmp(v[1].id, adm.id) == 0,
          "all keys, oldest first");
    free(v);
    CHECK(store_pkey_list(d.s, "kie", &v, &n) == STORE_OK && n == 1 && strcmp(v[0].id, adm.id) == 0, "kie's keys");
    free(v);
    CHECK(store_pkey_list(d.s, "gemini", &v, &n) == STORE_OK && n == 0 && v == NULL, "gemini has none");

    CHECK_INT_EQ(store_pkey_set_disabled(d.s, adm.id, 0, "ignored", 3000), STORE_OK, "enable");
    CHECK(store_pkey_get(d.s, adm.id, &got) == STORE_OK && !got.disabled && got.disabled_reason[0] == 0 &&
              got.updated_at == 3000,
          "enabled: the reason is cleared");
    CHECK_INT_EQ(store_pkey_set_disabled(d.s, env.id, 1, "403 forbidden", 3001), STORE_OK, "disable the env key");
    CHECK(store_pkey_get(d.s, env.id, &got) == STORE_OK && got.disabled &&
              strcmp(got.disabled_reason, "403 forbidden") == 0,
          "disabled with its reason");
    CHECK_INT_EQ(store_pkey_set_disabled(d.s, "pk_nope", 1, "x", 1), STORE_NOTFOUND, "disable no key: NOTFOUND");

    CHECK_INT_EQ(store_pkey_add_stats(d.s, adm.id, 5, 2, 4000, "timeout", 4000), STORE_OK, "add stats");
    CHECK_INT_EQ(store_pkey_add_stats(d.s, adm.id, 1, 0, 3500, NULL, 4001), STORE_OK, "add more, an older use");
    CHECK(store_pkey_get(d.s, adm.id, &got) == STORE_OK && got.uses == 9 && got.failures == 3 &&
              got.last_used_at == 4000 && strcmp(got.last_error, "timeout") == 0 && got.updated_at == 4001,
          "counters add up, last_used_at never goes back, NULL keeps the last error");
    CHECK_INT_EQ(store_pkey_add_stats(d.s, adm.id, -1, 0, 0, NULL, 1), STORE_ERROR, "negative counts are refused");
    CHECK_INT_EQ(store_pkey_add_stats(d.s, "pk_nope", 1, 0, 1, NULL, 1), STORE_NOTFOUND, "stats of no key: NOTFOUND");
    db_close(&d);
}

/* ---- files ---- */

static int file_eq(const struct stored_file *a, const struct stored_file *b)
{
    return strcmp(a->id, b->id) == 0 && strcmp(a->user_id, b->user_id) == 0 && strcmp(a->purpose, b->purpose) == 0 &&
           strcmp(a->task_id, b->task_id) == 0 && strcmp(a->backend, b->backend) == 0 && strcmp(a->key, b->key) == 0 &&
           strcmp(a->content_type, b->content_type) == 0 && a->size == b->size && strcmp(a->status, b->status) == 0 &&
           a->width == b->width && a->height == b->height && a->duration_ms == b->duration_ms &&
           a->created_at == b->created_at && a->updated_at == b->updated_at && a->expires_at == b->expires_at;
}

static void file_fill(struct stored_file *f, const char *user_id, const char *task_id, int64_t at)
{
    memset(f, 0, sizeof *f);
    id_new_at(f->id, "fil", at);
    snprintf(f->user_id, sizeof f->user_id, "%s", user_id);
    snprintf(f->purpose, sizeof f->purpose, "%s", task_id ? "output" : "input");
    if (task_id)
        snprintf(f->task_id, sizeof f->task_id, "%s", task_id);
    snprintf(f->backend, sizeof f->backend, "local");
    if (task_id)
        snprintf(f->key, sizeof f->key, "out/%s/%s/%lld", user_id, task_id, (long long)at);
    else
        snprintf(f->key, sizeof f->key, "in/%s/%s", user_id, f->id);
    snprintf(f->content_type, sizeof f->content_type, "video/mp4");
    f->size = 1234567;
    snprintf(f->status, sizeof f->status, "%s", task_id ? "ready" : "pending");
    f->created_at = at;
    f->updated_at = at;
    f->expires_at = task_id ? 0 : at + 900000;
}

static void test_files(void)
{
    struct db d;
    db_open(&d);
    char u[TG_ID_MAX], u2[TG_ID_MAX];
    make_user(d.s, u, "fu");
    make_user(d.s, u2, "fu2");
    struct stored_file in, got;
    file_fill(&in, u, NULL, 10000);
    CHECK_INT_EQ(store_file_insert(d.s, &in), STORE_OK, "an upload, pending");
    CHECK(store_file_get(d.s, in.id, NULL, &got) == STORE_OK && file_eq(&got, &in), "every field reads back");
    CHECK(store_file_get(d.s, in.id, u, &got) == STORE_OK && file_eq(&got, &in), "as its owner");
    CHECK_INT_EQ(store_file_get(d.s, in.id, u2, &got), STORE_NOTFOUND, "another user cannot see it");
    CHECK(got.id[0] == 0 && got.key[0] == 0, "a miss leaves the output zeroed");
    CHECK(store_file_get_by_key(d.s, "local", in.key, &got) == STORE_OK && file_eq(&got, &in), "by its key");
    CHECK_INT_EQ(store_file_get_by_key(d.s, "s3", in.key, &got), STORE_NOTFOUND, "the key in another backend");

    struct stored_file dup;
    file_fill(&dup, u2, NULL, 10001);
    snprintf(dup.key, sizeof dup.key, "%s", in.key);
    CHECK_INT_EQ(store_file_insert(d.s, &dup), STORE_DUPLICATE, "a second file under one key is DUPLICATE");
    CHECK_INT_EQ(store_file_insert(d.s, &in), STORE_DUPLICATE, "an existing id is DUPLICATE");
    struct stored_file bad;
    file_fill(&bad, u, NULL, 10002);
    snprintf(bad.purpose, sizeof bad.purpose, "output");
    CHECK_INT_EQ(store_file_insert(d.s, &bad), STORE_ERROR, "an output without its task is refused");

    CHECK_INT_EQ(store_file_set_ready(d.s, in.id, "video/quicktime", 2000000, 720, 1280, 9500, 11000), STORE_OK,
                 "the upload arrived");
    struct stored_file want = in;
    snprintf(want.content_type, sizeof want.content_type, "video/quicktime");
    want.size = 2000000;
    want.width = 720;
    want.height = 1280;
    want.duration_ms = 9500;
    snprintf(want.status, sizeof want.status, "ready");
    want.updated_at = 11000;
    CHECK(store_file_get(d.s, in.id, u, &got) == STORE_OK && file_eq(&got, &want), "ready with what was probed");
    CHECK_INT_EQ(store_file_set_ready(d.s, in.id, "video/mp4", 1, 1, 1, 1, 12000), STORE_CONFLICT,
                 "ready twice: CONFLICT");
    CHECK(store_file_get(d.s, in.id, u, &got) == STORE_OK && file_eq(&got, &want), "... nothing changed");
    CHECK_INT_EQ(store_file_set_ready(d.s, "fil_nope", "x", 1, 0, 0, 0, 1), STORE_NOTFOUND, "no such file");

    struct task t;
    task_fill(&t, u, 10000);
    CHECK_INT_EQ(store_task_insert(d.s, &t), STORE_OK, "a task");
    struct stored_file o1, o2;
    file_fill(&o2, u, t.id, 20002);
    file_fill(&o1, u, t.id, 20001);
    CHECK(store_file_insert(d.s, &o2) == STORE_OK && store_file_insert(d.s, &o1) == STORE_OK, "two outputs");
    struct stored_file *v = NULL;
    size_t n = 0;
    CHECK(store_files_of_task(d.s, t.id, &v, &n) == STORE_OK && n == 2 && file_eq(&v[0], &o1) &&
              file_eq(&v[1], &o2),
          "the task's outputs, oldest first");
    free(v);
    CHECK(store_files_of_task(d.s, "tsk_none", &v, &n) == STORE_OK && n == 0 && v == NULL, "no outputs");
    db_close(&d);
}

/* store_task_versions: the event streams' one-statement look at many tasks. */
static void test_task_versions(void)
{
    struct db d;
    db_open(&d);
    char uid[TG_ID_MAX];
    make_user(d.s, uid, "versions");
    struct task t[3];
    for (int i = 0; i < 3; i++) {
        task_fill(&t[i], uid, 5000 + i);
        t[i].progress = 10 * i;
        CHECK(store_task_insert(d.s, &t[i]) == STORE_OK, "versions: insert %d", i);
    }
    char missing[TG_ID_MAX];
    id_new(missing, "tsk");
    const char *ids[4] = {t[2].id, missing, t[0].id, t[1].id};
    struct task_version v[4];
    size_t found = 99;
    CHECK(store_task_versions(d.s, ids, 4, v, &found) == STORE_OK, "versions: read");
    CHECK_INT_EQ(found, 3, "versions: the three that exist, the unknown id left out");
    int seen = 0;
    for (size_t i = 0; i < found; i++)
        for (int j = 0; j < 3; j++)
            if (strcmp(v[i].id, t[j].id) == 0) {
                seen |= 1 << j;
                CHECK(strcmp(v[i].status, "queued") == 0 && v[i].progress == 10 * j &&
                          v[i].updated_at == t[j].updated_at,
                      "versions: task %d's status, progress and updated_at", j);
            }
    CHECK_INT_EQ(seen, 7, "versions: each task once");

    char *sql = xasprintf("UPDATE tasks SET status = 'running', phase = 'poll', progress = 55, updated_at = 9000"
                          " WHERE id = '%s'",
                          t[1].id);
    CHECK(raw_exec(d.raw, sql), "versions: another connection moves a task");
    free(sql);
    const char *one[1] = {t[1].id};
    CHECK(store_task_versions(d.s, one, 1, v, &found) == STORE_OK && found == 1, "versions: read one");
    CHECK(strcmp(v[0].status, "running") == 0 && v[0].progress == 55 && v[0].updated_at == 9000,
          "versions: the change is seen");

    CHECK(store_task_versions(d.s, ids, 0, v, &found) == STORE_OK && found == 0, "versions: no ids, nothing");

    /* The largest batch: STORE_TASK_VERSIONS_MAX ids, three of them stored. */
    const char **many = xcalloc(STORE_TASK_VERSIONS_MAX + 1, sizeof *many);
    char(*mids)[TG_ID_MAX] = xcalloc(STORE_TASK_VERSIONS_MAX + 1, TG_ID_MAX);
    for (size_t i = 0; i <= STORE_TASK_VERSIONS_MAX; i++) {
        id_new(mids[i], "tsk");
        many[i] = mids[i];
    }
    many[7] = t[0].id;
    many[500] = t[1].id;
    many[STORE_TASK_VERSIONS_MAX - 1] = t[2].id;
    struct task_version *mv = xcalloc(STORE_TASK_VERSIONS_MAX + 1, sizeof *mv);
    CHECK(store_task_versions(d.s, many, STORE_TASK_VERSIONS_MAX, mv, &found) == STORE_OK && found == 3,
          "versions: %d ids in one statement", STORE_TASK_VERSIONS_MAX);
    CHECK(store_task_versions(d.s, many, STORE_TASK_VERSIONS_MAX + 1, mv, &found) == STORE_ERROR && found == 0,
          "versions: one id more is refused");
    /* An id is spliced into a JSON array: anything but an id's characters is refused. */
    const char *evil[2] = {t[0].id, "tsk_x\",\"y"};
    CHECK(store_task_versions(d.s, evil, 2, mv, &found) == STORE_ERROR && found == 0,
          "versions: an id with a quote is refused, not spliced");
    free(mv);
    free(mids);
    free(many);
    db_close(&d);
}

int main(void)
{
    snprintf(g_tmpdir, sizeof g_tmpdir, "%s/tg-tasks-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(g_tmpdir) == NULL) {
        printf("Bail out! mkdtemp\n");
        return 1;
    }
    test_insert_get();
    test_update_finish();
    test_list();
    test_claim();
    test_claim_race();
    test_check();
    test_pkeys();
    test_files();
    test_task_versions();
    if (test_failed_ == 0) {
        char *cmd = xasprintf("rm -rf '%s'", g_tmpdir);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", g_tmpdir);
        free(cmd);
    } else {
        printf("# database files kept in %s\n", g_tmpdir);
    }
    return test_done();
}
