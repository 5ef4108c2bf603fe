-- Shopify inventory calls are persisted before they are sent, so a call whose response was lost
-- (timeout, crash) is re-sent exactly: same @idempotent key, same input. Shopify then answers
-- with the original result and applies nothing again.
-- payload: the mutation's `input` as sent; row_ids: the outbox row of each quantity, in order.
CREATE TABLE outbox_calls (
    call_key    TEXT    PRIMARY KEY CHECK (length(call_key) > 0),
    store_id    TEXT    NOT NULL,
    payload     TEXT    NOT NULL,
    row_ids     TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
-- The call a row was last sent in, while its outcome is unknown; NULL once the call's answer
-- settled it (or released it for a new call).
ALTER TABLE outbox ADD COLUMN call_key TEXT;
CREATE INDEX outbox_call ON outbox (call_key);
