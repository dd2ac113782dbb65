-- Running totals of build statistics, per project and per project and UTC day, so the overview (contract §11.1)
-- and the project stats (§8.5) read a few small rows instead of summing every build. A trigger on builds keeps
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

-- Adds one build's figures; concurrent first builds of a project or day meet in ON CONFLICT.
CREATE FUNCTION build_totals_add(e TEXT, p TEXT, d TEXT, n_passed BIGINT, n_failed BIGINT, n_skipped BIGINT)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO build_totals AS t (env_id, project_id, build_count, passed, failed, skipped)
    VALUES (e, p, 1, n_passed, n_failed, n_skipped)
    ON CONFLICT (env_id, project_id) DO UPDATE
    SET build_count = t.build_count + 1, passed = t.passed + n_passed, failed = t.failed + n_failed,
        skipped = t.skipped + n_skipped;
    INSERT INTO build_days AS t (env_id, project_id, day, build_count, passed, failed, skipped)
    VALUES (e, p, d, 1, n_passed, n_failed, n_skipped)
    ON CONFLICT (env_id, project_id, day) DO UPDATE
    SET build_count = t.build_count + 1, passed = t.passed + n_passed, failed = t.failed + n_failed,
        skipped = t.skipped + n_skipped;
END $$;

-- Removes one build's figures. Only updates: during the cascade of a project's deletion the rows are already gone
-- and must not come back.
CREATE FUNCTION build_totals_remove(e TEXT, p TEXT, d TEXT, n_passed BIGINT, n_failed BIGINT, n_skipped BIGINT)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE build_totals
    SET build_count = build_count - 1, passed = passed - n_passed, failed = failed - n_failed,
        skipped = skipped - n_skipped
    WHERE env_id = e AND project_id = p;
    DELETE FROM build_totals WHERE env_id = e AND project_id = p AND build_count <= 0;
    UPDATE build_days
    SET build_count = build_count - 1, passed = passed - n_passed, failed = failed - n_failed,
        skipped = skipped - n_skipped
    WHERE env_id = e AND project_id = p AND day = d;
    DELETE FROM build_days WHERE env_id = e AND project_id = p AND day = d AND build_count <= 0;
END $$;

-- A replacing upload rewrites the statistics and created_at: the old figures go out, the new ones in.
CREATE FUNCTION builds_keep_totals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        PERFORM build_totals_remove(OLD.env_id, OLD.project_id, to_char(OLD.created_at, 'YYYY-MM-DD'),
                                    OLD.stats_passed, OLD.stats_failed + OLD.stats_broken, OLD.stats_skipped);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM build_totals_add(NEW.env_id, NEW.project_id, to_char(NEW.created_at, 'YYYY-MM-DD'),
                                 NEW.stats_passed, NEW.stats_failed + NEW.stats_broken, NEW.stats_skipped);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER builds_keep_totals
AFTER INSERT OR DELETE OR UPDATE OF env_id, project_id, created_at, stats_passed, stats_failed, stats_broken,
    stats_skipped ON builds
FOR EACH ROW EXECUTE FUNCTION builds_keep_totals();
