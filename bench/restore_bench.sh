#!/usr/bin/env bash
#
# restore_bench.sh
#     Side-by-side restore benchmark: `pg_ark restore` against `pgbackrest restore`, both with
#     two workers and zstd-1 backups of the same cluster, from a cold page cache.
#
# Method (see BENCH-NOTES.md in the project's shared notes):
#   1. A source cluster (initdb --data-checksums) at pgbench scale $SCALE with BENCH-NOTES'
#      realistic data: pgbench_accounts.filler is md5 text (compresses about 2.9x with zstd-1).
#   2. pg_ark: the stopped cluster is stored as a full backup (64 MiB parts, zstd-1) and its WAL
#      archived by the unit test binary's RestoreBench helper (tests/unit/restore_test.cpp),
#      since the backup command is not there yet. pgBackRest: a full backup of the running
#      cluster (--compress-type=zst --compress-level=1 --process-max=2 --start-fast).
#   3. Runs alternate between the tools ($RUNS each), each into a new empty directory after sync,
#      dropping the page cache and waiting for an idle machine; the minimum and all times are
#      reported with MiB/s over the data directory's size. Both fsync what they write.
#   4. The last pg_ark restore is compared file by file with the source (diff -r, leaving out
#      pg_wal, postmaster.opts, postgresql.auto.conf and recovery.signal), then started: it must recover through
#      `pg_ark archive-get` and answer a query.
#   PERF=1 records one more pg_ark restore with perf and prints where the CPU time went.
#
# Runs as root (drops caches; runs PostgreSQL and the tools as postgres).
#
# Environment:
#   SCALE=100          pgbench scale (100: about 1.5 GiB)
#   RUNS=3             timed runs per tool
#   WORKDIR=/tmp       parent of the scratch directory (needs about 12 GiB at scale 100)
#   BUILD=<repo>/build the CMake build directory holding pg_ark and pg_ark_unit
#   PG_BINDIR=/usr/lib/postgresql/15/bin, PGBACKREST
#   PERF=0             1: profile one more pg_ark restore
#   KEEP=0             1 keeps the scratch directory
#   IDLE_WAIT=60, IDLE_BUSY_PCT=10   as in archive_bench.sh
#
set -euo pipefail
export LC_ALL=C

SOURCE_ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCALE=${SCALE:-100}
RUNS=${RUNS:-3}
WORKDIR=${WORKDIR:-/tmp}
BUILD=${BUILD:-$SOURCE_ROOT/build}
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
PGBACKREST=${PGBACKREST:-$(command -v pgbackrest || echo /usr/bin/pgbackrest)}
PERF=${PERF:-0}
KEEP=${KEEP:-0}
IDLE_WAIT=${IDLE_WAIT:-60}
IDLE_BUSY_PCT=${IDLE_BUSY_PCT:-10}
PGPORT_BENCH=${PGPORT_BENCH:-54339}

die() { echo "restore_bench: error: $*" >&2; exit 1; }
note() { echo "restore_bench: $*" >&2; }

[[ $(id -u) -eq 0 ]] || die "run as root (it drops the page cache and runs PostgreSQL as postgres)"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"
[[ -x $BUILD/pg_ark && -x $BUILD/pg_ark_unit ]] || die "build pg_ark and pg_ark_unit in $BUILD first"
[[ -x $PG_BINDIR/initdb ]] || die "PostgreSQL 15 binaries not found in $PG_BINDIR"
[[ -x $PGBACKREST ]] || die "pgbackrest not found (scripts/install-deps.sh)"

RUN_DIR=$(mktemp -d "$WORKDIR/restore_bench.XXXXXX")
SOCK_DIR=$(mktemp -d /tmp/pgrb.XXXXXX)
chown postgres: "$RUN_DIR" "$SOCK_DIR"
chmod 0700 "$RUN_DIR" "$SOCK_DIR"
cd "$RUN_DIR"
SRC=$RUN_DIR/src
RUNNING=""

as_pg() { runuser -u postgres -- env PATH="$PG_BINDIR:/usr/bin:/bin" "$@"; }
start_cluster() { as_pg pg_ctl start -D "$1" -l "$2" -w -t 300 >/dev/null || die "could not start $1"; RUNNING=$1; }
stop_cluster() { [[ -z $RUNNING ]] || as_pg pg_ctl stop -D "$RUNNING" -m "${1:-fast}" -w -t 300 >/dev/null || true; RUNNING=""; }
psql_q() { as_pg psql -X -q -A -t -v ON_ERROR_STOP=1 -h "$SOCK_DIR" -p "$2" -d postgres -c "$1"; }
cleanup() {
    local rc=$?
    trap - EXIT
    stop_cluster immediate
    if [[ $KEEP == 1 ]]; then note "scratch directory kept: $RUN_DIR"; else rm -rf "$RUN_DIR"; fi
    rm -rf "$SOCK_DIR"
    exit "$rc"
}
trap cleanup EXIT

cpu_busy_pct() {
    local a b total=0 idle i
    read -r -a a < <(head -n 1 /proc/stat)
    sleep 0.5
    read -r -a b < <(head -n 1 /proc/stat)
    for i in 1 2 3 4 5 6 7 8; do total=$(( total + b[i] - a[i] )); done
    idle=$(( b[4] - a[4] + b[5] - a[5] ))
    (( total > 0 )) || { echo 0; return; }
    echo $(( (total - idle) * 100 / total ))
}
drop_caches() {
    sync
    echo 3 >/proc/sys/vm/drop_caches
    local deadline=$(( SECONDS + IDLE_WAIT )) busy
    while busy=$(cpu_busy_pct); (( busy > IDLE_BUSY_PCT )); do
        if (( SECONDS >= deadline )); then note "machine still ${busy}% busy; measuring anyway"; break; fi
    done
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# ---------------------------------------------------------------------------------------------
note "building the source cluster (scale $SCALE, realistic filler)"
as_pg initdb --data-checksums -D "$SRC" >/dev/null
cat >>"$SRC/postgresql.conf" <<EOF
port = $PGPORT_BENCH
unix_socket_directories = '$SOCK_DIR'
shared_buffers = 1GB
max_wal_size = 4GB
checkpoint_timeout = 15min
wal_level = replica
archive_mode = on
archive_command = '$PGBACKREST --config=$RUN_DIR/pgbackrest.conf --stanza=bench archive-push %p'
EOF
cat >"$RUN_DIR/pgbackrest.conf" <<EOF
[global]
repo1-path=$RUN_DIR/pgbr-repo
compress-type=zst
compress-level=1
process-max=2
start-fast=y
log-level-console=warn
log-level-file=off
lock-path=$RUN_DIR/pgbr-lock
[bench]
pg1-path=$SRC
pg1-port=$PGPORT_BENCH
pg1-socket-path=$SOCK_DIR
EOF
chown postgres: "$RUN_DIR/pgbackrest.conf"
start_cluster "$SRC" "$RUN_DIR/src.log"
as_pg pgbench -q -i -I dt -s "$SCALE" -h "$SOCK_DIR" -p "$PGPORT_BENCH" postgres >/dev/null
psql_q "INSERT INTO pgbench_branches SELECT b, 0, '' FROM generate_series(1, $SCALE) b;
        INSERT INTO pgbench_tellers SELECT t, (t - 1) / 10 + 1, 0, '' FROM generate_series(1, $SCALE * 10) t;
        INSERT INTO pgbench_accounts SELECT aid, (aid - 1) / 100000 + 1, 0,
            md5(random()::text) || md5(random()::text) || substr(md5(random()::text), 1, 20)
          FROM generate_series(1, $SCALE * 100000) aid;" "$PGPORT_BENCH" >/dev/null
as_pg pgbench -q -i -I vp -s "$SCALE" -h "$SOCK_DIR" -p "$PGPORT_BENCH" postgres >/dev/null

note "pgBackRest full backup"
as_pg "$PGBACKREST" --config="$RUN_DIR/pgbackrest.conf" --stanza=bench stanza-create
as_pg "$PGBACKREST" --config="$RUN_DIR/pgbackrest.conf" --stanza=bench --type=full backup
stop_cluster fast
DATA_BYTES=$(du -sb --exclude=pg_wal "$SRC" | cut -f1)

note "pg_ark backup (stored by the RestoreBench helper)"
mkdir "$RUN_DIR/ark-repo"
PG_ARK_BENCH_PGDATA=$SRC PG_ARK_BENCH_REPO=$RUN_DIR/ark-repo \
    "$BUILD/pg_ark_unit" --gtest_also_run_disabled_tests --gtest_filter='RestoreBench.*' >"$RUN_DIR/store.log" ||
    { cat "$RUN_DIR/store.log"; die "could not store the pg_ark backup"; }
install -m 0755 "$BUILD/pg_ark" "$RUN_DIR/pg_ark"
printf '[global]\nrepo-path = %s\n[main]\npgdata = %s\n' "$RUN_DIR/ark-repo" "$SRC" >"$RUN_DIR/pg_ark.conf"
chown -R postgres: "$RUN_DIR"

restore_pg_ark() {
    as_pg "$RUN_DIR/pg_ark" restore --config "$RUN_DIR/pg_ark.conf" --cluster main --pgdata "$1" --process-max 2 >/dev/null
}
restore_pgbackrest() {
    as_pg "$PGBACKREST" --config="$RUN_DIR/pgbackrest.conf" --stanza=bench --pg1-path="$1" \
        --type=immediate --target-action=promote restore
}

declare -A TIMES
for run in $(seq 1 "$RUNS"); do
    for tool in pg_ark pgbackrest; do
        rm -rf "$RUN_DIR/target"
        as_pg mkdir -m 0700 "$RUN_DIR/target" # pgBackRest restores only into an existing directory
        drop_caches
        t0=$(now_ms)
        "restore_$tool" "$RUN_DIR/target"
        ms=$(( $(now_ms) - t0 ))
        TIMES[$tool]+="$ms "
        note "run $run $tool: $ms ms"
    done
done

rm -rf "$RUN_DIR/target"
restore_pg_ark "$RUN_DIR/target"
note "checking the last pg_ark restore against the source"
diff -r --no-dereference -x pg_wal -x postmaster.opts -x postgresql.auto.conf -x recovery.signal \
    "$SRC" "$RUN_DIR/target" ||
    die "the restored directory differs from the source"
sed -i "s/^port = .*/port = $(( PGPORT_BENCH + 1 ))/" "$RUN_DIR/target/postgresql.conf"
start_cluster "$RUN_DIR/target" "$RUN_DIR/target.log"
rows=$(psql_q "SELECT count(*) FROM pgbench_accounts" $(( PGPORT_BENCH + 1 )))
[[ $rows == $(( SCALE * 100000 )) ]] || die "restored cluster has $rows accounts"
grep -q 'restored log file' "$RUN_DIR/target.log" || die "recovery did not use restore_command"
stop_cluster fast

if [[ $PERF == 1 ]]; then
    rm -rf "$RUN_DIR/target"
    drop_caches
    perf record -q -o "$RUN_DIR/perf.data" -- runuser -u postgres -- "$RUN_DIR/pg_ark" restore \
        --config "$RUN_DIR/pg_ark.conf" --cluster main --pgdata "$RUN_DIR/target" --process-max 2 >/dev/null
    perf report -i "$RUN_DIR/perf.data" --no-children --sort dso 2>/dev/null | grep '%' | head -8
fi

mib=$(( DATA_BYTES / 1048576 ))
echo "data directory: $mib MiB (pg_wal excluded); pg_ark backup $(du -sm "$RUN_DIR/ark-repo/main/backup" | cut -f1) MiB stored"
for tool in pg_ark pgbackrest; do
    min=$(tr ' ' '\n' <<<"${TIMES[$tool]}" | grep . | sort -n | head -1)
    echo "$tool restore, 2 workers, cold cache: min $min ms ($(( mib * 1000 / min )) MiB/s); runs: ${TIMES[$tool]}"
done
