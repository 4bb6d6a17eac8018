#!/usr/bin/env bash
# The cutover case of make bench: a scale-SCALE source under pgbench -N -c 4
# the whole time, logical sync, then `cutover --verify quick --json`; RUNS
# times, each on a freshly applied replication. Reports the median and max
# of the write-unavailability window and of every phase, and checks after
# each run that pgbench_history (one row per committed pgbench transaction)
# has the same row count and checksum on both sides: no lost transaction.
# See docs/performance.md.
#
# Settings (environment):
#   SCALE=50    pgbench scale of the source
#   RUNS=5      cutovers (CUTOVER_RUNS overrides RUNS, which make bench's copy runs share)
#   PGBIN       PostgreSQL server binaries (default /usr/lib/postgresql/15/bin)
#   RESULTS     results file the section is appended to (default bench/results/<YYYY-MM-DD>.md)
#   LOGDIR      where every command's output is kept (default /tmp/bench-cutover-logs-<date>-<time>)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

SCALE="${SCALE:-50}"
RUNS="${CUTOVER_RUNS:-${RUNS:-5}}"
PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
TODAY="$(date +%F)"
RESULTS="${RESULTS:-$ROOT/bench/results/$TODAY.md}"
LOGDIR="${LOGDIR:-/tmp/bench-cutover-logs-$TODAY-$(date +%H%M%S)}"
BIN_DIR=/tmp/bench-bin
BIN="$BIN_DIR/database-replicator"
CONFIG="$ROOT/bench/cutover.hcl"
DB=bench
export PATH="$PGBIN:$PATH"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
note() { printf '    %s\n' "$*"; }

mkdir -p "$LOGDIR" "$(dirname "$RESULTS")" "$BIN_DIR"

step "Building database-replicator into $BIN"
go build -o "$BIN" ./cmd/database-replicator 2>"$LOGDIR/build.log" || { cat "$LOGDIR/build.log" >&2; exit 1; }
REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -x "$PGBIN/initdb" ] || { echo "bench: no initdb in $PGBIN (apt-get install postgresql-15 or set PGBIN)" >&2; exit 1; }

WORK="$(mktemp -d /tmp/bench-cutover-XXXXXX)"
chmod 755 "$WORK"
chown postgres "$WORK"
as_pg() { runuser -u postgres -- "$@"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SRC_PORT="$(free_port)"
DST_PORT="$(free_port)"
while [ "$DST_PORT" = "$SRC_PORT" ]; do DST_PORT="$(free_port)"; done
LOAD_PID=""

stop_load() {
	[ -n "$LOAD_PID" ] || return 0
	touch "$WORK/stop-load"
	wait "$LOAD_PID" 2>/dev/null || true
	LOAD_PID=""
	rm -f "$WORK/stop-load"
}
cleanup() {
	stop_load
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
max_wal_size = 8GB
max_replication_slots = 20
max_wal_senders = 20
CONF
	as_pg "$PGBIN/pg_ctl" -D "$WORK/$n" -l "$WORK/$n-server.log" -w start >/dev/null
done

psql_src() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$SRC_PORT" -U postgres "$@"; }
psql_dst() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$DST_PORT" -U postgres "$@"; }
q_src() { psql_src -At -d "$DB" -c "$1"; }
q_dst() { psql_dst -At -d "$DB" -c "$1"; }
export REPLICATOR_VAR_source_url="postgres://postgres@127.0.0.1:$SRC_PORT/postgres"
export REPLICATOR_VAR_target_url="postgres://postgres@127.0.0.1:$DST_PORT/postgres"
STATE="$WORK/state.json"
R() { "$BIN" --no-color -c "$CONFIG" --state "$STATE" "$@"; }

step "Generating the source: pgbench -i -s $SCALE"
psql_src -d postgres -c "CREATE DATABASE $DB"
pgbench -i -s "$SCALE" -q -h 127.0.0.1 -p "$SRC_PORT" -U postgres "$DB" >"$LOGDIR/pgbench-init.log" 2>&1

# pgbench -N -c 4 against the source until stop_load: clients that the
# fence ends are started again (they then fail on read-only errors until
# the load stops), as an application's connection pool would reconnect.
start_load() {
	local log="$1"
	(
		while [ ! -f "$WORK/stop-load" ]; do
			pgbench -n -N -c 4 -j 2 -T 600 -h 127.0.0.1 -p "$SRC_PORT" -U postgres "$DB" >>"$log" 2>&1 &
			local p=$!
			while kill -0 "$p" 2>/dev/null && [ ! -f "$WORK/stop-load" ]; do sleep 0.2; done
			kill -INT "$p" 2>/dev/null || true
			wait "$p" 2>/dev/null || true
			sleep 0.2
		done
	) &
	LOAD_PID=$!
}

HISTORY_SUM="SELECT count(*) || ' ' || coalesce(md5(string_agg(format('%s %s %s %s %s', tid, bid, aid, delta, mtime), ',' ORDER BY mtime, aid, tid, delta)), '') FROM pgbench_history"
RUNS_JSON=()
FAILED=0
for i in $(seq 1 "$RUNS"); do
	step "Run $i/$RUNS: fresh replication, pgbench -N -c 4, cutover --verify quick --json"
	# Reset: the source unfenced, the target database and the state gone,
	# leftover replication objects dropped, then apply (logical) again.
	psql_src -d postgres -c "ALTER DATABASE $DB RESET default_transaction_read_only"
	psql_src -d "$DB" -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active" >/dev/null
	psql_src -d "$DB" -c "DO \$\$DECLARE p text; BEGIN FOR p IN SELECT pubname FROM pg_publication LOOP EXECUTE format('DROP PUBLICATION %I', p); END LOOP; END\$\$" >/dev/null
	psql_dst -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
	rm -f "$STATE"
	R apply --auto-approve >"$LOGDIR/run$i-apply.log" 2>&1 || { note "apply failed: see $LOGDIR/run$i-apply.log"; FAILED=1; continue; }
	start_load "$LOGDIR/run$i-pgbench.log"
	# Streaming, every table ready, and some load replicated before the cutover.
	for _ in $(seq 1 600); do
		[ "$(q_dst "SELECT count(*) = 0 FROM pg_subscription_rel WHERE srsubstate <> 'r'")" = t ] &&
			[ "$(q_src "SELECT count(*) > 0 FROM pg_replication_slots WHERE active")" = t ] && break
		sleep 0.5
	done
	sleep 5
	set +e
	R cutover --auto-approve --verify quick --json >"$LOGDIR/run$i-cutover.json" 2>"$LOGDIR/run$i-cutover.err"
	rc=$?
	set -e
	stop_load
	if [ "$rc" != 0 ]; then
		note "cutover failed (exit $rc): see $LOGDIR/run$i-cutover.err"
		FAILED=1
		continue
	fi
	src_sum=$(q_src "$HISTORY_SUM")
	dst_sum=$(q_dst "$HISTORY_SUM")
	same=yes
	[ "$src_sum" = "$dst_sum" ] || { same=no; FAILED=1; }
	note "pgbench_history: source ${src_sum%% *} rows, target ${dst_sum%% *} rows, checksums equal: $same"
	echo "$same" >"$LOGDIR/run$i-history-equal"
	RUNS_JSON+=("$LOGDIR/run$i-cutover.json")
done

step "Cutover results ($RUNS runs, scale $SCALE)"
SECTION=$(python3 - "$SCALE" "$RUNS" "$REV" "$LOGDIR" "${RUNS_JSON[@]}" <<'PY'
import json, statistics, sys, os
scale, runs, rev, logdir, files = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:]
windows, phases, order, equal = [], {}, [], []
for f in files:
    rep = json.load(open(f))["report"]
    windows.append(rep["write_unavailable_seconds"])
    for p in rep["phases"]:
        if p["name"] not in phases:
            order.append(p["name"])
        phases.setdefault(p["name"], []).append(p["seconds"])
    n = os.path.basename(f).split("-")[0]
    equal.append(open(os.path.join(logdir, n + "-history-equal")).read().strip())
def mm(xs):
    return ("%.2f" % statistics.median(xs), "%.2f" % max(xs)) if xs else ("n/a", "n/a")
out = ["## Cutover", "",
       "Scale-%s source under `pgbench -N -c 4` (clients restarted after the fence), logical sync, "
       "`cutover --auto-approve --verify quick --json`; %d of %d runs completed (%s). "
       "Write-unavailability window = fence of the source → target ready." % (scale, len(files), runs, rev), "",
       "| measure | median s | max s |", "|---|---|---|"]
w = mm(windows)
out.append("| **write-unavailability window** | %s | %s |" % w)
for name in order:
    out.append("| phase %s | %s | %s |" % ((name,) + mm(phases[name])))
lost = sum(1 for e in equal if e != "yes")
out += ["", "pgbench_history equal on both sides (count and checksum) after every run: %s (%d run(s) differing)." % ("yes" if lost == 0 and files else "NO", lost),
        "Target: median window under 5 s, no lost transaction: %s." % ("met" if files and statistics.median(windows) < 5 and lost == 0 and len(files) == runs else "NOT met")]
print("\n".join(out))
PY
)
echo "$SECTION"
{ echo; echo "$SECTION"; } >>"$RESULTS"
step "Appended to $RESULTS (logs in $LOGDIR)"
exit "$FAILED"
