DROP INDEX generation_jobs_one_running;
ALTER TABLE generation_jobs DROP COLUMN lease_until;
ALTER TABLE generation_jobs DROP COLUMN node_id;
