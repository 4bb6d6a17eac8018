-- Extra tables added to the pgbench database by bench/run.sh.
--
-- bench_blobs: :rows rows (default 200k, ~120 MB) with a bytea and a jsonb
-- column and foreign keys to pgbench_accounts and pgbench_branches, so every
-- method has to copy wide rows and rebuild cross-table constraints.
-- bench_lag: empty at copy time; the lag tests insert into it with
-- bench/lag_insert.sql and read the age of its newest row on the target.
CREATE TABLE bench_blobs (
    id         bigint PRIMARY KEY,
    aid        integer NOT NULL REFERENCES pgbench_accounts (aid),
    bid        integer NOT NULL REFERENCES pgbench_branches (bid),
    created_at timestamptz NOT NULL,
    payload    bytea NOT NULL,
    doc        jsonb NOT NULL
);

INSERT INTO bench_blobs (id, aid, bid, created_at, payload, doc)
SELECT i,
       1 + (i::bigint * 7919) % (:scale * 100000),
       1 + i % :scale,
       timestamptz '2025-01-01' + i * interval '1 second',
       -- 320 bytes: under the TOAST threshold, so stored as-is
       decode(repeat(md5(i::text), 20), 'hex'),
       jsonb_build_object(
           'id', i,
           'name', 'customer ' || i,
           'tags', jsonb_build_array('t' || i % 7, 't' || i % 11, 't' || i % 13),
           'score', (i % 1000) / 10.0,
           'active', i % 3 = 0,
           'note', repeat(md5((i * 31)::text), 4))
FROM generate_series(1, :rows) AS i;

CREATE INDEX bench_blobs_aid ON bench_blobs (aid);
CREATE INDEX bench_blobs_created_at ON bench_blobs (created_at);

CREATE TABLE bench_lag (
    id  bigserial PRIMARY KEY,
    ts  timestamptz NOT NULL DEFAULT clock_timestamp(),
    aid integer NOT NULL
);

VACUUM ANALYZE bench_blobs;
