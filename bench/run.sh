#!/usr/bin/env bash
# `make bench`: ingest throughput and latency, side by side with DuckDB loading the same
# events, on this machine, in one run. Prints a table and writes bench/last-run.json.
#   EVENTS (default 2000000) for the anchor file; DURATION seconds of load (default 20).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BIN="$BUILD/sluice"
EVENTS=${EVENTS:-2000000}
DURATION=${DURATION:-20}
WORK=$(mktemp -d /tmp/sluice-bench-XXXXXX)
trap 'kill $SERVER_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT

start_server() {  # $1 = config text
  printf '%s\n' "$1" > "$WORK/config.toml"
  rm -rf "$WORK/data"
  "$BIN" serve --data-dir "$WORK/data" --config "$WORK/config.toml" --listen 127.0.0.1:0 \
    > "$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 600); do [ -s "$WORK/data/sluice.addr" ] && break; sleep 0.05; done
  URL="http://$(cat "$WORK/data/sluice.addr")"
}
stop_server() {
  kill -TERM $SERVER_PID; wait $SERVER_PID || true
}
rss_mb() { awk '/VmHWM/ {printf "%.0f", $2/1024}' /proc/$SERVER_PID/status; }
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

echo "== anchor: DuckDB read_ndjson of $EVENTS events (~230 B each)"
"$BIN" bench --write-ndjson "$WORK/events.ndjson" --events "$EVENTS" --batch 500 --run-id anchor
DUCK=$("$BUILD/duckdb_anchor" "$WORK/events.ndjson" 2)
echo "$DUCK"
echo "== anchor: the same into a DuckDB file, with CHECKPOINT (durable, like sluice's acks)"
DUCK_FILE=$("$BUILD/duckdb_anchor" "$WORK/events.ndjson" 2 "$WORK/anchor.duckdb")
echo "$DUCK_FILE"
rm -f "$WORK"/anchor.duckdb*

echo "== sluice: 8 connections x 500-event NDJSON batches, durable acks, ${DURATION}s"
start_server ''
PUSH=$("$BIN" bench --url "$URL" -c 8 -b 500 --event-bytes 230 -d "$DURATION" --json)
echo "$PUSH"
PUSH_RSS=$(rss_mb)
# Twice: right after the push, while the store still works off its backlog (the ack pacer
# holds acks while it lags), and once it has caught up: the steady state the target means.
echo "== sluice: single-event POSTs at 1000 req/s, 10s, right after the push"
SINGLE_BACKLOG=$("$BIN" bench --url "$URL" -c 4 -b 1 --rate 1000 -d 10 --json)
echo "$SINGLE_BACKLOG"
for _ in $(seq 1 600); do
  lag=$(curl -s "$URL/metrics" | awk '/^sluice_store_lag_bytes / {print $2}')
  [ "${lag:-1}" = "0" ] && break
  sleep 0.2
done
echo "== sluice: single-event POSTs at 1000 req/s, 10s, store caught up (lag ${lag:-?} bytes)"
SINGLE=$("$BIN" bench --url "$URL" -c 4 -b 1 --rate 1000 -d 10 --json)
echo "$SINGLE"
curl -s "$URL/metrics" | grep -E '^sluice_(dedupe_ids|dedupe_memory_bytes|store_rows_total|store_lag_bytes|log_fsyncs_total) ' || true
stop_server

echo "== sluice with rollups disabled (store on), to price the rollup consumer"
start_server $'[rollup]\nenabled = false\n'
PUSH_NOROLLUP=$("$BIN" bench --url "$URL" -c 8 -b 500 --event-bytes 230 -d "$DURATION" --json)
echo "$PUSH_NOROLLUP"
stop_server

echo "== sluice with the store disabled (ingest path alone)"
start_server $'[store]\nenabled = false\n'
PUSH_NOSTORE=$("$BIN" bench --url "$URL" -c 8 -b 500 --event-bytes 230 -d "$DURATION" --json)
echo "$PUSH_NOSTORE"
NOSTORE_RSS=$(rss_mb)
stop_server

# The floor (bench/ingest_floor.cc): the same load against sluice's HTTP layer with only
# part of the path behind it: nothing, the envelope parser, or the log with its fsync.
FLOOR_PORT=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
FLOOR=""
for stage in http parse log; do
  echo "== floor: HTTP layer + $stage"
  "$BUILD/ingest_floor" "$stage" "$FLOOR_PORT" "$WORK/floorlog" > /dev/null &
  FLOOR_PID=$!
  sleep 0.5
  R=$("$BIN" bench --url "http://127.0.0.1:$FLOOR_PORT" -c 8 -b 500 --event-bytes 230 -d 10 --json)
  echo "$R"
  kill -TERM $FLOOR_PID; wait $FLOOR_PID || true
  rm -rf "$WORK/floorlog"
  FLOOR="$FLOOR $stage=$(field "$R" events_per_s)"
done
echo "floor (ev/s):$FLOOR"

echo "== sluice import of the anchor file (offline, durable, deduped, stored)"
rm -rf "$WORK/data"
IMPORT_T0=$(date +%s.%N)
"$BIN" import --no-progress --data-dir "$WORK/data" "$WORK/events.ndjson"
IMPORT_SECS=$(python3 -c "import time,sys; print(time.time()-float(sys.argv[1]))" "$IMPORT_T0")

echo "== end to end: ${E2E_EVENTS:=10000000} events pushed, until all are queryable in the store"
start_server ''
E2E_T0=$(date +%s.%N)
E2E=$("$BIN" bench --url "$URL" -c 8 -b 500 --event-bytes 230 --events "$E2E_EVENTS" -d 600 --json)
echo "$E2E"
E2E_LAG_MAX=0
while :; do
  M=$(curl -s "$URL/metrics")
  ROWS=$(echo "$M" | awk '/^sluice_store_rows_total / {print $2}')
  LAG=$(echo "$M" | awk '/^sluice_store_lag_bytes / {print $2}')
  [ "${LAG%.*}" -gt "$E2E_LAG_MAX" ] && E2E_LAG_MAX=${LAG%.*}
  [ "${ROWS%.*}" -ge "$(field "$E2E" events)" ] && break
  sleep 0.05
done
E2E_SECS=$(python3 -c "import time,sys; print(time.time()-float(sys.argv[1]))" "$E2E_T0")
echo "queryable after ${E2E_SECS}s; max store lag seen after the load: $E2E_LAG_MAX bytes"
stop_server

echo "== archive size: the anchor events, moved to a closed hour, imported and archived"
rm -rf "$WORK/data"
sed -E 's/"timestamp":"[0-9-]+T[0-9]+:/"timestamp":"2025-01-01T00:/' "$WORK/events.ndjson" > "$WORK/old.ndjson"
printf '[archive]\nlateness_minutes = 0\n' > "$WORK/archive.toml"
"$BIN" import --no-progress --data-dir "$WORK/data" --config "$WORK/archive.toml" "$WORK/old.ndjson"
"$BIN" archive --data-dir "$WORK/data" --config "$WORK/archive.toml"
ARCHIVE_BYTES=$(find "$WORK/data/archive" -name '*.parquet' -printf '%s\n' | awk '{s+=$1} END {print s}')
RAW_BYTES=$(stat -c %s "$WORK/old.ndjson")
echo "archive: $ARCHIVE_BYTES bytes for $EVENTS events (raw NDJSON $RAW_BYTES bytes)"
rm -f "$WORK/old.ndjson"

echo "== rollups: consumer throughput, 7-day hourly metric vs raw SQL, storage (${ROLLUP_EVENTS:=10000000} events)"
# Its log lines go to stdout too; the figures are the last line.
ROLLUP=$("$BUILD/rollup_bench" "$ROLLUP_EVENTS" "$WORK/rollup" | tail -n 1)
echo "$ROLLUP"

python3 - "$PUSH_NOROLLUP" "$ROLLUP" "$PUSH" <<'PY'
import json, sys
off, r, on = (json.loads(a) for a in sys.argv[1:4])
print("\n| rollups | figure | notes |\n|---|---|---|")
print(f"| HTTP push, rollups on vs off | {on['events_per_s']:,.0f} vs {off['events_per_s']:,.0f} ev/s | "
      f"{100*(1-on['events_per_s']/off['events_per_s']):.1f}% slower with rollups (target <= 10%) |")
print(f"| rollup consumer alone | {r['rollup_events_per_s']:,.0f} ev/s | store consumer {r['store_events_per_s']:,.0f} ev/s |")
print(f"| 7-day hourly series by type, {r['events']:,} events | p99 {r['metric_p99_ms']:.2f} ms | p50 {r['metric_p50_ms']:.2f} ms; "
      f"{r['series_groups']} groups x {r['series_points']} points; cached p99 {r['metric_cached_p99_ms']:.3f} ms |")
print(f"| same aggregate as SQL over raw events | p99 {r['raw_sql_p99_ms']:.1f} ms | p50 {r['raw_sql_p50_ms']:.1f} ms; "
      f"rollups {r['speedup_p50']:.0f}x faster at p50, {r['speedup_p99']:.0f}x at p99 (target >= 50x) |")
print(f"| rollup storage / raw events | {100*r['rollup_storage_ratio']:.2f}% | {r['rollup_bytes']:,} B vs {r['raw_bytes']:,} B (target <= 2%) |")
json.dump({"push_rollups_off": off, "push_rollups_on": on, "rollup_bench": r}, open("bench/last-run-rollup.json", "w"), indent=1)
PY

python3 - "$DUCK" "$PUSH" "$SINGLE" "$PUSH_NOSTORE" "$PUSH_RSS" "$IMPORT_SECS" "$EVENTS" "$DUCK_FILE" "$NOSTORE_RSS" \
  "$E2E" "$E2E_SECS" "$E2E_LAG_MAX" "$ARCHIVE_BYTES" "$RAW_BYTES" "$SINGLE_BACKLOG" "$FLOOR" <<'PY'
import json, sys
duck, push, single, nostore = (json.loads(a) for a in sys.argv[1:5])
rss, import_secs, events = float(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7])
duck_file, nostore_rss = json.loads(sys.argv[8]), float(sys.argv[9])
df = duck_file['rows_per_s']
e2e, e2e_secs, e2e_lag = json.loads(sys.argv[10]), float(sys.argv[11]), int(sys.argv[12])
archive_bytes, raw_bytes = int(sys.argv[13]), int(sys.argv[14])
single_backlog = json.loads(sys.argv[15])
floor = {k: float(v) for k, v in (x.split("=") for x in sys.argv[16].split())}
e2e_rate = e2e['events'] / e2e_secs
rows = [
  ("DuckDB read_ndjson -> in-memory table (anchor)", f"{duck['rows_per_s']:,.0f} ev/s", ""),
  ("DuckDB read_ndjson -> file + CHECKPOINT (anchor)", f"{df:,.0f} ev/s", ""),
  ("sluice HTTP push, durable acks, store on", f"{push['events_per_s']:,.0f} ev/s",
   f"{push['events_per_s']/duck['rows_per_s']:.2f}x DuckDB mem, {push['events_per_s']/df:.2f}x DuckDB file; p99 ack {push['p99_ms']:.1f} ms; max RSS {rss:.0f} MB"),
  ("sluice HTTP push, durable acks, store off", f"{nostore['events_per_s']:,.0f} ev/s",
   f"{nostore['events_per_s']/duck['rows_per_s']:.2f}x DuckDB mem, {nostore['events_per_s']/df:.2f}x DuckDB file; p99 ack {nostore['p99_ms']:.1f} ms; max RSS {nostore_rss:.0f} MB"),
  # Issue 2's "2x DuckDB" against what the same loader gets from the HTTP layer with only
  # part of the path behind it (bench/README, "Session 22"): when even HTTP + the parser,
  # with no dedupe, log or fsync, is below twice the anchor, no tuning of the rest gets there.
  ("2x DuckDB mem, against the floors", f"{2*duck['rows_per_s']:,.0f} ev/s",
   f"HTTP alone {floor.get('http', 0):,.0f}; HTTP + parser {floor.get('parse', 0):,.0f} "
   f"({floor.get('parse', 0)/(2*duck['rows_per_s']):.2f}x of it); HTTP + log {floor.get('log', 0):,.0f}"),
  ("sluice single-event POST @1000 req/s, store caught up", f"p50 {single['p50_ms']:.2f} ms", f"p99 {single['p99_ms']:.2f} ms, max {single['max_ms']:.1f} ms"),
  ("... right after the push (store catching up)", f"p50 {single_backlog['p50_ms']:.2f} ms", f"p99 {single_backlog['p99_ms']:.2f} ms, max {single_backlog['max_ms']:.1f} ms"),
  ("sluice end to end: pushed -> queryable", f"{e2e_rate:,.0f} ev/s",
   f"{e2e['events']:,} events in {e2e_secs:.1f} s; non-2xx {e2e['non_2xx']}; p99 ack {e2e['p99_ms']:.1f} ms; max store lag after load {e2e_lag/1e6:.0f} MB"),
  ("archive size (Parquet zstd)", f"{archive_bytes/events:.1f} B/event", f"raw NDJSON {raw_bytes/events:.0f} B/event, {raw_bytes/archive_bytes:.1f}x smaller"),
  ("sluice import (offline, incl. store)", f"{events/import_secs:,.0f} ev/s", f"{(events/import_secs)/duck['rows_per_s']:.2f}x DuckDB mem, {(events/import_secs)/df:.2f}x DuckDB file"),
]
print("\n| what | rate | notes |\n|---|---|---|")
for r in rows: print(f"| {r[0]} | {r[1]} | {r[2]} |")
json.dump({"duckdb": duck, "duckdb_file": duck_file, "push": push, "single": single,
           "single_after_push": single_backlog, "push_store_off": nostore,
           "push_rss_mb": rss, "import_seconds": import_secs, "events": events,
           "end_to_end": e2e, "end_to_end_seconds": e2e_secs, "end_to_end_events_per_s": e2e_rate,
           "archive_bytes_per_event": archive_bytes / events},
          open("bench/last-run.json", "w"), indent=1)
PY
if [ -x "$BUILD/micro_bench" ]; then
  echo "== micro benchmarks (parser, dedupe index)"
  "$BUILD/micro_bench" --benchmark_min_time=0.5 2>/dev/null | grep -v '^\*\*\*' || true
fi
if [ -x "$BUILD/search_bench" ]; then
  # Fills its own store (~30 s for 10M events), then times each search shape.
  echo "== event search: GET /v1/events latency per shape over ${SEARCH_EVENTS:-10000000} events"
  "$BUILD/search_bench" --events "${SEARCH_EVENTS:-10000000}"
fi
if [ -x "$BUILD/duckdb_query" ]; then
  # count(*) by type and hour through POST /v1/query vs the same SQL in DuckDB directly.
  echo "== SQL: POST /v1/query vs DuckDB directly, ${QUERY_EVENTS:-10000000} events"
  bash bench/query_ratio.sh "$BUILD"
fi
if [ -x "$BUILD/pull_bench" ]; then
  # Pull connectors (bench/README.md, "Pull connectors"): ~20 s each; R=20 req per W=1 s,
  # pages capped at P=50, 20 windows; then 16 connectors in one serve.
  echo "== pull: cursor stream vs the R*P/W ceiling, rate-limit headers, no failures"
  "$BUILD/pull_bench" "$BIN" cursor 20 1 50 20 0
  echo "== pull: the same with 5% of responses failing (5xx, truncated, reset, garbled)"
  "$BUILD/pull_bench" "$BIN" cursor 20 1 50 20 0.05
  echo "== pull: 16 connectors in one serve, CPU of serve vs the upstreams"
  "$BUILD/pull_bench" "$BIN" fanout 16 20 1 50 5
fi
# Freshness at sustained load (SPEC §1.7): search and metrics, acks paced and not.
echo "== freshness under load: acks not paced, then paced (the default)"
python3 bench/freshness.py "$BUILD" 30 25 '[store]\nmax_lag_ms = 0'
python3 bench/freshness.py "$BUILD" 30 25
# Tenancy: the cost of API keys and schema validation, and rate-limit fairness.
bash bench/tenancy.sh "$BUILD"
