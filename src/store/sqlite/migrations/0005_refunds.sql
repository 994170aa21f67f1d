-- 0005_refunds: what the checkout and the pending-order job need on an order, and refunds
-- (DESIGN section 4).

-- Where the browser goes back to after paying (a same-origin path or an allowed origin's
-- URL, checked by the API), and which of a provider's ways to pay was asked for.
ALTER TABLE orders ADD COLUMN return_url TEXT CHECK (return_url IS NULL OR length(return_url) <= 512);
ALTER TABLE orders ADD COLUMN channel TEXT CHECK (channel IS NULL OR length(channel) <= 15);
-- The pending-order job: how many times the provider was asked, and when to ask next.
ALTER TABLE orders ADD COLUMN query_attempts INTEGER NOT NULL DEFAULT 0 CHECK (query_attempts >= 0);
ALTER TABLE orders ADD COLUMN next_query_at INTEGER;

-- One row per refund, whoever started it (an admin here, or the provider's dashboard, when
-- its notification arrives). The order's refunded_amount is the sum of the refunds that are
-- pending or succeeded, so concurrent refunds can never add up past the payment (its CHECK).
-- `credits` is what was taken back from the buyer; `shortfall` what could not be, because
-- it was spent (allowed only by an admin's explicit allow_negative, or when the provider
-- refunded from its dashboard).
CREATE TABLE refunds (
    id                 TEXT PRIMARY KEY,
    order_id           TEXT NOT NULL REFERENCES orders(id),
    user_id            TEXT NOT NULL REFERENCES users(id),
    amount             INTEGER NOT NULL CHECK (amount > 0),
    currency           TEXT NOT NULL CHECK (length(currency) = 3),
    credits            INTEGER NOT NULL CHECK (credits >= 0),
    shortfall          INTEGER NOT NULL DEFAULT 0 CHECK (shortfall >= 0),
    status             TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    reason             TEXT NOT NULL DEFAULT '' CHECK (length(reason) <= 500),
    provider_refund_id TEXT,
    actor_id           TEXT,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
) STRICT;
CREATE INDEX refunds_order ON refunds(order_id);
CREATE UNIQUE INDEX refunds_provider_ref ON refunds(order_id, provider_refund_id) WHERE provider_refund_id IS NOT NULL;
-- Refunds the provider has not confirmed yet: the pending-order job asks again.
CREATE INDEX refunds_pending ON refunds(updated_at) WHERE status = 'pending';
