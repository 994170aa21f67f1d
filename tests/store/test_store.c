/*
 * Store conformance suite: written against store/store.h only, so the same checks run on
 * every backend. The database comes from TG_TEST_DATABASE_URL (default: a fresh SQLite file
 * in a temporary folder); TG_TEST_PG_URL, when set, runs the suite again on PostgreSQL.
 *
 * A few checks need to go around the interface on purpose (the append-only triggers, a
 * tampered balance for the invariant check, a database newer than the binary); they open a
 * raw SQLite handle and run only on sqlite: URLs.
 */
#include "../unit/test.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "core/ids.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "store/store.h"

/* The database under test and, for sqlite: URLs, its file (else NULL). */
static const char *g_url;
static const char *g_path;

/* Fresh temporary folder for files the suite creates; removed at exit by the caller's rm. */
static char g_tmpdir[64];

static struct store *open_store(void)
{
    char *err = NULL;
    struct store *s = store_open(g_url, &err);
    if (s == NULL) {
        printf("# store_open failed: %s\n", err ? err : "?");
        free(err);
        exit(1);
    }
    return s;
}

/* A raw handle to the SQLite file, for the checks that must bypass the store. */
static sqlite3 *raw_open(const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK) {
        printf("# raw open failed\n");
        exit(1);
    }
    sqlite3_busy_timeout(db, 5000);
    return db;
}

/* A new user with a unique email; signup credits as given. */
static void make_user(struct store *s, struct user *u, const char *tag, int64_t signup)
{
    memset(u, 0, sizeof *u);
    id_new(u->id, "usr");
    snprintf(u->email, sizeof u->email, "%s-%s@example.test", tag, u->id + 4);
    snprintf(u->display_name, sizeof u->display_name, "%s", tag);
    snprintf(u->role, sizeof u->role, "user");
    snprintf(u->password_hash, sizeof u->password_hash, "$argon2id$v=19$fake");
    u->created_at = u->updated_at = time_now_ms();
    enum store_rc rc = store_user_create(s, u, signup);
    if (rc != STORE_OK) {
        printf("# make_user: %s\n", store_rc_name(rc));
        exit(1);
    }
}

/* A run-unique ledger reference: refs are unique across the whole database, and a
 * TG_TEST_DATABASE_URL may point at one that an earlier run already used. */
static char g_run[TG_ID_MAX];
static const char *R(const char *tag)
{
    static char ring[32][64];
    static unsigned next;
    char *b = ring[next++ % 32];
    snprintf(b, sizeof ring[0], "%s-%s", g_run, tag);
    return b;
}

static struct ledger_op op_make(const char *user_id, int debit, enum ledger_bucket b, int64_t amount,
                                enum ledger_kind kind, const char *ref_type, const char *ref_id)
{
    struct ledger_op op = {
        .user_id = user_id,
        .amount = amount,
        .debit = debit,
        .bucket = b,
        .kind = kind,
        .ref_type = ref_type,
        .ref_id = ref_id,
    };
    return op;
}

static void fill_hash(unsigned char h[32])
{
    randombytes_buf(h, 32);
}

static void make_token(struct refresh_token *t, const char *user_id, const char *family, int64_t now,
                       int64_t ttl)
{
    memset(t, 0, sizeof *t);
    id_new(t->id, "rtk");
    snprintf(t->user_id, sizeof t->user_id, "%s", user_id);
    snprintf(t->family_id, sizeof t->family_id, "%s", family);
    fill_hash(t->hash);
    t->created_at = now;
    t->expires_at = now + ttl;
}

/* ---- migrations and connection ---- */

struct migrate_thread {
    const char *url;
    int rc;
    int applied;
};

static void *migrate_thread_main(void *arg)
{
    struct migrate_thread *m = arg;
    char *err = NULL;
    m->rc = store_migrate(m->url, &m->applied, &err);
    if (m->rc != 0)
        printf("# concurrent migrate: %s\n", err ? err : "?");
    free(err);
    return NULL;
}

static void test_migrate(int fresh)
{
    char *err = NULL;
    int applied = -1;
    int rc = store_migrate(g_url, &applied, &err);
    CHECK(rc == 0, "migrate succeeds (%s)", err ? err : "ok");
    free(err);
    err = NULL;
    if (fresh)
        CHECK(applied >= 1, "a fresh database gets every migration (%d)", applied);
    rc = store_migrate(g_url, &applied, &err);
    CHECK(rc == 0 && applied == 0, "migrating again applies nothing (%d)", applied);
    free(err);
    err = NULL;

    struct store *s = open_store();
    CHECK_INT_EQ(store_ping(s), STORE_OK, "ping");
    store_close(s);

    CHECK(store_open("postgres://u:secret@db/x", &err) == NULL && err && strstr(err, "PostgreSQL") &&
              !strstr(err, "secret"),
          "postgres:// is refused clearly, without echoing the URL (%s)", err ? err : "");
    free(err);
    err = NULL;
    CHECK(store_open("mysql://x", &err) == NULL && err != NULL, "unknown scheme refused");
    free(err);
    err = NULL;

    /* An in-memory connection is its own database and arrives with its schema. */
    struct store *m = store_open("sqlite::memory:", &err);
    CHECK(m != NULL, "sqlite::memory: opens (%s)", err ? err : "ok");
    free(err);
    err = NULL;
    if (m != NULL) {
        struct user mu;
        struct wallet mw;
        make_user(m, &mu, "memory", 3);
        CHECK(store_wallet_get(m, mu.id, &mw) == STORE_OK && mw.paid_credits == 3,
              "sqlite::memory: is usable");
        store_close(m);
    }

    if (g_path == NULL)
        return;

    /* Two processes migrating one fresh database at once: both succeed, each migration once. */
    char *url2 = xasprintf("sqlite:%s/concurrent-migrate.db", g_tmpdir);
    struct migrate_thread mt[2] = {{url2, -1, 0}, {url2, -1, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, migrate_thread_main, &mt[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    CHECK(mt[0].rc == 0 && mt[1].rc == 0, "concurrent migrations both succeed");
    CHECK(mt[0].applied + mt[1].applied >= 1 &&
              mt[0].applied + mt[1].applied ==
                  (mt[0].applied > mt[1].applied ? mt[0].applied : mt[1].applied),
          "each migration applied exactly once (%d + %d)", mt[0].applied, mt[1].applied);

    /* A database migrated by a newer release is refused, not half-understood. */
    sqlite3 *db = raw_open(url2 + 7);
    CHECK(sqlite3_exec(
              db, "INSERT INTO schema_migrations(version, name, applied_at) VALUES (9999, '9999_future', 0)",
              NULL, NULL, NULL) == SQLITE_OK,
          "raw: record a future migration");
    sqlite3_close(db);
    rc = store_migrate(url2, &applied, &err);
    CHECK(rc == -1 && err && strstr(err, "newer"), "a newer schema is refused (%s)", err ? err : "");
    free(err);
    free(url2);
}

/* ---- users ---- */

static void test_users(void)
{
    struct store *s = open_store();
    struct user u, got, dup;
    struct wallet w;
    struct ledger_entry e;
    int64_t now = time_now_ms();

    make_user(s, &u, "alice", 8);
    CHECK_INT_EQ(store_user_get(s, u.id, &got), STORE_OK, "user_get");
    CHECK_STR_EQ(got.email, u.email, "email round-trips");
    CHECK_STR_EQ(got.display_name, "alice", "display_name round-trips");
    CHECK_STR_EQ(got.role, "user", "role round-trips");
    CHECK_STR_EQ(got.region, "", "no region reads as empty");
    CHECK_STR_EQ(got.password_hash, u.password_hash, "password hash round-trips");
    CHECK(got.created_at == u.created_at && got.disabled == 0, "times and disabled round-trip");

    CHECK_INT_EQ(store_user_get_by_email(s, u.email, &got), STORE_OK, "user_get_by_email");
    CHECK_STR_EQ(got.id, u.id, "by email finds the same user");
    CHECK_INT_EQ(store_user_get(s, "usr_nope", &got), STORE_NOTFOUND, "unknown id -> NOTFOUND");
    CHECK(got.id[0] == '\0' && got.email[0] == '\0', "out-struct zeroed on NOTFOUND");
    CHECK_INT_EQ(store_user_get_by_email(s, "nobody@example.test", &got), STORE_NOTFOUND, "unknown email");

    dup = u;
    id_new(dup.id, "usr");
    CHECK_INT_EQ(store_user_create(s, &dup, 8), STORE_DUPLICATE, "taken email -> DUPLICATE");
    CHECK_INT_EQ(store_user_get(s, dup.id, &got), STORE_NOTFOUND, "the duplicate left no user behind");
    CHECK_INT_EQ(store_wallet_get(s, dup.id, &w), STORE_NOTFOUND, "... and no wallet");

    CHECK_INT_EQ(store_wallet_get(s, u.id, &w), STORE_OK, "wallet created with the user");
    CHECK(w.paid_credits == 8 && w.plan_credits == 0 && w.plan_expires_at == 0,
          "signup grant: 8 paid credits");
    CHECK_INT_EQ(store_ledger_get_by_ref(s, LK_SIGNUP_GRANT, "user", u.id, &e), STORE_OK,
                 "signup_grant entry");
    CHECK(e.delta == 8 && e.balance_after == 8 && e.bucket == BUCKET_PAID && e.kind == LK_SIGNUP_GRANT,
          "signup_grant: +8 paid, balance_after 8");
    CHECK_STR_EQ(e.user_id, u.id, "signup_grant belongs to the user");

    struct user z;
    make_user(s, &z, "zero", 0);
    struct ledger_entry *list = NULL;
    size_t n = 99;
    CHECK(store_ledger_list(s, z.id, NULL, 10, &list, &n) == STORE_OK && n == 0,
          "no signup credits -> no ledger entry");
    free(list);

    CHECK_INT_EQ(store_user_update_profile(s, u.id, "Alice A.", "CN", now + 1), STORE_OK, "update profile");
    store_user_get(s, u.id, &got);
    CHECK(strcmp(got.display_name, "Alice A.") == 0 && strcmp(got.region, "CN") == 0 &&
              got.updated_at == now + 1,
          "profile updated");
    CHECK_INT_EQ(store_user_update_profile(s, u.id, NULL, "", now + 2), STORE_OK, "clear region");
    store_user_get(s, u.id, &got);
    CHECK(strcmp(got.display_name, "Alice A.") == 0 && got.region[0] == '\0',
          "NULL keeps the name, \"\" clears");
    CHECK_INT_EQ(store_user_update_profile(s, "usr_nope", "x", NULL, now), STORE_NOTFOUND,
                 "profile: unknown user");

    CHECK_INT_EQ(store_user_set_role(s, u.id, "admin", now + 3), STORE_OK, "set role admin");
    store_user_get(s, u.id, &got);
    CHECK_STR_EQ(got.role, "admin", "role stored");
    CHECK_INT_EQ(store_user_set_role(s, u.id, "root", now + 3), STORE_ERROR, "unknown role refused");
    CHECK_INT_EQ(store_user_set_role(s, "usr_nope", "user", now), STORE_NOTFOUND, "role: unknown user");

    /* set_password revokes every refresh token of the user, in any family. */
    struct refresh_token t1, t2, next;
    char fam1[TG_ID_MAX], fam2[TG_ID_MAX], uid[TG_ID_MAX];
    enum refresh_outcome out;
    id_new(fam1, "fam");
    id_new(fam2, "fam");
    make_token(&t1, u.id, fam1, now, 3600000);
    make_token(&t2, u.id, fam2, now, 3600000);
    CHECK(store_refresh_insert(s, &t1) == STORE_OK && store_refresh_insert(s, &t2) == STORE_OK,
          "two sessions");
    CHECK_INT_EQ(store_user_set_password(s, u.id, "$argon2id$v=19$new", now + 4), STORE_OK, "set password");
    store_user_get(s, u.id, &got);
    CHECK_STR_EQ(got.password_hash, "$argon2id$v=19$new", "password hash replaced");
    make_token(&next, "", "", now + 5, 3600000);
    CHECK(store_refresh_rotate(s, t1.hash, &next, now + 5, &out, uid) == STORE_OK && out == REFRESH_EXPIRED,
          "session 1 revoked by the password change (%d)", out);
    CHECK(store_refresh_rotate(s, t2.hash, &next, now + 5, &out, uid) == STORE_OK && out == REFRESH_EXPIRED,
          "session 2 revoked by the password change (%d)", out);
    CHECK_INT_EQ(store_user_set_password(s, "usr_nope", "x", now), STORE_NOTFOUND, "password: unknown user");

    /* rehash swaps the hash only while it is unchanged, and keeps sessions. */
    struct refresh_token t3;
    char fam3[TG_ID_MAX];
    id_new(fam3, "fam");
    make_token(&t3, u.id, fam3, now + 6, 3600000);
    CHECK(store_refresh_insert(s, &t3) == STORE_OK, "a new session");
    CHECK_INT_EQ(store_user_rehash_password(s, u.id, "$argon2id$v=19$stale", "$argon2id$v=19$r", now + 7),
                 STORE_NOTFOUND, "rehash refused when the hash changed meanwhile");
    CHECK_INT_EQ(store_user_rehash_password(s, u.id, "$argon2id$v=19$new", "$argon2id$v=19$r", now + 7),
                 STORE_OK, "rehash");
    store_user_get(s, u.id, &got);
    CHECK_STR_EQ(got.password_hash, "$argon2id$v=19$r", "rehashed hash stored");
    make_token(&next, "", "", now + 8, 3600000);
    CHECK(store_refresh_rotate(s, t3.hash, &next, now + 8, &out, uid) == STORE_OK && out == REFRESH_ROTATED,
          "rehash keeps the session (%d)", out);

    store_close(s);
}

/* ---- refresh tokens ---- */

static void test_tokens(void)
{
    struct store *s = open_store();
    struct user u;
    struct refresh_token t1, t2, t3, t4, tx;
    char fam[TG_ID_MAX], uid[TG_ID_MAX];
    enum refresh_outcome out;
    int64_t now = time_now_ms();

    make_user(s, &u, "tok", 0);
    id_new(fam, "fam");
    make_token(&t1, u.id, fam, now, 3600000);
    CHECK_INT_EQ(store_refresh_insert(s, &t1), STORE_OK, "insert refresh token");
    CHECK_INT_EQ(store_refresh_insert(s, &t1), STORE_DUPLICATE, "same token twice -> DUPLICATE");

    /* next's user and family are ignored and taken from the presented token. */
    make_token(&t2, "usr_ignored", "fam_ignored", now + 1, 3600000);
    CHECK(store_refresh_rotate(s, t1.hash, &t2, now + 1, &out, uid) == STORE_OK && out == REFRESH_ROTATED,
          "rotate: happy path");
    CHECK_STR_EQ(uid, u.id, "rotate reports the token's user");
    make_token(&t3, "", "", now + 2, 3600000);
    CHECK(store_refresh_rotate(s, t2.hash, &t3, now + 2, &out, uid) == STORE_OK && out == REFRESH_ROTATED,
          "the replacement rotates in turn (same user, same family)");
    CHECK_STR_EQ(uid, u.id, "replacement belongs to the same user");

    /* Presenting t1 again is theft: the family dies, including t3 handed out legitimately. */
    make_token(&t4, "", "", now + 3, 3600000);
    CHECK(store_refresh_rotate(s, t1.hash, &t4, now + 3, &out, uid) == STORE_OK && out == REFRESH_REUSED,
          "reuse of a rotated token -> REUSED");
    CHECK_STR_EQ(uid, u.id, "REUSED still names the user");
    CHECK(store_refresh_rotate(s, t3.hash, &t4, now + 4, &out, uid) == STORE_OK && out == REFRESH_EXPIRED,
          "after reuse the newest token of the family is rejected");
    CHECK(store_refresh_rotate(s, t4.hash, &tx, now + 4, &out, uid) == STORE_OK && out == REFRESH_UNKNOWN,
          "the token offered during the reuse was never stored");

    unsigned char unknown[32];
    fill_hash(unknown);
    make_token(&tx, "", "", now, 3600000);
    CHECK(store_refresh_rotate(s, unknown, &tx, now, &out, uid) == STORE_OK && out == REFRESH_UNKNOWN &&
              uid[0] == '\0',
          "unknown token -> UNKNOWN, no user");

    /* Expiry. */
    struct refresh_token e1, e2;
    id_new(fam, "fam");
    make_token(&e1, u.id, fam, now, 1000);
    store_refresh_insert(s, &e1);
    make_token(&e2, "", "", now + 1000, 3600000);
    CHECK(store_refresh_rotate(s, e1.hash, &e2, now + 1000, &out, uid) == STORE_OK && out == REFRESH_EXPIRED,
          "token at expires_at -> EXPIRED");
    CHECK(store_refresh_rotate(s, e2.hash, &tx, now + 1001, &out, uid) == STORE_OK && out == REFRESH_UNKNOWN,
          "no replacement stored for an expired token");

    /* Logout through the newest token revokes the whole family. */
    struct refresh_token l1, l2, l3;
    id_new(fam, "fam");
    make_token(&l1, u.id, fam, now, 3600000);
    store_refresh_insert(s, &l1);
    make_token(&l2, "", "", now + 1, 3600000);
    store_refresh_rotate(s, l1.hash, &l2, now + 1, &out, uid);
    CHECK_INT_EQ(store_refresh_revoke_family(s, l2.hash, now + 2), STORE_OK, "logout");
    make_token(&l3, "", "", now + 3, 3600000);
    CHECK(store_refresh_rotate(s, l2.hash, &l3, now + 3, &out, uid) == STORE_OK && out == REFRESH_EXPIRED,
          "logged-out token -> EXPIRED");
    CHECK(store_refresh_rotate(s, l1.hash, &l3, now + 3, &out, uid) == STORE_OK && out == REFRESH_EXPIRED,
          "an older token of a logged-out family stays EXPIRED");
    CHECK_INT_EQ(store_refresh_revoke_family(s, unknown, now), STORE_NOTFOUND, "logout with unknown token");

    /* revoke_user. */
    struct refresh_token r1, r2;
    char f1[TG_ID_MAX], f2[TG_ID_MAX];
    id_new(f1, "fam");
    id_new(f2, "fam");
    make_token(&r1, u.id, f1, now, 3600000);
    make_token(&r2, u.id, f2, now, 3600000);
    store_refresh_insert(s, &r1);
    store_refresh_insert(s, &r2);
    CHECK_INT_EQ(store_refresh_revoke_user(s, u.id, now + 1), STORE_OK, "revoke_user");
    make_token(&tx, "", "", now + 2, 3600000);
    int both =
        store_refresh_rotate(s, r1.hash, &tx, now + 2, &out, uid) == STORE_OK && out == REFRESH_EXPIRED;
    both = both && store_refresh_rotate(s, r2.hash, &tx, now + 2, &out, uid) == STORE_OK &&
           out == REFRESH_EXPIRED;
    CHECK(both, "revoke_user ends every family");

    /* Disabling a user revokes its sessions (added operation). */
    struct refresh_token d1;
    id_new(fam, "fam");
    make_token(&d1, u.id, fam, now, 3600000);
    store_refresh_insert(s, &d1);
    CHECK_INT_EQ(store_user_set_disabled(s, u.id, 1, now + 1), STORE_OK, "disable user");
    make_token(&tx, "", "", now + 2, 3600000);
    CHECK(store_refresh_rotate(s, d1.hash, &tx, now + 2, &out, uid) == STORE_OK && out == REFRESH_EXPIRED,
          "disabling revokes the user's refresh tokens");
    CHECK_INT_EQ(store_user_set_disabled(s, "usr_nope", 1, now), STORE_NOTFOUND, "disable: unknown user");

    store_close(s);
}

/* ---- API keys ---- */

static void make_key(struct api_key *k, const char *user_id, const char *name, int64_t now)
{
    memset(k, 0, sizeof *k);
    id_new_at(k->id, "key", now);
    snprintf(k->user_id, sizeof k->user_id, "%s", user_id);
    snprintf(k->name, sizeof k->name, "%s", name);
    snprintf(k->prefix, sizeof k->prefix, "tg_live_abcd");
    fill_hash(k->hash);
    k->created_at = now;
}

static void test_apikeys(void)
{
    struct store *s = open_store();
    struct user u, other, ku;
    struct api_key k1, k2, got, *list = NULL;
    size_t n = 0;
    int64_t count = -1;
    int64_t now = time_now_ms();

    make_user(s, &u, "keys", 0);
    make_user(s, &other, "other", 0);
    make_key(&k1, u.id, "first", now);
    make_key(&k2, u.id, "second", now + 1);
    CHECK(store_api_key_insert(s, &k1, 0) == STORE_OK && store_api_key_insert(s, &k2, 0) == STORE_OK,
          "insert keys");
    CHECK_INT_EQ(store_api_key_insert(s, &k1, 0), STORE_DUPLICATE, "same key twice -> DUPLICATE");

    CHECK(store_api_key_list(s, u.id, &list, &n) == STORE_OK && n == 2, "list: two active keys");
    CHECK(n == 2 && strcmp(list[0].id, k2.id) == 0 && strcmp(list[1].id, k1.id) == 0, "list: newest first");
    CHECK(n == 2 && strcmp(list[1].name, "first") == 0 && strcmp(list[1].prefix, "tg_live_abcd") == 0 &&
              memcmp(list[1].hash, k1.hash, 32) == 0 && list[1].last_used_at == 0 && list[1].revoked_at == 0,
          "list: fields round-trip");
    free(list);
    list = NULL;
    CHECK(store_api_key_count_active(s, u.id, &count) == STORE_OK && count == 2, "count_active 2");
    struct api_key k3;
    make_key(&k3, u.id, "third", now + 1);
    CHECK_INT_EQ(store_api_key_insert(s, &k3, 2), STORE_INSUFFICIENT, "insert refused at the active ceiling");
    CHECK(store_api_key_count_active(s, u.id, &count) == STORE_OK && count == 2, "nothing inserted at the ceiling");

    CHECK_INT_EQ(store_api_key_revoke(s, other.id, k1.id, now), STORE_NOTFOUND,
                 "another user cannot revoke it");
    CHECK_INT_EQ(store_api_key_revoke(s, u.id, k1.id, now + 2), STORE_OK, "revoke");
    CHECK_INT_EQ(store_api_key_revoke(s, u.id, k1.id, now + 3), STORE_NOTFOUND, "revoke twice -> NOTFOUND");
    CHECK(store_api_key_count_active(s, u.id, &count) == STORE_OK && count == 1, "count_active 1");
    CHECK(store_api_key_list(s, u.id, &list, &n) == STORE_OK && n == 1 && strcmp(list[0].id, k2.id) == 0,
          "list omits the revoked key");
    free(list);
    list = NULL;

    CHECK_INT_EQ(store_api_key_authenticate(s, k1.hash, now + 4, &got, &ku), STORE_NOTFOUND,
                 "revoked key -> NOTFOUND");
    unsigned char unknown[32];
    fill_hash(unknown);
    CHECK_INT_EQ(store_api_key_authenticate(s, unknown, now, &got, &ku), STORE_NOTFOUND, "unknown key");

    int64_t t0 = now + 10;
    CHECK_INT_EQ(store_api_key_authenticate(s, k2.hash, t0, &got, &ku), STORE_OK, "authenticate");
    CHECK(strcmp(got.id, k2.id) == 0 && strcmp(ku.id, u.id) == 0 && strcmp(ku.email, u.email) == 0,
          "authenticate returns the key and its user");
    CHECK_INT_EQ(got.last_used_at, t0, "first use records last_used_at");
    CHECK_INT_EQ(store_api_key_authenticate(s, k2.hash, t0 + 30000, &got, &ku), STORE_OK,
                 "authenticate again");
    CHECK_INT_EQ(got.last_used_at, t0, "within a minute last_used_at is not rewritten");
    CHECK_INT_EQ(store_api_key_authenticate(s, k2.hash, t0 + 60001, &got, &ku), STORE_OK, "a minute later");
    CHECK_INT_EQ(got.last_used_at, t0 + 60001, "after a minute last_used_at moves");
    CHECK(store_api_key_list(s, u.id, &list, &n) == STORE_OK && n == 1 && list[0].last_used_at == t0 + 60001,
          "last_used_at is stored");
    free(list);
    list = NULL;

    CHECK_INT_EQ(store_user_set_disabled(s, u.id, 1, now), STORE_OK, "disable the owner");
    CHECK_INT_EQ(store_api_key_authenticate(s, k2.hash, t0 + 70000, &got, &ku), STORE_NOTFOUND,
                 "disabled user's key -> NOTFOUND");
    CHECK(got.id[0] == '\0' && ku.id[0] == '\0', "outputs zeroed on NOTFOUND");
    CHECK_INT_EQ(store_user_set_disabled(s, u.id, 0, now), STORE_OK, "re-enable");
    CHECK_INT_EQ(store_api_key_authenticate(s, k2.hash, t0 + 70000, &got, &ku), STORE_OK, "key works again");

    store_close(s);
}

/* ---- ledger ---- */

static int64_t count_entries(struct store *s, const char *user_id)
{
    struct ledger_entry *l = NULL;
    size_t n = 0;
    if (store_ledger_list(s, user_id, NULL, 100000, &l, &n) != STORE_OK)
        return -1;
    free(l);
    return (int64_t)n;
}

static void test_ledger(void)
{
    struct store *s = open_store();
    struct user u;
    struct wallet w, w2;
    struct ledger_entry e;
    struct ledger_op op;
    int64_t now = time_now_ms();
    int64_t exp = now + 30LL * 86400000;

    make_user(s, &u, "ledger", 0);

    op = op_make(u.id, 0, BUCKET_PAID, 100, LK_PURCHASE, "order", R("ord_1"));
    op.note = "pack 100";
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, &w), STORE_OK, "credit paid 100");
    CHECK(w.paid_credits == 100 && w.plan_credits == 0 && w.updated_at == now, "after: paid 100");
    CHECK_INT_EQ(store_ledger_get_by_ref(s, LK_PURCHASE, "order", R("ord_1"), &e), STORE_OK, "entry by ref");
    CHECK(e.delta == 100 && e.balance_after == 100 && e.bucket == BUCKET_PAID && e.created_at == now &&
              strcmp(e.note, "pack 100") == 0 && strcmp(e.ref_type, "order") == 0 &&
              strcmp(e.ref_id, R("ord_1")) == 0,
          "entry fields round-trip");
    CHECK(id_valid(e.id, "led"), "ledger id is a led_ id (%s)", e.id);

    op = op_make(u.id, 0, BUCKET_PLAN, 50, LK_PLAN_GRANT, "subscription", R("sub_1:1"));
    op.plan_expires_at = exp;
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, &w), STORE_OK, "credit plan 50");
    CHECK(w.plan_credits == 50 && w.paid_credits == 100 && w.plan_expires_at == exp, "plan 50, expiry set");
    op = op_make(u.id, 0, BUCKET_PLAN, 5, LK_REFUND, "task", R("tsk_r"));
    CHECK(store_ledger_apply(s, &op, now, &w) == STORE_OK && w.plan_credits == 55 && w.plan_expires_at == exp,
          "plan credit with plan_expires_at 0 keeps the expiry");

    op = op_make(u.id, 1, BUCKET_PAID, 30, LK_SPEND, "task", R("tsk_1"));
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, &w), STORE_OK, "debit paid 30");
    CHECK(w.paid_credits == 70 && w.plan_credits == 55, "paid 70, plan untouched");

    /* Plan-first across both buckets: 55 from plan, 15 from paid. If the paid expression saw
     * the already-updated plan balance this would take 70 from paid. */
    op = op_make(u.id, 1, BUCKET_PAID, 70, LK_SPEND, "task", R("tsk_2"));
    op.from_plan_first = 1;
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, &w), STORE_OK, "plan-first debit 70");
    CHECK(w.plan_credits == 0 && w.paid_credits == 55, "plan 55 -> 0, paid 70 -> 55 (plan %lld paid %lld)",
          (long long)w.plan_credits, (long long)w.paid_credits);
    struct ledger_entry *l = NULL;
    size_t n = 0;
    CHECK(store_ledger_list(s, u.id, NULL, 2, &l, &n) == STORE_OK && n == 2, "two newest entries");
    if (n == 2) {
        /* newest first: the paid row was applied after the plan row */
        CHECK(l[1].bucket == BUCKET_PLAN && l[1].delta == -55 && l[1].balance_after == 0,
              "plan row -55 -> 0");
        CHECK(l[0].bucket == BUCKET_PAID && l[0].delta == -15 && l[0].balance_after == 55,
              "paid row -15 -> 55");
        CHECK(strcmp(l[1].ref_id, R("tsk_2")) == 0 && strcmp(l[0].ref_id, R("tsk_2")) == 0,
              "both rows carry the ref");
        CHECK(strcmp(l[1].id, l[0].id) < 0, "plan row id sorts before paid row id");
    }
    free(l);
    l = NULL;

    /* Plan-first that fits in the plan bucket: one row. And with an empty plan: one paid row. */
    op = op_make(u.id, 0, BUCKET_PLAN, 10, LK_PLAN_GRANT, "subscription", R("sub_1:2"));
    store_ledger_apply(s, &op, now, &w);
    int64_t before_n = count_entries(s, u.id);
    op = op_make(u.id, 1, BUCKET_PAID, 4, LK_SPEND, "task", R("tsk_3"));
    op.from_plan_first = 1;
    CHECK(store_ledger_apply(s, &op, now, &w) == STORE_OK && w.plan_credits == 6 && w.paid_credits == 55,
          "plan-first within plan");
    CHECK_INT_EQ(count_entries(s, u.id), before_n + 1, "... writes one row (paid change 0 gets none)");
    op = op_make(u.id, 1, BUCKET_PAID, 6, LK_SPEND, "task", R("tsk_4"));
    op.from_plan_first = 1;
    store_ledger_apply(s, &op, now, &w);
    op = op_make(u.id, 1, BUCKET_PAID, 5, LK_SPEND, "task", R("tsk_5"));
    op.from_plan_first = 1;
    before_n = count_entries(s, u.id);
    CHECK(store_ledger_apply(s, &op, now, &w) == STORE_OK && w.plan_credits == 0 && w.paid_credits == 50,
          "plan-first with empty plan takes paid");
    CHECK(count_entries(s, u.id) == before_n + 1 &&
              store_ledger_get_by_ref(s, LK_SPEND, "task", R("tsk_5"), &e) == STORE_OK &&
              e.bucket == BUCKET_PAID,
          "... one paid row");

    /* Insufficient: nothing changes, no entry. */
    store_wallet_get(s, u.id, &w);
    before_n = count_entries(s, u.id);
    op = op_make(u.id, 1, BUCKET_PAID, 51, LK_SPEND, "task", R("tsk_big"));
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, &w2), STORE_INSUFFICIENT,
                 "debit above balance -> INSUFFICIENT");
    CHECK(w2.user_id[0] == '\0', "after zeroed on INSUFFICIENT");
    op.from_plan_first = 1;
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, &w2), STORE_INSUFFICIENT, "plan-first above total");
    op = op_make(u.id, 1, BUCKET_PLAN, 1, LK_SPEND, "task", R("tsk_big2"));
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, &w2), STORE_INSUFFICIENT, "plan debit with empty plan");
    store_wallet_get(s, u.id, &w2);
    CHECK(w2.paid_credits == w.paid_credits && w2.plan_credits == w.plan_credits, "wallet unchanged");
    CHECK_INT_EQ(count_entries(s, u.id), before_n, "no entry written");
    CHECK_INT_EQ(store_ledger_get_by_ref(s, LK_SPEND, "task", R("tsk_big"), &e), STORE_NOTFOUND,
                 "ref not recorded");

    /* Duplicates: a retried operation changes nothing, even once the balance has moved. */
    op = op_make(u.id, 1, BUCKET_PAID, 30, LK_SPEND, "task", R("tsk_1"));
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, &w2), STORE_DUPLICATE, "same debit ref -> DUPLICATE");
    op = op_make(u.id, 0, BUCKET_PAID, 100, LK_PURCHASE, "order", R("ord_1"));
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, &w2), STORE_DUPLICATE, "same credit ref -> DUPLICATE");
    op = op_make(u.id, 1, BUCKET_PAID, 70, LK_SPEND, "task", R("tsk_2"));
    op.from_plan_first = 1;
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, &w2), STORE_DUPLICATE,
                 "replayed plan-first debit -> DUPLICATE");
    op = op_make(u.id, 1, BUCKET_PAID, 50, LK_SPEND, "task", R("tsk_all"));
    CHECK(store_ledger_apply(s, &op, now, &w2) == STORE_OK && w2.paid_credits == 0, "spend everything");
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, &w2), STORE_DUPLICATE,
                 "replay after the balance hit 0 is DUPLICATE, not INSUFFICIENT");
    op = op_make(u.id, 0, BUCKET_PAID, 1, LK_REFUND, "task", R("tsk_all"));
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, &w2), STORE_OK, "same ref under another kind is distinct");
    store_wallet_get(s, u.id, &w2);
    CHECK_INT_EQ(w2.paid_credits, 1, "balance reflects only applied operations");

    /* Unknown wallet, invalid operations. */
    op = op_make("usr_nobody", 0, BUCKET_PAID, 1, LK_PURCHASE, "order", R("ord_x"));
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, &w2), STORE_NOTFOUND, "credit without wallet -> NOTFOUND");
    op.debit = 1;
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, &w2), STORE_NOTFOUND, "debit without wallet -> NOTFOUND");
    op.from_plan_first = 1;
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, &w2), STORE_NOTFOUND,
                 "plan-first without wallet -> NOTFOUND");
    uint64_t errors_before = store_error_count();
    op = op_make(u.id, 0, BUCKET_PAID, 0, LK_PURCHASE, "order", R("ord_zero"));
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, NULL), STORE_ERROR, "amount 0 refused");
    CHECK(store_error_count() == errors_before + 1, "the failure is counted for /metrics");
    op.amount = -5;
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, NULL), STORE_ERROR, "negative amount refused");
    op = op_make(u.id, 0, BUCKET_PAID, 1, LK_PURCHASE, "order", NULL);
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, NULL), STORE_ERROR, "missing ref refused");

    store_close(s);
}

/* Overflow: refused, never wrapped. Runs after the totals test: it leaves purchase deltas
 * summing past INT64_MAX, which store_ledger_totals() reports as an error (it never wraps). */
static void test_overflow(void)
{
    struct store *s = open_store();
    struct wallet w;
    struct ledger_op op;
    int64_t now = time_now_ms();
    struct user big;
    make_user(s, &big, "big", 0);
    op = op_make(big.id, 0, BUCKET_PAID, INT64_MAX - 10, LK_PURCHASE, "order", R("ord_big1"));
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, &w), STORE_OK, "credit up to INT64_MAX - 10");
    op = op_make(big.id, 0, BUCKET_PAID, 11, LK_PURCHASE, "order", R("ord_big2"));
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, &w), STORE_ERROR, "credit past INT64_MAX -> ERROR");
    op = op_make(big.id, 0, BUCKET_PAID, 10, LK_PURCHASE, "order", R("ord_big3"));
    CHECK(store_ledger_apply(s, &op, now, &w) == STORE_OK && w.paid_credits == INT64_MAX,
          "credit to exactly INT64_MAX is fine");
    op = op_make(big.id, 0, BUCKET_PLAN, INT64_MAX, LK_PLAN_GRANT, "subscription", R("sub_big"));
    CHECK(store_ledger_apply(s, &op, now, &w) == STORE_OK && w.plan_credits == INT64_MAX,
          "both buckets at INT64_MAX");
    op = op_make(big.id, 1, BUCKET_PAID, INT64_MAX, LK_SPEND, "task", R("tsk_bigspend"));
    op.from_plan_first = 1;
    CHECK(store_ledger_apply(s, &op, now, &w) == STORE_OK && w.plan_credits == 0 &&
              w.paid_credits == INT64_MAX,
          "plan-first at the int64 edge takes plan only");
    op = op_make(big.id, 1, BUCKET_PAID, INT64_MAX, LK_SPEND, "task", R("tsk_bigspend2"));
    CHECK(store_ledger_apply(s, &op, now, &w) == STORE_OK && w.paid_credits == 0, "drain back to 0");

    store_close(s);
}

static void test_ledger_list(void)
{
    struct store *s = open_store();
    struct user u;
    int64_t now = time_now_ms();
    enum { N = 25 };
    char ref[64];

    make_user(s, &u, "pages", 3);
    /* Back to back, mostly within one millisecond: ids must still follow application order. */
    for (int i = 1; i <= N; i++) {
        snprintf(ref, sizeof ref, "%s-%d", u.id, i);
        struct ledger_op op = op_make(u.id, 0, BUCKET_PAID, i, LK_PURCHASE, "order", ref);
        store_ledger_apply(s, &op, now, NULL);
    }
    int64_t expect = 3 + N * (N + 1) / 2;
    struct wallet w;
    store_wallet_get(s, u.id, &w);
    CHECK_INT_EQ(w.paid_credits, expect, "26 credits applied");

    char cursor[TG_ID_MAX] = "";
    size_t total = 0, pages = 0;
    int ordered = 1, chained = 1;
    int64_t prev_after = -1, prev_delta = 0;
    char prev_id[TG_ID_MAX] = "";
    for (;;) {
        struct ledger_entry *l = NULL;
        size_t n = 0;
        if (store_ledger_list(s, u.id, cursor[0] ? cursor : NULL, 10, &l, &n) != STORE_OK)
            break;
        if (n == 0) {
            free(l);
            break;
        }
        pages++;
        for (size_t i = 0; i < n; i++) {
            if (prev_id[0] && strcmp(l[i].id, prev_id) >= 0)
                ordered = 0;
            /* newest first: the previous (newer) entry's balance minus its delta is ours */
            if (prev_after >= 0 && prev_after - prev_delta != l[i].balance_after)
                chained = 0;
            prev_after = l[i].balance_after;
            prev_delta = l[i].delta;
            snprintf(prev_id, sizeof prev_id, "%s", l[i].id);
        }
        if (total == 0)
            CHECK(l[0].balance_after == expect && l[0].delta == N, "first page starts with the newest entry");
        total += n;
        snprintf(cursor, sizeof cursor, "%s", l[n - 1].id);
        free(l);
    }
    CHECK_INT_EQ(total, N + 1, "pages cover every entry exactly once");
    CHECK_INT_EQ(pages, 3, "10 + 10 + 6");
    CHECK(ordered, "ids strictly decrease across pages");
    CHECK(chained && prev_after == 3 && prev_delta == 3, "balance_after chain is unbroken in id order");

    struct ledger_entry *l = NULL;
    size_t n = 5;
    CHECK(store_ledger_list(s, "usr_nobody", NULL, 10, &l, &n) == STORE_OK && n == 0,
          "unknown user: empty list");
    free(l);
    store_close(s);
}

/* ---- audit ---- */

static void test_audit(void)
{
    struct store *s = open_store();
    int64_t now = time_now_ms();
    struct audit_entry e[3];
    for (int i = 0; i < 3; i++) {
        memset(&e[i], 0, sizeof e[i]);
        /* Future-dated ids so that these are the newest entries even in a shared database. */
        id_new_at(e[i].id, "aud", now + 3600000 + i);
        snprintf(e[i].actor_id, sizeof e[i].actor_id, "usr_actor");
        snprintf(e[i].action, sizeof e[i].action, "auth.login_failed");
        snprintf(e[i].target_type, sizeof e[i].target_type, "user");
        snprintf(e[i].target_id, sizeof e[i].target_id, "usr_t%d", i);
        snprintf(e[i].ip, sizeof e[i].ip, "203.0.113.%d", i);
        snprintf(e[i].request_id, sizeof e[i].request_id, "req_%d", i);
        e[i].details_json = i == 1 ? NULL : "{\"reason\":\"bad_password\"}";
        e[i].created_at = now + i;
        CHECK_INT_EQ(store_audit_insert(s, &e[i]), STORE_OK, "audit insert %d", i);
    }
    struct audit_entry *l = NULL;
    size_t n = 0;
    CHECK(store_audit_list(s, NULL, 2, &l, &n) == STORE_OK && n == 2, "audit list: limit 2");
    if (n == 2) {
        CHECK(strcmp(l[0].id, e[2].id) == 0 && strcmp(l[1].id, e[1].id) == 0, "newest first");
        CHECK(strcmp(l[0].ip, "203.0.113.2") == 0 && strcmp(l[0].request_id, "req_2") == 0 &&
                  strcmp(l[0].target_id, "usr_t2") == 0 && l[0].created_at == now + 2,
              "fields round-trip");
        CHECK(l[0].details_json && strstr(l[0].details_json, "bad_password") && l[1].details_json == NULL,
              "details round-trip (NULL stays NULL)");
    }
    char cursor[TG_ID_MAX];
    snprintf(cursor, sizeof cursor, "%s", n ? l[n - 1].id : "");
    store_audit_free(l, n);
    l = NULL;
    CHECK(store_audit_list(s, cursor, 1, &l, &n) == STORE_OK && n == 1 && strcmp(l[0].id, e[0].id) == 0,
          "cursor continues with the next older entry");
    store_audit_free(l, n);

    struct audit_entry bad = e[0];
    id_new(bad.id, "aud");
    bad.details_json = "{not json";
    CHECK_INT_EQ(store_audit_insert(s, &bad), STORE_ERROR, "invalid JSON details refused");
    CHECK_INT_EQ(store_audit_insert(s, &e[0]), STORE_DUPLICATE, "same audit id twice -> DUPLICATE");
    store_close(s);
}

/* Finds the audit entry with this id among the newest 1000. Caller frees details_json. */
static int find_audit(struct store *s, const char *id, struct audit_entry *out)
{
    struct audit_entry *l = NULL;
    size_t n = 0;
    int found = 0;
    if (store_audit_list(s, NULL, 1000, &l, &n) != STORE_OK)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(l[i].id, id) == 0) {
            *out = l[i];
            l[i].details_json = NULL;
            found = 1;
        }
    }
    store_audit_free(l, n);
    return found;
}

static void test_admin_adjust(void)
{
    struct store *s = open_store();
    struct user u, admin;
    struct wallet before, after, w;
    struct audit_entry a, got;
    int64_t now = time_now_ms();

    make_user(s, &u, "adjusted", 10);
    make_user(s, &admin, "admin", 0);
    memset(&a, 0, sizeof a);
    id_new(a.id, "aud");
    snprintf(a.actor_id, sizeof a.actor_id, "%s", admin.id);
    snprintf(a.action, sizeof a.action, "credits.adjust");
    snprintf(a.target_type, sizeof a.target_type, "user");
    snprintf(a.target_id, sizeof a.target_id, "%s", u.id);
    a.details_json = "{\"reason\":\"goodwill\",\"bucket\":\"paid\"}";
    a.created_at = now;

    struct ledger_op op = op_make(u.id, 0, BUCKET_PAID, 5, LK_ADMIN_ADJUST, "admin", a.id);
    op.note = "goodwill";
    CHECK_INT_EQ(store_admin_adjust(s, &op, &a, now, &before, &after), STORE_OK, "admin adjust +5");
    CHECK(before.paid_credits == 10 && after.paid_credits == 15, "before 10, after 15");
    CHECK(find_audit(s, a.id, &got), "audit row written");
    json_error_t je;
    json_t *d = got.details_json ? json_loads(got.details_json, 0, &je) : NULL;
    CHECK(d && json_integer_value(json_object_get(d, "old")) == 10 &&
              json_integer_value(json_object_get(d, "new")) == 15 &&
              strcmp(json_string_value(json_object_get(d, "reason")) ?: "", "goodwill") == 0,
          "details keep the caller's keys and gain old/new (%s)", got.details_json ? got.details_json : "");
    json_decref(d);
    free(got.details_json);
    CHECK_STR_EQ(got.actor_id, admin.id, "audit actor");

    /* A refused adjustment leaves neither a balance change nor an audit row. */
    struct audit_entry a2 = a;
    id_new(a2.id, "aud");
    op = op_make(u.id, 1, BUCKET_PAID, 100, LK_ADMIN_ADJUST, "admin", a2.id);
    CHECK_INT_EQ(store_admin_adjust(s, &op, &a2, now, &before, &after), STORE_INSUFFICIENT,
                 "admin debit below zero -> INSUFFICIENT");
    CHECK(!find_audit(s, a2.id, &got), "no audit row for a refused adjustment");
    store_wallet_get(s, u.id, &w);
    CHECK_INT_EQ(w.paid_credits, 15, "balance unchanged");

    struct audit_entry a3 = a;
    id_new(a3.id, "aud");
    a3.details_json = "[1,2]";
    op = op_make(u.id, 0, BUCKET_PAID, 1, LK_ADMIN_ADJUST, "admin", a3.id);
    CHECK_INT_EQ(store_admin_adjust(s, &op, &a3, now, NULL, NULL), STORE_ERROR, "details must be an object");
    store_wallet_get(s, u.id, &w);
    CHECK(w.paid_credits == 15 && store_ledger_get_by_ref(s, LK_ADMIN_ADJUST, "admin", a3.id,
                                                          &(struct ledger_entry){0}) == STORE_NOTFOUND,
          "... and the credit was rolled back with it");

    struct audit_entry a4 = a;
    id_new(a4.id, "aud");
    a4.details_json = NULL;
    op = op_make(u.id, 1, BUCKET_PLAN, 1, LK_ADMIN_ADJUST, "admin", a4.id);
    CHECK_INT_EQ(store_admin_adjust(s, &op, &a4, now, NULL, NULL), STORE_INSUFFICIENT,
                 "plan bucket adjust checked");
    op = op_make(u.id, 0, BUCKET_PLAN, 7, LK_ADMIN_ADJUST, "admin", a4.id);
    CHECK_INT_EQ(store_admin_adjust(s, &op, &a4, now, &before, &after), STORE_OK,
                 "plan +7 with NULL details");
    CHECK(find_audit(s, a4.id, &got) && got.details_json && strstr(got.details_json, "\"old\":0") &&
              strstr(got.details_json, "\"new\":7"),
          "NULL details become {old,new} (%s)", got.details_json ? got.details_json : "");
    free(got.details_json);
    store_close(s);
}

/* ---- totals and invariants ---- */

struct violations {
    int n;
    char user[TG_ID_MAX];
};

static void on_violation(void *arg, const char *user_id, const char *what)
{
    struct violations *v = arg;
    printf("# violation: %s: %s\n", user_id, what);
    if (v->n++ == 0)
        snprintf(v->user, sizeof v->user, "%s", user_id);
}

static void test_totals_and_check(void)
{
    struct store *s = open_store();
    struct ledger_totals t0, t1;
    struct user u;
    int64_t now = time_now_ms();

    CHECK_INT_EQ(store_ledger_totals(s, &t0), STORE_OK, "totals");
    make_user(s, &u, "totals", 8);
    struct ledger_op op = op_make(u.id, 0, BUCKET_PAID, 90, LK_PURCHASE, "order", u.id);
    store_ledger_apply(s, &op, now, NULL);
    op = op_make(u.id, 1, BUCKET_PAID, 20, LK_SPEND, "task", u.id);
    store_ledger_apply(s, &op, now, NULL);
    CHECK_INT_EQ(store_ledger_totals(s, &t1), STORE_OK, "totals again");
    CHECK(t1.users == t0.users + 1 && t1.wallets == t0.wallets + 1, "one more user and wallet");
    CHECK(t1.paid_credits == t0.paid_credits + 78 && t1.plan_credits == t0.plan_credits, "paid sum +78");
    CHECK(t1.entries == t0.entries + 3, "three more entries");
    CHECK(t1.entries_by_kind[LK_SIGNUP_GRANT] == t0.entries_by_kind[LK_SIGNUP_GRANT] + 1 &&
              t1.delta_by_kind[LK_SIGNUP_GRANT] == t0.delta_by_kind[LK_SIGNUP_GRANT] + 8,
          "signup_grant counted");
    CHECK(t1.delta_by_kind[LK_PURCHASE] == t0.delta_by_kind[LK_PURCHASE] + 90 &&
              t1.delta_by_kind[LK_SPEND] == t0.delta_by_kind[LK_SPEND] - 20,
          "purchase and spend deltas");
    int64_t sum = 0, cnt = 0;
    for (int k = 0; k < LK__COUNT; k++) {
        sum += t1.delta_by_kind[k];
        cnt += t1.entries_by_kind[k];
    }
    CHECK(sum == t1.plan_credits + t1.paid_credits && cnt == t1.entries,
          "deltas by kind add up to the balances");

    struct violations v = {0};
    int64_t nv = -1, nw = -1;
    CHECK_INT_EQ(store_ledger_check(s, on_violation, &v, &nv, &nw), STORE_OK, "ledger check runs");
    CHECK(nv == 0 && v.n == 0, "no violations on good data (%lld)", (long long)nv);
    CHECK_INT_EQ(nw, t1.wallets, "every wallet checked");

    if (g_path != NULL) {
        sqlite3 *db = raw_open(g_path);
        char *sql =
            sqlite3_mprintf("UPDATE wallets SET paid_credits = paid_credits + 7 WHERE user_id = %Q", u.id);
        CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK, "raw: tamper with a wallet balance");
        sqlite3_free(sql);
        memset(&v, 0, sizeof v);
        CHECK(store_ledger_check(s, on_violation, &v, &nv, &nw) == STORE_OK && nv == 1 && v.n == 1,
              "the tampered balance is reported (%lld)", (long long)nv);
        CHECK_STR_EQ(v.user, u.id, "... for the right user");
        sql = sqlite3_mprintf("UPDATE wallets SET paid_credits = paid_credits - 7 WHERE user_id = %Q", u.id);
        sqlite3_exec(db, sql, NULL, NULL, NULL);
        sqlite3_free(sql);
        memset(&v, 0, sizeof v);
        CHECK(store_ledger_check(s, on_violation, &v, &nv, &nw) == STORE_OK && nv == 0,
              "restored: clean again");
        sqlite3_close(db);
    } else {
        CHECK(1, "tampered wallet # SKIP needs a raw sqlite handle");
    }
    store_close(s);
}

/* The ledger and audit log refuse UPDATE and DELETE whoever asks (sqlite: raw handle). */
static void test_append_only(void)
{
    if (g_path == NULL) {
        CHECK(1, "append-only triggers # SKIP needs a raw sqlite handle");
        return;
    }
    sqlite3 *db = raw_open(g_path);
    static const char *const stmts[] = {
        "UPDATE ledger SET delta = delta + 1",
        "DELETE FROM ledger",
        "UPDATE audit_log SET action = 'x'",
        "DELETE FROM audit_log",
    };
    for (size_t i = 0; i < sizeof stmts / sizeof *stmts; i++) {
        int rc = sqlite3_exec(db, stmts[i], NULL, NULL, NULL);
        CHECK(rc != SQLITE_OK && strstr(sqlite3_errmsg(db), "append-only"), "refused: %s", stmts[i]);
    }
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM ledger", -1, &st, NULL);
    CHECK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0, "ledger rows still there");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* A broken balance_after chain in an otherwise balanced ledger (separate database: the rows
 * cannot be removed afterwards). */
static void test_check_chain(void)
{
    if (g_path == NULL) {
        CHECK(1, "tampered ledger rows # SKIP needs a raw sqlite handle");
        return;
    }
    char *err = NULL;
    int applied;
    char *url = xasprintf("sqlite:%s/tamper.db", g_tmpdir);
    CHECK(store_migrate(url, &applied, &err) == 0, "tamper database migrated");
    free(err);
    err = NULL;
    struct store *s = store_open(url, &err);
    free(err);
    struct user u;
    make_user(s, &u, "chain", 10);
    sqlite3 *db = raw_open(url + 7);
    /* Two rows whose deltas cancel out: the sum still equals the wallet, only the chain breaks. */
    char *sql = sqlite3_mprintf(
        "INSERT INTO ledger(id, user_id, bucket, delta, balance_after, kind, ref_type, ref_id, note, "
        "created_at)"
        " VALUES ('led_7ZZZZZZZZY0000000000000000', %Q, 'paid', 5, 99, 'refund', 'x', '1', NULL, 0),"
        " ('led_7ZZZZZZZZZ0000000000000000', %Q, 'paid', -5, 10, 'spend', 'x', '1', NULL, 0)",
        u.id, u.id);
    CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK,
          "raw: insert rows with a wrong balance_after");
    sqlite3_free(sql);
    sqlite3_close(db);
    struct violations v = {0};
    int64_t nv = 0, nw = 0;
    /* Both links around the bad row are wrong (into it: 10 + 5 != 99; out of it: 99 - 5 != 10);
     * the sums still match the wallet, so nothing else is reported. */
    CHECK(store_ledger_check(s, on_violation, &v, &nv, &nw) == STORE_OK && nv == 2 && nw == 1,
          "a broken balance_after chain is reported at the bad row (%lld)", (long long)nv);
    store_close(s);
    free(url);
}

/* A writer that holds the lock past the retry budget: STORE_BUSY, nothing applied; once it
 * lets go the same operation goes through (sqlite: raw handle holds the lock). */
static void test_busy(void)
{
    if (g_path == NULL) {
        CHECK(1, "lock held past the budget # SKIP needs a raw sqlite handle");
        return;
    }
    struct store *s = open_store();
    struct user u;
    struct wallet w;
    make_user(s, &u, "busy", 5);
    sqlite3 *db = raw_open(g_path);
    CHECK(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK, "raw: take the write lock");
    struct ledger_op op = op_make(u.id, 1, BUCKET_PAID, 1, LK_SPEND, "task", R("busy"));
    uint64_t errors_before = store_error_count();
    int64_t t0 = time_mono_ns();
    enum store_rc rc = store_ledger_apply(s, &op, time_now_ms(), NULL);
    double ms = (double)(time_mono_ns() - t0) / 1e6;
    CHECK(rc == STORE_BUSY, "write under a held lock -> BUSY (%s after %.0f ms)", store_rc_name(rc), ms);
    CHECK(ms > 1000 && ms < 5000, "... after retrying for about the 2 s budget (%.0f ms)", ms);
    CHECK(store_error_count() > errors_before, "giving up is counted");
    CHECK(store_wallet_get(s, u.id, &w) == STORE_OK && w.paid_credits == 5, "readers are not blocked (WAL)");
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
    CHECK(store_ledger_apply(s, &op, time_now_ms(), &w) == STORE_OK && w.paid_credits == 4,
          "the same operation succeeds once the lock is free");
    store_close(s);
}

/* ---- concurrency: 200 debits race for 100 credits ---- */

enum { RACERS = 200, RACE_CREDITS = 100 };

struct racer {
    pthread_barrier_t *barrier;
    const char *user_id;
    int index;
    enum store_rc rc;
    int busy_retries;
};

static void *racer_main(void *arg)
{
    struct racer *r = arg;
    char ref[32];
    struct store *s = open_store();
    snprintf(ref, sizeof ref, "race-%d", r->index);
    struct ledger_op op = op_make(r->user_id, 1, BUCKET_PAID, 1, LK_SPEND, "task", ref);
    pthread_barrier_wait(r->barrier);
    /* STORE_BUSY means "retry later" (HTTP 503); a client would retry, so the racer does. */
    for (;;) {
        r->rc = store_ledger_apply(s, &op, time_now_ms(), NULL);
        if (r->rc != STORE_BUSY)
            break;
        r->busy_retries++;
    }
    store_close(s);
    return NULL;
}

static void test_concurrent_debits(void)
{
    struct store *s = open_store();
    struct user u;
    make_user(s, &u, "race", 0);
    struct ledger_op op = op_make(u.id, 0, BUCKET_PAID, RACE_CREDITS, LK_PURCHASE, "order", u.id);
    CHECK_INT_EQ(store_ledger_apply(s, &op, time_now_ms(), NULL), STORE_OK, "wallet funded with 100");

    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, RACERS);
    struct racer *r = xcalloc(RACERS, sizeof *r);
    pthread_t *th = xcalloc(RACERS, sizeof *th);
    int64_t t0 = time_mono_ns();
    for (int i = 0; i < RACERS; i++) {
        r[i] = (struct racer){&barrier, u.id, i, STORE_ERROR, 0};
        if (pthread_create(&th[i], NULL, racer_main, &r[i]) != 0) {
            printf("# pthread_create failed\n");
            exit(1);
        }
    }
    int ok = 0, insufficient = 0, other = 0, retries = 0;
    for (int i = 0; i < RACERS; i++) {
        pthread_join(th[i], NULL);
        ok += r[i].rc == STORE_OK;
        insufficient += r[i].rc == STORE_INSUFFICIENT;
        other += r[i].rc != STORE_OK && r[i].rc != STORE_INSUFFICIENT;
        retries += r[i].busy_retries;
    }
    printf("# %d racers in %.0f ms, %d BUSY retries\n", RACERS, (double)(time_mono_ns() - t0) / 1e6, retries);
    pthread_barrier_destroy(&barrier);
    free(r);
    free(th);

    CHECK(ok == RACE_CREDITS && insufficient == RACERS - RACE_CREDITS && other == 0,
          "exactly 100 OK and 100 INSUFFICIENT (ok %d, insufficient %d, other %d)", ok, insufficient, other);
    struct wallet w;
    CHECK(store_wallet_get(s, u.id, &w) == STORE_OK && w.paid_credits == 0, "final balance 0 (%lld)",
          (long long)w.paid_credits);
    struct ledger_entry *l = NULL;
    size_t n = 0;
    int64_t sum = 0;
    store_ledger_list(s, u.id, NULL, 1000, &l, &n);
    for (size_t i = 0; i < n; i++)
        sum += l[i].delta;
    free(l);
    CHECK(n == 1 + RACE_CREDITS && sum == w.paid_credits, "ledger: %zu entries, sum of deltas %lld = balance",
          n, (long long)sum);
    struct violations v = {0};
    int64_t nv = -1, nw = 0;
    CHECK(store_ledger_check(s, on_violation, &v, &nv, &nw) == STORE_OK && nv == 0,
          "invariant check: 0 violations after the race");
    store_close(s);
}

static void run_suite(const char *url, int fresh)
{
    g_url = url;
    g_path = strncmp(url, "sqlite:", 7) == 0 && strcmp(url, "sqlite::memory:") != 0 ? url + 7 : NULL;
    printf("# store conformance on %s\n", g_path ? "sqlite" : url);
    test_migrate(fresh);
    test_users();
    test_tokens();
    test_apikeys();
    test_ledger();
    test_ledger_list();
    test_audit();
    test_admin_adjust();
    test_totals_and_check();
    test_append_only();
    test_overflow();
    test_busy();
    test_concurrent_debits();
    test_check_chain();
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    char rid[TG_ID_MAX];
    id_new(rid, "run");
    snprintf(g_run, sizeof g_run, "%s", rid + 14); /* random part */
    snprintf(g_tmpdir, sizeof g_tmpdir, "%s/tg-store-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(g_tmpdir) == NULL) {
        printf("# mkdtemp failed\n");
        return 1;
    }
    const char *env = getenv("TG_TEST_DATABASE_URL");
    char *url = env && *env ? xstrdup(env) : xasprintf("sqlite:%s/store.db", g_tmpdir);
    run_suite(url, env == NULL || *env == '\0');
    free(url);

    const char *pg = getenv("TG_TEST_PG_URL");
    if (pg != NULL && *pg != '\0') {
        run_suite(pg, 0);
    } else {
        test_n_++;
        printf("ok %d # SKIP postgres: TG_TEST_PG_URL not set\n", test_n_);
    }

    /* Leave nothing behind on success; keep the files to look at on failure. */
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
