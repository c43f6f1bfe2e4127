#!/usr/bin/env bash
#
# incremental_bench.sh
#     Side-by-side incremental backup and restore benchmark, in one run on the same database:
#       pg_ark         backup_start_full(), then backup_start_incremental(parent => that full)
#                      with the block tracker (shared_preload_libraries = 'pg_ark'), through the
#                      helper (zstd-1, process-max 2); restore of the chain with
#                      `pg_ark restore --set <incremental>`
#       pgBackRest     `backup --type=full`, then `backup --type=incr` (compress-type=zst level 1,
#                      process-max=2, start-fast=y); restore of the incr with --type=immediate
#                      --target-action=promote
#     Between the fulls and the incrementals about CHANGE_PCT % of pgbench_accounts' pages
#     change. It prints, per tool, full and incremental seconds, their ratio, the incremental's
#     stored and original (before compression) MiB and the restore's seconds; then the bytes of
#     the blocks that really changed and pg_ark's acceptance ratios.
#
# Method (see BENCH-NOTES.md in the project's shared notes; the source is made as in
# backup_bench.sh, whose --keep'd database this bench shares):
#   1. A copy of the generated database (pgbench -i -s SCALE with random md5 fillers, about 2.9x
#      with zstd-1) is the source cluster, with the block tracker preloaded from start to end.
#      Each round starts from a fresh copy: the change below alters the data.
#   2. WAL, fairly: pg_ark's backups run with archive_library = 'pg_ark', pgBackRest's with
#      archive_command = 'pgbackrest archive-push %p' (archive-async=n), switched by a restart;
#      the archive is drained (segment switch, no .ready file) before every switch and timed step.
#   3. Order: pg_ark full (after the tracker is running), pgBackRest full, the change, pg_ark
#      incremental, pgBackRest incremental, pg_ark restore of its chain, pgBackRest restore.
#      Before every timed step: CHECKPOINT, sync, drop the page cache, wait for idle CPUs/disk.
#   4. The change, controlled and not tuned: one UPDATE that rewrites abalance and filler of the
#      first row of every Nth page of pgbench_accounts (N = 100 / CHANGE_PCT), by a list of ctids.
#      Rows fill their pages (fillfactor 100), so each update is not HOT: the new row version
#      goes to another page and the primary key gets a new entry. The blocks that really
#      changed in the whole cluster are measured, not assumed: block_tracking_blocks(full's
#      start_lsn, incremental's start_lsn), summed; changed bytes = blocks * 8192. The source's
#      pgbench_accounts check (sum, count, filler hash) is taken after the change.
#   5. Each restore goes into an empty directory; the restored cluster is started (without the
#      tracker; recovery_target = 'immediate' for both) and must reproduce the source's check
#      after the change. Not timed.
#   6. Rounds (--runs N): each time is the minimum over the rounds; sizes are the last round's.
#
# Stored MiB: the files of the backup itself (its directory in the repository, not the WAL
# archive). Original MiB: what the tool read and stored, before compression: pg_ark's
# copied_bytes (checked against the sum of its manifest's parts, which also splits it between
# block files and whole files; original_bytes is the restored data directory's size);
# pgBackRest's `info` "delta".
#
# Acceptance printed for pg_ark: incremental original bytes / changed-block bytes <= 2;
# incremental time / full time <= 0.15.
#
# Usage: incremental_bench.sh [--scale N] [--change-pct P] [--runs N] [--workdir DIR] [--port N]
#                             [--keep] [--reuse]
#   --scale N        pgbench scale (default 100, about 1.5 GiB; 5 for a quick smoke test)
#   --change-pct P   percentage of pgbench_accounts' pages changed (default 1; 0.01 to 100)
#   --runs N         rounds; each time is the minimum (default 1)
#   --workdir DIR    parent of the scratch directory (default /var/tmp); needs about 4x the
#                    database's size free
#   --port N         the source cluster's port (default 55432); restored copies use N+1
#   --keep           keep the generated database in DIR/backup_bench.db-sSCALE (the one
#                    backup_bench.sh --keep makes) for --reuse; the bench works on a copy
#   --reuse          use the database kept there (generated if missing; kept again)
#
# Runs as root (drops caches; runs PostgreSQL and the tools as the postgres OS user).
# Needs: PostgreSQL 15, pgbackrest, jq, zstd, pg_ark installed by `make install` (with block tracking).
#
# Environment: PG_BINDIR, PG_ARK, PGBACKREST, IDLE_WAIT (60), IDLE_BUSY_PCT (10) as in lib.sh;
# KEEP=1 also keeps the scratch directory and logs.
#
set -euo pipefail

# shellcheck disable=SC2034 # used by lib.sh
BENCH_NAME=incremental_bench
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

source_bench_options
CHANGE_PCT=1
START_SECONDS=$SECONDS

BENCH_OPTS[--change-pct]=CHANGE_PCT
parse_args "$@"

# ---------------------------------------------------------------------------------------------
# Preconditions
# ---------------------------------------------------------------------------------------------
need_count --scale "$SCALE"
need_count --runs "$RUNS"
need_port "$PGPORT_BENCH"
[[ $CHANGE_PCT =~ ^[0-9]+([.][0-9]+)?$ ]] && awk -v p="$CHANGE_PCT" 'BEGIN { exit !(p >= 0.01 && p <= 100) }' ||
    die "--change-pct must be a number from 0.01 to 100, not \"$CHANGE_PCT\""
# Every Nth page of pgbench_accounts changes.
PAGE_STEP=$(awk -v p="$CHANGE_PCT" 'BEGIN { n = int(100 / p + 0.5); print (n < 1 ? 1 : n) }')
VERIFY_PORT=$(( PGPORT_BENCH + 1 ))
need_common
need_pg_ark
need_pgbackrest
command -v jq >/dev/null || die "jq is needed to read pgBackRest's info and pg_ark's manifests"
command -v zstd >/dev/null || die "zstd is needed to read pg_ark's manifests"
need_workdir

# The generated database, its working copy (grown by WAL), two fulls, two incrementals (with
# pgBackRest's, file-level, as large as the changed files) and one restored copy.
DB_MIB=$(db_mib "$SCALE")
KEPT_DB_DIR=$(kept_db_dir "$WORKDIR" "$SCALE")
need_space "$WORKDIR" $(( DB_MIB * 4 + 4096 ))

make_run_dir "$WORKDIR" incremental_bench
if (( KEEP_DB )); then DB_DIR=$KEPT_DB_DIR; else DB_DIR=$RUN_DIR/db; fi
SRC=$DB_DIR/pgdata
SRC_LOG=$RUN_DIR/src.log
RESTORE_DIR=$RUN_DIR/restore
ARK_CONF=$RUN_DIR/pg_ark.conf
ARK_REPO=$RUN_DIR/ark-repo
PGBR_CONF=$RUN_DIR/pgbackrest.conf
PGBR_REPO=$RUN_DIR/pgbr-repo

open_db "$REUSE_DB"
DB_BYTES=$(( $(du -sb --exclude=pg_wal "$SRC" | cut -f1) ))
SRC=$RUN_DIR/src/pgdata # the working copy, made anew each round
RUN_CONF_EXTRA=("shared_preload_libraries = 'pg_ark'")

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

# pg_ark_backup KIND LOG SQL: a timed pg_ark backup; sets ARK_ROW to its row (fields split by |)
# and checks it is complete.
pg_ark_backup() {
    local kind=$1 log=$2 sql=$3 status
    settle
    timed "$log" psql_q -c "$sql"
    IFS='|' read -r -a ARK_ROW <"$log"
    status=${ARK_ROW[1]:-}
    [[ $status == complete ]] || { cat "$log" >&2; die "pg_ark $kind backup is \"$status\""; }
    [[ -d $ARK_REPO/$CLUSTER/backup/${ARK_ROW[0]} ]] ||
        die "pg_ark: no directory for backup ${ARK_ROW[0]} in $ARK_REPO/$CLUSTER/backup"
    drain_archive
}

# pgbr_backup TYPE LOG: a timed pgBackRest backup of TYPE (full, incr); sets PGBR_LABEL.
pgbr_backup() {
    settle
    timed "$2" as_pg "$PGBACKREST" --config="$PGBR_CONF" --stanza="$STANZA" --type="$1" backup
    PGBR_LABEL=$(pgbackrest_newest "$( [[ $1 == full ]] && echo F || echo I )")
    [[ -n $PGBR_LABEL ]] || die "pgBackRest: no $1 backup in $PGBR_REPO/backup/$STANZA"
    drain_archive
}

# pgbr_info LABEL FIELD: a number from `pgbackrest info` about the backup LABEL (jq path under
# .info, e.g. delta, size, repository.delta).
pgbr_info() {
    as_pg "$PGBACKREST" --config="$PGBR_CONF" --stanza="$STANZA" --output=json info |
        jq -r --arg l "$1" ".[0].backup[] | select(.label == \$l) | .info.$2"
}

# change_pages: updates the first row of every PAGE_STEP-th page of pgbench_accounts; sets
# TARGET_PAGES (rows updated, one per page) and ACCOUNTS_PAGES.
change_pages() {
    ACCOUNTS_PAGES=$(psql_q -c "SELECT pg_relation_size('pgbench_accounts') / 8192")
    TARGET_PAGES=$(psql_q -c "
        WITH u AS (
            UPDATE pgbench_accounts
               SET abalance = abalance + 1, filler = md5(random()::text) || md5(random()::text)
             WHERE ctid = ANY (ARRAY(SELECT format('(%s,1)', p)::tid
                                       FROM generate_series(0, $ACCOUNTS_PAGES - 1, $PAGE_STEP) p))
            RETURNING 1)
        SELECT count(*) FROM u")
    (( TARGET_PAGES == (ACCOUNTS_PAGES + PAGE_STEP - 1) / PAGE_STEP )) ||
        die "the change updated $TARGET_PAGES rows, expected one in each of $(( (ACCOUNTS_PAGES + PAGE_STEP - 1) / PAGE_STEP )) pages"
}

# changed_blocks FROM TO: "ENTRIES BLOCKS" from block_tracking_blocks over [FROM, TO).
changed_blocks() {
    psql_q -F ' ' -c "SELECT count(*), coalesce(sum(block_count), 0) FROM block_tracking_blocks('$1', '$2')"
}

# changed_breakdown FROM TO: where the changed blocks are (relations of this database by name).
changed_breakdown() {
    psql_q -F ' ' -c "
        SELECT rpad(coalesce(CASE WHEN b.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                                  THEN pg_filenode_relation(b.tablespace::oid, b.relfilenode::oid)::regclass::text END,
                             b.tablespace || '/' || b.database || '/' || b.relfilenode), 34),
               rpad('fork ' || b.fork, 8), lpad(sum(b.block_count)::text, 9) || ' blocks'
          FROM block_tracking_blocks('$1', '$2') b
         GROUP BY 1, 2 ORDER BY sum(b.block_count) DESC, 1 LIMIT 8" 2>&1 | sed 's/^/    /'
}

# ark_manifest ID: pg_ark's manifest of backup ID as JSON. It is a stored object
# (helper/src/stored_object.h): a 16-byte header whose last 4 bytes say the compression
# (0 none, 1 zstd), the payload, an 88-byte trailer.
ark_manifest() {
    local file=$ARK_REPO/$CLUSTER/backup/$1/backup.manifest compression
    compression=$(od -An -t u4 -j 12 -N 4 "$file" | tr -d ' ')
    case $compression in
        0) head -c -88 "$file" | tail -c +17 ;;
        1) head -c -88 "$file" | tail -c +17 | zstd -dcq ;;
        *) die "$file: unknown compression $compression" ;;
    esac
}

# ark_manifest_bytes ID: "COPIED BLOCK_FILES_BYTES WHOLE_FILES_BYTES" from pg_ark's manifest of
# backup ID: the bytes it stored, before compression (sum of its parts' original sizes), split
# between relation files stored as changed blocks and files stored whole.
ark_manifest_bytes() {
    jq -r '[.entries[] | select(.kind == "file")] as $f
        | [([$f[].parts[].size] | add // 0),
           ([$f[] | select(.blocks != null) | .parts[].size] | add // 0),
           ([$f[] | select(.blocks == null) | .parts[].size] | add // 0)] | @tsv' < <(ark_manifest "$1")
}

# ark_manifest_whole ID: the largest files the backup ID stored whole, with the reason recorded.
ark_manifest_whole() {
    jq -r '[.entries[] | select(.kind == "file" and .blocks == null)] | sort_by(-.size) | .[:6][]
        | "    \(.path) \(.size) B\(if .reason then " (" + .reason + ")" else "" end)"' < <(ark_manifest "$1")
}

declare -A BEST
best() { # best KEY MICROSECONDS: keeps the minimum over the rounds
    if [[ -z ${BEST[$1]:-} ]] || (( $2 < BEST[$1] )); then BEST[$1]=$2; fi
}

# ---------------------------------------------------------------------------------------------
# One round
# ---------------------------------------------------------------------------------------------
one_round() {
    local helper_log=$RUN_DIR/ark-$run.helper.log full_id full_start incr_id incr_start blocks

    note "round $run/$RUNS: copying the database"
    stop_helper
    ARCHIVING=none
    clone_db "$SRC"
    set_archiving none
    start_cluster "$SRC" "$SRC_LOG"
    pg_ark_setup "$helper_log" "process-max = 2"
    need_tracker 300

    # Fulls.
    pg_ark_backup full "$RUN_DIR/ark-$run.full.log" \
        "SELECT backup_id, status, start_lsn, original_bytes, stored_bytes
           FROM backup_start_full(label => 'incremental_bench full')"
    full_id=${ARK_ROW[0]}; full_start=${ARK_ROW[2]}
    best ark_full "$ELAPSED_US"
    ARK_FULL_STORED=$(sum_bytes "$ARK_REPO/$CLUSTER/backup/$full_id")
    note "pg_ark full $full_id: $(fmt_s "$ELAPSED_US"), start $full_start, original ${ARK_ROW[3]} B, stored ${ARK_ROW[4]} B"

    pgbackrest_setup compress-type=zst compress-level=1 process-max=2 start-fast=y archive-async=n \
        repo1-retention-full=99
    pgbr_backup full "$RUN_DIR/pgbr-$run.full.log"
    best pgbr_full "$ELAPSED_US"
    PGBR_FULL_STORED=$(sum_bytes "$PGBR_REPO/backup/$STANZA/$PGBR_LABEL")
    note "pgBackRest full $PGBR_LABEL: $(fmt_s "$ELAPSED_US")"

    # The change.
    change_pages
    SRC_CHECK=$(psql_q -c "$CHECK_SQL")
    note "changed 1 row in $TARGET_PAGES of $ACCOUNTS_PAGES pages of pgbench_accounts (every ${PAGE_STEP}th); check = $SRC_CHECK"

    # Incrementals.
    set_archiving pg_ark
    pg_ark_backup incremental "$RUN_DIR/ark-$run.incr.log" \
        "SELECT backup_id, status, start_lsn, original_bytes, stored_bytes, parent, block_files,
                whole_files, copied_bytes, coalesce(fallback, '')
           FROM backup_start_incremental(parent => '$full_id', label => 'incremental_bench incr')"
    best ark_incr "$ELAPSED_US"
    incr_id=${ARK_ROW[0]}; incr_start=${ARK_ROW[2]}
    ARK_INCR_ORIGINAL_COL=${ARK_ROW[3]}; ARK_INCR_STORED_COL=${ARK_ROW[4]}; ARK_INCR_ORIGINAL=${ARK_ROW[8]:-}
    IFS=$'\t' read -r ARK_INCR_PARTS ARK_INCR_BLOCK_BYTES ARK_INCR_WHOLE_BYTES < <(ark_manifest_bytes "$incr_id")
    [[ $ARK_INCR_ORIGINAL == "$ARK_INCR_PARTS" ]] ||
        note "WARNING: pg_ark incremental's copied_bytes ($ARK_INCR_ORIGINAL) differs from the sum of its manifest's parts ($ARK_INCR_PARTS)"
    ARK_INCR_WHOLE_LIST=$(ark_manifest_whole "$incr_id")
    ARK_INCR_STORED=$(sum_bytes "$ARK_REPO/$CLUSTER/backup/$incr_id")
    ARK_INCR_FILES="block_files ${ARK_ROW[6]:-?}, whole_files ${ARK_ROW[7]:-?}"
    ARK_FALLBACK=${ARK_ROW[9]:-}
    [[ ${ARK_ROW[5]:-} == "$full_id" ]] || note "WARNING: pg_ark incremental's parent is \"${ARK_ROW[5]:-}\", not $full_id"
    [[ -z $ARK_FALLBACK ]] || note "WARNING: pg_ark incremental fell back to whole files: $ARK_FALLBACK"
    note "pg_ark incremental $incr_id: $(fmt_s "$ELAPSED_US"), start $incr_start, original_bytes $ARK_INCR_ORIGINAL_COL B, copied_bytes $ARK_INCR_ORIGINAL B, stored_bytes $ARK_INCR_STORED_COL B, $ARK_INCR_FILES; manifest parts: $ARK_INCR_PARTS B ($ARK_INCR_BLOCK_BYTES in block files, $ARK_INCR_WHOLE_BYTES whole)"

    read -r CHANGED_ENTRIES blocks < <(changed_blocks "$full_start" "$incr_start")
    CHANGED_BYTES=$(( blocks * 8192 ))
    BREAKDOWN=$(changed_breakdown "$full_start" "$incr_start")
    note "block_tracking_blocks($full_start, $incr_start): $blocks blocks in $CHANGED_ENTRIES ranges"

    set_archiving pgbackrest
    pgbr_backup incr "$RUN_DIR/pgbr-$run.incr.log"
    best pgbr_incr "$ELAPSED_US"
    PGBR_INCR_STORED=$(sum_bytes "$PGBR_REPO/backup/$STANZA/$PGBR_LABEL")
    PGBR_INCR_ORIGINAL=$(pgbr_info "$PGBR_LABEL" delta)
    note "pgBackRest incr $PGBR_LABEL: $(fmt_s "$ELAPSED_US"), original $PGBR_INCR_ORIGINAL B"

    # Restores of the incrementals (the source stays up: pgBackRest's restore does not need it,
    # pg_ark's helper serves its archive).
    fresh_restore_dir
    drop_caches
    timed "$RUN_DIR/ark-$run.restore.log" runuser -u postgres -- "$PG_ARK" restore --config "$ARK_CONF" \
        --cluster "$CLUSTER" --set "$incr_id" --pgdata "$RESTORE_DIR"
    best ark_restore "$ELAPSED_US"
    note "pg_ark restore of $incr_id: $(fmt_s "$ELAPSED_US")"
    tail -n 3 "$RUN_DIR/ark-$run.restore.log" | sed 's/^/    restore: /' >&2
    # As pgBackRest's --type=immediate: recovery stops at the backup's consistency point.
    verify_restore pg_ark-incr "shared_preload_libraries = ''" "recovery_target = 'immediate'" \
        "recovery_target_action = 'promote'"

    fresh_restore_dir
    drop_caches
    timed "$RUN_DIR/pgbr-$run.restore.log" as_pg "$PGBACKREST" --config="$PGBR_CONF" --stanza="$STANZA" \
        --set="$PGBR_LABEL" --pg1-path="$RESTORE_DIR" --type=immediate --target-action=promote restore
    best pgbr_restore "$ELAPSED_US"
    note "pgBackRest restore of $PGBR_LABEL: $(fmt_s "$ELAPSED_US")"
    verify_restore pgbackrest-incr "shared_preload_libraries = ''"

    stop_cluster "$SRC" fast
    stop_helper
    rm -rf "$RESTORE_DIR" "$ARK_REPO" "$PGBR_REPO" "$RUN_DIR/pgbr" "$RUN_DIR/src"
}

for run in $(seq 1 "$RUNS"); do one_round; done

# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
echo "Incremental backup and restore, pgbench scale $SCALE with random fillers ($(( DB_BYTES / 1048576 )) MiB without pg_wal), ${CHANGE_PCT}% of pgbench_accounts' pages changed, cold cache, min of $RUNS run(s)"
echo "$("$PG_ARK" version 2>/dev/null | head -n 1); $("$PGBACKREST" version 2>/dev/null | head -n 1); $("$PG_BINDIR/postgres" --version); $(nproc) CPUs"
printf '%-22s %8s %12s %8s %10s %10s %15s %10s\n' "tool" "full s" "full MiB" "incr s" "incr/full" \
    "incr MiB" "incr orig MiB" "restore s"
row() { # row LABEL FULL_US FULL_STORED INCR_US INCR_STORED INCR_ORIGINAL RESTORE_US
    awk -v l="$1" -v f="$2" -v fs="$3" -v i="$4" -v is="$5" -v io="$6" -v r="$7" 'BEGIN {
        printf "%-22s %8.2f %12.1f %8.2f %10.3f %10.1f %15.1f %10.2f\n",
            l, f / 1e6, fs / 1048576, i / 1e6, i / f, is / 1048576, io / 1048576, r / 1e6 }'
}
row "pg_ark zstd-1 pm2" "${BEST[ark_full]}" "$ARK_FULL_STORED" "${BEST[ark_incr]}" "$ARK_INCR_STORED" \
    "$ARK_INCR_ORIGINAL" "${BEST[ark_restore]}"
row "pgBackRest zst-1 pm2" "${BEST[pgbr_full]}" "$PGBR_FULL_STORED" "${BEST[pgbr_incr]}" "$PGBR_INCR_STORED" \
    "$PGBR_INCR_ORIGINAL" "${BEST[pgbr_restore]}"
echo "restore s: the incremental's chain (pg_ark: full + incremental; pgBackRest: full + incr), each restore verified by starting it."
echo "change: 1 row updated in each of $TARGET_PAGES of $ACCOUNTS_PAGES pages of pgbench_accounts (every ${PAGE_STEP}th page; last round)"
echo "changed blocks (block_tracking_blocks, full start to incremental start): $(( CHANGED_BYTES / 8192 )) blocks, $CHANGED_BYTES bytes ($(mib "$CHANGED_BYTES") MiB); largest:"
echo "$BREAKDOWN"
echo "pg_ark incremental: $ARK_INCR_FILES; fallback: ${ARK_FALLBACK:-(none)}"
echo "pg_ark incremental: copied_bytes $ARK_INCR_ORIGINAL (before compression; original_bytes $ARK_INCR_ORIGINAL_COL is the restored data directory's size); manifest parts: $ARK_INCR_BLOCK_BYTES bytes in block files, $ARK_INCR_WHOLE_BYTES in whole files; largest whole files:"
echo "$ARK_INCR_WHOLE_LIST"
awk -v o="$ARK_INCR_ORIGINAL" -v c="$CHANGED_BYTES" -v ai="${BEST[ark_incr]}" -v af="${BEST[ark_full]}" \
    -v pi="${BEST[pgbr_incr]}" -v as="$ARK_INCR_STORED" -v ps="$PGBR_INCR_STORED" 'BEGIN {
    r1 = (c > 0 ? o / c : 0); r2 = ai / af
    printf "pg_ark incr original bytes / changed-block bytes: %.2f (acceptance <= 2: %s)\n", r1, (c > 0 && r1 <= 2 ? "PASS" : "FAIL")
    printf "pg_ark incr time / pg_ark full time:               %.3f (acceptance <= 0.15: %s)\n", r2, (r2 <= 0.15 ? "PASS" : "FAIL")
    printf "pg_ark incr / pgBackRest incr: time %.3f, stored size %.3f\n", ai / pi, as / ps
}'
if (( BUSY_RUNS > 0 )); then
    echo "note: $BUSY_RUNS timed step(s) started on a busy machine (see stderr): compare ratios, not times"
fi
(( KEEP_DB )) && echo "database kept in $DB_DIR (reuse it with --reuse --scale $SCALE; remove it with rm -rf)"
echo "total runtime: $(( SECONDS - START_SECONDS )) s"
