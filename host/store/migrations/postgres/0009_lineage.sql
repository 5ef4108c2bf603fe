-- Why each field of a record holds its value: one row per journal entry and record a
-- processing step (live or replay) decided something for, written in the step's own
-- transaction. `fields`: per field of the observing system's copy that changed, the merge
-- decision (changed, conflict and the resolver that settled it, refused, echo, observed);
-- `writes`: the writes the step planned for the record from that entry (target, op,
-- idempotency key: the outbox row says how each ended). The journal keeps the observation.
CREATE TABLE lineage (
    id         BIGSERIAL PRIMARY KEY,
    store_id   TEXT    NOT NULL,
    seq        BIGINT NOT NULL,
    kind       TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    system     TEXT    NOT NULL,
    mode       TEXT    NOT NULL CHECK (mode IN ('live', 'replay')),
    mapper     TEXT    NOT NULL,
    fields     TEXT    NOT NULL,
    writes     TEXT    NOT NULL,
    at         BIGINT NOT NULL
);
CREATE INDEX lineage_record ON lineage (store_id, kind, key, id);
