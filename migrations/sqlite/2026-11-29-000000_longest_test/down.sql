ALTER TABLE builds DROP COLUMN longest_test_ms;
