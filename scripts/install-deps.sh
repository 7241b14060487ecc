#!/usr/bin/env bash
# Installs everything sluice needs to build and test on Debian 12, and nothing by hand.
# Idempotent and quick when done: apt runs only for missing packages; DuckDB is
# unpacked from its pinned npm packages into third_party/duckdb (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config git curl ca-certificates
  libboost1.81-dev
  libsimdjson-dev libcli11-dev libtomlplusplus-dev libspdlog-dev libfmt-dev
  libxxhash-dev zlib1g-dev libzstd-dev libpugixml-dev libcurl4-openssl-dev libssl-dev openssl
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev python3
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js + npm are only needed to fetch DuckDB; the image may carry its own build.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: apt installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# DuckDB 1.4.4: Debian has none. The official build ships inside npm packages.
DUCK_DIR=third_party/duckdb
DUCK_STAMP="$DUCK_DIR/.version"
DUCK_WANT="1.4.4 / node-bindings-linux-x64 1.4.4-r.4"
if [ ! -f "$DUCK_STAMP" ] || [ "$(cat "$DUCK_STAMP")" != "$DUCK_WANT" ] \
   || [ ! -f "$DUCK_DIR/lib/libduckdb.so" ] || [ ! -f "$DUCK_DIR/include/duckdb.h" ]; then
  echo "install-deps: fetching DuckDB ($DUCK_WANT) from npm"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent @duckdb/node-bindings-linux-x64@1.4.4-r.4 >/dev/null \
             && npm pack --silent duckdb@1.4.4 >/dev/null)
  mkdir -p "$tmp/b" "$tmp/h" "$DUCK_DIR/lib" "$DUCK_DIR/include"
  tar -xzf "$tmp"/duckdb-node-bindings-linux-x64-*.tgz -C "$tmp/b"
  tar -xzf "$tmp"/duckdb-1.4.4.tgz -C "$tmp/h" package/src/duckdb/src/include/duckdb.h
  so=$(find "$tmp/b" -name 'libduckdb.so' | head -n1)
  [ -n "$so" ] || { echo "install-deps: libduckdb.so not found in npm package" >&2; exit 1; }
  cp "$so" "$DUCK_DIR/lib/libduckdb.so"
  cp "$tmp/h/package/src/duckdb/src/include/duckdb.h" "$DUCK_DIR/include/duckdb.h"
  echo "$DUCK_WANT" > "$DUCK_STAMP"
fi
# hyparquet: a Parquet reader that is not DuckDB, so the tests prove our archive files
# are plain Parquet (tests/store/parquet_reader.mjs). Pinned, git-ignored.
NODE_DIR=third_party/node
NODE_WANT="hyparquet@1.31.5 hyparquet-compressors@1.1.2"
if [ ! -f "$NODE_DIR/.version" ] || [ "$(cat "$NODE_DIR/.version")" != "$NODE_WANT" ]; then
  echo "install-deps: fetching $NODE_WANT from npm"
  mkdir -p "$NODE_DIR"
  npm install --silent --no-audit --no-fund --prefix "$NODE_DIR" $NODE_WANT >/dev/null
  echo "$NODE_WANT" > "$NODE_DIR/.version"
fi
echo "install-deps: ok"
