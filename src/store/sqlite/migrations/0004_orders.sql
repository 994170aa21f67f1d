-- 0004_orders: orders for credit packs and plans, and the inbox of provider notifications
-- (DESIGN section 4). Amounts are INTEGER minor units of `currency` (cents, fen).
--
-- An order is fulfilled at most once by construction, twice over:
--   - a notification is stored in payment_events under (provider, event_id) first, so the
--     same notification delivered again finds its row and changes nothing;
--   - the order moves pending -> paid with one conditional UPDATE, and the credits are one
--     ledger entry whose unique reference is the order id.

CREATE TABLE orders (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users(id),
    product         TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('pack', 'plan')),
    credits         INTEGER NOT NULL CHECK (credits > 0),
    amount          INTEGER NOT NULL CHECK (amount > 0),
    currency        TEXT NOT NULL CHECK (length(currency) = 3),
    provider        TEXT NOT NULL,
    -- The provider's id for the payment (Stripe Checkout Session, our out_trade_no at WeChat
    -- Pay and Alipay, the PayPal order): how notifications find their order.
    provider_ref    TEXT,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'failed', 'expired',
                        'refunded', 'partially_refunded')),
    region          TEXT CHECK (region IS NULL OR region IN ('CN', 'GLOBAL')),
    checkout        TEXT CHECK (checkout IS NULL OR json_valid(checkout)),
    refunded_amount INTEGER NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0 AND refunded_amount <= amount),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    paid_at         INTEGER,
    expires_at      INTEGER NOT NULL,
    CHECK ((status = 'pending') = (paid_at IS NULL) OR status IN ('failed', 'expired'))
) STRICT;
CREATE UNIQUE INDEX orders_provider_ref ON orders(provider, provider_ref) WHERE provider_ref IS NOT NULL;
CREATE INDEX orders_user ON orders(user_id, id);
-- The pending-order job walks this small index, not the table.
CREATE INDEX orders_pending ON orders(created_at) WHERE status = 'pending';

-- Every checkout attempt at a provider, including the ones that failed and made the order
-- move on to the next provider of the region.
CREATE TABLE order_attempts (
    order_id   TEXT NOT NULL REFERENCES orders(id),
    provider   TEXT NOT NULL,
    outcome    TEXT NOT NULL CHECK (outcome IN ('ok', 'failed')),
    detail     TEXT,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX order_attempts_order ON order_attempts(order_id);

-- The inbox: every verified notification, once. `outcome` says what it did (fulfilled,
-- duplicate of a paid order, mismatched amount, unknown order...), for support and audits.
CREATE TABLE payment_events (
    provider    TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    order_id    TEXT,
    amount      INTEGER,
    currency    TEXT,
    outcome     TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (provider, event_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX payment_events_order ON payment_events(order_id) WHERE order_id IS NOT NULL;
