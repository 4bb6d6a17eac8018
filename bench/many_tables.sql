-- Database for the many-tables copy case of bench/run.sh: bench.ntables tables
-- (default 5,000) of bench.nrows rows each (default 2,000), each with a
-- primary key, a secondary index and a foreign key to many_parent.
-- Committed every 100 tables so the lock table does not overflow.
CREATE TABLE many_parent (id integer PRIMARY KEY, label text NOT NULL);
INSERT INTO many_parent SELECT g, 'parent ' || g FROM generate_series(1, 100) g;
DO $$
DECLARE
    n integer := current_setting('bench.ntables')::integer;
    r integer := current_setting('bench.nrows')::integer;
BEGIN
    FOR i IN 1..n LOOP
        EXECUTE format('CREATE TABLE m%s (id integer PRIMARY KEY, parent_id integer NOT NULL REFERENCES many_parent (id), name text NOT NULL, amount numeric(12,2), created_at timestamptz NOT NULL)', i);
        EXECUTE format('INSERT INTO m%s SELECT g, 1 + g %% 100, md5(g::text), g * 1.25, timestamptz ''2026-01-01 00:00+00'' + g * interval ''1 minute'' FROM generate_series(1, %s) g', i, r);
        EXECUTE format('CREATE INDEX ON m%s (name)', i);
        IF i % 100 = 0 THEN
            COMMIT;
        END IF;
    END LOOP;
END
$$;
