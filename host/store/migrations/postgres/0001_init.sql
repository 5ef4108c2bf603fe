-- weft-store schema v1 (PostgreSQL). Times are Unix epoch milliseconds (UTC) in BIGINT columns;
-- JSON is stored as compact text; every row is keyed by store_id.

-- Append-only journal of observed changes. `seq` is an identity column (gaps possible, never reused)
-- and only grows; it is global to the database and ordered per store.
CREATE TABLE journal (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    store_id     TEXT    NOT NULL CHECK (length(store_id) > 0),
    system       TEXT    NOT NULL CHECK (length(system) > 0),
    kind         TEXT    NOT NULL CHECK (length(kind) > 0),
    entity_id    TEXT    NOT NULL CHECK (length(entity_id) > 0),
    version      TEXT    NOT NULL,
    version_key  TEXT    NOT NULL,
    source       TEXT    NOT NULL CHECK (source IN ('webhook', 'poll', 'cdc', 'replay', 'manual')),
    delivery_id  TEXT,
    body         TEXT    NOT NULL,
    body_hash    TEXT    NOT NULL,
    received_at  BIGINT  NOT NULL
);
-- The observation key: the same document version seen twice (webhook retry, poll overlap).
CREATE UNIQUE INDEX journal_observation ON journal (store_id, system, kind, entity_id, version_key, body_hash);
-- A delivery id (X-Shopify-Webhook-Id) is journaled at most once per store. NULLs never collide.
CREATE UNIQUE INDEX journal_delivery ON journal (store_id, delivery_id);
CREATE INDEX journal_store_seq ON journal (store_id, seq);
CREATE INDEX journal_store_received ON journal (store_id, received_at);

-- Requests intake refused (malformed bodies), kept verbatim for inspection.
CREATE TABLE intake_rejects (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    store_id    TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    headers     TEXT    NOT NULL,
    body        BYTEA   NOT NULL,
    received_at BIGINT  NOT NULL
);
CREATE INDEX intake_rejects_store ON intake_rejects (store_id, id);

-- Projections: derived from the journal, dropped and rebuilt by rebuild_projections.
CREATE TABLE entity_state (
    store_id      TEXT    NOT NULL,
    system        TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    entity_id     TEXT    NOT NULL CHECK (length(entity_id) > 0),
    version       TEXT    NOT NULL,
    version_key   TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    canonical_key TEXT,
    journal_seq   BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    PRIMARY KEY (store_id, system, kind, entity_id)
);
CREATE INDEX entity_state_key ON entity_state (store_id, kind, canonical_key);

CREATE TABLE golden (
    store_id   TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    key        TEXT    NOT NULL CHECK (length(key) > 0),
    fields     TEXT    NOT NULL,
    field_meta TEXT    NOT NULL,
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (store_id, kind, key)
);

CREATE TABLE xref (
    store_id  TEXT NOT NULL,
    kind      TEXT NOT NULL,
    key       TEXT NOT NULL CHECK (length(key) > 0),
    system    TEXT NOT NULL,
    entity_id TEXT NOT NULL CHECK (length(entity_id) > 0),
    PRIMARY KEY (store_id, kind, key, system)
);
-- One entity has one canonical key per kind (an upsert moves it).
CREATE UNIQUE INDEX xref_entity ON xref (store_id, kind, system, entity_id);

CREATE TABLE target_state (
    store_id   TEXT    NOT NULL,
    system     TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    key        TEXT    NOT NULL CHECK (length(key) > 0),
    fields     TEXT    NOT NULL,
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (store_id, system, kind, key)
);

CREATE TABLE watermarks (
    store_id   TEXT    NOT NULL,
    stream     TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (store_id, stream)
);

CREATE TABLE cursors (
    store_id TEXT    PRIMARY KEY,
    seq      BIGINT  NOT NULL
);

CREATE TABLE counters (
    store_id TEXT    NOT NULL,
    name     TEXT    NOT NULL,
    value    BIGINT  NOT NULL,
    PRIMARY KEY (store_id, name)
);

-- Writes leaving the host. status: pending -> inflight -> done | dead (-> pending on retry) | discarded;
-- a pending row replaced by a newer coalescing row becomes superseded (its idempotency key stays used).
CREATE TABLE outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    store_id        TEXT    NOT NULL,
    system          TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    key             TEXT    NOT NULL CHECK (length(key) > 0),
    op              TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL UNIQUE CHECK (length(idempotency_key) > 0),
    body            TEXT    NOT NULL,
    priority        BIGINT  NOT NULL,
    coalescing      BIGINT  NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'inflight', 'done', 'dead', 'discarded', 'superseded')),
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    lease_until     BIGINT,
    claim_token     TEXT,
    last_error      TEXT,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_target ON outbox (store_id, system, kind, key, status);
CREATE INDEX outbox_store_status ON outbox (store_id, status);

CREATE VIEW dead_letters AS
    SELECT id, store_id, system, kind, key, op, idempotency_key, body, attempts, last_error, created_at, updated_at
    FROM outbox WHERE status = 'dead';

-- Which host works on which store (scale-out). epoch grows on every change of holder (fencing token).
CREATE TABLE leases (
    store_id    TEXT    PRIMARY KEY,
    holder      TEXT    NOT NULL,
    expires_at  BIGINT  NOT NULL,
    acquired_at BIGINT  NOT NULL,
    epoch       BIGINT  NOT NULL
);
