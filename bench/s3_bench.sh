#!/usr/bin/env bash
#
# s3_bench.sh
#     Full backup and restore to an S3 repository, side by side in one run on the same database
#     and the same S3 server (s3rver 3.7.1 on loopback over HTTPS, installed by
#     scripts/install-deps.sh in .s3rver/):
#       pg_ark       backup_start_full() through the helper; `pg_ark restore`
#       pgBackRest   `backup --type=full`; `restore --type=immediate --target-action=promote`
#     Both with zstd level 1 and 2 parallel processes (pg_ark process-max = 2, pgBackRest
#     process-max=2), each once without and once with encryption (pg_ark aes-256-gcm,
#     pgBackRest aes-256-cbc). It prints backup seconds, stored MiB and restore seconds, and
#     pg_ark's time divided by pgBackRest's in the same configuration.
#     Then the WAL side of a recovery: WAL_SEGMENTS archived segments fetched back one call at a
#     time, as PostgreSQL's restore_command does (pg_ark archive-get with archive-get-ahead 8
#     and 0; pgBackRest archive-get with archive-async=n and =y, its read-ahead).
#
# Method: as backup_bench.sh (BENCH-NOTES.md in the project's shared notes): one pgbench source
# with random fillers; each tool archives its own WAL into its repository (drained before the
# clock starts); CHECKPOINT, sync, an empty page cache and an idle machine before every timed
# step; every restore started and compared with the source (not timed); rounds alternate the
# tools and each figure is the minimum. The S3 server is restarted on an empty directory for
# every configuration, so each tool writes into an empty bucket; its objects live on the same
# disk. s3rver is one single-threaded Node.js process: it is the same bottleneck for both tools,
# and the figures say how well each uses one S3 endpoint, not what AWS would do.
#
# Stored MiB: the objects of the backup itself (its manifest included, not the WAL archive).
#
# WAL fetch: after each tool's backup, WAL_SEGMENTS segments of WAL are written (logical
# decoding messages of random text: no table changes, so the kept database stays as generated)
# and archived by that tool; then, cold cache, a loop calls the tool's archive-get for each
# segment in turn into pg_wal/RECOVERYXLOG of a scratch directory, as recovery would.
#
# Usage: s3_bench.sh [--scale N] [--runs N] [--workdir DIR] [--port N] [--no-cipher] [--keep]
#                    [--reuse] [--wal-segments N]
#   --scale N      pgbench scale (default 100, about 1.5 GiB; 5 for a quick smoke test)
#   --runs N       rounds; each figure is the minimum (default 1)
#   --workdir DIR  parent of the scratch directory (default /var/tmp); needs about 3x the
#                  database's size free
#   --port N       the source cluster's port (default 55432); restored copies use N+1
#   --no-cipher    only the configurations without encryption
#   --keep         keep the generated database in DIR/backup_bench.db-sSCALE for --reuse
#   --reuse        use the database kept there by --keep (generated if missing; kept again)
#   --wal-segments N  segments of WAL fetched back (default 32; 0 skips the WAL fetch)
#
# Runs as root (drops caches; runs PostgreSQL and the tools as the postgres OS user).
# Needs: PostgreSQL 15, pgbackrest, openssl and s3rver (scripts/install-deps.sh), pg_ark
# installed by `make install`.
#
# Environment: PG_BINDIR, PG_ARK, PGBACKREST, IDLE_WAIT (60), IDLE_BUSY_PCT (10) as in lib.sh;
# S3RVER (default: .s3rver/node_modules/.bin/s3rver in the source tree); KEEP=1 also keeps the
# scratch directory and logs.
#
set -euo pipefail

# shellcheck disable=SC2034 # used by lib.sh
BENCH_NAME=s3_bench
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

source_bench_options
CIPHER=1
WAL_SEGMENTS=32
START_SECONDS=$SECONDS
S3RVER=${S3RVER:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.s3rver/node_modules/.bin/s3rver}
BENCH_FLAGS[--no-cipher]="CIPHER=0"
BENCH_OPTS[--wal-segments]=WAL_SEGMENTS
parse_args "$@"

need_count --scale "$SCALE"
need_count --runs "$RUNS"
need_port "$PGPORT_BENCH"
[[ $WAL_SEGMENTS =~ ^[0-9]+$ ]] || die "--wal-segments must be a number, not \"$WAL_SEGMENTS\""
VERIFY_PORT=$(( PGPORT_BENCH + 1 ))
need_common
need_pg_ark
need_pgbackrest
[[ -x $S3RVER ]] || die "s3rver not found at $S3RVER: run scripts/install-deps.sh (or set S3RVER)"
command -v openssl >/dev/null || die "openssl is needed for the S3 server's certificate"
need_workdir
DB_MIB=$(db_mib "$SCALE")
KEPT_DB_DIR=$(kept_db_dir "$WORKDIR" "$SCALE")
if (( REUSE_DB )) && [[ -f $KEPT_DB_DIR/complete ]]; then
    need_space "$WORKDIR" $(( DB_MIB * 2 + 4096 ))
else
    need_space "$WORKDIR" $(( DB_MIB * 3 + 4096 ))
fi

make_run_dir "$WORKDIR" s3_bench
if (( KEEP_DB )); then DB_DIR=$KEPT_DB_DIR; else DB_DIR=$RUN_DIR/db; fi
SRC=$DB_DIR/pgdata
SRC_LOG=$RUN_DIR/src.log
RESTORE_DIR=$RUN_DIR/restore
ARK_CONF=$RUN_DIR/pg_ark.conf
ARK_REPO=$RUN_DIR/ark-unused # repo-path is ignored with repo-type = s3
PGBR_CONF=$RUN_DIR/pgbackrest.conf
PGBR_REPO=/pgbr              # the key prefix in the bucket
BUCKET=bench
PASSPHRASE=$(openssl rand -hex 24)

# ---------------------------------------------------------------------------------------------
# The S3 server: HTTPS with a certificate for localhost, which both tools verify.
# ---------------------------------------------------------------------------------------------
S3_DIR=$RUN_DIR/s3
S3_PID=""
S3_PORT=""
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$RUN_DIR/s3.key" -out "$RUN_DIR/s3.crt" >"$RUN_DIR/openssl.log" 2>&1 ||
    { cat "$RUN_DIR/openssl.log" >&2; die "could not make the S3 server's certificate"; }
chmod 0644 "$RUN_DIR/s3.crt"

stop_s3() {
    if [[ -n $S3_PID ]]; then
        kill -TERM "$S3_PID" 2>/dev/null || true
        wait "$S3_PID" 2>/dev/null || true
        S3_PID=""
    fi
}
bench_cleanup_hook() { stop_s3; }

# fresh_s3: the server restarted on an empty directory with the bucket; sets S3_PORT.
fresh_s3() {
    local log=$RUN_DIR/s3rver.log
    stop_s3
    rm -rf "$S3_DIR"
    mkdir -p "$S3_DIR"
    "$S3RVER" -d "$S3_DIR" -a 127.0.0.1 -p 0 -s --key "$RUN_DIR/s3.key" --cert "$RUN_DIR/s3.crt" \
        --configure-bucket "$BUCKET" >"$log" 2>&1 &
    S3_PID=$!
    S3_PORT=""
    for _ in $(seq 1 3000); do
        S3_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -n 1)
        [[ -n $S3_PORT ]] && return 0
        kill -0 "$S3_PID" 2>/dev/null || { cat "$log" >&2; die "s3rver exited at start"; }
        sleep 0.01
    done
    cat "$log" >&2
    die "s3rver did not start listening"
}

# s3rver keeps each object's body in a file named <key>._S3rver_object under <directory>/<bucket>.
S3_OBJECT='*._S3rver_object'

# stored_under PREFIX: bytes of the objects whose keys start with PREFIX/.
stored_under() {
    local dir=$S3_DIR/$BUCKET/$1
    [[ -d $dir ]] || die "no objects under s3://$BUCKET/$1 (s3rver's directory layout changed?)"
    sum_bytes "$dir" -name "$S3_OBJECT"
}

cipher_label() { if [[ $1 == aes ]]; then echo ", encrypted"; fi; } # a label's suffix

# ---------------------------------------------------------------------------------------------
# The runs
# ---------------------------------------------------------------------------------------------

declare -A BEST_FETCH
FETCH_ORDER=()
record_fetch() { # record_fetch KEY LABEL MICROSECONDS
    [[ -z ${BEST_FETCH[$1]:-} ]] && FETCH_ORDER+=("$1")
    LABEL[$1]=$2
    if [[ -z ${BEST_FETCH[$1]:-} ]] || (( $3 < BEST_FETCH[$1] )); then BEST_FETCH[$1]=$3; fi
    note "run $run/$RUNS $2: $WAL_SEGMENTS WAL segments fetched in $(fmt_s "$3")"
}

# write_wal: WAL_SEGMENTS segments of WAL through the current archiving, drained; sets
# WAL_NAMES. Logical decoding messages of random text change no table.
write_wal() {
    local start
    psql_q -c "SELECT pg_switch_wal()" >/dev/null
    start=$(psql_q -c "SELECT pg_current_wal_lsn()")
    psql_q >/dev/null <<EOC
DO \$\$
BEGIN
    WHILE pg_current_wal_lsn() - '$start'::pg_lsn < $WAL_SEGMENTS * 16777216::numeric LOOP
        PERFORM pg_logical_emit_message(false, 's3_bench',
            (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 16384)));
    END LOOP;
END
\$\$;
EOC
    drain_archive
    # + 1: at a segment boundary pg_walfile_name names the segment before it.
    mapfile -t WAL_NAMES < <(psql_q -c "SELECT pg_walfile_name('$start'::pg_lsn + (g * 16777216 + 1)::numeric)
        FROM generate_series(0, $WAL_SEGMENTS - 1) g")
}

# fetch_wal KEY LABEL CMD...: times CMD NAME pg_wal/RECOVERYXLOG for each of WAL_NAMES in turn,
# as postgres in a scratch data directory (with the source's pg_control), cold cache.
fetch_wal() {
    local key=$1 label=$2 dir=$RUN_DIR/fetch t0 name
    shift 2
    rm -rf "$dir"
    install -d -o postgres -g postgres -m 0700 "$dir" "$dir/pg_wal" "$dir/global"
    # pgBackRest's archive-get reads the data directory's pg_control and PG_VERSION.
    install -o postgres -g postgres -m 0600 "$SRC/global/pg_control" "$dir/global/"
    install -o postgres -g postgres -m 0600 "$SRC/PG_VERSION" "$dir/"
    drop_caches
    t0=$(now_us)
    for name in "${WAL_NAMES[@]}"; do
        (cd "$dir" && as_pg "$@" "$name" pg_wal/RECOVERYXLOG) >>"$RUN_DIR/$key-$run.fetch.log" 2>&1 ||
            { tail -n 20 "$RUN_DIR/$key-$run.fetch.log" >&2; die "$label: could not fetch $name"; }
        [[ $(stat -c %s "$dir/pg_wal/RECOVERYXLOG") == 16777216 ]] || die "$label: $name is not a whole segment"
    done
    record_fetch "$key" "$label" $(( $(now_us) - t0 ))
    # pgBackRest's asynchronous archive-get goes on in the background: let it finish first.
    for _ in $(seq 1 300); do pgrep -u postgres -f 'pgbackrest.*archive-get' >/dev/null || break; sleep 0.1; done
    rm -rf "$dir"
}

# run_pg_ark none|aes: one backup and one restore through a fresh bucket.
run_pg_ark() {
    local cipher=$1 key=ark-$1 helper_log=$RUN_DIR/ark-$1-$run.helper.log id status stored backup_us
    fresh_s3 # first: the lines name its port
    local lines=(
        "process-max = 2"
        "repo-type = s3"
        "repo-s3-endpoint = https://localhost:$S3_PORT"
        "repo-s3-bucket = $BUCKET"
        "repo-s3-region = us-east-1"
        "repo-s3-uri-style = path"
        "repo-s3-prefix = /ark"
        "repo-s3-ca-file = $RUN_DIR/s3.crt"
        "repo-s3-key = S3RVER"
        "repo-s3-key-secret = S3RVER"
        "lock-path = $RUN_DIR/ark-lock"
    )
    [[ $cipher == aes ]] && lines+=("repo-cipher-type = aes-256-gcm" "repo-cipher-pass = $PASSPHRASE")
    pg_ark_setup "$helper_log" "${lines[@]}"

    settle
    timed "$RUN_DIR/$key-$run.backup.log" psql_q -F ' ' \
        -c "SELECT backup_id, status, stored_bytes FROM backup_start_full(label => 's3_bench')"
    backup_us=$ELAPSED_US
    read -r id status stored <"$RUN_DIR/$key-$run.backup.log"
    [[ $status == complete ]] || { cat "$RUN_DIR/$key-$run.backup.log" >&2; die "pg_ark backup is \"$status\""; }
    stored=$(stored_under "ark/$CLUSTER/backup/$id")

    fresh_restore_dir
    drop_caches
    timed "$RUN_DIR/$key-$run.restore.log" runuser -u postgres -- "$PG_ARK" restore --config "$ARK_CONF" \
        --cluster "$CLUSTER" --set "$id" --pgdata "$RESTORE_DIR"
    record "$key" "$backup_us" "$stored" "$ELAPSED_US"
    verify_restore "$key"
    if (( WAL_SEGMENTS > 0 )); then
        local suffix
        suffix=$(cipher_label "$cipher")
        write_wal
        fetch_wal "$key-fetch8" "pg_ark archive-get, ahead 8$suffix" \
            "$PG_ARK" archive-get --config "$ARK_CONF" --cluster "$CLUSTER"
        sed 's/^\[global\]$/[global]\narchive-get-ahead = 0/' "$ARK_CONF" >"$ARK_CONF.ahead0"
        grep -q '^archive-get-ahead = 0$' "$ARK_CONF.ahead0" || die "could not write $ARK_CONF.ahead0"
        chown postgres: "$ARK_CONF.ahead0"
        chmod 0600 "$ARK_CONF.ahead0"
        fetch_wal "$key-fetch0" "pg_ark archive-get, ahead 0$suffix" \
            "$PG_ARK" archive-get --config "$ARK_CONF.ahead0" --cluster "$CLUSTER"
    fi
    set_archiving none
    stop_helper
    rm -rf "$RESTORE_DIR" "$RUN_DIR/ark-lock"
}

# run_pgbackrest none|aes: stanza in a fresh bucket, one backup, one restore.
run_pgbackrest() {
    local cipher=$1 key=pgbr-$1
    fresh_s3 # first: the lines name its port
    local lines=(
        compress-type=zst compress-level=1 process-max=2 start-fast=y archive-async=n
        repo1-retention-full=99
        repo1-type=s3
        repo1-s3-endpoint=localhost
        repo1-storage-port="$S3_PORT"
        repo1-s3-bucket="$BUCKET"
        repo1-s3-region=us-east-1
        repo1-s3-uri-style=path
        repo1-storage-ca-file="$RUN_DIR/s3.crt"
        repo1-s3-key=S3RVER
        repo1-s3-key-secret=S3RVER
    )
    [[ $cipher == aes ]] && lines+=(repo1-cipher-type=aes-256-cbc "repo1-cipher-pass=$PASSPHRASE")
    pgbackrest_setup "${lines[@]}"
    chmod 0600 "$PGBR_CONF"

    pgbackrest_full_and_restore "$key" "$S3_DIR/$BUCKET/pgbr/backup/$STANZA" -name "$S3_OBJECT"
    if (( WAL_SEGMENTS > 0 )); then
        local suffix
        suffix=$(cipher_label "$cipher")
        write_wal
        fetch_wal "$key-fetchsync" "pgBackRest archive-get$suffix" \
            "$PGBACKREST" --config="$PGBR_CONF" --stanza="$STANZA" --pg1-path="$RUN_DIR/fetch" archive-get
        fetch_wal "$key-fetchasync" "pgBackRest archive-get async$suffix" \
            "$PGBACKREST" --config="$PGBR_CONF" --stanza="$STANZA" --pg1-path="$RUN_DIR/fetch" \
            --archive-async --archive-get-queue-max=128MiB archive-get
    fi
    set_archiving none
    rm -rf "$RESTORE_DIR" "$RUN_DIR/pgbr"
}

start_source

CIPHERS=(none)
(( CIPHER )) && CIPHERS+=(aes)
add_row ark-none "pg_ark zstd-1 pm2"
add_row pgbr-none "pgBackRest zst-1 pm2"
if (( CIPHER )); then
    add_row ark-aes "pg_ark + aes-256-gcm"
    add_row pgbr-aes "pgBackRest + aes-256-cbc"
fi
for run in $(seq 1 "$RUNS"); do
    for c in "${CIPHERS[@]}"; do
        run_pg_ark "$c"
        run_pgbackrest "$c"
    done
done
stop_s3
stop_cluster "$SRC" fast

# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
echo "Full backup and restore to S3 (s3rver $("$S3RVER" --version 2>/dev/null) over HTTPS on loopback), pgbench scale $SCALE with random fillers ($(( DB_BYTES / 1048576 )) MiB without pg_wal), cold cache, min of $RUNS run(s)"
echo "$("$PG_ARK" version 2>/dev/null | head -n 1); $("$PGBACKREST" version 2>/dev/null | head -n 1); $("$PG_BINDIR/postgres" --version); $(nproc) CPUs"
print_backup_table
echo "pg_ark time / pgBackRest time, same configuration (below 1: pg_ark faster)"
printf '%-26s %10s %10s\n' "configuration" "backup" "restore"
for c in "${CIPHERS[@]}"; do
    awk -v l="$([[ $c == none ]] && echo "no encryption" || echo "encrypted")" \
        -v ab="${BEST_BACKUP[ark-$c]}" -v ar="${BEST_RESTORE[ark-$c]}" \
        -v b="${BEST_BACKUP[pgbr-$c]}" -v r="${BEST_RESTORE[pgbr-$c]}" \
        'BEGIN { printf "%-26s %10.2f %10.2f\n", l, ab / b, ar / r }'
done
echo "every restore verified by starting it and comparing pgbench_accounts with the source."
if (( WAL_SEGMENTS > 0 )); then
    echo
    echo "WAL fetch: $WAL_SEGMENTS segments of 16 MiB, one archive-get call each (as recovery does), cold cache, min of $RUNS run(s)"
    printf '%-40s %10s %12s\n' "tool/config" "seconds" "ms/segment"
    for k in "${FETCH_ORDER[@]}"; do
        awk -v l="${LABEL[$k]}" -v t="${BEST_FETCH[$k]}" -v n="$WAL_SEGMENTS" \
            'BEGIN { printf "%-40s %10.2f %12.1f\n", l, t / 1e6, t / 1e3 / n }'
    done
    for c in "${CIPHERS[@]}"; do
        awk -v l="$([[ $c == none ]] && echo "no encryption" || echo "encrypted")" \
            -v a="${BEST_FETCH[ark-$c-fetch8]}" -v s="${BEST_FETCH[pgbr-$c-fetchsync]}" \
            -v y="${BEST_FETCH[pgbr-$c-fetchasync]}" \
            'BEGIN { printf "pg_ark (ahead 8) / pgBackRest, %s: %.2f of archive-get, %.2f of archive-get async\n", l, a / s, a / y }'
    done
fi
if (( BUSY_RUNS > 0 )); then
    echo "note: $BUSY_RUNS timed step(s) started on a busy machine (see stderr): compare ratios, not times"
fi
(( KEEP_DB )) && echo "database kept in $DB_DIR (reuse it with --reuse --scale $SCALE; remove it with rm -rf)"
echo "total runtime: $(( SECONDS - START_SECONDS )) s"
