#!/usr/bin/env bash
# make bench-scale: the scale curve. For each SCALE in SCALES, a fresh pgbench
# source (plus bench_blobs scaled with it), RUNS timed applies into an empty
# target (each checked table by table), seconds per GB and peak RSS per size,
# a linear fit of seconds against GB, and a plot. See docs/performance.md.
#
# Settings (environment):
#   SCALES="10 50 150"  pgbench scales, one point of the curve each
#   RUNS=2              timed applies per size (the median is the point)
#   JOBS=2              snapshot jobs and index_jobs
#   BLOB_ROWS_PER_SCALE=4000  rows of bench_blobs per pgbench scale unit
#   PGBIN, BIN_DIR, BENCH_REV, LOGDIR  as for bench/run.sh
#   RESULTS    report file (default bench/results/<YYYY-MM-DD>-scale.md)
#   PLOT       SVG plot (default bench/results/<YYYY-MM-DD>-<HHMM>-scale.svg)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
SCALES="${SCALES:-10 50 150}"
RUNS="${RUNS:-2}"
JOBS="${JOBS:-2}"
BLOB_ROWS_PER_SCALE="${BLOB_ROWS_PER_SCALE:-4000}"
PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
TODAY="$(date -u +%F)"
STARTED="$(date -u '+%F %H:%M')"
RESULTS="${RESULTS:-$ROOT/bench/results/$TODAY-scale.md}"
PLOT="${PLOT:-$ROOT/bench/results/$TODAY-$(date -u +%H%M)-scale.svg}"
LOGDIR="${LOGDIR:-/tmp/bench-scale-logs-$TODAY-$(date +%H%M%S)}"
BIN_DIR="${BIN_DIR:-/tmp/bench-bin}"
BIN="$BIN_DIR/database-replicator"
CONFIG="$ROOT/bench/replication.hcl"
DB=bench
export PATH="$PGBIN:$PATH"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
note() { printf '    %s\n' "$*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
mkdir -p "$LOGDIR" "$(dirname "$RESULTS")"

step "Building database-replicator into $BIN"
mkdir -p "$BIN_DIR"
go build -o "$BIN" ./cmd/database-replicator
REV=${BENCH_REV:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
[ -x "$PGBIN/initdb" ] || { echo "bench-scale: no initdb in $PGBIN (set PGBIN)" >&2; exit 1; }
[ -x /usr/bin/time ] || apt-get install -y time >"$LOGDIR/apt.log" 2>&1

# Two clusters with bench/run.sh's settings (fsync off: the curve measures
# copying, not the disk).
WORK="$(mktemp -d /tmp/bench-scale-XXXXXX)"
chmod 755 "$WORK"
chown postgres "$WORK"
as_pg() { runuser -u postgres -- "$@"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SRC_PORT="$(free_port)"
DST_PORT="$(free_port)"
while [ "$DST_PORT" = "$SRC_PORT" ]; do DST_PORT="$(free_port)"; done
cleanup() {
	for n in source target; do
		[ -f "$WORK/$n/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$WORK/$n" stop -m immediate >/dev/null 2>&1 || true
		cp "$WORK/$n-server.log" "$LOGDIR/" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
step "Starting two clusters (source :$SRC_PORT, target :$DST_PORT) in $WORK"
for n in source target; do
	port=$SRC_PORT; [ $n = target ] && port=$DST_PORT
	as_pg "$PGBIN/initdb" -D "$WORK/$n" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
	cat >> "$WORK/$n/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
wal_level = logical
fsync = off
shared_buffers = 512MB
maintenance_work_mem = 256MB
max_wal_size = 8GB
checkpoint_timeout = 30min
CONF
	as_pg "$PGBIN/pg_ctl" -D "$WORK/$n" -l "$WORK/$n-server.log" -w start >/dev/null
done
psql_src() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$SRC_PORT" -U postgres "$@"; }
psql_dst() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$DST_PORT" -U postgres "$@"; }
export REPLICATOR_VAR_source_url="postgres://postgres@127.0.0.1:$SRC_PORT/postgres"
export REPLICATOR_VAR_target_url="postgres://postgres@127.0.0.1:$DST_PORT/postgres"
export REPLICATOR_VAR_jobs="$JOBS" REPLICATOR_VAR_database="$DB" REPLICATOR_VAR_sync_method=none

# Row count of every user table, one "table count" line each.
counts() { # counts src|dst
	local fn=psql_src; [ "$1" = dst ] && fn=psql_dst
	"$fn" -d "$DB" -At -c "SELECT format('%I.%I', schemaname, relname) FROM pg_stat_user_tables ORDER BY 1" |
		while read -r t; do echo "$t $("$fn" -d "$DB" -At -c "SELECT count(*) FROM $t")"; done
}

POINTS="$LOGDIR/points.tsv" # scale, MiB, GB, median s, s/GB, peak RSS MiB, every run's seconds
: >"$POINTS"
LOADS=""
for scale in $SCALES; do
	step "SCALE $scale: generating the source"
	PGOPTIONS="-c client_min_messages=warning" psql_src -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
	pgbench -i -s "$scale" --foreign-keys -q -h 127.0.0.1 -p "$SRC_PORT" -U postgres "$DB" >"$LOGDIR/pgbench-init-$scale.log" 2>&1
	psql_src -d "$DB" -v scale="$scale" -v rows="$((scale * BLOB_ROWS_PER_SCALE))" -f bench/extra_tables.sql >/dev/null
	psql_src -d "$DB" -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null
	bytes=$(psql_src -d "$DB" -At -c "SELECT pg_database_size('$DB')")
	counts src >"$LOGDIR/source-$scale.counts"
	secs_list=""; rss_list=""
	for run in $(seq 1 "$RUNS"); do
		PGOPTIONS="-c client_min_messages=warning" psql_dst -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
		rm -f "$WORK/state.json"*
		LOADS+="$(cut -d' ' -f1 /proc/loadavg) "
		log="$LOGDIR/apply-$scale-$run.log"
		t0=$(now)
		/usr/bin/time -v -o "$log.time" "$BIN" --no-color -c "$CONFIG" --state "$WORK/state.json" apply --auto-approve >"$log" 2>&1 ||
			{ echo "bench-scale: apply failed at SCALE $scale (see $log)" >&2; exit 1; }
		secs=$(since "$t0")
		counts dst >"$LOGDIR/target-$scale-$run.counts"
		cmp -s "$LOGDIR/source-$scale.counts" "$LOGDIR/target-$scale-$run.counts" ||
			{ echo "bench-scale: the copy at SCALE $scale run $run differs from the source (see $LOGDIR/*-$scale*.counts)" >&2; exit 1; }
		rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$log.time")
		note "run $run: ${secs}s, peak RSS ${rss} MiB, rows equal"
		secs_list+="$secs "; rss_list+="$rss "
	done
	echo -e "$scale\t$bytes\t$secs_list\t$rss_list" >>"$POINTS"
done
LOAD_AFTER=$(cut -d' ' -f1 /proc/loadavg)

step "Report and plot"
REPORT=$(python3 bench/scale_plot.py "$POINTS" "$PLOT" "SCALE $SCALES, JOBS $JOBS, $REV, $STARTED UTC")
{
	[ -s "$RESULTS" ] && echo
	echo "# Scale curve, $STARTED UTC ($REV)"
	echo
	echo "Produced by \`make bench-scale\` (bench/scale.sh, SCALES=\"$SCALES\", RUNS=$RUNS, JOBS=$JOBS,"
	echo "bench_blobs $BLOB_ROWS_PER_SCALE rows per scale unit). $(nproc) cores, PostgreSQL $(psql_src -d postgres -At -c 'SHOW server_version'),"
	echo "fsync off on both clusters. 1-minute load average at each run's start: $LOADS; at the end: $LOAD_AFTER."
	echo "Every copy was checked (row count of every table equal to the source's)."
	echo
	printf '%s\n' "$REPORT"
	echo
	echo "Plot: [$(basename "$PLOT")]($(basename "$PLOT"))"
} >>"$RESULTS"
printf '%s\n' "$REPORT"
step "Appended to $RESULTS; plot $PLOT (logs in $LOGDIR)"
