-- The server processes sharing this database, one row per node id (NODE_ID): each node writes its row when it
-- starts and every few seconds after (its heartbeat), and deletes it when it stops. A node whose heartbeat is
-- older than three intervals counts as gone (killed, or cut off from the database); its row is deleted a day
-- later by any node's heartbeat.
CREATE TABLE nodes (
    id              TEXT PRIMARY KEY NOT NULL,
    version         TEXT NOT NULL,
    -- The version the node's active Allure CLI prints; NULL while it has none that works.
    allure_version  TEXT,
    started_at      TIMESTAMP(3) NOT NULL,
    heartbeat_at    TIMESTAMP(3) NOT NULL
);
