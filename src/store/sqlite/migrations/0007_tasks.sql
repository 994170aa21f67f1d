-- 0007_tasks: generation tasks, the provider keys they run on, and the files they read and
-- write (DESIGN section 7, docs/GENERATION.md). Credits are INTEGER; times are ms since the
-- epoch, NULL where the struct says 0 ("none").
--
-- A task's money is reserved at submit (a spend entry with reference task/<id>) and given
-- back once, when it ends: domain/tasks.c decides how much; the CHECKs below keep the
-- numbers of a row consistent whatever a bug writes, and `tollgate audit` compares them
-- with the ledger.

CREATE TABLE tasks (
    id               TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users(id),
    kind             TEXT NOT NULL CHECK (kind IN ('animate_move', 'animate_mix', 'text_to_video', 'image')),
    provider         TEXT NOT NULL CHECK (length(provider) > 0),
    model            TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('queued', 'submitted', 'running', 'succeeded', 'failed',
                         'timed_out', 'canceled')),
    -- The dispatcher's step while live; '' once terminal.
    phase            TEXT NOT NULL CHECK (phase IN ('submit', 'poll', 'collect', '')),
    progress         INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    inputs_json      TEXT CHECK (inputs_json IS NULL OR json_valid(inputs_json)),
    outputs_json     TEXT CHECK (outputs_json IS NULL OR json_valid(outputs_json)),
    price_unit       TEXT NOT NULL CHECK (price_unit IN ('task', 'second')),
    unit_credits     INTEGER NOT NULL CHECK (unit_credits >= 0),
    est_units        INTEGER NOT NULL CHECK (est_units >= 1),
    reserved         INTEGER NOT NULL CHECK (reserved >= 0),
    reserved_plan    INTEGER NOT NULL DEFAULT 0 CHECK (reserved_plan BETWEEN 0 AND reserved),
    -- The plan month the plan part came from: a refund goes back to the plan bucket only
    -- while the wallet's plan still ends at this instant (and it has not passed).
    plan_expires_at  INTEGER,
    -- -1 while live; what was finally charged once terminal.
    settled          INTEGER NOT NULL DEFAULT -1 CHECK (settled = -1 OR settled BETWEEN 0 AND reserved),
    refunded         INTEGER NOT NULL DEFAULT 0 CHECK (refunded BETWEEN 0 AND reserved),
    provider_task_id TEXT NOT NULL DEFAULT '',
    key_id           TEXT NOT NULL DEFAULT '',
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    polls            INTEGER NOT NULL DEFAULT 0 CHECK (polls >= 0),
    -- When the dispatcher looks next (a claim moves it to the end of its lease); 0 once
    -- terminal.
    next_at          INTEGER NOT NULL,
    deadline_at      INTEGER NOT NULL,
    error_code       TEXT NOT NULL DEFAULT '',
    error_message    TEXT NOT NULL DEFAULT '' CHECK (length(error_message) <= 255),
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    submitted_at     INTEGER,
    finished_at      INTEGER,
    -- The price in force at submit, for the estimate: the reservation is its product.
    CHECK (reserved = unit_credits * est_units),
    -- Live (queued, submitted, running) exactly while nothing is settled, refunded or
    -- finished; terminal rows have given back exactly what they did not charge.
    CHECK ((status IN ('queued', 'submitted', 'running')) = (settled = -1)),
    CHECK ((status IN ('queued', 'submitted', 'running')) = (finished_at IS NULL)),
    CHECK ((status IN ('queued', 'submitted', 'running')) = (phase <> '')),
    CHECK (settled = -1 OR settled + refunded = reserved),
    CHECK (settled <> -1 OR refunded = 0),
    CHECK (status = 'succeeded' OR settled <= 0)
) STRICT;
-- The dispatcher's claim walks this small index, not the table.
CREATE INDEX tasks_live_next ON tasks(next_at) WHERE status IN ('queued', 'submitted', 'running');
-- The user's tasks newest first (ids are time-ordered), and their live ones (the cap).
CREATE INDEX tasks_user ON tasks(user_id, id);
CREATE INDEX tasks_live_user ON tasks(user_id) WHERE status IN ('queued', 'submitted', 'running');
-- How a provider's callback finds its task; one provider task is one of ours.
CREATE UNIQUE INDEX tasks_provider_task ON tasks(provider, provider_task_id) WHERE provider_task_id <> '';

-- The keys of each provider's pool. Keys from the environment are recorded without their
-- secret (source 'env'); keys an admin adds keep theirs sealed (AES-256-GCM) in secret_box.
-- Health that changes by the second lives in the dispatcher's memory; what must survive a
-- restart is here.
CREATE TABLE provider_keys (
    id              TEXT PRIMARY KEY,
    provider        TEXT NOT NULL CHECK (length(provider) > 0),
    label           TEXT NOT NULL DEFAULT '',
    prefix          TEXT NOT NULL DEFAULT '',
    source          TEXT NOT NULL CHECK (source IN ('env', 'admin')),
    secret_box      BLOB,
    disabled        INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    disabled_reason TEXT NOT NULL DEFAULT '',
    uses            INTEGER NOT NULL DEFAULT 0 CHECK (uses >= 0),
    failures        INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
    last_used_at    INTEGER,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    CHECK ((source = 'admin') = (secret_box IS NOT NULL)),
    CHECK (disabled = 1 OR disabled_reason = '')
) STRICT;
CREATE INDEX provider_keys_provider ON provider_keys(provider, id);

-- Uploads (purpose 'input', pending until their bytes arrived) and the outputs of tasks,
-- each owned by one user.
CREATE TABLE files (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id),
    purpose      TEXT NOT NULL CHECK (purpose IN ('input', 'output')),
    task_id      TEXT REFERENCES tasks(id),
    backend      TEXT NOT NULL CHECK (backend IN ('local', 's3', 'oss')),
    key          TEXT NOT NULL CHECK (length(key) > 0),
    content_type TEXT NOT NULL DEFAULT '',
    size         INTEGER NOT NULL CHECK (size >= 0),
    status       TEXT NOT NULL CHECK (status IN ('pending', 'ready')),
    width        INTEGER NOT NULL DEFAULT 0 CHECK (width >= 0),
    height       INTEGER NOT NULL DEFAULT 0 CHECK (height >= 0),
    duration_ms  INTEGER NOT NULL DEFAULT 0 CHECK (duration_ms >= 0),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    CHECK ((purpose = 'output') = (task_id IS NOT NULL))
) STRICT;
CREATE UNIQUE INDEX files_backend_key ON files(backend, key);
CREATE INDEX files_task ON files(task_id) WHERE task_id IS NOT NULL;
