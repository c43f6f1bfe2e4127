#!/usr/bin/env bash
# Demo on a throwaway cluster: archive WAL under pgbench load through archive_library = 'pg_ark',
# take a full backup from SQL while pgbench runs, then an incremental one that stores only the
# changed blocks, lose the data directory, restore the chain with `pg_ark restore`, and show the
# data back. Run as root (it uses the postgres OS user for
# PostgreSQL and the helper); leaves nothing running.
set -euo pipefail

bindir=$(pg_config --bindir)
demo=$(mktemp -d /tmp/pg_ark_demo.XXXXXX)
chown postgres: "$demo"
as_pg() { runuser -u postgres -- env PATH="$bindir:/usr/local/bin:$PATH" "$@"; }
port=${PG_ARK_DEMO_PORT:-54329}
cleanup() {
  as_pg pg_ctl -D "$demo/data" stop -m fast >/dev/null 2>&1 || true
  if [ -f "$demo/helper.pid" ]; then
    kill "$(cat "$demo/helper.pid")" 2>/dev/null || true
    wait 2>/dev/null || true
  fi
  [ -z "${PG_ARK_DEMO_KEEP:-}" ] && rm -rf "$demo"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "create a throwaway cluster in $demo/data"
as_pg initdb -D "$demo/data" --data-checksums -A trust >/dev/null
as_pg mkdir -m 0700 "$demo/run"

step "helper configuration ($demo/pg_ark.conf)"
cat > "$demo/pg_ark.conf" <<CONF
[global]
repo-path = $demo/repo
socket-path = $demo/run/pg_ark.sock
compress-type = zstd
compress-level = 1
log-level = info

[demo]
pgdata = $demo/data
CONF
chown postgres: "$demo/pg_ark.conf"
cat "$demo/pg_ark.conf"

step "register the cluster and start the helper"
as_pg pg_ark init --config "$demo/pg_ark.conf" --cluster demo
# exec keeps the pid, so the pid file names the helper itself rather than runuser
as_pg sh -c 'echo $$ > "$1/helper.pid"; exec pg_ark server --config "$1/pg_ark.conf"' sh "$demo" \
  >"$demo/helper.log" 2>&1 &
for _ in $(seq 100); do [ -S "$demo/run/pg_ark.sock" ] && break; sleep 0.1; done

step "configure PostgreSQL to archive through pg_ark and start it"
cat >>"$demo/data/postgresql.conf" <<CONF
port = $port
unix_socket_directories = '$demo/run'
listen_addresses = ''
archive_mode = on
archive_library = 'pg_ark'
shared_preload_libraries = 'pg_ark'    # the block tracker behind incremental backups
pg_ark.cluster = 'demo'
pg_ark.socket_path = '$demo/run/pg_ark.sock'
CONF
as_pg pg_ctl -D "$demo/data" -l "$demo/postgres.log" start -w >/dev/null
psql_demo() { as_pg psql -X -h "$demo/run" -p "$port" -d postgres "$@"; }
psql_demo -qc "CREATE EXTENSION pg_ark" -c "SELECT helper_ping()"

step "pgbench load with WAL switches"
as_pg pgbench -h "$demo/run" -p "$port" -i -s 2 -q postgres 2>&1 | tail -n 1
for _ in 1 2 3; do
  as_pg pgbench -h "$demo/run" -p "$port" -c 2 -t 1500 -n postgres 2>&1 | grep -E '^tps' || true
  psql_demo -qAtc "SELECT pg_switch_wal()" >/dev/null
done
for _ in $(seq 300); do
  ls "$demo/data/pg_wal/archive_status/"*.ready >/dev/null 2>&1 || break
  sleep 0.1
done
psql_demo -c "SELECT archived_count, last_archived_wal, failed_count FROM pg_stat_archiver"

step "what the repository holds"
find "$demo/repo" -type f -name '*.ark' | sort | sed "s|$demo/||"
du -sh "$demo/data/pg_wal" "$demo/repo" | sed "s|$demo/||"
tail -n 3 "$demo/helper.log"

step "bring the last archived segment back with archive-get (as restore_command would)"
last=$(psql_demo -qAtc "SELECT last_archived_wal FROM pg_stat_archiver")
as_pg pg_ark archive-get --config "$demo/pg_ark.conf" --cluster demo "$last" "$demo/restored"
cmp "$demo/restored" "$demo/data/pg_wal/$last" && echo "$last: restored copy is byte-identical"

step "full backup from SQL while pgbench writes"
as_pg pgbench -h "$demo/run" -p "$port" -c 2 -T 5 -n postgres >"$demo/pgbench.log" 2>&1 &
bench_pid=$!
psql_demo -c "SELECT backup_id, status, start_lsn, stop_lsn, original_bytes, stored_bytes FROM backup_start_full(label => 'demo')"
wait "$bench_pid"

step "incremental backup: only the blocks changed since the full one"
as_pg pgbench -h "$demo/run" -p "$port" -c 2 -t 500 -n postgres 2>&1 | grep -E '^tps' || true
psql_demo -c "SELECT backup_id, backup_type, parent, block_files, whole_files,
                     pg_size_pretty(original_bytes) AS data_directory,
                     pg_size_pretty(copied_bytes) AS copied, pg_size_pretty(stored_bytes) AS stored
                FROM backup_start_incremental(label => 'demo incremental')"
as_pg pg_ark list --config "$demo/pg_ark.conf" --cluster demo

step "more writes after the backup, archived"
psql_demo -qc "CREATE TABLE after_backup AS SELECT now() AS written_at, count(*) AS history_rows FROM pgbench_history"
psql_demo -qAtc "SELECT pg_switch_wal()" >/dev/null
for _ in $(seq 300); do
  ls "$demo/data/pg_wal/archive_status/"*.ready >/dev/null 2>&1 || break
  sleep 0.1
done
before=$(psql_demo -qAtc "SELECT sum(abalance), count(*) FROM pgbench_accounts")
history_before=$(psql_demo -qAtc "SELECT count(*) FROM pgbench_history")
echo "accounts (sum of balances|rows): $before; history rows: $history_before"

step "disaster: stop PostgreSQL and lose the data directory"
as_pg pg_ctl -D "$demo/data" stop -m immediate >/dev/null
rm -rf "$demo/data"
echo "$demo/data is gone"

step "restore the latest backup, the incremental on top of its full, with pg_ark restore (no PostgreSQL, no daemon needed)"
as_pg pg_ark restore --config "$demo/pg_ark.conf" --cluster demo --pgdata "$demo/data"
as_pg pg_ctl -D "$demo/data" -l "$demo/postgres.log" start -w >/dev/null
for _ in $(seq 300); do
  [ "$(psql_demo -qAtc 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ] && break
  sleep 0.1
done

step "the data is back, including what was written after the backup"
after=$(psql_demo -qAtc "SELECT sum(abalance), count(*) FROM pgbench_accounts")
history_after=$(psql_demo -qAtc "SELECT count(*) FROM pgbench_history")
psql_demo -c "SELECT * FROM after_backup"
echo "accounts: $after (before: $before); history rows: $history_after (before: $history_before)"
[ "$before" = "$after" ] && [ "$history_before" = "$history_after" ] && echo "restored cluster matches the lost one"

echo
echo "demo finished; everything in $demo is removed on exit (PG_ARK_DEMO_KEEP=1 keeps it)"
