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
# zstd level 1; extra lines ("key = value") go to [global].
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

fmt_s() { awk -v u="$1" 'BEGIN { printf "%.3f s", u / 1e6 }'; } # microseconds as "1.234 s"

sum_bytes() { # total size of the files find(1) selects
    find "$@" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%d\n", s }'
}
