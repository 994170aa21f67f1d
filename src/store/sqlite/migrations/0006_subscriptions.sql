-- 0006_subscriptions: subscriptions to plans, and the order each plan payment belongs to
-- (DESIGN sections 3-4, docs/PAYMENTS.md "Plans"). Amounts are INTEGER minor units of
-- `currency`; times are ms since the epoch, NULL where the struct says 0 ("none").
--
-- Two clocks per row: the paid period [period_start, period_end) that the buyer paid for
-- (a month or a year), and the credit period [credit_start, credit_end), always at most a
-- month, whose credits are granted at its start into the plan bucket and written off at its
-- end. domain/subscriptions.c moves both; this table only keeps them honest.

CREATE TABLE subscriptions (
    id                   TEXT PRIMARY KEY,
    user_id              TEXT NOT NULL REFERENCES users(id),
    plan                 TEXT NOT NULL CHECK (length(plan) > 0),
    product              TEXT NOT NULL CHECK (length(product) > 0),
    -- A downgrade waits for the end of the paid period: the product that takes over then.
    next_product         TEXT CHECK (next_product IS NULL OR length(next_product) > 0),
    next_product_at      INTEGER,
    provider             TEXT NOT NULL,
    -- The provider's subscription id where the provider renews (Stripe sub_..., Creem);
    -- NULL for a prepaid plan, which the buyer extends by buying the next period.
    provider_ref         TEXT,
    status               TEXT NOT NULL CHECK (status IN ('active', 'past_due', 'canceled', 'expired')),
    cancel_at_period_end INTEGER NOT NULL DEFAULT 0 CHECK (cancel_at_period_end IN (0, 1)),
    -- Kept as they were when bought: a later catalog change does not reprice a subscription.
    credits_per_month    INTEGER NOT NULL CHECK (credits_per_month > 0),
    amount               INTEGER NOT NULL CHECK (amount > 0),
    currency             TEXT NOT NULL CHECK (length(currency) = 3),
    period_start         INTEGER NOT NULL,
    period_end           INTEGER NOT NULL,
    credit_index         INTEGER NOT NULL DEFAULT 0 CHECK (credit_index >= 0),
    credit_start         INTEGER,
    credit_end           INTEGER,
    credits_granted      INTEGER NOT NULL DEFAULT 0 CHECK (credits_granted >= 0),
    -- The period_end a renewal reminder went out for: one reminder per period, even across
    -- restarts of the job.
    reminded_for         INTEGER,
    -- When the subscription job must look at this row next (a credit period or the paid
    -- period ends, a reminder is due); NULL: never.
    next_due_at          INTEGER,
    order_id             TEXT REFERENCES orders(id),
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    ended_at             INTEGER,
    CHECK (period_end > period_start),
    -- credit_end = credit_start: the credit period was written off and none is open (a
    -- renewing subscription waiting for its renewal, a past_due one).
    CHECK (credit_start IS NULL OR credit_end IS NULL OR credit_end >= credit_start),
    -- Live (active, past_due) exactly while it has not ended.
    CHECK ((status IN ('active', 'past_due')) = (ended_at IS NULL))
) STRICT;
-- At most one live subscription per user: two concurrent first payments cannot both start
-- one (the second insert fails, inside the transaction that would have granted credits).
CREATE UNIQUE INDEX subscriptions_live_user ON subscriptions(user_id) WHERE status IN ('active', 'past_due');
-- How the provider's renewal and cancellation events find their subscription.
CREATE UNIQUE INDEX subscriptions_provider_ref ON subscriptions(provider, provider_ref) WHERE provider_ref IS NOT NULL;
-- The user's subscriptions newest first (ids are time-ordered), and the latest one.
CREATE INDEX subscriptions_user ON subscriptions(user_id, id);
-- The subscription job walks this small index, not the table.
CREATE INDEX subscriptions_due ON subscriptions(next_due_at)
    WHERE status IN ('active', 'past_due') AND next_due_at IS NOT NULL;

-- The subscription a plan order started, extended or renewed (NULL for packs, and for a
-- plan order before it is paid). `tollgate audit` reports a paid plan order without one.
ALTER TABLE orders ADD COLUMN subscription_id TEXT REFERENCES subscriptions(id);
CREATE INDEX orders_subscription ON orders(subscription_id) WHERE subscription_id IS NOT NULL;
