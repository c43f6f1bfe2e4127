#!/usr/bin/env bash
# pg_ark server, init and restore refuse to run as root (see RefuseRoot in helper/src/main.cpp):
# a root helper would lock PostgreSQL out of its socket and leave unwritable repository files,
# and a root restore would leave a data directory PostgreSQL cannot use.
set -u
pg_ark=$1
[ "$(id -u)" -eq 0 ] || { echo "not root: skipped"; exit 77; }
check() {
  local out rc
  out=$("$pg_ark" "$@" 2>&1)
  rc=$?
  if [ "$rc" -ne 2 ] || [[ "$out" != *"must not run as root"* ]]; then
    echo "pg_ark $*: expected exit 2 and a refusal, got $rc: $out"
    exit 1
  fi
}
check server --config /nonexistent.conf
check init --config /nonexistent.conf --cluster main
check restore --config /nonexistent.conf --cluster main --pgdata /nonexistent
echo "server, init and restore refuse root"
