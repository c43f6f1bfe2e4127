#!/usr/bin/env bash
# Runs every test: GoogleTest units, pg_regress (SQL surface), TAP (whole flows with real
# clusters). Expects the extension and helper to be installed (make test does that first).
#
# PostgreSQL refuses to run as root, so pg_regress and TAP run as the postgres OS user on a
# copy of the tests in a directory that user owns. As root we also give the TAP tests a small
# tmpfs so they can fill the repository's filesystem (PG_ARK_TEST_SMALLFS).
#
# While developing: PG_ARK_TAP="t/007_backup_restore.pl" runs only those TAP files, and
# PG_ARK_ONLY=tap skips the unit and SQL tests; PG_ARK_ONLY=regress runs the SQL tests alone.
set -euo pipefail

source_dir=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${1:-build}
case "$build_dir" in /*) ;; *) build_dir="$source_dir/$build_dir" ;; esac
pg_bindir=$(pg_config --bindir)
pgxs_dir=$(dirname "$(pg_config --pgxs)")/..
pg_regress="$pgxs_dir/test/regress/pg_regress"
failures=()

only=${PG_ARK_ONLY:-all}
# The S3 tests' server (scripts/install-deps.sh installs it) and fault proxy; without s3rver
# they skip.
s3rver_bin="$source_dir/.s3rver/node_modules/.bin/s3rver"
if [ -x "$s3rver_bin" ]; then
  export PG_ARK_S3RVER="$s3rver_bin" PG_ARK_FAULT_PROXY="$source_dir/tests/s3/fault_proxy.py"
else
  echo "note: s3rver is not installed ($s3rver_bin); the S3 tests will be skipped"
fi
echo "=== unit tests (GoogleTest) ==="
if [ "$only" = all ] && ! (cd "$build_dir" && ctest --output-on-failure -j2); then failures+=(unit); fi

work=$(mktemp -d /tmp/pg_ark_tests.XXXXXX)
smallfs=""
cleanup() {
  if [ -n "$smallfs" ]; then umount "$smallfs" 2>/dev/null || true; fi
  if [ "${PG_ARK_KEEP_TEST_DIR:-}" = "" ]; then rm -rf "$work"; else echo "test files kept in $work"; fi
}
trap cleanup EXIT
# Tests read only this copy: the checkout may live where the postgres user cannot look (/root).
cp -r "$source_dir/sql" "$source_dir/expected" "$source_dir/tests/t" "$source_dir/tests/perl" \
      "$source_dir/docs" "$work/"
cp "$source_dir/tests/regress.conf" "$work/"
cp -r "$source_dir/tests/s3" "$work/"
[ -x "$s3rver_bin" ] && cp -r "$source_dir/.s3rver" "$work/s3rver"

run_as_postgres=()
if [ "$(id -u)" -eq 0 ]; then
  chown -R postgres: "$work"
  run_as_postgres=(runuser -u postgres --)
  smallfs="$work/smallfs"
  mkdir -p "$smallfs"
  if mount -t tmpfs -o size=64m,mode=0700 tmpfs "$smallfs" 2>/dev/null; then
    chown postgres: "$smallfs"
  else
    echo "note: could not mount a tmpfs; the repository-full test will be skipped"
    rmdir "$smallfs"; smallfs=""
  fi
fi

env_vars=(
  "PATH=$pg_bindir:/usr/local/bin:/usr/bin:/bin"
  "PERL5LIB=$pgxs_dir/test/perl:$work/perl"
  "TESTDIR=$work"
  "PG_REGRESS=$pg_regress"
  "PG_ARK_SOURCE_DIR=$work"
)
[ -n "$smallfs" ] && env_vars+=("PG_ARK_TEST_SMALLFS=$smallfs")
[ -x "$s3rver_bin" ] && env_vars+=("PG_ARK_S3RVER=$work/s3rver/node_modules/.bin/s3rver" \
                                   "PG_ARK_FAULT_PROXY=$work/s3/fault_proxy.py")

echo "=== SQL tests (pg_regress) ==="
regress_tests=$(cd "$work/sql" && ls *.sql | sed 's/\.sql$//' | sort)
if { [ "$only" = all ] || [ "$only" = regress ]; } && ! (cd "$work" && "${run_as_postgres[@]}" env "${env_vars[@]}" "$pg_regress" \
      --bindir="$pg_bindir" --temp-instance="$work/regress_instance" --temp-config="$work/regress.conf" \
      --inputdir="$work" --outputdir="$work" $regress_tests); then
  cat "$work/regression.diffs" 2>/dev/null || true
  failures+=(regress)
fi

echo "=== whole-flow tests (TAP) ==="
if [ "$only" != regress ] && ! (cd "$work" && "${run_as_postgres[@]}" env "${env_vars[@]}" prove ${PROVE_FLAGS:-} ${PG_ARK_TAP:-t/*.pl}); then
  for log in "$work"/tmp_check/log/regress_log_*; do
    [ -f "$log" ] && { echo "--- $log (tail)"; tail -n 40 "$log"; }
  done
  failures+=(tap)
fi

if [ ${#failures[@]} -gt 0 ]; then
  echo "FAILED: ${failures[*]}"
  exit 1
fi
echo "all tests passed"
