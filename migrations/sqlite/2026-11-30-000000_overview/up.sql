-- Running totals of build statistics, per project and per project and UTC day, so the overview (contract §11.1)
-- and the project stats (§8.5) read a few small rows instead of summing every build. Triggers on builds keep them
-- exact for every writer: uploads, replacements, deletions, retention and the cascades of environment and project
-- deletion. "failed" is failed + broken, as everywhere the API sums builds (§8.6); `day` is the UTC date of the
-- build's created_at as YYYY-MM-DD. A row whose build_count reaches 0 is removed.

CREATE TABLE build_totals (
    env_id       TEXT NOT NULL,
    project_id   TEXT NOT NULL,
    build_count  BIGINT NOT NULL DEFAULT 0,
    passed       BIGINT NOT NULL DEFAULT 0,
    failed       BIGINT NOT NULL DEFAULT 0,
    skipped      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (env_id, project_id),
    FOREIGN KEY (env_id, project_id) REFERENCES projects (env_id, id) ON DELETE CASCADE
);

CREATE TABLE build_days (
    env_id       TEXT NOT NULL,
    project_id   TEXT NOT NULL,
    day          TEXT NOT NULL,
    build_count  BIGINT NOT NULL DEFAULT 0,
    passed       BIGINT NOT NULL DEFAULT 0,
    failed       BIGINT NOT NULL DEFAULT 0,
    skipped      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (env_id, project_id, day),
    FOREIGN KEY (env_id, project_id) REFERENCES projects (env_id, id) ON DELETE CASCADE
);
-- The unfiltered and project-only daily trends: a range of days across every project.
CREATE INDEX build_days_day ON build_days (day);

-- Builds newest first in each scope of the overview, ties by environment, project and build id, read straight
-- from an index (no sort of the scope's builds); the first is also the retention order, oldest first.
DROP INDEX builds_created;
CREATE INDEX builds_created ON builds (created_at, env_id, project_id, build_id);
DROP INDEX builds_project_created;
CREATE INDEX builds_project_created ON builds (env_id, project_id, created_at, build_id);
CREATE INDEX builds_env_created ON builds (env_id, created_at, project_id, build_id);
-- A project id in every environment (overview with projectId but no envId).
CREATE INDEX builds_project_id_created ON builds (project_id, created_at, env_id, build_id);

INSERT INTO build_totals (env_id, project_id, build_count, passed, failed, skipped)
SELECT env_id, project_id, COUNT(*), SUM(stats_passed), SUM(stats_failed + stats_broken), SUM(stats_skipped)
FROM builds GROUP BY env_id, project_id;

INSERT INTO build_days (env_id, project_id, day, build_count, passed, failed, skipped)
SELECT env_id, project_id, date(created_at), COUNT(*), SUM(stats_passed), SUM(stats_failed + stats_broken),
       SUM(stats_skipped)
FROM builds GROUP BY env_id, project_id, date(created_at);

CREATE TRIGGER builds_totals_insert AFTER INSERT ON builds
BEGIN
    INSERT OR IGNORE INTO build_totals (env_id, project_id) VALUES (NEW.env_id, NEW.project_id);
    UPDATE build_totals
    SET build_count = build_count + 1, passed = passed + NEW.stats_passed,
        failed = failed + NEW.stats_failed + NEW.stats_broken, skipped = skipped + NEW.stats_skipped
    WHERE env_id = NEW.env_id AND project_id = NEW.project_id;
    INSERT OR IGNORE INTO build_days (env_id, project_id, day) VALUES (NEW.env_id, NEW.project_id, date(NEW.created_at));
    UPDATE build_days
    SET build_count = build_count + 1, passed = passed + NEW.stats_passed,
        failed = failed + NEW.stats_failed + NEW.stats_broken, skipped = skipped + NEW.stats_skipped
    WHERE env_id = NEW.env_id AND project_id = NEW.project_id AND day = date(NEW.created_at);
END;

CREATE TRIGGER builds_totals_delete AFTER DELETE ON builds
BEGIN
    UPDATE build_totals
    SET build_count = build_count - 1, passed = passed - OLD.stats_passed,
        failed = failed - OLD.stats_failed - OLD.stats_broken, skipped = skipped - OLD.stats_skipped
    WHERE env_id = OLD.env_id AND project_id = OLD.project_id;
    DELETE FROM build_totals WHERE env_id = OLD.env_id AND project_id = OLD.project_id AND build_count <= 0;
    UPDATE build_days
    SET build_count = build_count - 1, passed = passed - OLD.stats_passed,
        failed = failed - OLD.stats_failed - OLD.stats_broken, skipped = skipped - OLD.stats_skipped
    WHERE env_id = OLD.env_id AND project_id = OLD.project_id AND day = date(OLD.created_at);
    DELETE FROM build_days
    WHERE env_id = OLD.env_id AND project_id = OLD.project_id AND day = date(OLD.created_at) AND build_count <= 0;
END;

-- A replacing upload rewrites the statistics and created_at: the old figures go out, the new ones in.
CREATE TRIGGER builds_totals_update
AFTER UPDATE OF env_id, project_id, created_at, stats_passed, stats_failed, stats_broken, stats_skipped ON builds
BEGIN
    UPDATE build_totals
    SET build_count = build_count - 1, passed = passed - OLD.stats_passed,
        failed = failed - OLD.stats_failed - OLD.stats_broken, skipped = skipped - OLD.stats_skipped
    WHERE env_id = OLD.env_id AND project_id = OLD.project_id;
    DELETE FROM build_totals WHERE env_id = OLD.env_id AND project_id = OLD.project_id AND build_count <= 0;
    UPDATE build_days
    SET build_count = build_count - 1, passed = passed - OLD.stats_passed,
        failed = failed - OLD.stats_failed - OLD.stats_broken, skipped = skipped - OLD.stats_skipped
    WHERE env_id = OLD.env_id AND project_id = OLD.project_id AND day = date(OLD.created_at);
    DELETE FROM build_days
    WHERE env_id = OLD.env_id AND project_id = OLD.project_id AND day = date(OLD.created_at) AND build_count <= 0;
    INSERT OR IGNORE INTO build_totals (env_id, project_id) VALUES (NEW.env_id, NEW.project_id);
    UPDATE build_totals
    SET build_count = build_count + 1, passed = passed + NEW.stats_passed,
        failed = failed + NEW.stats_failed + NEW.stats_broken, skipped = skipped + NEW.stats_skipped
    WHERE env_id = NEW.env_id AND project_id = NEW.project_id;
    INSERT OR IGNORE INTO build_days (env_id, project_id, day) VALUES (NEW.env_id, NEW.project_id, date(NEW.created_at));
    UPDATE build_days
    SET build_count = build_count + 1, passed = passed + NEW.stats_passed,
        failed = failed + NEW.stats_failed + NEW.stats_broken, skipped = skipped + NEW.stats_skipped
    WHERE env_id = NEW.env_id AND project_id = NEW.project_id AND day = date(NEW.created_at);
END;
