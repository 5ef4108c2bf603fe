-- A backfill's documents (a platform's bulk export at a first sync or a full resync) are
-- journaled with source 'backfill', so the writes planned from them queue after live ones.
-- SQLite cannot change a CHECK constraint in place: the journal is rebuilt (the documented
-- create, copy, drop, rename), keeping every seq and the AUTOINCREMENT high-water mark.
CREATE TABLE journal_new (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    store_id     TEXT    NOT NULL CHECK (length(store_id) > 0),
    system       TEXT    NOT NULL CHECK (length(system) > 0),
    kind         TEXT    NOT NULL CHECK (length(kind) > 0),
    entity_id    TEXT    NOT NULL CHECK (length(entity_id) > 0),
    version      TEXT    NOT NULL,
    version_key  TEXT    NOT NULL,
    source       TEXT    NOT NULL CHECK (source IN ('webhook', 'poll', 'cdc', 'replay', 'manual', 'backfill')),
    delivery_id  TEXT,
    body         TEXT    NOT NULL,
    body_hash    TEXT    NOT NULL,
    received_at  INTEGER NOT NULL,
    redacted_by  INTEGER
);
INSERT INTO journal_new (seq, store_id, system, kind, entity_id, version, version_key, source,
                         delivery_id, body, body_hash, received_at, redacted_by)
    SELECT seq, store_id, system, kind, entity_id, version, version_key, source,
           delivery_id, body, body_hash, received_at, redacted_by
    FROM journal ORDER BY seq;
-- A seq is never handed out twice, even one whose entry is gone.
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'journal_new', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'journal_new');
UPDATE sqlite_sequence
    SET seq = max(seq, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'journal'), 0))
    WHERE name = 'journal_new';
DROP TABLE journal;
ALTER TABLE journal_new RENAME TO journal;
CREATE UNIQUE INDEX journal_observation ON journal (store_id, system, kind, entity_id, version_key, body_hash);
CREATE UNIQUE INDEX journal_delivery ON journal (store_id, delivery_id);
CREATE INDEX journal_store_seq ON journal (store_id, seq);
CREATE INDEX journal_store_received ON journal (store_id, received_at);
