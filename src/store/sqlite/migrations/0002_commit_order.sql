-- 0002_commit_order: the auth epoch, a commit-order sequence for the ledger and the audit
-- log, idempotency records, and a metadata table for the writer's write probe.

-- Bumped by every change that must end the user's sessions at once (password, role,
-- disable): access tokens carry the epoch they were issued under.
ALTER TABLE users ADD COLUMN auth_epoch INTEGER NOT NULL DEFAULT 0 CHECK (auth_epoch >= 0);

-- The ledger and the audit log used their time-ordered text ids as the order of history.
-- Ids are made before the write lock is taken, so two writers can commit in the opposite
-- order of their ids; a sequence assigned inside the transaction is the commit order.
-- It is an explicit INTEGER PRIMARY KEY because VACUUM may renumber implicit rowids and
-- may not renumber a declared one; AUTOINCREMENT because a value must never be handed out
-- twice, even after the newest row were gone.
--
-- SQLite cannot add a primary key to a table, so each table is rebuilt the way its
-- documentation prescribes (create, copy, drop, rename). Existing rows are copied in the
-- order the old schema defined (their ids), so they keep the order they were listed in.
-- DROP TABLE runs no DELETE triggers, so the append-only triggers do not stop it; they
-- are dropped with the old table and created again on the new one.

CREATE TABLE ledger_new (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
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
INSERT INTO ledger_new (id, user_id, bucket, delta, balance_after, kind, ref_type, ref_id, note,
                        created_at)
    SELECT id, user_id, bucket, delta, balance_after, kind, ref_type, ref_id, note, created_at
    FROM ledger ORDER BY id;
DROP TABLE ledger;
ALTER TABLE ledger_new RENAME TO ledger;
-- Per-user listing newest first (cursor = the entry's seq) and the invariant check's walk.
CREATE INDEX ledger_user_seq ON ledger(user_id, seq);

CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only');
END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only');
END;

CREATE TABLE audit_log_new (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    actor_id    TEXT,
    action      TEXT NOT NULL,
    target_type TEXT,
    target_id   TEXT,
    ip          TEXT,
    request_id  TEXT,
    details     TEXT CHECK (details IS NULL OR json_valid(details)),
    created_at  INTEGER NOT NULL
) STRICT;
INSERT INTO audit_log_new (id, actor_id, action, target_type, target_id, ip, request_id, details,
                           created_at)
    SELECT id, actor_id, action, target_type, target_id, ip, request_id, details, created_at
    FROM audit_log ORDER BY id;
DROP TABLE audit_log;
ALTER TABLE audit_log_new RENAME TO audit_log;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- The first answer to a request carrying an Idempotency-Key (DESIGN section 8), replayed
-- for retries of the same request. scope keeps one caller's keys apart from another's;
-- request_hash tells a retry from a different request reusing the key.
CREATE TABLE idempotency_keys (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash BLOB NOT NULL CHECK (length(request_hash) = 32),
    status       INTEGER NOT NULL,
    body         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
) STRICT;

-- Small named values owned by the store itself. 'write_probe' is rewritten by
-- store_write_probe(): after a disk-full error, a write of its own tells when writing works
-- again.
CREATE TABLE store_meta (
    key   TEXT PRIMARY KEY,
    value INTEGER
) STRICT;
