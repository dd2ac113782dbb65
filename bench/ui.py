#!/usr/bin/env python3
"""Web UI benchmark (`just bench-ui`): time to first byte and transfer size of every page, measured in Chromium.

It starts the release server once on a fresh SQLite database (to migrate it and make an admin key), stops it,
bulk-inserts 5 environments x 10 projects (50 projects) and 10,000 builds with the API benchmark's data set
(bench/api.py), restarts it, signs in as the admin, and loads every page of the UI in Debian's Chromium (npm
`playwright-core`, never a downloaded browser):

- time to first byte: `responseStart - requestStart` of the page's Navigation Timing entry, the median of
  --runs loads after one warm-up load (the browser keeps its connection, as a user's does);
- transfer size: the page plus everything it loads (stylesheet, script; Resource Timing `transferSize`) in a fresh
  browser context with an empty cache, excluding the framed report (issue 7: "excluding the report itself").

It prints one line per page and a verdict against the targets: TTFB < 100 ms and < 150 KB transferred.

Usage: bench/ui.py [--builds 10000] [--envs 5] [--projects 10] [--runs 5] [--binary target/release/allure-hub]
                   [--work /var/tmp/allure-hub-bench] [--chromium /usr/bin/chromium] [--keep]
"""

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from api import dataset, seed_sqlite
from upload import ADMIN_PASSWORD, admin_key, request, start_server

TARGET_TTFB_MS = 100.0
TARGET_KB = 150.0
HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "crates", "server", "tests", "browser")

# Loads each page in Chromium and prints {path: {ttfbMs: [...], transferBytes, status}} as JSON.
MEASURE = r"""
import { chromium } from 'playwright-core';
const { HUB, COOKIE, PAGES, RUNS, CHROMIUM } = process.env;
const pages = JSON.parse(PAGES);
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'] });
const cookie = COOKIE ? [{ name: 'allure_hub_session', value: COOKIE, url: HUB }] : [];
const out = {};
try {
  for (const path of pages) {
    // Cold: a fresh context, so the stylesheet and script count too. The framed report is excluded.
    const cold = await browser.newContext();
    await cold.addCookies(cookie);
    const page = await cold.newPage();
    const res = await page.goto(`${HUB}${path}`, { waitUntil: 'load' });
    const bytes = await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0];
      const resources = performance.getEntriesByType('resource').filter((r) => r.initiatorType !== 'iframe');
      return nav.transferSize + resources.reduce((sum, r) => sum + r.transferSize, 0);
    });
    // Warm: the same tab loads the page again; each load's own TTFB.
    const ttfb = [];
    for (let i = 0; i <= Number(RUNS); i += 1) {
      await page.goto(`${HUB}${path}`, { waitUntil: 'domcontentloaded' });
      const t = await page.evaluate(() => {
        const nav = performance.getEntriesByType('navigation')[0];
        return nav.responseStart - nav.requestStart;
      });
      if (i > 0) ttfb.push(t);
    }
    out[path] = { status: res.status(), transferBytes: bytes, ttfbMs: ttfb };
    await cold.close();
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out));
"""


def node_modules(work):
    """A directory with the browser tests' locked npm packages installed (once)."""
    target = os.path.join(work, "ui-node")
    if not os.path.isdir(os.path.join(target, "node_modules", "playwright-core")):
        os.makedirs(target, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(os.path.join(FIXTURE, name), target)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=target, check=True)
    return target


def sign_in(port):
    status, cookie, body = request(port, "POST", "/auth/login",
                                   json.dumps({"email": "admin@localhost", "password": ADMIN_PASSWORD}),
                                   {"Content-Type": "application/json"})
    assert status == 200, body
    return cookie.split(";")[0].split("=", 1)[1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--builds", type=int, default=10_000)
    parser.add_argument("--envs", type=int, default=5)
    parser.add_argument("--projects", type=int, default=10, help="projects per environment")
    parser.add_argument("--runs", type=int, default=5, help="measured loads per page for the TTFB median")
    parser.add_argument("--binary", default="target/release/allure-hub")
    parser.add_argument("--work", default="/var/tmp/allure-hub-bench")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    env_ids, project_ids, env_rows, project_rows, build_rows, _ = dataset(args.envs, args.projects, args.builds, now)
    modules = node_modules(args.work)
    work = tempfile.mkdtemp(dir=args.work)
    saved = dict(os.environ)
    os.environ["CLEANUP_ENABLED"] = "false"  # retention must not delete the seeded builds
    os.environ.pop("DATABASE_URL", None)
    data_dir = os.path.join(work, "data")
    try:
        proc, port = start_server(args.binary, data_dir)
        try:
            admin_key(port)
        finally:
            proc.terminate()
            proc.wait()
        t = time.monotonic()
        seed_sqlite(os.path.join(data_dir, "allure-hub.db"), env_rows, project_rows, build_rows)
        print(f"seeded {len(env_rows)} environments, {len(project_rows)} projects, {len(build_rows)} builds in "
              f"{time.monotonic() - t:.1f} s", flush=True)
        proc, port = start_server(args.binary, data_dir)
        try:
            env, project = env_ids[0], project_ids[0]
            newest = max((r for r in build_rows if r[0] == env and r[1] == project), key=lambda r: r[4])
            base = f"/environments/{env}/projects/{project}"
            pages = ["/login", "/", f"/?envId={env}", f"/?envId={env}&projectId={project}", "/environments",
                     f"/environments/{env}", base, f"{base}?status=failed&page=3", f"{base}/builds/{newest[2]}",
                     "/uploads", "/notifications", "/settings/api-keys", "/settings/users", "/settings/disk",
                     "/settings/allure", "/settings/retention", "/profile", "/nope"]
            script = os.path.join(modules, "measure.mjs")
            with open(script, "w", encoding="utf-8") as f:
                f.write(MEASURE)
            env_vars = dict(os.environ, HUB=f"http://127.0.0.1:{port}", COOKIE=sign_in(port),
                            PAGES=json.dumps(pages), RUNS=str(args.runs), CHROMIUM=args.chromium)
            out = subprocess.run(["node", script], cwd=modules, env=env_vars, check=True, capture_output=True,
                                 text=True)
            results = json.loads(out.stdout)
        finally:
            proc.terminate()
            proc.wait()
    finally:
        os.environ.clear()
        os.environ.update(saved)
        if args.keep:
            print(f"kept {data_dir}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    print(f"{'page':52} {'status':>6} {'ttfb_p50_ms':>11} {'ttfb_max_ms':>11} {'kb':>7}  "
          f"verdict (TTFB < {TARGET_TTFB_MS:.0f} ms, < {TARGET_KB:.0f} KB)")
    failed = False
    for path in pages:
        r = results[path]
        ttfb = sorted(r["ttfbMs"])
        p50 = ttfb[len(ttfb) // 2]
        kb = r["transferBytes"] / 1024
        ok = p50 < TARGET_TTFB_MS and kb < TARGET_KB
        failed |= not ok
        print(f"{path:52} {r['status']:6d} {p50:11.1f} {ttfb[-1]:11.1f} {kb:7.1f}  {'PASS' if ok else 'FAIL'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
