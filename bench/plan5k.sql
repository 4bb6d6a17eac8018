-- Database for the plan test of bench/run.sh: :ntables small tables (default
-- 5,000), each with a primary key, a secondary index and 10 rows. Committed
-- every 250 tables so the lock table does not overflow.
DO $$
DECLARE
    n integer := current_setting('bench.ntables')::integer;
BEGIN
    FOR i IN 1..n LOOP
        EXECUTE format('CREATE TABLE t%s (id integer PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())', i);
        EXECUTE format('CREATE INDEX ON t%s (name)', i);
        EXECUTE format('INSERT INTO t%s (id, name) SELECT g, ''row '' || g FROM generate_series(1, 10) g', i);
        IF i % 250 = 0 THEN
            COMMIT;
        END IF;
    END LOOP;
END
$$;
