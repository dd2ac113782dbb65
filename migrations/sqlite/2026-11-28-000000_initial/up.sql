-- The whole schema of the contract's entities. Timestamps are UTC without zone, millisecond precision.
-- Every child row references its parent with ON DELETE CASCADE, so deleting an environment or project in one
-- statement removes everything recorded under it.

CREATE TABLE environments (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    icon        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
INSERT INTO environments (id, name, icon, created_at)
VALUES ('default', 'Default', 'deployed_code', strftime('%Y-%m-%d %H:%M:%f', 'now'));

CREATE TABLE projects (
    env_id      TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (env_id, id)
);
CREATE INDEX projects_env_created ON projects (env_id, created_at);

CREATE TABLE builds (
    env_id          TEXT NOT NULL,
    project_id      TEXT NOT NULL,
    build_id        TEXT NOT NULL,
    status          TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    completed_at    TIMESTAMP,
    uploaded_by     TEXT NOT NULL,
    has_report      BOOLEAN NOT NULL DEFAULT 0,
    stats_total     BIGINT NOT NULL DEFAULT 0,
    stats_passed    BIGINT NOT NULL DEFAULT 0,
    stats_failed    BIGINT NOT NULL DEFAULT 0,
    stats_broken    BIGINT NOT NULL DEFAULT 0,
    stats_skipped   BIGINT NOT NULL DEFAULT 0,
    stats_unknown   BIGINT NOT NULL DEFAULT 0,
    duration_ms     BIGINT NOT NULL DEFAULT 0,
    quality_gate    TEXT,
    warnings        TEXT NOT NULL DEFAULT '[]',
    error           TEXT,
    config          TEXT NOT NULL DEFAULT '{}',
    history_entry   TEXT,
    PRIMARY KEY (env_id, project_id, build_id),
    FOREIGN KEY (env_id, project_id) REFERENCES projects (env_id, id) ON DELETE CASCADE
);
CREATE INDEX builds_project_created ON builds (env_id, project_id, created_at);
CREATE INDEX builds_created ON builds (created_at);

CREATE TABLE upload_sessions (
    id               TEXT PRIMARY KEY NOT NULL,
    kind             TEXT NOT NULL,
    env_id           TEXT NOT NULL,
    project_id       TEXT NOT NULL,
    build_id         TEXT NOT NULL,
    file_name        TEXT,
    total_size       BIGINT,
    total_chunks     BIGINT NOT NULL,
    received_chunks  BIGINT NOT NULL DEFAULT 0,
    phase            TEXT NOT NULL,
    failed_at_phase  TEXT,
    error            TEXT,
    uploaded_by      TEXT NOT NULL,
    owner            TEXT NOT NULL,
    sha256           TEXT,
    report_config    TEXT,
    replace_existing BOOLEAN NOT NULL DEFAULT 0,
    started_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    completed_at     TIMESTAMP,
    report_url       TEXT,
    stats            TEXT,
    FOREIGN KEY (env_id, project_id) REFERENCES projects (env_id, id) ON DELETE CASCADE
);
CREATE INDEX upload_sessions_build ON upload_sessions (env_id, project_id, build_id);
CREATE INDEX upload_sessions_phase ON upload_sessions (phase, updated_at);
CREATE INDEX upload_sessions_updated ON upload_sessions (updated_at);
-- At most one upload (not regeneration) per build is in flight.
CREATE UNIQUE INDEX upload_sessions_one_active ON upload_sessions (env_id, project_id, build_id)
    WHERE kind <> 'regenerate' AND phase IN ('uploading', 'assembling', 'generating');

CREATE TABLE upload_chunks (
    upload_id    TEXT NOT NULL REFERENCES upload_sessions (id) ON DELETE CASCADE,
    chunk_index  BIGINT NOT NULL,
    size         BIGINT NOT NULL,
    sha256       TEXT,
    stored_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (upload_id, chunk_index)
);

CREATE TABLE generation_jobs (
    id           TEXT PRIMARY KEY NOT NULL,
    env_id       TEXT NOT NULL,
    project_id   TEXT NOT NULL,
    build_id     TEXT NOT NULL,
    upload_id    TEXT REFERENCES upload_sessions (id) ON DELETE SET NULL,
    state        TEXT NOT NULL,
    config       TEXT NOT NULL DEFAULT '{}',
    attempts     BIGINT NOT NULL DEFAULT 0,
    created_at   TIMESTAMP NOT NULL,
    started_at   TIMESTAMP,
    finished_at  TIMESTAMP,
    error        TEXT,
    FOREIGN KEY (env_id, project_id, build_id) REFERENCES builds (env_id, project_id, build_id) ON DELETE CASCADE
);
CREATE INDEX generation_jobs_state ON generation_jobs (state, created_at);
CREATE INDEX generation_jobs_build ON generation_jobs (env_id, project_id, build_id);
-- A build has at most one queued job.
CREATE UNIQUE INDEX generation_jobs_one_queued ON generation_jobs (env_id, project_id, build_id)
    WHERE state = 'queued';

CREATE TABLE users (
    email           TEXT PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL,
    avatar_url      TEXT,
    provider        TEXT NOT NULL,
    password_hash   TEXT,
    first_login_at  TIMESTAMP NOT NULL,
    last_login_at   TIMESTAMP NOT NULL
);
CREATE INDEX users_last_login ON users (last_login_at);

-- Overrides may exist before the user's first sign-in, so they do not reference users.
CREATE TABLE role_overrides (
    email       TEXT PRIMARY KEY NOT NULL,
    role        TEXT NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

CREATE TABLE login_sessions (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    email       TEXT NOT NULL REFERENCES users (email) ON DELETE CASCADE,
    role        TEXT,
    provider    TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL
);
CREATE INDEX login_sessions_email ON login_sessions (email);
CREATE INDEX login_sessions_expires ON login_sessions (expires_at);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    key_hash      TEXT NOT NULL UNIQUE,
    created_by    TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    last_used_at  TIMESTAMP,
    revoked_at    TIMESTAMP,
    auto_create   BOOLEAN NOT NULL DEFAULT 0
);
CREATE INDEX api_keys_created ON api_keys (created_at);
-- Names are unique, case-insensitively, among keys that are not revoked.
CREATE UNIQUE INDEX api_keys_active_name ON api_keys (lower(name)) WHERE revoked_at IS NULL;

CREATE TABLE settings (
    name        TEXT PRIMARY KEY NOT NULL,
    value       TEXT NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

CREATE TABLE cleanup_runs (
    id             TEXT PRIMARY KEY NOT NULL,
    started_at     TIMESTAMP NOT NULL,
    finished_at    TIMESTAMP NOT NULL,
    status         TEXT NOT NULL,
    trigger_kind   TEXT NOT NULL,
    deleted_count  BIGINT NOT NULL,
    skipped_count  BIGINT NOT NULL,
    freed_bytes    BIGINT NOT NULL,
    dry_run        BOOLEAN NOT NULL,
    error_message  TEXT
);
CREATE INDEX cleanup_runs_started ON cleanup_runs (started_at);

CREATE TABLE notifications (
    id          TEXT PRIMARY KEY NOT NULL,
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    category    TEXT NOT NULL,
    severity    TEXT NOT NULL,
    payload     TEXT NOT NULL DEFAULT '{}',
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX notifications_created ON notifications (created_at);

-- Read and deletion state per principal (user email or API key id).
CREATE TABLE notification_states (
    notification_id  TEXT NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    principal        TEXT NOT NULL,
    read_at          TIMESTAMP,
    hidden_at        TIMESTAMP,
    PRIMARY KEY (notification_id, principal)
);
CREATE INDEX notification_states_principal ON notification_states (principal);
