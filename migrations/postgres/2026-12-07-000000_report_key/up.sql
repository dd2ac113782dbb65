-- Where the storage keeps a build's published report. A storage without atomic rename (object storage) publishes
-- every report under a new key; making it the build's report is then this column's update, in the transaction that
-- settles the build. NULL: published before keys were recorded (the storage's first place).
ALTER TABLE builds ADD COLUMN report_key TEXT;
