#!/usr/bin/env python3
"""Storage benchmark (`just bench-storage`): the filesystem and S3 on loopback, beside a bare `allure generate`.

One results set (the generation benchmark's: thousands of small files, bench/generate.py `make_results`) goes, in
alternating order after one warm-up each, through:

- bare: the pinned Allure CLI run by hand on the already-extracted files, as the server runs it (generate.Bare);
- fs: upload with `wait=true` -> report ready on the release server keeping its files under DATA_DIR;
- s3: the same on a second release server with `STORAGE_URL=s3://bench/bench`, on moto (`moto[server]` from PyPI in
  the virtual environment the tests use, ~/.cache/allure-hub/moto-venv, created the same way when missing) on
  loopback.

Each server build is a new build of one project; the per-build storage is the difference of a count taken before
and after it: files and bytes under DATA_DIR/envs, or a listing of the bucket (ListObjectsV2; moto needs no
signature), plus the requests moto logged per method. Then Chromium (Debian's, through npm `playwright-core`, as
bench/ui.py) loads the newest report's index.html from each report origin, alternately, in a fresh context each
time (empty cache, the report cookie obtained beforehand): time to first byte of the page, and full load (the
later of the report's tree drawn and the end of the last response it fetched), medians.

It prints each run with the server's phases (generate.PHASES), then a table of medians, the ratios FS/bare, S3/FS
and S3/FS page load against the targets (issue 17: <= 1.10, <= 1.3, <= 1.2), and where the S3 time goes.
Moto stores a few hundred small objects a second and one 1,300-test report of this set is ~4,100 objects, so the
defaults are moderate (about five minutes in all on 2 cores); the moto CPU time it prints says when moto itself is
the bottleneck.

Usage: bench/storage.py [--tests 1300] [--runs 3] [--loads 9] [--binary target/release/allure-hub] [--allure PATH]
                        [--work /var/tmp/allure-hub-bench] [--chromium /usr/bin/chromium]
"""

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

from generate import Bare, Server, PHASES, cli_spans, ensure_allure, make_results, timed_wrapper, zip_dir
from moto_s3 import S3_VARS, Moto, ensure_moto, moto_venv
from ui import node_modules

TARGET_FS = 1.10  # upload -> ready on the filesystem / bare generate
TARGET_S3 = 1.3  # upload -> ready on S3 / on the filesystem
TARGET_PAGE = 1.2  # report page full load from S3 / from the filesystem
BUCKET, PREFIX = "bench", "bench"

# Loads each target's page LOADS times after one warm-up, alternating, each in a fresh context with its cookie, until
# the report has drawn its tree and the network has been quiet for a second (the report fetches its data after
# its script has run, which can be after Playwright's `networkidle`); requests elsewhere (the report's analytics)
# are refused. Prints {name: [{ttfbMs, fullMs, requests, bytes, errors: [failed requests]}]} as JSON: fullMs is
# the later of the tree drawn and the last response's end, from the start of the navigation.
MEASURE = r"""
import { chromium } from 'playwright-core';
const { TARGETS, LOADS, CHROMIUM } = process.env;
const targets = JSON.parse(TARGETS);
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'] });
const out = Object.fromEntries(targets.map((t) => [t.name, []]));
try {
  for (let i = 0; i <= Number(LOADS); i += 1) {
    for (const t of i % 2 === 0 ? targets : [...targets].reverse()) {
      const origin = new URL(t.url).origin;
      const context = await browser.newContext();
      await context.addCookies([t.cookie]);
      await context.route((url) => url.origin !== origin, (route) => route.abort());
      const page = await context.newPage();
      await page.addInitScript(() => {
        // A report fetches many files; the default buffer keeps 250 entries.
        performance.setResourceTimingBufferSize(100000);
        new MutationObserver((_, observer) => {
          if (document.querySelector('[data-testid="tree-leaf"]')) {
            window.treeDrawnAt = performance.now();
            observer.disconnect();
          }
        }).observe(document, { childList: true, subtree: true });
      });
      const errors = [];
      let inflight = 0;
      let last = Date.now();
      const settle = () => { inflight -= 1; last = Date.now(); };
      page.on('request', () => { inflight += 1; last = Date.now(); });
      page.on('requestfinished', settle);
      page.on('requestfailed', (r) => {
        settle();
        if (r.url().startsWith(origin)) errors.push(`failed ${r.url()}`);
      });
      page.on('response', (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });
      const res = await page.goto(t.url, { waitUntil: 'load', timeout: 120000 });
      await page.waitForSelector('[data-testid="tree-leaf"]', { state: 'attached', timeout: 120000 });
      while (inflight > 0 || Date.now() - last < 1000) await page.waitForTimeout(50);
      const m = await page.evaluate(() => {
        const nav = performance.getEntriesByType('navigation')[0];
        const resources = performance.getEntriesByType('resource').filter((r) => r.name.startsWith(location.origin));
        return { ttfbMs: nav.responseStart - nav.requestStart,
                 fullMs: Math.max(window.treeDrawnAt, nav.loadEventEnd, ...resources.map((r) => r.responseEnd)),
                 requests: 1 + resources.length,
                 bytes: nav.transferSize + resources.reduce((sum, r) => sum + r.transferSize, 0) };
      });
      if (res.status() !== 200) errors.push(`${res.status()} ${t.url}`);
      if (i > 0) out[t.name].push({ ...m, errors });
      await context.close();
    }
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out));
"""


def cpu_seconds(pid):
    """User and system CPU time a process has used so far (/proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def files_stored(root):
    """(files, bytes) under `root`."""
    count = size = 0
    for directory, _, names in os.walk(root):
        for name in names:
            count += 1
            size += os.lstat(os.path.join(directory, name)).st_size
    return count, size


# --- the report page in Chromium -----------------------------------------------------------------------------------

def _get(host, port, path, headers=None):
    conn = http.client.HTTPConnection(host, port, timeout=60)
    try:
        conn.request("GET", path, headers=headers or {})
        res = conn.getresponse()
        res.read()
        return res
    finally:
        conn.close()


def report_target(server, build):
    """The report origin's URL of `build`'s index.html and its `allure_hub_report` cookie, through the hand-over a
    browser makes: the main origin's redirect with a grant, then the report origin's answer that sets the cookie."""
    res = _get("127.0.0.1", server.port, f"/reports/bench/p/{build}/index.html",
               {"Authorization": f"Bearer {server.key}"})
    location = res.getheader("location")
    if res.status != 302 or not location:
        sys.exit(f"no redirect to the report origin ({res.status})")
    url = urllib.parse.urlsplit(location)
    res = _get(url.hostname, url.port, f"{url.path}?{url.query}")
    cookie = next((c for c in res.headers.get_all("set-cookie") or [] if c.startswith("allure_hub_report=")), None)
    if res.status != 200 or cookie is None:
        sys.exit(f"the report origin did not accept the grant ({res.status})")
    origin = f"{url.scheme}://{url.netloc}"
    value = cookie.split(";")[0].split("=", 1)[1]
    return f"{origin}{url.path}", {"name": "allure_hub_report", "value": value, "url": f"{origin}/reports/"}


def load_pages(modules, targets, loads, chromium):
    script = os.path.join(modules, "storage-measure.mjs")
    with open(script, "w", encoding="utf-8") as f:
        f.write(MEASURE)
    env = dict(os.environ, TARGETS=json.dumps(targets), LOADS=str(loads), CHROMIUM=chromium)
    out = subprocess.run(["node", script], cwd=modules, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"the Chromium measurement failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout)


# --- main ----------------------------------------------------------------------------------------------------------

def phases_text(phases):
    return "" if phases is None else " (" + ", ".join(f"{p[0]} {v:.2f}" for p, v in zip(PHASES, phases)) + ")"


def verdict(ratio, target):
    return f"{ratio:.3f}  target <= {target}: {'PASS' if ratio <= target else 'FAIL'}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tests", type=int, default=1300, help="tests in the results set")
    parser.add_argument("--runs", type=int, default=3, help="measured runs of each way, after one warm-up each")
    parser.add_argument("--loads", type=int, default=9, help="measured page loads from each storage")
    parser.add_argument("--binary", default="target/release/allure-hub")
    parser.add_argument("--allure", help="the allure CLI (default: the generation benchmark's, under the cache)")
    parser.add_argument("--allure-cache", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"),
                                                              "bench-allure"))
    parser.add_argument("--work", default="/var/tmp/allure-hub-bench")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    allure = os.path.abspath(args.allure) if args.allure else ensure_allure(args.allure_cache)
    version = subprocess.run([allure, "--version"], capture_output=True, text=True).stdout.strip()
    moto_python = ensure_moto(moto_venv())
    os.makedirs(args.work, exist_ok=True)
    modules = node_modules(args.work)
    work = tempfile.mkdtemp(dir=args.work)
    saved = dict(os.environ)
    moto = fs = s3 = None
    times = {"bare": [], "fs": [], "s3": []}
    stored = {"fs": [], "s3": []}
    s3_requests, s3_cpu = [], []
    try:
        t = time.monotonic()
        files = make_results(os.path.join(work, "written"), args.tests)
        archive = os.path.join(work, "results.zip")
        size = zip_dir(os.path.join(work, "written"), archive)
        results = os.path.join(work, "results")
        subprocess.run(["unzip", "-q", archive, "-d", results], check=True)
        print(f"results: {args.tests} tests, {files} files, zip {size / 1024 / 1024:.1f} MiB (written in "
              f"{time.monotonic() - t:.1f} s); allure {version}; {os.cpu_count()} CPUs; {args.runs} runs each after "
              f"a warm-up, rotating the order", flush=True)
        moto = Moto(moto_python, os.path.join(work, "moto.log"), BUCKET)
        wrapper = lambda name: timed_wrapper(allure, os.path.join(work, f"allure-{name}"),  # noqa: E731
                                             os.path.join(work, f"{name}-cli.log"))
        os.makedirs(os.path.join(work, "bare"))
        bare = Bare(wrapper("bare"), results, os.path.join(work, "bare"))
        for name in S3_VARS:
            os.environ.pop(name, None)
        binary = os.path.abspath(args.binary)
        fs = Server(binary, wrapper("fs"), os.path.join(work, "fs-cli.log"), archive, os.path.join(work, "fs"))
        os.environ.update(moto.server_env(PREFIX))
        s3 = Server(binary, wrapper("s3"), os.path.join(work, "s3-cli.log"), archive, os.path.join(work, "s3"))
        print(f"servers: fs on :{fs.port}, s3 on :{s3.port} with moto on {moto.endpoint}", flush=True)

        def run_fs():
            envs = os.path.join(fs.data_dir, "envs")
            before = files_stored(envs)
            took = fs.run()
            after = files_stored(envs)
            return took, (after[0] - before[0], after[1] - before[1]), fs.phases[-1]

        def run_s3():
            before, requests_before = moto.stored(PREFIX), moto.requests()
            cpu_before = cpu_seconds(moto.proc.pid), cpu_seconds(s3.proc.pid)
            took = s3.run()
            s3_cpu.append((cpu_seconds(moto.proc.pid) - cpu_before[0], cpu_seconds(s3.proc.pid) - cpu_before[1]))
            requests = moto.requests() - requests_before
            after = moto.stored(PREFIX)
            s3_requests.append(requests)
            return took, (after[0] - before[0], after[1] - before[1]), s3.phases[-1]

        ways = [("bare", lambda: (bare.run(), None, None)), ("fs", run_fs), ("s3", run_s3)]
        for n in range(args.runs + 1):
            label = "warm-up" if n == 0 else f"run {n}/{args.runs}"
            for name, way in ways[n % 3:] + ways[:n % 3]:
                took, delta, phases = way()
                line = f"{label:9} {name:4} {took:7.2f} s"
                if delta is not None:
                    line += f", +{delta[0]} {'objects' if name == 's3' else 'files'} +{delta[1] / 1024 / 1024:.1f} MiB"
                if name == "s3":
                    line += ", moto requests " + " ".join(f"{k} {v}" for k, v in sorted(s3_requests[-1].items()))
                    line += f", CPU s moto {s3_cpu[-1][0]:.2f} server {s3_cpu[-1][1]:.2f}"
                print(line + phases_text(phases), flush=True)
                if n > 0:
                    times[name].append(took)
                    if delta is not None:
                        stored[name].append(delta)
        print(f"loading the newest report's index.html in Chromium, {args.loads} times each after a warm-up…",
              flush=True)
        targets = []
        for name, server in (("fs", fs), ("s3", s3)):
            url, cookie = report_target(server, f"b{server.runs}")
            targets.append({"name": name, "url": url, "cookie": cookie})
        requests_before = moto.requests()
        pages = load_pages(modules, targets, args.loads, args.chromium)
        page_requests = moto.requests() - requests_before
        bare_cli = [end - start for start, end in cli_spans(os.path.join(work, "bare-cli.log"))[1:]]
        fs_phases = [p for p in fs.phases[1:] if p is not None]
        s3_phases = [p for p in s3.phases[1:] if p is not None]
    finally:
        for process in (fs, s3, moto):
            if process is not None:
                process.stop()
        os.environ.clear()
        os.environ.update(saved)
        shutil.rmtree(work, ignore_errors=True)

    med = {name: statistics.median(v) for name, v in times.items()}
    page = {name: {k: statistics.median(load[k] for load in loads) for k in ("ttfbMs", "fullMs", "requests", "bytes")}
            for name, loads in pages.items()}
    errors = {name: sorted({e for load in loads for e in load["errors"]}) for name, loads in pages.items()}
    print(f"\n{'':14} {'ready_med_s':>11} {'min_s':>6} {'page_ttfb_ms':>12} {'page_full_ms':>12} {'min_ms':>6} "
          f"{'page_reqs':>9} "
          f"{'page_KiB':>8} {'stored/build':>13} {'MiB/build':>9}")
    for name, title in (("bare", "bare generate"), ("fs", "filesystem"), ("s3", "S3 (moto)")):
        row = f"{title:14} {med[name]:11.2f} {min(times[name]):6.2f}"
        if name in page:
            p = page[name]
            objects = statistics.median(d[0] for d in stored[name])
            mib = statistics.median(d[1] for d in stored[name]) / 1024 / 1024
            fastest = min(load["fullMs"] for load in pages[name])
            row += (f" {p['ttfbMs']:12.1f} {p['fullMs']:12.1f} {fastest:6.0f} {p['requests']:9.0f} "
                    f"{p['bytes'] / 1024:8.1f} {objects:13.0f} {mib:9.2f}")
        print(row)
    print("(stored/build: the files under DATA_DIR/envs, or the objects in the bucket, that one build adds; "
          "page_*: medians of the loads, min_ms the fastest full load)")
    paired = lambda a, b: statistics.median(x / y for x, y in zip(times[a], times[b]))  # noqa: E731
    print(f"\nupload -> ready, FS / bare   {verdict(med['fs'] / med['bare'], TARGET_FS)}  "
          f"(median of paired runs {paired('fs', 'bare'):.3f})")
    print(f"upload -> ready, S3 / FS     {verdict(med['s3'] / med['fs'], TARGET_S3)}  "
          f"(median of paired runs {paired('s3', 'fs'):.3f})")
    print(f"page full load, S3 / FS      {verdict(page['s3']['fullMs'] / page['fs']['fullMs'], TARGET_PAGE)}  "
          f"(time to first byte S3 / FS {page['s3']['ttfbMs'] / page['fs']['ttfbMs']:.3f})")
    for name, failed in errors.items():
        if failed:
            print(f"requests that failed in the {name} page loads: {', '.join(failed)}")
    if fs_phases and s3_phases:
        print(f"\nserver time by phase (median s):\n  {'':8} {'fs':>7} {'s3':>7}")
        for k, (name, what) in enumerate(PHASES):
            print(f"  {name:8} {statistics.median(p[k] for p in fs_phases):7.3f} "
                  f"{statistics.median(p[k] for p in s3_phases):7.3f}  {what}")
        print(f"  the CLI in the bare runs: {statistics.median(bare_cli):.3f} s (median; beside the cli row above, "
              f"how much of each ratio is the machine's noise)")
    s3_requests = s3_requests[1:]  # without the warm-up
    puts = statistics.median(r["PUT"] for r in s3_requests)
    print("\nmoto requests per build (median): " + ", ".join(
        f"{m} {statistics.median(r[m] for r in s3_requests):.0f}" for m in ("PUT", "POST", "GET", "HEAD", "DELETE")))
    if s3_phases and puts:
        after = statistics.median(p[4] for p in s3_phases)
        print(f"publishing on S3: {puts:.0f} PUTs in {after:.2f} s after the CLI, {after / puts * 1000:.1f} ms per "
              f"PUT with the server's uploads in flight ({puts / after:.0f} PUT/s)")
    measured_cpu = s3_cpu[1:]
    if measured_cpu:
        print(f"CPU per S3 build (median s): moto {statistics.median(c[0] for c in measured_cpu):.2f} (one Python "
              f"process: it cannot use more than one core), server {statistics.median(c[1] for c in measured_cpu):.2f}")
    loads = args.loads + 1
    print("moto requests per page load: " + ", ".join(f"{m} {v / loads:.0f}" for m, v in sorted(page_requests.items())))


if __name__ == "__main__":
    main()
