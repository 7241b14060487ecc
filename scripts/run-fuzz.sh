#!/usr/bin/env bash
# Runs every fuzz target in BUILD for SECONDS each, with a corpus kept in build dir.
# A crash fails the run and leaves the reproducer (crash-*) in the corpus folder.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-fuzz}
SECONDS_EACH=${2:-60}
status=0
for bin in "$BUILD"/*_fuzz; do
  # Regular files only: the corpus directories (corpus-NAME_fuzz) match the glob too.
  [ -f "$bin" ] && [ -x "$bin" ] || continue
  name=$(basename "$bin")
  corpus="$BUILD/corpus-$name"
  mkdir -p "$corpus"
  seeds="fuzz/seeds/${name%_fuzz}"
  echo "fuzz: $name for ${SECONDS_EACH}s"
  if ! "$bin" -max_total_time="$SECONDS_EACH" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$corpus/" "$corpus" $( [ -d "$seeds" ] && echo "$seeds" ) \
      >"$corpus.log" 2>&1; then
    echo "fuzz: $name FAILED (see $corpus.log)"; tail -n 30 "$corpus.log"; status=1
  else
    grep -E "^#[0-9]+.*DONE" "$corpus.log" | tail -n 1 || true
  fi
done
exit $status
