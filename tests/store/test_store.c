/*
 * Store conformance suite: written against store/store.h, so the same checks run on every
 * backend. The database comes from TG_TEST_DATABASE_URL (default: a fresh SQLite file in a
 * temporary folder); TG_TEST_PG_URL, when set, runs the suite again on PostgreSQL.
 *
 * The transaction control that store/call.c and store/writer.c drive is part of the
 * contract too; it is reached through the ops table of store/backend.h.
 *
 * A few checks need to go around the interface on purpose (the append-only triggers, a
 * tampered balance for the invariant check, a database newer than the binary, entries whose
 * ids sort against their commit order, an upgrade from the first schema, a full disk); they
 * use a raw SQLite handle or a fault-injecting SQLite VFS and run only on sqlite: URLs.
 */
#include "../unit/test.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "core/ids.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "store/backend.h"
#include "store/sqlite/migrate.h"
#include "store/store.h"

/* The database under test and, for sqlite: URLs, its file (else NULL). */
static const char *g_url;
static const char *g_path;

/* Fresh temporary folder for files the suite creates; removed at exit by the caller's rm. */
static char g_tmpdir[64];

static struct store *open_url(const char *url)
{
    char *err = NULL;
    struct store *s = store_open(url, &err);
    if (s == NULL) {
        printf("# store_open failed: %s\n", err ? err : "?");
        free(err);
        exit(1);
    }
    return s;
}

static struct store *open_store(void)
{
    return open_url(g_url);
}

/* A migrated database of its own in the temporary folder, for checks that leave rows no
 * other test should see. Caller frees the URL. */
static char *fresh_db(const char *name)
{
    char *err = NULL;
    int applied = 0;
    char *url = xasprintf("sqlite:%s/%s.db", g_tmpdir, name);
    if (store_migrate(url, &applied, &err) != 0) {
        printf("# migrate %s failed: %s\n", name, err ? err : "?");
        exit(1);
    }
    free(err);
    return url;
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

/* Runs sql on a raw handle; 1 on success, else prints SQLite's message and returns 0. */
static int raw_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        printf("# raw: %s\n", msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return rc == SQLITE_OK;
}

/* The first column of the first row of a raw query as an integer (-1 when no row). */
static int64_t raw_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
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

/*
 * A new user with a unique email. When credits > 0 the user also gets a signup grant of
 * that many paid credits, applied the way domain/ composes it (store_user_create itself
 * only creates the account and its empty wallet).
 */
static void make_user(struct store *s, struct user *u, const char *tag, int64_t credits)
{
    memset(u, 0, sizeof *u);
    id_new(u->id, "usr");
    snprintf(u->email, sizeof u->email, "%s-%s@example.test", tag, u->id + 4);
    snprintf(u->display_name, sizeof u->display_name, "%s", tag);
    snprintf(u->role, sizeof u->role, "user");
    snprintf(u->password_hash, sizeof u->password_hash, "$argon2id$v=19$fake");
    u->created_at = u->updated_at = time_now_ms();
    enum store_rc rc = store_user_create(s, u);
    if (rc == STORE_OK && credits > 0) {
        struct ledger_op op = op_make(u->id, 0, BUCKET_PAID, credits, LK_SIGNUP_GRANT, "user", u->id);
        rc = store_ledger_apply(s, &op, u->created_at, NULL, NULL);
    }
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

/* store_ledger_get_by_ref, keeping the first (plan-first) entry in *e and the count in *n. */
static enum store_rc by_ref(struct store *s, enum ledger_kind kind, const char *ref_type, const char *ref_id,
                            struct ledger_entry *e, size_t *n)
{
    struct ledger_entry out[2];
    enum store_rc rc = store_ledger_get_by_ref(s, kind, ref_type, ref_id, out, n);
    *e = out[0];
    return rc;
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

/* The wallet's paid balance, or -1. */
static int64_t paid_of(struct store *s, const char *user_id)
{
    struct wallet w;
    return store_wallet_get(s, user_id, &w) == STORE_OK ? w.paid_credits : -1;
}

/* ---- migrations and connection ---- */

/*
 * A database at 0001 holding data (where every deployment stands) upgrades in place: rows
 * keep the order they were listed in (id order under 0001), the append-only triggers
 * survive the table rebuild, and rows written afterwards come after the old ones whatever
 * their ids say.
 */
static void test_migrate_upgrade(void)
{
    char *url = xasprintf("sqlite:%s/upgrade.db", g_tmpdir);
    sqlite3 *db = raw_open(url + 7);
    /* Ids far in the future: every id the store makes later sorts before them. */
    int64_t later = time_now_ms() + 100LL * 365 * 86400000;
    char u1[TG_ID_MAX], l1[TG_ID_MAX], l2[TG_ID_MAX], a1[TG_ID_MAX], a2[TG_ID_MAX];
    id_new(u1, "usr");
    id_new_at(l1, "led", later);
    id_new_at(l2, "led", later + 1);
    id_new_at(a1, "aud", later);
    id_new_at(a2, "aud", later + 1);

    int ok = raw_exec(db, "PRAGMA journal_mode=WAL") && raw_exec(db, "PRAGMA foreign_keys=ON") &&
             raw_exec(db, sq_migrations[0].sql) &&
             raw_exec(db, "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                          " applied_at INTEGER NOT NULL);"
                          "INSERT INTO schema_migrations VALUES (1, '0001_init', 0)");
    /* Inserted newest first: under 0001 the order of history was the id order. */
    char *sql = sqlite3_mprintf(
        "INSERT INTO users(id, email, created_at, updated_at) VALUES (%Q, 'old@example.test', 1, 1);"
        "INSERT INTO wallets(user_id, paid_credits, updated_at) VALUES (%Q, 15, 1);"
        "INSERT INTO ledger VALUES (%Q, %Q, 'paid', 5, 15, 'purchase', 'order', %Q, NULL, 2);"
        "INSERT INTO ledger VALUES (%Q, %Q, 'paid', 10, 10, 'signup_grant', 'user', %Q, NULL, 1);"
        "INSERT INTO audit_log(id, action, details, created_at) VALUES (%Q, 'second', '{}', 2);"
        "INSERT INTO audit_log(id, action, details, created_at) VALUES (%Q, 'first', NULL, 1);",
        u1, u1, l2, u1, l2, l1, u1, u1, a2, a1);
    ok = ok && raw_exec(db, sql);
    sqlite3_free(sql);
    sqlite3_close(db);
    CHECK(ok, "raw: a database at 0001 with a user, two ledger rows and two audit rows");

    char *err = NULL;
    int applied = -1;
    CHECK(store_migrate(url, &applied, &err) == 0 && applied == (int)sq_migrations_count - 1,
          "the upgrade applies every later migration (%d, %s)", applied, err ? err : "ok");
    free(err);

    struct store *s = open_url(url);
    struct user u;
    CHECK(store_user_get(s, u1, &u) == STORE_OK && u.auth_epoch == 0 && strcmp(u.email, "old@example.test") == 0,
          "existing user kept, auth_epoch 0");
    struct ledger_entry *l = NULL;
    size_t n = 0;
    CHECK(store_ledger_list(s, u1, NULL, 10, &l, &n) == STORE_OK && n == 2 && strcmp(l[0].id, l2) == 0 &&
              strcmp(l[1].id, l1) == 0 && l[0].balance_after == 15 && l[1].balance_after == 10,
          "ledger rows keep their order (newest %s)", n ? l[0].id : "-");
    free(l);
    l = NULL;
    struct ledger_op op = op_make(u1, 1, BUCKET_PAID, 3, LK_SPEND, "task", R("upgrade"));
    CHECK(store_ledger_apply(s, &op, 3, NULL, NULL) == STORE_OK, "a new debit after the upgrade");
    CHECK(store_ledger_list(s, u1, NULL, 10, &l, &n) == STORE_OK && n == 3 && l[0].delta == -3 &&
              strcmp(l[0].id, l2) < 0,
          "the new row is the newest though its id sorts first");
    free(l);
    struct audit_entry *al = NULL;
    CHECK(store_audit_list(s, NULL, 10, &al, &n) == STORE_OK && n == 2 && strcmp(al[0].id, a2) == 0 &&
              strcmp(al[1].id, a1) == 0 && strcmp(al[1].action, "first") == 0,
          "audit rows keep their order");
    store_audit_free(al, n);
    int64_t nv = -1, nw = -1;
    CHECK(store_ledger_check(s, NULL, NULL, &nv, &nw) == STORE_OK && nv == 0 && nw == 1,
          "the upgraded ledger checks clean (%lld violations)", (long long)nv);
    store_close(s);

    db = raw_open(url + 7);
    static const char *const refused[] = {"UPDATE ledger SET note = 'x'", "DELETE FROM ledger",
                                          "UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        CHECK(sqlite3_exec(db, refused[i], NULL, NULL, NULL) != SQLITE_OK &&
                  strstr(sqlite3_errmsg(db), "append-only"),
              "upgraded: still refused: %s", refused[i]);
    CHECK(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN"
                      " ('ledger', 'audit_log', 'idempotency_keys', 'store_meta', 'users')"
                      " AND sql LIKE '%STRICT'") == 5,
          "rebuilt and new tables are STRICT");
    CHECK(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = 'ledger_user_seq'") == 1,
          "the per-user ledger index exists");
    CHECK(raw_int(db, "SELECT count(*) FROM pragma_foreign_key_check") == 0, "no dangling references");
    /* 0003 rebuilt users, which wallets, ledger and tokens reference: the references must
     * still be enforced afterwards, not just happen to hold. */
    CHECK(raw_exec(db, "PRAGMA foreign_keys=ON") &&
              sqlite3_exec(db, "INSERT INTO wallets(user_id, updated_at) VALUES ('usr_nobody', 1)", NULL, NULL,
                           NULL) == SQLITE_CONSTRAINT,
          "upgraded: a wallet of a missing user is refused");
    CHECK(raw_int(db, "SELECT count(*) FROM users WHERE email_verified = 0 AND locale IS NULL") == 1,
          "upgraded: existing accounts start unverified, without a locale");
    CHECK(raw_exec(db, "PRAGMA integrity_check") &&
              raw_int(db, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check <> 'ok'") == 0,
          "integrity_check ok");
    sqlite3_close(db);
    free(url);
}

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
    /* The two may share the work (one applies 0001, the other 0002): what must hold is that
     * together they applied each known migration exactly once. */
    int known = -1;
    char *url3 = xasprintf("sqlite:%s/count-migrations.db", g_tmpdir);
    CHECK(store_migrate(url3, &known, &err) == 0 && known >= 2, "a fresh database counts the migrations (%d)",
          known);
    free(err);
    err = NULL;
    free(url3);
    CHECK(mt[0].applied + mt[1].applied == known, "each migration applied exactly once (%d + %d of %d)",
          mt[0].applied, mt[1].applied, known);

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

    test_migrate_upgrade();
}

/* ---- users ---- */

static void test_users(void)
{
    struct store *s = open_store();
    struct user u, got, dup;
    struct wallet w;
    int64_t now = time_now_ms();

    make_user(s, &u, "alice", 0);
    CHECK_INT_EQ(store_user_get(s, u.id, &got), STORE_OK, "user_get");
    CHECK_STR_EQ(got.email, u.email, "email round-trips");
    CHECK_STR_EQ(got.display_name, "alice", "display_name round-trips");
    CHECK_STR_EQ(got.role, "user", "role round-trips");
    CHECK_STR_EQ(got.region, "", "no region reads as empty");
    CHECK_STR_EQ(got.password_hash, u.password_hash, "password hash round-trips");
    CHECK(got.created_at == u.created_at && got.disabled == 0, "times and disabled round-trip");
    CHECK_INT_EQ(got.auth_epoch, 0, "a new user's auth_epoch is 0");

    CHECK_INT_EQ(store_user_get_by_email(s, u.email, &got), STORE_OK, "user_get_by_email");
    CHECK_STR_EQ(got.id, u.id, "by email finds the same user");
    CHECK_INT_EQ(store_user_get(s, "usr_nope", &got), STORE_NOTFOUND, "unknown id -> NOTFOUND");
    CHECK(got.id[0] == '\0' && got.email[0] == '\0', "out-struct zeroed on NOTFOUND");
    CHECK_INT_EQ(store_user_get_by_email(s, "nobody@example.test", &got), STORE_NOTFOUND, "unknown email");

    dup = u;
    id_new(dup.id, "usr");
    CHECK_INT_EQ(store_user_create(s, &dup), STORE_DUPLICATE, "taken email -> DUPLICATE");
    CHECK_INT_EQ(store_user_get(s, dup.id, &got), STORE_NOTFOUND, "the duplicate left no user behind");
    CHECK_INT_EQ(store_wallet_get(s, dup.id, &w), STORE_NOTFOUND, "... and no wallet");
    dup = u;
    snprintf(dup.email, sizeof dup.email, "other-%.26s@example.test", u.id + 4);
    CHECK_INT_EQ(store_user_create(s, &dup), STORE_DUPLICATE, "taken id -> DUPLICATE");

    /* Signup grants are domain/'s: the store creates the account and an empty wallet only. */
    CHECK_INT_EQ(store_wallet_get(s, u.id, &w), STORE_OK, "wallet created with the user");
    CHECK(w.paid_credits == 0 && w.plan_credits == 0 && w.plan_expires_at == 0, "the wallet is empty");
    struct ledger_entry *list = NULL;
    size_t n = 99;
    CHECK(store_ledger_list(s, u.id, NULL, 10, &list, &n) == STORE_OK && n == 0, "... and has no ledger entry");
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

    CHECK_INT_EQ(store_user_set_disabled(s, u.id, 1, now + 4), STORE_OK, "disable");
    store_user_get(s, u.id, &got);
    CHECK(got.disabled == 1 && got.updated_at == now + 4, "disabled stored");
    CHECK_INT_EQ(store_user_set_disabled(s, u.id, 0, now + 5), STORE_OK, "re-enable");
    store_user_get(s, u.id, &got);
    CHECK_INT_EQ(got.disabled, 0, "enabled again");
    CHECK_INT_EQ(got.auth_epoch, 0, "role and disabled changes leave the epoch alone");

    /* The auth epoch. */
    int64_t epoch = -1;
    CHECK(store_user_bump_epoch(s, u.id, now + 6, &epoch) == STORE_OK && epoch == 1, "bump: epoch 1");
    CHECK(store_user_bump_epoch(s, u.id, now + 7, &epoch) == STORE_OK && epoch == 2, "bump: epoch 2");
    CHECK_INT_EQ(store_user_bump_epoch(s, u.id, now + 8, NULL), STORE_OK, "bump without an out-param");
    store_user_get(s, u.id, &got);
    CHECK(got.auth_epoch == 3 && got.updated_at == now + 8, "epoch 3 stored and read back");
    epoch = -1;
    CHECK(store_user_bump_epoch(s, "usr_nope", now, &epoch) == STORE_NOTFOUND && epoch == 0,
          "bump: unknown user -> NOTFOUND, epoch zeroed");

    /* Passwords: unconditional, then only while the hash is the one the caller saw. */
    CHECK_INT_EQ(store_user_set_password(s, u.id, NULL, "$argon2id$v=19$new", now + 9), STORE_OK,
                 "set password (no condition)");
    store_user_get(s, u.id, &got);
    CHECK(strcmp(got.password_hash, "$argon2id$v=19$new") == 0 && got.updated_at == now + 9,
          "password hash replaced");
    CHECK_INT_EQ(store_user_set_password(s, u.id, "$argon2id$v=19$stale", "$argon2id$v=19$r", now + 10),
                 STORE_CONFLICT, "a stale old hash -> CONFLICT");
    store_user_get(s, u.id, &got);
    CHECK(strcmp(got.password_hash, "$argon2id$v=19$new") == 0 && got.updated_at == now + 9,
          "... and nothing changed");
    CHECK_INT_EQ(store_user_set_password(s, u.id, "", "$argon2id$v=19$r", now + 10), STORE_CONFLICT,
                 "\"\" does not match an account with a password");
    CHECK_INT_EQ(store_user_set_password(s, u.id, "$argon2id$v=19$new", "$argon2id$v=19$r", now + 10), STORE_OK,
                 "the current old hash -> OK");
    store_user_get(s, u.id, &got);
    CHECK_STR_EQ(got.password_hash, "$argon2id$v=19$r", "conditional change stored");
    CHECK_INT_EQ(got.auth_epoch, 3, "a password change leaves the epoch alone");
    CHECK_INT_EQ(store_user_set_password(s, "usr_nope", NULL, "x", now), STORE_NOTFOUND,
                 "password: unknown user -> NOTFOUND");
    CHECK_INT_EQ(store_user_set_password(s, "usr_nope", "x", "y", now), STORE_NOTFOUND,
                 "password with a condition: unknown user -> NOTFOUND, not CONFLICT");

    struct user np;
    make_user(s, &np, "nopassword", 0);
    CHECK_INT_EQ(store_user_set_password(s, np.id, NULL, "", now), STORE_OK, "\"\" removes the password");
    store_user_get(s, np.id, &got);
    CHECK_STR_EQ(got.password_hash, "", "no password reads as \"\"");
    CHECK_INT_EQ(store_user_set_password(s, np.id, "$argon2id$v=19$fake", "$argon2id$v=19$p", now),
                 STORE_CONFLICT, "a hash does not match an account without a password");
    CHECK_INT_EQ(store_user_set_password(s, np.id, "", "$argon2id$v=19$p", now), STORE_OK,
                 "\"\" matches an account without a password");
    store_user_get(s, np.id, &got);
    CHECK_STR_EQ(got.password_hash, "$argon2id$v=19$p", "first password set");

    CHECK_STR_EQ(store_rc_name(STORE_CONFLICT), "conflict", "rc name: conflict");
    CHECK_STR_EQ(store_rc_name(STORE_UNAVAILABLE), "unavailable", "rc name: unavailable");
    store_close(s);
}

/* ---- refresh tokens ---- */

/* Identities, login codes, OAuth state nonces and mail tokens (migration 0003). */
static void test_identities(void)
{
    struct store *s = open_store();
    int64_t now = time_now_ms();
    struct user a, b, got;
    make_user(s, &a, "idn-a", 0);
    make_user(s, &b, "idn-b", 0);

    /* Accounts without an address: any number of them. */
    struct user w1 = {0}, w2 = {0};
    id_new(w1.id, "usr");
    id_new(w2.id, "usr");
    snprintf(w1.role, sizeof w1.role, "user");
    snprintf(w2.role, sizeof w2.role, "user");
    w1.created_at = w2.created_at = now;
    w1.email_verified = 1; /* ignored without an address */
    CHECK(store_user_create(s, &w1) == STORE_OK && store_user_create(s, &w2) == STORE_OK,
          "two accounts without an email");
    CHECK(store_user_get(s, w1.id, &got) == STORE_OK && got.email[0] == '\0' && got.email_verified == 0,
          "an account without an email reads back with \"\" and unverified");

    /* Verification is bound to the address. */
    CHECK(store_user_set_email_verified(s, a.id, "other@example.test", now) == STORE_CONFLICT,
          "verifying another address than the stored one: conflict");
    CHECK(store_user_set_email_verified(s, a.id, a.email, now) == STORE_OK &&
              store_user_get(s, a.id, &got) == STORE_OK && got.email_verified == 1,
          "verifying the stored address");
    CHECK(store_user_set_email_verified(s, "usr_missing", a.email, now) == STORE_NOTFOUND, "unknown user");
    CHECK(store_user_set_email(s, w1.id, b.email, 1, now) == STORE_DUPLICATE, "an address held by another account");
    CHECK(store_user_set_email(s, w1.id, "w1@example.test", 1, now) == STORE_OK &&
              store_user_get(s, w1.id, &got) == STORE_OK && got.email_verified == 1 &&
              strcmp(got.email, "w1@example.test") == 0,
          "setting a verified email");
    CHECK(store_user_set_locale(s, w1.id, "zh-CN", now) == STORE_OK && store_user_get(s, w1.id, &got) == STORE_OK &&
              strcmp(got.locale, "zh-CN") == 0,
          "locale");
    CHECK(store_user_set_locale(s, w1.id, "fr-FR", now) != STORE_OK, "an unknown locale is refused by the schema");

    struct identity i1 = {0}, i2 = {0}, fi;
    id_new(i1.id, "idn");
    snprintf(i1.user_id, sizeof i1.user_id, "%s", a.id);
    snprintf(i1.provider, sizeof i1.provider, "google");
    snprintf(i1.subject, sizeof i1.subject, "%s-sub-1", g_run);
    snprintf(i1.email, sizeof i1.email, "%s", a.email);
    i1.email_verified = 1;
    i1.created_at = now;
    CHECK(store_identity_insert(s, &i1) == STORE_OK, "link an identity");
    i2 = i1;
    id_new(i2.id, "idn");
    snprintf(i2.user_id, sizeof i2.user_id, "%s", b.id);
    CHECK(store_identity_insert(s, &i2) == STORE_DUPLICATE, "the same (provider, subject) cannot link twice");
    snprintf(i2.provider, sizeof i2.provider, "wechat");
    i2.email[0] = '\0';
    i2.created_at = now + 1;
    snprintf(i2.user_id, sizeof i2.user_id, "%s", a.id);
    CHECK(store_identity_insert(s, &i2) == STORE_OK, "a second identity of another provider");
    CHECK(store_identity_find(s, "google", i1.subject, &fi, &got) == STORE_OK && strcmp(fi.id, i1.id) == 0 &&
              fi.email_verified == 1 && strcmp(got.id, a.id) == 0 && strcmp(got.email, a.email) == 0,
          "find returns the identity and its user");
    CHECK(store_identity_find(s, "google", "nobody", &fi, &got) == STORE_NOTFOUND && fi.id[0] == '\0',
          "unknown identity");
    struct identity *list = NULL;
    size_t n = 0;
    CHECK(store_identity_list(s, a.id, &list, &n) == STORE_OK && n == 2 && strcmp(list[0].id, i1.id) == 0 &&
              strcmp(list[1].provider, "wechat") == 0,
          "list oldest first");
    free(list);
    CHECK(store_identity_touch(s, i1.id, "new@example.test", 0, "New Name", now + 5) == STORE_OK &&
              store_identity_find(s, "google", i1.subject, &fi, &got) == STORE_OK && fi.email_verified == 0 &&
              strcmp(fi.email, "new@example.test") == 0 && fi.last_used_at == now + 5,
          "touch refreshes what the provider said");
    CHECK(store_identity_delete(s, b.id, i1.id) == STORE_NOTFOUND, "someone else's identity cannot be unlinked");
    CHECK(store_identity_delete(s, a.id, i1.id) == STORE_OK && store_identity_list(s, a.id, &list, &n) == STORE_OK &&
              n == 1,
          "unlink");
    free(list);

    /* Login codes: one use, then a replay is told apart from a code that never was. */
    unsigned char h[32];
    char uid[TG_ID_MAX];
    fill_hash(h);
    CHECK(store_login_code_insert(s, h, a.id, "google", now, now + 60000) == STORE_OK, "login code stored");
    CHECK(store_login_code_consume(s, h, now + 1000, uid) == STORE_OK && strcmp(uid, a.id) == 0, "consumed once");
    CHECK(store_login_code_consume(s, h, now + 2000, uid) == STORE_CONFLICT && strcmp(uid, a.id) == 0,
          "a replay is a conflict");
    fill_hash(h);
    CHECK(store_login_code_insert(s, h, a.id, "google", now, now + 60000) == STORE_OK &&
              store_login_code_consume(s, h, now + 60000, uid) == STORE_NOTFOUND && uid[0] == '\0',
          "an expired code is not found");
    fill_hash(h);
    CHECK(store_login_code_consume(s, h, now, uid) == STORE_NOTFOUND, "an unknown code is not found");

    unsigned char nonce[16];
    randombytes_buf(nonce, sizeof nonce);
    CHECK(store_oauth_state_use(s, nonce, now + 600000) == STORE_OK, "a state's first use");
    CHECK(store_oauth_state_use(s, nonce, now + 600000) == STORE_DUPLICATE, "a state's second use is a duplicate");

    char email[TG_EMAIL_MAX + 1];
    fill_hash(h);
    CHECK(store_email_token_insert(s, h, a.id, EMAIL_TOKEN_VERIFY, a.email, now, now + 3600000) == STORE_OK,
          "mail token stored");
    CHECK(store_email_token_consume(s, h, EMAIL_TOKEN_RESET, now, uid, email) == STORE_NOTFOUND,
          "a verify token is no reset token");
    CHECK(store_email_token_consume(s, h, EMAIL_TOKEN_VERIFY, now, uid, email) == STORE_OK &&
              strcmp(uid, a.id) == 0 && strcmp(email, a.email) == 0,
          "consumed with its user and address");
    CHECK(store_email_token_consume(s, h, EMAIL_TOKEN_VERIFY, now, uid, email) == STORE_CONFLICT,
          "a used mail token is a conflict");
    unsigned char h2[32];
    fill_hash(h);
    fill_hash(h2);
    store_email_token_insert(s, h, a.id, EMAIL_TOKEN_RESET, a.email, now, now + 3600000);
    store_email_token_insert(s, h2, a.id, EMAIL_TOKEN_RESET, a.email, now + 1, now + 3600000);
    int64_t count = -1;
    CHECK(store_email_token_count_since(s, a.id, EMAIL_TOKEN_RESET, now, &count) == STORE_OK && count == 2,
          "count since");
    CHECK(store_email_token_revoke(s, a.id, EMAIL_TOKEN_RESET, now + 2) == STORE_OK &&
              store_email_token_consume(s, h2, EMAIL_TOKEN_RESET, now + 3, uid, email) == STORE_CONFLICT,
          "revoked reset tokens no longer work");
    store_close(s);
}

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

    /* live_user: only a token that could still rotate names its user. */
    CHECK_INT_EQ(store_refresh_live_user(s, e1.hash, now + 1000, uid), STORE_NOTFOUND,
                 "live_user: an expired token is not live");
    CHECK_INT_EQ(store_refresh_live_user(s, unknown, now, uid), STORE_NOTFOUND, "live_user: unknown token");
    CHECK(uid[0] == '\0', "live_user: no user for an unknown token");
    CHECK_INT_EQ(store_refresh_live_user(s, t3.hash, now, uid), STORE_NOTFOUND,
                 "live_user: a token of a revoked family is not live");

    /* Logout through the newest token revokes the whole family. */
    struct refresh_token l1, l2, l3;
    id_new(fam, "fam");
    make_token(&l1, u.id, fam, now, 3600000);
    store_refresh_insert(s, &l1);
    CHECK_INT_EQ(store_refresh_live_user(s, l1.hash, now, uid), STORE_OK, "live_user: a fresh token");
    CHECK_STR_EQ(uid, u.id, "live_user names the token's user");
    CHECK_INT_EQ(store_refresh_live_user(s, l1.hash, now + 3600000, uid), STORE_NOTFOUND,
                 "live_user: a token at its expiry is not live");
    make_token(&l2, "", "", now + 1, 3600000);
    store_refresh_rotate(s, l1.hash, &l2, now + 1, &out, uid);
    CHECK_INT_EQ(store_refresh_live_user(s, l1.hash, now + 1, uid), STORE_NOTFOUND,
                 "live_user: a rotated token is not live");
    strcpy(uid, "junk");
    CHECK_INT_EQ(store_refresh_revoke_family(s, l2.hash, now + 2, uid), STORE_OK, "logout");
    CHECK_STR_EQ(uid, u.id, "logout names the token's user");
    make_token(&l3, "", "", now + 3, 3600000);
    CHECK(store_refresh_rotate(s, l2.hash, &l3, now + 3, &out, uid) == STORE_OK && out == REFRESH_EXPIRED,
          "logged-out token -> EXPIRED");
    CHECK(store_refresh_rotate(s, l1.hash, &l3, now + 3, &out, uid) == STORE_OK && out == REFRESH_EXPIRED,
          "an older token of a logged-out family stays EXPIRED");
    strcpy(uid, "junk");
    CHECK(store_refresh_revoke_family(s, unknown, now, uid) == STORE_NOTFOUND && uid[0] == '\0',
          "logout with unknown token -> NOTFOUND, no user");
    CHECK_INT_EQ(store_refresh_revoke_family(s, l1.hash, now + 4, NULL), STORE_OK,
                 "logout again (already revoked family) with no user buffer");

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

    /* Disabling, a role change or a password change store just that: ending the sessions
     * is domain/'s decision (it composes refresh_revoke_user and user_bump_epoch). */
    struct refresh_token d1;
    id_new(fam, "fam");
    make_token(&d1, u.id, fam, now, 3600000);
    store_refresh_insert(s, &d1);
    CHECK_INT_EQ(store_user_set_disabled(s, u.id, 1, now + 1), STORE_OK, "disable user");
    CHECK_INT_EQ(store_user_set_role(s, u.id, "admin", now + 1), STORE_OK, "change role");
    CHECK_INT_EQ(store_user_set_password(s, u.id, NULL, "$argon2id$v=19$other", now + 1), STORE_OK,
                 "change password");
    make_token(&tx, "", "", now + 2, 3600000);
    CHECK(store_refresh_rotate(s, d1.hash, &tx, now + 2, &out, uid) == STORE_OK && out == REFRESH_ROTATED,
          "... the session is left alone (%d)", out);
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
    CHECK(store_api_key_insert(s, &k1) == STORE_OK && store_api_key_insert(s, &k2) == STORE_OK, "insert keys");
    CHECK_INT_EQ(store_api_key_insert(s, &k1), STORE_DUPLICATE, "same key twice -> DUPLICATE");

    CHECK(store_api_key_list(s, u.id, &list, &n) == STORE_OK && n == 2, "list: two active keys");
    CHECK(n == 2 && strcmp(list[0].id, k2.id) == 0 && strcmp(list[1].id, k1.id) == 0, "list: newest first");
    CHECK(n == 2 && strcmp(list[1].name, "first") == 0 && strcmp(list[1].prefix, "tg_live_abcd") == 0 &&
              memcmp(list[1].hash, k1.hash, 32) == 0 && list[1].last_used_at == 0 && list[1].revoked_at == 0,
          "list: fields round-trip");
    free(list);
    list = NULL;
    CHECK(store_api_key_count_active(s, u.id, &count) == STORE_OK && count == 2, "count_active 2");
    /* The ceiling is domain/'s (it counts and inserts in one composed transaction). */
    struct api_key k3;
    make_key(&k3, u.id, "third", now + 1);
    CHECK(store_api_key_insert(s, &k3) == STORE_OK &&
              store_api_key_count_active(s, u.id, &count) == STORE_OK && count == 3,
          "insert has no ceiling of its own: count_active 3");
    CHECK_INT_EQ(store_api_key_revoke(s, u.id, k3.id, now + 1), STORE_OK, "revoke the third");

    CHECK_INT_EQ(store_api_key_revoke(s, other.id, k1.id, now), STORE_NOTFOUND,
                 "another user cannot revoke it");
    CHECK_INT_EQ(store_api_key_revoke(s, u.id, k1.id, now + 2), STORE_OK, "revoke");
    CHECK_INT_EQ(store_api_key_revoke(s, u.id, k1.id, now + 3), STORE_NOTFOUND, "revoke twice -> NOTFOUND");
    CHECK(store_api_key_count_active(s, u.id, &count) == STORE_OK && count == 1, "count_active 1");
    CHECK(store_api_key_list(s, u.id, &list, &n) == STORE_OK && n == 1 && strcmp(list[0].id, k2.id) == 0,
          "list omits the revoked key");
    free(list);
    list = NULL;

    CHECK_INT_EQ(store_api_key_authenticate(s, k1.hash, &got, &ku), STORE_NOTFOUND, "revoked key -> NOTFOUND");
    unsigned char unknown[32];
    fill_hash(unknown);
    CHECK_INT_EQ(store_api_key_authenticate(s, unknown, &got, &ku), STORE_NOTFOUND, "unknown key");

    CHECK_INT_EQ(store_api_key_authenticate(s, k2.hash, &got, &ku), STORE_OK, "authenticate");
    CHECK(strcmp(got.id, k2.id) == 0 && strcmp(ku.id, u.id) == 0 && strcmp(ku.email, u.email) == 0 &&
              ku.auth_epoch == 0,
          "authenticate returns the key and its user");
    CHECK_INT_EQ(got.last_used_at, 0, "authenticate writes nothing (last_used_at still unset)");

    /* Touch: the caller names the throttle; the conditional UPDATE applies it. */
    int64_t t0 = now + 10;
    int touched = -1;
    CHECK(store_api_key_touch(s, k2.id, t0, t0 - 60000, &touched) == STORE_OK && touched == 1,
          "first touch sets last_used_at");
    store_api_key_authenticate(s, k2.hash, &got, &ku);
    CHECK_INT_EQ(got.last_used_at, t0, "last_used_at = now");
    touched = -1;
    CHECK(store_api_key_touch(s, k2.id, t0 + 30000, t0, &touched) == STORE_OK && touched == 0,
          "not_since equal to last_used_at: not older, untouched");
    touched = -1;
    CHECK(store_api_key_touch(s, k2.id, t0 + 60001, t0 + 1, &touched) == STORE_OK && touched == 1,
          "last_used_at older than not_since: touched");
    CHECK(store_api_key_list(s, u.id, &list, &n) == STORE_OK && n == 1 && list[0].last_used_at == t0 + 60001,
          "the new last_used_at is stored");
    free(list);
    list = NULL;
    CHECK_INT_EQ(store_api_key_touch(s, k2.id, t0 + 70000, t0 + 70000, NULL), STORE_OK,
                 "touch without an out-param");
    touched = -1;
    CHECK(store_api_key_touch(s, "key_nope", t0, t0, &touched) == STORE_NOTFOUND && touched == 0,
          "touch: unknown key -> NOTFOUND");

    /* Whether a disabled user's key may be used is the caller's decision. */
    CHECK_INT_EQ(store_user_set_disabled(s, u.id, 1, now), STORE_OK, "disable the owner");
    CHECK(store_api_key_authenticate(s, k2.hash, &got, &ku) == STORE_OK && ku.disabled == 1 &&
              strcmp(got.id, k2.id) == 0,
          "a disabled user's key still authenticates, with disabled = 1");
    CHECK_INT_EQ(store_api_key_authenticate(s, unknown, &got, &ku), STORE_NOTFOUND, "unknown key again");
    CHECK(got.id[0] == '\0' && ku.id[0] == '\0', "outputs zeroed on NOTFOUND");

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
    size_t ne = 0;
    struct ledger_op op;
    int64_t now = time_now_ms();
    int64_t exp = now + 30LL * 86400000;

    make_user(s, &u, "ledger", 0);

    op = op_make(u.id, 0, BUCKET_PAID, 100, LK_PURCHASE, "order", R("ord_1"));
    op.note = "pack 100";
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, NULL, &w), STORE_OK, "credit paid 100");
    CHECK(w.paid_credits == 100 && w.plan_credits == 0 && w.updated_at == now, "after: paid 100");
    CHECK(by_ref(s, LK_PURCHASE, "order", R("ord_1"), &e, &ne) == STORE_OK && ne == 1, "one entry by ref");
    CHECK(e.delta == 100 && e.balance_after == 100 && e.bucket == BUCKET_PAID && e.created_at == now &&
              strcmp(e.note, "pack 100") == 0 && strcmp(e.ref_type, "order") == 0 &&
              strcmp(e.ref_id, R("ord_1")) == 0,
          "entry fields round-trip");
    CHECK(id_valid(e.id, "led"), "ledger id is a led_ id (%s)", e.id);

    op = op_make(u.id, 0, BUCKET_PLAN, 50, LK_PLAN_GRANT, "subscription", R("sub_1:1"));
    op.plan_expires_at = exp;
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, NULL, &w), STORE_OK, "credit plan 50");
    CHECK(w.plan_credits == 50 && w.paid_credits == 100 && w.plan_expires_at == exp, "plan 50, expiry set");
    op = op_make(u.id, 0, BUCKET_PLAN, 5, LK_REFUND, "task", R("tsk_r"));
    CHECK(store_ledger_apply(s, &op, now, NULL, &w) == STORE_OK && w.plan_credits == 55 && w.plan_expires_at == exp,
          "plan credit with plan_expires_at 0 keeps the expiry");

    op = op_make(u.id, 1, BUCKET_PAID, 30, LK_SPEND, "task", R("tsk_1"));
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, NULL, &w), STORE_OK, "debit paid 30");
    CHECK(w.paid_credits == 70 && w.plan_credits == 55, "paid 70, plan untouched");
    op = op_make(u.id, 0, BUCKET_PLAN, 1, LK_REFUND, "task", R("tsk_before"));
    op.plan_expires_at = exp + 1;
    CHECK(store_ledger_apply(s, &op, now + 1, &w2, &w) == STORE_OK && w2.plan_credits == 55 &&
              w2.paid_credits == 70 && w2.plan_expires_at == exp && w2.updated_at == now &&
              w.plan_credits == 56 && w.plan_expires_at == exp + 1 && w.updated_at == now + 1,
          "before holds the wallet as it was, after as it is");
    op = op_make(u.id, 1, BUCKET_PLAN, 1, LK_SPEND, "task", R("tsk_before"));
    CHECK(store_ledger_apply(s, &op, now, NULL, &w) == STORE_OK && w.plan_credits == 55, "back to plan 55");

    /* Plan-first across both buckets: 55 from plan, 15 from paid. If the paid expression saw
     * the already-updated plan balance this would take 70 from paid. */
    op = op_make(u.id, 1, BUCKET_PAID, 70, LK_SPEND, "task", R("tsk_2"));
    op.from_plan_first = 1;
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, NULL, &w), STORE_OK, "plan-first debit 70");
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
    }
    free(l);
    l = NULL;
    struct ledger_entry two[2];
    CHECK(store_ledger_get_by_ref(s, LK_SPEND, "task", R("tsk_2"), two, &ne) == STORE_OK && ne == 2,
          "get_by_ref returns both rows of a two-bucket spend");
    CHECK(ne == 2 && two[0].bucket == BUCKET_PLAN && two[0].delta == -55 && two[1].bucket == BUCKET_PAID &&
              two[1].delta == -15,
          "... plan first, then paid");

    /* Plan-first that fits in the plan bucket: one row. And with an empty plan: one paid row. */
    op = op_make(u.id, 0, BUCKET_PLAN, 10, LK_PLAN_GRANT, "subscription", R("sub_1:2"));
    store_ledger_apply(s, &op, now, NULL, &w);
    int64_t before_n = count_entries(s, u.id);
    op = op_make(u.id, 1, BUCKET_PAID, 4, LK_SPEND, "task", R("tsk_3"));
    op.from_plan_first = 1;
    CHECK(store_ledger_apply(s, &op, now, NULL, &w) == STORE_OK && w.plan_credits == 6 && w.paid_credits == 55,
          "plan-first within plan");
    CHECK_INT_EQ(count_entries(s, u.id), before_n + 1, "... writes one row (paid change 0 gets none)");
    op = op_make(u.id, 1, BUCKET_PAID, 6, LK_SPEND, "task", R("tsk_4"));
    op.from_plan_first = 1;
    store_ledger_apply(s, &op, now, NULL, &w);
    op = op_make(u.id, 1, BUCKET_PAID, 5, LK_SPEND, "task", R("tsk_5"));
    op.from_plan_first = 1;
    before_n = count_entries(s, u.id);
    CHECK(store_ledger_apply(s, &op, now, NULL, &w) == STORE_OK && w.plan_credits == 0 && w.paid_credits == 50,
          "plan-first with empty plan takes paid");
    CHECK(count_entries(s, u.id) == before_n + 1 &&
              by_ref(s, LK_SPEND, "task", R("tsk_5"), &e, &ne) == STORE_OK && ne == 1 &&
              e.bucket == BUCKET_PAID,
          "... one paid row");

    /* Insufficient: nothing changes, no entry. */
    store_wallet_get(s, u.id, &w);
    before_n = count_entries(s, u.id);
    op = op_make(u.id, 1, BUCKET_PAID, 51, LK_SPEND, "task", R("tsk_big"));
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, NULL, &w2), STORE_INSUFFICIENT,
                 "debit above balance -> INSUFFICIENT");
    CHECK(w2.user_id[0] == '\0', "after zeroed on INSUFFICIENT");
    op.from_plan_first = 1;
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, NULL, &w2), STORE_INSUFFICIENT, "plan-first above total");
    op = op_make(u.id, 1, BUCKET_PLAN, 1, LK_SPEND, "task", R("tsk_big2"));
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, NULL, &w2), STORE_INSUFFICIENT, "plan debit with empty plan");
    store_wallet_get(s, u.id, &w2);
    CHECK(w2.paid_credits == w.paid_credits && w2.plan_credits == w.plan_credits, "wallet unchanged");
    CHECK_INT_EQ(count_entries(s, u.id), before_n, "no entry written");
    CHECK(by_ref(s, LK_SPEND, "task", R("tsk_big"), &e, &ne) == STORE_NOTFOUND && ne == 0 && e.id[0] == '\0',
          "ref not recorded (NOTFOUND, n 0, zeroed)");

    /* Duplicates: a retried operation changes nothing, even once the balance has moved. */
    op = op_make(u.id, 1, BUCKET_PAID, 30, LK_SPEND, "task", R("tsk_1"));
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, NULL, &w2), STORE_DUPLICATE, "same debit ref -> DUPLICATE");
    op = op_make(u.id, 0, BUCKET_PAID, 100, LK_PURCHASE, "order", R("ord_1"));
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, NULL, &w2), STORE_DUPLICATE, "same credit ref -> DUPLICATE");
    op = op_make(u.id, 1, BUCKET_PAID, 70, LK_SPEND, "task", R("tsk_2"));
    op.from_plan_first = 1;
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, NULL, &w2), STORE_DUPLICATE,
                 "replayed plan-first debit -> DUPLICATE");
    op = op_make(u.id, 1, BUCKET_PAID, 50, LK_SPEND, "task", R("tsk_all"));
    CHECK(store_ledger_apply(s, &op, now, NULL, &w2) == STORE_OK && w2.paid_credits == 0, "spend everything");
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, NULL, &w2), STORE_DUPLICATE,
                 "replay after the balance hit 0 is DUPLICATE, not INSUFFICIENT");
    op = op_make(u.id, 0, BUCKET_PAID, 1, LK_REFUND, "task", R("tsk_all"));
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, NULL, &w2), STORE_OK, "same ref under another kind is distinct");
    store_wallet_get(s, u.id, &w2);
    CHECK_INT_EQ(w2.paid_credits, 1, "balance reflects only applied operations");

    /* Unknown wallet, invalid operations. */
    op = op_make("usr_nobody", 0, BUCKET_PAID, 1, LK_PURCHASE, "order", R("ord_x"));
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, NULL, &w2), STORE_NOTFOUND, "credit without wallet -> NOTFOUND");
    op.debit = 1;
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, NULL, &w2), STORE_NOTFOUND, "debit without wallet -> NOTFOUND");
    op.from_plan_first = 1;
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, NULL, &w2), STORE_NOTFOUND,
                 "plan-first without wallet -> NOTFOUND");
    uint64_t errors_before = store_error_count();
    op = op_make(u.id, 0, BUCKET_PAID, 0, LK_PURCHASE, "order", R("ord_zero"));
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, NULL, NULL), STORE_ERROR, "amount 0 refused");
    CHECK(store_error_count() == errors_before + 1, "the failure is counted for /metrics");
    op.amount = -5;
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, NULL, NULL), STORE_ERROR, "negative amount refused");
    op = op_make(u.id, 0, BUCKET_PAID, 1, LK_PURCHASE, "order", NULL);
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, NULL, NULL), STORE_ERROR, "missing ref refused");

    store_close(s);
}

/* Plan credits stop being spendable at their expiry when the debit names an instant
 * (plan_valid_at); expired credits stay in the wallet for the plan_expire operation. */
static void test_plan_expiry(void)
{
    struct store *s = open_store();
    struct user u, v;
    struct wallet w;
    struct ledger_op op;
    struct ledger_entry e;
    size_t ne;
    int64_t now = time_now_ms();
    int64_t exp = now + 1000;

    make_user(s, &u, "planexp", 20);
    op = op_make(u.id, 0, BUCKET_PLAN, 50, LK_PLAN_GRANT, "subscription", R("pe:1"));
    op.plan_expires_at = exp;
    CHECK(store_ledger_apply(s, &op, now, NULL, &w) == STORE_OK && w.plan_credits == 50 && w.plan_expires_at == exp,
          "plan 50 until exp, paid 20");

    op = op_make(u.id, 1, BUCKET_PLAN, 10, LK_SPEND, "task", R("pe:at"));
    op.plan_valid_at = exp;
    CHECK_INT_EQ(store_ledger_apply(s, &op, exp, NULL, &w), STORE_INSUFFICIENT,
                 "plan debit at the expiry instant -> INSUFFICIENT (expired means expires_at <= valid_at)");
    op.plan_valid_at = exp + 5000;
    CHECK_INT_EQ(store_ledger_apply(s, &op, exp, NULL, &w), STORE_INSUFFICIENT, "plan debit after the expiry");
    op.plan_valid_at = exp - 1;
    CHECK(store_ledger_apply(s, &op, now, NULL, &w) == STORE_OK && w.plan_credits == 40,
          "plan debit just before the expiry -> OK");

    /* Plan-first after the expiry: everything from paid, or nothing. */
    op = op_make(u.id, 1, BUCKET_PAID, 15, LK_SPEND, "task", R("pe:pf1"));
    op.from_plan_first = 1;
    op.plan_valid_at = exp;
    CHECK(store_ledger_apply(s, &op, exp, NULL, &w) == STORE_OK && w.plan_credits == 40 && w.paid_credits == 5,
          "expired plan-first debit takes all 15 from paid (plan %lld, paid %lld)", (long long)w.plan_credits,
          (long long)w.paid_credits);
    CHECK(by_ref(s, LK_SPEND, "task", R("pe:pf1"), &e, &ne) == STORE_OK && ne == 1 && e.bucket == BUCKET_PAID &&
              e.delta == -15,
          "... one paid row");
    op = op_make(u.id, 1, BUCKET_PAID, 6, LK_SPEND, "task", R("pe:pf2"));
    op.from_plan_first = 1;
    op.plan_valid_at = exp;
    CHECK_INT_EQ(store_ledger_apply(s, &op, exp, NULL, &w), STORE_INSUFFICIENT,
                 "expired plan-first debit above paid -> INSUFFICIENT though plan + paid would cover it");
    store_wallet_get(s, u.id, &w);
    CHECK(w.plan_credits == 40 && w.paid_credits == 5, "nothing changed");
    op.plan_valid_at = now;
    CHECK(store_ledger_apply(s, &op, now, NULL, &w) == STORE_OK && w.plan_credits == 34 && w.paid_credits == 5,
          "the same debit before the expiry takes plan credits");

    /* plan_valid_at 0 ignores the expiry: how plan_expire removes expired credits. */
    op = op_make(u.id, 1, BUCKET_PLAN, 34, LK_PLAN_EXPIRE, "subscription", R("pe:expire"));
    CHECK(store_ledger_apply(s, &op, exp + 1, NULL, &w) == STORE_OK && w.plan_credits == 0,
          "plan_valid_at 0: expired credits can be removed");

    /* No expiry at all: spendable whatever the instant. */
    make_user(s, &v, "planexp-none", 0);
    op = op_make(v.id, 0, BUCKET_PLAN, 8, LK_PLAN_GRANT, "subscription", R("pe:none"));
    CHECK(store_ledger_apply(s, &op, now, NULL, &w) == STORE_OK && w.plan_expires_at == 0, "plan 8, no expiry");
    op = op_make(v.id, 1, BUCKET_PAID, 3, LK_SPEND, "task", R("pe:none1"));
    op.from_plan_first = 1;
    op.plan_valid_at = INT64_MAX;
    CHECK(store_ledger_apply(s, &op, now, NULL, &w) == STORE_OK && w.plan_credits == 5,
          "plan credits without an expiry are spendable (plan-first)");
    op = op_make(v.id, 1, BUCKET_PLAN, 5, LK_SPEND, "task", R("pe:none2"));
    op.plan_valid_at = INT64_MAX;
    CHECK(store_ledger_apply(s, &op, now, NULL, &w) == STORE_OK && w.plan_credits == 0,
          "... and from the plan bucket");

    int64_t nv = -1, nw = 0;
    CHECK(store_ledger_check(s, NULL, NULL, &nv, &nw) == STORE_OK && nv == 0, "ledger still checks clean");
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
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, NULL, &w), STORE_OK, "credit up to INT64_MAX - 10");
    op = op_make(big.id, 0, BUCKET_PAID, 11, LK_PURCHASE, "order", R("ord_big2"));
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, NULL, &w), STORE_ERROR, "credit past INT64_MAX -> ERROR");
    op = op_make(big.id, 0, BUCKET_PAID, 10, LK_PURCHASE, "order", R("ord_big3"));
    CHECK(store_ledger_apply(s, &op, now, NULL, &w) == STORE_OK && w.paid_credits == INT64_MAX,
          "credit to exactly INT64_MAX is fine");
    op = op_make(big.id, 0, BUCKET_PLAN, INT64_MAX, LK_PLAN_GRANT, "subscription", R("sub_big"));
    CHECK(store_ledger_apply(s, &op, now, NULL, &w) == STORE_OK && w.plan_credits == INT64_MAX,
          "both buckets at INT64_MAX");
    op = op_make(big.id, 1, BUCKET_PAID, INT64_MAX, LK_SPEND, "task", R("tsk_bigspend"));
    op.from_plan_first = 1;
    CHECK(store_ledger_apply(s, &op, now, NULL, &w) == STORE_OK && w.plan_credits == 0 &&
              w.paid_credits == INT64_MAX,
          "plan-first at the int64 edge takes plan only");
    op = op_make(big.id, 1, BUCKET_PAID, INT64_MAX, LK_SPEND, "task", R("tsk_bigspend2"));
    CHECK(store_ledger_apply(s, &op, now, NULL, &w) == STORE_OK && w.paid_credits == 0, "drain back to 0");

    store_close(s);
}

static void test_ledger_list(void)
{
    struct store *s = open_store();
    struct user u, other;
    int64_t now = time_now_ms();
    enum { N = 25 };
    char ref[64];

    make_user(s, &u, "pages", 3);
    /* Back to back, mostly within one millisecond, where ids (random tail) sort arbitrarily:
     * listing must still follow application order. */
    for (int i = 1; i <= N; i++) {
        snprintf(ref, sizeof ref, "%s-%d", u.id, i);
        struct ledger_op op = op_make(u.id, 0, BUCKET_PAID, i, LK_PURCHASE, "order", ref);
        store_ledger_apply(s, &op, now, NULL, NULL);
    }
    int64_t expect = 3 + N * (N + 1) / 2;
    CHECK_INT_EQ(paid_of(s, u.id), expect, "26 credits applied");

    char cursor[TG_ID_MAX] = "";
    size_t total = 0, pages = 0;
    int chained = 1, ordered = 1;
    int64_t prev_after = -1, prev_delta = 0;
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
            /* newest first: the previous (newer) entry's balance minus its delta is ours, and
             * the deltas were applied as 25, 24, ... 1, then the signup grant of 3 */
            if (prev_after >= 0 && prev_after - prev_delta != l[i].balance_after)
                chained = 0;
            if (total + i < N && l[i].delta != (int64_t)(N - (total + i)))
                ordered = 0;
            prev_after = l[i].balance_after;
            prev_delta = l[i].delta;
        }
        if (total == 0)
            CHECK(l[0].balance_after == expect && l[0].delta == N, "first page starts with the newest entry");
        total += n;
        snprintf(cursor, sizeof cursor, "%s", l[n - 1].id);
        free(l);
    }
    CHECK_INT_EQ(total, N + 1, "pages cover every entry exactly once");
    CHECK_INT_EQ(pages, 3, "10 + 10 + 6");
    CHECK(ordered, "entries come newest first in application order");
    CHECK(chained && prev_after == 3 && prev_delta == 3, "balance_after chain is unbroken across pages");

    struct ledger_entry *l = NULL;
    size_t n = 5;
    CHECK(store_ledger_list(s, "usr_nobody", NULL, 10, &l, &n) == STORE_OK && n == 0,
          "unknown user: empty list");
    free(l);
    l = NULL;

    /* A cursor that is not one of the user's entries gives an empty page, not someone
     * else's history or the user's from the top. */
    make_user(s, &other, "pages-other", 4);
    struct ledger_entry oe;
    size_t one;
    by_ref(s, LK_SIGNUP_GRANT, "user", other.id, &oe, &one);
    n = 5;
    CHECK(store_ledger_list(s, u.id, oe.id, 10, &l, &n) == STORE_OK && n == 0,
          "another user's entry as cursor: empty page");
    free(l);
    l = NULL;
    n = 5;
    CHECK(store_ledger_list(s, u.id, "led_unknown", 10, &l, &n) == STORE_OK && n == 0,
          "unknown cursor: empty page");
    free(l);
    store_close(s);
}

/*
 * Ids are made before the write lock is taken, so entries can commit in the opposite order
 * of their ids (two writers, or a clock step). Listing, cursors and the invariant check
 * follow commit order (sqlite: rows written through a raw handle, newest id first).
 */
static void test_commit_order(void)
{
    if (g_path == NULL) {
        CHECK(1, "ids against commit order # SKIP needs a raw sqlite handle");
        return;
    }
    char *url = fresh_db("commit-order");
    struct store *s = open_url(url);
    struct user u;
    make_user(s, &u, "order", 0);
    int64_t now = time_now_ms();
    char ids[3][TG_ID_MAX];
    for (int i = 0; i < 3; i++)
        id_new_at(ids[i], "led", now + 3600000 - i); /* each sorts before the previous */

    sqlite3 *db = raw_open(url + 7);
    char *sql = sqlite3_mprintf(
        "INSERT INTO ledger(id, user_id, bucket, delta, balance_after, kind, ref_type, ref_id, note, created_at)"
        " VALUES (%Q, %Q, 'paid', 1, 1, 'purchase', 'order', 'o1', NULL, 1),"
        " (%Q, %Q, 'paid', 2, 3, 'purchase', 'order', 'o2', NULL, 2),"
        " (%Q, %Q, 'paid', 3, 6, 'purchase', 'order', 'o3', NULL, 3);"
        "UPDATE wallets SET paid_credits = 6 WHERE user_id = %Q",
        ids[0], u.id, ids[1], u.id, ids[2], u.id, u.id);
    CHECK(raw_exec(db, sql), "raw: three entries committed in the opposite order of their ids");
    sqlite3_free(sql);
    sqlite3_close(db);

    struct ledger_entry *l = NULL;
    size_t n = 0;
    CHECK(store_ledger_list(s, u.id, NULL, 10, &l, &n) == STORE_OK && n == 3 && strcmp(l[0].id, ids[2]) == 0 &&
              strcmp(l[1].id, ids[1]) == 0 && strcmp(l[2].id, ids[0]) == 0,
          "listed newest committed first, whatever the ids");
    free(l);
    l = NULL;
    CHECK(store_ledger_list(s, u.id, ids[2], 1, &l, &n) == STORE_OK && n == 1 && strcmp(l[0].id, ids[1]) == 0,
          "cursor at the newest: the next page is the middle entry (its id sorts after the cursor)");
    free(l);
    l = NULL;
    CHECK(store_ledger_list(s, u.id, ids[1], 10, &l, &n) == STORE_OK && n == 1 && strcmp(l[0].id, ids[0]) == 0,
          "cursor at the middle: the oldest entry");
    free(l);
    l = NULL;
    CHECK(store_ledger_list(s, u.id, ids[0], 10, &l, &n) == STORE_OK && n == 0, "cursor at the oldest: empty");
    free(l);

    struct ledger_op op = op_make(u.id, 1, BUCKET_PAID, 4, LK_SPEND, "task", R("order"));
    struct wallet w;
    CHECK(store_ledger_apply(s, &op, now, NULL, &w) == STORE_OK && w.paid_credits == 2, "debit 4 -> 2");
    l = NULL;
    CHECK(store_ledger_list(s, u.id, NULL, 1, &l, &n) == STORE_OK && n == 1 && l[0].delta == -4 &&
              strcmp(l[0].id, ids[2]) < 0,
          "a new entry is the newest though its id sorts before the others");
    free(l);
    int64_t nv = -1, nw = 0;
    CHECK(store_ledger_check(s, NULL, NULL, &nv, &nw) == STORE_OK && nv == 0,
          "the balance_after chain is checked in commit order: clean (%lld)", (long long)nv);

    /* The audit log: ids given by the caller, inserted in the opposite order. */
    struct audit_entry e[3];
    for (int i = 0; i < 3; i++) {
        memset(&e[i], 0, sizeof e[i]);
        id_new_at(e[i].id, "aud", now + 3600000 - i);
        snprintf(e[i].action, sizeof e[i].action, "order.test");
        e[i].created_at = now + i;
        store_audit_insert(s, &e[i]);
    }
    struct audit_entry *al = NULL;
    CHECK(store_audit_list(s, NULL, 2, &al, &n) == STORE_OK && n == 2 && strcmp(al[0].id, e[2].id) == 0 &&
              strcmp(al[1].id, e[1].id) == 0,
          "audit: newest committed first");
    store_audit_free(al, n);
    al = NULL;
    CHECK(store_audit_list(s, e[1].id, 10, &al, &n) == STORE_OK && n == 1 && strcmp(al[0].id, e[0].id) == 0,
          "audit: the cursor continues in commit order");
    store_audit_free(al, n);
    store_close(s);
    free(url);
}

/* ---- audit ---- */

static void test_audit(void)
{
    struct store *s = open_store();
    int64_t now = time_now_ms();
    struct audit_entry e[3];
    for (int i = 0; i < 3; i++) {
        memset(&e[i], 0, sizeof e[i]);
        id_new(e[i].id, "aud");
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
    l = NULL;
    CHECK(store_audit_list(s, "aud_unknown", 10, &l, &n) == STORE_OK && n == 0, "unknown cursor: empty page");
    store_audit_free(l, n);

    struct audit_entry gen = e[0];
    gen.id[0] = '\0';
    CHECK_INT_EQ(store_audit_insert(s, &gen), STORE_OK, "an empty id is generated");
    l = NULL;
    CHECK(store_audit_list(s, NULL, 1, &l, &n) == STORE_OK && n == 1 && id_valid(l[0].id, "aud"),
          "... as an aud_ id (%s)", n ? l[0].id : "-");
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

/* ---- idempotency keys ---- */

static void test_idem(void)
{
    struct store *s = open_store();
    int64_t now = time_now_ms();
    struct idem_record rec, got;
    char scope[64], other[64];
    snprintf(scope, sizeof scope, "%s", R("usr_idem"));
    snprintf(other, sizeof other, "%s", R("usr_idem2"));

    memset(&got, 0x55, sizeof got);
    got.body = NULL;
    CHECK(store_idem_get(s, scope, "k1", &got) == STORE_NOTFOUND && got.body == NULL && got.status == 0,
          "unknown key -> NOTFOUND, record zeroed");

    memset(&rec, 0, sizeof rec);
    fill_hash(rec.request_hash);
    rec.status = 201;
    rec.body = "{\"id\":\"ord_1\",\"amount\":990}";
    rec.created_at = now;
    CHECK_INT_EQ(store_idem_put(s, scope, "k1", &rec), STORE_OK, "put the first answer");
    CHECK_INT_EQ(store_idem_get(s, scope, "k1", &got), STORE_OK, "get it back");
    CHECK(memcmp(got.request_hash, rec.request_hash, 32) == 0 && got.status == 201 && got.created_at == now &&
              got.body && strcmp(got.body, rec.body) == 0,
          "hash, status, body and time round-trip");
    store_idem_free(&got);
    CHECK(got.body == NULL, "store_idem_free releases the body");
    store_idem_free(NULL);

    struct idem_record second = rec;
    fill_hash(second.request_hash);
    second.status = 500;
    second.body = "{}";
    CHECK_INT_EQ(store_idem_put(s, scope, "k1", &second), STORE_DUPLICATE, "same scope and key -> DUPLICATE");
    CHECK(store_idem_get(s, scope, "k1", &got) == STORE_OK && got.status == 201 &&
              memcmp(got.request_hash, rec.request_hash, 32) == 0,
          "the first answer stays");
    store_idem_free(&got);
    CHECK_INT_EQ(store_idem_put(s, other, "k1", &second), STORE_OK, "the same key in another scope is distinct");
    CHECK(store_idem_get(s, other, "k1", &got) == STORE_OK && got.status == 500, "... with its own answer");
    store_idem_free(&got);
    store_close(s);
}

/* ---- transaction control (store/backend.h): what store_call and the writer rely on ---- */

/* 1 if the audit log holds an entry with this id (newest 1000). */
static int audit_has(struct store *s, const char *id)
{
    struct audit_entry got;
    if (!find_audit(s, id, &got))
        return 0;
    free(got.details_json);
    return 1;
}

static struct audit_entry audit_make(const char *action)
{
    struct audit_entry a;
    memset(&a, 0, sizeof a);
    id_new(a.id, "aud");
    snprintf(a.action, sizeof a.action, "%s", action);
    a.details_json = "{\"old\":1,\"new\":2}";
    a.created_at = time_now_ms();
    return a;
}

static void test_txn(void)
{
    struct store *s = open_store();
    struct store *s2 = open_store();
    const struct store_ops *ops = s->ops;
    struct user u;
    struct wallet w;
    struct ledger_op op;
    int64_t now = time_now_ms();

    make_user(s, &u, "txn", 5);

    /* Two operations, a failing one and a half-written failing one, then COMMIT: the two
     * stay, the failures leave no trace, and the transaction survives them. */
    struct refresh_token t1, t2, clash;
    char fam[TG_ID_MAX], uid[TG_ID_MAX];
    enum refresh_outcome out;
    id_new(fam, "fam");
    make_token(&t1, u.id, fam, now, 3600000);
    make_token(&t2, u.id, fam, now, 3600000);
    store_refresh_insert(s, &t1);
    store_refresh_insert(s, &t2);
    struct audit_entry a = audit_make("credits.adjust");
    CHECK_INT_EQ(ops->begin(s, 1), STORE_OK, "begin(write)");
    op = op_make(u.id, 0, BUCKET_PAID, 10, LK_ADMIN_ADJUST, "admin", a.id);
    CHECK(store_ledger_apply(s, &op, now, NULL, &w) == STORE_OK && w.paid_credits == 15, "in txn: credit 10");
    CHECK_INT_EQ(store_audit_insert(s, &a), STORE_OK, "in txn: audit row");
    op = op_make(u.id, 1, BUCKET_PAID, 1000, LK_SPEND, "task", R("txn-big"));
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, NULL, &w), STORE_INSUFFICIENT, "in txn: debit 1000 refused");
    /* rotate marks t1 used, then fails inserting a replacement whose id is taken: its own
     * savepoint must undo the first write too. */
    make_token(&clash, "", "", now, 3600000);
    memcpy(clash.id, t2.id, sizeof clash.id);
    CHECK_INT_EQ(store_refresh_rotate(s, t1.hash, &clash, now, &out, uid), STORE_ERROR,
                 "in txn: a rotation that fails half way");
    CHECK(store_wallet_get(s, u.id, &w) == STORE_OK && w.paid_credits == 15, "in txn: reads see the txn's writes");
    CHECK_INT_EQ(paid_of(s2, u.id), 5, "another connection does not see them before COMMIT");
    CHECK_INT_EQ(ops->commit(s), STORE_OK, "commit");
    CHECK_INT_EQ(paid_of(s2, u.id), 15, "committed: the credit is visible elsewhere");
    CHECK(audit_has(s2, a.id), "committed: the audit row too");
    struct ledger_entry e;
    size_t ne;
    CHECK_INT_EQ(by_ref(s2, LK_SPEND, "task", R("txn-big"), &e, &ne), STORE_NOTFOUND,
                 "the refused debit left no entry");
    make_token(&clash, "", "", now, 3600000);
    CHECK(store_refresh_rotate(s, t1.hash, &clash, now, &out, uid) == STORE_OK && out == REFRESH_ROTATED,
          "the half-written rotation left no trace: the token was never marked used (%d)", out);
    int64_t nv = -1, nw = 0;
    CHECK(store_ledger_check(s, NULL, NULL, &nv, &nw) == STORE_OK && nv == 0, "ledger checks clean");

    /* Rollback discards everything since begin. */
    struct audit_entry b = audit_make("credits.adjust");
    CHECK_INT_EQ(ops->begin(s, 1), STORE_OK, "begin again");
    op = op_make(u.id, 0, BUCKET_PAID, 7, LK_ADMIN_ADJUST, "admin", b.id);
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, NULL, &w), STORE_OK, "in txn: credit 7");
    CHECK_INT_EQ(store_audit_insert(s, &b), STORE_OK, "in txn: audit row");
    ops->rollback(s);
    CHECK(paid_of(s, u.id) == 15 && !audit_has(s, b.id) &&
              by_ref(s, LK_ADMIN_ADJUST, "admin", b.id, &e, &ne) == STORE_NOTFOUND,
          "rollback: no credit, no entry, no audit row");
    CHECK(store_ledger_apply(s, &op, now, NULL, &w) == STORE_OK && w.paid_credits == 22,
          "after rollback the connection is back to one transaction per call");

    /* The caller's savepoints: one per store_call in a group commit. */
    CHECK_INT_EQ(ops->begin(s, 1), STORE_OK, "begin a group");
    CHECK_INT_EQ(ops->savepoint(s), STORE_OK, "call 1: savepoint");
    op = op_make(u.id, 0, BUCKET_PAID, 1, LK_PURCHASE, "order", R("txn-call1"));
    store_ledger_apply(s, &op, now, NULL, NULL);
    CHECK_INT_EQ(ops->release(s), STORE_OK, "call 1: release");
    CHECK_INT_EQ(ops->savepoint(s), STORE_OK, "call 2: savepoint");
    op = op_make(u.id, 0, BUCKET_PAID, 2, LK_PURCHASE, "order", R("txn-call2"));
    store_ledger_apply(s, &op, now, NULL, NULL);
    op = op_make(u.id, 1, BUCKET_PAID, 1, LK_SPEND, "task", R("txn-call2"));
    store_ledger_apply(s, &op, now, NULL, NULL);
    ops->rollback_to(s);
    CHECK_INT_EQ(ops->savepoint(s), STORE_OK, "call 3: savepoint");
    op = op_make(u.id, 0, BUCKET_PAID, 4, LK_PURCHASE, "order", R("txn-call3"));
    store_ledger_apply(s, &op, now, NULL, NULL);
    CHECK_INT_EQ(ops->release(s), STORE_OK, "call 3: release");
    CHECK_INT_EQ(ops->commit(s), STORE_OK, "commit the group");
    CHECK(paid_of(s2, u.id) == 22 + 1 + 4 &&
              by_ref(s2, LK_PURCHASE, "order", R("txn-call2"), &e, &ne) == STORE_NOTFOUND,
          "calls 1 and 3 committed, call 2 rolled back to its savepoint (%lld)", (long long)paid_of(s2, u.id));

    /* Misuse is refused, not half-done. */
    CHECK_INT_EQ(ops->commit(s), STORE_ERROR, "commit without a transaction -> ERROR");
    CHECK_INT_EQ(ops->savepoint(s), STORE_ERROR, "savepoint without a transaction -> ERROR");
    CHECK_INT_EQ(ops->begin(s, 0), STORE_OK, "begin(read)");
    CHECK_INT_EQ(ops->begin(s, 1), STORE_ERROR, "begin inside a transaction -> ERROR");
    CHECK_INT_EQ(ops->release(s), STORE_ERROR, "release without a savepoint -> ERROR");
    CHECK(store_wallet_get(s, u.id, &w) == STORE_OK && w.paid_credits == 27, "reads inside a read transaction");
    ops->rollback(s);

    if (g_path != NULL) {
        /* Another connection holds the write lock: begin(write) answers BUSY at once (the
         * writer decides when to retry), and so does a write inside an open transaction. */
        CHECK_INT_EQ(ops->begin(s2, 1), STORE_OK, "other connection: begin(write)");
        int64_t t0 = time_mono_ns();
        enum store_rc rc = ops->begin(s, 1);
        double ms = (double)(time_mono_ns() - t0) / 1e6;
        CHECK(rc == STORE_BUSY && ms < 50, "begin(write) under a held lock -> BUSY at once (%s, %.2f ms)",
              store_rc_name(rc), ms);
        CHECK_INT_EQ(ops->begin(s, 0), STORE_OK, "begin(read) is not blocked (WAL)");
        CHECK_INT_EQ(paid_of(s, u.id), 27, "... and reads");
        op = op_make(u.id, 0, BUCKET_PAID, 1, LK_PURCHASE, "order", R("txn-busy"));
        t0 = time_mono_ns();
        rc = store_ledger_apply(s, &op, now, NULL, NULL);
        ms = (double)(time_mono_ns() - t0) / 1e6;
        CHECK(rc == STORE_BUSY && ms < 50, "a write inside a transaction under a held lock -> BUSY, no retry (%s, %.2f ms)",
              store_rc_name(rc), ms);
        ops->rollback(s);
        ops->rollback(s2);
        CHECK(store_ledger_apply(s, &op, now, NULL, &w) == STORE_OK && w.paid_credits == 28,
              "once the lock is free the write goes through");
    } else {
        CHECK(1, "begin under a held lock # SKIP needs sqlite");
    }
    store_close(s2);
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
    store_ledger_apply(s, &op, now, NULL, NULL);
    op = op_make(u.id, 1, BUCKET_PAID, 20, LK_SPEND, "task", u.id);
    store_ledger_apply(s, &op, now, NULL, NULL);
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
    enum store_rc rc = store_ledger_apply(s, &op, time_now_ms(), NULL, NULL);
    double ms = (double)(time_mono_ns() - t0) / 1e6;
    CHECK(rc == STORE_BUSY, "write under a held lock -> BUSY (%s after %.0f ms)", store_rc_name(rc), ms);
    CHECK(ms > 1000 && ms < 5000, "... after retrying for about the 2 s budget (%.0f ms)", ms);
    CHECK(store_error_count() > errors_before, "giving up is counted");
    CHECK(store_wallet_get(s, u.id, &w) == STORE_OK && w.paid_credits == 5, "readers are not blocked (WAL)");
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
    CHECK(store_ledger_apply(s, &op, time_now_ms(), NULL, &w) == STORE_OK && w.paid_credits == 4,
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
        r->rc = store_ledger_apply(s, &op, time_now_ms(), NULL, NULL);
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
    CHECK_INT_EQ(store_ledger_apply(s, &op, time_now_ms(), NULL, NULL), STORE_OK, "wallet funded with 100");

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

/* ---- a full disk (sqlite: a fault-injecting VFS) ---- */

/*
 * A VFS that wraps the default one and, while g_disk_full is set, fails every write with
 * SQLITE_FULL, as a full disk does (SQLite's own tests inject I/O faults the same way).
 * Every file SQLite opens through it (database, WAL) gets this struct, with the default
 * VFS's file right behind it.
 */
struct faulty_file {
    sqlite3_file base;
    sqlite3_file *real;
};

static sqlite3_vfs *g_real_vfs;
static sqlite3_vfs g_faulty_vfs;
static atomic_int g_disk_full;

#define FAULTY_REAL(f) (((struct faulty_file *)(f))->real)

static int faulty_close(sqlite3_file *f)
{
    return FAULTY_REAL(f)->pMethods->xClose(FAULTY_REAL(f));
}
static int faulty_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
    return FAULTY_REAL(f)->pMethods->xRead(FAULTY_REAL(f), buf, n, off);
}
static int faulty_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
    if (atomic_load(&g_disk_full))
        return SQLITE_FULL;
    return FAULTY_REAL(f)->pMethods->xWrite(FAULTY_REAL(f), buf, n, off);
}
static int faulty_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return FAULTY_REAL(f)->pMethods->xTruncate(FAULTY_REAL(f), size);
}
static int faulty_sync(sqlite3_file *f, int flags)
{
    return FAULTY_REAL(f)->pMethods->xSync(FAULTY_REAL(f), flags);
}
static int faulty_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return FAULTY_REAL(f)->pMethods->xFileSize(FAULTY_REAL(f), size);
}
static int faulty_lock(sqlite3_file *f, int level)
{
    return FAULTY_REAL(f)->pMethods->xLock(FAULTY_REAL(f), level);
}
static int faulty_unlock(sqlite3_file *f, int level)
{
    return FAULTY_REAL(f)->pMethods->xUnlock(FAULTY_REAL(f), level);
}
static int faulty_check_reserved(sqlite3_file *f, int *out)
{
    return FAULTY_REAL(f)->pMethods->xCheckReservedLock(FAULTY_REAL(f), out);
}
static int faulty_file_control(sqlite3_file *f, int op, void *arg)
{
    return FAULTY_REAL(f)->pMethods->xFileControl(FAULTY_REAL(f), op, arg);
}
static int faulty_sector_size(sqlite3_file *f)
{
    return FAULTY_REAL(f)->pMethods->xSectorSize(FAULTY_REAL(f));
}
static int faulty_device_characteristics(sqlite3_file *f)
{
    return FAULTY_REAL(f)->pMethods->xDeviceCharacteristics(FAULTY_REAL(f));
}
static int faulty_shm_map(sqlite3_file *f, int region, int size, int extend, void volatile **out)
{
    return FAULTY_REAL(f)->pMethods->xShmMap(FAULTY_REAL(f), region, size, extend, out);
}
static int faulty_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    return FAULTY_REAL(f)->pMethods->xShmLock(FAULTY_REAL(f), offset, n, flags);
}
static void faulty_shm_barrier(sqlite3_file *f)
{
    FAULTY_REAL(f)->pMethods->xShmBarrier(FAULTY_REAL(f));
}
static int faulty_shm_unmap(sqlite3_file *f, int delete_flag)
{
    return FAULTY_REAL(f)->pMethods->xShmUnmap(FAULTY_REAL(f), delete_flag);
}
static int faulty_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **out)
{
    return FAULTY_REAL(f)->pMethods->xFetch(FAULTY_REAL(f), off, n, out);
}
static int faulty_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return FAULTY_REAL(f)->pMethods->xUnfetch(FAULTY_REAL(f), off, p);
}

/* Version 3 (WAL's shared memory, memory-mapped reads), like the unix VFS's files. */
static const sqlite3_io_methods g_faulty_io = {
    3,
    faulty_close,
    faulty_read,
    faulty_write,
    faulty_truncate,
    faulty_sync,
    faulty_file_size,
    faulty_lock,
    faulty_unlock,
    faulty_check_reserved,
    faulty_file_control,
    faulty_sector_size,
    faulty_device_characteristics,
    faulty_shm_map,
    faulty_shm_lock,
    faulty_shm_barrier,
    faulty_shm_unmap,
    faulty_fetch,
    faulty_unfetch,
};

static int faulty_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags, int *out_flags)
{
    (void)vfs;
    struct faulty_file *ff = (struct faulty_file *)file;
    ff->real = (sqlite3_file *)(ff + 1);
    int rc = g_real_vfs->xOpen(g_real_vfs, name, ff->real, flags, out_flags);
    /* SQLite calls xClose only when pMethods is set, so it is set exactly when the real
     * file needs closing. */
    ff->base.pMethods = ff->real->pMethods != NULL ? &g_faulty_io : NULL;
    return rc;
}

/* Makes the faulty VFS the default for connections opened from now on. */
static int faulty_vfs_install(void)
{
    g_real_vfs = sqlite3_vfs_find(NULL);
    if (g_real_vfs == NULL || g_real_vfs->iVersion < 1)
        return 0;
    g_faulty_vfs = *g_real_vfs;
    g_faulty_vfs.pNext = NULL;
    g_faulty_vfs.zName = "tg-faulty";
    g_faulty_vfs.szOsFile = (int)sizeof(struct faulty_file) + g_real_vfs->szOsFile;
    g_faulty_vfs.xOpen = faulty_open;
    return sqlite3_vfs_register(&g_faulty_vfs, 1) == SQLITE_OK;
}

static void faulty_vfs_remove(void)
{
    sqlite3_vfs_unregister(&g_faulty_vfs);
    sqlite3_vfs_register(g_real_vfs, 1);
}

/* A full disk is STORE_UNAVAILABLE (retry later), not STORE_ERROR; reads keep working; the
 * write probe tells when writing works again; nothing half-done is left behind. */
static void test_unavailable(void)
{
    if (g_path == NULL) {
        CHECK(1, "full disk # SKIP needs the sqlite VFS");
        return;
    }
    if (!faulty_vfs_install()) {
        CHECK(0, "install the fault-injecting VFS");
        return;
    }
    char *url = fresh_db("full");
    struct store *s = open_url(url);
    const struct store_ops *ops = s->ops;
    struct user u;
    struct wallet w;
    int64_t now = time_now_ms();
    make_user(s, &u, "full", 5);
    CHECK_INT_EQ(store_write_probe(s, now), STORE_OK, "write probe on a healthy disk");

    atomic_store(&g_disk_full, 1);
    uint64_t errors_before = store_error_count();
    CHECK_INT_EQ(store_write_probe(s, now + 1), STORE_UNAVAILABLE, "disk full: write probe -> UNAVAILABLE");
    struct ledger_op op = op_make(u.id, 0, BUCKET_PAID, 1, LK_PURCHASE, "order", R("full"));
    CHECK_INT_EQ(store_ledger_apply(s, &op, now, NULL, &w), STORE_UNAVAILABLE, "disk full: credit -> UNAVAILABLE");
    CHECK(store_error_count() > errors_before, "the failures are counted for /metrics");
    struct user nu;
    memset(&nu, 0, sizeof nu);
    id_new(nu.id, "usr");
    snprintf(nu.email, sizeof nu.email, "full-%.26s@example.test", nu.id + 4);
    nu.created_at = now;
    CHECK_INT_EQ(store_user_create(s, &nu), STORE_UNAVAILABLE, "disk full: user_create -> UNAVAILABLE");
    CHECK(store_wallet_get(s, u.id, &w) == STORE_OK && w.paid_credits == 5, "reads still work");

    /* Inside a composed transaction the writes stay in memory until COMMIT, which fails. */
    CHECK_INT_EQ(ops->begin(s, 1), STORE_OK, "disk full: begin(write)");
    enum store_rc rc = store_ledger_apply(s, &op, now, NULL, NULL);
    CHECK(rc == STORE_OK, "disk full: a credit in the transaction is only in memory yet (%s)", store_rc_name(rc));
    CHECK_INT_EQ(ops->commit(s), STORE_UNAVAILABLE, "disk full: commit -> UNAVAILABLE");
    CHECK_INT_EQ(ops->commit(s), STORE_ERROR, "... and the transaction is over");

    atomic_store(&g_disk_full, 0);
    CHECK_INT_EQ(store_write_probe(s, now + 2), STORE_OK, "space again: the write probe succeeds");
    CHECK(store_wallet_get(s, u.id, &w) == STORE_OK && w.paid_credits == 5, "no failed credit was applied");
    CHECK(store_ledger_apply(s, &op, now, NULL, &w) == STORE_OK && w.paid_credits == 6,
          "the same credit now applies (its reference was never used)");
    CHECK_INT_EQ(store_user_create(s, &nu), STORE_OK, "the same user can be created now");
    int64_t nv = -1, nw = 0;
    CHECK(store_ledger_check(s, NULL, NULL, &nv, &nw) == STORE_OK && nv == 0, "ledger checks clean");
    store_close(s);
    faulty_vfs_remove();
    free(url);
}

static void run_suite(const char *url, int fresh)
{
    g_url = url;
    g_path = strncmp(url, "sqlite:", 7) == 0 && strcmp(url, "sqlite::memory:") != 0 ? url + 7 : NULL;
    printf("# store conformance on %s\n", g_path ? "sqlite" : url);
    test_migrate(fresh);
    test_users();
    test_identities();
    test_tokens();
    test_apikeys();
    test_ledger();
    test_plan_expiry();
    test_ledger_list();
    test_commit_order();
    test_audit();
    test_idem();
    test_txn();
    test_totals_and_check();
    test_append_only();
    test_overflow();
    test_busy();
    test_concurrent_debits();
    test_check_chain();
    test_unavailable();
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
