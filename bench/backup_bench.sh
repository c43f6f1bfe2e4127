#!/usr/bin/env bash
#
# backup_bench.sh
#     Side-by-side full backup and restore benchmark, in one run on the same database:
#       pg_ark         backup_start_full() through the helper (zstd-1, process-max 2);
#                      restore with `pg_ark restore`
#       pgBackRest     `backup --type=full`, compress-type=zst level 1 and level 3, process-max=2,
#                      start-fast=y; restore with --type=immediate --target-action=promote
#       pg_basebackup  -X stream --checkpoint=fast, plain format and -Ft --compress=client-zstd:1;
#                      "restore" = cp -a of the plain backup, or zstd -d | tar -x of the tar one
#     It prints backup seconds, stored MiB and restore seconds per tool, and pg_ark's time
#     divided by each peer's.
#
# Method (see BENCH-NOTES.md in the project's shared notes):
#   1. One source cluster (initdb --data-checksums; shared_buffers=1GB, max_wal_size=4GB,
#      checkpoint_timeout=15min, wal_level=replica, archive_mode=on) holds `pgbench -i -s SCALE`
#      with realistic rows: `pgbench -i -I dt`, then the tables are filled with
#      pgbench_accounts.filler as random md5 text (compresses about 2.9x with zstd-1, not 20-40x
#      like blank-padded rows), then `pgbench -i -I vp`. The load runs with wal_level=minimal and
#      archiving off (it is setup, not under test); the cluster is then restarted as above.
#   2. WAL, fairly for every tool: pg_ark's backup runs with archive_library = 'pg_ark' (and its
#      helper); pgBackRest's with archive_command = 'pgbackrest archive-push %p' (archive-async=n;
#      stanza-create and check first) into a fresh repository per configuration; pg_basebackup
#      streams its WAL (-X stream) with archiving unconfigured. Each tool's archiving is
#      configured with a reload and drained (no .ready file left) before its clock starts.
#   3. Before every timed step: CHECKPOINT, archive drained, sync, drop the page cache, wait for
#      the CPUs to be idle (IDLE_WAIT). Every step ends with its data durable: pg_ark,
#      pgBackRest and pg_basebackup fsync what they write; cp -a and tar are followed by
#      `sync -f` inside the timed window.
#   4. Each restore goes into an empty directory (created before the clock starts); then the
#      restored cluster is started on another port, recovery is awaited, and
#      sum(abalance), count(*) and a hash of the fillers of pgbench_accounts must equal the
#      source's (correctness first; this check is not timed).
#   5. Rounds (--runs N) alternate the tools; each figure is the minimum over the rounds.
#      Absolute times are noisy on a shared machine: compare the ratios.
#
# Stored MiB: the files of the backup itself (pg_ark's and pgBackRest's backup directories with
# their manifests, not the WAL archive; pg_basebackup's output directory, which includes the WAL
# it streamed).
#
# Usage: backup_bench.sh [--scale N] [--runs N] [--tools LIST] [--workdir DIR] [--port N]
#                        [--keep] [--reuse] [--profile]
#   --scale N      pgbench scale (default 100, about 1.5 GiB; 5 for a quick smoke test)
#   --runs N       rounds; each figure is the minimum (default 1)
#   --tools LIST   comma-separated subset of pg_ark,pgbackrest,pg_basebackup (default all)
#   --workdir DIR  parent of the scratch directory (default /var/tmp); needs about 4x the
#                  database's size free
#   --port N       the source cluster's port (default 55432); restored copies use N+1 (Unix
#                  sockets in a private directory only, no TCP)
#   --keep         keep the generated database in DIR/backup_bench.db-sSCALE for --reuse
#   --reuse        use the database kept there by --keep (generated if missing; kept again)
#   --profile      after the timed rounds, one more pg_ark backup and restore under
#                  `perf record -g` (not timed), and print where the helper's time goes
#
# Runs as root (drops caches; runs PostgreSQL and the tools as the postgres OS user).
# Needs: PostgreSQL 15 (/usr/lib/postgresql/15/bin), pgbackrest and zstd (scripts/install-deps.sh),
# pg_ark installed by `make install` (/usr/local/bin/pg_ark, pg_ark.so in PostgreSQL's libdir),
# perf for --profile.
#
# Environment: PG_BINDIR, PG_ARK, PGBACKREST, IDLE_WAIT (60), IDLE_BUSY_PCT (10) as in lib.sh;
# KEEP=1 also keeps the scratch directory and logs.
#
set -euo pipefail

# shellcheck disable=SC2034 # used by lib.sh
BENCH_NAME=backup_bench
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

source_bench_options
TOOLS=pg_ark,pgbackrest,pg_basebackup
PROFILE=0
START_SECONDS=$SECONDS

BENCH_OPTS[--tools]=TOOLS
BENCH_FLAGS[--profile]="PROFILE=1"
parse_args "$@"

# ---------------------------------------------------------------------------------------------
# Preconditions
# ---------------------------------------------------------------------------------------------
need_count --scale "$SCALE"
need_count --runs "$RUNS"
need_port "$PGPORT_BENCH"
VERIFY_PORT=$(( PGPORT_BENCH + 1 ))
DO_ARK=0; DO_PGBR=0; DO_PGBB=0
IFS=, read -r -a tool_list <<<"$TOOLS"
for t in "${tool_list[@]}"; do
    case $t in
        pg_ark) DO_ARK=1 ;;
        pgbackrest) DO_PGBR=1 ;;
        pg_basebackup) DO_PGBB=1 ;;
        *) die "unknown tool \"$t\" in --tools (pg_ark, pgbackrest, pg_basebackup)" ;;
    esac
done
(( DO_ARK + DO_PGBR + DO_PGBB > 0 )) || die "--tools selects nothing"
(( PROFILE == 0 || DO_ARK == 1 )) || die "--profile needs pg_ark in --tools"
need_common
(( DO_ARK )) && need_pg_ark
(( DO_PGBR )) && need_pgbackrest
(( DO_PGBB )) && { command -v zstd >/dev/null || die "zstd is needed to restore pg_basebackup's tar backup"; }
(( PROFILE )) && { command -v perf >/dev/null || die "--profile needs perf (linux-perf)"; }
TIME_BIN=/usr/bin/time
(( DO_ARK )) && { [[ -x $TIME_BIN ]] || die "$TIME_BIN (GNU time) is needed to measure pg_ark restore's CPU time"; }
need_workdir

# A pgbench database takes about 15.3 MiB per scale unit; the database (with its WAL), one
# backup and one restored copy exist at a time.
DB_MIB=$(db_mib "$SCALE")
KEPT_DB_DIR=$(kept_db_dir "$WORKDIR" "$SCALE")
if (( REUSE_DB )) && [[ -f $KEPT_DB_DIR/complete ]]; then
    need_space "$WORKDIR" $(( DB_MIB * 2 + 4096 ))
else
    need_space "$WORKDIR" $(( DB_MIB * 3 + 4096 + SCALE * 40 ))
fi

make_run_dir "$WORKDIR" backup_bench
if (( KEEP_DB )); then
    DB_DIR=$KEPT_DB_DIR
else
    DB_DIR=$RUN_DIR/db
fi
SRC=$DB_DIR/pgdata
SRC_LOG=$RUN_DIR/src.log
RESTORE_DIR=$RUN_DIR/restore

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

ARK_BACKUP_CPU=""; ARK_RESTORE_CPU=""


# ---------------------------------------------------------------------------------------------
# 1. The source database
# ---------------------------------------------------------------------------------------------
start_source

# ---------------------------------------------------------------------------------------------
# 2. The tools
# ---------------------------------------------------------------------------------------------
ARK_CONF=$RUN_DIR/pg_ark.conf
ARK_REPO=$RUN_DIR/ark-repo
PGBR_CONF=$RUN_DIR/pgbackrest.conf
PGBR_REPO=$RUN_DIR/pgbr-repo
BB_DIR=$RUN_DIR/basebackup

# run_pg_ark [profile]: one backup and one restore (with "profile": under perf, not recorded).
run_pg_ark() {
    local profile=${1:-} helper_log=$RUN_DIR/ark-$run.helper.log id status stored backup_us perf_pid \
        ticks0
    pg_ark_setup "$helper_log" "process-max = 2"

    settle
    if [[ $profile == profile ]]; then
        perf record -q -g -F 499 -p "$HELPER_PID" -o "$RUN_DIR/perf-backup.data" \
            >"$RUN_DIR/perf-backup.log" 2>&1 &
        perf_pid=$!
        sleep 1
    fi
    ticks0=$(proc_cpu_ticks "$HELPER_PID")
    timed "$RUN_DIR/ark-$run.backup.log" psql_q -F ' ' \
        -c "SELECT backup_id, status, stored_bytes FROM backup_start_full(label => 'backup_bench')"
    backup_us=$ELAPSED_US
    ARK_BACKUP_CPU=$(awk -v t="$(( $(proc_cpu_ticks "$HELPER_PID") - ticks0 ))" -v hz="$(getconf CLK_TCK)" \
        -v u="$backup_us" 'BEGIN { printf "%.2f s of CPU in the helper over %.2f s (%.2f CPUs busy)", t / hz, u / 1e6, t / hz / (u / 1e6) }')
    if [[ $profile == profile ]]; then
        kill -INT "$perf_pid"; wait "$perf_pid" || true
    fi
    read -r id status stored <"$RUN_DIR/ark-$run.backup.log"
    [[ $status == complete ]] || { cat "$RUN_DIR/ark-$run.backup.log" >&2; die "pg_ark backup is \"$status\""; }
    [[ -d $ARK_REPO/$CLUSTER/backup/$id ]] || die "pg_ark: no directory for backup $id in $ARK_REPO/$CLUSTER/backup"
    stored=$(sum_bytes "$ARK_REPO/$CLUSTER/backup/$id")

    fresh_restore_dir
    drop_caches
    if [[ $profile == profile ]]; then
        timed "$RUN_DIR/ark-$run.restore.log" perf record -q -g -F 499 -o "$RUN_DIR/perf-restore.data" -- \
            runuser -u postgres -- "$PG_ARK" restore --config "$ARK_CONF" --cluster "$CLUSTER" \
            --set "$id" --pgdata "$RESTORE_DIR"
    else
        # /usr/bin/time reports the restore's CPU time (user, system) after the restore's output.
        timed "$RUN_DIR/ark-$run.restore.log" "$TIME_BIN" -f 'cpu %U %S' \
            runuser -u postgres -- "$PG_ARK" restore --config "$ARK_CONF" \
            --cluster "$CLUSTER" --set "$id" --pgdata "$RESTORE_DIR"
        record pg_ark "$backup_us" "$stored" "$ELAPSED_US"
        read -r _ user sys < <(grep '^cpu ' "$RUN_DIR/ark-$run.restore.log" | tail -n 1)
        ARK_RESTORE_CPU=$(awk -v a="$user" -v b="$sys" -v u="$ELAPSED_US" \
            'BEGIN { printf "%.2f s of CPU (user %.2f, system %.2f) over %.2f s (%.2f CPUs busy)", a + b, a, b, u / 1e6, (a + b) / (u / 1e6) }')
        note "pg_ark backup: $ARK_BACKUP_CPU; restore: $ARK_RESTORE_CPU"
        grep -i -E 'backup|restore' "$helper_log" | tail -n 5 | sed 's/^/    helper: /' >&2 || true
        grep -v '^cpu ' "$RUN_DIR/ark-$run.restore.log" | tail -n 3 | sed 's/^/    restore: /' >&2
    fi
    verify_restore pg_ark
    set_archiving none
    stop_helper
    rm -rf "$RESTORE_DIR" "$ARK_REPO"
}

# run_pgbackrest LEVEL: stanza in a fresh repository with zst at LEVEL, one backup, one restore.
run_pgbackrest() {
    local level=$1 key=pgbr-zst$1
    pgbackrest_setup compress-type=zst compress-level="$level" process-max=2 start-fast=y archive-async=n \
        repo1-retention-full=99

    pgbackrest_full_and_restore "$key" "$PGBR_REPO/backup/$STANZA"
    set_archiving none
    rm -rf "$RESTORE_DIR" "$PGBR_REPO" "$RUN_DIR/pgbr"
}

# run_basebackup plain|tar
run_basebackup() {
    local format=$1 key=pgbb-$1 backup_us stored restore_us
    set_archiving none
    rm -rf "$BB_DIR"
    settle
    if [[ $format == plain ]]; then
        timed "$RUN_DIR/$key-$run.backup.log" as_pg pg_basebackup -h "$SOCK_DIR" -p "$PGPORT_BENCH" \
            -U postgres -D "$BB_DIR" -X stream --checkpoint=fast
    else
        timed "$RUN_DIR/$key-$run.backup.log" as_pg pg_basebackup -h "$SOCK_DIR" -p "$PGPORT_BENCH" \
            -U postgres -D "$BB_DIR" -Ft --compress=client-zstd:1 -X stream --checkpoint=fast
    fi
    backup_us=$ELAPSED_US
    stored=$(sum_bytes "$BB_DIR")

    fresh_restore_dir
    drop_caches
    if [[ $format == plain ]]; then
        timed "$RUN_DIR/$key-$run.restore.log" as_pg sh -c 'cp -a "$1"/. "$2"/ && sync -f "$2"' \
            sh "$BB_DIR" "$RESTORE_DIR"
    else
        # PostgreSQL 15 compresses the WAL's tar only with gzip: with zstd it is pg_wal.tar.
        [[ -f $BB_DIR/base.tar.zst && ( -f $BB_DIR/pg_wal.tar || -f $BB_DIR/pg_wal.tar.zst ) ]] ||
            die "pg_basebackup -Ft: unexpected files in $BB_DIR: $(ls "$BB_DIR")"
        timed "$RUN_DIR/$key-$run.restore.log" as_pg sh -c \
            'zstd -dcq "$1/base.tar.zst" | tar -xf - -C "$2" && mkdir -p "$2/pg_wal" &&
             if [ -f "$1/pg_wal.tar.zst" ]; then zstd -dcq "$1/pg_wal.tar.zst" | tar -xf - -C "$2/pg_wal";
             else tar -xf "$1/pg_wal.tar" -C "$2/pg_wal"; fi &&
             sync -f "$2"' sh "$BB_DIR" "$RESTORE_DIR"
    fi
    restore_us=$ELAPSED_US
    rm -rf "$BB_DIR" # not needed to start the copy; frees the space
    record "$key" "$backup_us" "$stored" "$restore_us"
    verify_restore "$key"
    rm -rf "$RESTORE_DIR"
}

(( DO_ARK )) && add_row pg_ark "pg_ark zstd-1 pm2"
(( DO_PGBR )) && { add_row pgbr-zst1 "pgBackRest zst-1 pm2"; add_row pgbr-zst3 "pgBackRest zst-3 pm2"; }
(( DO_PGBB )) && { add_row pgbb-plain "pg_basebackup plain"; add_row pgbb-tar "pg_basebackup tar zstd-1"; }

for run in $(seq 1 "$RUNS"); do
    (( DO_ARK )) && run_pg_ark
    (( DO_PGBR )) && { run_pgbackrest 1; run_pgbackrest 3; }
    (( DO_PGBB )) && { run_basebackup plain; run_basebackup tar; }
done

# ---------------------------------------------------------------------------------------------
# 3. Profile (not timed)
# ---------------------------------------------------------------------------------------------
PROFILE_TEXT=""
if (( PROFILE )); then
    note "profiling one more pg_ark backup and restore with perf"
    run=profile
    run_pg_ark profile
    for what in backup restore; do
        PROFILE_TEXT+="--- perf: pg_ark $what, samples by library (self time) ---"$'\n'
        PROFILE_TEXT+=$(perf report -i "$RUN_DIR/perf-$what.data" --stdio --no-children -g none \
            --percent-limit 0.5 --sort dso 2>/dev/null | grep -v '^#' | grep -v '^$' | head -n 15)$'\n'
        PROFILE_TEXT+="--- perf: pg_ark $what, by symbol (self time, >= 0.7%) ---"$'\n'
        PROFILE_TEXT+=$(perf report -i "$RUN_DIR/perf-$what.data" --stdio --no-children -g none \
            --percent-limit 0.7 --sort dso,sym 2>/dev/null | grep -v '^#' | grep -v '^$' | head -n 40)$'\n'
    done
fi

stop_cluster "$SRC" fast

# ---------------------------------------------------------------------------------------------
# 4. Report
# ---------------------------------------------------------------------------------------------
echo "Full backup and restore, pgbench scale $SCALE with random fillers ($(( DB_BYTES / 1048576 )) MiB without pg_wal), cold cache, min of $RUNS run(s)"
echo "$( (( DO_ARK )) && "$PG_ARK" version 2>/dev/null | head -n 1)$( (( DO_ARK )) && echo '; ')$( (( DO_PGBR )) && "$PGBACKREST" version 2>/dev/null | head -n 1)$( (( DO_PGBR )) && echo '; ')$("$PG_BINDIR/postgres" --version); $(nproc) CPUs"
print_backup_table
if (( DO_ARK )) && (( ${#ORDER[@]} > 1 )); then
    echo "pg_ark time / peer time (below 1: pg_ark faster)"
    printf '%-26s %10s %10s\n' "peer" "backup" "restore"
    for k in "${ORDER[@]}"; do
        [[ $k == pg_ark ]] && continue
        awk -v l="${LABEL[$k]}" -v ab="${BEST_BACKUP[pg_ark]}" -v ar="${BEST_RESTORE[pg_ark]}" \
            -v b="${BEST_BACKUP[$k]}" -v r="${BEST_RESTORE[$k]}" \
            'BEGIN { printf "%-26s %10.2f %10.2f\n", l, ab / b, ar / r }'
    done
fi
echo "pg_basebackup's stored size includes the WAL it streamed; pg_ark's and pgBackRest's exclude their WAL archive."
echo "plain \"restore\" = cp -a + sync -f; tar restore = zstd -d | tar -x + sync -f; every restore verified by starting it."
if (( BUSY_RUNS > 0 )); then
    echo "note: $BUSY_RUNS timed step(s) started on a busy machine (see stderr): compare ratios, not times"
fi
if (( DO_ARK )); then
    echo "pg_ark (last run): backup $ARK_BACKUP_CPU"
    echo "pg_ark (last run): restore $ARK_RESTORE_CPU"
fi
[[ -n $PROFILE_TEXT ]] && printf '%s' "$PROFILE_TEXT"
(( KEEP_DB )) && echo "database kept in $DB_DIR (reuse it with --reuse --scale $SCALE; remove it with rm -rf)"
echo "total runtime: $(( SECONDS - START_SECONDS )) s"
