-- Builds that may hold reports besides the one they name. A storage without atomic rename (object storage)
-- publishes every report under a new key; the transaction that makes it the build's report writes this row, and
-- the row is deleted once the build's other reports are. A process killed in between, or a store that failed the
-- deletion, leaves the row: a sweep at start-up (and when the store is back) deletes the reports of exactly these
-- builds, so no listing of the bucket is needed to find them. A build's deletion takes its row with it.
CREATE TABLE stale_reports (
    env_id      TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    build_id    TEXT NOT NULL,
    PRIMARY KEY (env_id, project_id, build_id),
    FOREIGN KEY (env_id, project_id, build_id) REFERENCES builds (env_id, project_id, build_id) ON DELETE CASCADE
);
