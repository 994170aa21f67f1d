/*
 * store.c - picks a backend by URL scheme and dispatches the store_* operations to it.
 *
 * The zeroing of out-parameters on failure lives here, once, so no backend can forget it
 * and callers can rely on store.h's "fully written on STORE_OK, zeroed otherwise".
 */
#include "store/store.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "store/backend.h"

static atomic_uint_fast64_t store_errors;

void store_count_error(void)
{
    atomic_fetch_add_explicit(&store_errors, 1, memory_order_relaxed);
}

uint64_t store_error_count(void)
{
    return (uint64_t)atomic_load_explicit(&store_errors, memory_order_relaxed);
}

const char *store_rc_name(enum store_rc rc)
{
    switch (rc) {
    case STORE_OK:
        return "ok";
    case STORE_NOTFOUND:
        return "not_found";
    case STORE_DUPLICATE:
        return "duplicate";
    case STORE_INSUFFICIENT:
        return "insufficient";
    case STORE_CONFLICT:
        return "conflict";
    case STORE_BUSY:
        return "busy";
    case STORE_UNAVAILABLE:
        return "unavailable";
    case STORE_ERROR:
        return "error";
    }
    return "unknown";
}

/* Returns the backend for url, or NULL with *err set. */
static const struct store_backend *store_backend_for(const char *url, char **err)
{
    if (url == NULL) {
        *err = xstrdup("no database URL");
        return NULL;
    }
    if (strncmp(url, "sqlite:", 7) == 0)
        return &store_backend_sqlite;
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0) {
        *err = xstrdup("this tollgate was not built with PostgreSQL support yet; use sqlite:PATH");
        return NULL;
    }
    /* The URL may carry a password: name only the accepted schemes, never echo it. */
    *err = xstrdup("unsupported database URL: expected sqlite:PATH, sqlite::memory: or postgres://");
    return NULL;
}

struct store *store_open(const char *url, char **err)
{
    *err = NULL;
    const struct store_backend *b = store_backend_for(url, err);
    if (b == NULL)
        return NULL;
    return b->open(url, err);
}

void store_close(struct store *s)
{
    if (s != NULL)
        s->ops->close(s);
}

int store_migrate(const char *url, int *applied, char **err)
{
    *err = NULL;
    *applied = 0;
    const struct store_backend *b = store_backend_for(url, err);
    if (b == NULL)
        return -1;
    return b->migrate(url, applied, err);
}

enum store_rc store_ping(struct store *s)
{
    return s->ops->ping(s);
}

void store_set_nowait(struct store *s)
{
    s->ops->set_nowait(s);
}

enum store_rc store_write_probe(struct store *s, int64_t now)
{
    return s->ops->write_probe(s, now);
}

/* ---- users ---- */

enum store_rc store_user_create(struct store *s, const struct user *u)
{
    return s->ops->user_create(s, u);
}

enum store_rc store_user_get(struct store *s, const char *id, struct user *out)
{
    enum store_rc rc = s->ops->user_get(s, id, out);
    if (rc != STORE_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

enum store_rc store_user_get_by_email(struct store *s, const char *email, struct user *out)
{
    enum store_rc rc = s->ops->user_get_by_email(s, email, out);
    if (rc != STORE_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

enum store_rc store_user_update_profile(struct store *s, const char *id, const char *display_name,
                                        const char *region, int64_t now)
{
    return s->ops->user_update_profile(s, id, display_name, region, now);
}

enum store_rc store_user_set_password(struct store *s, const char *id, const char *old_hash,
                                      const char *new_hash, int64_t now)
{
    return s->ops->user_set_password(s, id, old_hash, new_hash, now);
}

enum store_rc store_user_set_role(struct store *s, const char *id, const char *role, int64_t now)
{
    return s->ops->user_set_role(s, id, role, now);
}

enum store_rc store_user_set_disabled(struct store *s, const char *id, int disabled, int64_t now)
{
    return s->ops->user_set_disabled(s, id, disabled, now);
}

enum store_rc store_user_bump_epoch(struct store *s, const char *id, int64_t now, int64_t *epoch)
{
    int64_t tmp;
    int64_t *e = epoch ? epoch : &tmp;
    enum store_rc rc = s->ops->user_bump_epoch(s, id, now, e);
    if (rc != STORE_OK)
        *e = 0;
    return rc;
}

enum store_rc store_user_set_email_verified(struct store *s, const char *id, const char *email, int64_t now)
{
    return s->ops->user_set_email_verified(s, id, email, now);
}

enum store_rc store_user_set_email(struct store *s, const char *id, const char *email, int verified, int64_t now)
{
    return s->ops->user_set_email(s, id, email, verified, now);
}

enum store_rc store_user_set_locale(struct store *s, const char *id, const char *locale, int64_t now)
{
    return s->ops->user_set_locale(s, id, locale, now);
}

/* ---- identities ---- */

enum store_rc store_identity_insert(struct store *s, const struct identity *id)
{
    return s->ops->identity_insert(s, id);
}

enum store_rc store_identity_find(struct store *s, const char *provider, const char *subject,
                                  struct identity *out, struct user *user)
{
    enum store_rc rc = s->ops->identity_find(s, provider, subject, out, user);
    if (rc != STORE_OK) {
        memset(out, 0, sizeof *out);
        memset(user, 0, sizeof *user);
    }
    return rc;
}

enum store_rc store_identity_list(struct store *s, const char *user_id, struct identity **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    enum store_rc rc = s->ops->identity_list(s, user_id, out, n);
    if (rc != STORE_OK) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

enum store_rc store_identity_touch(struct store *s, const char *identity_id, const char *email,
                                   int email_verified, const char *display_name, int64_t now)
{
    return s->ops->identity_touch(s, identity_id, email, email_verified, display_name, now);
}

enum store_rc store_identity_delete(struct store *s, const char *user_id, const char *identity_id)
{
    return s->ops->identity_delete(s, user_id, identity_id);
}

/* ---- one-time secrets ---- */

enum store_rc store_login_code_insert(struct store *s, const unsigned char hash[32], const char *user_id,
                                      const char *provider, int64_t now, int64_t expires_at)
{
    return s->ops->login_code_insert(s, hash, user_id, provider, now, expires_at);
}

enum store_rc store_login_code_consume(struct store *s, const unsigned char hash[32], int64_t now,
                                       char user_id_out[TG_ID_MAX])
{
    memset(user_id_out, 0, TG_ID_MAX);
    enum store_rc rc = s->ops->login_code_consume(s, hash, now, user_id_out);
    if (rc != STORE_OK && rc != STORE_CONFLICT)
        memset(user_id_out, 0, TG_ID_MAX);
    return rc;
}

enum store_rc store_oauth_state_use(struct store *s, const unsigned char nonce[16], int64_t expires_at)
{
    return s->ops->oauth_state_use(s, nonce, expires_at);
}

enum store_rc store_email_token_insert(struct store *s, const unsigned char hash[32], const char *user_id,
                                       enum email_token_purpose purpose, const char *email, int64_t now,
                                       int64_t expires_at)
{
    return s->ops->email_token_insert(s, hash, user_id, purpose, email, now, expires_at);
}

enum store_rc store_email_token_consume(struct store *s, const unsigned char hash[32],
                                        enum email_token_purpose purpose, int64_t now,
                                        char user_id_out[TG_ID_MAX], char email_out[TG_EMAIL_MAX + 1])
{
    memset(user_id_out, 0, TG_ID_MAX);
    memset(email_out, 0, TG_EMAIL_MAX + 1);
    enum store_rc rc = s->ops->email_token_consume(s, hash, purpose, now, user_id_out, email_out);
    if (rc != STORE_OK && rc != STORE_CONFLICT) {
        memset(user_id_out, 0, TG_ID_MAX);
        memset(email_out, 0, TG_EMAIL_MAX + 1);
    }
    return rc;
}

enum store_rc store_email_token_revoke(struct store *s, const char *user_id, enum email_token_purpose purpose,
                                       int64_t now)
{
    return s->ops->email_token_revoke(s, user_id, purpose, now);
}

enum store_rc store_email_token_count_since(struct store *s, const char *user_id,
                                            enum email_token_purpose purpose, int64_t since, int64_t *count)
{
    enum store_rc rc = s->ops->email_token_count_since(s, user_id, purpose, since, count);
    if (rc != STORE_OK)
        *count = 0;
    return rc;
}

/* ---- orders and the payment inbox ---- */

enum store_rc store_order_insert(struct store *s, const struct order *o)
{
    return s->ops->order_insert(s, o);
}

enum store_rc store_order_get(struct store *s, const char *id, struct order *out)
{
    enum store_rc rc = s->ops->order_get(s, id, out);
    if (rc != STORE_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

enum store_rc store_order_get_by_ref(struct store *s, const char *provider, const char *ref, struct order *out)
{
    enum store_rc rc = s->ops->order_get_by_ref(s, provider, ref, out);
    if (rc != STORE_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

enum store_rc store_order_set_checkout(struct store *s, const char *id, const char *provider, const char *ref,
                                       const char *checkout_json, int64_t now)
{
    return s->ops->order_set_checkout(s, id, provider, ref, checkout_json, now);
}

enum store_rc store_order_transition(struct store *s, const char *id, const char *const *from, const char *to,
                                     int64_t now)
{
    return s->ops->order_transition(s, id, from, to, now);
}

enum store_rc store_order_attempt_add(struct store *s, const char *order_id, const char *provider,
                                      const char *outcome, const char *detail, int64_t now)
{
    return s->ops->order_attempt_add(s, order_id, provider, outcome, detail, now);
}

enum store_rc store_order_list(struct store *s, const char *user_id, const char *before_id, size_t limit,
                               struct order **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    struct order_filter f = {.user_id = user_id};
    return store_order_search(s, &f, before_id, limit, out, n);
}

/* Lists come back empty on any failure. */
static enum store_rc store_list_result(enum store_rc rc, void **out, size_t *n)
{
    if (rc != STORE_OK) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

enum store_rc store_order_search(struct store *s, const struct order_filter *f, const char *before_id, size_t limit,
                                 struct order **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    return store_list_result(s->ops->order_search(s, f, before_id, limit, out, n), (void **)out, n);
}

enum store_rc store_orders_due(struct store *s, int64_t now, size_t limit, struct order **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    return store_list_result(s->ops->orders_due(s, now, limit, out, n), (void **)out, n);
}

enum store_rc store_order_schedule(struct store *s, const char *id, int64_t attempts, int64_t next_at, int64_t now)
{
    return s->ops->order_schedule(s, id, attempts, next_at, now);
}

enum store_rc store_order_refund_add(struct store *s, const char *id, int64_t delta, int64_t now)
{
    return s->ops->order_refund_add(s, id, delta, now);
}

/* ---- refunds ---- */

enum store_rc store_refund_insert(struct store *s, const struct refund *rf) { return s->ops->refund_insert(s, rf); }

enum store_rc store_refund_get(struct store *s, const char *id, struct refund *out)
{
    enum store_rc rc = s->ops->refund_get(s, id, out);
    if (rc != STORE_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

enum store_rc store_refund_get_by_provider(struct store *s, const char *order_id, const char *provider_refund_id,
                                           struct refund *out)
{
    enum store_rc rc = s->ops->refund_get_by_provider(s, order_id, provider_refund_id, out);
    if (rc != STORE_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

enum store_rc store_refund_update(struct store *s, const char *id, const char *from, const char *to,
                                  const char *provider_refund_id, int64_t credits, int64_t shortfall, int64_t now)
{
    return s->ops->refund_update(s, id, from, to, provider_refund_id, credits, shortfall, now);
}

enum store_rc store_refunds_pending(struct store *s, int64_t updated_before, size_t limit, struct refund **out,
                                    size_t *n)
{
    *out = NULL;
    *n = 0;
    return store_list_result(s->ops->refunds_pending(s, updated_before, limit, out, n), (void **)out, n);
}

enum store_rc store_refund_list(struct store *s, const char *order_id, struct refund **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    return store_list_result(s->ops->refund_list(s, order_id, out, n), (void **)out, n);
}

enum store_rc store_payment_event_insert(struct store *s, const struct payment_event *e)
{
    return s->ops->payment_event_insert(s, e);
}

enum store_rc store_payment_event_get(struct store *s, const char *provider, const char *event_id,
                                      struct payment_event *out)
{
    enum store_rc rc = s->ops->payment_event_get(s, provider, event_id, out);
    if (rc != STORE_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

enum store_rc store_orders_check(struct store *s, store_violation_fn fn, void *arg, int64_t *violations)
{
    *violations = 0;
    return s->ops->orders_check(s, fn, arg, violations);
}

/* ---- subscriptions ---- */

enum store_rc store_sub_insert(struct store *s, const struct subscription *sub)
{
    return s->ops->sub_insert(s, sub);
}

enum store_rc store_sub_get(struct store *s, const char *id, struct subscription *out)
{
    enum store_rc rc = s->ops->sub_get(s, id, out);
    if (rc != STORE_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

enum store_rc store_sub_get_live(struct store *s, const char *user_id, struct subscription *out)
{
    enum store_rc rc = s->ops->sub_get_live(s, user_id, out);
    if (rc != STORE_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

enum store_rc store_sub_get_latest(struct store *s, const char *user_id, struct subscription *out)
{
    enum store_rc rc = s->ops->sub_get_latest(s, user_id, out);
    if (rc != STORE_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

enum store_rc store_sub_get_by_ref(struct store *s, const char *provider, const char *ref, struct subscription *out)
{
    enum store_rc rc = s->ops->sub_get_by_ref(s, provider, ref, out);
    if (rc != STORE_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

enum store_rc store_sub_update(struct store *s, const struct subscription *sub)
{
    return s->ops->sub_update(s, sub);
}

enum store_rc store_subs_due(struct store *s, int64_t now, size_t limit, struct subscription **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    return store_list_result(s->ops->subs_due(s, now, limit, out, n), (void **)out, n);
}

enum store_rc store_sub_search(struct store *s, const struct subscription_filter *f, const char *before_id,
                               size_t limit, struct subscription **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    return store_list_result(s->ops->sub_search(s, f, before_id, limit, out, n), (void **)out, n);
}

enum store_rc store_order_set_subscription(struct store *s, const char *order_id, const char *sub_id, int64_t now)
{
    return s->ops->order_set_subscription(s, order_id, sub_id, now);
}

enum store_rc store_wallet_set_plan_expiry(struct store *s, const char *user_id, int64_t expires_at, int64_t now)
{
    return s->ops->wallet_set_plan_expiry(s, user_id, expires_at, now);
}

enum store_rc store_subs_check(struct store *s, int64_t now, store_violation_fn fn, void *arg, int64_t *violations)
{
    *violations = 0;
    return s->ops->subs_check(s, now, fn, arg, violations);
}

/* ---- generation tasks ---- */

/* Zeroes a task read that failed, releasing what it holds. */
static enum store_rc store_task_result(enum store_rc rc, struct task *out)
{
    if (rc != STORE_OK) {
        task_clear(out);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

/* A task list that failed: every element released, then the array. */
static enum store_rc store_task_list_result(enum store_rc rc, struct task **out, size_t *n)
{
    if (rc != STORE_OK) {
        for (size_t i = 0; *out != NULL && i < *n; i++)
            task_clear(&(*out)[i]);
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

enum store_rc store_task_insert(struct store *s, const struct task *t)
{
    return s->ops->task_insert(s, t);
}

enum store_rc store_task_get(struct store *s, const char *id, const char *user_id, struct task *out)
{
    memset(out, 0, sizeof *out);
    return store_task_result(s->ops->task_get(s, id, user_id, out), out);
}

enum store_rc store_task_get_by_provider_ref(struct store *s, const char *provider, const char *provider_task_id,
                                             struct task *out)
{
    memset(out, 0, sizeof *out);
    return store_task_result(s->ops->task_get_by_provider_ref(s, provider, provider_task_id, out), out);
}

enum store_rc store_task_list(struct store *s, const struct task_filter *f, const char *before_id, size_t limit,
                              struct task **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    return store_task_list_result(s->ops->task_list(s, f, before_id, limit, out, n), out, n);
}

enum store_rc store_task_count_live(struct store *s, const char *user_id, int64_t *n)
{
    enum store_rc rc = s->ops->task_count_live(s, user_id, n);
    if (rc != STORE_OK)
        *n = 0;
    return rc;
}

enum store_rc store_tasks_claim(struct store *s, int64_t now, int64_t lease_until, size_t limit,
                                struct task **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    return store_task_list_result(s->ops->tasks_claim(s, now, lease_until, limit, out, n), out, n);
}

enum store_rc store_task_update(struct store *s, const struct task *t, const char *expect_status)
{
    return s->ops->task_update(s, t, expect_status);
}

enum store_rc store_task_finish(struct store *s, const struct task *t)
{
    return s->ops->task_finish(s, t);
}

enum store_rc store_task_set_next(struct store *s, const char *id, int64_t next_at, int64_t now)
{
    return s->ops->task_set_next(s, id, next_at, now);
}

enum store_rc store_tasks_check(struct store *s, store_violation_fn fn, void *arg, int64_t *violations)
{
    *violations = 0;
    enum store_rc rc = s->ops->tasks_check(s, fn, arg, violations);
    if (rc != STORE_OK)
        *violations = 0;
    return rc;
}

/* ---- provider keys ---- */

enum store_rc store_pkey_insert(struct store *s, const struct provider_key *k)
{
    return s->ops->pkey_insert(s, k);
}

enum store_rc store_pkey_get(struct store *s, const char *id, struct provider_key *out)
{
    enum store_rc rc = s->ops->pkey_get(s, id, out);
    if (rc != STORE_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

enum store_rc store_pkey_list(struct store *s, const char *provider, struct provider_key **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    return store_list_result(s->ops->pkey_list(s, provider, out, n), (void **)out, n);
}

enum store_rc store_pkey_set_disabled(struct store *s, const char *id, int disabled, const char *reason,
                                      int64_t now)
{
    return s->ops->pkey_set_disabled(s, id, disabled, reason, now);
}

enum store_rc store_pkey_add_stats(struct store *s, const char *id, int64_t uses, int64_t failures,
                                   int64_t last_used_at, const char *last_error, int64_t now)
{
    return s->ops->pkey_add_stats(s, id, uses, failures, last_used_at, last_error, now);
}

/* ---- files ---- */

enum store_rc store_file_insert(struct store *s, const struct stored_file *f)
{
    return s->ops->file_insert(s, f);
}

enum store_rc store_file_get(struct store *s, const char *id, const char *user_id, struct stored_file *out)
{
    enum store_rc rc = s->ops->file_get(s, id, user_id, out);
    if (rc != STORE_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

enum store_rc store_file_get_by_key(struct store *s, const char *backend, const char *key, struct stored_file *out)
{
    enum store_rc rc = s->ops->file_get_by_key(s, backend, key, out);
    if (rc != STORE_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

enum store_rc store_file_set_ready(struct store *s, const char *id, const char *content_type, int64_t size,
                                   int64_t width, int64_t height, int64_t duration_ms, int64_t now)
{
    return s->ops->file_set_ready(s, id, content_type, size, width, height, duration_ms, now);
}

enum store_rc store_files_of_task(struct store *s, const char *task_id, struct stored_file **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    return store_list_result(s->ops->files_of_task(s, task_id, out, n), (void **)out, n);
}

/* ---- refresh tokens ---- */

enum store_rc store_refresh_insert(struct store *s, const struct refresh_token *t)
{
    return s->ops->refresh_insert(s, t);
}

enum store_rc store_refresh_rotate(struct store *s, const unsigned char old_hash[32],
                                   const struct refresh_token *next, int64_t now,
                                   enum refresh_outcome *outcome, char user_id_out[TG_ID_MAX])
{
    enum store_rc rc = s->ops->refresh_rotate(s, old_hash, next, now, outcome, user_id_out);
    if (rc != STORE_OK) {
        *outcome = REFRESH_UNKNOWN;
        memset(user_id_out, 0, TG_ID_MAX);
    }
    return rc;
}

enum store_rc store_refresh_revoke_family(struct store *s, const unsigned char hash[32], int64_t now,
                                          char user_id_out[TG_ID_MAX])
{
    char tmp[TG_ID_MAX];
    char *u = user_id_out ? user_id_out : tmp;
    enum store_rc rc = s->ops->refresh_revoke_family(s, hash, now, u);
    if (rc != STORE_OK)
        memset(u, 0, TG_ID_MAX);
    return rc;
}

enum store_rc store_refresh_revoke_user(struct store *s, const char *user_id, int64_t now)
{
    return s->ops->refresh_revoke_user(s, user_id, now);
}

/* ---- API keys ---- */

enum store_rc store_api_key_insert(struct store *s, const struct api_key *k)
{
    return s->ops->api_key_insert(s, k);
}

enum store_rc store_api_key_list(struct store *s, const char *user_id, struct api_key **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    enum store_rc rc = s->ops->api_key_list(s, user_id, out, n);
    if (rc != STORE_OK) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

enum store_rc store_api_key_count_active(struct store *s, const char *user_id, int64_t *count)
{
    enum store_rc rc = s->ops->api_key_count_active(s, user_id, count);
    if (rc != STORE_OK)
        *count = 0;
    return rc;
}

enum store_rc store_api_key_revoke(struct store *s, const char *user_id, const char *key_id, int64_t now)
{
    return s->ops->api_key_revoke(s, user_id, key_id, now);
}

enum store_rc store_api_key_authenticate(struct store *s, const unsigned char hash[32], struct api_key *key,
                                         struct user *user)
{
    enum store_rc rc = s->ops->api_key_authenticate(s, hash, key, user);
    if (rc != STORE_OK) {
        memset(key, 0, sizeof *key);
        memset(user, 0, sizeof *user);
    }
    return rc;
}

enum store_rc store_api_key_touch(struct store *s, const char *key_id, int64_t now, int64_t not_since,
                                  int *touched)
{
    int tmp;
    int *t = touched ? touched : &tmp;
    *t = 0;
    enum store_rc rc = s->ops->api_key_touch(s, key_id, now, not_since, t);
    if (rc != STORE_OK)
        *t = 0;
    return rc;
}

/* ---- credits and the ledger ---- */

enum store_rc store_wallet_get(struct store *s, const char *user_id, struct wallet *out)
{
    enum store_rc rc = s->ops->wallet_get(s, user_id, out);
    if (rc != STORE_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

enum store_rc store_ledger_apply(struct store *s, const struct ledger_op *op, int64_t now,
                                 struct wallet *before, struct wallet *after)
{
    struct wallet ta;
    struct wallet *a = after ? after : &ta;
    /* before stays NULL when the caller does not want it: the backend may then skip
     * reading the wallet ahead of the update. */
    enum store_rc rc = s->ops->ledger_apply(s, op, now, before, a);
    if (rc != STORE_OK) {
        memset(a, 0, sizeof *a);
        if (before != NULL)
            memset(before, 0, sizeof *before);
    }
    return rc;
}

enum store_rc store_ledger_get_by_ref(struct store *s, enum ledger_kind kind, const char *ref_type,
                                      const char *ref_id, struct ledger_entry out[2], size_t *n)
{
    *n = 0;
    enum store_rc rc = s->ops->ledger_get_by_ref(s, kind, ref_type, ref_id, out, n);
    if (rc != STORE_OK) {
        memset(out, 0, 2 * sizeof *out);
        *n = 0;
    }
    return rc;
}

enum store_rc store_ledger_list(struct store *s, const char *user_id, const char *before_id, size_t limit,
                                struct ledger_entry **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    enum store_rc rc = s->ops->ledger_list(s, user_id, before_id, limit, out, n);
    if (rc != STORE_OK) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* ---- audit log ---- */

enum store_rc store_audit_insert(struct store *s, const struct audit_entry *e)
{
    return s->ops->audit_insert(s, e);
}

enum store_rc store_audit_list(struct store *s, const char *before_id, size_t limit, struct audit_entry **out,
                               size_t *n)
{
    *out = NULL;
    *n = 0;
    enum store_rc rc = s->ops->audit_list(s, before_id, limit, out, n);
    if (rc != STORE_OK) {
        store_audit_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

void store_audit_free(struct audit_entry *entries, size_t n)
{
    if (entries == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(entries[i].details_json);
    free(entries);
}

/* ---- idempotency keys ---- */

enum store_rc store_idem_get(struct store *s, const char *scope, const char *key, struct idem_record *out)
{
    memset(out, 0, sizeof *out);
    enum store_rc rc = s->ops->idem_get(s, scope, key, out);
    if (rc != STORE_OK)
        store_idem_free(out);
    return rc;
}

enum store_rc store_idem_put(struct store *s, const char *scope, const char *key, const struct idem_record *rec)
{
    return s->ops->idem_put(s, scope, key, rec);
}

enum store_rc store_idem_delete(struct store *s, const char *scope, const char *key)
{
    return s->ops->idem_delete(s, scope, key);
}

void store_idem_free(struct idem_record *rec)
{
    if (rec == NULL)
        return;
    free(rec->body);
    memset(rec, 0, sizeof *rec);
}

/* ---- operations ---- */

enum store_rc store_ledger_totals(struct store *s, struct ledger_totals *out)
{
    enum store_rc rc = s->ops->ledger_totals(s, out);
    if (rc != STORE_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

enum store_rc store_ledger_check(struct store *s, store_violation_fn fn, void *arg, int64_t *violations,
                                 int64_t *wallets_checked)
{
    enum store_rc rc = s->ops->ledger_check(s, fn, arg, violations, wallets_checked);
    if (rc != STORE_OK) {
        *violations = 0;
        *wallets_checked = 0;
    }
    return rc;
}

/* ---- event streams ---- */

enum store_rc store_task_versions(struct store *s, const char *const *ids, size_t n, struct task_version *out,
                                  size_t *found)
{
    *found = 0;
    if (n == 0)
        return STORE_OK;
    enum store_rc rc = s->ops->task_versions(s, ids, n, out, found);
    if (rc != STORE_OK)
        *found = 0;
    return rc;
}

/* ---- admin: user search and statistics ---- */

enum store_rc store_user_search(struct store *s, const struct user_filter *f, const char *before_id, size_t limit,
                                struct user **users, struct wallet **wallets, size_t *n)
{
    *users = NULL;
    *wallets = NULL;
    *n = 0;
    enum store_rc rc = s->ops->user_search(s, f, before_id, limit, users, wallets, n);
    if (rc != STORE_OK) {
        free(*users);
        free(*wallets);
        *users = NULL;
        *wallets = NULL;
        *n = 0;
    }
    return rc;
}

/* The statistics reads share one shape: out and n cleared first, and again on failure. */
#define STATS_CALL(call)                                                                                      \
    do {                                                                                                      \
        *out = NULL;                                                                                          \
        *n = 0;                                                                                               \
        enum store_rc rc_ = (call);                                                                           \
        if (rc_ != STORE_OK) {                                                                                \
            free(*out);                                                                                       \
            *out = NULL;                                                                                      \
            *n = 0;                                                                                           \
        }                                                                                                     \
        return rc_;                                                                                           \
    } while (0)

enum store_rc store_stats_users(struct store *s, int64_t from, int64_t to, int64_t bucket_ms, struct stats_row **out,
                                size_t *n)
{
    STATS_CALL(s->ops->stats_users(s, from, to, bucket_ms, out, n));
}

enum store_rc store_stats_active(struct store *s, int64_t from, int64_t to, int64_t bucket_ms, unsigned kinds,
                                 struct stats_row **out, size_t *n)
{
    STATS_CALL(s->ops->stats_active(s, from, to, bucket_ms, kinds, out, n));
}

enum store_rc store_stats_orders_paid(struct store *s, int64_t from, int64_t to, int64_t bucket_ms,
                                      struct stats_row **out, size_t *n)
{
    STATS_CALL(s->ops->stats_orders_paid(s, from, to, bucket_ms, out, n));
}

enum store_rc store_stats_refunds(struct store *s, int64_t from, int64_t to, int64_t bucket_ms, struct stats_row **out,
                                  size_t *n)
{
    STATS_CALL(s->ops->stats_refunds(s, from, to, bucket_ms, out, n));
}

enum store_rc store_stats_tasks(struct store *s, int64_t from, int64_t to, int64_t bucket_ms, struct stats_row **out,
                                size_t *n)
{
    STATS_CALL(s->ops->stats_tasks(s, from, to, bucket_ms, out, n));
}

enum store_rc store_stats_latencies(struct store *s, int64_t from, int64_t to, size_t max, struct stats_latency **out,
                                    size_t *n)
{
    STATS_CALL(s->ops->stats_latencies(s, from, to, max, out, n));
}
