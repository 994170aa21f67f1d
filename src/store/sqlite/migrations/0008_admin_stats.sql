-- 0008_admin_stats: what GET /api/v1/admin/stats and GET /api/v1/admin/users need
-- (docs/openapi.yaml describes the numbers, domain/stats.h defines them).
--
-- The region a user signed up in: the request's region decision when the account was made
-- (registration, or the first sign-in with Google or WeChat). A user counts in their saved
-- choice (users.region), else in this one. Accounts made before this migration, and the
-- ones the CLI makes, have NULL here: without a saved choice they count as GLOBAL.
ALTER TABLE users ADD COLUMN signup_region TEXT
    CHECK (signup_region IS NULL OR signup_region IN ('CN', 'GLOBAL'));

-- Every statistics query walks one of these by time and reads nothing else of the table
-- (covering indexes): new and total users by day and region; paid orders by paid_at; the
-- tasks created in a range by provider and status (and their latency); the sessions
-- started or refreshed in a range; orders created in a range (active users).
CREATE INDEX users_created ON users(created_at, region, signup_region);
-- The region of the user of each task and each active user, read by id without touching the
-- table (one B-tree search instead of two per row).
CREATE INDEX users_region ON users(id, region, signup_region);
CREATE INDEX orders_paid ON orders(paid_at, region, currency, amount) WHERE paid_at IS NOT NULL;
CREATE INDEX orders_created ON orders(created_at, user_id);
CREATE INDEX tasks_created ON tasks(created_at, user_id, provider, status, submitted_at, finished_at);
CREATE INDEX refresh_tokens_created ON refresh_tokens(created_at, user_id);
-- Refunds by the time they succeeded (a refund does not change after that).
CREATE INDEX refunds_succeeded ON refunds(updated_at) WHERE status = 'succeeded';
