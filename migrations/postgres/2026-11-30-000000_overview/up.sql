-- Running totals of build statistics, per project and per project and UTC day, so the overview (contract §11.1)
-- and the project stats (§8.5) read a few small rows instead of summing every build. Triggers on builds keep
-- them exact for every writer: uploads, replacements, deletions, retention and the cascades of environment and
-- project deletion. "failed" is failed + broken, as everywhere the API sums builds (§8.6); `day` is the UTC date of
-- the build's created_at as YYYY-MM-DD. A row whose build_count reaches 0 is removed.

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
SELECT env_id, project_id, to_char(created_at, 'YYYY-MM-DD'), COUNT(*), SUM(stats_passed),
       SUM(stats_failed + stats_broken), SUM(stats_skipped)
FROM builds GROUP BY env_id, project_id, to_char(created_at, 'YYYY-MM-DD');

-- New builds, one statement at a time (a bulk insert adds its figures in one aggregate); concurrent first builds of
-- a project or day meet in ON CONFLICT.
CREATE FUNCTION builds_totals_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO build_totals AS t (env_id, project_id, build_count, passed, failed, skipped)
    SELECT env_id, project_id, COUNT(*), SUM(stats_passed), SUM(stats_failed + stats_broken), SUM(stats_skipped)
    FROM added GROUP BY env_id, project_id
    ON CONFLICT (env_id, project_id) DO UPDATE
    SET build_count = t.build_count + EXCLUDED.build_count, passed = t.passed + EXCLUDED.passed,
        failed = t.failed + EXCLUDED.failed, skipped = t.skipped + EXCLUDED.skipped;
    INSERT INTO build_days AS t (env_id, project_id, day, build_count, passed, failed, skipped)
    SELECT env_id, project_id, to_char(created_at, 'YYYY-MM-DD'), COUNT(*), SUM(stats_passed),
           SUM(stats_failed + stats_broken), SUM(stats_skipped)
    FROM added GROUP BY env_id, project_id, to_char(created_at, 'YYYY-MM-DD')
    ON CONFLICT (env_id, project_id, day) DO UPDATE
    SET build_count = t.build_count + EXCLUDED.build_count, passed = t.passed + EXCLUDED.passed,
        failed = t.failed + EXCLUDED.failed, skipped = t.skipped + EXCLUDED.skipped;
    RETURN NULL;
END $$;

-- Deleted builds, one statement at a time (deleting an environment removes its builds in one cascade). Only
-- updates: when a project is deleted its rows may be gone already and must not come back.
CREATE FUNCTION builds_totals_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE build_totals AS t
    SET build_count = t.build_count - r.n, passed = t.passed - r.passed, failed = t.failed - r.failed,
        skipped = t.skipped - r.skipped
    FROM (SELECT env_id, project_id, COUNT(*) AS n, SUM(stats_passed) AS passed,
                 SUM(stats_failed + stats_broken) AS failed, SUM(stats_skipped) AS skipped
          FROM removed GROUP BY env_id, project_id) AS r
    WHERE t.env_id = r.env_id AND t.project_id = r.project_id;
    DELETE FROM build_totals AS t USING (SELECT DISTINCT env_id, project_id FROM removed) AS r
    WHERE t.env_id = r.env_id AND t.project_id = r.project_id AND t.build_count <= 0;
    UPDATE build_days AS t
    SET build_count = t.build_count - r.n, passed = t.passed - r.passed, failed = t.failed - r.failed,
        skipped = t.skipped - r.skipped
    FROM (SELECT env_id, project_id, to_char(created_at, 'YYYY-MM-DD') AS day, COUNT(*) AS n,
                 SUM(stats_passed) AS passed, SUM(stats_failed + stats_broken) AS failed,
                 SUM(stats_skipped) AS skipped
          FROM removed GROUP BY env_id, project_id, to_char(created_at, 'YYYY-MM-DD')) AS r
    WHERE t.env_id = r.env_id AND t.project_id = r.project_id AND t.day = r.day;
    DELETE FROM build_days AS t
    USING (SELECT DISTINCT env_id, project_id, to_char(created_at, 'YYYY-MM-DD') AS day FROM removed) AS r
    WHERE t.env_id = r.env_id AND t.project_id = r.project_id AND t.day = r.day AND t.build_count <= 0;
    RETURN NULL;
END $$;

-- A replacing upload rewrites one build's statistics and created_at: the old figures go out, the new ones in.
-- (Row level: PostgreSQL allows no transition tables on a trigger limited to some columns.)
CREATE FUNCTION builds_totals_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE build_totals
    SET build_count = build_count - 1, passed = passed - OLD.stats_passed,
        failed = failed - OLD.stats_failed - OLD.stats_broken, skipped = skipped - OLD.stats_skipped
    WHERE env_id = OLD.env_id AND project_id = OLD.project_id;
    DELETE FROM build_totals WHERE env_id = OLD.env_id AND project_id = OLD.project_id AND build_count <= 0;
    UPDATE build_days
    SET build_count = build_count - 1, passed = passed - OLD.stats_passed,
        failed = failed - OLD.stats_failed - OLD.stats_broken, skipped = skipped - OLD.stats_skipped
    WHERE env_id = OLD.env_id AND project_id = OLD.project_id AND day = to_char(OLD.created_at, 'YYYY-MM-DD');
    DELETE FROM build_days
    WHERE env_id = OLD.env_id AND project_id = OLD.project_id AND day = to_char(OLD.created_at, 'YYYY-MM-DD')
      AND build_count <= 0;
    INSERT INTO build_totals AS t (env_id, project_id, build_count, passed, failed, skipped)
    VALUES (NEW.env_id, NEW.project_id, 1, NEW.stats_passed, NEW.stats_failed + NEW.stats_broken, NEW.stats_skipped)
    ON CONFLICT (env_id, project_id) DO UPDATE
    SET build_count = t.build_count + 1, passed = t.passed + EXCLUDED.passed, failed = t.failed + EXCLUDED.failed,
        skipped = t.skipped + EXCLUDED.skipped;
    INSERT INTO build_days AS t (env_id, project_id, day, build_count, passed, failed, skipped)
    VALUES (NEW.env_id, NEW.project_id, to_char(NEW.created_at, 'YYYY-MM-DD'), 1, NEW.stats_passed,
            NEW.stats_failed + NEW.stats_broken, NEW.stats_skipped)
    ON CONFLICT (env_id, project_id, day) DO UPDATE
    SET build_count = t.build_count + 1, passed = t.passed + EXCLUDED.passed, failed = t.failed + EXCLUDED.failed,
        skipped = t.skipped + EXCLUDED.skipped;
    RETURN NULL;
END $$;

CREATE TRIGGER builds_totals_insert AFTER INSERT ON builds
REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION builds_totals_insert();
CREATE TRIGGER builds_totals_delete AFTER DELETE ON builds
REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION builds_totals_delete();
CREATE TRIGGER builds_totals_update
AFTER UPDATE OF env_id, project_id, created_at, stats_passed, stats_failed, stats_broken, stats_skipped ON builds
FOR EACH ROW EXECUTE FUNCTION builds_totals_update();
