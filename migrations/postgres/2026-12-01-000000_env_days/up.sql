-- Daily figures per environment, the sum of `build_days` over the environment's projects, so the unfiltered and
-- environment-filtered daily trends of the overview (contract §11.1) read environments x 30 rows, and 30 rows,
-- instead of projects x 30. A row trigger on `build_days` mirrors each of its changes here, whatever made them
-- (uploads, replacements, deletions, retention, cascades), so the invariant holds without touching the triggers of
-- `builds`. No foreign key: when an environment goes, its `build_days` rows go and take these rows to zero, and a
-- key could reject the mirror of a change made while the environment's deletion cascades.

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
CREATE FUNCTION build_days_env_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO build_env_days AS t (env_id, day, build_count, passed, failed, skipped)
        VALUES (NEW.env_id, NEW.day, NEW.build_count, NEW.passed, NEW.failed, NEW.skipped)
        ON CONFLICT (env_id, day) DO UPDATE
        SET build_count = t.build_count + EXCLUDED.build_count, passed = t.passed + EXCLUDED.passed,
            failed = t.failed + EXCLUDED.failed, skipped = t.skipped + EXCLUDED.skipped;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE build_env_days
        SET build_count = build_count - OLD.build_count, passed = passed - OLD.passed, failed = failed - OLD.failed,
            skipped = skipped - OLD.skipped
        WHERE env_id = OLD.env_id AND day = OLD.day;
        DELETE FROM build_env_days WHERE env_id = OLD.env_id AND day = OLD.day AND build_count <= 0;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER build_days_env_rollup AFTER INSERT OR UPDATE OR DELETE ON build_days
FOR EACH ROW EXECUTE FUNCTION build_days_env_rollup();
