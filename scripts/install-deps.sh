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

# The S3 tests run a real S3-compatible server on loopback: s3rver, from the npm registry, into
# the checkout (.s3rver/, not installed system-wide). Debian 12's nodejs (18) and npm suffice; a
# newer nodejs already installed (NodeSource's, say) is kept.
root=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v node >/dev/null; then node_packages=(nodejs); else node_packages=(); fi
command -v npm >/dev/null || node_packages+=(npm)
if [ ${#node_packages[@]} -gt 0 ]; then
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${node_packages[@]}"
fi
s3rver_version=3.7.1
if [ ! -x "$root/.s3rver/node_modules/.bin/s3rver" ] ||
   ! grep -q "\"version\": \"$s3rver_version\"" "$root/.s3rver/node_modules/s3rver/package.json" 2>/dev/null; then
  echo "installing s3rver $s3rver_version into $root/.s3rver"
  npm install --no-audit --no-fund --prefix "$root/.s3rver" "s3rver@$s3rver_version"
fi

# Debian's postgresql package starts a default cluster; our tests and demo run their own.
if command -v pg_lsclusters >/dev/null && pg_lsclusters -h 2>/dev/null | grep -q online; then
  pg_lsclusters -h | awk '$4=="online"{print $1, $2}' | while read -r v c; do
    pg_ctlcluster "$v" "$c" stop || true
  done
fi
echo "dependencies ready"
