#!/usr/bin/env python3
"""Upload benchmark (`just bench-upload`): ingest speed and server memory for both upload strategies.

For each size it generates an allure-results zip (a realistic mix: JSON results and containers, text logs, and
incompressible screenshots), times `unzip -q` of the same file on the same disk as the physical reference, starts
the release server on a fresh data directory, uploads the zip with strategy A (one streaming request) and with
strategy B (50 MiB chunks, then complete), and prints wall time, MB/s, the ratio to `unzip`, and the server's peak
RSS (VmHWM from /proc). Targets (issue 4): ingest <= 1.25x unzip; peak RSS <= 64 MiB and no larger for 1 GiB than
for 100 MB.

With `--storage s3` (`just bench-upload-s3`) each size goes through two servers, one keeping its files under
DATA_DIR and one with `STORAGE_URL` on a bucket of moto on loopback (bench/moto_s3.py; moto keeps every object in
its own memory: a few GiB for 1 GiB), and strategy B sends its chunks in a shuffled order, the same on both.
Neither server gets an Allure CLI (its install never finishes, so no generation job is claimed): no job reads an
archive back while the next upload is measured. It prints both servers' times and peak RSS side by side against
the 64 MiB budget (issue 17: a 1 GiB upload to S3 within the same budget).

Usage: bench/upload.py [--sizes 500] [--storage fs|s3] [--binary target/release/allure-hub]
                       [--work /var/tmp/allure-hub-bench]
"""

import argparse
import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import zipfile

from moto_s3 import S3_VARS, Moto, ensure_moto, moto_venv

MIB = 1024 * 1024
CHUNK = 50 * MIB
ADMIN_PASSWORD = "bench-admin-Passw0rd"
RSS_BUDGET_MIB = 64  # issue 4's budget for the server while uploading, which issue 17 keeps on S3


TESTS = 2500  # 3 files per test plus containers: about 7,600 entries, under the default MAX_ZIP_ENTRIES


def make_zip(path, size_mb):
    """Writes a results zip of about `size_mb` MiB compressed with a fixed number of entries: every size has the
    same tests, only the screenshots grow, so sizes compare bytes rather than entry counts (the central directory
    is held in memory while extracting, about 1 KiB per entry, bounded by MAX_ZIP_ENTRIES)."""
    rng = random.Random(42)
    shot_size = max(16 * 1024, (size_mb * MIB) // TESTS - 4 * 1024)
    noise = rng.randbytes(shot_size + 4096)
    log_line = b"2026-04-07T10:00:00.123Z INFO checkout.step - clicked the button and waited for the page\n"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        for i in range(TESTS):
            uuid = f"{i:08d}-bench"
            result = {
                "uuid": uuid, "historyId": f"h{i % 2000}", "name": f"test {i}", "fullName": f"suite.Test.test{i}",
                "status": {0: "failed", 1: "broken", 2: "skipped"}.get(i % 20, "passed"),
                "start": 1_700_000_000_000 + i * 100, "stop": 1_700_000_000_000 + i * 100 + 90,
                "labels": [{"name": "suite", "value": f"suite{i % 40}"}, {"name": "owner", "value": "qa"}],
                "steps": [{"name": f"step {s}", "status": "passed"} for s in range(8)],
                "attachments": [
                    {"name": "log", "source": f"{uuid}-log.txt", "type": "text/plain"},
                    {"name": "screenshot", "source": f"{uuid}-shot.png", "type": "image/png"},
                ],
            }
            z.writestr(f"allure-results/{uuid}-result.json", json.dumps(result))
            z.writestr(f"allure-results/{uuid}-log.txt", log_line * rng.randint(20, 200))
            # Screenshots are already compressed: random bytes, stored as such by the deflater's fallback.
            start = rng.randint(0, 4096)
            z.writestr(f"allure-results/{uuid}-shot.png", noise[start:start + shot_size])
            if i % 50 == 0:
                z.writestr(f"allure-results/{uuid}-container.json", json.dumps({"uuid": uuid, "children": []}))
    return os.path.getsize(path)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, method, path, body=None, headers=None):
    # A large block size: http.client sends file bodies 8 KiB at a time by default, which measures the client.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3600, blocksize=1024 * 1024)
    conn.request(method, path, body=body, headers=headers or {})
    res = conn.getresponse()
    data = res.read()
    conn.close()
    return res.status, res.getheader("set-cookie"), data


def status_mib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib(pid):
    """The kernel's high-water mark of the process's resident set (VmHWM)."""
    return status_mib(pid, "VmHWM")


def reset_peak(pid):
    """Starts a new high-water mark at the current resident set (Linux >= 4.0), so each upload is measured alone
    rather than together with start-up (argon2 hashing of the admin password alone takes ~19 MiB)."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def start_server(binary, data_dir, overrides=None):
    """The release server on `data_dir`, with the environment's variables and `overrides` on top (a value of None
    removes a variable); its process and port once it answers."""
    port = free_port()
    env = dict(os.environ, DATA_DIR=data_dir, ADDR=f"127.0.0.1:{port}", ADMIN_PASSWORD=ADMIN_PASSWORD,
               RATE_LIMIT_RATE="0", LOG_LEVEL="warn", REPORTS_ADDR="127.0.0.1:0",
               MAX_UPLOAD_BYTES=str(4 * 1024 * MIB), MAX_DECOMPRESSED_BYTES=str(8 * 1024 * MIB),
               AUTH_POLICY_FILE=os.path.join(data_dir, "none.yaml"))
    for name, value in (overrides or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            if request(port, "GET", "/api/healthz")[0] == 200:
                return proc, port
        except OSError:
            pass
        time.sleep(0.05)
    proc.kill()
    sys.exit("the server did not start")


def admin_key(port):
    status, cookie, body = request(port, "POST", "/auth/login",
                                   json.dumps({"email": "admin@localhost", "password": ADMIN_PASSWORD}),
                                   {"Content-Type": "application/json"})
    assert status == 200, body
    session = cookie.split(";")[0]
    csrf = json.loads(body)["csrfToken"]
    status, _, body = request(port, "POST", "/api/settings/apikeys", json.dumps({"name": "bench", "role": "admin"}),
                              {"Content-Type": "application/json", "Cookie": session, "X-CSRF-Token": csrf})
    assert status == 201, body
    key = json.loads(body)["key"]
    auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    request(port, "POST", "/api/environments", json.dumps({"id": "bench", "name": "Bench"}), auth)
    request(port, "POST", "/api/environments/bench/projects", json.dumps({"id": "p", "name": "P"}), auth)
    return key


def strategy_a(port, key, path, build):
    with open(path, "rb") as f:
        size = os.path.getsize(path)
        t = time.monotonic()
        status, _, body = request(port, "POST", f"/api/environments/bench/projects/p/results?buildId={build}", f,
                                  {"Authorization": f"Bearer {key}", "Content-Type": "application/zip",
                                   "Content-Length": str(size)})
        elapsed = time.monotonic() - t
    assert status == 202, body
    return elapsed


def chunk_count(path):
    return (os.path.getsize(path) + CHUNK - 1) // CHUNK


def shuffled_order(chunks):
    """The chunk indices in a fixed order that is not ascending (when there are two or more)."""
    order = list(range(chunks))
    random.Random(7).shuffle(order)
    if chunks > 1 and order == sorted(order):
        order.reverse()
    return order


def strategy_b(port, key, path, build, order=None):
    """Strategy B with the chunks sent in `order` (ascending when None)."""
    size = os.path.getsize(path)
    chunks = chunk_count(path)
    order = list(range(chunks)) if order is None else order
    auth = {"Authorization": f"Bearer {key}"}
    t = time.monotonic()
    status, _, body = request(port, "POST", "/api/environments/bench/projects/p/uploads",
                              json.dumps({"buildId": build, "totalSize": size, "totalChunks": chunks}),
                              dict(auth, **{"Content-Type": "application/json"}))
    assert status == 201, body
    upload = json.loads(body)["uploadId"]
    with open(path, "rb") as f:
        for index in order:
            f.seek(index * CHUNK)
            data = f.read(CHUNK)
            status, _, body = request(port, "PUT", f"/api/environments/bench/projects/p/uploads/{upload}", data,
                                      dict(auth, **{"X-Chunk-Index": str(index), "X-Total-Chunks": str(chunks),
                                                    "Content-Type": "application/octet-stream"}))
            assert status == 200, body
    status, _, body = request(port, "POST", f"/api/environments/bench/projects/p/uploads/{upload}/complete", b"",
                              auth)
    assert status == 202, body
    return time.monotonic() - t


def measure(binary, data_dir, archive, overrides=None, order=None):
    """Both strategies against a fresh server: (A s, peak RSS during A, B s, peak RSS during B), each peak measured
    alone; prints the server's resident set around them."""
    proc, port = start_server(binary, data_dir, overrides)
    try:
        key = admin_key(port)
        start_peak = peak_rss_mib(proc.pid)
        reset_peak(proc.pid)
        base = status_mib(proc.pid, "VmRSS")
        a = strategy_a(port, key, archive, "a")
        rss_a = peak_rss_mib(proc.pid)
        reset_peak(proc.pid)
        b = strategy_b(port, key, archive, "b", order)
        rss_b = peak_rss_mib(proc.pid)
        print(f"server RSS: start-up peak {start_peak:.1f} MiB, before the uploads {base:.1f} MiB, "
              f"peak during A {rss_a:.1f} MiB, during B {rss_b:.1f} MiB", flush=True)
    finally:
        proc.terminate()
        proc.wait()
    return a, rss_a, b, rss_b


def queued_forever(work):
    """An `NPM_BIN` whose install of the Allure CLI never ends (until the server that ran it has gone): the server
    claims no generation job while it installs, so no job reads an archive back while the next upload is measured."""
    path = os.path.join(work, "npm-that-never-finishes")
    with open(path, "w") as f:
        f.write("#!/bin/sh\nwhile kill -0 $PPID 2>/dev/null; do sleep 1; done\n")
    os.chmod(path, 0o755)
    return path


def verdict(rss):
    return f"{'within' if rss <= RSS_BUDGET_MIB else 'OVER'} the {RSS_BUDGET_MIB} MiB budget"


def compare_storages(args, size_mb, work, archive, size, unzip, moto_python):
    """`--storage s3`: the filesystem and S3 side by side, chunks in a shuffled order on both; one row each."""
    order = shuffled_order(chunk_count(archive))
    print(f"chunks of strategy B sent in the order {order}", flush=True)
    npm = queued_forever(work)
    moto = Moto(moto_python, os.path.join(work, "moto.log"))
    rows = []
    try:
        fs_vars = dict({name: None for name in S3_VARS}, NPM_BIN=npm)
        s3_vars = dict(fs_vars, **moto.server_env("bench"))
        for storage, overrides in (("fs", fs_vars), ("s3", s3_vars)):
            print(f"-- {storage}", flush=True)
            a, rss_a, b, rss_b = measure(args.binary, os.path.join(work, f"data-{storage}"), archive, overrides, order)
            if storage == "s3":
                objects, stored = moto.stored("bench")
                print(f"bucket: {objects} objects, {stored / MIB:.0f} MiB (both builds' results.zip)", flush=True)
            rows.append((size_mb, storage, size / MIB, unzip, a, rss_a, b, rss_b))
    finally:
        moto.stop()
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="500", help="comma-separated archive sizes in MiB")
    parser.add_argument("--storage", choices=("fs", "s3"), default="fs",
                        help="s3: S3 on moto beside the filesystem, chunks out of order")
    parser.add_argument("--binary", default="target/release/allure-hub")
    parser.add_argument("--work", default="/var/tmp/allure-hub-bench")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    moto_python = ensure_moto(moto_venv()) if args.storage == "s3" else None
    rows = []
    for size_mb in [int(s) for s in args.sizes.split(",")]:
        work = tempfile.mkdtemp(dir=args.work)
        try:
            archive = os.path.join(work, "results.zip")
            print(f"== {size_mb} MiB: generating the archive…", flush=True)
            size = make_zip(archive, size_mb)
            t = time.monotonic()
            subprocess.run(["unzip", "-q", archive, "-d", os.path.join(work, "unzipped")], check=True)
            unzip = time.monotonic() - t
            shutil.rmtree(os.path.join(work, "unzipped"))
            if args.storage == "s3":
                rows.extend(compare_storages(args, size_mb, work, archive, size, unzip, moto_python))
                continue
            a, rss_a, b, rss_b = measure(args.binary, os.path.join(work, "data"), archive)
            rss = max(rss_a, rss_b)
            mb = size / MIB
            rows.append((size_mb, mb, unzip, a, b, rss))
            print(f"archive {mb:.0f} MiB | unzip -q {unzip:.2f} s | "
                  f"A {a:.2f} s {mb / a:.0f} MiB/s ratio {a / unzip:.2f} | "
                  f"B {b:.2f} s {mb / b:.0f} MiB/s ratio {b / unzip:.2f} | server peak RSS while uploading {rss:.1f} MiB",
                  flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    if args.storage == "s3":
        print(f"\nsize_MiB  storage  unzip_s  A_s  A_MiB/s  A_peak_RSS_MiB  B_s  B_MiB/s  B_peak_RSS_MiB  "
              f"(B: chunks out of order; budget {RSS_BUDGET_MIB} MiB)")
        for size_mb, storage, mb, unzip, a, rss_a, b, rss_b in rows:
            print(f"{size_mb:8d} {storage:>8} {unzip:8.2f} {a:5.2f} {mb / a:8.0f} {rss_a:15.1f} {b:5.2f} "
                  f"{mb / b:8.0f} {rss_b:15.1f}  {verdict(max(rss_a, rss_b))}")
        return
    print("\nsize_MiB  unzip_s  A_s  A_MiB/s  A/unzip  B_s  B_MiB/s  B/unzip  peak_RSS_MiB")
    for size_mb, mb, unzip, a, b, rss in rows:
        print(f"{size_mb:8d} {unzip:8.2f} {a:5.2f} {mb / a:8.0f} {a / unzip:8.2f} {b:5.2f} {mb / b:8.0f} "
              f"{b / unzip:8.2f} {rss:12.1f}")


if __name__ == "__main__":
    main()
