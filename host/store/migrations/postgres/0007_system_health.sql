-- Where each store's connection to each system stands, as the running host last saw it (its
-- circuit breaker): read by `weft status`, which runs in another process than the host.
CREATE TABLE system_health (
    store_id    TEXT NOT NULL,
    system      TEXT NOT NULL,
    down_since  BIGINT,
    last_error  TEXT,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (store_id, system)
);
