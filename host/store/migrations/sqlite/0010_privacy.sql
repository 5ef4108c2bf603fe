-- Privacy requests (a platform's customer redaction, data request, shop redaction): stored
-- before the platform's delivery is acknowledged, processed by the store's runner, kept as the
-- audit of what was done (when, which request, how many rows and fields). After a redaction the
-- subject keeps only the platform's ids: its emails and phones are replaced with the marker.
CREATE TABLE privacy_requests (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    store_id     TEXT    NOT NULL CHECK (length(store_id) > 0),
    system       TEXT    NOT NULL CHECK (length(system) > 0),
    action       TEXT    NOT NULL CHECK (action IN ('redact', 'export', 'shop-redact')),
    delivery_id  TEXT,
    subject      TEXT    NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('pending', 'done')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    received_at  INTEGER NOT NULL,
    completed_at INTEGER,
    report       TEXT
);
CREATE UNIQUE INDEX privacy_requests_delivery ON privacy_requests (store_id, system, delivery_id);
CREATE INDEX privacy_requests_status ON privacy_requests (store_id, status, id);
-- The journal is append-only except for redaction: a redacted entry names the request.
ALTER TABLE journal ADD COLUMN redacted_by INTEGER;
