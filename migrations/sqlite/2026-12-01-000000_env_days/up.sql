-- Daily figures per environment, the sum of `build_days` over the environment's projects, so the unfiltered and
-- environment-filtered daily trends of the overview (contract §11.1) read environments x 30 rows, and 30 rows,
-- instead of projects x 30. Row triggers on `build_days` mirror each of its changes here, whatever made them
-- (uploads, replacements, deletions, retention, cascades), so the invariant holds without touching the triggers of
-- `builds`. No foreign key: when an environment goes, its `build_days` rows go and take these rows to zero.

CREATE TABLE build_env_days (
    env_id       TEXT NOT NULL,
    day          TEXT NOT NULL,
    build_count  BIGINT NOT NULL DEFAULT 0,
    passed       BIGINT NOT NULL DEFAULT 0,
    failed       BIGINT NOT NULL DEFAULT 0,
    skipped      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (env_id, day)
);
CREATE INDEX build_env_days_day ON build_env_days (day);

INSERT INTO build_env_days (env_id, day, build_count, passed, failed, skipped)
SELECT env_id, day, SUM(build_count), SUM(passed), SUM(failed), SUM(skipped)
FROM build_days GROUP BY env_id, day;

-- The overview filtered by project id alone reads that project in every environment over a range of days; the
-- unfiltered one no longer reads `build_days`, so its day index goes.
DROP INDEX build_days_day;
CREATE INDEX build_days_project_day ON build_days (project_id, day);

-- The new figures in, the old ones out; a row reaching zero builds is removed, as in `build_days`.
CREATE TRIGGER build_days_env_insert AFTER INSERT ON build_days
BEGIN
    INSERT OR IGNORE INTO build_env_days (env_id, day) VALUES (NEW.env_id, NEW.day);
    UPDATE build_env_days
    SET build_count = build_count + NEW.build_count, passed = passed + NEW.passed, failed = failed + NEW.failed,
        skipped = skipped + NEW.skipped
    WHERE env_id = NEW.env_id AND day = NEW.day;
END;

CREATE TRIGGER build_days_env_update AFTER UPDATE ON build_days
BEGIN
    INSERT OR IGNORE INTO build_env_days (env_id, day) VALUES (NEW.env_id, NEW.day);
    UPDATE build_env_days
    SET build_count = build_count + NEW.build_count, passed = passed + NEW.passed, failed = failed + NEW.failed,
        skipped = skipped + NEW.skipped
    WHERE env_id = NEW.env_id AND day = NEW.day;
    UPDATE build_env_days
    SET build_count = build_count - OLD.build_count, passed = passed - OLD.passed, failed = failed - OLD.failed,
        skipped = skipped - OLD.skipped
    WHERE env_id = OLD.env_id AND day = OLD.day;
    DELETE FROM build_env_days WHERE env_id = OLD.env_id AND day = OLD.day AND build_count <= 0;
END;

CREATE TRIGGER build_days_env_delete AFTER DELETE ON build_days
BEGIN
    UPDATE build_env_days
    SET build_count = build_count - OLD.build_count, passed = passed - OLD.passed, failed = failed - OLD.failed,
        skipped = skipped - OLD.skipped
    WHERE env_id = OLD.env_id AND day = OLD.day;
    DELETE FROM build_env_days WHERE env_id = OLD.env_id AND day = OLD.day AND build_count <= 0;
END;
