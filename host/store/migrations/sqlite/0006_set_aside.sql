-- Journal entries a plugin could not turn into records or writes (output the runtime refused,
-- a trap on that document alone, a mapper error such as a guest order with no customer): kept
-- with the reason for an operator, and processed again on request (`weft dlq retry`), while
-- the rest of the store goes on. A later successful mapping of the same record clears it.
CREATE TABLE set_aside (
    store_id      TEXT    NOT NULL,
    seq           INTEGER NOT NULL,
    stage         TEXT    NOT NULL,
    target        TEXT    NOT NULL,
    system        TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    entity_id     TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    set_aside_at  INTEGER NOT NULL,
    PRIMARY KEY (store_id, seq, stage, target)
);
CREATE INDEX set_aside_record ON set_aside (store_id, system, kind, entity_id);
