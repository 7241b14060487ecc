#!/usr/bin/env bash
# Tenancy costs, side by side in one run (called by bench/run.sh; or alone:
# `bash bench/tenancy.sh build`). Store off, so the ingest path alone is measured and any
# cost of auth or validation shows at its largest:
#   open      no keys (embedded mode)
#   auth      every request carries a write key (SHA-256 + lookup + rate-limit bucket)
#   schema    auth + a 20-property JSON Schema on every event type (all events conform)
# Then fairness: a calm tenant at a steady rate alone, and again while a noisy tenant
# offers 10x its events/s limit; the calm one's p99 and throughput should hold (<= 20%).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BIN="$BUILD/sluice"
SECS=${TENANCY_SECONDS:-12}
WORK=$(mktemp -d /tmp/sluice-tenancy-XXXXXX)
SERVER_PID=
trap '[ -n "$SERVER_PID" ] && kill $SERVER_PID 2>/dev/null; rm -rf "$WORK"' EXIT

start() {
  printf '[store]\nenabled = false\n[dedupe]\ncapacity_slots = 33554432\n' > "$WORK/c.toml"
  "$BIN" serve --data-dir "$WORK/data" --config "$WORK/c.toml" --listen 127.0.0.1:0 > "$WORK/s.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 600); do [ -s "$WORK/data/sluice.addr" ] && break; sleep 0.05; done
  URL="http://$(cat "$WORK/data/sluice.addr")"
}
stop() { kill -TERM $SERVER_PID; wait $SERVER_PID || true; SERVER_PID=; }
load() { "$BIN" bench --url "$URL" -c 8 -b 500 --event-bytes 300 --extra-properties 16 -d "$SECS" --json "$@"; }

SCHEMA='{"type":"object","required":["path","plan","value"],"additionalProperties":true,
"properties":{"path":{"type":"string","minLength":1,"maxLength":200},
"plan":{"enum":["free","pro","team"]},"value":{"type":"integer","minimum":0,"maximum":100000},
"pad":{"type":"string"}'
for p in $(seq 0 15); do
  if [ $((p % 2)) -eq 0 ]; then SCHEMA+=",\"p$p\":{\"type\":\"integer\",\"minimum\":0}";
  else SCHEMA+=",\"p$p\":{\"type\":\"string\",\"maxLength\":64}"; fi
done
SCHEMA+='}}'
echo "$SCHEMA" > "$WORK/schema.json"

# Rounds of open, auth and auth + schema; medians are reported.
rm -rf "$WORK/keyed"
"$BIN" tenants create plain --data-dir "$WORK/keyed" > /dev/null
"$BIN" tenants create validated --data-dir "$WORK/keyed" > /dev/null
KEY=$("$BIN" keys create --tenant plain --role write --data-dir "$WORK/keyed" 2>/dev/null)
VKEY=$("$BIN" keys create --tenant validated --role write --data-dir "$WORK/keyed" 2>/dev/null)
for t in page_view click signup purchase search; do
  "$BIN" schemas add --tenant validated --type "$t" --data-dir "$WORK/keyed" "$WORK/schema.json" > /dev/null
done
OPEN=(); AUTH=(); SCHEMA_RUN=()
# Each run gets a fresh server and data dir: a second run in the same server is measurably
# slower (fuller dedupe table and log), which would bias whichever came second. The order
# rotates per round so drift in the machine's load hits all three alike.
run_one() {
  rm -rf "$WORK/data"
  case "$1" in
    open) start; OPEN+=("$(load)"); echo "${OPEN[-1]}" ;;
    auth) cp -r "$WORK/keyed" "$WORK/data"; start; AUTH+=("$(load --key "$KEY")"); echo "${AUTH[-1]}" ;;
    schema) cp -r "$WORK/keyed" "$WORK/data"; start; SCHEMA_RUN+=("$(load --key "$VKEY")"); echo "${SCHEMA_RUN[-1]}" ;;
  esac
  stop
}
ORDERS=("open auth schema" "auth schema open" "schema open auth")
for round in $(seq 1 "${TENANCY_ROUNDS:-3}"); do
  for which in ${ORDERS[$(( (round - 1) % 3 ))]}; do
    echo "== tenancy round $round: $which (store off, ${SECS}s)"
    run_one "$which"
  done
done

echo "== fairness: calm tenant alone at 60 req/s x 500 events"
rm -rf "$WORK/data"
"$BIN" tenants create noisy --events-per-second 20000 --data-dir "$WORK/data" > /dev/null
"$BIN" tenants create calm --data-dir "$WORK/data" > /dev/null
NOISY=$("$BIN" keys create --tenant noisy --role write --data-dir "$WORK/data" 2>/dev/null)
CALM=$("$BIN" keys create --tenant calm --role write --data-dir "$WORK/data" 2>/dev/null)
start
CALM_ALONE=$("$BIN" bench --url "$URL" --key "$CALM" -c 4 -b 500 --rate 60 -d "$SECS" --json --run-id calm1)
echo "$CALM_ALONE"
echo "== fairness: the same while noisy offers 10x its 20000 events/s limit"
"$BIN" bench --url "$URL" --key "$NOISY" -c 4 -b 500 --rate 400 -d $((SECS + 2)) --json --run-id noisy > "$WORK/noisy.json" &
NOISY_PID=$!
sleep 1
CALM_FLOOD=$("$BIN" bench --url "$URL" --key "$CALM" -c 4 -b 500 --rate 60 -d "$SECS" --json --run-id calm2)
echo "$CALM_FLOOD"
wait $NOISY_PID || true
NOISY_RUN=$(cat "$WORK/noisy.json"); echo "$NOISY_RUN"
stop

python3 - "$CALM_ALONE" "$CALM_FLOOD" "$NOISY_RUN" "$(printf '%s\n' "${OPEN[@]}")" \
  "$(printf '%s\n' "${AUTH[@]}")" "$(printf '%s\n' "${SCHEMA_RUN[@]}")" <<'PY'
import json, sys, statistics
c1, c2, n = (json.loads(x) for x in sys.argv[1:4])
def median_run(lines):
    runs = [json.loads(l) for l in lines.splitlines() if l.strip()]
    return sorted(runs, key=lambda x: x["events_per_s"])[len(runs) // 2]
o, a, s = (median_run(x) for x in sys.argv[4:7])
def r(x): return x["events_per_s"]
print("\n| what | rate | notes |\n|---|---|---|")
print(f"| open mode (no keys), store off (median run) | {r(o):,.0f} ev/s | p99 {o['p99_ms']:.1f} ms |")
print(f"| write key on every request | {r(a):,.0f} ev/s | {100*(1-r(a)/r(o)):+.1f}% cost vs open; p99 {a['p99_ms']:.1f} ms |")
print(f"| key + 20-property schema | {r(s):,.0f} ev/s | {100*(1-r(s)/r(a)):+.1f}% cost vs auth alone; p99 {s['p99_ms']:.1f} ms; non-2xx {s['non_2xx']} |")
print(f"| calm tenant alone | {r(c1):,.0f} ev/s | p99 {c1['p99_ms']:.1f} ms |")
print(f"| calm tenant, noisy flooding at 10x | {r(c2):,.0f} ev/s | p99 {c2['p99_ms']:.1f} ms ({100*(c2['p99_ms']/c1['p99_ms']-1):+.0f}%), throughput {100*(r(c2)/r(c1)-1):+.1f}% |")
print(f"| noisy tenant (limit 20000 ev/s) | {r(n):,.0f} ev/s accepted | non-2xx (429) {n['non_2xx']} |")
PY
