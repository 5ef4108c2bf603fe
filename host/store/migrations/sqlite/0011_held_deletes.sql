-- Deletions the mass-delete guard holds: a poll round or a minute of webhooks that would delete
-- more than the store's configured share of a kind's golden records. Each row is one journaled
-- tombstone (its seq), kept until an operator releases it (`weft deletes release`: the step
-- applies exactly these entries) or discards it (`weft deletes discard`: never applied).
CREATE TABLE held_deletes (
    store_id     TEXT    NOT NULL,
    seq          INTEGER NOT NULL,
    system       TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    entity_id    TEXT    NOT NULL,
    record_kind  TEXT    NOT NULL,
    records      INTEGER NOT NULL,
    reason       TEXT    NOT NULL,
    held_at      INTEGER NOT NULL,
    PRIMARY KEY (store_id, seq)
);
