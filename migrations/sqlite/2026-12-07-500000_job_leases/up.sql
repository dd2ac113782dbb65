-- Several servers share one queue. A running job names the node that holds it and a lease that node renews while
-- the Allure CLI runs: a job whose lease ran out (its node died) is taken up by another node. NULL for a job that
-- is not running (and for one left running by a version without leases, which counts as expired).
ALTER TABLE generation_jobs ADD COLUMN node_id TEXT;
ALTER TABLE generation_jobs ADD COLUMN lease_until TIMESTAMP;
-- At most one running job per project, whatever node runs it: the database refuses a second claim rather than a
-- node checking first (two nodes could both see the project free).
CREATE UNIQUE INDEX generation_jobs_one_running ON generation_jobs (env_id, project_id) WHERE state = 'running';
