#!/usr/bin/env python3
"""Generation benchmark (`just bench-generate`): what the server adds to a bare `allure generate`.

It writes a realistic allure-results set (statuses, nested steps, parameters, links, a small log attachment per
test, retries for some tests, fixture containers), zips it, and then times, alternately and after one warm-up
each:

- bare: the pinned Allure CLI run by hand on the unzipped files, exactly as the server runs it
  (crates/adapters/allure-cli/src/runner.rs: `allure generate <results> --output <dir> --config allurerc.yml`,
  JSON config with `output`, `historyPath` and `historyLimit` = HISTORY_LIMIT + 1, an empty working directory, a
  scrubbed environment), with one history file that grows from run to run as a project's does;
- server: upload of the zip to the release server with `wait=true` until the answer says `done` (receiving,
  extraction, the job queue, the same CLI, publishing), one new build per run in the same project.

It prints each run, median and minimum of each way, the ratio server/bare of the medians against the target
(<= 1.15x), and where the server's time goes, from the timestamps it stores (the generation job in its SQLite
database) and those of a tiny wrapper around the CLI that both ways run through: ingest, queue wait (the
dispatcher polls every 500 ms), job preparation, the CLI itself, publishing, and the answer.

Usage: bench/generate.py [--tests 2000] [--runs 5] [--binary target/release/allure-hub] [--allure PATH]
                         [--work /var/tmp/allure-hub-bench]
"""

import argparse
import datetime
import json
import os
import random
import re
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

# The upload benchmark's helpers: free ports, HTTP requests, starting the server, the admin key (which also creates
# environment `bench` and project `p`).
from upload import admin_key, request, start_server

ALLURE_VERSION = "3.18.0"
HISTORY_LIMIT = 20  # the server's default HISTORY_LIMIT; it passes historyLimit = HISTORY_LIMIT + 1
NODE_HEAP_MB = 2048  # the server's default ALLURE_NODE_HEAP_MB
TARGET = 1.15
BASE_TIME = 1_775_000_000_000


# --- the results set -------------------------------------------------------------------------------------------

def _status(rng):
    r = rng.random()
    return "passed" if r < 0.80 else "failed" if r < 0.88 else "broken" if r < 0.92 else "skipped"


def _details(status, i):
    if status == "failed":
        return {"message": f"expected total to be 42 but was {i % 97}",
                "trace": "AssertionError: expected total\n" + "".join(
                    f"    at com.example.shop.Checkout{n}.verify(Checkout{n}.java:{40 + n})\n" for n in range(12))}
    if status == "broken":
        return {"message": "TimeoutError: element #pay not visible after 10000 ms",
                "trace": "TimeoutError\n" + "".join(f"    at page.waitFor (page.js:{100 + n}:7)\n" for n in range(8))}
    if status == "skipped":
        return {"message": "disabled until SHOP-1234 is fixed"}
    return {}


def _steps(rng, status, start, attachment):
    steps, t = [], start
    count = rng.randint(3, 8)
    for s in range(count):
        last = s == count - 1
        step_status = status if last and status in ("failed", "broken") else "passed"
        substeps = []
        for u in range(rng.randint(0, 3)):
            substeps.append({"name": f"check field {u}", "status": "passed", "stage": "finished",
                             "start": t, "stop": t + 3, "parameters": [{"name": "field", "value": f"f{u}"}],
                             "steps": [], "attachments": []})
            t += 4
        step = {"name": f"step {s}: open the page and fill the form", "status": step_status, "stage": "finished",
                "start": t, "stop": t + rng.randint(5, 200), "steps": substeps, "attachments": [],
                "parameters": [{"name": "user", "value": f"user{s}@example.com"}]}
        if s == 1:
            step["attachments"].append(attachment)
        if last and step_status != "passed":
            step["statusDetails"] = {"message": "step failed"}
        t = step["stop"] + 1
        steps.append(step)
    return steps, t


def make_results(results_dir, tests, seed=42):
    """Writes `tests` tests of 100 classes (about 5% with one or two retries), each with a log attachment, plus a
    fixture container per class, environment.properties, executor.json and categories.json. Returns the file
    count."""
    rng = random.Random(seed)
    os.makedirs(results_dir)
    files = 0

    def write(name, data):
        nonlocal files
        mode = "wb" if isinstance(data, bytes) else "w"
        with open(os.path.join(results_dir, name), mode) as f:
            f.write(data)
        files += 1

    log_lines = [f"2026-04-07T10:00:{n % 60:02d}.123Z INFO shop.checkout - request {n} answered 200 in {n % 37} ms\n"
                 for n in range(64)]
    classes = {}
    t = BASE_TIME
    for i in range(tests):
        cls = i % 100
        feature, story = f"Feature {cls % 12}", f"Story {cls % 30}"
        history_id = f"{i:032x}"
        attempts = 1 + (rng.random() < 0.05) + (rng.random() < 0.02)
        for attempt in range(attempts):
            final = attempt == attempts - 1
            status = _status(rng) if final else rng.choice(["failed", "broken"])
            uuid = f"{i:08x}-{attempt:04x}-4000-8000-{rng.getrandbits(48):012x}"
            source = f"{uuid}-attachment.txt"
            log = "".join(rng.choice(log_lines) for _ in range(rng.randint(10, 40)))
            write(source, log)
            attachment = {"name": "server log", "source": source, "type": "text/plain"}
            start = t
            steps, stop = _steps(rng, status, start, attachment)
            t = stop + 5
            result = {
                "uuid": uuid, "historyId": history_id, "testCaseId": history_id,
                "name": f"checkout works for case {i}",
                "fullName": f"com.example.shop.CheckoutTest{cls}.case{i}",
                "description": f"Checks the checkout of basket {i}.",
                "status": status, "statusDetails": _details(status, i), "stage": "finished",
                "start": start, "stop": stop, "steps": steps, "attachments": [],
                "parameters": [{"name": "browser", "value": ["chrome", "firefox"][i % 2]},
                               {"name": "basket", "value": str(i % 17)}],
                "labels": [
                    {"name": "parentSuite", "value": f"Shop {cls % 4}"},
                    {"name": "suite", "value": f"Checkout {cls % 20}"},
                    {"name": "subSuite", "value": f"CheckoutTest{cls}"},
                    {"name": "feature", "value": feature}, {"name": "story", "value": story},
                    {"name": "epic", "value": f"Epic {cls % 3}"},
                    {"name": "severity", "value": ["normal", "critical", "minor", "blocker", "trivial"][i % 5]},
                    {"name": "owner", "value": f"qa{cls % 7}"}, {"name": "tag", "value": f"smoke{i % 3}"},
                    {"name": "package", "value": "com.example.shop"},
                    {"name": "testClass", "value": f"com.example.shop.CheckoutTest{cls}"},
                    {"name": "testMethod", "value": f"case{i}"},
                    {"name": "host", "value": "ci-runner-3"}, {"name": "thread", "value": f"worker-{i % 8}"},
                    {"name": "framework", "value": "junit5"}, {"name": "language", "value": "java"},
                ],
                "links": [{"name": f"SHOP-{i % 500}", "url": f"https://issues.example.com/SHOP-{i % 500}",
                           "type": "issue"}],
            }
            write(f"{uuid}-result.json", json.dumps(result))
            classes.setdefault(cls, []).append((uuid, start, stop))
    for cls, children in classes.items():
        first, last = children[0][1], children[-1][2]
        container = {
            "uuid": f"c{cls:07x}-0000-4000-8000-000000000000", "name": f"CheckoutTest{cls}",
            "children": [c[0] for c in children], "start": first - 50, "stop": last + 50,
            "befores": [{"name": "start the browser", "status": "passed", "stage": "finished",
                         "start": first - 50, "stop": first - 10, "steps": [], "attachments": [], "parameters": []}],
            "afters": [{"name": "close the browser", "status": "passed", "stage": "finished",
                        "start": last + 10, "stop": last + 50, "steps": [], "attachments": [], "parameters": []}],
        }
        write(f"c{cls:07x}-0000-4000-8000-000000000000-container.json", json.dumps(container))
    write("environment.properties", "os=linux\nbrowser=chrome 124\nbase.url=https://shop.example.com\n")
    write("executor.json", json.dumps({"name": "CI", "type": "github", "buildName": "nightly #1"}))
    write("categories.json", json.dumps([{"name": "Timeouts", "messageRegex": ".*Timeout.*",
                                          "matchedStatuses": ["broken"]}]))
    return files


def zip_dir(results_dir, path):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        for name in sorted(os.listdir(results_dir)):
            z.write(os.path.join(results_dir, name), name)
    return os.path.getsize(path)


# --- the two ways ----------------------------------------------------------------------------------------------

def timed_wrapper(allure, path, log):
    """An executable that runs `allure` and appends its start and end times (bash's $EPOCHREALTIME, no extra
    process) to `log`: the server runs its CLI in a scrubbed environment, so the log path is written into the
    script. Both ways run through such a wrapper, so its few milliseconds cancel out."""
    with open(path, "w") as f:
        f.write(f'#!/bin/bash\necho "start $EPOCHREALTIME" >> {shlex.quote(log)}\n{shlex.quote(allure)} "$@"\n'
                f'rc=$?\necho "end $EPOCHREALTIME" >> {shlex.quote(log)}\nexit $rc\n')
    os.chmod(path, 0o755)
    return path


def cli_spans(log):
    """(start, end) of each CLI run logged by a wrapper, in order."""
    spans, start = [], None
    with open(log) as f:
        for line in f:
            kind, moment = line.split()
            if kind == "start":
                start = float(moment)
            elif start is not None:
                spans.append((start, float(moment)))
                start = None
    return spans


def ensure_allure(cache):
    prefix = os.path.abspath(os.path.join(cache, f"allure-{ALLURE_VERSION}"))
    binary = os.path.join(prefix, "node_modules", ".bin", "allure")
    if not os.path.exists(binary):
        print(f"installing allure@{ALLURE_VERSION} into {prefix}…", flush=True)
        subprocess.run(["npm", "install", "--prefix", prefix, f"allure@{ALLURE_VERSION}"], check=True)
    return binary


class Bare:
    """`allure generate` as the server runs it, by hand: same arguments, config file, working directory and
    environment; the history file persists across runs like a project's."""

    def __init__(self, allure, results_dir, root):
        self.allure, self.results_dir, self.root = allure, results_dir, root
        self.history = os.path.join(root, "history.jsonl")
        open(self.history, "w").close()
        self.runs = 0

    def run(self):
        self.runs += 1
        run_dir = os.path.join(self.root, f"run{self.runs}")
        work, output = os.path.join(run_dir, "work"), os.path.join(run_dir, "report")
        for d in (os.path.join(work, "home"), os.path.join(work, "tmp"), output):
            os.makedirs(d)
        config = os.path.join(work, "allurerc.yml")
        with open(config, "w") as f:
            json.dump({"historyLimit": HISTORY_LIMIT + 1, "historyPath": self.history, "output": output}, f)
        env = {"PATH": os.environ.get("PATH", ""), "HOME": os.path.join(work, "home"),
               "TMPDIR": os.path.join(work, "tmp"), "LANG": "C.UTF-8",
               "NODE_OPTIONS": f"--max-old-space-size={NODE_HEAP_MB}"}
        t = time.monotonic()
        done = subprocess.run([self.allure, "generate", self.results_dir, "--output", output, "--config", config],
                              cwd=work, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              start_new_session=True)
        elapsed = time.monotonic() - t
        if done.returncode != 0 or not os.path.exists(os.path.join(output, "index.html")):
            sys.exit(f"allure generate failed ({done.returncode}):\n{done.stderr.decode(errors='replace')[-2000:]}")
        # Kept until the end: deleting thousands of files between runs would load the disk (and, on ext4 without a
        # journal, the inode allocator) while the next run extracts or writes its report.
        return elapsed


def _timestamp(text):
    """A stored TIMESTAMP (`2026-04-07 10:00:00.123456789`, UTC) as seconds since the epoch."""
    m = re.match(r"(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\.(\d+))?", text)
    date, clock, frac = m.groups()
    moment = datetime.datetime.fromisoformat(f"{date}T{clock}").replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp() + (int(frac) / 10 ** len(frac) if frac else 0.0)


class Server:
    """The release server on a fresh data directory; one upload with `wait=true` per run, a new build each."""

    def __init__(self, binary, allure, cli_log, archive, root):
        self.data_dir = os.path.join(root, "data")
        self.cli_log = cli_log
        os.makedirs(self.data_dir)
        # start_server passes os.environ on, with its own settings on top.
        os.environ.update(ALLURE_BIN=allure, LOG_FORMAT="json", HISTORY_LIMIT=str(HISTORY_LIMIT),
                          ALLURE_NODE_HEAP_MB=str(NODE_HEAP_MB),
                          ALLURE_CONFIG=os.path.join(self.data_dir, "no-base-config.yml"))
        os.environ.pop("DATABASE_URL", None)
        self.proc, self.port = start_server(binary, self.data_dir)
        self.key = admin_key(self.port)
        with open(archive, "rb") as f:
            self.body = f.read()
        self.runs = 0
        self.phases = []

    def run(self):
        self.runs += 1
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/zip",
                   "Content-Length": str(len(self.body))}
        wall = time.time()
        t = time.monotonic()
        status, _, body = request(self.port, "POST",
                                  f"/api/environments/bench/projects/p/results?buildId=b{self.runs}&wait=true",
                                  self.body, headers)
        elapsed = time.monotonic() - t
        session = json.loads(body.strip()) if status == 200 else None
        if session is None or session.get("phase") != "done":
            sys.exit(f"the upload did not end in a report ({status}): {body[:2000]!r}")
        self.phases.append(self.breakdown(session["id"], wall, wall + elapsed))
        return elapsed

    def _db(self):
        return sqlite3.connect(f"file:{os.path.join(self.data_dir, 'allure-hub.db')}?mode=ro", uri=True)

    def breakdown(self, upload_id, sent, answered):
        """Seconds of each phase (see PHASES) from the stored timestamps and the CLI wrapper's log; None if they
        cannot be read."""
        try:
            db = self._db()
            try:
                row = db.execute("SELECT created_at, started_at, finished_at FROM generation_jobs "
                                 "WHERE upload_id = ?", (upload_id,)).fetchone()
            finally:
                db.close()
            created, started, finished = (_timestamp(v) for v in row)
            cli_start, cli_end = cli_spans(self.cli_log)[-1]
        except (sqlite3.Error, TypeError, AttributeError, ValueError, IndexError, OSError):
            return None
        return (created - sent, started - created, cli_start - started, cli_end - cli_start, finished - cli_end,
                answered - finished)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()


PHASES = [
    ("ingest", "request sent -> job queued: body, zip on disk, extraction, build and session rows"),
    ("queue", "job queued -> claimed by the dispatcher (it polls every 500 ms)"),
    ("prepare", "claimed -> CLI started: job directory, history copy"),
    ("cli", "the allure CLI itself"),
    ("after", "CLI exited -> job finished: output checks, publishing, history merge, clean-up"),
    ("answer", "job finished -> answer read by the client"),
]


# --- main --------------------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tests", type=int, default=2000, help="tests in the results set")
    parser.add_argument("--runs", type=int, default=5, help="measured runs of each, after one warm-up each")
    parser.add_argument("--binary", default="target/release/allure-hub")
    parser.add_argument("--allure", help="the allure CLI to use (default: allure@%s installed under the cache)"
                        % ALLURE_VERSION)
    parser.add_argument("--allure-cache", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"),
                                                              "bench-allure"))
    parser.add_argument("--work", default="/var/tmp/allure-hub-bench")
    args = parser.parse_args()
    allure = os.path.abspath(args.allure) if args.allure else ensure_allure(args.allure_cache)
    version = subprocess.run([allure, "--version"], capture_output=True, text=True).stdout.strip()
    os.makedirs(args.work, exist_ok=True)
    work = tempfile.mkdtemp(dir=args.work)
    server = None
    try:
        results = os.path.join(work, "results")
        archive = os.path.join(work, "results.zip")
        files = make_results(os.path.join(work, "written"), args.tests)
        size = zip_dir(os.path.join(work, "written"), archive)
        # The bare runs read the same files, unzipped (what someone running the CLI by hand would have).
        t = time.monotonic()
        subprocess.run(["unzip", "-q", archive, "-d", results], check=True)
        unzip = time.monotonic() - t
        print(f"results: {args.tests} tests, {files} files, zip {size / 1024 / 1024:.1f} MiB; allure {version}; "
              f"{os.cpu_count()} CPUs; {args.runs} runs each after a warm-up, alternating", flush=True)
        bare_root = os.path.join(work, "bare")
        os.makedirs(bare_root)
        bare_cli = timed_wrapper(allure, os.path.join(work, "allure-bare"), os.path.join(work, "bare-cli.log"))
        server_log = os.path.join(work, "server-cli.log")
        server_cli = timed_wrapper(allure, os.path.join(work, "allure-server"), server_log)
        bare = Bare(bare_cli, results, bare_root)
        server = Server(os.path.abspath(args.binary), server_cli, server_log, archive, work)
        bare_times, server_times = [], []
        for n in range(args.runs + 1):
            label = "warm-up" if n == 0 else f"run {n}/{args.runs}"
            # Alternate which goes first, so drifting machine load spreads over both.
            order = [("bare", bare), ("server", server)] if n % 2 == 0 else [("server", server), ("bare", bare)]
            took = {}
            for name, way in order:
                took[name] = way.run()
            if n > 0:
                bare_times.append(took["bare"])
                server_times.append(took["server"])
            phases = server.phases[-1]
            detail = "" if phases is None else " (" + ", ".join(
                f"{p[0]} {v:.2f}" for p, v in zip(PHASES, phases)) + ")"
            print(f"{label:9}: " + ", ".join(f"{name} {took[name]:6.2f} s" for name, _ in order)
                  + f", ratio {took['server'] / took['bare']:.3f}{detail}", flush=True)
        measured = [p for p in server.phases[1:] if p is not None]
        bare_cli_times = [end - start for start, end in cli_spans(os.path.join(work, "bare-cli.log"))[1:]]
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)

    bare_med, server_med = statistics.median(bare_times), statistics.median(server_times)
    ratio = server_med / bare_med
    paired = statistics.median(s / b for s, b in zip(server_times, bare_times))
    print(f"\n{'':8} {'median_s':>9} {'min_s':>7}")
    print(f"{'bare':8} {bare_med:9.2f} {min(bare_times):7.2f}")
    print(f"{'server':8} {server_med:9.2f} {min(server_times):7.2f}")
    print(f"ratio server/bare (medians) {ratio:.3f}  target <= {TARGET}: {'PASS' if ratio <= TARGET else 'FAIL'}"
          f"  (min/min {min(server_times) / min(bare_times):.3f}, median of paired runs {paired:.3f})")
    if (ratio <= TARGET) != (paired <= TARGET):
        print("  the ratio of the medians and the median of the paired ratios disagree on the target: the machine "
              "was too noisy for a verdict; run again, with more --runs")
    if measured:
        print("\nserver time by phase (median s over the measured runs):")
        for k, (name, what) in enumerate(PHASES):
            print(f"  {name:8} {statistics.median(p[k] for p in measured):7.3f}  {what}")
        overhead = [sum(p) - p[3] for p in measured]
        print(f"  {'total':8} {statistics.median(sum(p) for p in measured):7.3f}  of which outside the CLI "
              f"{statistics.median(overhead):.3f} (median)")
        print(f"the CLI alone (wrapper timestamps), median: bare {statistics.median(bare_cli_times):.3f} s, "
              f"in the server {statistics.median(p[3] for p in measured):.3f} s")
        print(f"for scale: `unzip -q` of the archive took {unzip:.3f} s (once, before the runs)")


if __name__ == "__main__":
    main()
