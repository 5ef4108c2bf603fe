-- A backfill's documents (a platform's bulk export at a first sync or a full resync) are
-- journaled with source 'backfill', so the writes planned from them queue after live ones.
ALTER TABLE journal DROP CONSTRAINT journal_source_check;
ALTER TABLE journal ADD CONSTRAINT journal_source_check
    CHECK (source IN ('webhook', 'poll', 'cdc', 'replay', 'manual', 'backfill'));
