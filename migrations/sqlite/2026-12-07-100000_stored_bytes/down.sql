DROP INDEX builds_unmeasured;
ALTER TABLE builds DROP COLUMN stored_bytes;
