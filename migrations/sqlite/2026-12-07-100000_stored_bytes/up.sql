-- The bytes the storage holds for a build (its results and report), measured once when the build's files change
-- (an upload's results saved, a report published) so that disk usage and retention never list the storage for it.
-- NULL: not measured yet (builds from before this column; a start-up pass measures them).
ALTER TABLE builds ADD COLUMN stored_bytes BIGINT;
-- The start-up pass looks for builds without a value; once all have one, this index is empty.
CREATE INDEX builds_unmeasured ON builds (env_id, project_id, build_id) WHERE stored_bytes IS NULL;
