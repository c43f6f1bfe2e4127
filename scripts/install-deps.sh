#!/usr/bin/env bash
# Installs everything pg_ark needs to build, test and benchmark on Debian 12. Idempotent.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang-14 llvm-14
  postgresql-15 postgresql-client-15 postgresql-server-dev-15 postgresql-contrib libpq-dev
  libzstd-dev libxxhash-dev libssl-dev libcurl4-openssl-dev libgtest-dev libgmock-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev
  libipc-run-perl zstd
  pgbackrest
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Debian's postgresql package starts a default cluster; our tests and demo run their own.
if command -v pg_lsclusters >/dev/null && pg_lsclusters -h 2>/dev/null | grep -q online; then
  pg_lsclusters -h | awk '$4=="online"{print $1, $2}' | while read -r v c; do
    pg_ctlcluster "$v" "$c" stop || true
  done
fi
echo "dependencies ready"
