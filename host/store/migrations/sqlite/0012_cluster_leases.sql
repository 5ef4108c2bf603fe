-- Several hosts on one database (issue 19): the process that holds a store's lease (`instance`,
-- a fresh id per process: a restarted process with the same host id is a new tenure and fences
-- its predecessor), and the hosts' heartbeats, from which hosts learn how many of them share
-- the stores.
ALTER TABLE leases ADD COLUMN instance TEXT NOT NULL DEFAULT '';

CREATE TABLE hosts (
    host_id      TEXT    PRIMARY KEY CHECK (length(host_id) > 0),
    instance     TEXT    NOT NULL,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
