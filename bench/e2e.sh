#!/usr/bin/env bash
# End to end alone, as `make bench` runs it: a fresh `sluice serve`, EVENTS (default 10M)
# ~230-byte events pushed by `sluice bench` (8 connections, 500-event NDJSON batches), and
# the time until the store holds every one. For alternated A/B runs of two binaries:
#   bench/e2e.sh build/sluice; bench/e2e.sh /tmp/other/sluice; ...
# CONFIG=file.toml passes a configuration to `serve` (A/B runs of a setting).
set -euo pipefail
BIN=${1:-build/sluice}
N=${2:-10000000}
DIR=$(mktemp -d /tmp/sluice-e2e-XXXXXX)
"$BIN" serve ${CONFIG:+--config "$CONFIG"} --data-dir "$DIR/data" --listen 127.0.0.1:0 > "$DIR/server.log" 2>&1 &
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
# The server's CPU (user + system, every thread) for the run: steadier than the rate on a
# shared host, and what the two cores bound.
CPU=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.1f", ($14 + $15) / hz}' /proc/$PID/stat)
python3 -c '
import json, sys
r, t0, t1, n, b, cpu = json.loads(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5], float(sys.argv[6])
print("%s: %s ev/s end to end (%.1f s), ack p99 %s ms, server %.1f CPU-s (%.2f us/event)" % (b, format(round(n / (t1 - t0)), ","), t1 - t0, r["p99_ms"], cpu, cpu * 1e6 / n))
' "$R" "$T0" "$T1" "$N" "$BIN" "$CPU"
