#!/usr/bin/env bash
#
# copy_engine_bench.sh
#     Cold-cache throughput of the backup copy engine alone (CopyDataDirectory): one relation of
#     $MIB MiB of realistic pages (about 3x with zstd -1, valid page checksums) stored into a
#     posix repository by $WORKERS workers, next to `zstd -$LEVEL -T$WORKERS` over the same
#     files (written to the same disk and synced) as a reference for what compression alone
#     costs on this machine. Both end with their output durable.
#
# Method (BENCH-NOTES.md): before every timed run sync, drop the page cache and wait until the
# CPUs are idle; alternate the two; report each one's minimum over $RUNS runs.
#
# Runs as root (drops caches). Needs the bench binary:
#   cmake -S . -B build -DPG_ARK_BUILD_BENCH=ON && cmake --build build -j2 --target copy_engine_bench
#
# Environment:
#   MIB=1536        size of the relation (1 GiB segments, as PostgreSQL splits them)
#   WORKERS=2       copy workers (and zstd threads)
#   LEVEL=1         zstd level (0: no compression; the reference then is cp)
#   CHECKSUMS=1     verify page checksums during the copy
#   RUNS=3          timed runs of each
#   WORKDIR=/tmp    parent of the scratch directory (needs about 2.5 x MIB MiB)
#   BENCH=build/copy_engine_bench   the binary
#   KEEP=0          1 keeps the scratch directory
#   IDLE_WAIT, IDLE_BUSY_PCT        see lib.sh
#
set -euo pipefail
BENCH_NAME=copy_engine_bench
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

MIB=${MIB:-1536}
WORKERS=${WORKERS:-2}
LEVEL=${LEVEL:-1}
CHECKSUMS=${CHECKSUMS:-1}
RUNS=${RUNS:-3}
WORKDIR=${WORKDIR:-/tmp}
BENCH=${BENCH:-build/copy_engine_bench}

[[ $(id -u) -eq 0 ]] || die "run as root (the page cache is dropped before every run)"
[[ -x $BENCH ]] || die "no $BENCH: configure with -DPG_ARK_BUILD_BENCH=ON and build copy_engine_bench"
command -v zstd >/dev/null || die "zstd (the reference) is not installed"

RUN_DIR=$(mktemp -d "$WORKDIR/copy_engine_bench.XXXXXX")
cleanup() { if [[ $KEEP == 1 ]]; then note "kept $RUN_DIR"; else rm -rf "$RUN_DIR"; fi; }
trap cleanup EXIT

# minimum SECONDS BEST: the smaller, BEST being empty before the first run.
minimum() { awk -v a="$1" -v b="$2" 'BEGIN { print (b == "" || a + 0 < b + 0) ? a : b }'; }

PGDATA=$RUN_DIR/pgdata
"$BENCH" generate "$PGDATA" "$MIB" >/dev/null
mapfile -t FILES < <(find "$PGDATA/base" -type f | sort)

best_engine=""
best_reference=""
for run in $(seq 1 "$RUNS"); do
    rm -rf "$RUN_DIR/repo" "$RUN_DIR/reference"
    mkdir -p "$RUN_DIR/repo" "$RUN_DIR/reference"
    drop_caches
    line=$("$BENCH" copy "$PGDATA" "$RUN_DIR/repo" "$WORKERS" "$LEVEL" "$CHECKSUMS")
    seconds=$(awk '{ for (i = 1; i < NF; i++) if ($i == "seconds") print $(i + 1) }' <<<"$line")
    note "run $run engine:    $line"
    best_engine=$(minimum "$seconds" "$best_engine")

    drop_caches
    start=${EPOCHREALTIME/./}
    for file in "${FILES[@]}"; do
        out=$RUN_DIR/reference/$(basename "$file")
        if [[ $LEVEL == 0 ]]; then cp "$file" "$out"; else zstd -q "-$LEVEL" "-T$WORKERS" -o "$out.zst" "$file"; fi
    done
    sync -f "$RUN_DIR/reference"
    seconds=$(awk -v us=$((${EPOCHREALTIME/./} - start)) 'BEGIN { printf "%.3f", us / 1e6 }')
    note "run $run reference: seconds $seconds"
    best_reference=$(minimum "$seconds" "$best_reference")
done

mibps() { awk -v s="$1" -v m="$MIB" 'BEGIN { printf "%.0f", m / s }'; }
reference_name=$([[ $LEVEL == 0 ]] && echo "cp + sync" || echo "zstd -$LEVEL -T$WORKERS + sync")
echo "copy engine, $MIB MiB, $WORKERS workers, zstd level $LEVEL, checksums $CHECKSUMS (min of $RUNS, cold cache)"
printf '  %-28s %8.3f s  %6s MiB/s\n' "CopyDataDirectory" "$best_engine" "$(mibps "$best_engine")"
printf '  %-28s %8.3f s  %6s MiB/s\n' "$reference_name" "$best_reference" "$(mibps "$best_reference")"
