-- Claiming scans due rows in priority order: index exactly that order per status.
CREATE INDEX outbox_claim ON outbox (status, priority, next_attempt_at, id);
CREATE INDEX outbox_lease ON outbox (status, lease_until);
