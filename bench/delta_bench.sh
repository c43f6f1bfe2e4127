#!/usr/bin/env bash
#
# delta_bench.sh
#     Side-by-side delta restore benchmark, in one run on the same database:
#       pg_ark         backup_start_full() through the helper (zstd-1, process-max 2); restore
#                      with `pg_ark restore`, then `pg_ark restore --delta` into that directory
#       pgBackRest     `backup --type=full` (compress-type=zst level 1, process-max=2,
#                      start-fast=y); restore, then `restore --delta` into that directory
#     Both restore with recovery to the backup's consistency point, promoted
#     (pg_ark --target-immediate --target-action promote; pgBackRest --type=immediate
#     --target-action=promote). It prints, per tool, the seconds of the full restore into an
#     empty directory, of a delta restore of that unchanged directory and of a delta restore of
#     the same directory once damaged, the ratios delta/full and pg_ark/pgBackRest, what each
#     delta rewrote, and the CPU time and disk I/O of each step.
#
# Method (see BENCH-NOTES.md in the project's shared notes; the source is made as in
# backup_bench.sh, whose --keep'd database this bench shares):
#   1. A copy of the generated database (pgbench -i -s SCALE with random md5 fillers, about 2.9x
#      with zstd-1) is the source cluster. One pg_ark full backup (archive_library = 'pg_ark')
#      and one pgBackRest full backup (archive_command = 'pgbackrest archive-push %p',
#      archive-async=n), each after CHECKPOINT, a drained archive, sync, an empty page cache and
#      an idle machine; the archive is drained after each. The source is then stopped (the
#      restores do not need it; pg_ark's helper stays up for its archive).
#   2. Each round (--runs N), per tool (pg_ark first in odd rounds, pgBackRest first in even ones),
#      every step timed after sync, an empty page cache and an idle machine:
#        full       restore into an empty directory;
#        unchanged  delta restore of that directory as the full restore left it (never started);
#        damaged    delta restore after deleting 3 relation files (pgbench_branches,
#                   pgbench_tellers, pgbench_branches_pkey) and overwriting one 8 KiB page, with
#                   random bytes, in the middle of pgbench_accounts' main fork.
#      Then, not timed: the 3 files and the page must be back as the full restore wrote them
#      (md5), and the directory is started (on --port + 1, archiving off), recovery awaited, and
#      pgbench_accounts (sum, count, filler hash) plus pgbench_branches' and pgbench_tellers'
#      sums must equal the source's.
#   3. Each time is the minimum over the rounds; CPU time (user + system, GNU time, with the
#      children waited for) and file system I/O (blocks read and written, 512 B) are those of the
#      round that gave the minimum. pg_ark's delta summary ("delta: rewrote N of M files ...")
#      and pgBackRest's rewritten files (its restore log at level detail) are the last round's.
#
# Usage: delta_bench.sh [--scale N] [--runs N] [--workdir DIR] [--port N] [--keep] [--reuse]
#                       [--profile]
#   --scale N      pgbench scale (default 100, about 1.5 GiB; 5 for a quick smoke test)
#   --runs N       rounds; each time is the minimum (default 1)
#   --workdir DIR  parent of the scratch directory (default /var/tmp); needs about 3x the
#                  database's size free
#   --port N       the source cluster's port (default 55462, away from the other benches'
#                  55432); restored copies use N+1 (Unix sockets in a private directory only)
#   --keep         keep the generated database in DIR/backup_bench.db-sSCALE (the one
#                  backup_bench.sh --keep makes) for --reuse; the bench works on a copy
#   --reuse        use the database kept there (generated if missing; kept again)
#   --profile      after the timed rounds, one more pg_ark unchanged delta restore under
#                  `perf record -g` (not timed), and print where its time goes
#
# Runs as root (drops caches; runs PostgreSQL and the tools as the postgres OS user).
# Needs: PostgreSQL 15, pgbackrest, GNU time, pg_ark installed by `make install`; perf for
# --profile.
#
# Environment: PG_BINDIR, PG_ARK, PGBACKREST, IDLE_WAIT (60), IDLE_BUSY_PCT (10) as in lib.sh;
# KEEP=1 also keeps the scratch directory and logs.
#
set -euo pipefail

# shellcheck disable=SC2034 # used by lib.sh
BENCH_NAME=delta_bench
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

source_bench_options
PGPORT_BENCH=55462
PROFILE=0
START_SECONDS=$SECONDS

BENCH_FLAGS[--profile]="PROFILE=1"
parse_args "$@"

# ---------------------------------------------------------------------------------------------
# Preconditions
# ---------------------------------------------------------------------------------------------
need_count --scale "$SCALE"
need_count --runs "$RUNS"
need_port "$PGPORT_BENCH"
VERIFY_PORT=$(( PGPORT_BENCH + 1 ))
need_common
need_pg_ark
need_pgbackrest
[[ -x $TIME_BIN ]] || die "$TIME_BIN (GNU time) is needed to measure the restores' CPU time"
(( PROFILE )) && { command -v perf >/dev/null || die "--profile needs perf (linux-perf)"; }
need_workdir

# The binary measured: the installed one, which should be the tree's build.
BUILD_BIN=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/pg_ark
BINARY_NOTE="$PG_ARK md5 $(md5sum <"$PG_ARK" | cut -c1-32)"
if [[ -f $BUILD_BIN ]]; then
    if cmp -s "$BUILD_BIN" "$PG_ARK"; then
        BINARY_NOTE+=" (same as $BUILD_BIN)"
    else
        BINARY_NOTE+=" (DIFFERS from $BUILD_BIN, md5 $(md5sum <"$BUILD_BIN" | cut -c1-32))"
        note "WARNING: $PG_ARK differs from $BUILD_BIN: measuring the installed one"
    fi
fi

# The working copy of the database, two backups (about a third of it each, compressed) and one
# restored copy.
DB_MIB=$(db_mib "$SCALE")
KEPT_DB_DIR=$(kept_db_dir "$WORKDIR" "$SCALE")
need_space "$WORKDIR" $(( DB_MIB * 3 + 4096 ))

make_run_dir "$WORKDIR" delta_bench
if (( KEEP_DB )); then DB_DIR=$KEPT_DB_DIR; else DB_DIR=$RUN_DIR/db; fi
SRC=$DB_DIR/pgdata
SRC_LOG=$RUN_DIR/src.log
RESTORE_DIR=$RUN_DIR/restore
ARK_CONF=$RUN_DIR/pg_ark.conf
ARK_REPO=$RUN_DIR/ark-repo
PGBR_CONF=$RUN_DIR/pgbackrest.conf
PGBR_REPO=$RUN_DIR/pgbr-repo

open_db "$REUSE_DB"
# A kept database may be another bench's running source (backup_bench.sh uses it in place).
[[ ! -f $SRC/postmaster.pid ]] ||
    die "$SRC/postmaster.pid exists: another bench may be running that database; retry when it is stopped"
DB_BYTES=$(( $(du -sb --exclude=pg_wal "$SRC" | cut -f1) ))
SRC=$RUN_DIR/src/pgdata # the working copy: the kept database is never started here
note "copying the database"
clone_db "$SRC"

# The check also reads the two small tables whose files the damage deletes.
CHECK_SQL="SELECT (SELECT sum(abalance) || '|' || count(*) || '|' || sum(hashtext(filler)::bigint) FROM pgbench_accounts)
               || '|' || (SELECT sum(bbalance) || '|' || count(*) FROM pgbench_branches)
               || '|' || (SELECT sum(tbalance) || '|' || count(*) FROM pgbench_tellers)"

declare -A BEST CPU IO
best() { # best KEY: keeps the minimum ELAPSED_US over the rounds, with that round's CPU and I/O
    if [[ -z ${BEST[$1]:-} ]] || (( ELAPSED_US < BEST[$1] )); then
        BEST[$1]=$ELAPSED_US
        CPU[$1]="$CPU_USER $CPU_SYS"
        IO[$1]="$FS_IN $FS_OUT"
    fi
}
cpu_text() { # cpu_text US "USER SYS" "IN OUT"
    local u s i o
    read -r u s <<<"$2"
    read -r i o <<<"$3"
    awk -v e="$1" -v u="$u" -v s="$s" -v i="$i" -v o="$o" 'BEGIN {
        printf "%6.2f s CPU (user %.2f, sys %.2f) = %.2f CPUs busy; read %7.1f MiB, wrote %7.1f MiB",
            u + s, u, s, (u + s) / (e / 1e6), i * 512 / 1048576, o * 512 / 1048576 }'
}

# ---------------------------------------------------------------------------------------------
# 1. The source and the backups
# ---------------------------------------------------------------------------------------------
set_archiving none
start_cluster "$SRC" "$SRC_LOG"
psql_q -c "CHECKPOINT" >/dev/null
SRC_CHECK=$(psql_q -c "$CHECK_SQL")
note "source: $(( DB_BYTES / 1048576 )) MiB without pg_wal; check = $SRC_CHECK"

# The files the damage touches (paths relative to the data directory, as in any restored copy).
DELETED=()
for rel in pgbench_branches pgbench_tellers pgbench_branches_pkey; do
    DELETED+=("$(psql_q -c "SELECT pg_relation_filepath('$rel')")")
done
ACCOUNTS_PATH=$(psql_q -c "SELECT pg_relation_filepath('pgbench_accounts')")
ACCOUNTS_PAGES=$(psql_q -c "SELECT pg_relation_size('pgbench_accounts') / 8192")
DAMAGED_PAGE=$(( ACCOUNTS_PAGES / 2 ))  # of the relation; its segment and page in the segment:
DAMAGED_SEG=$(( DAMAGED_PAGE / 131072 ))
DAMAGED_FILE=$ACCOUNTS_PATH
(( DAMAGED_SEG == 0 )) || DAMAGED_FILE+=".$DAMAGED_SEG"
DAMAGED_SEG_PAGE=$(( DAMAGED_PAGE % 131072 ))
note "damage: delete ${DELETED[*]}; overwrite page $DAMAGED_SEG_PAGE of $DAMAGED_FILE (page $DAMAGED_PAGE of $ACCOUNTS_PAGES)"

pg_ark_setup "$RUN_DIR/ark.helper.log" "process-max = 2"
settle
timed "$RUN_DIR/ark.backup.log" psql_q -F ' ' \
    -c "SELECT backup_id, status FROM backup_start_full(label => 'delta_bench')"
ARK_BACKUP_US=$ELAPSED_US
read -r ARK_ID status <"$RUN_DIR/ark.backup.log"
[[ $status == complete ]] || { cat "$RUN_DIR/ark.backup.log" >&2; die "pg_ark backup is \"$status\""; }
[[ -d $ARK_REPO/$CLUSTER/backup/$ARK_ID ]] || die "pg_ark: no directory for backup $ARK_ID"
ARK_STORED=$(sum_bytes "$ARK_REPO/$CLUSTER/backup/$ARK_ID")
drain_archive
note "pg_ark full $ARK_ID: $(fmt_s "$ARK_BACKUP_US"), $(( ARK_STORED / 1048576 )) MiB stored"

pgbackrest_setup compress-type=zst compress-level=1 process-max=2 start-fast=y archive-async=n \
    repo1-retention-full=99
settle
timed "$RUN_DIR/pgbr.backup.log" as_pg "$PGBACKREST" --config="$PGBR_CONF" --stanza="$STANZA" \
    --type=full backup
PGBR_BACKUP_US=$ELAPSED_US
PGBR_LABEL=$(pgbackrest_newest F)
[[ -n $PGBR_LABEL ]] || die "pgBackRest: no full backup in $PGBR_REPO/backup/$STANZA"
PGBR_STORED=$(sum_bytes "$PGBR_REPO/backup/$STANZA/$PGBR_LABEL")
drain_archive
note "pgBackRest full $PGBR_LABEL: $(fmt_s "$PGBR_BACKUP_US"), $(( PGBR_STORED / 1048576 )) MiB stored"

stop_cluster "$SRC" fast

# ---------------------------------------------------------------------------------------------
# 2. Restores
# ---------------------------------------------------------------------------------------------

# restore TOOL LOG [--delta]: runs the tool's restore of its backup into RESTORE_DIR, timed,
# under GNU time.
restore() {
    local tool=$1 log=$2
    shift 2
    if [[ $tool == pg_ark ]]; then
        timed_cpu "$log" runuser -u postgres -- "$PG_ARK" restore --config "$ARK_CONF" \
            --cluster "$CLUSTER" --set "$ARK_ID" --pgdata "$RESTORE_DIR" --target-immediate \
            --target-action promote "$@"
    else
        # At level detail the log names each file restored or found matching.
        timed_cpu "$log" runuser -u postgres -- "$PGBACKREST" --config="$PGBR_CONF" --stanza="$STANZA" \
            --set="$PGBR_LABEL" --pg1-path="$RESTORE_DIR" --type=immediate --target-action=promote \
            --log-level-file=detail "$@" restore
    fi
}

# delta_summary TOOL LOG: what the delta restore rewrote. pg_ark: its "delta:" line (it does
# not count pg_control and the recovery settings, which every restore writes). pgBackRest: the
# files its log (this restore's part, at level detail) says it restored rather than found
# matching, pg_control (always written) left out as well, and their sizes as restored.
delta_summary() {
    if [[ $1 == pg_ark ]]; then
        grep '^delta:' "$2" | tail -n 1 || echo "(no delta: line in $2)"
    else
        local plog=$RUN_DIR/pgbr/log/$STANZA-restore.log all files bytes=0
        all=$(awk '/-------------------PROCESS START-------------------/ { n = 0; delete l }
            { l[++n] = $0 } END { for (i = 1; i <= n; i++) print l[i] }' "$plog" |
            grep 'DETAIL: restore file ' | grep -v 'global/pg_control' || true)
        files=$(grep -v -E ' - exists and (matches|is zero size)' <<<"$all" |
            sed -E 's/.*restore file ([^ ]+) .*/\1/' || true)
        if [[ -n $files ]]; then
            bytes=$(while read -r f; do stat -c %s "$f" 2>/dev/null || echo 0; done <<<"$files" |
                awk '{ s += $1 } END { printf "%d", s }')
        fi
        echo "restored $(grep -c . <<<"$files" || true) of $(grep -c . <<<"$all" || true) files ($bytes bytes: the files' sizes; pg_control not counted)"
    fi
}

# damage: deletes the 3 files and overwrites the page; records their md5 first.
declare -A MD5
damage() {
    local f
    for f in "${DELETED[@]}"; do
        MD5[$f]=$(md5sum <"$RESTORE_DIR/$f" | cut -c1-32)
        rm -f "$RESTORE_DIR/$f"
    done
    MD5[page]=$(dd if="$RESTORE_DIR/$DAMAGED_FILE" bs=8192 skip="$DAMAGED_SEG_PAGE" count=1 status=none |
        md5sum | cut -c1-32)
    head -c 8192 /dev/urandom | dd of="$RESTORE_DIR/$DAMAGED_FILE" bs=8192 seek="$DAMAGED_SEG_PAGE" \
        count=1 conv=notrunc status=none
    [[ $(dd if="$RESTORE_DIR/$DAMAGED_FILE" bs=8192 skip="$DAMAGED_SEG_PAGE" count=1 status=none |
        md5sum | cut -c1-32) != "${MD5[page]}" ]] || die "the page was not overwritten"
}

# check_repaired NAME: the deleted files and the page are back as they were.
check_repaired() {
    local f
    for f in "${DELETED[@]}"; do
        [[ -f $RESTORE_DIR/$f && $(md5sum <"$RESTORE_DIR/$f" | cut -c1-32) == "${MD5[$f]}" ]] ||
            die "$1: $f is missing or differs after the delta restore"
    done
    [[ $(dd if="$RESTORE_DIR/$DAMAGED_FILE" bs=8192 skip="$DAMAGED_SEG_PAGE" count=1 status=none |
        md5sum | cut -c1-32) == "${MD5[page]}" ]] || die "$1: the damaged page was not repaired"
}

declare -A SUMMARY
# round_tool TOOL: full restore, unchanged delta, damage, damaged delta, checks.
round_tool() {
    local tool=$1 log=$RUN_DIR/$1-$run
    fresh_restore_dir
    drop_caches
    restore "$tool" "$log.full.log"
    best "$tool.full"
    note "round $run/$RUNS $tool: full restore $(fmt_s "$ELAPSED_US"); $(cpu_text "$ELAPSED_US" "$CPU_USER $CPU_SYS" "$FS_IN $FS_OUT")"

    drop_caches
    restore "$tool" "$log.unchanged.log" --delta
    best "$tool.unchanged"
    SUMMARY[$tool.unchanged]=$(delta_summary "$tool" "$log.unchanged.log")
    note "round $run/$RUNS $tool: unchanged delta $(fmt_s "$ELAPSED_US"); $(cpu_text "$ELAPSED_US" "$CPU_USER $CPU_SYS" "$FS_IN $FS_OUT")"
    note "    ${SUMMARY[$tool.unchanged]}"

    damage
    drop_caches
    restore "$tool" "$log.damaged.log" --delta
    best "$tool.damaged"
    SUMMARY[$tool.damaged]=$(delta_summary "$tool" "$log.damaged.log")
    note "round $run/$RUNS $tool: damaged delta $(fmt_s "$ELAPSED_US"); $(cpu_text "$ELAPSED_US" "$CPU_USER $CPU_SYS" "$FS_IN $FS_OUT")"
    note "    ${SUMMARY[$tool.damaged]}"

    check_repaired "$tool"
    verify_restore "$tool-$run" "shared_preload_libraries = ''"
    rm -rf "$RESTORE_DIR"
}

for run in $(seq 1 "$RUNS"); do
    if (( run % 2 )); then round_tool pg_ark; round_tool pgbackrest
    else round_tool pgbackrest; round_tool pg_ark; fi
done

# ---------------------------------------------------------------------------------------------
# 3. Profile (not timed)
# ---------------------------------------------------------------------------------------------
PROFILE_TEXT=""
if (( PROFILE )); then
    note "profiling one more pg_ark unchanged delta restore with perf"
    fresh_restore_dir
    restore pg_ark "$RUN_DIR/ark-profile.full.log"
    drop_caches
    timed "$RUN_DIR/ark-profile.delta.log" perf record -q -g -F 999 -o "$RUN_DIR/perf-delta.data" -- \
        runuser -u postgres -- "$PG_ARK" restore --config "$ARK_CONF" --cluster "$CLUSTER" \
        --set "$ARK_ID" --pgdata "$RESTORE_DIR" --target-immediate --target-action promote --delta
    PROFILE_TEXT+="--- perf: pg_ark unchanged delta restore ($(fmt_s "$ELAPSED_US") under perf), samples by library (self time) ---"$'\n'
    PROFILE_TEXT+=$(perf report -i "$RUN_DIR/perf-delta.data" --stdio --no-children -g none \
        --percent-limit 0.5 --sort dso 2>/dev/null | grep -v '^#' | grep -v '^$' | head -n 15)$'\n'
    PROFILE_TEXT+="--- perf: by symbol (self time, >= 0.7%) ---"$'\n'
    PROFILE_TEXT+=$(perf report -i "$RUN_DIR/perf-delta.data" --stdio --no-children -g none \
        --percent-limit 0.7 --sort dso,sym 2>/dev/null | grep -v '^#' | grep -v '^$' | head -n 40)$'\n'
    rm -rf "$RESTORE_DIR"
fi

stop_helper

# ---------------------------------------------------------------------------------------------
# 4. Report
# ---------------------------------------------------------------------------------------------
echo "Delta restore, pgbench scale $SCALE with random fillers ($(( DB_BYTES / 1048576 )) MiB without pg_wal), cold cache, min of $RUNS run(s)"
echo "$("$PG_ARK" version 2>/dev/null | head -n 1); $("$PGBACKREST" version 2>/dev/null | head -n 1); $("$PG_BINDIR/postgres" --version); $(nproc) CPUs"
echo "binary: $BINARY_NOTE"
echo "backups: pg_ark $ARK_ID $(fmt_s "$ARK_BACKUP_US"), $(( ARK_STORED / 1048576 )) MiB; pgBackRest $PGBR_LABEL $(fmt_s "$PGBR_BACKUP_US"), $(( PGBR_STORED / 1048576 )) MiB"
printf '%-22s %8s %13s %10s %11s %10s\n' "tool" "full s" "unchanged s" "unch/full" "damaged s" "dmg/full"
row() { # row LABEL KEY
    awk -v l="$1" -v f="${BEST[$2.full]}" -v u="${BEST[$2.unchanged]}" -v d="${BEST[$2.damaged]}" 'BEGIN {
        printf "%-22s %8.2f %13.2f %10.3f %11.2f %10.3f\n", l, f / 1e6, u / 1e6, u / f, d / 1e6, d / f }'
}
row "pg_ark zstd-1 pm2" pg_ark
row "pgBackRest zst-1 pm2" pgbackrest
awk -v af="${BEST[pg_ark.full]}" -v au="${BEST[pg_ark.unchanged]}" -v ad="${BEST[pg_ark.damaged]}" \
    -v pf="${BEST[pgbackrest.full]}" -v pu="${BEST[pgbackrest.unchanged]}" -v pd="${BEST[pgbackrest.damaged]}" 'BEGIN {
    printf "%-22s %8.3f %13.3f %10s %11.3f\n", "pg_ark/pgBackRest", af / pf, au / pu, "", ad / pd }'
echo "rewritten (last round):"
echo "  pg_ark unchanged:      ${SUMMARY[pg_ark.unchanged]}"
echo "  pg_ark damaged:        ${SUMMARY[pg_ark.damaged]}"
echo "  pgBackRest unchanged:  ${SUMMARY[pgbackrest.unchanged]}"
echo "  pgBackRest damaged:    ${SUMMARY[pgbackrest.damaged]}"
echo "damage: deleted ${DELETED[*]} (pgbench_branches, pgbench_tellers, pgbench_branches_pkey); overwrote page $DAMAGED_SEG_PAGE of $DAMAGED_FILE (pgbench_accounts page $DAMAGED_PAGE of $ACCOUNTS_PAGES) with random bytes"
echo "CPU (user + system, with waited-for children) and file system I/O of the fastest round's step:"
for key in pg_ark.full pg_ark.unchanged pg_ark.damaged pgbackrest.full pgbackrest.unchanged pgbackrest.damaged; do
    printf '  %-22s %s\n' "$key" "$(cpu_text "${BEST[$key]}" "${CPU[$key]}" "${IO[$key]}")"
done
echo "every step cold-cache; after each damaged delta the files and page were checked (md5) and the cluster started and verified against the source."
[[ -n $PROFILE_TEXT ]] && printf '%s' "$PROFILE_TEXT"
if (( BUSY_RUNS > 0 )); then
    echo "note: $BUSY_RUNS timed step(s) started on a busy machine (see stderr): compare ratios, not times"
fi
(( KEEP_DB )) && echo "database kept in $DB_DIR (reuse it with --reuse --scale $SCALE; remove it with rm -rf)"
echo "total runtime: $(( SECONDS - START_SECONDS )) s"
