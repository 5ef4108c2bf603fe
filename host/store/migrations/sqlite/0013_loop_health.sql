-- Each store loop's health as the running host judges it (weft_engine::health), and the
-- host's own beat: read by `weft status`, which runs in another process than the host. The
-- host writes a loop's row when its state changes and at most once a minute otherwise, and
-- its own row every couple of seconds; a host whose beat is older than a few of its
-- intervals is not running (or hangs), whatever its loops' rows last said.
CREATE TABLE host_beats (
    host         TEXT PRIMARY KEY,
    pid          INTEGER NOT NULL,
    started_at   INTEGER NOT NULL,
    beat_at      INTEGER NOT NULL,
    beat_every   INTEGER NOT NULL,
    stopped_at   INTEGER
);
CREATE TABLE loop_health (
    store_id        TEXT NOT NULL,
    loop_name       TEXT NOT NULL,
    host            TEXT NOT NULL,
    healthy         INTEGER NOT NULL,
    state           TEXT NOT NULL,
    detail          TEXT NOT NULL,
    rounds          INTEGER NOT NULL,
    last_round      INTEGER,
    last_error      TEXT,
    interval_ms     INTEGER NOT NULL,
    deadline_ms     INTEGER NOT NULL,
    unhealthy_since INTEGER,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (store_id, loop_name)
);
