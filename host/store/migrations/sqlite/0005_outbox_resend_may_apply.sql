-- A write whose resend may find it already applied (a stock set executed as read, compare,
-- adjust under a key): once sent, it is never superseded or coalesced away; it is sent again
-- and finds what it did. Which writes these are is the platform's to say (the engine sets the
-- flag from the platform interface); rows queued before this migration were all of one
-- platform's stock sets, recognised here by their system and op for the last time.
ALTER TABLE outbox ADD COLUMN resend_may_apply INTEGER NOT NULL DEFAULT 0;
UPDATE outbox SET resend_may_apply = 1 WHERE system = 'netsuite' AND op = 'set-quantity';
