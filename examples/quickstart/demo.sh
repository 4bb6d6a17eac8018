#!/usr/bin/env bash
# make demo: two throwaway local PostgreSQL clusters, sample data, then
# plan, apply, live sync and a row-by-row comparison. Everything lives under
# one temporary directory that is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN="$PWD/bin/database-replicator"
CONFIG="$PWD/examples/quickstart/replication.hcl"

PGBIN="${PGBIN:-}"
if [ -z "$PGBIN" ]; then
	PGBIN="$(pg_config --bindir 2>/dev/null || true)"
	[ -x "$PGBIN/initdb" ] || PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
fi
[ -x "$PGBIN/initdb" ] || { echo "demo: PostgreSQL server binaries not found: apt-get install postgresql (or set PGBIN)" >&2; exit 1; }

WORK="$(mktemp -d /tmp/replicator-demo-XXXXXX)"
chmod 755 "$WORK"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$WORK"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SRC_PORT="$(free_port)"
DST_PORT="$(free_port)"

cleanup() {
	for n in source target; do
		[ -f "$WORK/$n/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$WORK/$n" stop -m immediate >/dev/null 2>&1 || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Starting two throwaway clusters (source :$SRC_PORT, target :$DST_PORT) in $WORK"
for n in source target; do
	port=$SRC_PORT; [ $n = target ] && port=$DST_PORT
	as_pg "$PGBIN/initdb" -D "$WORK/$n" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
	cat >> "$WORK/$n/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
wal_level = logical
fsync = off
CONF
	as_pg "$PGBIN/pg_ctl" -D "$WORK/$n" -l "$WORK/$n.log" -w start >/dev/null
done

psql_src() { "$PGBIN/psql" -X -q -h 127.0.0.1 -p "$SRC_PORT" -U postgres "$@"; }
psql_dst() { "$PGBIN/psql" -X -q -h 127.0.0.1 -p "$DST_PORT" -U postgres "$@"; }

step "Loading sample data into the source (examples/quickstart/seed.sql)"
psql_src -v ON_ERROR_STOP=1 -d postgres -f examples/quickstart/seed.sql >/dev/null

export REPLICATOR_VAR_source_url="postgres://postgres@127.0.0.1:$SRC_PORT/postgres"
export TARGET_URL="postgres://postgres@127.0.0.1:$DST_PORT/postgres"
R() { "$BIN" -c "$CONFIG" --state "$WORK/replicator.state.json" "$@"; }

step "database-replicator plan"
R plan

step "database-replicator apply --auto-approve"
R apply --auto-approve

counts() {
	printf '%-22s %10s %10s\n' table source target
	for t in public.customers public.orders billing.invoices public.page_views public.audit_log; do
		s=$(psql_src -d shop -At -c "SELECT count(*) FROM $t")
		d=$(psql_dst -d shop -At -c "SELECT count(*) FROM $t")
		printf '%-22s %10s %10s\n' "$t" "$s" "$d"
	done
}
step "Row counts after the snapshot (orders: last year only; audit_log: structure only)"
counts

step "Live sync: writing to the source"
psql_src -d shop -c "INSERT INTO public.customers (email) VALUES ('new@example.com');
  INSERT INTO public.orders (customer_id, details) SELECT id, '{\"items\": 1}' FROM public.customers WHERE email = 'new@example.com';
  UPDATE public.orders SET status = 'shipped' WHERE id = 1;
  DELETE FROM public.page_views WHERE path = '/product/7';"
for _ in $(seq 1 100); do
	[ "$(psql_dst -d shop -At -c "SELECT count(*) FROM public.customers")" = 2001 ] && break
	sleep 0.1
done
counts

step "Comparing every replicated row (md5 over each table, source vs target)"
ok=1
for t in public.customers billing.invoices public.page_views; do
	q="SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) FROM $t x"
	s=$(psql_src -d shop -At -c "$q"); d=$(psql_dst -d shop -At -c "$q")
	if [ "$s" = "$d" ]; then echo "  $t: equal"; else echo "  $t: DIFFERENT"; ok=0; fi
done
[ $ok = 1 ] || { echo "demo: source and target differ" >&2; exit 1; }

step "Plan after apply: nothing left to do"
R plan --detailed-exitcode
echo
echo "Demo finished; the clusters are removed now."
