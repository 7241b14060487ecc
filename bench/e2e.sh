#!/usr/bin/env bash
# End to end alone, as `make bench` runs it: a fresh `sluice serve`, EVENTS (default 10M)
# ~230-byte events pushed by `sluice bench` (8 connections, 500-event NDJSON batches), and
# the time until the store holds every one. For alternated A/B runs of two binaries:
#   bench/e2e.sh build/sluice; bench/e2e.sh /tmp/other/sluice; ...
set -euo pipefail
BIN=${1:-build/sluice}
N=${2:-10000000}
DIR=$(mktemp -d /tmp/sluice-e2e-XXXXXX)
"$BIN" serve --data-dir "$DIR/data" --listen 127.0.0.1:0 > "$DIR/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$DIR"' EXIT
for _ in $(seq 1 600); do [ -s "$DIR/data/sluice.addr" ] && break; sleep 0.05; done
URL="http://$(cat "$DIR/data/sluice.addr")"
T0=$(date +%s.%N)
R=$("$BIN" bench --url "$URL" -c 8 -b 500 --event-bytes 230 --events "$N" -d 600 --json)
while :; do
  ROWS=$(curl -s "$URL/metrics" | awk '/^sluice_store_rows_total / {print $2}')
  [ "${ROWS%.*}" -ge "$N" ] && break
  sleep 0.05
done
T1=$(date +%s.%N)
python3 -c '
import json, sys
r, t0, t1, n, b = json.loads(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
print("%s: %s ev/s end to end (%.1f s), ack p99 %s ms" % (b, format(round(n / (t1 - t0)), ","), t1 - t0, r["p99_ms"]))
' "$R" "$T0" "$T1" "$N" "$BIN"
