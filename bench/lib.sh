# shellcheck shell=bash
#
# lib.sh
#     Helpers shared by the benchmarks in bench/ (source it; it defines functions and defaults
#     only, and runs nothing). Method: see BENCH-NOTES.md in the project's shared notes.
#
# The sourcing script sets BENCH_NAME (prefix of its messages) before sourcing, and may set
# bench_cleanup_hook (a function run by the EXIT trap after clusters and helper are stopped).
#
# Environment shared by every benchmark:
#   PG_BINDIR, PG_ARK, PGBACKREST   override the binaries' locations
#   IDLE_WAIT=60       seconds to wait, before each timed step, for the CPUs to be idle
#   IDLE_BUSY_PCT=10   "idle" means, over 0.5 s, at most this % of CPU time busy (steal included)
#                      and at most this % of the time with some task stalled on I/O
#
export LC_ALL=C

PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
PG_ARK=${PG_ARK:-/usr/local/bin/pg_ark}
PGBACKREST=${PGBACKREST:-$(command -v pgbackrest || echo /usr/bin/pgbackrest)}
IDLE_WAIT=${IDLE_WAIT:-60}
IDLE_BUSY_PCT=${IDLE_BUSY_PCT:-10}
BUSY_RUNS=0          # timed steps that started on a busy machine
RUNNING_PGDATAS=()   # clusters started by start_cluster and not yet stopped
HELPER_PID=""        # the `pg_ark server` started by start_helper
RUN_DIR=""           # this run's scratch directory (make_run_dir)
SOCK_DIR=""          # short directory for Unix sockets (make_run_dir)
KEEP=${KEEP:-0}      # 1 keeps RUN_DIR on exit

die() {
    echo "$BENCH_NAME: error: $*" >&2
    exit 1
}
note() { echo "$BENCH_NAME: $*" >&2; }

# ---------------------------------------------------------------------------------------------
# Preconditions
# ---------------------------------------------------------------------------------------------

# need_common: root, the postgres user, PostgreSQL 15, a writable drop_caches.
need_common() {
    [[ $(id -u) -eq 0 ]] || die "run as root (it drops the page cache and runs PostgreSQL as postgres)"
    id postgres >/dev/null 2>&1 || die "the postgres OS user does not exist (install PostgreSQL 15)"
    [[ -x $PG_BINDIR/initdb && -x $PG_BINDIR/pg_ctl && -x $PG_BINDIR/psql ]] ||
        die "PostgreSQL 15 binaries not found in $PG_BINDIR (set PG_BINDIR)"
    [[ -w /proc/sys/vm/drop_caches ]] || die "/proc/sys/vm/drop_caches is not writable: cannot run cold-cache"
}

# need_pg_ark: the helper binary and the archive module installed by `make install`.
need_pg_ark() {
    [[ -x $PG_ARK ]] || die "pg_ark not found at $PG_ARK: run \"make install\" first (or set PG_ARK)"
    local pkglibdir
    pkglibdir=$("$PG_BINDIR/pg_config" --pkglibdir 2>/dev/null || echo /usr/lib/postgresql/15/lib)
    [[ -f $pkglibdir/pg_ark.so ]] || die "pg_ark.so not found in $pkglibdir: run \"make install\" first"
    command -v setpriv >/dev/null || die "setpriv (util-linux) is needed to start the helper as postgres"
}

# bench_usage: the sourcing script's "# Usage:" block, up to "# Runs as root".
bench_usage() { sed -n '/^# Usage:/,/^# Runs as root/{/^# Runs as root/d;s/^# \{0,1\}//;p}' "$0"; }

# parse_args ARGS...: command-line options as the sourcing script declares them:
#   BENCH_OPTS   associative array, option taking a value -> variable set to it
#                (e.g. [--scale]=SCALE)
#   BENCH_FLAGS  associative array, option without value -> "VAR=value ..." assignments
#                (e.g. [--reuse]="REUSE_DB=1 KEEP_DB=1")
# -h/--help prints bench_usage; anything else is an error.
parse_args() {
    local a
    while (( $# > 0 )); do
        if [[ -n ${BENCH_OPTS[$1]:-} ]]; then
            (( $# >= 2 )) || { bench_usage >&2; die "$1 needs a value"; }
            printf -v "${BENCH_OPTS[$1]}" '%s' "$2"
            shift 2
        elif [[ -n ${BENCH_FLAGS[$1]:-} ]]; then
            for a in ${BENCH_FLAGS[$1]}; do printf -v "${a%%=*}" '%s' "${a#*=}"; done
            shift
        elif [[ $1 == -h || $1 == --help ]]; then
            bench_usage
            exit 0
        else
            bench_usage >&2
            die "unknown argument \"$1\""
        fi
    done
}

# source_bench_options: the defaults and options shared by the benches on a generated source
# database (backup_bench.sh, incremental_bench.sh, tracker_lag.sh); the script adds its own to
# BENCH_OPTS and BENCH_FLAGS before parse_args.
# shellcheck disable=SC2034 # read by the sourcing script
source_bench_options() {
    SCALE=100
    RUNS=1
    WORKDIR=/var/tmp
    PGPORT_BENCH=55432
    KEEP_DB=0
    REUSE_DB=0
    declare -gA BENCH_OPTS=([--scale]=SCALE [--runs]=RUNS [--workdir]=WORKDIR [--port]=PGPORT_BENCH)
    declare -gA BENCH_FLAGS=([--keep]="KEEP_DB=1" [--reuse]="REUSE_DB=1 KEEP_DB=1")
}

# need_workdir: WORKDIR is a directory; made absolute.
need_workdir() {
    [[ -d $WORKDIR ]] || die "--workdir \"$WORKDIR\" is not a directory"
    WORKDIR=$(cd "$WORKDIR" && pwd)
}

# need_count OPTION VALUE: VALUE is a positive integer.
need_count() { [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 must be a positive integer, not \"$2\""; }

# need_port VALUE: a port number other than 5432's.
need_port() {
    [[ $1 =~ ^[1-9][0-9]*$ ]] && (( $1 < 65535 && $1 != 5432 )) ||
        die "--port must be a port number other than 5432, not \"$1\""
}

need_pgbackrest() {
    [[ -x $PGBACKREST ]] || die "pgbackrest not found: run scripts/install-deps.sh (or set PGBACKREST)"
}

# need_space DIR MIB: DIR's file system has at least MIB MiB free.
need_space() {
    local avail
    avail=$(df -Pm "$1" | awk 'NR == 2 { print $4 }')
    (( avail >= $2 )) || die "$1 has $avail MiB free; this run needs about $2 MiB"
}

# ---------------------------------------------------------------------------------------------
# Scratch space and cleanup
# ---------------------------------------------------------------------------------------------

# make_run_dir WORKDIR PREFIX: creates RUN_DIR under WORKDIR and SOCK_DIR under /tmp (Unix socket
# paths are limited to 107 bytes), both owned by postgres, cds into RUN_DIR (postgres must be
# able to stat its working directory) and installs the EXIT trap.
make_run_dir() {
    [[ -d $1 ]] || die "WORKDIR \"$1\" is not a directory"
    RUN_DIR=$(mktemp -d "$1/$2.XXXXXX")
    SOCK_DIR=$(mktemp -d /tmp/pgab.XXXXXX)
    chown postgres: "$RUN_DIR" "$SOCK_DIR"
    chmod 0700 "$RUN_DIR" "$SOCK_DIR"
    if ! runuser -u postgres -- test -w "$RUN_DIR"; then
        rm -rf "$RUN_DIR" "$SOCK_DIR"
        die "the postgres user cannot reach $RUN_DIR: choose a WORKDIR that postgres can traverse"
    fi
    cd "$RUN_DIR" || exit
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

bench_cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_all_clusters immediate
    stop_helper
    if declare -F bench_cleanup_hook >/dev/null; then bench_cleanup_hook || true; fi
    if [[ -n $RUN_DIR ]]; then
        cd /
        if [[ $KEEP == 1 ]]; then
            note "scratch directory kept: $RUN_DIR"
        else
            rm -rf "$RUN_DIR"
        fi
    fi
    [[ -n $SOCK_DIR ]] && rm -rf "$SOCK_DIR"
    exit "$rc"
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------------
as_pg() {
    runuser -u postgres -- env PATH="$PG_BINDIR:$(dirname "$PG_ARK"):/usr/bin:/bin" "$@"
}

psql_at() { # psql_at PORT SQL-ARGS...  (one value per line, unaligned)
    local port=$1
    shift
    as_pg psql -X -q -A -t -v ON_ERROR_STOP=1 -h "$SOCK_DIR" -p "$port" -U postgres -d postgres "$@"
}

psql_q() { psql_at "$PGPORT_BENCH" "$@"; }

ready_count() { # ready_count PGDATA: .ready files in its archive_status
    local files
    shopt -s nullglob
    files=("$1"/pg_wal/archive_status/*.ready)
    shopt -u nullglob
    echo "${#files[@]}"
}

start_cluster() { # start_cluster PGDATA LOGFILE
    as_pg pg_ctl start -D "$1" -l "$2" -w -t 600 >/dev/null ||
        { tail -n 30 "$2" >&2 || true; die "could not start the cluster in $1 (log above)"; }
    RUNNING_PGDATAS+=("$1")
}

stop_cluster() { # stop_cluster PGDATA [MODE]
    local pgdata=$1 mode=${2:-fast} keep=() d
    as_pg pg_ctl stop -D "$pgdata" -m "$mode" -w -t 300 >/dev/null 2>&1 ||
        as_pg pg_ctl stop -D "$pgdata" -m immediate -w >/dev/null 2>&1 || true
    for d in "${RUNNING_PGDATAS[@]}"; do [[ $d == "$pgdata" ]] || keep+=("$d"); done
    RUNNING_PGDATAS=("${keep[@]}")
}

stop_all_clusters() { # stop_all_clusters [MODE]
    local d
    for d in "${RUNNING_PGDATAS[@]}"; do stop_cluster "$d" "${1:-fast}"; done
}

reload_cluster() {
    as_pg pg_ctl reload -D "$1" -s >/dev/null || die "could not reload the cluster in $1"
}

# wait_no_ready PGDATA LOGFILE TIMEOUT_S: returns once pg_wal/archive_status has no .ready file
# (polled every 20 ms); dies after TIMEOUT_S seconds or if PostgreSQL stops.
wait_no_ready() {
    local pgdata=$1 log=$2 deadline=$(( ${EPOCHREALTIME/./} + $3 * 1000000 ))
    while [[ $(ready_count "$pgdata") -ne 0 ]]; do
        if (( ${EPOCHREALTIME/./} > deadline )); then
            note "still $(ready_count "$pgdata") .ready file(s) after $3 s; last server log lines:"
            tail -n 20 "$log" >&2 || true
            die "archiving did not finish in $3 s"
        fi
        [[ -f $pgdata/postmaster.pid ]] || { tail -n 20 "$log" >&2; die "PostgreSQL stopped during the run"; }
        sleep 0.02
    done
}

# ---------------------------------------------------------------------------------------------
# Tools' configuration
# ---------------------------------------------------------------------------------------------

# write_pg_ark_conf FILE REPO SOCKET CLUSTER PGDATA [GLOBAL-LINE...]: helper configuration with
# zstd level 1, mode 0600; extra lines ("key = value") go to [global].
write_pg_ark_conf() {
    local file=$1 repo=$2 sock=$3 cluster=$4 pgdata=$5 line
    shift 5
    {
        echo "[global]"
        echo "repo-path = $repo"
        echo "socket-path = $sock"
        echo "compress-type = zstd"
        echo "compress-level = 1"
        echo "log-level = info"
        for line in "$@"; do [[ -n $line ]] && echo "$line"; done
        echo
        echo "[$cluster]"
        echo "pgdata = $pgdata"
    } >"$file"
    chown postgres: "$file"
    chmod 0600 "$file" # it may hold secrets (repo-cipher-pass, repo-s3-key-secret)
}

# start_helper CONF LOGFILE SOCKET: starts `pg_ark server` as postgres (setpriv execs, so
# HELPER_PID is the helper itself and SIGTERM reaches it) and waits for its socket.
start_helper() {
    local conf=$1 log=$2 sock=$3
    setpriv --reuid=postgres --regid=postgres --init-groups -- "$PG_ARK" server --config "$conf" \
        >"$log" 2>&1 &
    HELPER_PID=$!
    for _ in $(seq 1 2000); do
        [[ -S $sock ]] && return 0
        kill -0 "$HELPER_PID" 2>/dev/null || { cat "$log" >&2; die "pg_ark server exited at start"; }
        sleep 0.005
    done
    cat "$log" >&2
    die "pg_ark server did not create its socket"
}

stop_helper() {
    if [[ -n $HELPER_PID ]]; then
        kill -TERM "$HELPER_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$HELPER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$HELPER_PID" 2>/dev/null || true
        wait "$HELPER_PID" 2>/dev/null || true
        HELPER_PID=""
    fi
}

# write_pgbackrest_conf FILE REPO SCRATCH STANZA PGDATA PORT [GLOBAL-LINE...]: a stanza whose
# repository is REPO and whose log, lock and spool directories are created under SCRATCH;
# extra lines ("key=value") go to [global].
write_pgbackrest_conf() {
    local file=$1 repo=$2 scratch=$3 stanza=$4 pgdata=$5 port=$6 line
    shift 6
    install -d -o postgres -g postgres -m 0750 "$repo" "$scratch" "$scratch/log" "$scratch/lock" \
        "$scratch/spool"
    {
        echo "[global]"
        echo "repo1-path=$repo"
        echo "log-path=$scratch/log"
        echo "lock-path=$scratch/lock"
        echo "spool-path=$scratch/spool"
        echo "log-level-console=warn"
        echo "log-level-file=info"
        for line in "$@"; do [[ -n $line ]] && echo "$line"; done
        echo
        echo "[$stanza]"
        echo "pg1-path=$pgdata"
        echo "pg1-port=$port"
        echo "pg1-socket-path=$SOCK_DIR"
    } >"$file"
    chown postgres: "$file"
}

# ---------------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------------

# io_stall_total: microseconds some task stalled on I/O since boot (/proc/pressure/io), or 0.
io_stall_total() {
    local line
    if [[ -r /proc/pressure/io ]] && read -r line </proc/pressure/io; then
        echo "${line##*total=}"
    else
        echo 0
    fi
}

# busy_pct: over 0.5 s, the larger of the percentage of CPU time not idle (steal counts as busy:
# it is time we do not get) and the percentage of time some task stalled on I/O (another job's
# reads and writes slow a cold-cache benchmark as much as its CPU use).
busy_pct() {
    local a b io_a io_b
    read -r -a a < <(head -n 1 /proc/stat)
    io_a=$(io_stall_total)
    sleep 0.5
    read -r -a b < <(head -n 1 /proc/stat)
    io_b=$(io_stall_total)
    local total=0 idle i cpu io
    for i in 1 2 3 4 5 6 7 8; do total=$(( total + b[i] - a[i] )); done
    idle=$(( b[4] - a[4] + b[5] - a[5] ))
    cpu=0
    (( total > 0 )) && cpu=$(( (total - idle) * 100 / total ))
    io=$(( (io_b - io_a) / 5000 )) # stalled microseconds per 0.5 s, as a percentage
    echo $(( cpu > io ? cpu : io ))
}

# Before the clock starts: data on disk, page cache empty, machine idle (BENCH-NOTES.md).
drop_caches() {
    sync
    echo 3 >/proc/sys/vm/drop_caches
    wait_idle
}

# wait_idle: until busy_pct is at most IDLE_BUSY_PCT, for IDLE_WAIT seconds at the most (then
# counts a busy run and goes on).
wait_idle() {
    local deadline=$(( SECONDS + IDLE_WAIT )) busy
    while :; do
        busy=$(busy_pct)
        (( busy <= IDLE_BUSY_PCT )) && break
        if (( SECONDS >= deadline )); then
            note "machine still ${busy}% busy (CPU or I/O) after ${IDLE_WAIT}s; measuring anyway (compare ratios, not times)"
            BUSY_RUNS=$(( BUSY_RUNS + 1 ))
            break
        fi
    done
}

now_us() { echo "${EPOCHREALTIME/./}"; }

proc_cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; } # user + system, all threads

# timed LOGFILE CMD...: runs CMD with its output in LOGFILE and sets ELAPSED_US; dies if it fails.
# shellcheck disable=SC2034 # ELAPSED_US is read by the sourcing script
timed() {
    local log=$1 t0
    shift
    t0=$(now_us)
    if ! "$@" >"$log" 2>&1; then
        tail -n 30 "$log" >&2 || true
        die "failed: $* (log: $log)"
    fi
    ELAPSED_US=$(( $(now_us) - t0 ))
}

# timed_cpu LOG CMD...: as timed, with CMD under GNU time (TIME_BIN, /usr/bin/time); also sets
# CPU_USER and CPU_SYS (seconds of CPU used by CMD and the children it waited for) and FS_IN,
# FS_OUT (its file system inputs and outputs, in 512-byte blocks: what reached the disk). GNU
# time's line "cpu U S I O" ends LOG.
TIME_BIN=${TIME_BIN:-/usr/bin/time}
timed_cpu() {
    local log=$1
    shift
    timed "$log" "$TIME_BIN" -f 'cpu %U %S %I %O' "$@"
    read -r _ CPU_USER CPU_SYS FS_IN FS_OUT < <(grep '^cpu ' "$log" | tail -n 1)
}

fmt_s() { awk -v u="$1" 'BEGIN { printf "%.3f s", u / 1e6 }'; } # microseconds as "1.234 s"

sum_bytes() { # total size of the files find(1) selects
    find "$@" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%d\n", s }'
}

# ---------------------------------------------------------------------------------------------
# The source cluster: a realistic pgbench database, archiving by one tool at a time, restores
# checked against it (BENCH-NOTES.md). These functions use the sourcing script's variables:
#   SCALE          pgbench scale
#   DB_DIR         directory of the generated database (pgdata/ and the marker file complete)
#   SRC, SRC_LOG   the source cluster's data directory and server log
#   PGPORT_BENCH   its port; VERIFY_PORT the port of restored copies
#   RESTORE_DIR    where restores go
#   CLUSTER        pg_ark's cluster name; STANZA pgBackRest's stanza
#   ARK_CONF, ARK_REPO     pg_ark's configuration file and repository
#   PGBR_CONF, PGBR_REPO   pgBackRest's
#   RUN_CONF_EXTRA lines added to the source's bench_run.conf (e.g. shared_preload_libraries)
#   SRC_CHECK      CHECK_SQL's result on the source, which every restore must reproduce
# ---------------------------------------------------------------------------------------------
CLUSTER=${CLUSTER:-bench}
STANZA=${STANZA:-bench}
ARCHIVING=none       # the source's archiving, as set_archiving last wrote it
RUN_CONF_EXTRA=()

# kept_db_dir WORKDIR SCALE: where --keep leaves a generated database, shared by every bench.
kept_db_dir() { echo "$1/backup_bench.db-s$2"; }

# db_mib SCALE: about the size of a generated database with its WAL, in MiB.
db_mib() { echo $(( $1 * 16 + 64 )); }

# generate_db: initdb in DB_DIR/pgdata and `pgbench -i -s SCALE` with random md5 fillers; leaves
# it stopped, checkpointed, and marked complete. SRC must be DB_DIR/pgdata.
generate_db() {
    note "generating pgbench scale $SCALE with random fillers in $SRC"
    rm -rf "$DB_DIR"
    install -d -o postgres -g postgres -m 0700 "$DB_DIR"
    as_pg initdb -D "$SRC" --data-checksums -U postgres --auth=trust -E UTF8 --locale=C \
        >"$RUN_DIR/initdb.log" 2>&1 || { cat "$RUN_DIR/initdb.log" >&2; die "initdb failed"; }
    cat >>"$SRC/postgresql.conf" <<EOC

# bench/lib.sh
shared_buffers = 1GB
max_wal_size = 4GB
checkpoint_timeout = 15min
wal_level = replica
archive_mode = on
# static data: no autovacuum writing during the timed steps
autovacuum = off
include_if_exists 'bench_load.conf'
include_if_exists 'bench_run.conf'
EOC
    # The load is setup, not under test: no WAL for the tables filled in the transaction that
    # truncated them, no archiving.
    cat >"$SRC/bench_load.conf" <<EOC
wal_level = minimal
max_wal_senders = 0
archive_mode = off
EOC
    chown postgres: "$SRC/bench_load.conf"
    set_archiving none
    start_cluster "$SRC" "$SRC_LOG"
    as_pg pgbench -h "$SOCK_DIR" -p "$PGPORT_BENCH" -U postgres -i -I dt -s "$SCALE" postgres \
        >"$RUN_DIR/pgbench-init.log" 2>&1 || { cat "$RUN_DIR/pgbench-init.log" >&2; die "pgbench -i -I dt failed"; }
    psql_q >/dev/null <<EOC
BEGIN;
TRUNCATE pgbench_branches, pgbench_tellers, pgbench_accounts;
INSERT INTO pgbench_branches (bid, bbalance)
    SELECT b, 0 FROM generate_series(1, $SCALE) b;
INSERT INTO pgbench_tellers (tid, bid, tbalance)
    SELECT t, (t - 1) / 10 + 1, 0 FROM generate_series(1, $SCALE * 10) t;
INSERT INTO pgbench_accounts (aid, bid, abalance, filler)
    SELECT a, (a - 1) / 100000 + 1, (random() * 20000)::int - 10000,
           md5(random()::text) || md5(random()::text)
    FROM generate_series(1, $SCALE * 100000) a;
COMMIT;
EOC
    as_pg pgbench -h "$SOCK_DIR" -p "$PGPORT_BENCH" -U postgres -i -I vp -s "$SCALE" postgres \
        >>"$RUN_DIR/pgbench-init.log" 2>&1 || { cat "$RUN_DIR/pgbench-init.log" >&2; die "pgbench -i -I vp failed"; }
    psql_q -c "CHECKPOINT" >/dev/null
    stop_cluster "$SRC" fast
    rm -f "$SRC/bench_load.conf"
    touch "$DB_DIR/complete"
}

# open_db REUSE: with REUSE=1 and a complete database in DB_DIR, uses it; otherwise generates
# it. Leaves it stopped.
open_db() {
    if (( $1 )) && [[ -f $DB_DIR/complete ]]; then
        note "reusing the database in $DB_DIR"
    else
        generate_db
    fi
}

# clone_db DEST: a copy of DB_DIR/pgdata in DEST, for a bench that changes the data (the
# generated database stays as generated, to be reused).
clone_db() {
    rm -rf "$1"
    install -d -o postgres -g postgres -m 0700 "$(dirname "$1")"
    as_pg cp -a "$DB_DIR/pgdata" "$1" || die "could not copy $DB_DIR/pgdata to $1"
    rm -f "$1/postmaster.pid" "$1/bench_run.conf"
}

# set_archiving none|pg_ark|pgbackrest: the source cluster's run-time settings (bench_run.conf,
# included last by its postgresql.conf), with RUN_CONF_EXTRA. A running cluster is restarted
# when the mode changes: after a reload, an archiver restarted for a new archive_library may
# start before the postmaster has re-read the file and keep the old library.
set_archiving() {
    local mode=$1 previous=$ARCHIVING line
    {
        echo "# written by $BENCH_NAME for this run"
        echo "port = $PGPORT_BENCH"
        echo "unix_socket_directories = '$SOCK_DIR'"
        echo "listen_addresses = ''"
        case $mode in
            none)
                echo "archive_library = ''"
                echo "archive_command = ''" ;;
            pg_ark)
                echo "archive_command = ''"
                echo "archive_library = 'pg_ark'"
                echo "pg_ark.socket_path = '$SOCK_DIR/ark/pg_ark.sock'"
                echo "pg_ark.cluster = '$CLUSTER'" ;;
            pgbackrest)
                echo "archive_library = ''"
                echo "archive_command = '$PGBACKREST --config=$PGBR_CONF --stanza=$STANZA archive-push %p'" ;;
        esac
        for line in "${RUN_CONF_EXTRA[@]}"; do echo "$line"; done
    } >"$SRC/bench_run.conf"
    chown postgres: "$SRC/bench_run.conf"
    ARCHIVING=$mode
    if [[ $mode != "$previous" && " ${RUNNING_PGDATAS[*]} " == *" $SRC "* ]]; then
        stop_cluster "$SRC" fast
        start_cluster "$SRC" "$SRC_LOG"
    fi
}

# drain_archive: with archiving configured, a segment switch and no .ready file left (so that
# the WAL written so far goes to the tool that archives now, not to the next one).
drain_archive() {
    if [[ $ARCHIVING != none ]]; then
        psql_q -c "SELECT pg_switch_wal()" >/dev/null
        wait_no_ready "$SRC" "$SRC_LOG" 600
    fi
}

# settle: before a timed step. The archive drained; then a checkpoint (the tools' own
# checkpoints find nothing to write), sync, an empty page cache and an idle machine.
settle() {
    drain_archive
    psql_q -c "CHECKPOINT" >/dev/null
    drop_caches
}

# start_source: the database opened (open_db REUSE_DB) and started without archiving; sets
# SRC_CHECK (CHECK_SQL on it, which every restore must reproduce) and DB_BYTES (its size
# without pg_wal).
start_source() {
    open_db "$REUSE_DB"
    set_archiving none
    start_cluster "$SRC" "$SRC_LOG"
    psql_q -c "CHECKPOINT" >/dev/null
    SRC_CHECK=$(psql_q -c "$CHECK_SQL")
    DB_BYTES=$(( $(du -sb --exclude=pg_wal "$SRC" | cut -f1) ))
    note "source: $(( DB_BYTES / 1048576 )) MiB without pg_wal; pgbench_accounts sum|count|hash = $SRC_CHECK"
}

# fresh_restore_dir: an empty RESTORE_DIR, mode 0700, owned by postgres.
fresh_restore_dir() {
    rm -rf "$RESTORE_DIR"
    install -d -o postgres -g postgres -m 0700 "$RESTORE_DIR"
}

CHECK_SQL="SELECT sum(abalance), count(*), sum(hashtext(filler)::bigint) FROM pgbench_accounts"

# verify_restore NAME [CONF-LINE...]: starts the restored cluster in RESTORE_DIR on VERIFY_PORT
# with archiving off (and the extra lines), waits until recovery ends, compares
# pgbench_accounts with the source (SRC_CHECK), stops it.
verify_restore() {
    local name=$1 log=$RUN_DIR/verify-$1.log got deadline line
    shift
    {
        echo
        echo "# $BENCH_NAME: a restored copy next to the source"
        echo "port = $VERIFY_PORT"
        echo "archive_mode = off"
        echo "shared_buffers = 256MB"
        for line in "$@"; do echo "$line"; done
    } >>"$RESTORE_DIR/postgresql.conf"
    start_cluster "$RESTORE_DIR" "$log"
    deadline=$(( SECONDS + 900 ))
    until [[ $(psql_at "$VERIFY_PORT" -c "SELECT pg_is_in_recovery()" 2>/dev/null || true) == f ]]; do
        (( SECONDS < deadline )) || { tail -n 20 "$log" >&2; die "$name: restored cluster still in recovery after 900 s"; }
        [[ -f $RESTORE_DIR/postmaster.pid ]] || { tail -n 20 "$log" >&2; die "$name: restored cluster stopped"; }
        sleep 0.2
    done
    got=$(psql_at "$VERIFY_PORT" -c "$CHECK_SQL")
    stop_cluster "$RESTORE_DIR" immediate
    [[ $got == "$SRC_CHECK" ]] ||
        die "$name: restored data differ from the source: got \"$got\", expected \"$SRC_CHECK\" (log: $log)"
    note "$name: restored cluster verified (pgbench_accounts sum|count|hash = $got)"
}

# pg_ark_setup HELPER_LOG [GLOBAL-LINE...]: a fresh repository (zstd-1 and the extra lines),
# `pg_ark init`, the helper started, archiving by pg_ark, the extension created and answering.
pg_ark_setup() {
    local helper_log=$1
    shift
    rm -rf "$ARK_REPO"
    install -d -o postgres -g postgres -m 0750 "$ARK_REPO"
    write_pg_ark_conf "$ARK_CONF" "$ARK_REPO" "$SOCK_DIR/ark/pg_ark.sock" "$CLUSTER" "$SRC" "$@"
    as_pg "$PG_ARK" init --config "$ARK_CONF" --cluster "$CLUSTER" >"$RUN_DIR/ark-init.log" 2>&1 ||
        { cat "$RUN_DIR/ark-init.log" >&2; die "pg_ark init failed"; }
    start_helper "$ARK_CONF" "$helper_log" "$SOCK_DIR/ark/pg_ark.sock"
    set_archiving pg_ark
    psql_q -c "DROP EXTENSION IF EXISTS pg_ark" -c "CREATE EXTENSION pg_ark" -c "SELECT helper_ping()" \
        >/dev/null || die "pg_ark: the extension does not answer (see $helper_log)"
}

# pgbackrest_setup [GLOBAL-LINE...]: a stanza in a fresh repository (options "key=value"),
# archiving by pgBackRest, stanza-create and check.
pgbackrest_setup() {
    rm -rf "$PGBR_REPO" "$RUN_DIR/pgbr"
    write_pgbackrest_conf "$PGBR_CONF" "$PGBR_REPO" "$RUN_DIR/pgbr" "$STANZA" "$SRC" "$PGPORT_BENCH" "$@"
    set_archiving pgbackrest
    as_pg "$PGBACKREST" --config="$PGBR_CONF" --stanza="$STANZA" stanza-create >"$RUN_DIR/pgbr-stanza.log" 2>&1 ||
        { cat "$RUN_DIR/pgbr-stanza.log" >&2; die "pgbackrest stanza-create failed"; }
    as_pg "$PGBACKREST" --config="$PGBR_CONF" --stanza="$STANZA" check >"$RUN_DIR/pgbr-check.log" 2>&1 ||
        { cat "$RUN_DIR/pgbr-check.log" >&2; die "pgbackrest check failed"; }
}

# pgbackrest_newest TYPE-LETTER [DIR]: the label of the newest pgBackRest backup whose label ends
# so (F full, I incremental, D differential), among the backup directories in DIR (default the
# stanza's in PGBR_REPO).
pgbackrest_newest() {
    find "${2:-$PGBR_REPO/backup/$STANZA}" -mindepth 1 -maxdepth 1 -type d -name "*$1" -printf '%f\n' |
        sort | tail -n 1
}

# pgbackrest_full_and_restore KEY DIR [FIND-TEST...]: with the stanza set up, a timed full
# backup (source settled first) and a timed restore of it into a fresh RESTORE_DIR (cold cache),
# recorded as KEY, then the restore verified. DIR holds the stanza's backup directories as
# stored; the stored size is that of the backup's files there that match FIND-TEST.
pgbackrest_full_and_restore() {
    local key=$1 dir=$2 label backup_us stored
    shift 2
    settle
    timed "$RUN_DIR/$key-$run.backup.log" as_pg "$PGBACKREST" --config="$PGBR_CONF" --stanza="$STANZA" \
        --type=full backup
    backup_us=$ELAPSED_US
    label=$(pgbackrest_newest F "$dir")
    [[ -n $label ]] || die "pgBackRest: no full backup in $dir"
    stored=$(sum_bytes "$dir/$label" "$@")

    fresh_restore_dir
    drop_caches
    timed "$RUN_DIR/$key-$run.restore.log" as_pg "$PGBACKREST" --config="$PGBR_CONF" --stanza="$STANZA" \
        --set="$label" --pg1-path="$RESTORE_DIR" --type=immediate --target-action=promote restore
    record "$key" "$backup_us" "$stored" "$ELAPSED_US"
    verify_restore "$key"
}

# ---------------------------------------------------------------------------------------------
# The backup and restore table (backup_bench.sh, s3_bench.sh): a row per tool and
# configuration, each figure the minimum over the rounds (the sourcing script's run and RUNS).
# ---------------------------------------------------------------------------------------------
declare -A BEST_BACKUP BEST_RESTORE STORED LABEL
ORDER=()
add_row() { ORDER+=("$1"); LABEL[$1]=$2; } # add_row KEY LABEL

record() { # record KEY BACKUP_US STORED_BYTES RESTORE_US
    if [[ -z ${BEST_BACKUP[$1]:-} ]] || (( $2 < BEST_BACKUP[$1] )); then BEST_BACKUP[$1]=$2; fi
    if [[ -z ${BEST_RESTORE[$1]:-} ]] || (( $4 < BEST_RESTORE[$1] )); then BEST_RESTORE[$1]=$4; fi
    STORED[$1]=$3
    note "run $run/$RUNS ${LABEL[$1]}: backup $(fmt_s "$2"), $(( $3 / 1048576 )) MiB stored, restore $(fmt_s "$4")"
}

print_backup_table() {
    local k
    printf '%-26s %10s %11s %10s\n' "tool/config" "backup s" "stored MiB" "restore s"
    for k in "${ORDER[@]}"; do
        awk -v l="${LABEL[$k]}" -v b="${BEST_BACKUP[$k]}" -v s="${STORED[$k]}" -v r="${BEST_RESTORE[$k]}" \
            'BEGIN { printf "%-26s %10.2f %11.1f %10.2f\n", l, b / 1e6, s / 1048576, r / 1e6 }'
    done
}

# ---------------------------------------------------------------------------------------------
# Block tracking (shared_preload_libraries = 'pg_ark', the extension created in SRC's cluster)
# ---------------------------------------------------------------------------------------------

# wait_tracker TIMEOUT_S: until block tracking is enabled and has read all the WAL written when
# asked (polled every 0.1 s); returns 1 after TIMEOUT_S seconds.
wait_tracker() {
    local deadline=$(( SECONDS + $1 ))
    until [[ $(psql_q -c "SELECT enabled AND read_lsn >= pg_current_wal_lsn() FROM block_tracking_status()") == t ]]; do
        (( SECONDS < deadline )) || return 1
        sleep 0.1
    done
}

# need_tracker TIMEOUT_S: wait_tracker, or dies showing block_tracking_status().
need_tracker() {
    wait_tracker "$1" && return 0
    psql_q -x -c "SELECT * FROM block_tracking_status()" >&2 || true
    die "block tracking is not enabled or not caught up after $1 s"
}
