DROP TRIGGER build_days_env_delete;
DROP TRIGGER build_days_env_update;
DROP TRIGGER build_days_env_insert;
DROP INDEX build_days_project_day;
CREATE INDEX build_days_day ON build_days (day);
DROP TABLE build_env_days;
