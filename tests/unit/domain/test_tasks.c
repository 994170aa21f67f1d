/* Unit tests for src/domain/tasks.c against a temporary SQLite store: the kind and status
 * helpers, tasks_cost, the reservation on submit (plan credits first), settle and refund
 * arithmetic in both buckets, a refund after the plan month ended going to paid credits,
 * refusals that change nothing (insufficient credits, the live cap), Idempotency-Key replay
 * and reuse, cancel and its ownership, and one task finished at once by succeed, fail,
 * cancel and timeout from several connections: exactly one wins, once. After every scenario
 * `tollgate audit`'s ledger and task checks must be clean. */
#include "../test.h"

#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/ids.h"
#include "core/mem.h"
#include "crypto/random.h"
#include "domain/idempotency.h"
#include "domain/ledger.h"
#include "domain/tasks.h"
#include "store/backend.h"
#include "store/call.h"
#include "store/store.h"

static char tmpdir[] = "/tmp/tg_test_tasks_XXXXXX";
static char g_url[300];
static struct store *g_s;

#define T0 1780000000000LL /* 2026-05-28 */
#define DAY (24LL * 60 * 60 * 1000)

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void make_user(char id[TG_ID_MAX])
{
    struct user u;
    memset(&u, 0, sizeof u);
    id_new(u.id, "usr");
    snprintf(u.email, sizeof u.email, "%s@example.test", u.id);
    snprintf(u.role, sizeof u.role, "user");
    u.created_at = u.updated_at = T0;
    if (store_user_create(g_s, &u) != STORE_OK) {
        printf("Bail out! user\n");
        exit(1);
    }
    memcpy(id, u.id, TG_ID_MAX);
}

/* Credits for user: paid ones, and plan ones expiring at plan_end. */
static void give(const char *user_id, int64_t paid, int64_t plan, int64_t plan_end)
{
    char ref[TG_ID_MAX];
    if (paid > 0) {
        id_new(ref, "ord");
        struct ledger_op op = {.user_id = user_id, .amount = paid, .bucket = BUCKET_PAID, .kind = LK_PURCHASE,
                               .ref_type = "order", .ref_id = ref};
        CHECK(store_ledger_apply(g_s, &op, T0, NULL, NULL) == STORE_OK, "%lld paid credits", (long long)paid);
    }
    if (plan > 0) {
        id_new(ref, "sub");
        struct ledger_op op = {.user_id = user_id, .amount = plan, .bucket = BUCKET_PLAN, .kind = LK_PLAN_GRANT,
                               .ref_type = "subscription", .ref_id = ref, .plan_expires_at = plan_end};
        CHECK(store_ledger_apply(g_s, &op, T0, NULL, NULL) == STORE_OK, "%lld plan credits", (long long)plan);
    }
}

static struct wallet wallet_of(const char *user_id)
{
    struct wallet w;
    store_wallet_get(g_s, user_id, &w);
    return w;
}

/* A task of user_id priced per second (unit credits x units) or per task. */
static void task_new(struct task *t, const char *user_id, const char *unit, int64_t unit_credits, int64_t units)
{
    memset(t, 0, sizeof *t);
    id_new(t->id, "tsk");
    snprintf(t->user_id, sizeof t->user_id, "%s", user_id);
    snprintf(t->kind, sizeof t->kind, "%s", strcmp(unit, "second") == 0 ? "animate_move" : "image");
    snprintf(t->provider, sizeof t->provider, "sandbox");
    snprintf(t->model, sizeof t->model, "sandbox");
    t->inputs_json = (char *)"{\"prompt\":\"a cat\"}";
    snprintf(t->price_unit, sizeof t->price_unit, "%s", unit);
    t->unit_credits = unit_credits;
    t->est_units = units;
    t->reserved = unit_credits * units;
    t->next_at = T0;
    t->deadline_at = T0 + 3600000;
    t->created_at = T0;
}

/* ---- the calls, as the API and the dispatcher make them ---- */

static char *render(const struct task *t, int *status)
{
    *status = 202;
    return xasprintf("{\"id\":\"%s\",\"reserved\":%lld,\"reserved_plan\":%lld}", t->id, (long long)t->reserved,
                     (long long)t->reserved_plan);
}

struct submit_call {
    struct store_call call;
    struct idem *idem;
    struct task *t;
    int64_t max_live, now;
    enum tasks_submit_outcome outcome;
};

static enum store_rc submit_run(struct store *s, struct store_call *c)
{
    struct submit_call *f = (struct submit_call *)c;
    return tasks_submit_tx(s, f->idem, f->t, f->max_live, render, f->now, &f->outcome);
}

static enum store_rc submit_on(struct store *s, struct idem *idem, struct task *t, int64_t max_live, int64_t now,
                               enum tasks_submit_outcome *outcome)
{
    struct submit_call f;
    memset(&f, 0, sizeof f);
    f.call.kind = STORE_CALL_WRITE;
    f.call.run = submit_run;
    f.idem = idem;
    f.t = t;
    f.max_live = max_live;
    f.now = now;
    f.outcome = (enum tasks_submit_outcome)-1;
    enum store_rc rc = store_call_run_sync(s, &f.call);
    *outcome = f.outcome;
    return rc;
}

enum end_kind { END_SUCCEED, END_FAIL, END_TIMEOUT, END_CANCEL };

struct end_call {
    struct store_call call;
    enum end_kind kind;
    struct task *t; /* as read (succeed, fail, timeout) */
    int64_t units;
    const char *user_id; /* cancel */
    int64_t now;
    struct task out; /* cancel */
};

static enum store_rc end_run(struct store *s, struct store_call *c)
{
    struct end_call *f = (struct end_call *)c;
    switch (f->kind) {
    case END_SUCCEED:
        return tasks_succeed_tx(s, f->t, f->units, "[{\"file_id\":\"fil_out\"}]", f->now);
    case END_FAIL:
        return tasks_fail_tx(s, f->t, "failed", "provider_error", "the provider refused the input", f->now);
    case END_TIMEOUT:
        return tasks_fail_tx(s, f->t, "timed_out", "timeout", "no result before the deadline", f->now);
    case END_CANCEL:
        return tasks_cancel_tx(s, f->user_id, f->t->id, f->now, &f->out);
    }
    return STORE_ERROR;
}

static enum store_rc end_on(struct store *s, enum end_kind kind, struct task *t, int64_t units, const char *user_id,
                            int64_t now, struct task *cancel_out)
{
    struct end_call f;
    memset(&f, 0, sizeof f);
    f.call.kind = STORE_CALL_WRITE;
    f.call.run = end_run;
    f.kind = kind;
    f.t = t;
    f.units = units;
    f.user_id = user_id;
    f.now = now;
    enum store_rc rc = store_call_run_sync(s, &f.call);
    if (cancel_out)
        *cancel_out = f.out;
    else
        task_clear(&f.out);
    return rc;
}

/* The sum of the task's entries of kind in bucket b (b < 0: both), and how many. */
static int64_t entries(const char *task_id, enum ledger_kind kind, int b, int *count)
{
    struct ledger_entry e[2];
    size_t n = 0;
    int64_t sum = 0;
    if (count)
        *count = 0;
    if (store_ledger_get_by_ref(g_s, kind, "task", task_id, e, &n) != STORE_OK)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (b >= 0 && (int)e[i].bucket != b)
            continue;
        sum += e[i].delta;
        if (count)
            (*count)++;
    }
    return sum;
}

static void audit_clean(const char *after)
{
    int64_t v = -1, w = -1, tv = -1;
    CHECK(store_ledger_check(g_s, NULL, NULL, &v, &w) == STORE_OK && v == 0, "ledger audit clean after %s", after);
    CHECK(store_tasks_check(g_s, NULL, NULL, &tv) == STORE_OK && tv == 0, "task audit clean after %s (%lld)", after,
          (long long)tv);
}

static struct task read_task(const char *id)
{
    struct task t;
    store_task_get(g_s, id, NULL, &t);
    return t;
}

/* ---- helpers ---- */

static void test_helpers(void)
{
    enum task_kind_id k;
    CHECK(task_kind_parse("animate_move", &k) == 0 && k == TASK_ANIMATE_MOVE, "parse animate_move");
    CHECK(task_kind_parse("text_to_video", &k) == 0 && k == TASK_TEXT_TO_VIDEO, "parse text_to_video");
    CHECK(task_kind_parse("Image", &k) == -1 && task_kind_parse("", &k) == -1 && task_kind_parse(NULL, &k) == -1,
          "unknown kinds are refused");
    for (int i = 0; i < TASK__COUNT; i++)
        CHECK(task_kind_parse(task_kind_name((enum task_kind_id)i), &k) == 0 && (int)k == i, "name/parse %d", i);
    CHECK_STR_EQ(task_kind_name(TASK__COUNT), "unknown", "out of range: unknown");
    CHECK(task_status_live("queued") && task_status_live("submitted") && task_status_live("running") &&
              !task_status_live("succeeded") && !task_status_live("canceled") && !task_status_live(NULL),
          "live statuses");
    CHECK(task_status_valid("timed_out") && task_status_valid("failed") && task_status_valid("queued") &&
              !task_status_valid("done") && !task_status_valid(""),
          "valid statuses");

    struct task t;
    task_new(&t, "usr_x", "second", 4, 12);
    CHECK_INT_EQ(tasks_cost(&t, 0), 48, "units 0: the estimate");
    CHECK_INT_EQ(tasks_cost(&t, -3), 48, "negative units: the estimate");
    CHECK_INT_EQ(tasks_cost(&t, 7), 28, "7 s at 4 credits");
    CHECK_INT_EQ(tasks_cost(&t, 13), 48, "longer than estimated: capped at what was reserved");
    CHECK_INT_EQ(tasks_cost(&t, INT64_MAX), 48, "absurd units: capped");
    task_new(&t, "usr_x", "task", 10, 1);
    CHECK_INT_EQ(tasks_cost(&t, 5), 10, "priced per task: units do not matter");
    t.unit_credits = INT64_MAX / 2;
    t.est_units = 3;
    t.reserved = 1000;
    snprintf(t.price_unit, sizeof t.price_unit, "second");
    CHECK_INT_EQ(tasks_cost(&t, 3), 1000, "a price that would overflow: the reservation");
    task_new(&t, "usr_x", "task", 0, 1);
    CHECK_INT_EQ(tasks_cost(&t, 1), 0, "a free task costs nothing");
}

/* ---- reserve, settle, refund ---- */

static void test_settle_both_buckets(void)
{
    char u[TG_ID_MAX];
    make_user(u);
    int64_t plan_end = T0 + 20 * DAY;
    give(u, 100, 30, plan_end);
    struct task t;
    task_new(&t, u, "second", 4, 12);
    enum tasks_submit_outcome out;
    CHECK(submit_on(g_s, NULL, &t, 0, T0, &out) == STORE_OK && out == TASKS_CREATED, "submitted");
    struct wallet w = wallet_of(u);
    CHECK(w.plan_credits == 0 && w.paid_credits == 82, "48 reserved: all 30 plan, then 18 paid (plan %lld paid %lld)",
          (long long)w.plan_credits, (long long)w.paid_credits);
    CHECK(t.reserved_plan == 30 && t.plan_expires_at == plan_end && t.settled == -1 && t.refunded == 0 &&
              strcmp(t.status, "queued") == 0 && strcmp(t.phase, "submit") == 0,
          "the task knows where its credits came from");
    struct task s = read_task(t.id);
    CHECK(s.reserved == 48 && s.reserved_plan == 30 && s.plan_expires_at == plan_end && strcmp(s.status, "queued") == 0,
          "... and so does the stored one");
    task_clear(&s);
    CHECK(entries(t.id, LK_SPEND, BUCKET_PLAN, NULL) == -30 && entries(t.id, LK_SPEND, BUCKET_PAID, NULL) == -18,
          "spend entries: -30 plan, -18 paid");
    audit_clean("a reservation");

    /* 7 s of output at 4: 28 charged, 20 back - the 18 paid first, then 2 plan. */
    s = read_task(t.id);
    CHECK_INT_EQ(end_on(g_s, END_SUCCEED, &s, 7, NULL, T0 + 1000, NULL), STORE_OK, "succeeded with 7 s");
    CHECK(strcmp(s.status, "succeeded") == 0 && s.settled == 28 && s.refunded == 20 && s.progress == 100 &&
              s.phase[0] == 0 && s.finished_at == T0 + 1000 && s.outputs_json &&
              strstr(s.outputs_json, "fil_out") != NULL,
          "the caller's copy is what was stored");
    task_clear(&s);
    s = read_task(t.id);
    CHECK(strcmp(s.status, "succeeded") == 0 && s.settled == 28 && s.refunded == 20 && s.next_at == 0, "stored");
    task_clear(&s);
    w = wallet_of(u);
    CHECK(w.plan_credits == 2 && w.paid_credits == 100, "paid back first: plan %lld paid %lld",
          (long long)w.plan_credits, (long long)w.paid_credits);
    CHECK(entries(t.id, LK_SETTLE, BUCKET_PAID, NULL) == 18 && entries(t.id, LK_SETTLE, BUCKET_PLAN, NULL) == 2 &&
              entries(t.id, LK_REFUND, -1, NULL) == 0,
          "settle entries +18 paid, +2 plan; no refund entries");
    audit_clean("a partial settle");

    /* A partial settle smaller than the paid part returns paid credits only. */
    struct task t2;
    task_new(&t2, u, "second", 4, 10); /* 40: 2 plan + 38 paid */
    CHECK(submit_on(g_s, NULL, &t2, 0, T0 + 2000, &out) == STORE_OK && out == TASKS_CREATED && t2.reserved_plan == 2,
          "a second task takes the 2 plan credits left");
    s = read_task(t2.id);
    CHECK_INT_EQ(end_on(g_s, END_SUCCEED, &s, 5, NULL, T0 + 3000, NULL), STORE_OK, "5 s of 10");
    task_clear(&s);
    w = wallet_of(u);
    CHECK(w.plan_credits == 0 && w.paid_credits == 100 - 38 + 20, "20 back to paid, the plan part spent (%lld/%lld)",
          (long long)w.plan_credits, (long long)w.paid_credits);
    CHECK(entries(t2.id, LK_SETTLE, BUCKET_PAID, NULL) == 20 && entries(t2.id, LK_SETTLE, BUCKET_PLAN, NULL) == 0,
          "one settle entry, paid");

    /* The estimate exactly (units <= 0): nothing back, no settle entry. */
    struct task t3;
    task_new(&t3, u, "task", 10, 1);
    CHECK(submit_on(g_s, NULL, &t3, 0, T0 + 4000, &out) == STORE_OK && out == TASKS_CREATED, "an image task");
    s = read_task(t3.id);
    CHECK_INT_EQ(end_on(g_s, END_SUCCEED, &s, 0, NULL, T0 + 5000, NULL), STORE_OK, "succeeded");
    int cnt = -1;
    CHECK(s.settled == 10 && s.refunded == 0 && entries(t3.id, LK_SETTLE, -1, &cnt) == 0 && cnt == 0,
          "charged its price, no settle entry");
    task_clear(&s);
    audit_clean("settles");
}

static void test_refund_all(void)
{
    char u[TG_ID_MAX];
    make_user(u);
    int64_t plan_end = T0 + 20 * DAY;
    give(u, 100, 30, plan_end);
    struct task t;
    task_new(&t, u, "second", 4, 12);
    enum tasks_submit_outcome out;
    CHECK(submit_on(g_s, NULL, &t, 0, T0, &out) == STORE_OK && out == TASKS_CREATED, "submitted");
    struct task s = read_task(t.id);
    CHECK_INT_EQ(end_on(g_s, END_FAIL, &s, 0, NULL, T0 + 1000, NULL), STORE_OK, "failed");
    CHECK(strcmp(s.status, "failed") == 0 && s.settled == 0 && s.refunded == 48 &&
              strcmp(s.error_code, "provider_error") == 0 && strcmp(s.error_message, "the provider refused the input") == 0,
          "the caller's copy: failed, 48 refunded, the error");
    task_clear(&s);
    struct wallet w = wallet_of(u);
    CHECK(w.plan_credits == 30 && w.paid_credits == 100 && w.plan_expires_at == plan_end,
          "everything back where it came from (plan %lld paid %lld)", (long long)w.plan_credits,
          (long long)w.paid_credits);
    CHECK(entries(t.id, LK_REFUND, BUCKET_PLAN, NULL) == 30 && entries(t.id, LK_REFUND, BUCKET_PAID, NULL) == 18 &&
              entries(t.id, LK_SETTLE, -1, NULL) == 0,
          "refund entries +30 plan, +18 paid");
    s = read_task(t.id);
    CHECK_INT_EQ(end_on(g_s, END_TIMEOUT, &s, 0, NULL, T0 + 2000, NULL), STORE_CONFLICT,
                 "a timeout of a failed task: CONFLICT");
    CHECK_INT_EQ(end_on(g_s, END_SUCCEED, &s, 3, NULL, T0 + 2000, NULL), STORE_CONFLICT,
                 "a success of a failed task: CONFLICT");
    CHECK(strcmp(s.status, "failed") == 0, "the losers' copy is left as it was");
    task_clear(&s);
    w = wallet_of(u);
    CHECK(w.plan_credits == 30 && w.paid_credits == 100, "and nothing moved");
    /* A caller that ignores the conflict and commits its transaction anyway: the loser wrote
     * nothing before it was told (the task is finished first, the ledger after). */
    s = read_task(t.id);
    snprintf(s.status, sizeof s.status, "running"); /* a stale copy, as a slow dispatcher holds it */
    CHECK_INT_EQ(g_s->ops->begin(g_s, 1), STORE_OK, "begin a write transaction");
    CHECK_INT_EQ(tasks_fail_tx(g_s, &s, "timed_out", "timeout", NULL, T0 + 3000), STORE_CONFLICT,
                 "in txn: the timeout loses");
    CHECK_INT_EQ(g_s->ops->commit(g_s), STORE_OK, "commit regardless");
    task_clear(&s);
    int n_refund = 0;
    w = wallet_of(u);
    CHECK(w.plan_credits == 30 && w.paid_credits == 100 && entries(t.id, LK_REFUND, -1, &n_refund) == 48 &&
              n_refund == 2,
          "still refunded once");
    audit_clean("a refund");

    /* The plan month ends before the task does: its plan part comes back as paid credits. */
    char v[TG_ID_MAX];
    make_user(v);
    give(v, 10, 40, T0 + DAY);
    struct task late;
    task_new(&late, v, "second", 5, 8); /* 40, all plan */
    CHECK(submit_on(g_s, NULL, &late, 0, T0, &out) == STORE_OK && out == TASKS_CREATED && late.reserved_plan == 40,
          "40 from the plan month");
    s = read_task(late.id);
    CHECK_INT_EQ(end_on(g_s, END_TIMEOUT, &s, 0, NULL, T0 + DAY + 1, NULL), STORE_OK, "timed out after the month");
    CHECK(strcmp(s.status, "timed_out") == 0 && s.refunded == 40, "timed_out, 40 refunded");
    task_clear(&s);
    w = wallet_of(v);
    CHECK(w.plan_credits == 0 && w.paid_credits == 50, "the plan part went to paid credits (plan %lld paid %lld)",
          (long long)w.plan_credits, (long long)w.paid_credits);
    CHECK(entries(late.id, LK_REFUND, BUCKET_PAID, NULL) == 40 && entries(late.id, LK_REFUND, BUCKET_PLAN, NULL) == 0,
          "one refund entry of 40, paid");
    audit_clean("a refund after the month");

    /* The plan moved on to a new month (the expiry changed) while it was running: paid too,
     * merged with the paid part into one entry. */
    char x[TG_ID_MAX];
    make_user(x);
    give(x, 10, 10, T0 + DAY);
    struct task nm;
    task_new(&nm, x, "task", 15, 1); /* 10 plan + 5 paid */
    CHECK(submit_on(g_s, NULL, &nm, 0, T0, &out) == STORE_OK && out == TASKS_CREATED && nm.reserved_plan == 10,
          "10 plan + 5 paid");
    CHECK_INT_EQ(store_wallet_set_plan_expiry(g_s, x, T0 + 31 * DAY, T0 + 1), STORE_OK, "the wallet's plan moved");
    s = read_task(nm.id);
    CHECK_INT_EQ(end_on(g_s, END_CANCEL, &s, 0, x, T0 + 2, NULL), STORE_OK, "canceled within the old month");
    task_clear(&s);
    w = wallet_of(x);
    CHECK(w.plan_credits == 0 && w.paid_credits == 20, "15 back as paid (plan %lld paid %lld)",
          (long long)w.plan_credits, (long long)w.paid_credits);
    int cnt = 0;
    CHECK(entries(nm.id, LK_REFUND, BUCKET_PAID, &cnt) == 15 && cnt == 1, "one paid refund entry of 15");
    audit_clean("a refund into another month");
}

/* ---- refusals ---- */

static void test_refusals(void)
{
    char u[TG_ID_MAX];
    make_user(u);
    give(u, 30, 10, T0 + DAY);
    struct task t;
    task_new(&t, u, "second", 4, 12); /* 48 > 40 */
    struct idem idem;
    const char *body = "{\"kind\":\"animate_move\"}";
    idem_init(&idem, u, "key-1", "POST", "/api/v1/tasks", body, strlen(body));
    enum tasks_submit_outcome out;
    CHECK(submit_on(g_s, &idem, &t, 0, T0, &out) == STORE_OK && out == TASKS_INSUFFICIENT, "48 of 40: insufficient");
    struct wallet w = wallet_of(u);
    struct task s;
    int cnt = -1;
    int64_t live = -1;
    CHECK(w.plan_credits == 10 && w.paid_credits == 30, "the wallet is untouched");
    CHECK(store_task_get(g_s, t.id, NULL, &s) == STORE_NOTFOUND, "no task stored");
    CHECK(entries(t.id, LK_SPEND, -1, &cnt) == 0 && cnt == 0, "no spend entry");
    struct idem_record rec;
    CHECK(store_idem_get(g_s, u, "key-1", &rec) == STORE_NOTFOUND, "the refusal is not stored for the key");
    idem_clear(&idem);

    /* With credits, the same key now creates it. */
    give(u, 8, 0, 0);
    CHECK(submit_on(g_s, &idem, &t, 0, T0 + 1, &out) == STORE_OK && out == TASKS_CREATED,
          "retried with the same key after buying: created");
    w = wallet_of(u);
    CHECK(w.plan_credits == 0 && w.paid_credits == 0, "all 48 spent");
    idem_clear(&idem);
    CHECK(submit_on(g_s, &idem, &t, 0, T0 + 2, &out) == STORE_OK && out == TASKS_REPLAY && idem.replay &&
              idem.status == 202 && idem.body && strstr(idem.body, t.id) && strstr(idem.body, "\"reserved_plan\":10"),
          "the same request again: the first answer (%s)", idem.body ? idem.body : "");
    idem_clear(&idem);
    struct task again;
    task_new(&again, u, "second", 4, 12);
    give(u, 100, 0, 0);
    CHECK(submit_on(g_s, &idem, &again, 0, T0 + 3, &out) == STORE_OK && out == TASKS_REPLAY,
          "a retry with a fresh task id (the API makes one per request): still the first answer");
    CHECK(store_task_get(g_s, again.id, NULL, &s) == STORE_NOTFOUND && wallet_of(u).paid_credits == 100,
          "nothing stored, nothing spent for the retry");
    idem_clear(&idem);
    struct idem other;
    const char *body2 = "{\"kind\":\"image\"}";
    idem_init(&other, u, "key-1", "POST", "/api/v1/tasks", body2, strlen(body2));
    CHECK(submit_on(g_s, &other, &again, 0, T0 + 4, &out) == STORE_OK && out == TASKS_KEY_REUSED && other.mismatch,
          "the key with another request: reused");
    CHECK(store_task_get(g_s, again.id, NULL, &s) == STORE_NOTFOUND && wallet_of(u).paid_credits == 100,
          "nothing stored, nothing spent");
    idem_clear(&other);
    audit_clean("refusals");

    /* The live cap: 2. */
    char v[TG_ID_MAX];
    make_user(v);
    give(v, 100, 0, 0);
    struct task a, b, c;
    task_new(&a, v, "task", 2, 1);
    task_new(&b, v, "task", 2, 1);
    task_new(&c, v, "task", 2, 1);
    CHECK(submit_on(g_s, NULL, &a, 2, T0, &out) == STORE_OK && out == TASKS_CREATED, "first of 2");
    CHECK(submit_on(g_s, NULL, &b, 2, T0, &out) == STORE_OK && out == TASKS_CREATED, "second of 2");
    CHECK(submit_on(g_s, NULL, &c, 2, T0, &out) == STORE_OK && out == TASKS_TOO_MANY, "third: too many");
    CHECK(store_task_count_live(g_s, v, &live) == STORE_OK && live == 2 && wallet_of(v).paid_credits == 96 &&
              store_task_get(g_s, c.id, NULL, &s) == STORE_NOTFOUND,
          "nothing stored or spent for it");
    CHECK(submit_on(g_s, NULL, &c, 0, T0, &out) == STORE_OK && out == TASKS_CREATED, "no cap (0): created");
    struct task d;
    task_new(&d, v, "task", 2, 1);
    CHECK(submit_on(g_s, NULL, &d, 3, T0, &out) == STORE_OK && out == TASKS_TOO_MANY, "3 live, cap 3: too many");
    s = read_task(a.id);
    CHECK_INT_EQ(end_on(g_s, END_SUCCEED, &s, 0, NULL, T0 + 1, NULL), STORE_OK, "one finishes");
    task_clear(&s);
    CHECK(submit_on(g_s, NULL, &d, 3, T0 + 2, &out) == STORE_OK && out == TASKS_CREATED, "then there is room");

    /* A free task debits nothing and settles to nothing. */
    struct task free_t;
    task_new(&free_t, v, "task", 0, 1);
    int64_t before = wallet_of(v).paid_credits;
    CHECK(submit_on(g_s, NULL, &free_t, 0, T0 + 3, &out) == STORE_OK && out == TASKS_CREATED &&
              wallet_of(v).paid_credits == before && entries(free_t.id, LK_SPEND, -1, &cnt) == 0 && cnt == 0,
          "a free task: no spend entry");
    s = read_task(free_t.id);
    CHECK(end_on(g_s, END_FAIL, &s, 0, NULL, T0 + 4, NULL) == STORE_OK && s.refunded == 0 && s.settled == 0,
          "fails with nothing to refund");
    task_clear(&s);

    /* Bounds the caller must respect. */
    struct task bad;
    task_new(&bad, v, "second", 4, 12);
    bad.reserved = 47;
    CHECK(submit_on(g_s, NULL, &bad, 0, T0, &out) == STORE_ERROR, "reserved other than the price x units: error");
    task_new(&bad, v, "second", 1, TASKS_MAX_UNITS + 1);
    CHECK(submit_on(g_s, NULL, &bad, 0, T0, &out) == STORE_ERROR, "more units than TASKS_MAX_UNITS: error");
    CHECK(wallet_of(v).paid_credits == before, "nothing spent by them");
    s = read_task(b.id);
    CHECK(end_on(g_s, END_SUCCEED, &s, 0, NULL, T0, NULL) == STORE_OK, "b succeeds");
    CHECK(tasks_fail_tx(g_s, &s, "succeeded", "x", "y", T0) == STORE_ERROR, "fail_tx never writes succeeded");
    task_clear(&s);
    audit_clean("the cap");
}

/* ---- cancel ---- */

static void test_cancel(void)
{
    char u[TG_ID_MAX], o[TG_ID_MAX];
    make_user(u);
    make_user(o);
    give(u, 50, 0, 0);
    struct task t;
    task_new(&t, u, "task", 10, 1);
    enum tasks_submit_outcome out;
    CHECK(submit_on(g_s, NULL, &t, 0, T0, &out) == STORE_OK && out == TASKS_CREATED, "submitted");
    struct task c;
    memset(&c, 0, sizeof c);
    CHECK_INT_EQ(end_on(g_s, END_CANCEL, &t, 0, o, T0 + 1, &c), STORE_NOTFOUND, "another user cancels: not found");
    CHECK(c.id[0] == 0 && wallet_of(u).paid_credits == 40, "... nothing read back, nothing refunded");
    task_clear(&c);
    CHECK_INT_EQ(end_on(g_s, END_CANCEL, &t, 0, u, T0 + 2, &c), STORE_OK, "the owner cancels");
    CHECK(strcmp(c.status, "canceled") == 0 && c.refunded == 10 && c.finished_at == T0 + 2 &&
              strcmp(c.error_code, "canceled") == 0,
          "out: canceled, refunded");
    task_clear(&c);
    CHECK(wallet_of(u).paid_credits == 50, "refunded");
    CHECK_INT_EQ(end_on(g_s, END_CANCEL, &t, 0, u, T0 + 3, &c), STORE_CONFLICT, "cancel again: conflict");
    CHECK(strcmp(c.status, "canceled") == 0 && c.finished_at == T0 + 2, "out holds it as it is");
    task_clear(&c);
    CHECK(wallet_of(u).paid_credits == 50, "refunded once");

    /* An error text longer than the field is cut at a character, not inside one. */
    struct task m;
    task_new(&m, u, "task", 1, 1);
    CHECK(submit_on(g_s, NULL, &m, 0, T0, &out) == STORE_OK && out == TASKS_CREATED, "another task");
    char msg[400];
    size_t n = 0;
    while (n + 3 < sizeof msg - 1) {
        memcpy(msg + n, "\xe4\xb8\xad", 3); /* U+4E2D, 3 bytes */
        n += 3;
    }
    msg[n] = '\0';
    struct task s = read_task(m.id);
    CHECK_INT_EQ(tasks_fail_tx(g_s, &s, "failed", "provider_error", msg, T0 + 1), STORE_OK, "fails with a long text");
    CHECK(strlen(s.error_message) == 255 && strlen(s.error_message) % 3 == 0, "cut to 85 whole characters (%zu bytes)",
          strlen(s.error_message));
    task_clear(&s);
    audit_clean("cancel");
}

/* ---- one task, four enders, several connections ---- */

#define RACE_TASKS 12
static struct task g_race[RACE_TASKS];
static pthread_barrier_t g_barrier;
static atomic_int g_wins[RACE_TASKS][4];
static atomic_int g_conflicts, g_errors;

static void *race_ender(void *arg)
{
    enum end_kind kind = (enum end_kind)(intptr_t)arg;
    char *err = NULL;
    struct store *s = store_open(g_url, &err);
    free(err);
    if (s == NULL) {
        atomic_fetch_add(&g_errors, 1);
        for (int i = 0; i < RACE_TASKS; i++)
            pthread_barrier_wait(&g_barrier);
        return NULL;
    }
    for (int i = 0; i < RACE_TASKS; i++) {
        /* Everyone reads the task live, then all try to end it at once. */
        struct task t;
        store_task_get(s, g_race[i].id, NULL, &t);
        pthread_barrier_wait(&g_barrier);
        enum store_rc rc = end_on(s, kind, &t, 3 + i % 5, g_race[i].user_id, T0 + 100 + i, NULL);
        if (rc == STORE_OK)
            atomic_fetch_add(&g_wins[i][kind], 1);
        else if (rc == STORE_CONFLICT)
            atomic_fetch_add(&g_conflicts, 1);
        else
            atomic_fetch_add(&g_errors, 1);
        task_clear(&t);
    }
    store_close(s);
    return NULL;
}

static void test_race(void)
{
    char u[TG_ID_MAX];
    make_user(u);
    int64_t plan_end = T0 + 20 * DAY;
    give(u, 1000, 200, plan_end);
    for (int i = 0; i < RACE_TASKS; i++) {
        enum tasks_submit_outcome out;
        task_new(&g_race[i], u, "second", 5, 10); /* 50: the first four from the plan */
        CHECK(submit_on(g_s, NULL, &g_race[i], 0, T0, &out) == STORE_OK && out == TASKS_CREATED, "race task %d", i);
    }
    struct wallet w0 = wallet_of(u);
    CHECK(w0.plan_credits == 0 && w0.paid_credits == 1000 + 200 - 50 * RACE_TASKS, "reserved %d x 50", RACE_TASKS);

    pthread_barrier_init(&g_barrier, NULL, 4);
    pthread_t th[4];
    for (int k = 0; k < 4; k++)
        pthread_create(&th[k], NULL, race_ender, (void *)(intptr_t)k);
    for (int k = 0; k < 4; k++)
        pthread_join(th[k], NULL);
    pthread_barrier_destroy(&g_barrier);
    CHECK_INT_EQ(atomic_load(&g_errors), 0, "no ender failed otherwise");
    CHECK_INT_EQ(atomic_load(&g_conflicts), 3 * RACE_TASKS, "three losers per task, each told CONFLICT");

    int64_t want_plan = 0, want_paid = w0.paid_credits;
    int exactly_one = 1, rows_once = 1, stored_ok = 1;
    static const char *const status_of[4] = {"succeeded", "failed", "timed_out", "canceled"};
    for (int i = 0; i < RACE_TASKS; i++) {
        int winners = 0, winner = -1;
        for (int k = 0; k < 4; k++) {
            winners += atomic_load(&g_wins[i][k]);
            if (atomic_load(&g_wins[i][k]))
                winner = k;
        }
        exactly_one &= winners == 1;
        if (winner < 0)
            continue;
        struct task s = read_task(g_race[i].id);
        int64_t back = winner == END_SUCCEED ? 50 - 5 * (3 + i % 5) : 50;
        stored_ok &= strcmp(s.status, status_of[winner]) == 0 && s.refunded == back && s.settled == 50 - back;
        task_clear(&s);
        /* Where the credits went: paid first, then the plan part to the plan (its month runs). */
        int64_t paid_part = 50 - g_race[i].reserved_plan;
        int64_t to_paid = back < paid_part ? back : paid_part;
        want_paid += to_paid;
        want_plan += back - to_paid;
        int n_settle = 0, n_refund = 0;
        int64_t settle = entries(g_race[i].id, LK_SETTLE, -1, &n_settle);
        int64_t refund = entries(g_race[i].id, LK_REFUND, -1, &n_refund);
        int64_t want_rows = (to_paid > 0) + (back - to_paid > 0);
        if (winner == END_SUCCEED)
            rows_once &= settle == back && n_settle == want_rows && n_refund == 0;
        else
            rows_once &= refund == back && n_refund == want_rows && n_settle == 0;
    }
    CHECK(exactly_one, "exactly one ender won each task");
    CHECK(stored_ok, "each task stored as its winner left it");
    CHECK(rows_once, "credits given back once per task, by the winner's kind");
    struct wallet w = wallet_of(u);
    CHECK(w.plan_credits == want_plan && w.paid_credits == want_paid, "balance exact: plan %lld (want %lld), paid %lld (want %lld)",
          (long long)w.plan_credits, (long long)want_plan, (long long)w.paid_credits, (long long)want_paid);
    audit_clean("the race");
}

int main(void)
{
    char *err = NULL;
    int applied = 0;
    if (crypto_init() != 0 || mkdtemp(tmpdir) == NULL) {
        printf("Bail out! setup\n");
        return 1;
    }
    snprintf(g_url, sizeof g_url, "sqlite:%s/test.db", tmpdir);
    if (store_migrate(g_url, &applied, &err) != 0 || (g_s = store_open(g_url, &err)) == NULL) {
        printf("Bail out! store: %s\n", err ? err : "?");
        return 1;
    }
    test_helpers();
    test_settle_both_buckets();
    test_refund_all();
    test_refusals();
    test_cancel();
    test_race();
    store_close(g_s);
    nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return test_done();
}
