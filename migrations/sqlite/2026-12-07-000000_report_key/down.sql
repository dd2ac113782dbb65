ALTER TABLE builds DROP COLUMN report_key;
