DROP TRIGGER build_days_env_rollup ON build_days;
DROP FUNCTION build_days_env_rollup();
DROP INDEX build_days_project_day;
CREATE INDEX build_days_day ON build_days (day);
DROP TABLE build_env_days;
