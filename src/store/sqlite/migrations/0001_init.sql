-- 0001_init: accounts, credentials, the credit ledger and the audit log.
--
-- Times are INTEGER milliseconds since the Unix epoch. Tables are STRICT so a value of
-- the wrong type (a credit balance stored as text, say) is refused instead of coerced.
-- Money and credits are INTEGER (int64); the CHECKs repeat the invariants the code relies
-- on so that a bug cannot write a negative balance.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    display_name  TEXT,
    role          TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    region        TEXT,
    password_hash TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))
) STRICT;

-- Sign-in identities from Google, WeChat...; one user may link several.
CREATE TABLE identities (
    user_id    TEXT NOT NULL REFERENCES users(id),
    provider   TEXT NOT NULL,
    subject    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (provider, subject)
) STRICT;
CREATE INDEX identities_user ON identities(user_id);

-- WITHOUT ROWID: the table is clustered on user_id, so the balance read on every
-- GET /api/v1/credits is one B-tree search instead of an index search plus a table search.
CREATE TABLE wallets (
    user_id         TEXT PRIMARY KEY REFERENCES users(id),
    plan_credits    INTEGER NOT NULL DEFAULT 0 CHECK (plan_credits >= 0),
    paid_credits    INTEGER NOT NULL DEFAULT 0 CHECK (paid_credits >= 0),
    plan_expires_at INTEGER,
    updated_at      INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- One row per change of one bucket. The unique key makes every operation idempotent:
-- a retried webhook or task finds its row and changes nothing. It includes the bucket
-- because a plan-first debit touching both buckets writes one row per bucket under the
-- same reference.
CREATE TABLE ledger (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id),
    bucket        TEXT NOT NULL CHECK (bucket IN ('plan', 'paid')),
    delta         INTEGER NOT NULL CHECK (delta <> 0),
    balance_after INTEGER NOT NULL CHECK (balance_after >= 0),
    kind          TEXT NOT NULL CHECK (kind IN ('signup_grant', 'purchase', 'plan_grant',
                      'plan_expire', 'spend', 'settle', 'refund', 'admin_adjust',
                      'payment_refund')),
    ref_type      TEXT NOT NULL,
    ref_id        TEXT NOT NULL,
    note          TEXT,
    created_at    INTEGER NOT NULL,
    UNIQUE (kind, ref_type, ref_id, bucket)
) STRICT;
-- Per-user listing newest first (cursor = id) and the invariant check's id-order walk.
CREATE INDEX ledger_user_id ON ledger(user_id, id);

-- The ledger is history: corrections are new entries, never edits.
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only');
END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only');
END;

-- Only the SHA-256 of a refresh token is stored. used_at marks a rotated token (its reuse
-- means theft); revoked_at is set on every token of a family at once.
CREATE TABLE refresh_tokens (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id),
    family_id  TEXT NOT NULL,
    hash       BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    revoked_at INTEGER
) STRICT;
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id),
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    hash         BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
) STRICT;
CREATE INDEX api_keys_user ON api_keys(user_id);

CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,
    actor_id    TEXT,
    action      TEXT NOT NULL,
    target_type TEXT,
    target_id   TEXT,
    ip          TEXT,
    request_id  TEXT,
    details     TEXT CHECK (details IS NULL OR json_valid(details)),
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
