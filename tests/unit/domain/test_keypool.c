/* Unit tests for src/domain/keypool.c: least recently used order, three errors -> cool-down
 * -> one probe -> recovery or another cool-down, 429 and Retry-After, rejection -> disabled
 * (and the flag the caller must store), an admin's enable making a key healthy, env key ids
 * (stable, valid, free of the secret) and their rows, sealing (round trip, tampering, another
 * row), counters handed over for storing, and the published health read by another thread
 * while the owner reports (never torn). */
#include "../test.h"

#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/config.h"
#include "core/ids.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "crypto/random.h"
#include "domain/keypool.h"
#include "store/store.h"

static char tmpdir[] = "/tmp/tg_test_keypool_XXXXXX";
static struct store *g_s;

#define ENV_KEY_1 "sk-envkeyAAAA1111"
#define ENV_KEY_2 "sk-envkeyBBBB2222"
#define MIN_MS (60 * 1000)

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* An admin key row with its secret sealed, as api/provider_keys.c stores it. */
static void admin_row(struct provider_key *k, const char *provider, const char *secret, int64_t created)
{
    memset(k, 0, sizeof *k);
    id_new_at(k->id, "pk", created);
    snprintf(k->provider, sizeof k->provider, "%s", provider);
    snprintf(k->label, sizeof k->label, "admin");
    keypool_prefix(secret, k->prefix);
    snprintf(k->source, sizeof k->source, "admin");
    long n = keypool_seal(k->id, secret, strlen(secret), k->secret_box, sizeof k->secret_box);
    k->secret_box_len = n > 0 ? (size_t)n : 0;
    k->created_at = k->updated_at = created;
}

static int pick(struct keypool *kp, const char *provider, int64_t now, char id[TG_ID_MAX], int64_t *wait)
{
    char secret[TG_KEY_SECRET_MAX + 1];
    int rc = keypool_pick(kp, provider, now, id, secret, wait);
    return rc;
}

static int report(struct keypool *kp, const char *id, enum keypool_outcome o, int64_t ra, int64_t now)
{
    int persist = -1;
    keypool_report(kp, id, o, ra,
                   o == KEYPOOL_REJECTED ? "InvalidApiKey: the key is revoked" : o == KEYPOOL_ERROR ? "HTTP 500" : NULL,
                   now, &persist);
    return persist;
}

static void test_names(void)
{
    CHECK(keypool_provider_valid("dashscope") && keypool_provider_valid("kie") && keypool_provider_valid("gemini"),
          "the three pooled providers");
    CHECK(!keypool_provider_valid("sandbox") && !keypool_provider_valid("") && !keypool_provider_valid(NULL),
          "sandbox, empty and NULL are not pooled providers");
    CHECK_STR_EQ(keypool_provider_env("kie"), "TG_KIE_API_KEYS", "env variable of kie");
    CHECK(keypool_secret_valid("sk-0123456789abcdef", 19), "a DashScope-like key");
    CHECK(keypool_secret_valid("AIzaSyA-abc_def.ghi", 19), "a Gemini-like key");
    CHECK(!keypool_secret_valid("short", 5), "too short");
    CHECK(!keypool_secret_valid("sk-abc\r\nX-Evil: 1", 17), "CR LF refused (header injection)");
    CHECK(!keypool_secret_valid("sk-abc def1234", 14), "blank refused");
    CHECK(!keypool_secret_valid("sk-abc,def1234", 14), "comma refused");
    CHECK(!keypool_secret_valid("sk-abc\0def1234", 14), "NUL refused");
    char big[TG_KEY_SECRET_MAX + 2];
    memset(big, 'a', sizeof big);
    CHECK(keypool_secret_valid(big, TG_KEY_SECRET_MAX) && !keypool_secret_valid(big, TG_KEY_SECRET_MAX + 1),
          "length bound %d", TG_KEY_SECRET_MAX);
    char pre[16];
    keypool_prefix("sk-0123456789", pre);
    CHECK_STR_EQ(pre, "sk-012...", "prefix: 6 characters and an ellipsis");
    CHECK(keypool_outcome_of(GEN_RETRY) == KEYPOOL_ERROR && keypool_outcome_of(GEN_RATE_LIMITED) == KEYPOOL_RATE_LIMITED &&
              keypool_outcome_of(GEN_KEY_REJECTED) == KEYPOOL_REJECTED && keypool_outcome_of(GEN_INVALID) == KEYPOOL_OK &&
              keypool_outcome_of(GEN_FAILED) == KEYPOOL_OK && keypool_outcome_of(GEN_SUCCEEDED) == KEYPOOL_OK,
          "provider outcomes map to key outcomes (a failed or invalid task is not the key's fault)");
}

static void test_env_ids(void)
{
    char a[TG_ID_MAX], b[TG_ID_MAX], c[TG_ID_MAX], d[TG_ID_MAX];
    keypool_env_key_id("dashscope", "sk-0123456789abcdef", a);
    keypool_env_key_id("dashscope", "sk-0123456789abcdef", b);
    keypool_env_key_id("dashscope", "sk-0123456789abcdeg", c);
    keypool_env_key_id("kie", "sk-0123456789abcdef", d);
    CHECK(id_valid(a, "pk"), "env key id is a valid pk id: %s", a);
    CHECK_STR_EQ(a, b, "the same key gives the same id");
    CHECK(strcmp(a, c) != 0, "another key, another id");
    CHECK(strcmp(a, d) != 0, "the same key at another provider, another id");
    /* Nothing of the secret shows: not its text, not any 4 characters of it. */
    int leak = 0;
    const char *sec = "sk-0123456789abcdef";
    for (size_t i = 0; i + 4 <= strlen(sec); i++) {
        char part[5];
        memcpy(part, sec + i, 4);
        part[4] = '\0';
        for (char *p = part; *p; p++)
            *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        leak |= strstr(a + 3, part) != NULL;
    }
    CHECK(!leak, "no 4 characters of the secret appear in the id");
}

static void test_seal(void)
{
    char id[TG_ID_MAX], other[TG_ID_MAX], out[TG_KEY_SECRET_MAX + 1];
    unsigned char box[TG_KEY_BOX_MAX];
    const char *sec = "sk-sealed-0123456789";
    id_new(id, "pk");
    id_new(other, "pk");
    long n = keypool_seal(id, sec, strlen(sec), box, sizeof box);
    CHECK_INT_EQ(n, (long)strlen(sec) + KEYPOOL_BOX_OVERHEAD, "box length: nonce + ciphertext + tag");
    CHECK(memmem(box, (size_t)n, sec, strlen(sec)) == NULL, "the secret is not in the box in clear");
    CHECK_INT_EQ(keypool_unseal(id, box, (size_t)n, out), (long)strlen(sec), "unseal");
    CHECK_STR_EQ(out, sec, "round trip");
    int tampered_ok = 0;
    for (long i = 0; i < n; i++) {
        box[i] ^= 0x01;
        tampered_ok |= keypool_unseal(id, box, (size_t)n, out) >= 0;
        box[i] ^= 0x01;
    }
    CHECK(!tampered_ok, "every single flipped bit (nonce, ciphertext, tag) is refused");
    CHECK(keypool_unseal(other, box, (size_t)n, out) == -1 && out[0] == '\0', "a box moved to another key id is refused");
    CHECK(keypool_unseal(id, box, (size_t)n - 1, out) == -1, "a truncated box is refused");
    CHECK(keypool_unseal(id, box, 10, out) == -1, "a box shorter than its overhead is refused");
    unsigned char box2[TG_KEY_BOX_MAX];
    long n2 = keypool_seal(id, sec, strlen(sec), box2, sizeof box2);
    CHECK(n2 == n && memcmp(box, box2, (size_t)n) != 0, "two seals of one secret differ (fresh nonce)");
    CHECK(keypool_seal(id, sec, strlen(sec), box2, strlen(sec) + KEYPOOL_BOX_OVERHEAD - 1) == -1, "cap too small");
    CHECK(keypool_seal(id, sec, 0, box2, sizeof box2) == -1, "empty secret refused");
}

static void test_lru(void)
{
    struct keypool *kp = keypool_new();
    struct provider_key rows[4];
    char id[TG_ID_MAX], secret[TG_KEY_SECRET_MAX + 1];
    int64_t now = 1700000000000, wait = 0;
    admin_row(&rows[0], "dashscope", "sk-lru-key-AAAA", now - 3000);
    admin_row(&rows[1], "dashscope", "sk-lru-key-BBBB", now - 2000);
    admin_row(&rows[2], "dashscope", "sk-lru-key-CCCC", now - 1000);
    admin_row(&rows[3], "kie", "kie-lru-key-DDDD", now - 500);
    keypool_load(kp, rows, 4, now);

    CHECK(keypool_pick(kp, "dashscope", now, id, secret, &wait) == 0 && wait == 0, "pick");
    CHECK(strcmp(id, rows[0].id) == 0 && strcmp(secret, "sk-lru-key-AAAA") == 0, "first: the oldest key, its secret unsealed");
    CHECK(pick(kp, "dashscope", now, id, &wait) == 0 && strcmp(id, rows[1].id) == 0, "second: B (same millisecond)");
    CHECK(pick(kp, "dashscope", now + 1, id, &wait) == 0 && strcmp(id, rows[2].id) == 0, "third: C");
    CHECK(pick(kp, "dashscope", now + 2, id, &wait) == 0 && strcmp(id, rows[0].id) == 0, "then A again");
    report(kp, rows[1].id, KEYPOOL_OK, 0, now + 3);
    CHECK(pick(kp, "dashscope", now + 4, id, &wait) == 0 && strcmp(id, rows[1].id) == 0,
          "a report does not change the order: B, least recently picked");
    CHECK(pick(kp, "kie", now + 5, id, &wait) == 0 && strcmp(id, rows[3].id) == 0, "providers have separate pools");
    CHECK(pick(kp, "gemini", now, id, &wait) == -1 && wait == -1 && id[0] == '\0', "no gemini key: -1, none will come");
    CHECK(keypool_secret(kp, rows[2].id, secret) == 0 && strcmp(secret, "sk-lru-key-CCCC") == 0, "secret by id");
    CHECK(keypool_secret(kp, "pk_01ARZ3NDEKTSV4RRFFQ69G5FAV", secret) == -1 && secret[0] == '\0', "unknown id");
    keypool_free(kp);
}

static void test_cooldown(void)
{
    struct keypool *kp = keypool_new();
    struct provider_key rows[2];
    char id[TG_ID_MAX];
    struct keypool_health h;
    int64_t now = 1700000100000, wait = 0;
    admin_row(&rows[0], "gemini", "AIza-cool-AAAA", now - 2000);
    admin_row(&rows[1], "gemini", "AIza-cool-BBBB", now - 1000);
    keypool_load(kp, rows, 2, now);
    const char *a = rows[0].id, *b = rows[1].id;

    report(kp, a, KEYPOOL_ERROR, 0, now);
    report(kp, a, KEYPOOL_ERROR, 0, now);
    CHECK(keypool_health_get(a, now, &h) == 0 && h.status == KEYPOOL_ST_HEALTHY && h.consecutive_errors == 2,
          "two errors: still healthy, 2 counted");
    report(kp, a, KEYPOOL_OK, 0, now);
    report(kp, a, KEYPOOL_ERROR, 0, now);
    report(kp, a, KEYPOOL_ERROR, 0, now);
    CHECK(keypool_health_get(a, now, &h) == 0 && h.status == KEYPOOL_ST_HEALTHY && h.consecutive_errors == 2,
          "a success reset the count: 2 again, not 4");
    report(kp, a, KEYPOOL_ERROR, 0, now + 10);
    CHECK(keypool_health_get(a, now + 10, &h) == 0 && h.status == KEYPOOL_ST_COOLING_DOWN &&
              h.available_at == now + 10 + KEYPOOL_COOL_MS && h.consecutive_errors == 3,
          "third error: cooling down for 5 minutes");
    for (int i = 0; i < 3; i++)
        CHECK(pick(kp, "gemini", now + 20 + i, id, &wait) == 0 && strcmp(id, b) == 0, "picks avoid the cooling key (%d)", i);
    report(kp, b, KEYPOOL_REJECTED, 0, now + 30);
    CHECK(pick(kp, "gemini", now + 40, id, &wait) == -1 && wait == KEYPOOL_COOL_MS - 30,
          "no key: wait until the cool-down ends (%lld)", (long long)wait);
    report(kp, a, KEYPOOL_ERROR, 0, now + 50);
    CHECK(keypool_health_get(a, now + 50, &h) == 0 && h.available_at == now + 10 + KEYPOOL_COOL_MS,
          "an error of an earlier call does not lengthen the rest");

    int64_t t = now + 10 + KEYPOOL_COOL_MS;
    CHECK(keypool_health_get(a, t, &h) == 0 && h.status == KEYPOOL_ST_HEALTHY, "rest over: shown healthy");
    CHECK(pick(kp, "gemini", t, id, &wait) == 0 && strcmp(id, a) == 0, "rest over: one probe");
    CHECK(keypool_health_get(a, t, &h) == 0 && h.probing && h.status == KEYPOOL_ST_COOLING_DOWN, "probe out");
    CHECK(pick(kp, "gemini", t + 1, id, &wait) == -1 && wait == KEYPOOL_PROBE_WAIT_MS,
          "while the probe is out the key is not picked again");
    report(kp, a, KEYPOOL_ERROR, 0, t + 100);
    CHECK(pick(kp, "gemini", t + 200, id, &wait) == -1 && wait == KEYPOOL_COOL_MS - 100,
          "failed probe: another 5 minutes (%lld)", (long long)wait);
    t += 100 + KEYPOOL_COOL_MS;
    CHECK(pick(kp, "gemini", t, id, &wait) == 0 && strcmp(id, a) == 0, "second probe");
    report(kp, a, KEYPOOL_OK, 0, t + 5);
    CHECK(keypool_health_get(a, t + 5, &h) == 0 && h.status == KEYPOOL_ST_HEALTHY && h.consecutive_errors == 0 && !h.probing,
          "probe succeeded: healthy");
    int all = 1;
    for (int i = 0; i < 5; i++)
        all &= pick(kp, "gemini", t + 10 + i, id, &wait) == 0 && strcmp(id, a) == 0;
    CHECK(all, "recovered: picked again and again");

    /* A probe nobody reports on is lost after KEYPOOL_PROBE_LOST_MS. */
    for (int i = 0; i < 3; i++)
        report(kp, a, KEYPOOL_ERROR, 0, t + 20);
    t += 20 + KEYPOOL_COOL_MS;
    CHECK(pick(kp, "gemini", t, id, &wait) == 0, "probe taken");
    CHECK(pick(kp, "gemini", t + KEYPOOL_PROBE_LOST_MS - 1, id, &wait) == -1, "not before it is lost");
    CHECK(pick(kp, "gemini", t + KEYPOOL_PROBE_LOST_MS, id, &wait) == 0 && strcmp(id, a) == 0,
          "a lost probe frees the key for another");
    keypool_free(kp);
}

static void test_rate_limit(void)
{
    struct keypool *kp = keypool_new();
    struct provider_key row;
    char id[TG_ID_MAX];
    struct keypool_health h;
    int64_t now = 1700000200000, wait = 0;
    admin_row(&row, "kie", "kie-429-key-AAAA", now);
    keypool_load(kp, &row, 1, now);

    CHECK(report(kp, row.id, KEYPOOL_RATE_LIMITED, 2000, now) == 0, "429: nothing to store");
    CHECK(keypool_health_get(row.id, now, &h) == 0 && h.status == KEYPOOL_ST_RATE_LIMITED && h.available_at == now + 2000,
          "rate limited until Retry-After");
    CHECK(pick(kp, "kie", now + 1000, id, &wait) == -1 && wait == 1000, "not before (wait %lld)", (long long)wait);
    CHECK(pick(kp, "kie", now + 2000, id, &wait) == 0, "usable at Retry-After");
    CHECK(keypool_health_get(row.id, now + 2000, &h) == 0 && h.consecutive_errors == 0, "a 429 is not an error of the key");
    report(kp, row.id, KEYPOOL_RATE_LIMITED, 0, now + 3000);
    CHECK(pick(kp, "kie", now + 3000 + KEYPOOL_RETRY_AFTER_DEFAULT_MS - 1, id, &wait) == -1 && wait == 1,
          "no Retry-After: the default %d ms", KEYPOOL_RETRY_AFTER_DEFAULT_MS);
    int64_t t = now + 3000 + KEYPOOL_RETRY_AFTER_DEFAULT_MS;
    report(kp, row.id, KEYPOOL_RATE_LIMITED, 86400000, t);
    CHECK(pick(kp, "kie", t, id, &wait) == -1 && wait == KEYPOOL_RETRY_AFTER_MAX_MS, "a day of Retry-After is capped");
    keypool_free(kp);
}

static void test_rejected(void)
{
    struct keypool *kp = keypool_new();
    struct provider_key row;
    char id[TG_ID_MAX];
    struct keypool_health h;
    struct keypool_view v;
    int64_t now = 1700000300000, wait = 0;
    admin_row(&row, "dashscope", "sk-rejected-AAAA", now);
    keypool_load(kp, &row, 1, now);

    CHECK(report(kp, row.id, KEYPOOL_REJECTED, 0, now) == 1, "401: the caller must store the disable");
    CHECK(keypool_health_get(row.id, now, &h) == 0 && h.status == KEYPOOL_ST_DISABLED &&
              strcmp(h.reason, "InvalidApiKey: the key is revoked") == 0,
          "disabled with the reason");
    CHECK(pick(kp, "dashscope", now + 1, id, &wait) == -1 && wait == -1, "disabled: -1 and no time will help");
    CHECK(report(kp, row.id, KEYPOOL_REJECTED, 0, now + 2) == 0, "a second 401: already disabled, nothing more to store");
    keypool_view(&row, now + 2, &v);
    CHECK(v.status == KEYPOOL_ST_DISABLED && strcmp(v.disabled_reason, "InvalidApiKey: the key is revoked") == 0,
          "the admin view shows it disabled before it is stored");
    /* A reload before the disable is stored does not bring it back. */
    keypool_load(kp, &row, 1, now + 5000);
    CHECK(pick(kp, "dashscope", now + 5000, id, &wait) == -1 && wait == -1, "reload within the grace: still disabled");
    /* Stored (as the caller does), then reloaded: disabled across restarts. */
    row.disabled = 1;
    snprintf(row.disabled_reason, sizeof row.disabled_reason, "InvalidApiKey: the key is revoked");
    keypool_load(kp, &row, 1, now + 6000);
    struct keypool *fresh = keypool_new();
    keypool_load(fresh, &row, 1, now + 7000);
    CHECK(pick(fresh, "dashscope", now + 7000, id, &wait) == -1 && wait == -1, "a new pool (restart) keeps it disabled");
    keypool_free(fresh);
    CHECK(pick(kp, "dashscope", now + 86400000, id, &wait) == -1 && wait == -1, "a day later: still disabled");
    /* The admin enables it: healthy at once, without old errors. */
    row.disabled = 0;
    row.disabled_reason[0] = '\0';
    keypool_load(kp, &row, 1, now + 86400000);
    CHECK(keypool_health_get(row.id, now + 86400000, &h) == 0 && h.status == KEYPOOL_ST_HEALTHY && h.consecutive_errors == 0,
          "enabled: healthy");
    CHECK(pick(kp, "dashscope", now + 86400001, id, &wait) == 0 && strcmp(id, row.id) == 0, "enabled: picked");

    /* Enabling also ends a cool-down: the admin says the key is fine. */
    for (int i = 0; i < 3; i++)
        report(kp, row.id, KEYPOOL_ERROR, 0, now + 86400002);
    row.disabled = 1;
    snprintf(row.disabled_reason, sizeof row.disabled_reason, "rotating");
    keypool_load(kp, &row, 1, now + 86400003);
    keypool_view(&row, now + 86400003, &v);
    CHECK(v.status == KEYPOOL_ST_DISABLED && strcmp(v.disabled_reason, "rotating") == 0, "admin disable: its reason");
    row.disabled = 0;
    row.disabled_reason[0] = '\0';
    keypool_view(&row, now + 86400004, &v);
    CHECK(v.status == KEYPOOL_ST_HEALTHY, "enabled in the store, pool not reloaded yet: shown healthy");
    keypool_load(kp, &row, 1, now + 86400004);
    CHECK(pick(kp, "dashscope", now + 86400005, id, &wait) == 0, "enable ends the cool-down too");
    keypool_free(kp);

    /* Past the grace, an unstored disable gives way to the store (the write failed). */
    kp = keypool_new();
    admin_row(&row, "dashscope", "sk-rejected-BBBB", now);
    keypool_load(kp, &row, 1, now);
    report(kp, row.id, KEYPOOL_REJECTED, 0, now);
    keypool_load(kp, &row, 1, now + KEYPOOL_PERSIST_GRACE_MS);
    CHECK(pick(kp, "dashscope", now + KEYPOOL_PERSIST_GRACE_MS, id, &wait) == 0,
          "past the grace the stored row wins again");
    keypool_free(kp);
}

struct flushed {
    int n;
    int refuse;
    struct keypool_stats st;
    char last_error[KEYPOOL_TEXT_MAX];
};

static int flush_fn(void *arg, const struct keypool_stats *st)
{
    struct flushed *f = arg;
    if (f->refuse)
        return -1;
    f->n++;
    f->st = *st;
    snprintf(f->last_error, sizeof f->last_error, "%s", st->last_error ? st->last_error : "(null)");
    f->st.last_error = f->last_error;
    return 0;
}

static void test_stats(void)
{
    struct keypool *kp = keypool_new();
    struct provider_key row;
    char id[TG_ID_MAX];
    struct keypool_view v;
    /* The real clock: /metrics reads it to tell whether a rest is over. */
    int64_t now = time_now_ms(), wait = 0;
    admin_row(&row, "kie", "kie-stats-key-AAAA", now);
    row.uses = 10;
    row.failures = 4;
    row.last_used_at = now - 1000;
    keypool_load(kp, &row, 1, now);

    pick(kp, "kie", now + 1, id, &wait);
    report(kp, row.id, KEYPOOL_OK, 0, now + 2);
    report(kp, row.id, KEYPOOL_ERROR, 0, now + 3);
    int persist;
    keypool_report(kp, row.id, KEYPOOL_ERROR, 0, "HTTP 502\nBad\tgateway", now + 4, &persist);
    keypool_view(&row, now + 5, &v);
    CHECK(v.uses == 13 && v.failures == 6 && v.last_used_at == now + 4 && strcmp(v.last_error, "HTTP 502 Bad gateway") == 0,
          "view: stored counters plus those not flushed (uses %lld failures %lld, error \"%s\")", (long long)v.uses,
          (long long)v.failures, v.last_error);
    struct flushed f = {0};
    f.refuse = 1;
    keypool_flush_stats(kp, flush_fn, &f);
    f.refuse = 0;
    report(kp, row.id, KEYPOOL_RATE_LIMITED, 600000, now + 6);
    keypool_flush_stats(kp, flush_fn, &f);
    CHECK(f.n == 1 && f.st.uses == 4 && f.st.failures == 3 && f.st.last_used_at == now + 6 &&
              strcmp(f.st.last_error, "rate limited (429)") == 0 && strcmp(f.st.id, row.id) == 0,
          "a refused flush keeps its counters for the next one");
    f.n = 0;
    keypool_flush_stats(kp, flush_fn, &f);
    CHECK(f.n == 0, "nothing new: nothing handed over");
    struct keypool_health h;
    CHECK(keypool_health_get(row.id, now + 7, &h) == 0 && h.uses == 0 && h.failures == 0 &&
              h.calls[KEYPOOL_OK] == 1 && h.calls[KEYPOOL_ERROR] == 2 && h.calls[KEYPOOL_RATE_LIMITED] == 1,
          "after a flush: no deltas, the metrics counters go on");

    struct sbuf m = {0};
    keypool_metrics_render(&m);
    char want[200];
    snprintf(want, sizeof want, "tollgate_provider_key_calls_total{provider=\"kie\",key=\"%s\",outcome=\"error\"} 2\n", row.id);
    CHECK(m.data && strstr(m.data, want) != NULL, "metrics: calls by outcome");
    snprintf(want, sizeof want, "tollgate_provider_key_up{provider=\"kie\",key=\"%s\"} 0\n", row.id);
    CHECK(m.data && strstr(m.data, want) != NULL, "metrics: rate limited -> up 0");
    CHECK(m.data && strstr(m.data, "kie-stats") == NULL && strstr(m.data, "kie-st...") == NULL,
          "metrics: nothing of the secret");
    sbuf_free(&m);
    keypool_free(kp);
}

static void test_env_rows(void)
{
    struct provider_key *rows = NULL;
    size_t n = 0;
    int64_t now = time_now_ms();
    char id1[TG_ID_MAX], id2[TG_ID_MAX], id[TG_ID_MAX], secret[TG_KEY_SECRET_MAX + 1];
    int64_t wait;

    CHECK(keypool_sync_env(g_s, now) == STORE_OK, "sync env keys");
    CHECK(keypool_sync_env(g_s, now + 1) == STORE_OK, "sync again (a restart)");
    CHECK(store_pkey_list(g_s, "dashscope", &rows, &n) == STORE_OK && n == 2, "two valid env keys stored once (%zu)", n);
    keypool_env_key_id("dashscope", ENV_KEY_1, id1);
    keypool_env_key_id("dashscope", ENV_KEY_2, id2);
    if (n == 2) {
        /* Both were recorded in the same millisecond: the store orders them by id. */
        const struct provider_key *r1 = strcmp(rows[0].id, id1) == 0 ? &rows[0] : &rows[1];
        const struct provider_key *r2 = r1 == &rows[0] ? &rows[1] : &rows[0];
        CHECK_STR_EQ(r1->id, id1, "first env key, by its derived id");
        CHECK_STR_EQ(r2->id, id2, "second env key, by its derived id");
        CHECK(strcmp(r1->source, "env") == 0 && r1->secret_box_len == 0 && strcmp(r1->prefix, "sk-env...") == 0 &&
                  strcmp(r1->label, "env #1") == 0 && strcmp(r2->label, "env #2") == 0 && r2->secret_box_len == 0,
              "source env, no secret stored, prefix and label by position");
    }
    /* A stored env row whose key is no longer configured. */
    struct provider_key gone;
    memset(&gone, 0, sizeof gone);
    keypool_env_key_id("dashscope", "sk-removed-from-env", gone.id);
    snprintf(gone.provider, sizeof gone.provider, "dashscope");
    snprintf(gone.source, sizeof gone.source, "env");
    snprintf(gone.label, sizeof gone.label, "env #9");
    snprintf(gone.prefix, sizeof gone.prefix, "sk-rem...");
    gone.created_at = gone.updated_at = now + 2;
    CHECK(store_pkey_insert(g_s, &gone) == STORE_OK, "insert an env row without configured key");
    free(rows);
    CHECK(store_pkey_list(g_s, NULL, &rows, &n) == STORE_OK && n == 3, "three rows");

    struct keypool *kp = keypool_new();
    keypool_load(kp, rows, n, now + 3);
    char first[TG_ID_MAX];
    CHECK(keypool_pick(kp, "dashscope", now + 3, first, secret, &wait) == 0 &&
              strcmp(secret, strcmp(first, id1) == 0 ? ENV_KEY_1 : ENV_KEY_2) == 0 &&
              (strcmp(first, id1) == 0 || strcmp(first, id2) == 0),
          "an env key's secret comes from the configuration");
    CHECK(keypool_pick(kp, "dashscope", now + 4, id, secret, &wait) == 0 && strcmp(id, first) != 0 &&
              strcmp(secret, strcmp(id, id1) == 0 ? ENV_KEY_1 : ENV_KEY_2) == 0,
          "the other env key");
    CHECK(keypool_pick(kp, "dashscope", now + 5, id, secret, &wait) == 0 && strcmp(id, first) == 0,
          "the unconfigured one is never picked");
    struct keypool_health h;
    CHECK(keypool_health_get(gone.id, now + 5, &h) == 0 && h.status == KEYPOOL_ST_DISABLED &&
              strcmp(h.reason, "not configured in TG_DASHSCOPE_API_KEYS") == 0,
          "shown disabled: not configured (%s)", h.reason);
    /* An admin row whose box cannot be opened (another server secret, or tampered). */
    struct provider_key bad;
    admin_row(&bad, "dashscope", "sk-box-tampered-1", now + 6);
    bad.secret_box[bad.secret_box_len - 1] ^= 1;
    keypool_load(kp, &bad, 1, now + 7);
    CHECK(keypool_health_get(bad.id, now + 7, &h) == 0 && h.status == KEYPOOL_ST_DISABLED &&
              strstr(h.reason, "cannot be unsealed") != NULL,
          "unreadable box: disabled, cannot be unsealed");
    CHECK(keypool_health_get(id1, now + 7, &h) == 0 && h.status == KEYPOOL_ST_DISABLED &&
              strcmp(h.reason, "no longer stored") == 0,
          "a key missing from a load is forgotten and shown as such");
    free(rows);
    keypool_free(kp);
}

/* ---- the race: readers on other threads while the owner reports ---- */

static atomic_int race_stop;
static const char *race_id;

struct race_res {
    long reads, torn, failed;
};

static void *race_reader(void *arg)
{
    struct race_res *res = arg;
    struct keypool_health h;
    struct sbuf m = {0};
    while (!atomic_load(&race_stop)) {
        if (keypool_health_get(race_id, 0, &h) != 0) {
            res->failed++;
            continue;
        }
        res->reads++;
        uint64_t sum = 0;
        for (int o = 0; o < KEYPOOL__OUTCOMES; o++)
            sum += h.calls[o];
        /* Written together by the owner: a torn copy would mix two writes. */
        if ((uint64_t)h.uses != sum || (int64_t)h.calls[KEYPOOL_ERROR] + (int64_t)h.calls[KEYPOOL_RATE_LIMITED] != h.failures ||
            strcmp(h.provider, "gemini") != 0)
            res->torn++;
        if ((res->reads & 1023) == 0) {
            sbuf_reset(&m);
            keypool_metrics_render(&m);
        }
    }
    sbuf_free(&m);
    return NULL;
}

static void test_race(void)
{
    struct keypool *kp = keypool_new();
    struct provider_key row;
    int64_t now = 1700000500000;
    admin_row(&row, "gemini", "AIza-race-key-AAAA", now);
    keypool_load(kp, &row, 1, now);
    race_id = row.id;

    pthread_t th[2];
    struct race_res res[2];
    memset(res, 0, sizeof res);
    atomic_store(&race_stop, 0);
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, race_reader, &res[i]);
    for (int i = 0; i < 200000; i++) {
        int persist;
        enum keypool_outcome o = i % 3 == 0 ? KEYPOOL_OK : i % 3 == 1 ? KEYPOOL_ERROR : KEYPOOL_RATE_LIMITED;
        keypool_report(kp, row.id, o, 1, i % 2 ? "odd error text" : "even error text, longer than the other one",
                       now + i, &persist);
    }
    atomic_store(&race_stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    long reads = res[0].reads + res[1].reads, torn = res[0].torn + res[1].torn;
    CHECK(reads > 0, "readers read the published health while the owner reported (%ld reads, %ld gave up)", reads,
          res[0].failed + res[1].failed);
    CHECK_INT_EQ(torn, 0, "no read saw a half-written state");
    struct keypool_health h;
    CHECK(keypool_health_get(row.id, now, &h) == 0 && h.uses == 200000, "final state published");
    keypool_free(kp);
}

int main(void)
{
    char *err = NULL;
    int applied = 0;
    if (crypto_init() != 0 || mkdtemp(tmpdir) == NULL) {
        printf("Bail out! setup\n");
        return 1;
    }
    setenv("TG_DATA_DIR", tmpdir, 1);
    setenv("TG_JWT_SECRET", "unit-test-secret-0123456789abcdef-0123456789", 1);
    setenv("TG_DASHSCOPE_API_KEYS", " " ENV_KEY_1 " , ," ENV_KEY_2 ",bad key!", 1);
    setenv("TG_SANDBOX", "on", 1);
    if (config_load(NULL, &err) != 0) {
        printf("Bail out! config_load: %s\n", err ? err : "?");
        return 1;
    }
    char url[320];
    snprintf(url, sizeof url, "sqlite:%s/test.db", tmpdir);
    if (store_migrate(url, &applied, &err) != 0 || (g_s = store_open(url, &err)) == NULL) {
        printf("Bail out! store: %s\n", err ? err : "?");
        return 1;
    }
    test_names();
    test_env_ids();
    test_seal();
    test_lru();
    test_cooldown();
    test_rate_limit();
    test_rejected();
    test_stats();
    test_env_rows();
    test_race();
    store_close(g_s);
    config_free();
    nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return test_done();
}
