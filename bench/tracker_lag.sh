#!/usr/bin/env bash
#
# tracker_lag.sh
#     How far pg_ark's block tracker falls behind the WAL under a write load, and what it costs:
#     `pgbench -c CLIENTS -j JOBS -T TIME` (TPC-B) runs against a source cluster with
#     shared_preload_libraries = 'pg_ark', while block_tracking_status() and
#     pg_current_wal_lsn() are sampled every second. It prints the WAL rate, the tracker's
#     maximum and 95th-percentile lag in bytes during the load, the lag 5 s after the load ends,
#     how long it took to catch up, and the tracker worker's CPU time per GiB of WAL.
#
# Method (see BENCH-NOTES.md in the project's shared notes):
#   1. The source is a copy of the database backup_bench.sh generates (pgbench -i -s SCALE with
#      random md5 fillers; shared with its --keep), so the load does not alter the kept one.
#      Archiving: by pg_ark through its helper (default, as deployed: the archiver and the
#      tracker both read the WAL), or none (archive_mode = off) with --archiving none.
#   2. Before the load: the tracker enabled and caught up, CHECKPOINT (so the load writes the
#      full-page images a real one writes after each checkpoint), sync, an idle machine. The
#      page cache is not dropped: the load is what is measured, not a cold start.
#   3. Each sample is one psql call: clock, pg_current_wal_lsn(), block_tracking_status()'s
#      lag_bytes, read_lsn and summarized_lsn. Lag during the load: samples from its start to
#      its end. "Lag +5 s": the sample nearest to 5 s after pgbench exits.
#   4. CPU: utime + stime of the tracker's background worker (block_tracking_status().worker_pid,
#      /proc/PID/stat), from before the load until it has caught up, divided by the WAL written
#      meanwhile.
#
# Usage: tracker_lag.sh [--scale N] [--clients N] [--jobs N] [--time S] [--archiving MODE]
#                       [--workdir DIR] [--port N] [--keep] [--reuse]
#   --scale N         pgbench scale (default 100; 5 for a quick smoke test)
#   --clients N       pgbench -c (default 4)
#   --jobs N          pgbench -j (default 2)
#   --time S          pgbench -T, seconds (default 60)
#   --archiving MODE  pg_ark (default) or none
#   --workdir DIR     parent of the scratch directory (default /var/tmp)
#   --port N          the source cluster's port (default 55432)
#   --keep            keep the generated database in DIR/backup_bench.db-sSCALE for --reuse
#   --reuse           use the database kept there (generated if missing; kept again)
#
# Runs as root (drops caches to flush; runs PostgreSQL and the tools as the postgres OS user).
# Needs: PostgreSQL 15, pg_ark installed by `make install` (with block tracking).
#
# Environment: PG_BINDIR, PG_ARK, IDLE_WAIT (60), IDLE_BUSY_PCT (10) as in lib.sh; KEEP=1 also
# keeps the scratch directory, the samples (samples.txt) and logs.
#
set -euo pipefail

# shellcheck disable=SC2034 # used by lib.sh
BENCH_NAME=tracker_lag
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

source_bench_options
CLIENTS=4
JOBS=2
DURATION=60
ARCHIVE_MODE=pg_ark
START_SECONDS=$SECONDS
AFTER_S=5

unset "BENCH_OPTS[--runs]" # one load per run
BENCH_OPTS[--clients]=CLIENTS
BENCH_OPTS[--jobs]=JOBS
BENCH_OPTS[--time]=DURATION
BENCH_OPTS[--archiving]=ARCHIVE_MODE
parse_args "$@"

need_count --scale "$SCALE"
need_count --clients "$CLIENTS"
need_count --jobs "$JOBS"
need_count --time "$DURATION"
need_port "$PGPORT_BENCH"
[[ $ARCHIVE_MODE == pg_ark || $ARCHIVE_MODE == none ]] || die "--archiving must be pg_ark or none"
need_common
need_pg_ark
need_workdir
DB_MIB=$(db_mib "$SCALE")
# The generated database, its copy, and the WAL of the load (kept until the tracker read it).
need_space "$WORKDIR" $(( DB_MIB * 2 + 8192 ))

make_run_dir "$WORKDIR" tracker_lag
if (( KEEP_DB )); then DB_DIR=$(kept_db_dir "$WORKDIR" "$SCALE"); else DB_DIR=$RUN_DIR/db; fi
SRC=$DB_DIR/pgdata
SRC_LOG=$RUN_DIR/src.log
ARK_CONF=$RUN_DIR/pg_ark.conf
ARK_REPO=$RUN_DIR/ark-repo
SAMPLES=$RUN_DIR/samples.txt

open_db "$REUSE_DB"
SRC=$RUN_DIR/src/pgdata
clone_db "$SRC"
RUN_CONF_EXTRA=("shared_preload_libraries = 'pg_ark'")
[[ $ARCHIVE_MODE == none ]] && RUN_CONF_EXTRA+=("archive_mode = off")
set_archiving none
start_cluster "$SRC" "$SRC_LOG"
if [[ $ARCHIVE_MODE == pg_ark ]]; then
    pg_ark_setup "$RUN_DIR/ark.helper.log" "process-max = 2"
else
    psql_q -c "CREATE EXTENSION pg_ark" >/dev/null
fi

# ---------------------------------------------------------------------------------------------
# The tracker
# ---------------------------------------------------------------------------------------------
lsn_diff() { psql_q -c "SELECT pg_wal_lsn_diff('$1', '$2')::bigint"; }

need_tracker 300
WORKER_PID=$(psql_q -c "SELECT worker_pid FROM block_tracking_status()")
[[ $WORKER_PID =~ ^[0-9]+$ && -r /proc/$WORKER_PID/stat ]] || {
    psql_q -c "SELECT pid, backend_type FROM pg_stat_activity" >&2
    die "block_tracking_status() names no live worker_pid (\"$WORKER_PID\")"
}
WORKER_TYPE=$(tr '\0' ' ' <"/proc/$WORKER_PID/cmdline" | sed 's/ *$//')
note "tracker worker: pid $WORKER_PID ($WORKER_TYPE)"

# sample: one line "epoch_s|current_lsn|read_lsn|lag_bytes|summarized_lsn|current-read|current-summarized"
SAMPLE_SQL="SELECT extract(epoch FROM clock_timestamp()), w, s.read_lsn, s.lag_bytes, s.summarized_lsn,
                   pg_wal_lsn_diff(w, s.read_lsn)::bigint, pg_wal_lsn_diff(w, s.summarized_lsn)::bigint
              FROM pg_current_wal_lsn() w, block_tracking_status() s"
sampler() {
    local next
    next=$(now_us)
    while :; do
        psql_q -c "$SAMPLE_SQL" >>"$SAMPLES" 2>>"$RUN_DIR/sampler.err" || true
        next=$(( next + 1000000 ))
        local wait_us=$(( next - $(now_us) ))
        (( wait_us > 0 )) && sleep "$(awk -v u="$wait_us" 'BEGIN { printf "%.6f", u / 1e6 }')"
    done
}

# ---------------------------------------------------------------------------------------------
# The load
# ---------------------------------------------------------------------------------------------
psql_q -c "CHECKPOINT" >/dev/null
sync
wait_idle
CLK_TCK=$(getconf CLK_TCK)
CPU0=$(proc_cpu_ticks "$WORKER_PID")
LSN0=$(psql_q -c "SELECT pg_current_wal_lsn()")
FPI0=$(psql_q -c "SELECT wal_fpi FROM pg_stat_wal")
: >"$SAMPLES"
sampler &
SAMPLER_PID=$!
bench_cleanup_hook() { [[ -n ${SAMPLER_PID:-} ]] && kill "$SAMPLER_PID" 2>/dev/null; wait "$SAMPLER_PID" 2>/dev/null || true; }
T0=$(now_us)
note "pgbench -c $CLIENTS -j $JOBS -T $DURATION (tracker worker pid $WORKER_PID, archiving $ARCHIVE_MODE)"
as_pg pgbench -h "$SOCK_DIR" -p "$PGPORT_BENCH" -U postgres -c "$CLIENTS" -j "$JOBS" -T "$DURATION" postgres \
    >"$RUN_DIR/pgbench.log" 2>&1 || { tail -n 20 "$RUN_DIR/pgbench.log" >&2; die "pgbench failed"; }
T1=$(now_us)
LSN1=$(psql_q -c "SELECT pg_current_wal_lsn()")
FPI=$(( $(psql_q -c "SELECT wal_fpi FROM pg_stat_wal") - FPI0 ))
CAUGHT_UP=1
wait_tracker 600 || CAUGHT_UP=0
T2=$(now_us)
CPU1=$(proc_cpu_ticks "$WORKER_PID")
LSN2=$(psql_q -c "SELECT pg_current_wal_lsn()")
# One more sample past T1 + AFTER_S.
sleep "$(awk -v u="$(( T1 + AFTER_S * 1000000 + 1500000 - $(now_us) ))" 'BEGIN { printf "%.3f", (u > 0 ? u : 0) / 1e6 }')"
kill "$SAMPLER_PID" 2>/dev/null || true
wait "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=""
[[ -s $RUN_DIR/sampler.err ]] && { note "sampler errors:"; sort "$RUN_DIR/sampler.err" | uniq -c | head -n 5 >&2; }

WAL_LOAD=$(lsn_diff "$LSN1" "$LSN0")
WAL_ALL=$(lsn_diff "$LSN2" "$LSN0")
TPS=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$RUN_DIR/pgbench.log" | head -n 1)

stop_cluster "$SRC" fast

# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
# Samples during the load: T0 <= t <= T1; the one nearest T1 + AFTER_S.
STATS=$(awk -F'|' -v t0="$T0" -v t1="$T1" -v after="$AFTER_S" '
    function p95(a, n,   i, j, t) { # sorts a[1..n] (insertion sort, n is small)
        for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        return a[int(0.95 * n + 0.999999) < 1 ? 1 : int(0.95 * n + 0.999999)]
    }
    { t = $1 * 1e6 }
    $5 != "" { maps = 1 }
    t >= t0 && t <= t1 { n++; lag[n] = $4; own[n] = $6; sum[n] = $7
                         if ($4 > maxlag) maxlag = $4; if ($6 > maxown) maxown = $6; if ($7 > maxsum) maxsum = $7 }
    { d = t - (t1 + after * 1e6); if (d < 0) d = -d; if (best == "" || d < best) { best = d; alag = $4; aown = $6; asum = $7; at = (t - t1) / 1e6 } }
    END {
        if (n == 0) { print "none"; exit }
        if (maps) printf "%d %d %d %d %d %d %d %d %d %d %.1f\n", n, maxlag, p95(lag, n), maxown, p95(own, n), maxsum, p95(sum, n), alag, aown, asum, at
        else printf "%d %d %d %d %d n/a n/a %d %d n/a %.1f\n", n, maxlag, p95(lag, n), maxown, p95(own, n), alag, aown, at
    }' "$SAMPLES")
[[ $STATS != none ]] || die "no sample during the load (see $RUN_DIR/sampler.err)"
read -r NS MAXLAG P95LAG MAXOWN P95OWN MAXSUM P95SUM ALAG AOWN ASUM AT <<<"$STATS"

echo "Block tracker lag under pgbench -c $CLIENTS -j $JOBS -T $DURATION, scale $SCALE with random fillers, archiving: $ARCHIVE_MODE"
echo "$("$PG_ARK" version 2>/dev/null | head -n 1); $("$PG_BINDIR/postgres" --version); $(nproc) CPUs"
awk -v w="$WAL_LOAD" -v t0="$T0" -v t1="$T1" -v tps="${TPS:-?}" -v fpi="$FPI" 'BEGIN {
    printf "pgbench: %.0f tps; WAL during the load: %.1f MB in %.1f s = %.1f MB/s (%.1f MiB/s); %s full-page images\n",
        tps, w / 1e6, (t1 - t0) / 1e6, w / 1e6 / ((t1 - t0) / 1e6), w / 1048576 / ((t1 - t0) / 1e6), fpi }'
printf '%-44s %14s %14s %16s\n' "lag in bytes (samples during the load: $NS)" "max" "p95" "${AT} s after end"
printf '%-44s %14s %14s %16s\n' "lag_bytes (block_tracking_status)" "$MAXLAG" "$P95LAG" "$ALAG"
printf '%-44s %14s %14s %16s\n' "current_wal_lsn - read_lsn" "$MAXOWN" "$P95OWN" "$AOWN"
printf '%-44s %14s %14s %16s\n' "current_wal_lsn - summarized_lsn (maps)" "$MAXSUM" "$P95SUM" "$ASUM"
echo "(lag_bytes = flush_lsn - read_lsn; maps are written every 1 GB of WAL, at a backup's request or at shutdown, so summarized_lsn trails by design; n/a: no map yet)"
if (( CAUGHT_UP )); then
    echo "caught up (read_lsn >= pg_current_wal_lsn(), polled every 0.1 s) $(fmt_s $(( T2 - T1 ))) after pgbench ended"
else
    echo "NOT caught up $(fmt_s $(( T2 - T1 ))) after pgbench ended"
fi
awk -v c="$(( CPU1 - CPU0 ))" -v hz="$CLK_TCK" -v w="$WAL_ALL" -v s="$(( T2 - T0 ))" 'BEGIN {
    printf "tracker worker CPU: %.2f s over %.1f s for %.1f MiB of WAL = %.2f CPU s per GiB of WAL (%.1f%% of one CPU)\n",
        c / hz, s / 1e6, w / 1048576, (w > 0 ? c / hz / (w / 1073741824) : 0), 100 * c / hz / (s / 1e6) }'
if (( BUSY_RUNS > 0 )); then
    echo "note: the load started on a busy machine (see stderr)"
fi
(( KEEP_DB )) && echo "database kept in $DB_DIR (reuse it with --reuse --scale $SCALE; remove it with rm -rf)"
echo "total runtime: $(( SECONDS - START_SECONDS )) s"
