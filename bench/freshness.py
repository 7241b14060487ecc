#!/usr/bin/env python3
"""Freshness under sustained load (SPEC §1.7: an accepted event shows in event queries and
metrics within 1 s, p99), and how long SQL, which reads the store alone, trails them.

Starts `sluice serve` on a fresh data dir, runs `sluice bench` against it (8 connections,
500-event batches, the ingest benchmark's load) and, while that runs, sends marker events
one at a time: each has a type of its own, and after its 202 the script polls
GET /v1/events?type=… and GET /v1/metrics/events?group_by=type&filter=type:… until each
shows it, then POST /v1/query until SQL counts it. Prints one JSON line with p50/p99/max
of the three delays, in ms.

Usage: bench/freshness.py BUILD_DIR [MARKERS] [LOAD_SECONDS] [CONFIG_TOML_TEXT]
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request


def call(url, body=None):
    req = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET")
    if body is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, r.read().decode()


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * len(v)))]


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    markers = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    load_s = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    binary = os.path.join(build, "sluice")
    work = tempfile.mkdtemp(prefix="sluice-fresh-")
    data = os.path.join(work, "data")
    args = [binary, "serve", "--data-dir", data, "--listen", "127.0.0.1:0"]
    if len(sys.argv) > 4:
        config = os.path.join(work, "config.toml")
        with open(config, "w") as f:
            f.write(sys.argv[4].replace("\\n", "\n") + "\n")
        args += ["--config", config]
    server = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        addr = os.path.join(data, "sluice.addr")
        for _ in range(600):
            if os.path.exists(addr) and os.path.getsize(addr) > 0:
                break
            time.sleep(0.05)
        url = "http://" + open(addr).read().strip()
        load = subprocess.Popen([binary, "bench", "--url", url, "-c", "8", "-b", "500",
                                 "--event-bytes", "230", "-d", str(load_s), "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        time.sleep(3)  # into the steady state
        search_ms, metric_ms, sql_ms = [], [], []
        run = int(time.time())
        for i in range(markers):
            if load.poll() is not None:
                break
            kind = f"fresh_{run}_{i}"
            status, _ = call(url + "/v1/events", json.dumps({"type": kind}).encode())
            assert status == 202, status
            t0 = time.monotonic()
            now = int(time.time())
            found_search = found_metric = found_sql = None
            # Bounded in time, so that DuckDB skips all but the newest row groups: the
            # poll must not load the server it measures.
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now - 60))
            sql = json.dumps({"sql": f"SELECT count(*) AS n FROM events WHERE type = '{kind}'"
                                     f" AND ts >= TIMESTAMP '{since}'"})
            while found_search is None or found_metric is None or found_sql is None:
                elapsed = time.monotonic() - t0
                if elapsed > 10:
                    break
                if found_search is None:
                    _, body = call(f"{url}/v1/events?type={kind}&limit=1")
                    if json.loads(body)["events"]:
                        found_search = (time.monotonic() - t0) * 1000
                if found_metric is None:
                    _, body = call(f"{url}/v1/metrics/events?granularity=1m&group_by=type"
                                   f"&filter=type:{kind}&from={now - 120}&to={now + 120}")
                    if f'"{kind}"' in body and '"value":1' in body.replace(" ", ""):
                        found_metric = (time.monotonic() - t0) * 1000
                if found_search is not None and found_metric is not None and found_sql is None:
                    _, body = call(f"{url}/v1/query", sql.encode())
                    if json.loads(body)["rows"][0][0] == 1:
                        found_sql = (time.monotonic() - t0) * 1000
                time.sleep(0.01)
            search_ms.append(found_search if found_search is not None else 10000.0)
            metric_ms.append(found_metric if found_metric is not None else 10000.0)
            sql_ms.append(found_sql if found_sql is not None else 10000.0)
            time.sleep(0.2)
        out, _ = load.communicate(timeout=load_s + 60)
        loadr = json.loads(out.decode().strip().splitlines()[-1])
        print(json.dumps({
            "markers": len(search_ms), "load_events_per_s": loadr["events_per_s"],
            "load_p99_ack_ms": loadr["p99_ms"],
            "search_p50_ms": pct(search_ms, 0.5), "search_p99_ms": pct(search_ms, 0.99),
            "search_max_ms": max(search_ms),
            "metric_p50_ms": pct(metric_ms, 0.5), "metric_p99_ms": pct(metric_ms, 0.99),
            "metric_max_ms": max(metric_ms),
            "sql_p50_ms": pct(sql_ms, 0.5), "sql_p99_ms": pct(sql_ms, 0.99),
            "sql_max_ms": max(sql_ms)}))
    finally:
        server.terminate()
        server.wait()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
