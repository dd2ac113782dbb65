#!/usr/bin/env python3
"""API latency benchmark (`just bench-api`): the overview dashboard and project stats on a large database.

For each backend (SQLite, PostgreSQL) it starts the release server once on a fresh database so that it migrates
it and to make an admin key, stops it, and bulk-inserts 5 environments x 10 projects and 100,000 builds straight
into the tables (the builds triggers keep the running totals, as for uploads). Builds have realistic statistics
and statuses (mostly ready, some failed) and are spread over the last 400 days, so the 30-day trend has real data.
It restarts the server, checks that the API's totals are the ones inserted, and then measures, after a warm-up,
latency under concurrent keep-alive clients for

- `GET /api/overview` unfiltered, filtered by `envId`, by `projectId`, and by `envId` + `projectId`;
- `GET /api/environments/{envId}/projects/{projectId}/reports/stats`;

(filtered requests cycle through every environment and project). It uses `wrk --latency` when installed and a
thread pool of `http.client` connections otherwise, and prints requests, p50, p99 and max per endpoint against the
target (issue 6): p99 <= 50 ms on both databases.

Timestamps are written exactly as the server writes them: on SQLite diesel's text form of a UTC NaiveDateTime,
`%Y-%m-%d %H:%M:%S` plus `.mmm` unless the milliseconds are 0 (the clock truncates to milliseconds); on
PostgreSQL `TIMESTAMP(3)` without zone, in UTC.

Usage: bench/api.py [--backends sqlite,postgres] [--builds 100000] [--envs 5] [--projects 10] [--clients 8]
                    [--seconds 10] [--pg-url postgres://postgres@127.0.0.1:5432] [--pg-db allure_hub_bench]
                    [--no-wrk] [--keep] [--binary target/release/allure-hub] [--work /var/tmp/allure-hub-bench]
"""

import argparse
import datetime
import http.client
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

# The upload benchmark's helpers: starting the release server on free ports, HTTP requests, the admin key (which
# also creates environment `bench` and project `p`, left empty here).
from upload import admin_key, request, start_server

TARGET_P99_MS = 50.0
DAYS = 400
ENV_NAMES = ["dev", "qa", "staging", "preprod", "production", "perf", "sandbox", "eu", "us", "asia"]
PROJECT_NAMES = ["web", "api", "mobile-ios", "mobile-android", "checkout", "search", "payments", "auth", "admin",
                 "reporting", "catalog", "shipping", "inventory", "notifications", "billing", "gateway"]
BUILD_COLUMNS = ["env_id", "project_id", "build_id", "status", "created_at", "completed_at", "uploaded_by",
                 "has_report", "stats_total", "stats_passed", "stats_failed", "stats_broken", "stats_skipped",
                 "stats_unknown", "duration_ms", "longest_test_ms", "quality_gate", "warnings", "error", "config"]


# --- the data set ----------------------------------------------------------------------------------------------

def slug(names, i):
    return names[i] if i < len(names) else f"{names[i % len(names)]}-{i // len(names)}"


def dataset(envs, projects, builds, now, seed=6):
    """Environments, projects and builds as plain tuples (times as UTC datetimes truncated to milliseconds), and
    the totals the API must answer for them."""
    rng = random.Random(seed)
    env_ids = [slug(ENV_NAMES, e) for e in range(envs)]
    project_ids = [slug(PROJECT_NAMES, p) for p in range(projects)]
    start = now - datetime.timedelta(days=DAYS)
    env_rows = [(e, e.capitalize(), start - datetime.timedelta(days=1)) for e in env_ids]
    project_rows = [(e, p, p.replace("-", " ").title(), start - datetime.timedelta(hours=12))
                    for e in env_ids for p in project_ids]
    pairs = [(e, p) for e in env_ids for p in project_ids]
    per_pair = [builds // len(pairs) + (1 if i < builds % len(pairs) else 0) for i in range(len(pairs))]
    span_ms = DAYS * 86_400_000 - 60_000
    build_rows = []
    totals = {"builds": 0, "passed": 0, "failed": 0, "recent": {}}
    for (env, project), count in zip(pairs, per_pair):
        size = rng.randint(150, 4000)  # tests in this project's suite
        flaky = rng.uniform(0.002, 0.04)  # its usual share of failures
        times = sorted(rng.randrange(span_ms) for _ in range(count))
        for n, offset in enumerate(times, start=1):
            created = start + datetime.timedelta(milliseconds=offset)
            total = max(1, size + rng.randint(-size // 50, size // 50))
            failed = min(total, int(total * rng.uniform(0, 2 * flaky))) if rng.random() < 0.6 else 0
            broken = min(total - failed, rng.randint(0, 3) if rng.random() < 0.2 else 0)
            skipped = min(total - failed - broken, int(total * rng.uniform(0, 0.03)))
            passed = total - failed - broken - skipped
            duration = total * rng.randint(40, 900)
            generation_failed = rng.random() < 0.04
            gate = None
            if rng.random() < 0.3:
                gate = json.dumps({"passed": failed + broken == 0, "failures": [] if failed + broken == 0 else [
                    {"rule": "maxFailures", "expected": 0, "actual": failed + broken,
                     "message": f"{failed + broken} failures, at most 0 allowed"}]})
            build_rows.append((
                env, project, f"{n:06d}", "failed" if generation_failed else "ready", created,
                created + datetime.timedelta(milliseconds=rng.randint(3_000, 120_000)), "apikey:ci",
                not generation_failed, total, passed, failed, broken, skipped, 0, duration,
                min(duration, rng.randint(500, 60_000)), gate, "[]",
                "allure generate exited with status 1" if generation_failed else None, "{}",
            ))
            totals["builds"] += 1
            totals["passed"] += passed
            totals["failed"] += failed + broken
            day = created.date()
            totals["recent"][day] = totals["recent"].get(day, 0) + 1
    return env_ids, project_ids, env_rows, project_rows, build_rows, totals


def sqlite_time(t):
    """diesel's SQLite text of a NaiveDateTime (`%F %T%.f`) for a time truncated to milliseconds."""
    ms = t.microsecond // 1000
    return t.strftime("%Y-%m-%d %H:%M:%S") + (f".{ms:03d}" if ms else "")


def pg_time(t):
    return t.strftime("%Y-%m-%d %H:%M:%S") + f".{t.microsecond // 1000:03d}"


# --- seeding ---------------------------------------------------------------------------------------------------

def seed_sqlite(path, env_rows, project_rows, build_rows):
    db = sqlite3.connect(path)
    db.execute("PRAGMA foreign_keys = ON")
    with db:
        db.executemany("INSERT INTO environments (id, name, icon, created_at) VALUES (?, ?, 'deployed_code', ?)",
                       [(e, n, sqlite_time(t)) for e, n, t in env_rows])
        db.executemany("INSERT INTO projects (env_id, id, name, created_at) VALUES (?, ?, ?, ?)",
                       [(e, p, n, sqlite_time(t)) for e, p, n, t in project_rows])
        db.executemany(
            f"INSERT INTO builds ({', '.join(BUILD_COLUMNS)}) VALUES ({', '.join('?' * len(BUILD_COLUMNS))})",
            [r[:4] + (sqlite_time(r[4]), sqlite_time(r[5])) + r[6:] for r in build_rows])
    db.close()


def pg_server_url(url, database):
    """`url` with its database replaced by `database`."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, ""))


def psql(psql_bin, url, script):
    subprocess.run([psql_bin, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", "-"], input=script.encode(),
                   check=True, stdout=subprocess.DEVNULL)


def copy_field(v):
    if v is None:
        return r"\N"
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, datetime.datetime):
        return pg_time(v)
    return str(v).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def seed_postgres(psql_bin, url, env_rows, project_rows, build_rows):
    def quote(s):
        return "'" + s.replace("'", "''") + "'"

    lines = ["BEGIN;"]
    lines += [f"INSERT INTO environments (id, name, icon, created_at) VALUES ({quote(e)}, {quote(n)}, "
              f"'deployed_code', {quote(pg_time(t))});" for e, n, t in env_rows]
    lines += [f"INSERT INTO projects (env_id, id, name, created_at) VALUES ({quote(e)}, {quote(p)}, {quote(n)}, "
              f"{quote(pg_time(t))});" for e, p, n, t in project_rows]
    lines.append(f"COPY builds ({', '.join(BUILD_COLUMNS)}) FROM STDIN;")
    lines += ["\t".join(copy_field(v) for v in r) for r in build_rows]
    # What autovacuum does shortly after such a load: statistics, and the visibility map that lets index-only
    # scans skip the table; then a checkpoint, so the load's writes are not flushed during the measurement.
    lines += ["\\.", "COMMIT;", "VACUUM (ANALYZE);", "CHECKPOINT;"]
    psql(psql_bin, url, "\n".join(lines) + "\n")


# --- load ------------------------------------------------------------------------------------------------------

LATENCY_RE = re.compile(r"^\s*(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
MAX_RE = re.compile(r"^\s*Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", re.M)
UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def run_wrk(port, key, paths, clients, seconds):
    """One wrk run cycling through `paths`; returns (requests, p50, p99, max) in ms."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("local paths = {" + ", ".join(json.dumps(p) for p in paths) + "}\nlocal i = 0\n"
                     "request = function()\n  i = i % #paths + 1\n  return wrk.format(\"GET\", paths[i])\nend\n")
    try:
        out = subprocess.run(["wrk", f"-t{min(clients, os.cpu_count() or 1)}", f"-c{clients}", f"-d{seconds}s",
                              "--timeout", "30s", "--latency", "-s", script.name, "-H", f"Authorization: Bearer {key}",
                              f"http://127.0.0.1:{port}"], check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(script.name)
    if "Non-2xx or 3xx responses" in out or "Socket errors" in out:
        sys.exit(f"wrk saw errors:\n{out}")
    pct = {int(p): float(v) * UNIT_MS[u] for p, v, u in LATENCY_RE.findall(out)}
    m = MAX_RE.search(out)
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    return requests, pct[50], pct[99], float(m.group(1)) * UNIT_MS[m.group(2)]


def run_threads(port, key, paths, clients, seconds):
    """The same as `run_wrk` with `clients` threads, each on one keep-alive connection."""
    deadline = time.perf_counter() + seconds
    latencies, errors = [], []

    def client(offset):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, i = [], offset
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            conn.request("GET", paths[i % len(paths)], headers={"Authorization": f"Bearer {key}"})
            res = conn.getresponse()
            res.read()
            mine.append((time.perf_counter() - t) * 1000)
            if res.status != 200:
                errors.append(res.status)
            i += 1
        conn.close()
        latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        sys.exit(f"{len(errors)} non-200 answers, e.g. {errors[0]}")
    latencies.sort()

    def pct(p):
        return latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))]

    return len(latencies), pct(50), pct(99), latencies[-1]


# --- one backend -----------------------------------------------------------------------------------------------

def get_json(port, key, path):
    status, _, body = request(port, "GET", path, headers={"Authorization": f"Bearer {key}"})
    assert status == 200, (path, status, body)
    return json.loads(body)


def verify(port, key, env_ids, project_ids, totals, per_project):
    """Checks the API's figures against what was inserted, so the timings are of a correctly seeded database."""
    summary = get_json(port, key, "/api/overview")
    s = summary["summary"]
    assert (s["totalBuilds"], s["totalPassed"], s["totalFailed"]) == (totals["builds"], totals["passed"],
                                                                      totals["failed"]), s
    days = {datetime.date.fromisoformat(d["date"]): d["buildCount"] for d in summary["dailyTrends"]}
    expected = {d: totals["recent"].get(d, 0) for d in days}
    assert days == expected, (days, expected)
    assert sum(days.values()) > 0, "the 30-day trend is empty"
    stats = get_json(port, key, f"/api/environments/{env_ids[0]}/projects/{project_ids[0]}/reports/stats")
    assert stats["totalBuilds"] == per_project, stats
    return s, sum(days.values())


def bench_backend(name, args, data):
    env_ids, project_ids, env_rows, project_rows, build_rows, totals = data
    work = tempfile.mkdtemp(dir=args.work)
    env_saved = dict(os.environ)
    os.environ["CLEANUP_ENABLED"] = "false"  # retention (default 90 days) must not delete the seeded builds
    results = []
    try:
        if name == "postgres":
            pg_db = pg_server_url(args.pg_url, args.pg_db)
            admin = pg_server_url(args.pg_url, "postgres")
            psql(args.psql, admin, f'DROP DATABASE IF EXISTS "{args.pg_db}" WITH (FORCE);\n'
                                   f'CREATE DATABASE "{args.pg_db}";\n')
            os.environ["DATABASE_URL"] = pg_db
            os.environ["SESSION_SECRET"] = "allure-hub-bench-session-secret-0123456789abcdef"  # required with PG
        else:
            os.environ.pop("DATABASE_URL", None)  # the default: DATA_DIR/allure-hub.db
        data_dir = os.path.join(work, "data")
        t = time.monotonic()
        proc, port = start_server(args.binary, data_dir)
        try:
            key = admin_key(port)
        finally:
            proc.terminate()
            proc.wait()
        migrate = time.monotonic() - t
        t = time.monotonic()
        if name == "postgres":
            seed_postgres(args.psql, pg_db, env_rows, project_rows, build_rows)
        else:
            seed_sqlite(os.path.join(data_dir, "allure-hub.db"), env_rows, project_rows, build_rows)
        seeding = time.monotonic() - t
        print(f"[{name}] migrate + admin key {migrate:.1f} s; seeding {len(env_rows)} environments, "
              f"{len(project_rows)} projects, {len(build_rows)} builds: {seeding:.1f} s", flush=True)
        proc, port = start_server(args.binary, data_dir)
        try:
            per_project = sum(1 for r in build_rows if r[0] == env_ids[0] and r[1] == project_ids[0])
            s, last30 = verify(port, key, env_ids, project_ids, totals, per_project)
            print(f"[{name}] API agrees with the seed: {s['totalEnvironments']} environments, "
                  f"{s['totalProjects']} projects, {s['totalBuilds']} builds ({last30} in the last 30 days), "
                  f"pass rate {s['overallPassRate']}%", flush=True)
            pairs = [(e, p) for e in env_ids for p in project_ids]
            endpoints = [
                ("GET /api/overview", ["/api/overview"]),
                ("GET /api/overview?envId", [f"/api/overview?envId={e}" for e in env_ids]),
                ("GET /api/overview?projectId", [f"/api/overview?projectId={p}" for p in project_ids]),
                ("GET /api/overview?envId&projectId", [f"/api/overview?envId={e}&projectId={p}" for e, p in pairs]),
                ("GET …/reports/stats", [f"/api/environments/{e}/projects/{p}/reports/stats" for e, p in pairs]),
            ]
            load = run_wrk if shutil.which("wrk") and not args.no_wrk else run_threads
            for label, paths in endpoints:
                load(port, key, paths, args.clients, args.warmup)
                requests, p50, p99, worst = load(port, key, paths, args.clients, args.seconds)
                results.append((name, label, requests, p50, p99, worst))
                print(f"[{name}] {label}: {requests} requests, p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
                      f"max {worst:.2f} ms", flush=True)
        finally:
            proc.terminate()
            proc.wait()
    finally:
        os.environ.clear()
        os.environ.update(env_saved)
        if args.keep:
            print(f"[{name}] kept {data_dir}" + (f" and database {args.pg_db}" if name == "postgres" else ""))
        else:
            shutil.rmtree(work, ignore_errors=True)
    return seeding, results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--builds", type=int, default=100_000)
    parser.add_argument("--envs", type=int, default=5)
    parser.add_argument("--projects", type=int, default=10, help="projects per environment")
    parser.add_argument("--clients", type=int, default=8, help="concurrent keep-alive connections")
    parser.add_argument("--seconds", type=int, default=10, help="measured seconds per endpoint")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured seconds per endpoint before that")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432",
                        help="PostgreSQL server; database --pg-db on it is dropped and recreated")
    parser.add_argument("--pg-db", default="allure_hub_bench")
    parser.add_argument("--psql", default="psql")
    parser.add_argument("--no-wrk", action="store_true", help="use the Python client even if wrk is installed")
    parser.add_argument("--keep", action="store_true", help="keep the data directories, to inspect query plans")
    parser.add_argument("--binary", default="target/release/allure-hub")
    parser.add_argument("--work", default="/var/tmp/allure-hub-bench")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    t = time.monotonic()
    data = dataset(args.envs, args.projects, args.builds, now)
    print(f"data set generated in {time.monotonic() - t:.1f} s; load: "
          f"{'wrk' if shutil.which('wrk') and not args.no_wrk else 'Python threads'}, {args.clients} connections, "
          f"{args.warmup} s warm-up + {args.seconds} s per endpoint, {os.cpu_count()} CPUs shared with the server",
          flush=True)
    rows, seedings = [], []
    for backend in args.backends.split(","):
        seeding, results = bench_backend(backend, args, data)
        seedings.append((backend, seeding))
        rows += results
    print()
    print(" ".join(f"seeding {b}: {s:.1f} s;" for b, s in seedings))
    print(f"{'backend':9} {'endpoint':36} {'requests':>8} {'p50_ms':>7} {'p99_ms':>7} {'max_ms':>7}  "
          f"verdict (p99 <= {TARGET_P99_MS:.0f} ms)")
    failed = False
    for backend, label, requests, p50, p99, worst in rows:
        ok = p99 <= TARGET_P99_MS
        failed |= not ok
        print(f"{backend:9} {label:36} {requests:8d} {p50:7.2f} {p99:7.2f} {worst:7.2f}  {'PASS' if ok else 'FAIL'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
