#!/usr/bin/env bash
# SQL over stored events through sluice vs. directly in DuckDB, on the same data (issue 3:
# "count(*) … group by type, hour over 10M events through /v1/query within 1.5× of the
# same SQL run directly in DuckDB").
#
# search_bench fills a data directory's sluice.duckdb the way the store consumer does
# (QUERY_EVENTS, default 10M, over 14 days); `sluice serve` then answers POST /v1/query
# RUNS times (curl, whole HTTP round trip, JSON answer); after it stops, duckdb_query runs
# the same aggregate over the same file RUNS times with as many threads as sluice's DuckDB
# has. Prints one JSON line: p50/p99 of both and the ratio of p50s.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
N=${QUERY_EVENTS:-10000000}
RUNS=${QUERY_RUNS:-30}
WORK=$(mktemp -d /tmp/sluice-query-bench-XXXXXX)
trap 'kill $SERVER_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
SERVER_PID=

mkdir -p "$WORK/data"
"$BUILD/search_bench" --db "$WORK/data/sluice.duckdb" --events "$N" --fill-only >/dev/null

AGG="SELECT type, date_trunc('hour', ts) AS hour, count(*) AS n FROM events GROUP BY type, hour ORDER BY hour, type"
printf '[query]\nmax_rows = 1000000\n' > "$WORK/config.toml"
"$BUILD/sluice" serve --data-dir "$WORK/data" --config "$WORK/config.toml" --listen 127.0.0.1:0 \
  > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 600); do [ -s "$WORK/data/sluice.addr" ] && break; sleep 0.05; done
URL="http://$(cat "$WORK/data/sluice.addr")"
# A store filled behind the server's back has no rollups yet: the built-in metrics
# backfill from it first. Time the steady state, not that one-off catch-up.
for _ in $(seq 1 1200); do
  curl -sf "$URL/v1/admin/metrics" | grep -q '"done":false' || break
  sleep 0.25
done
BODY=$(python3 -c 'import json,sys; print(json.dumps({"sql": sys.argv[1]}))' "$AGG")
curl -sf -o "$WORK/answer.json" -d "$BODY" "$URL/v1/query"  # warm-up, and the answer to compare
: > "$WORK/http_ms"
for _ in $(seq 1 "$RUNS"); do
  curl -sf -o /dev/null -w '%{time_total}\n' -d "$BODY" "$URL/v1/query" >> "$WORK/http_ms"
done
kill -TERM $SERVER_PID; wait $SERVER_PID || true
SERVER_PID=

# events_hot is what the tenant's `events` view reads here (no archived hours); the direct
# run skips the tenant filter sluice must apply, so the comparison is if anything unfair
# to sluice.
DIRECT_SQL=${AGG/FROM events /FROM events_hot }
"$BUILD/duckdb_query" "$WORK/data/sluice.duckdb" "$DIRECT_SQL" 1 >/dev/null  # warm-up
DIRECT=$("$BUILD/duckdb_query" "$WORK/data/sluice.duckdb" "$DIRECT_SQL" "$RUNS")

python3 - "$WORK/http_ms" "$DIRECT" "$WORK/answer.json" "$N" <<'PY'
import json, sys
http = sorted(float(x) * 1000 for x in open(sys.argv[1]) if x.strip())
direct = json.loads(sys.argv[2])
answer = json.load(open(sys.argv[3]))
rows = answer.get("rows", answer.get("data", []))
pct = lambda v, p: v[min(len(v) - 1, int(p * len(v)))]
out = {"events": int(sys.argv[4]), "runs": len(http), "answer_rows": len(rows),
       "direct_rows": direct["rows"],
       "http_p50_ms": pct(http, 0.5), "http_p99_ms": pct(http, 0.99),
       "direct_p50_ms": direct["p50_ms"], "direct_p99_ms": direct["p99_ms"]}
out["ratio_p50"] = out["http_p50_ms"] / out["direct_p50_ms"]
print(json.dumps(out))
PY
