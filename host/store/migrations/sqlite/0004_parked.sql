-- Stock readings set aside while weft's own write to that level is unsettled. Platforms give
-- stock a version to the second only, so a reading taken while a write is in flight cannot be
-- told apart from the write's own effect; it waits here until the write's result (journaled
-- with the platform's version) has been applied, then is processed after it, in journal order.
-- The journal keeps the entry itself; this is only the list of what waits, and for what.
CREATE TABLE parked (
    store_id    TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    system      TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    parked_at   INTEGER NOT NULL,
    PRIMARY KEY (store_id, seq)
);
