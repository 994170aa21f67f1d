-- 0003_identities: sign-in beyond passwords (DESIGN section 5). Accounts from WeChat have no
-- email, addresses are verified, identities carry what their provider vouched for, and the
-- one-time secrets of browser sign-in and mail flows get tables of their own.
--
-- The migration runner switches foreign-key enforcement off around every migration and runs
-- PRAGMA foreign_key_check before committing (SQLite's documented procedure for rebuilding a
-- table that other tables reference), which is what lets users be rebuilt here.

-- users.email loses NOT NULL: a UNIQUE column may hold any number of NULLs, so accounts
-- without an address coexist while an address still belongs to one account at most.
CREATE TABLE users_new (
    id             TEXT PRIMARY KEY,
    email          TEXT UNIQUE,
    email_verified INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1)),
    display_name   TEXT,
    role           TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    region         TEXT CHECK (region IS NULL OR region IN ('CN', 'GLOBAL')),
    locale         TEXT CHECK (locale IS NULL OR locale IN ('zh-CN', 'en-US')),
    password_hash  TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    disabled       INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    auth_epoch     INTEGER NOT NULL DEFAULT 0 CHECK (auth_epoch >= 0),
    CHECK (email IS NOT NULL OR email_verified = 0)
) STRICT;
-- Saved regions written before the CHECK existed are kept only when valid.
INSERT INTO users_new(id, email, email_verified, display_name, role, region, locale, password_hash,
                      created_at, updated_at, disabled, auth_epoch)
SELECT id, email, 0, display_name, role,
       CASE WHEN region IN ('CN', 'GLOBAL') THEN region ELSE NULL END, NULL, password_hash,
       created_at, updated_at, disabled, auth_epoch
FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;

-- Identities get an id (a user may link two accounts of one provider and unlink either)
-- and keep what the provider said about the email, which decides linking.
CREATE TABLE identities_new (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users(id),
    provider       TEXT NOT NULL,
    subject        TEXT NOT NULL,
    email          TEXT,
    email_verified INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1)),
    display_name   TEXT,
    created_at     INTEGER NOT NULL,
    last_used_at   INTEGER,
    UNIQUE (provider, subject)
) STRICT;
INSERT INTO identities_new(id, user_id, provider, subject, created_at)
SELECT 'idn_' || lower(hex(randomblob(12))), user_id, provider, subject, created_at FROM identities;
DROP TABLE identities;
ALTER TABLE identities_new RENAME TO identities;
CREATE INDEX identities_user ON identities(user_id);

-- One-time login codes handed to the browser by an OAuth callback (60 s, single use). Only
-- the SHA-256 of a code is stored.
CREATE TABLE login_codes (
    hash       BLOB PRIMARY KEY CHECK (length(hash) = 32),
    user_id    TEXT NOT NULL REFERENCES users(id),
    provider   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT, WITHOUT ROWID;

-- OAuth states are signed and carry everything the callback needs, so starting a sign-in
-- writes nothing; a state's nonce is recorded here when its callback consumes it, which is
-- what makes a state single-use. Rows past expires_at can be deleted.
CREATE TABLE oauth_states_used (
    nonce      BLOB PRIMARY KEY CHECK (length(nonce) = 16),
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Mail flow tokens (verify an address, reset a password). Only the SHA-256 is stored; `email`
-- is the address the token was sent to, so a verification proves that address and no other.
CREATE TABLE email_tokens (
    hash       BLOB PRIMARY KEY CHECK (length(hash) = 32),
    user_id    TEXT NOT NULL REFERENCES users(id),
    purpose    TEXT NOT NULL CHECK (purpose IN ('verify', 'reset')),
    email      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT, WITHOUT ROWID;
CREATE INDEX email_tokens_user ON email_tokens(user_id, purpose);
