-- The longest single test of a build, for the maxDuration rule of quality gates (contract §8.3), which the
-- server evaluates itself; it is known only when the results are read, so it is stored with the statistics.
ALTER TABLE builds ADD COLUMN longest_test_ms BIGINT NOT NULL DEFAULT 0;
