-- pgbench script for the lag tests (bench/run.sh): one row per transaction
-- into bench_lag, whose ts column is clock_timestamp() at insert time. The age
-- of the newest row on the target is the replication lag seen by a reader.
\set aid random(1, 100000 * :scale)
INSERT INTO bench_lag (aid) VALUES (:aid);
