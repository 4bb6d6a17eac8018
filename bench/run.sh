#!/usr/bin/env bash
# make bench: compare database-replicator with pg_dump/pg_restore, pgcopydb and a
# bare COPY pipe on two throwaway local clusters, then measure verify, plan on
# many tables and logical-replication lag. See docs/performance.md.
#
# Settings (environment):
#   SCALE=50          pgbench scale of the source (50 ≈ 0.75 GB)
#   BLOB_ROWS=200000  rows of the extra bytea/jsonb table (≈ 120 MB)
#   JOBS=2            parallel jobs for every method (tables and indexes)
#   RUNS=3            timed runs per copy method (interleaved a,b,c,d, a,b,c,d, ...)
#   PLAN_TABLES=50000 tables in the database of the plan test (issue 21: plan < 10 s)
#   MANY_TABLES=5000  tables of the many-tables copy case (0 skips it)
#   MANY_ROWS=2000    rows per table of that case
#   LAG_SECONDS=30    pgbench duration of the lag tests
#   BACKLOG_MB=500    WAL backlog the stream engine and native logical catch up on
#                     (0 skips the catch-up case)
#   COPY_SYNC_METHOD=none  sync method of the timed applies (see method_replicator)
#   XMIN_ONLY=0       1 runs only the xmin lag case and prints its p95 (no results file)
#   XMIN_LOG_LEVEL=info  log level of that case's sync (debug: each cycle's steps and tables)
#   NO_BUILD=0        1 uses the binary already in BIN_DIR (before/after runs of two builds)
#   PGBIN             PostgreSQL server binaries (default /usr/lib/postgresql/15/bin)
#   BENCH_KIND=full   full or quick (make bench-quick: small scale, same report shape)
#   RESULTS           results file the report is appended to (default
#                     bench/results/<YYYY-MM-DD>.md, <YYYY-MM-DD>-quick.md for quick)
#   HISTORY           one line per run is appended here (default bench/results/history.md)
#   LOGDIR            where every command's output is kept (default /tmp/bench-logs-<date>-<time>)
#
# Everything runs as root with the servers as the postgres user (runuser), on
# 127.0.0.1 with trust authentication: no password is ever needed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

SCALE="${SCALE:-50}"
BLOB_ROWS="${BLOB_ROWS:-200000}"
JOBS="${JOBS:-2}"
RUNS="${RUNS:-3}"
PLAN_TABLES="${PLAN_TABLES:-50000}"
MANY_TABLES="${MANY_TABLES:-5000}"
MANY_ROWS="${MANY_ROWS:-2000}"
LAG_SECONDS="${LAG_SECONDS:-30}"
BACKLOG_MB="${BACKLOG_MB:-500}"
COPY_SYNC_METHOD="${COPY_SYNC_METHOD:-none}"
PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
BENCH_KIND="${BENCH_KIND:-full}"
TODAY="$(date -u +%F)"
STARTED="$(date -u '+%F %H:%M')"
if [ "$BENCH_KIND" = quick ]; then RESULTS="${RESULTS:-$ROOT/bench/results/$TODAY-quick.md}"; else RESULTS="${RESULTS:-$ROOT/bench/results/$TODAY.md}"; fi
HISTORY="${HISTORY:-$ROOT/bench/results/history.md}"
LOGDIR="${LOGDIR:-/tmp/bench-logs-$TODAY-$(date +%H%M%S)}"
BIN_DIR="${BIN_DIR:-/tmp/bench-bin}"
BIN="$BIN_DIR/database-replicator"
CONFIG="$ROOT/bench/replication.hcl"
STATS="$ROOT/bench/stats.py"
DB=bench
export PATH="$PGBIN:$PATH"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
note() { printf '    %s\n' "$*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }

mkdir -p "$LOGDIR" "$(dirname "$RESULTS")"

# --- Tools -------------------------------------------------------------------
# The replicator is built from the working tree into /tmp/bench-bin (never into
# the tree). Other people edit the tree concurrently, so a failed build is
# retried for a few minutes before giving up.
step "Building database-replicator into $BIN"
mkdir -p "$BIN_DIR"
for attempt in 1 2 3 4 5 6; do
	[ "${NO_BUILD:-0}" = 1 ] && [ -x "$BIN" ] && break
	if go build -o "$BIN" ./cmd/database-replicator 2>"$LOGDIR/build.log"; then break; fi
	[ "$attempt" = 6 ] && { cat "$LOGDIR/build.log" >&2; echo "bench: build failed" >&2; exit 1; }
	note "build failed (attempt $attempt), retrying in 60 s"; sleep 60
done
# the revision the binary was built from (the tree may move on during the run)
REV=${BENCH_REV:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
DIRTY=$([ -n "${BENCH_REV:-}" ] && exit 0; git status --porcelain 2>/dev/null | grep -qv '^??' && echo " (working tree with uncommitted changes)" || true)
[ -x "$PGBIN/initdb" ] || { echo "bench: no initdb in $PGBIN (apt-get install postgresql-15 or set PGBIN)" >&2; exit 1; }
command -v pgcopydb >/dev/null || apt-get install -y pgcopydb >"$LOGDIR/apt.log" 2>&1
[ -x /usr/bin/time ] || apt-get install -y time >>"$LOGDIR/apt.log" 2>&1

# --- Clusters ----------------------------------------------------------------
# Two clusters with identical settings (pattern of examples/quickstart/demo.sh).
# fsync is off on both: the numbers measure copying, not this machine's disk.
# max_locks_per_transaction = 512: with the default 64, pgcopydb's (and
# pg_restore's) one-transaction schema restore of the 5,000-table case runs
# out of shared memory; apply would commit its restore in parts instead.
WORK="$(mktemp -d /tmp/bench-XXXXXX)"
chmod 755 "$WORK"
chown postgres "$WORK"
as_pg() { runuser -u postgres -- "$@"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SRC_PORT="$(free_port)"
DST_PORT="$(free_port)"
while [ "$DST_PORT" = "$SRC_PORT" ]; do DST_PORT="$(free_port)"; done
SYNC_PID=""

cleanup() {
	[ -n "$SYNC_PID" ] && kill "$SYNC_PID" 2>/dev/null || true
	for n in source target; do
		[ -f "$WORK/$n/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$WORK/$n" stop -m immediate >/dev/null 2>&1 || true
		cp "$WORK/$n-server.log" "$LOGDIR/" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

PG_SETTINGS="wal_level = logical
fsync = off
shared_buffers = 512MB
maintenance_work_mem = 256MB
max_wal_size = 8GB
checkpoint_timeout = 30min
max_replication_slots = 20
max_wal_senders = 20
max_locks_per_transaction = 512"

step "Starting two clusters (source :$SRC_PORT, target :$DST_PORT) in $WORK"
for n in source target; do
	port=$SRC_PORT; [ $n = target ] && port=$DST_PORT
	as_pg "$PGBIN/initdb" -D "$WORK/$n" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
	cat >> "$WORK/$n/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
$PG_SETTINGS
CONF
	as_pg "$PGBIN/pg_ctl" -D "$WORK/$n" -l "$WORK/$n-server.log" -w start >/dev/null
done

SRC_URL="postgres://postgres@127.0.0.1:$SRC_PORT"
DST_URL="postgres://postgres@127.0.0.1:$DST_PORT"
psql_src() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$SRC_PORT" -U postgres "$@"; }
psql_dst() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$DST_PORT" -U postgres "$@"; }
q_src() { psql_src -At -d "$DB" -c "$1"; }
q_dst() { psql_dst -At -d "$DB" -c "$1"; }

# The replicator reads its URLs and knobs from REPLICATOR_VAR_* (bench/replication.hcl).
export REPLICATOR_VAR_source_url="$SRC_URL/postgres"
export REPLICATOR_VAR_target_url="$DST_URL/postgres"
export REPLICATOR_VAR_jobs="$JOBS"
export REPLICATOR_VAR_database="$DB"
export REPLICATOR_VAR_sync_method=none
R() { "$BIN" --no-color -c "$CONFIG" "$@"; }

# --- Source data -------------------------------------------------------------
step "Generating the source: pgbench -i -s $SCALE, plus bench_blobs ($BLOB_ROWS rows)"
t0=$(now)
psql_src -d postgres -c "CREATE DATABASE $DB"
pgbench -i -s "$SCALE" --foreign-keys -q -h 127.0.0.1 -p "$SRC_PORT" -U postgres "$DB" >"$LOGDIR/pgbench-init.log" 2>&1
psql_src -d "$DB" -v scale="$SCALE" -v rows="$BLOB_ROWS" -f bench/extra_tables.sql >/dev/null
psql_src -d "$DB" -c "VACUUM ANALYZE" >/dev/null
psql_src -d "$DB" -c "CHECKPOINT" >/dev/null
GEN_SECONDS=$(since "$t0")
SRC_BYTES=$(q_src "SELECT pg_database_size('$DB')")
SRC_MB=$(calc "$SRC_BYTES / 1048576" 1)
note "source database: $SRC_MB MiB, generated in ${GEN_SECONDS}s"
q_src "SELECT format('%-20s %10s rows %10s', c.relname, c.reltuples::bigint, pg_size_pretty(pg_total_relation_size(c.oid)))
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY pg_total_relation_size(c.oid) DESC" | tee "$LOGDIR/tables.txt" | sed 's/^/    /'

# Every user table of the source, largest first (the bare pipe fills its lanes in this order).
mapfile -t TABLES < <(q_src "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
	JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
	ORDER BY pg_relation_size(c.oid) DESC, 1")

# --- Comparison --------------------------------------------------------------
# Row count and an order-independent md5 over every row's text, per table.
# The source does not change during the copies, so its values are read once.
checksums() { # checksums src|dst -> "table count md5" lines
	local side=$1 t
	for t in "${TABLES[@]}"; do
		local sql="SELECT count(*) || ' ' || coalesce(md5(string_agg(md5(x::text), '' ORDER BY md5(x::text))), '-') FROM $t x"
		if [ "$side" = src ]; then echo "$t $(q_src "$sql")"; else echo "$t $(q_dst "$sql" 2>&1 | paste -sd' ')"; fi
	done
}
step "Checksumming the source (row counts and md5 of every table)"
t0=$(now)
checksums src >"$LOGDIR/source.checksums"
note "done in $(since "$t0")s"

# --- Helpers shared by the methods -------------------------------------------
reset_target_db() { # a fresh, empty target database
	PGOPTIONS="-c client_min_messages=warning" psql_dst -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
	psql_dst -d postgres -c "CREATE DATABASE $DB" >/dev/null
}
# Drops subscriptions on the target, then every slot and publication on the
# source, so each replicator run starts from nothing.
reset_replication() {
	local db sub pub
	for db in $(psql_dst -At -d postgres -c "SELECT datname FROM pg_database WHERE datallowconn"); do
		for sub in $(psql_dst -At -d "$db" -c "SELECT subname FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid WHERE d.datname = current_database()"); do
			psql_dst -d "$db" -c "ALTER SUBSCRIPTION \"$sub\" DISABLE" -c "ALTER SUBSCRIPTION \"$sub\" SET (slot_name = NONE)" -c "DROP SUBSCRIPTION \"$sub\"" >/dev/null
		done
	done
	psql_src -d postgres -At -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots" >/dev/null
	for db in $(psql_src -At -d postgres -c "SELECT datname FROM pg_database WHERE datallowconn"); do
		for pub in $(psql_src -At -d "$db" -c "SELECT pubname FROM pg_publication"); do
			psql_src -d "$db" -c "DROP PUBLICATION \"$pub\"" >/dev/null
		done
	done
}

# --- The four copy methods ---------------------------------------------------
# Each gets an empty target database and must leave a complete copy; its output
# goes to $LOGDIR/<method>-<run>.log. A non-zero exit marks the run FAILED.

# (a) pg_dump -Fd -j N into a directory, then pg_restore -j N.
method_pgdump() {
	rm -rf "$WORK/dump"
	pg_dump -h 127.0.0.1 -p "$SRC_PORT" -U postgres -Fd -j "$JOBS" -f "$WORK/dump" "$DB" || return 1
	pg_restore -h 127.0.0.1 -p "$DST_PORT" -U postgres -j "$JOBS" -d "$DB" "$WORK/dump" || return 1
	rm -rf "$WORK/dump"
}

# (b) pgcopydb clone with N table jobs and N index jobs.
method_pgcopydb() {
	rm -rf "$WORK/pgcopydb"
	pgcopydb clone --source "$SRC_URL/$DB" --target "$DST_URL/$DB" --dir "$WORK/pgcopydb" \
		--table-jobs "$JOBS" --index-jobs "$JOBS" || return 1
	rm -rf "$WORK/pgcopydb"
}

# (c) database-replicator apply with a fresh state file, under /usr/bin/time -v
# for the peak RSS. The sync method is COPY_SYNC_METHOD (default none): a plain
# snapshot copy like the others, inside one held snapshot, with no publication,
# slot or subscription. (Before commit e1df8b8 apply failed with "none"; use
# COPY_SYNC_METHOD=xmin, which copies the same way, to benchmark older trees.)
method_replicator() {
	local log=$1
	reset_replication || return 1
	rm -f "$WORK/state.json"
	REPLICATOR_VAR_sync_method=$COPY_SYNC_METHOD /usr/bin/time -v -o "$log.time" \
		"$BIN" --no-color -c "$CONFIG" --state "$WORK/state.json" apply --auto-approve || return 1
}

# (d) bare pipe: pre-data schema, then `COPY TO STDOUT | COPY FROM STDIN` per
# table in JOBS lanes (largest table first, each to the least loaded lane),
# then post-data (indexes, constraints) with pg_restore -j N.
method_pipe() {
	local i t lane pids=() rc=0
	pg_dump -h 127.0.0.1 -p "$SRC_PORT" -U postgres -Fc --schema-only -f "$WORK/schema.dump" "$DB" || return 1
	pg_restore -h 127.0.0.1 -p "$DST_PORT" -U postgres --section=pre-data -d "$DB" "$WORK/schema.dump" || return 1
	local -a lane_tables lane_load
	for ((i = 0; i < JOBS; i++)); do lane_tables[i]=""; lane_load[i]=0; done
	while IFS='|' read -r t size; do
		lane=0
		for ((i = 1; i < JOBS; i++)); do [ "${lane_load[i]}" -lt "${lane_load[lane]}" ] && lane=$i; done
		lane_tables[lane]+="$t "
		lane_load[lane]=$((lane_load[lane] + size))
	done < <(q_src "SELECT format('%I.%I', n.nspname, c.relname), pg_relation_size(c.oid) FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
		ORDER BY 2 DESC, 1")
	for ((i = 0; i < JOBS; i++)); do
		(
			set -o pipefail
			for t in ${lane_tables[i]}; do
				echo "lane $i: $t"
				psql_src -d "$DB" -c "COPY $t TO STDOUT" | psql_dst -d "$DB" -c "COPY $t FROM STDIN" || exit 1
			done
		) &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || rc=1; done
	[ $rc = 0 ] || return 1
	pg_restore -h 127.0.0.1 -p "$DST_PORT" -U postgres --section=post-data -j "$JOBS" -d "$DB" "$WORK/schema.dump" || return 1
}

# METHODS="replicator pgcopydb" runs a subset (e.g. while tuning one method).
read -r -a METHODS <<< "${METHODS:-pgdump pgcopydb replicator pipe}"
declare -A LABEL=(
	[pgdump]="pg_dump -Fd -j $JOBS + pg_restore -j $JOBS"
	[pgcopydb]="pgcopydb clone ($JOBS table + $JOBS index jobs)"
	[replicator]="database-replicator apply (jobs = $JOBS)"
	[pipe]="bare COPY pipe ($JOBS lanes) + post-data -j $JOBS"
)
declare -A TIMES FAILS
for m in "${METHODS[@]}"; do TIMES[$m]=""; FAILS[$m]=0; done
RSS_KB=""
RUN_LINES=""

if [ "${XMIN_ONLY:-0}" != 1 ]; then # XMIN_ONLY skips the copies, verify, plan and many tables
# --- Timed runs, interleaved -------------------------------------------------
# The load average is recorded around the runs: anything else running on the
# machine shows up there (and as spread between the runs of one method).
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for run in $(seq 1 "$RUNS"); do
	for m in "${METHODS[@]}"; do
		step "Run $run/$RUNS: ${LABEL[$m]}"
		reset_target_db
		log="$LOGDIR/$m-$run.log"
		t0=$(now)
		if "method_$m" "$log" >"$log" 2>&1; then status=ok; else status=error; fi
		secs=$(since "$t0")
		if [ "$status" = ok ]; then
			checksums dst >"$LOGDIR/$m-$run.checksums"
			if diff -q "$LOGDIR/source.checksums" "$LOGDIR/$m-$run.checksums" >/dev/null; then
				status=ok
			else
				status="FAILED (target differs from source: diff $LOGDIR/source.checksums $LOGDIR/$m-$run.checksums)"
			fi
		else
			status="FAILED (exit status; see $log)"
		fi
		if [ "$status" = ok ]; then
			TIMES[$m]+="$secs "
			if [ "$m" = replicator ]; then
				RSS_KB+="$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$log.time") "
			fi
		else
			FAILS[$m]=$((FAILS[$m] + 1))
		fi
		note "${secs}s  $status"
		RUN_LINES+="| $run | ${LABEL[$m]} | $secs | $status |"$'\n'
	done
done

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# --- Copy results ------------------------------------------------------------
median_of() { tr ' ' '\n' <<<"$1" | "$STATS" median; }
declare -A MED
for m in "${METHODS[@]}"; do MED[$m]=$(median_of "${TIMES[$m]}"); done
# methods left out by METHODS have no median (the report says n/a)
for m in pgdump pgcopydb replicator pipe; do MED[$m]=${MED[$m]:-n/a}; done
APPLY_MED=${MED[replicator]}
RSS_MED_MB=$(tr ' ' '\n' <<<"$RSS_KB" | "$STATS" median | awk '{ if ($1 == "n/a") print "n/a"; else printf "%.0f", $1 / 1024 }')
RSS_MAX_MB=$(tr ' ' '\n' <<<"$RSS_KB" | "$STATS" max | awk '{ if ($1 == "n/a") print "n/a"; else printf "%.0f", $1 / 1024 }')

COPY_TABLE="| method | runs ok | failed | median s | MB/s | × apply time | apply ÷ this |
|---|---|---|---|---|---|---|"$'\n'
for m in "${METHODS[@]}"; do
	ok=$(tr ' ' '\n' <<<"${TIMES[$m]}" | "$STATS" count)
	med=${MED[$m]}
	if [ "$med" = n/a ]; then
		COPY_TABLE+="| ${LABEL[$m]} | $ok | ${FAILS[$m]} | n/a | n/a | n/a | n/a |"$'\n'
		continue
	fi
	mbs=$(calc "$SRC_MB / $med" 1)
	if [ "$APPLY_MED" = n/a ]; then x=n/a; inv=n/a; else x=$(calc "$med / $APPLY_MED"); inv=$(calc "$APPLY_MED / $med"); fi
	COPY_TABLE+="| ${LABEL[$m]} | $ok | ${FAILS[$m]} | $med | $mbs | $x | $inv |"$'\n'
done
step "Copy results (source $SRC_MB MiB, median of $RUNS runs)"
printf '%s' "$COPY_TABLE"
note "database-replicator peak RSS during apply: median $RSS_MED_MB MiB, max $RSS_MAX_MB MiB"

# Per-phase evidence from the last replicator run's log (change start/finish lines).
LAST_APPLY_LOG="$LOGDIR/replicator-$RUNS.log"

# COPY_ONLY=1 stops after the copy table (no results file): for tuning.
if [ "${COPY_ONLY:-0}" = 1 ]; then
	step "COPY_ONLY=1: skipping verify, plan, lag and the results file"
	exit 0
fi

# --- verify vs a bare hashing scan -------------------------------------------
# The target holds the last run's copy (identical to the source). verify reads
# both sides at once; the anchor scans every table once on each side, in
# parallel, hashing every row's text.
step "database-replicator verify vs a bare hashing scan of both sides"
rm -f "$WORK/state.json"
t0=$(now)
if R --state "$WORK/state.json" verify --json >"$LOGDIR/verify.json" 2>"$LOGDIR/verify.log"; then VERIFY_STATUS=equal; else VERIFY_STATUS="exit $? (see $LOGDIR/verify.log)"; fi
VERIFY_S=$(since "$t0")
bare_scan() { # bare_scan src|dst
	local t f=q_$1
	for t in "${TABLES[@]}"; do echo "$t $($f "SELECT count(*) || ' ' || coalesce(sum(hashtext(x::text)), 0) FROM $t x")"; done
}
t0=$(now)
bare_scan src >"$LOGDIR/bare-scan.src" &
p1=$!
bare_scan dst >"$LOGDIR/bare-scan.dst" &
p2=$!
wait $p1 $p2 || true
BARE_S=$(since "$t0")
cmp -s "$LOGDIR/bare-scan.src" "$LOGDIR/bare-scan.dst" && BARE_STATUS=equal || BARE_STATUS=DIFFERENT
# For comparison only (not a target): the same scan with an md5 per row folded
# into a numeric sum, the row hash verify used before commit d6d9852.
md5_scan() { # md5_scan src|dst
	local t f=q_$1
	for t in "${TABLES[@]}"; do echo "$t $($f "SELECT count(*) || ' ' || coalesce(sum(('x' || substr(md5(x::text), 1, 15))::bit(60)::bigint::numeric), 0) FROM $t x")"; done
}
t0=$(now)
md5_scan src >"$LOGDIR/md5-scan.src" &
p1=$!
md5_scan dst >"$LOGDIR/md5-scan.dst" &
p2=$!
wait $p1 $p2 || true
MD5_S=$(since "$t0")
cmp -s "$LOGDIR/md5-scan.src" "$LOGDIR/md5-scan.dst" && MD5_STATUS=equal || MD5_STATUS=DIFFERENT
MD5_MBS=$(calc "$SRC_MB / $MD5_S" 1)
VERIFY_TABLES=$(python3 -c 'import json, sys
for t in json.load(open(sys.argv[1]))["tables"]:
    print("%-32s %-9s %6.2fs %9d rows" % (t["table"], t["result"], t["seconds"], t["detail"].get("source_rows", 0)))' "$LOGDIR/verify.json" 2>/dev/null || true)
VERIFY_MBS=$(calc "$SRC_MB / $VERIFY_S" 1)
BARE_MBS=$(calc "$SRC_MB / $BARE_S" 1)
VERIFY_RATIO=$(calc "$VERIFY_MBS / $BARE_MBS")
note "verify: ${VERIFY_S}s ($VERIFY_MBS MB/s, $VERIFY_STATUS); bare scan: ${BARE_S}s ($BARE_MBS MB/s, $BARE_STATUS); ratio $VERIFY_RATIO"

# --- plan on many tables -----------------------------------------------------
step "plan on a database with $PLAN_TABLES small tables (empty target)"
t0=$(now)
psql_src -d postgres -c "CREATE DATABASE plan5k" >/dev/null
PGOPTIONS="-c bench.ntables=$PLAN_TABLES" psql_src -d plan5k -f bench/plan5k.sql >/dev/null
note "created in $(since "$t0")s"
PLAN_TIMES=""
for run in $(seq 1 "$RUNS"); do
	rm -f "$WORK/state.json"
	t0=$(now)
	if REPLICATOR_VAR_database=plan5k R --state "$WORK/state.json" plan >"$LOGDIR/plan5k-$run.out" 2>"$LOGDIR/plan5k-$run.log"; then
		s=$(since "$t0"); PLAN_TIMES+="$s "; note "plan run $run: ${s}s ($(grep -E '^Plan:' "$LOGDIR/plan5k-$run.out" || echo 'no summary line'))"
	else
		note "plan run $run: FAILED (see $LOGDIR/plan5k-$run.log)"
	fi
done
PLAN_MED=$(tr ' ' '\n' <<<"$PLAN_TIMES" | "$STATS" median)
psql_src -d postgres -c "DROP DATABASE plan5k" >/dev/null

# --- Many tables --------------------------------------------------------------
# MANY_TABLES tables of MANY_ROWS rows (primary key, index, foreign key each):
# pg_dump/pg_restore, pgcopydb and apply, interleaved, RUNS times, each run
# checked table by table (row count and hash sum, one psql session per side).
MANY_TIMES_pgdump=""; MANY_TIMES_pgcopydb=""; MANY_TIMES_replicator=""; MANY_RSS_KB=""; MANY_FAILS=0
if [ "$MANY_TABLES" -gt 0 ]; then
	step "Many tables: $MANY_TABLES tables of $MANY_ROWS rows (PK, index, FK each), $RUNS interleaved runs"
	t0=$(now)
	psql_src -d postgres -c "CREATE DATABASE many" >/dev/null
	PGOPTIONS="-c bench.ntables=$MANY_TABLES -c bench.nrows=$MANY_ROWS" psql_src -d many -f bench/many_tables.sql >/dev/null
	psql_src -d many -c "VACUUM ANALYZE" >/dev/null
	MANY_MB=$(calc "$(psql_src -At -d many -c "SELECT pg_database_size('many')") / 1048576" 1)
	note "created in $(since "$t0")s ($MANY_MB MiB)"
	many_sums() { # many_sums src|dst -> "table count sum" lines
		local port=$SRC_PORT; [ "$1" = dst ] && port=$DST_PORT
		psql -X -q -At -h 127.0.0.1 -p "$port" -U postgres -d many <<'SQL'
SELECT format('SELECT %L, count(*), coalesce(sum(hashtext(x::text)), 0) FROM %I.%I x', c.relname, n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname = 'public' ORDER BY c.relname
\gexec
SQL
	}
	many_sums src >"$LOGDIR/many-source.sums"
	for run in $(seq 1 "$RUNS"); do
		for m in pgdump pgcopydb replicator; do
			PGOPTIONS="-c client_min_messages=warning" psql_dst -d postgres -c "DROP DATABASE IF EXISTS many WITH (FORCE)" >/dev/null
			psql_dst -d postgres -c "CREATE DATABASE many" >/dev/null
			log="$LOGDIR/many-$m-$run.log"
			t0=$(now)
			if DB=many REPLICATOR_VAR_database=many "method_$m" "$log" >"$log" 2>&1; then status=ok; else status="FAILED (see $log)"; fi
			secs=$(since "$t0")
			if [ "$status" = ok ]; then
				many_sums dst >"$LOGDIR/many-$m-$run.sums"
				cmp -s "$LOGDIR/many-source.sums" "$LOGDIR/many-$m-$run.sums" || status="FAILED (target differs: diff $LOGDIR/many-source.sums $LOGDIR/many-$m-$run.sums)"
			fi
			if [ "$status" = ok ]; then
				eval "MANY_TIMES_$m+=\"\$secs \""
				[ "$m" = replicator ] && MANY_RSS_KB+="$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$log.time") "
			else
				MANY_FAILS=$((MANY_FAILS + 1))
			fi
			note "run $run ${LABEL[$m]}: ${secs}s $status"
		done
	done
	reset_replication
	PGOPTIONS="-c client_min_messages=warning" psql_dst -d postgres -c "DROP DATABASE IF EXISTS many WITH (FORCE)" >/dev/null
	psql_src -d postgres -c "DROP DATABASE many" >/dev/null
fi
MANY_PGDUMP=$(tr ' ' '\n' <<<"$MANY_TIMES_pgdump" | "$STATS" median)
MANY_PGCOPYDB=$(tr ' ' '\n' <<<"$MANY_TIMES_pgcopydb" | "$STATS" median)
MANY_APPLY=$(tr ' ' '\n' <<<"$MANY_TIMES_replicator" | "$STATS" median)
MANY_RSS_MB=$(tr ' ' '\n' <<<"$MANY_RSS_KB" | "$STATS" max | awk '{ if ($1 == "n/a") print "n/a"; else printf "%.0f", $1 / 1024 }')
many_ratio() { case "$1$2" in *n/a*) echo n/a ;; *) calc "$1 / $2" ;; esac; }
r_many_pgdump=$(many_ratio "$MANY_APPLY" "$MANY_PGDUMP")
r_many_pgcopydb=$(many_ratio "$MANY_APPLY" "$MANY_PGCOPYDB")
[ "$MANY_TABLES" -gt 0 ] && note "many tables: pg_dump+restore $MANY_PGDUMP s, pgcopydb $MANY_PGCOPYDB s, apply $MANY_APPLY s (÷ pgcopydb $r_many_pgcopydb, peak RSS $MANY_RSS_MB MiB), $MANY_FAILS failed run(s)"

fi # XMIN_ONLY
# --- Lag ---------------------------------------------------------------------
# Samples every 0.2 s until the file $1.stop exists:
#   epoch | slot lag bytes (source) | clock_timestamp() - latest_end_time (target
#   pg_stat_subscription) | age of the newest bench_lag row on the target
# One psql session per server repeats its query (\watch 0.2): starting psql
# per sample took about 1 s on a loaded 2-core machine (≈ 20 samples per
# case). Each target sample is paired with the source sample nearest in time.
sample_lag() {
	local out=$1 ps pd
	printf '%s\n' "SELECT extract(epoch FROM clock_timestamp())::float8, coalesce(max(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)), 0) FROM pg_replication_slots WHERE database = '$DB'" '\watch 0.2' |
		psql -X -q -At -h 127.0.0.1 -p "$SRC_PORT" -U postgres -d postgres >"$out.src" 2>/dev/null &
	ps=$!
	printf '%s\n' "SELECT extract(epoch FROM clock_timestamp())::float8, coalesce((SELECT extract(epoch FROM clock_timestamp() - latest_end_time)::float8 FROM pg_stat_subscription WHERE relid IS NULL LIMIT 1), 0), extract(epoch FROM clock_timestamp() - (SELECT ts FROM bench_lag ORDER BY id DESC LIMIT 1))::float8" '\watch 0.2' |
		psql -X -q -At -h 127.0.0.1 -p "$DST_PORT" -U postgres -d "$DB" >"$out.dst" 2>/dev/null &
	pd=$!
	while [ ! -e "$out.stop" ]; do sleep 0.2; done
	# psql itself (not a function) ends each pipeline, so $! is its pid: an
	# interrupt ends \watch, and psql exits at the end of its input.
	kill -INT "$ps" "$pd" 2>/dev/null || true
	sleep 0.5
	kill "$ps" "$pd" 2>/dev/null || true
	wait "$ps" "$pd" 2>/dev/null || true
	python3 - "$out.src" "$out.dst" >"$out" <<'PY'
import bisect, sys
def rows(path):
    out = []
    for line in open(path):
        f = line.rstrip("\n").split("|")
        if len(f) >= 2 and f[0]:
            try:
                out.append((float(f[0]), f[1:]))
            except ValueError:
                pass
    return out
src, dst = rows(sys.argv[1]), rows(sys.argv[2])
times = [t for t, _ in src]
for t, v in dst:
    sub, age = (v + [""])[:2]
    b = ""
    if times:
        i = bisect.bisect_left(times, t)
        near = min((j for j in (i - 1, i) if 0 <= j < len(times)), key=lambda j: abs(times[j] - t))
        b = src[near][1][0]
    # like `status`: seconds count only while the slot lags (idle, latest_end_time just ages)
    if b in ("0", "0.0"):
        sub = "0"
    print(f"{t:.6f}|{b}|{sub}|{age}")
PY
}
# Runs pgbench -N plus the bench_lag insert script against the source while sample_lag runs.
load_and_sample() { # load_and_sample NAME
	local name=$1 sp
	rm -f "$LOGDIR/$name.samples.stop"
	LOAD_START=$(now)
	sample_lag "$LOGDIR/$name.samples" &
	sp=$!
	pgbench -n -N -f bench/lag_insert.sql -c 4 -j 2 -T "$LAG_SECONDS" -h 127.0.0.1 -p "$SRC_PORT" -U postgres "$DB" >"$LOGDIR/$name.pgbench.log" 2>&1 || note "pgbench failed: see $LOGDIR/$name.pgbench.log"
	LOAD_END=$(now)
	# keep sampling while the target catches up (at most 30 s)
	local last=$(q_src "SELECT max(id) FROM bench_lag") i
	for i in $(seq 1 60); do
		[ "$(q_dst "SELECT coalesce(max(id), 0) FROM bench_lag")" = "$last" ] && break
		sleep 0.5
	done
	touch "$LOGDIR/$name.samples.stop"
	wait "$sp"
	CATCHUP_ROWS_OK=$([ "$(q_dst "SELECT coalesce(max(id), 0) FROM bench_lag")" = "$last" ] && echo yes || echo no)
}
# Statistics of one column over the samples taken from 1 s after the load
# started (earlier samples still show the idle state before the load) until
# it ended (later ones, while the target catches up, measure how long ago the
# last row was written, not lag under load).
col_stat() { # col_stat FILE COLUMN STAT
	awk -F'|' -v from="$LOAD_START" -v to="$LOAD_END" -v c="$2" '$1 >= from + 1 && $1 <= to { print $c }' "$1" | "$STATS" "$3"
}
# Row age counts only once the newest row on the target was written during the
# load (sample time − age ≥ load start): before that it is the age of a row from
# an earlier phase. first_row prints how long the first such row took to appear.
row_stat() { # row_stat FILE STAT
	awk -F'|' -v from="$LOAD_START" -v to="$LOAD_END" '$4 != "" && $1 - $4 >= from && $1 <= to { print $4 }' "$1" | "$STATS" "$2"
}
first_row() { # first_row FILE
	awk -F'|' -v from="$LOAD_START" '$4 != "" && $1 - $4 >= from { printf "%.1f", $1 - from; exit }' "$1"
}

if [ "${XMIN_ONLY:-0}" != 1 ]; then # XMIN_ONLY skips the logical and stream cases
step "Logical replication lag: apply with sync method logical, then pgbench -N -c 4 -T $LAG_SECONDS"
reset_target_db
reset_replication
# pgbench_history has no primary key: publishing it needs a usable replica
# identity (apply refuses otherwise, plan.no-replica-identity). The copies are
# done, so the source can take REPLICA IDENTITY FULL, as a user would set it.
q_src "ALTER TABLE pgbench_history REPLICA IDENTITY FULL" >/dev/null
rm -f "$WORK/state.json"
t0=$(now)
LOGICAL_APPLY_STATUS=ok
REPLICATOR_VAR_sync_method=logical R --state "$WORK/state.json" apply --auto-approve >"$LOGDIR/logical-apply.log" 2>&1 || LOGICAL_APPLY_STATUS="FAILED (see $LOGDIR/logical-apply.log)"
LOGICAL_APPLY_S=$(since "$t0")
note "apply (logical): ${LOGICAL_APPLY_S}s $LOGICAL_APPLY_STATUS"
LAG_ROW="| logical | n/a | n/a | n/a | n/a | n/a | n/a | apply failed |"
if [ "$LOGICAL_APPLY_STATUS" = ok ]; then
	for i in $(seq 1 40); do
		[ -n "$(q_dst "SELECT pid FROM pg_stat_subscription WHERE relid IS NULL AND pid IS NOT NULL")" ] && break
		sleep 0.5
	done
	REPLICATOR_VAR_sync_method=logical R --state "$WORK/state.json" status --json >"$LOGDIR/logical-status-before.json" 2>&1 || true
	( sleep $((LAG_SECONDS / 2)); REPLICATOR_VAR_sync_method=logical R --state "$WORK/state.json" status --json >"$LOGDIR/logical-status-during.json" 2>&1 || true ) &
	load_and_sample logical
	wait
	f="$LOGDIR/logical.samples"
	TPS=$(grep -Eo 'tps = [0-9.]+' "$LOGDIR/logical.pgbench.log" | head -1 | awk '{ print $3 }')
	STATUS_LAG=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(", ".join("%s: %d B, %.2f s" % (x.get("database"), x.get("lag_bytes", 0), x.get("lag_seconds", 0)) for x in d.get("databases", [])))' "$LOGDIR/logical-status-during.json" 2>/dev/null || echo "status --json unreadable")
	LAG_ROW="| logical | $(col_stat "$f" 1 count) | $(col_stat "$f" 2 max) | $(col_stat "$f" 2 p95) | $(col_stat "$f" 3 max) | $(col_stat "$f" 3 p95) | $(row_stat "$f" max) / $(row_stat "$f" p95) | ${TPS:-?} tps; first new row on the target after $(first_row "$f") s; caught up: $CATCHUP_ROWS_OK; status --json mid-run: $STATUS_LAG |"
	LOGICAL_P95_S=$(col_stat "$f" 3 p95)
	LOGICAL_ROWAGE_P95=$(row_stat "$f" p95)
	LOGICAL_BYTES_P95=$(col_stat "$f" 2 p95)
fi
note "$LAG_ROW"

# --- WAL backlog catch-up (native logical, then the stream engine) ------------
# make_backlog: pgbench -N -c 4 in 5 s rounds until the source has written
# BACKLOG_MB of WAL, while nothing applies it. Sets BACKLOG_END (the source's
# WAL position after it), BACKLOG_BYTES and BACKLOG_ROWS (rows inserted,
# updated or deleted, from pg_stat_user_tables).
make_backlog() { # make_backlog NAME
	local name=$1 start rows0 rows1
	start=$(q_src "SELECT pg_current_wal_lsn()")
	rows0=$(q_src "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables")
	while [ "$(q_src "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$start') < $BACKLOG_MB * 1048576::numeric")" = t ]; do
		pgbench -n -N -c 4 -j 2 -T 5 -h 127.0.0.1 -p "$SRC_PORT" -U postgres "$DB" >>"$LOGDIR/$name.backlog.log" 2>&1 || { note "pgbench failed: see $LOGDIR/$name.backlog.log"; return 1; }
	done
	sleep 1 # the backends' statistics reach the shared counters
	BACKLOG_END=$(q_src "SELECT pg_current_wal_lsn()")
	BACKLOG_BYTES=$(q_src "SELECT pg_wal_lsn_diff('$BACKLOG_END', '$start')::bigint")
	rows1=$(q_src "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables")
	BACKLOG_ROWS=$((rows1 - rows0))
}
# wait_slot LSN SECONDS: until the slot of $DB confirms LSN (the target has
# applied and flushed everything before it); fails after SECONDS.
wait_slot() {
	local i
	for i in $(seq 1 $(($2 * 5))); do
		[ "$(psql_src -At -d postgres -c "SELECT coalesce(bool_and(confirmed_flush_lsn >= '$1'), false) FROM pg_replication_slots WHERE database = '$DB'")" = t ] && return 0
		sleep 0.2
	done
	return 1
}
backlog_row() { # backlog_row NAME SECONDS -> a table row
	if [ "$2" = n/a ]; then echo "| $1 | n/a | n/a | n/a | n/a |"; return; fi
	echo "| $1 | $(calc "$BACKLOG_BYTES / 1048576" 0) | $BACKLOG_ROWS | $2 | $(calc "$BACKLOG_ROWS / $2" 0) |"
}
LOGICAL_CATCHUP_S=n/a
LOGICAL_BACKLOG_ROW="| native logical | not measured | | | |"
if [ "$LOGICAL_APPLY_STATUS" = ok ] && [ "$BACKLOG_MB" -gt 0 ]; then
	step "Native logical: catch-up of a $BACKLOG_MB MB WAL backlog (subscription disabled while pgbench -N -c 4 writes it)"
	SUB=$(q_dst "SELECT subname FROM pg_subscription LIMIT 1")
	q_dst "ALTER SUBSCRIPTION \"$SUB\" DISABLE" >/dev/null
	for i in $(seq 1 100); do
		[ -z "$(q_dst "SELECT pid FROM pg_stat_subscription WHERE subname = '$SUB' AND pid IS NOT NULL")" ] && break
		sleep 0.2
	done
	if make_backlog logical; then
		t0=$(now)
		q_dst "ALTER SUBSCRIPTION \"$SUB\" ENABLE" >/dev/null
		if wait_slot "$BACKLOG_END" 3600; then LOGICAL_CATCHUP_S=$(since "$t0"); fi
		LOGICAL_BACKLOG_ROW=$(backlog_row "native logical" "$LOGICAL_CATCHUP_S")
		LOGICAL_BACKLOG_ROWS=$BACKLOG_ROWS
	fi
	note "$LOGICAL_BACKLOG_ROW"
fi
reset_replication

# --- The stream engine: steady lag and catch-up, side by side with native ------
# apply with sync method stream, then `database-replicator sync` (the tool's
# own applier) in the background: the same load and samples as logical (slot
# bytes and row age; the subscription columns do not apply). Then the sync is
# stopped, the same WAL backlog written, and the sync started again: catch-up
# time from its start until the slot confirms the backlog's end. The peak RSS
# is the sync process's VmHWM (the applier runs inside it).
STREAM_LAG_ROW="| stream | apply failed | | | | | | |"
STREAM_CATCHUP_S=n/a
STREAM_BACKLOG_ROW="| stream | not measured | | | |"
STREAM_RSS_STEADY=n/a
STREAM_RSS_CATCHUP=n/a
start_stream_sync() { # start_stream_sync LOG: sets SYNC_PID
	REPLICATOR_VAR_sync_method=stream "$BIN" --no-color -c "$CONFIG" --state "$WORK/state.json" \
		sync >"$1" 2>&1 &
	SYNC_PID=$!
}
stop_stream_sync() { # stop_stream_sync: prints the process's peak RSS in MiB
	local hwm
	hwm=$(awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$SYNC_PID/status" 2>/dev/null || echo n/a)
	kill "$SYNC_PID" 2>/dev/null || true
	wait "$SYNC_PID" 2>/dev/null || true
	SYNC_PID=""
	echo "${hwm:-n/a}"
}
step "Stream engine: apply with sync method stream, sync in the background, pgbench -N -c 4 -T $LAG_SECONDS"
reset_target_db
rm -f "$WORK/state.json"
t0=$(now)
STREAM_APPLY_STATUS=ok
REPLICATOR_VAR_sync_method=stream R --state "$WORK/state.json" apply --auto-approve >"$LOGDIR/stream-apply.log" 2>&1 || STREAM_APPLY_STATUS="FAILED (see $LOGDIR/stream-apply.log)"
STREAM_APPLY_S=$(since "$t0")
note "apply (stream): ${STREAM_APPLY_S}s $STREAM_APPLY_STATUS"
if [ "$STREAM_APPLY_STATUS" = ok ]; then
	start_stream_sync "$LOGDIR/stream-sync.log"
	for i in $(seq 1 100); do
		[ "$(psql_src -At -d postgres -c "SELECT coalesce(bool_or(active), false) FROM pg_replication_slots WHERE database = '$DB'")" = t ] && break
		sleep 0.2
	done
	load_and_sample stream
	STREAM_RSS_STEADY=$(stop_stream_sync)
	f="$LOGDIR/stream.samples"
	TPS=$(grep -Eo 'tps = [0-9.]+' "$LOGDIR/stream.pgbench.log" | head -1 | awk '{ print $3 }')
	STREAM_LAG_ROW="| stream | $(col_stat "$f" 1 count) | $(col_stat "$f" 2 max) | $(col_stat "$f" 2 p95) | n/a | n/a | $(row_stat "$f" max) / $(row_stat "$f" p95) | ${TPS:-?} tps; first new row on the target after $(first_row "$f") s; caught up: $CATCHUP_ROWS_OK; sync's peak RSS $STREAM_RSS_STEADY MiB |"
	STREAM_ROWAGE_P95=$(row_stat "$f" p95)
	STREAM_BYTES_P95=$(col_stat "$f" 2 p95)
	note "$STREAM_LAG_ROW"
	if [ "$BACKLOG_MB" -gt 0 ]; then
		step "Stream engine: catch-up of a $BACKLOG_MB MB WAL backlog (sync stopped while pgbench -N -c 4 writes it)"
		if make_backlog stream; then
			t0=$(now)
			start_stream_sync "$LOGDIR/stream-catchup-sync.log"
			if wait_slot "$BACKLOG_END" 3600; then STREAM_CATCHUP_S=$(since "$t0"); fi
			STREAM_RSS_CATCHUP=$(stop_stream_sync)
			STREAM_BACKLOG_ROW=$(backlog_row "stream" "$STREAM_CATCHUP_S")
			STREAM_BACKLOG_ROWS=$BACKLOG_ROWS
		fi
		note "$STREAM_BACKLOG_ROW"
	fi
else
	STREAM_LAG_ROW="| stream | apply failed (see $LOGDIR/stream-apply.log) | | | | | | |"
fi
reset_replication
fi # XMIN_ONLY

# xmin lag: needs `database-replicator sync` (in progress elsewhere). Runs once
# the command exists: apply with sync method xmin, `sync --sync-interval 1s` in
# the background, the same load, lag = age of the newest bench_lag row on the target.
XMIN_ROW="| xmin | not measured: \`database-replicator sync\` does not exist yet | | | | | | |"
if "$BIN" sync --help >/dev/null 2>&1; then
	step "xmin lag: apply with sync method xmin, sync --sync-interval 1s, pgbench -N -c 4 -T $LAG_SECONDS"
	reset_target_db
	rm -f "$WORK/state.json"
	if REPLICATOR_VAR_sync_method=xmin R --state "$WORK/state.json" apply --auto-approve >"$LOGDIR/xmin-apply.log" 2>&1; then
		# the binary itself in the background (not the R function): $! must be its
		# PID, or the kill below would leave it running
		REPLICATOR_VAR_sync_method=xmin "$BIN" --no-color -c "$CONFIG" --state "$WORK/state.json" \
			--log-level "${XMIN_LOG_LEVEL:-info}" sync --sync-interval 1s >"$LOGDIR/xmin-sync.log" 2>&1 &
		SYNC_PID=$!
		sleep 3
		load_and_sample xmin
		kill "$SYNC_PID" 2>/dev/null || true
		wait "$SYNC_PID" 2>/dev/null || true
		SYNC_PID=""
		f="$LOGDIR/xmin.samples"
		TPS=$(grep -Eo 'tps = [0-9.]+' "$LOGDIR/xmin.pgbench.log" | head -1 | awk '{ print $3 }')
		XMIN_ROW="| xmin | $(col_stat "$f" 1 count) | n/a | n/a | n/a | n/a | $(row_stat "$f" max) / $(row_stat "$f" p95) | ${TPS:-?} tps; first new row on the target after $(first_row "$f") s; caught up: $CATCHUP_ROWS_OK; $(grep -c 'xmin cycle' "$LOGDIR/xmin-sync.log") sync cycles, last: $(grep 'xmin cycle' "$LOGDIR/xmin-sync.log" | tail -1 | sed 's/^xmin cycle [^:]*: //; s/|/\\|/g') |"
		XMIN_ROWAGE_P95=$(row_stat "$f" p95)
	else
		XMIN_ROW="| xmin | apply failed (see $LOGDIR/xmin-apply.log) | | | | | | |"
	fi
	note "$XMIN_ROW"
fi

# XMIN_ONLY=1 ran only the xmin lag case (no results file): for tuning.
if [ "${XMIN_ONLY:-0}" = 1 ]; then
	step "XMIN_ONLY=1: xmin row age p95 ${XMIN_ROWAGE_P95:-n/a} s, load $(cut -d' ' -f1-3 /proc/loadavg); no results file"
	exit 0
fi

# --- Targets -----------------------------------------------------------------
met() { # met EXPR -> met / not met / n/a
	case "$1" in *n/a*) echo "n/a"; return ;; esac
	awk "BEGIN { exit !($1) }" && echo "**met**" || echo "**not met**"
}
r_pgdump=$( [ "${MED[pgdump]}" = n/a ] || [ "$APPLY_MED" = n/a ] && echo n/a || calc "$APPLY_MED / ${MED[pgdump]}")
r_pgcopydb=$( [ "${MED[pgcopydb]}" = n/a ] || [ "$APPLY_MED" = n/a ] && echo n/a || calc "$APPLY_MED / ${MED[pgcopydb]}")
r_pipe=$( [ "${MED[pipe]}" = n/a ] || [ "$APPLY_MED" = n/a ] && echo n/a || calc "$APPLY_MED / ${MED[pipe]}")
ratio_of() { case "$1$2" in *n/a*|"") echo n/a ;; *) awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f", a / b }' ;; esac; }
STREAM_LAG_RATIO=$(ratio_of "${STREAM_ROWAGE_P95:-n/a}" "${LOGICAL_ROWAGE_P95:-n/a}")
# Time per row changed: the two backlogs are written separately and hold
# different numbers of rows for the same WAL (full-page images after a
# checkpoint), so the ratio compares seconds per row, not total seconds.
STREAM_CATCHUP_RATIO=n/a
if [ -n "${STREAM_BACKLOG_ROWS:-}" ] && [ -n "${LOGICAL_BACKLOG_ROWS:-}" ]; then
	STREAM_CATCHUP_RATIO=$(ratio_of "$STREAM_CATCHUP_S" "$LOGICAL_CATCHUP_S")
	case "$STREAM_CATCHUP_RATIO" in n/a) ;; *) STREAM_CATCHUP_RATIO=$(awk -v r="$STREAM_CATCHUP_RATIO" -v s="$STREAM_BACKLOG_ROWS" -v l="$LOGICAL_BACKLOG_ROWS" 'BEGIN { if (s + 0 == 0) print "n/a"; else printf "%.2f", r * l / s }') ;; esac
fi
TARGETS="| target | measured | result |
|---|---|---|
| apply ≤ 0.60 × pg_dump/pg_restore (issue 21; 0.70 in issue 7) | $r_pgdump × | $(met "$r_pgdump <= 0.60") |
| apply ≤ 0.85 × pgcopydb (issue 21; 0.95 in issue 7) | $r_pgcopydb × | $(met "$r_pgcopydb <= 0.85") |
| apply ≤ 1.05 × bare pipe | $r_pipe × | $(met "$r_pipe <= 1.05") |
| logical lag p95 < 1 s (pg_stat_subscription) | ${LOGICAL_P95_S:-n/a} s | $(met "${LOGICAL_P95_S:-n/a} < 1") |
| logical lag p95 < 1 s (newest-row age) | ${LOGICAL_ROWAGE_P95:-n/a} s | $(met "${LOGICAL_ROWAGE_P95:-n/a} < 1") |
| stream lag p95 < 1 s (newest-row age, issue 16) | ${STREAM_ROWAGE_P95:-n/a} s | $(met "${STREAM_ROWAGE_P95:-n/a} < 1") |
| stream lag p95 ≤ 1.5 × native logical (newest-row age, issue 16) | ${STREAM_LAG_RATIO} × | $(met "${STREAM_LAG_RATIO} <= 1.5") |
| stream catch-up of the WAL backlog ≤ 1.5 × native logical (issue 16; $BACKLOG_MB MB; seconds per row changed) | ${STREAM_CATCHUP_RATIO} × | $(met "${STREAM_CATCHUP_RATIO} <= 1.5") |
| xmin lag p95 ≤ 1.5 s (newest-row age, issue 21) | ${XMIN_ROWAGE_P95:-n/a} s | $(met "${XMIN_ROWAGE_P95:-n/a} <= 1.5") |
| verify ≥ 1.0 × bare hashing scan (issue 21; 0.8 in issue 7) | $VERIFY_RATIO × | $(met "$VERIFY_RATIO >= 1.0") |
| many tables: apply ≤ 0.85 × pgcopydb (issue 21; $MANY_TABLES tables) | $r_many_pgcopydb × | $(met "$r_many_pgcopydb <= 0.85") |
| peak RSS of apply ≤ 100 MB = 95.4 MiB (issue 21; SCALE $SCALE) | $RSS_MAX_MB MiB | $(met "$RSS_MAX_MB <= 95.4") |
| peak RSS of apply ≤ 100 MB = 95.4 MiB (issue 21; $MANY_TABLES tables) | $MANY_RSS_MB MiB | $(met "$MANY_RSS_MB <= 95.4") |
| plan on $PLAN_TABLES tables < 10 s (issue 21: 50,000 tables; issue 7: 5,000 in 5 s) | $PLAN_MED s | $(met "$PLAN_MED < 10") |"
step "Targets (issues 7, 16 and 21)"
printf '%s\n' "$TARGETS"

# --- Results file ------------------------------------------------------------
PG_VERSION=$(q_src "SHOW server_version")
MEM=$(free -h | awk '/^Mem:/ { print $2 }')
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
# One line per change of the last timed apply: finish time, address, elapsed, rows, bytes
# (xmin cursor entries, which take microseconds, are left out).
PHASES=$(grep -E 'applying plan|change finished|apply finished' "$LAST_APPLY_LOG" 2>/dev/null | grep -v 'xmin\[' |
	sed -E 's/^[0-9-]+T([0-9:.]+)Z \[[A-Z]+\] +database-replicator: /\1 /; s/change finished: address=//; s/ action=create//; s/\\"/"/g' || true)
{
	[ -s "$RESULTS" ] && echo
	echo "# Benchmark results, $STARTED UTC ($BENCH_KIND, $REV)"
	echo
	echo "Produced by \`make bench$([ "$BENCH_KIND" = quick ] && echo -quick)\` (bench/run.sh). See [docs/performance.md](../../docs/performance.md)."
	echo "Every run appends its report to this file and one line to [history.md](history.md)."
	echo
	echo "## Machine and settings"
	echo
	echo "| | |"
	echo "|---|---|"
	echo "| CPU | $(nproc) cores, $CPU |"
	echo "| memory | $MEM |"
	echo "| kernel | $(uname -r) |"
	echo "| PostgreSQL | $PG_VERSION (both clusters on this machine, 127.0.0.1) |"
	echo "| pgcopydb | $(pgcopydb --version 2>&1 | grep -m1 -Eo 'pgcopydb version [^ ]+') |"
	echo "| Go | $(go version | awk '{ print $3 }') |"
	echo "| database-replicator | built from $REV$DIRTY at the start of the run |"
	echo "| SCALE / BLOB_ROWS | $SCALE / $BLOB_ROWS |"
	echo "| JOBS / RUNS | $JOBS / $RUNS |"
	echo "| load average (1/5/15 min) | before the copies: $LOAD_BEFORE; after: $LOAD_AFTER (the benchmark alone keeps the 1-min value near 2) |"
	echo "| source size | $SRC_MB MiB (pg_database_size), generated in ${GEN_SECONDS}s |"
	echo
	echo "Server settings, identical on source and target (**fsync is off on both**: the numbers"
	echo "measure copying, not the disk):"
	echo
	echo '```'
	echo "$PG_SETTINGS"
	echo '```'
	echo
	echo "Source tables:"
	echo
	echo '```'
	cat "$LOGDIR/tables.txt"
	echo '```'
	echo
	echo "## Copy"
	echo
	echo "Each method copies into a freshly created, empty target database; runs are interleaved"
	echo "(pg_dump, pgcopydb, apply, pipe, then again). After every run the row count and an"
	echo "order-independent md5 of every table's rows are compared with the source; a mismatch"
	echo "is FAILED and not counted. database-replicator runs with \`sync { method = \"$COPY_SYNC_METHOD\" }\`"
	echo "(a plain copy inside one exported snapshot, no publication/slot/subscription, like the"
	echo "other methods) and"
	echo "\`globals = false\` (none of the others copies roles). MB/s = source database size ÷"
	echo "median wall seconds. \"× apply time\" is this method's time ÷ apply's; \"apply ÷ this\""
	echo "is what the targets below compare."
	echo
	printf '%s\n' "$COPY_TABLE"
	echo "Peak RSS of database-replicator during apply (\`/usr/bin/time -v\`, maximum resident set"
	echo "size): median $RSS_MED_MB MiB, max $RSS_MAX_MB MiB."
	echo
	echo "Every run:"
	echo
	echo "| run | method | wall s | result |"
	echo "|---|---|---|---|"
	printf '%s' "$RUN_LINES"
	echo
	echo "## verify"
	echo
	echo "| | seconds | MB/s | result |"
	echo "|---|---|---|---|"
	echo "| database-replicator verify | $VERIFY_S | $VERIFY_MBS | $VERIFY_STATUS |"
	echo "| bare hashing scan (\`sum(hashtext(t::text))\` per table, source and target in parallel) | $BARE_S | $BARE_MBS | $BARE_STATUS |"
	echo "| for comparison: an md5 per row folded into a numeric sum (verify's row hash before commit d6d9852) | $MD5_S | $MD5_MBS | $MD5_STATUS |"
	echo
	echo "verify ÷ bare scan throughput: $VERIFY_RATIO ×. Per table (\`verify --json\`):"
	echo
	echo '```'
	printf '%s\n' "$VERIFY_TABLES"
	echo '```'
	echo
	echo "## plan on $PLAN_TABLES tables"
	echo
	echo "A source database with $PLAN_TABLES tables (primary key, one index, 10 rows each), an empty"
	echo "target: \`database-replicator plan\` took $PLAN_TIMES seconds (median $PLAN_MED s)."
	echo
	if [ "$MANY_TABLES" -gt 0 ]; then
		echo "## Many tables"
		echo
		echo "$MANY_TABLES tables of $MANY_ROWS rows ($MANY_MB MiB; primary key, index and foreign key each,"
		echo "[bench/many_tables.sql](../many_tables.sql)), $RUNS interleaved runs, each checked table by table."
		echo
		echo "| method | median s | apply ÷ this |"
		echo "|---|---|---|"
		echo "| pg_dump -Fd -j $JOBS + pg_restore -j $JOBS | $MANY_PGDUMP | $r_many_pgdump |"
		echo "| pgcopydb clone | $MANY_PGCOPYDB | $r_many_pgcopydb |"
		echo "| database-replicator apply | $MANY_APPLY | 1.00 |"
		echo
		echo "Runs: pg_dump $MANY_TIMES_pgdump; pgcopydb $MANY_TIMES_pgcopydb; apply $MANY_TIMES_replicator s; $MANY_FAILS failed. Peak RSS of apply: $MANY_RSS_MB MiB."
		echo
	fi
	echo "## Replication lag"
	echo
	echo "Load: \`pgbench -N -c 4 -j 2 -T $LAG_SECONDS\` plus [bench/lag_insert.sql](../lag_insert.sql) (one"
	echo "row with \`clock_timestamp()\` per transaction) on the source; sampled every 0.2 s while pgbench runs."
	echo "Slot bytes = \`pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)\` on the source;"
	echo "subscription s = \`clock_timestamp() - latest_end_time\` from \`pg_stat_subscription\` on the target (what"
	echo "\`status --json\` reports as lag_seconds); row age = \`clock_timestamp()\` − timestamp of the newest"
	echo "replicated row on the target. The logical apply of the full database took ${LOGICAL_APPLY_S}s."
	echo
	echo "| method | samples | slot bytes max | slot bytes p95 | subscription s max | subscription s p95 | row age s max / p95 | notes |"
	echo "|---|---|---|---|---|---|---|---|"
	echo "$LAG_ROW"
	echo "$STREAM_LAG_ROW"
	echo "$XMIN_ROW"
	echo
	echo "xmin: \`database-replicator sync --sync-interval 1s\` runs in the background during the load;"
	echo "only the row age applies. pgbench_history has no primary key, so each xmin cycle that sees"
	echo "a change compares it with the target as a multiset of rows (docs/sync.md), and it grows during the load."
	echo
	echo "stream: the tool's own applier (\`database-replicator sync\` in the background, sync method"
	echo "stream; apply of the full database ${STREAM_APPLY_S:-n/a}s) under the same load; the slot bytes are what"
	echo "the applier reported committed on the target; there is no subscription."
	echo
	echo "## Stream engine vs native logical"
	echo
	echo "Same run, same machine, same load. Catch-up: the applier stopped (native: the"
	echo "subscription disabled) while \`pgbench -N -c 4\` writes ${BACKLOG_MB} MB of WAL, then started (native:"
	echo "enabled); seconds until the slot confirms the source's position after the backlog"
	echo "(stream: from the start of the \`sync\` process, its start-up included). Rows = rows"
	echo "inserted, updated or deleted on the source during the backlog (pg_stat_user_tables)."
	echo
	echo "| engine | WAL MiB | rows | catch-up s | rows/s |"
	echo "|---|---|---|---|---|"
	echo "$LOGICAL_BACKLOG_ROW"
	echo "$STREAM_BACKLOG_ROW"
	echo
	echo "| | native logical | stream | stream ÷ native |"
	echo "|---|---|---|---|"
	echo "| steady lag: newest-row age p95 s | ${LOGICAL_ROWAGE_P95:-n/a} | ${STREAM_ROWAGE_P95:-n/a} | $STREAM_LAG_RATIO |"
	echo "| steady lag: slot bytes p95 | ${LOGICAL_BYTES_P95:-n/a} | ${STREAM_BYTES_P95:-n/a} | $(ratio_of "${STREAM_BYTES_P95:-n/a}" "${LOGICAL_BYTES_P95:-n/a}") |"
	echo "| backlog catch-up s (ratio: seconds per row changed) | $LOGICAL_CATCHUP_S | $STREAM_CATCHUP_S | $STREAM_CATCHUP_RATIO |"
	echo "| peak RSS of the applier MiB (sync process VmHWM: steady / catch-up) | n/a (a server worker) | $STREAM_RSS_STEADY / $STREAM_RSS_CATCHUP | |"
	echo
	echo "## Targets (issues 7, 16 and 21)"
	echo
	printf '%s\n' "$TARGETS"
	echo
	PGCOPYDB_SUMMARY=$(sed -n '/OID | Schema/,/Total Wall Clock/p' "$LOGDIR/pgcopydb-$RUNS.log" 2>/dev/null || true)
	if [ -n "$PGCOPYDB_SUMMARY" ]; then
		echo "## pgcopydb's own summary of its last run"
		echo
		echo '```'
		printf '%s\n' "$PGCOPYDB_SUMMARY"
		echo '```'
		echo
	fi
	if [ -n "$PHASES" ]; then
		echo "## database-replicator log of the last timed apply (completion lines)"
		echo
		echo '```'
		printf '%s\n' "$PHASES"
		echo '```'
	fi
} >>"$RESULTS"

# --- History -------------------------------------------------------------------
# One line per run, never rewritten: a regression shows as a row that differs
# from the rows above it (compare rows of the same kind and scale, and mind the
# load average: other work on the machine slows every method alike).
if [ ! -s "$HISTORY" ]; then
	{
		echo "# Benchmark history"
		echo
		echo "One row per \`make bench\` / \`make bench-quick\` run, appended by bench/run.sh (newest last)."
		echo "Copy columns: median wall seconds of the interleaved runs; ratios are apply's time ÷ the"
		echo "other method's (lower is better). Load: 1-minute load average before / after the copies."
		echo
		echo "| started (UTC) | commit | kind | scale | MiB | runs | load | pg_dump+restore s | pgcopydb s | apply s | pipe s | apply ÷ pg_dump | apply ÷ pgcopydb | apply RSS MiB | verify ÷ bare scan | plan s (tables) | logical row age p95 s | xmin row age p95 s | many tables: apply ÷ pgcopydb (tables) | many tables: apply RSS MiB |"
		echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	} >"$HISTORY"
fi
echo "| $STARTED | $REV${DIRTY:+ (dirty)} | $BENCH_KIND | $SCALE | $SRC_MB | $RUNS | ${LOAD_BEFORE%% *} / ${LOAD_AFTER%% *} | ${MED[pgdump]:-n/a} | ${MED[pgcopydb]:-n/a} | $APPLY_MED | ${MED[pipe]:-n/a} | $r_pgdump | $r_pgcopydb | $RSS_MAX_MB | $VERIFY_RATIO | $PLAN_MED ($PLAN_TABLES) | ${LOGICAL_ROWAGE_P95:-n/a} | ${XMIN_ROWAGE_P95:-n/a} | $r_many_pgcopydb ($MANY_TABLES) | $MANY_RSS_MB |" >>"$HISTORY"
step "Results appended to $RESULTS, one line to $HISTORY (logs in $LOGDIR)"
