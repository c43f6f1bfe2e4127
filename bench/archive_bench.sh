#!/usr/bin/env bash
#
# archive_bench.sh
#     Side-by-side WAL archiving benchmark: pg_ark (archive_library = 'pg_ark' + `pg_ark server`)
#     against pgBackRest (archive_command = 'pgbackrest ... archive-push %p', archive-async=n),
#     end to end through PostgreSQL's own archiver, on the same WAL segments.
#
# Method (see BENCH-NOTES.md in the project's shared notes):
#   1. One source cluster (initdb --data-checksums) produces exactly $SEGMENTS completed WAL
#      segments of INSERTs of pgbench_accounts-shaped rows whose filler is random md5 text, like
#      BENCH-NOTES' "realistic data" (this WAL compresses about 2.7x with zstd-1, not 20x like
#      blank-padded rows: compression is not free). Archiving is on but not configured, so
#      every segment stays in pg_wal with a .ready file. Then the cluster is stopped.
#   2. Each run copies that data directory afresh (cp -a), gives the tool a fresh repository,
#      starts the cluster with archiving still unconfigured, does the tool's one-time setup
#      (`pg_ark server` + `pg_ark init`, or `pgbackrest stanza-create`), then: sync, drop the page
#      cache, and time from the reload that configures archiving until pg_wal/archive_status has
#      no .ready file left (polled every 20 ms). Both tools compress with zstd level 1 and fsync
#      what they store before acknowledging.
#   3. Runs alternate between the tools ($RUNS each); the minimum time of each tool is reported.
#
# Runs as root (drops caches; runs PostgreSQL and the tools as the postgres OS user).
# Needs: PostgreSQL 15 (/usr/lib/postgresql/15/bin), pgbackrest (scripts/install-deps.sh) and
# pg_ark installed by `make install` (/usr/local/bin/pg_ark, pg_ark.so in PostgreSQL's libdir).
#
# Environment:
#   SEGMENTS=64        WAL segments archived per run
#   RUNS=3             timed runs per tool (the minimum is reported)
#   WORKDIR=/tmp       parent of this run's scratch directory (needs about 3 x SEGMENTS x 16 MiB)
#   KEEP=0             1 keeps the scratch directory and logs for inspection
#   PG_BINDIR, PG_ARK, PGBACKREST   override the binaries' locations
#   TIMEOUT            seconds one archiving run may take (default max(300, 5 x SEGMENTS))
#   IDLE_WAIT=60       seconds to wait, before each timed run, for the CPUs to be idle
#   IDLE_BUSY_PCT=10   "idle" means, over 0.5 s, at most this % of CPU time busy (steal included)
#                      and at most this % of the time with some task stalled on I/O
#
set -euo pipefail

# shellcheck disable=SC2034 # used by lib.sh
BENCH_NAME=archive_bench
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SEGMENTS=${SEGMENTS:-64}
RUNS=${RUNS:-3}
WORKDIR=${WORKDIR:-/tmp}
PGPORT_BENCH=${PGPORT_BENCH:-54329}
CLUSTER=bench
STANZA=bench

# ---------------------------------------------------------------------------------------------
# Preconditions
# ---------------------------------------------------------------------------------------------
[[ $SEGMENTS =~ ^[1-9][0-9]*$ ]] || die "SEGMENTS must be a positive integer, not \"$SEGMENTS\""
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not \"$RUNS\""
TIMEOUT=${TIMEOUT:-$(( SEGMENTS * 5 > 300 ? SEGMENTS * 5 : 300 ))}
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "TIMEOUT must be a positive integer, not \"$TIMEOUT\""
need_common
need_pg_ark
need_pgbackrest
[[ -d $WORKDIR ]] || die "WORKDIR \"$WORKDIR\" is not a directory"

# The source cluster, one copy and one repository exist at a time.
need_space "$WORKDIR" $(( SEGMENTS * 16 * 3 + 512 ))

# Scratch space (RUN_DIR, SOCK_DIR) and the EXIT trap that stops everything and removes it.
make_run_dir "$WORKDIR" archive_bench

# wait_archived PGDATA LOGFILE: sets ELAPSED_US (microseconds since $T0) once no .ready is left,
# or dies TIMEOUT seconds after $T0. It runs in the main shell, so that a failure reaches the
# EXIT trap.
wait_archived() {
    wait_no_ready "$1" "$2" $(( TIMEOUT - ($(now_us) - T0) / 1000000 ))
    ELAPSED_US=$(( $(now_us) - T0 ))
}

# ---------------------------------------------------------------------------------------------
# 1. The source cluster and its WAL segments
# ---------------------------------------------------------------------------------------------
SRC=$RUN_DIR/src
note "preparing $SEGMENTS WAL segments in $SRC"
as_pg initdb -D "$SRC" --data-checksums -U postgres --auth=trust -E UTF8 --locale=C >"$RUN_DIR/initdb.log" 2>&1 ||
    { cat "$RUN_DIR/initdb.log" >&2; die "initdb failed"; }
max_wal_mb=$(( SEGMENTS * 16 * 2 + 1024 ))
cat >>"$SRC/postgresql.conf" <<EOF

# archive_bench.sh
port = $PGPORT_BENCH
listen_addresses = ''
unix_socket_directories = '$SOCK_DIR'
shared_buffers = 256MB
wal_level = replica
max_wal_size = ${max_wal_mb}MB
min_wal_size = 80MB
wal_keep_size = ${max_wal_mb}MB
checkpoint_timeout = 1h
autovacuum = off
# Archiving enabled but not configured: segments pile up as .ready and the archiver makes no
# failing attempts (no retry back-off can delay the first attempt of a timed run).
archive_mode = off
archive_command = ''
EOF
# Setup with archive_mode = off, so that no segment from before the data load becomes .ready.
start_cluster "$SRC" "$RUN_DIR/src.log"
psql_q -c "CREATE TABLE bench_fill (aid int, bid int, abalance int, filler char(84))" >/dev/null
stop_cluster "$SRC" fast
sed -i "s/^archive_mode = off$/archive_mode = on/" "$SRC/postgresql.conf"
start_cluster "$SRC" "$RUN_DIR/src.log"

# Fill segments S0 .. S0+SEGMENTS-1 to within 1 MiB of the end of the last one, then switch:
# exactly SEGMENTS completed, nearly full segments (each batch writes about 0.5 MiB of WAL).
psql_q >/dev/null <<EOF
DO \$\$
DECLARE
    seg numeric := (SELECT setting::numeric FROM pg_settings WHERE name = 'wal_segment_size');
    here numeric := pg_current_wal_insert_lsn() - '0/0'::pg_lsn;
    target pg_lsn := '0/0'::pg_lsn + ((floor(here / seg) + $SEGMENTS) * seg - 1048576);
BEGIN
    WHILE pg_current_wal_insert_lsn() < target LOOP
        INSERT INTO bench_fill
        SELECT g, g / 100000 + 1, (random() * 10000)::int,
               md5(random()::text) || md5(random()::text)
        FROM generate_series(1, 3000) g;
    END LOOP;
END
\$\$;
DROP TABLE bench_fill;
SELECT pg_switch_wal();
EOF
for _ in $(seq 1 500); do
    [[ $(ready_count "$SRC") -ge $SEGMENTS ]] && break
    sleep 0.02
done
got=$(ready_count "$SRC")
[[ $got -eq $SEGMENTS ]] || die "expected $SEGMENTS .ready segments in the source cluster, found $got"
stop_cluster "$SRC" fast
got=$(ready_count "$SRC")
[[ $got -eq $SEGMENTS ]] || die "expected $SEGMENTS .ready segments after shutdown, found $got"
shopt -s nullglob
ready_files=("$SRC"/pg_wal/archive_status/*.ready)
shopt -u nullglob
FIRST_SEG=$(basename "${ready_files[0]}" .ready)
LAST_SEG=$(basename "${ready_files[-1]}" .ready)
WAL_MIB=$(( $(sum_bytes "$SRC/pg_wal" -maxdepth 1 -name "$FIRST_SEG") * SEGMENTS / 1048576 ))
note "segments $FIRST_SEG .. $LAST_SEG ready ($WAL_MIB MiB of WAL)"

# ---------------------------------------------------------------------------------------------
# 2. One timed run of each tool
# ---------------------------------------------------------------------------------------------
fresh_copy() { # fresh_copy DIR: a new copy of the source data directory
    rm -rf "$1"
    cp -a "$SRC" "$1"
}

# run_pg_ark RUN [AHEAD_WORKERS]: sets ELAPSED_US and STORED_BYTES. AHEAD_WORKERS 0 turns off
# archiving ahead of the archiver, which shows the one-file-at-a-time path on its own.
run_pg_ark() {
    local run=$1 ahead=${2:-} pgdata=$RUN_DIR/a repo conf log helper_log objects failed
    fresh_copy "$pgdata"
    repo=$RUN_DIR/a-repo
    conf=$RUN_DIR/pg_ark.conf
    log=$RUN_DIR/a-$run.pg.log
    helper_log=$RUN_DIR/a-$run.helper.log
    rm -rf "$repo"
    install -d -o postgres -g postgres -m 0700 "$repo"
    write_pg_ark_conf "$conf" "$repo" "$SOCK_DIR/ark/pg_ark.sock" "$CLUSTER" "$pgdata" \
        "${ahead:+archive-ahead-workers = $ahead}"

    as_pg "$PG_ARK" init --config "$conf" --cluster "$CLUSTER" >>"$helper_log" 2>&1 ||
        { cat "$helper_log" >&2; die "pg_ark init failed"; }

    # Archive module loaded, but pg_ark.cluster empty = not configured: nothing is attempted.
    cat >>"$pgdata/postgresql.conf" <<EOF
archive_command = ''
archive_library = 'pg_ark'
pg_ark.socket_path = '$SOCK_DIR/ark/pg_ark.sock'
pg_ark.cluster = ''
EOF
    start_cluster "$pgdata" "$log"
    psql_q -c "LOAD 'pg_ark'" >/dev/null || die "PostgreSQL cannot load pg_ark.so"

    echo "pg_ark.cluster = '$CLUSTER'" >>"$pgdata/postgresql.conf"
    drop_caches
    T0=${EPOCHREALTIME/./}
    # The helper starts inside the timed window: it stores .ready segments ahead of the archiver
    # as soon as it runs, so starting it earlier would hide its work from the clock.
    start_helper "$conf" "$helper_log" "$SOCK_DIR/ark/pg_ark.sock"
    reload_cluster "$pgdata"
    wait_archived "$pgdata" "$log"

    failed=$(psql_q -c "SELECT failed_count FROM pg_stat_archiver")
    objects=$(find "$repo/$CLUSTER/wal" -type f -name '*.ark' ! -path '*/history/*' | wc -l)
    [[ $objects -eq $SEGMENTS ]] || die "pg_ark: expected $SEGMENTS WAL objects in $repo, found $objects"
    STORED_BYTES=$(sum_bytes "$repo/$CLUSTER/wal" -name '*.ark')
    (( failed == 0 )) || note "pg_ark run $run: pg_stat_archiver.failed_count = $failed"

    if [[ $run -eq 1 ]]; then # the archive must give back the very bytes it was given
        as_pg "$PG_ARK" archive-get --config "$conf" --cluster "$CLUSTER" "$LAST_SEG" "$RUN_DIR/check-a" ||
            die "pg_ark archive-get of $LAST_SEG failed"
        cmp -s "$RUN_DIR/check-a" "$SRC/pg_wal/$LAST_SEG" || die "pg_ark returned different bytes for $LAST_SEG"
        rm -f "$RUN_DIR/check-a"
    fi
    stop_cluster "$pgdata" fast
    stop_helper
    rm -rf "$pgdata" "$repo"
}

# run_pgbackrest RUN: sets ELAPSED_US and STORED_BYTES
run_pgbackrest() {
    local run=$1 pgdata=$RUN_DIR/b repo conf log objects failed
    fresh_copy "$pgdata"
    repo=$RUN_DIR/b-repo
    conf=$RUN_DIR/pgbackrest.conf
    log=$RUN_DIR/b-$run.pg.log
    rm -rf "$repo" "$RUN_DIR/b-pgbr"
    write_pgbackrest_conf "$conf" "$repo" "$RUN_DIR/b-pgbr" "$STANZA" "$pgdata" "$PGPORT_BENCH" \
        compress-type=zst compress-level=1 archive-async=n
    start_cluster "$pgdata" "$log"
    as_pg "$PGBACKREST" --config="$conf" --stanza="$STANZA" stanza-create >"$RUN_DIR/b-$run.stanza.log" 2>&1 ||
        { cat "$RUN_DIR/b-$run.stanza.log" >&2; die "pgbackrest stanza-create failed"; }

    echo "archive_command = '$PGBACKREST --config=$conf --stanza=$STANZA archive-push %p'" \
        >>"$pgdata/postgresql.conf"
    drop_caches
    T0=${EPOCHREALTIME/./}
    reload_cluster "$pgdata"
    wait_archived "$pgdata" "$log"

    failed=$(psql_q -c "SELECT failed_count FROM pg_stat_archiver")
    objects=$(find "$repo/archive/$STANZA" -type f -regextype posix-extended \
        -regex '.*/[0-9A-F]{24}-[0-9a-f]{40}(\.zst)?' | wc -l)
    [[ $objects -eq $SEGMENTS ]] || die "pgBackRest: expected $SEGMENTS WAL files in $repo, found $objects"
    STORED_BYTES=$(sum_bytes "$repo/archive/$STANZA" -regextype posix-extended \
        -regex '.*/[0-9A-F]{24}-[0-9a-f]{40}(\.zst)?')
    (( failed == 0 )) || note "pgBackRest run $run: pg_stat_archiver.failed_count = $failed"

    if [[ $run -eq 1 ]]; then
        as_pg "$PGBACKREST" --config="$conf" --stanza="$STANZA" archive-get "$LAST_SEG" "$RUN_DIR/check-b" ||
            die "pgbackrest archive-get of $LAST_SEG failed"
        cmp -s "$RUN_DIR/check-b" "$SRC/pg_wal/$LAST_SEG" || die "pgBackRest returned different bytes for $LAST_SEG"
        rm -f "$RUN_DIR/check-b"
    fi
    stop_cluster "$pgdata" fast
    rm -rf "$pgdata" "$repo" "$RUN_DIR/b-pgbr"
}

# ---------------------------------------------------------------------------------------------
# 3. Runs, alternating the tools so that drift in the machine's speed hits both alike
# ---------------------------------------------------------------------------------------------
best_a=""; best_b=""; best_s=""; stored_a=0; stored_b=0; stored_s=0
for run in $(seq 1 "$RUNS"); do
    run_pg_ark "$run"
    note "run $run/$RUNS pg_ark:     $(fmt_s "$ELAPSED_US")"
    if [[ -z $best_a ]] || (( ELAPSED_US < best_a )); then best_a=$ELAPSED_US; fi
    stored_a=$STORED_BYTES
    run_pg_ark "$run" 0
    note "run $run/$RUNS pg_ark (ahead off): $(fmt_s "$ELAPSED_US")"
    if [[ -z $best_s ]] || (( ELAPSED_US < best_s )); then best_s=$ELAPSED_US; fi
    stored_s=$STORED_BYTES
    run_pgbackrest "$run"
    note "run $run/$RUNS pgBackRest: $(fmt_s "$ELAPSED_US")"
    if [[ -z $best_b ]] || (( ELAPSED_US < best_b )); then best_b=$ELAPSED_US; fi
    stored_b=$STORED_BYTES
done

# ---------------------------------------------------------------------------------------------
# 4. Report
# ---------------------------------------------------------------------------------------------
echo "WAL archiving, $SEGMENTS segments of 16 MiB ($FIRST_SEG .. $LAST_SEG), zstd level 1, cold cache, min of $RUNS run(s)"
echo "$("$PG_ARK" version 2>/dev/null | head -n 1); $("$PGBACKREST" version 2>/dev/null | head -n 1); $("$PG_BINDIR/postgres" --version); $(nproc) CPUs"
awk -v n="$SEGMENTS" -v a="$best_a" -v b="$best_b" -v s="$best_s" -v sa="$stored_a" -v sb="$stored_b" -v ss="$stored_s" 'BEGIN {
    printf "%-20s %8s %9s %11s %11s %11s\n", "tool", "segments", "seconds", "segments/s", "ms/segment", "stored MiB"
    printf "%-20s %8d %9.3f %11.1f %11.1f %11.1f\n", "pg_ark", n, a / 1e6, n / (a / 1e6), a / 1e3 / n, sa / 1048576
    printf "%-20s %8d %9.3f %11.1f %11.1f %11.1f\n", "pg_ark (ahead off)", n, s / 1e6, n / (s / 1e6), s / 1e3 / n, ss / 1048576
    printf "%-20s %8d %9.3f %11.1f %11.1f %11.1f\n", "pgBackRest", n, b / 1e6, n / (b / 1e6), b / 1e3 / n, sb / 1048576
    r = b / a
    if (r >= 1) printf "ratio pg_ark/pgBackRest: %.2fx faster\n", r
    else printf "ratio pg_ark/pgBackRest: %.2fx (pg_ark is %.2fx slower)\n", r, 1 / r
    r = b / s
    if (r >= 1) printf "ratio pg_ark (ahead off)/pgBackRest: %.2fx faster\n", r
    else printf "ratio pg_ark (ahead off)/pgBackRest: %.2fx (%.2fx slower)\n", r, 1 / r
}'
if (( BUSY_RUNS > 0 )); then
    echo "note: $BUSY_RUNS of $(( RUNS * 3 )) timed runs started on a busy machine (see stderr)"
fi
