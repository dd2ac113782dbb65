#!/usr/bin/env python3
"""Upload benchmark (`just bench-upload`): ingest speed and server memory for both upload strategies.

For each size it generates an allure-results zip (a realistic mix: JSON results and containers, text logs, and
incompressible screenshots), times `unzip -q` of the same file on the same disk as the physical reference, starts
the release server on a fresh data directory, uploads the zip with strategy A (one streaming request) and with
strategy B (50 MiB chunks, then complete), and prints wall time, MB/s, the ratio to `unzip`, and the server's peak
RSS (VmHWM from /proc). Targets (issue 4): ingest <= 1.25x unzip; peak RSS <= 64 MiB and no larger for 1 GiB than
for 100 MB.

Usage: bench/upload.py [--sizes 500] [--binary target/release/allure-hub] [--work /var/tmp/allure-hub-bench]
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

MIB = 1024 * 1024
CHUNK = 50 * MIB
ADMIN_PASSWORD = "bench-admin-Passw0rd"


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


def start_server(binary, data_dir):
    port = free_port()
    env = dict(os.environ, DATA_DIR=data_dir, ADDR=f"127.0.0.1:{port}", ADMIN_PASSWORD=ADMIN_PASSWORD,
               RATE_LIMIT_RATE="0", LOG_LEVEL="warn", REPORTS_ADDR="127.0.0.1:0",
               MAX_UPLOAD_BYTES=str(4 * 1024 * MIB), MAX_DECOMPRESSED_BYTES=str(8 * 1024 * MIB),
               AUTH_POLICY_FILE=os.path.join(data_dir, "none.yaml"))
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


def strategy_b(port, key, path, build):
    size = os.path.getsize(path)
    chunks = (size + CHUNK - 1) // CHUNK
    auth = {"Authorization": f"Bearer {key}"}
    t = time.monotonic()
    status, _, body = request(port, "POST", "/api/environments/bench/projects/p/uploads",
                              json.dumps({"buildId": build, "totalSize": size, "totalChunks": chunks}),
                              dict(auth, **{"Content-Type": "application/json"}))
    assert status == 201, body
    upload = json.loads(body)["uploadId"]
    with open(path, "rb") as f:
        for index in range(chunks):
            data = f.read(CHUNK)
            status, _, body = request(port, "PUT", f"/api/environments/bench/projects/p/uploads/{upload}", data,
                                      dict(auth, **{"X-Chunk-Index": str(index), "X-Total-Chunks": str(chunks),
                                                    "Content-Type": "application/octet-stream"}))
            assert status == 200, body
    status, _, body = request(port, "POST", f"/api/environments/bench/projects/p/uploads/{upload}/complete", b"",
                              auth)
    assert status == 202, body
    return time.monotonic() - t


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="500", help="comma-separated archive sizes in MiB")
    parser.add_argument("--binary", default="target/release/allure-hub")
    parser.add_argument("--work", default="/var/tmp/allure-hub-bench")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
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
            proc, port = start_server(args.binary, os.path.join(work, "data"))
            try:
                key = admin_key(port)
                start_peak = peak_rss_mib(proc.pid)
                reset_peak(proc.pid)
                base = status_mib(proc.pid, "VmRSS")
                a = strategy_a(port, key, archive, "a")
                rss_a = peak_rss_mib(proc.pid)
                reset_peak(proc.pid)
                b = strategy_b(port, key, archive, "b")
                rss_b = peak_rss_mib(proc.pid)
                rss = max(rss_a, rss_b)
                print(f"server RSS: start-up peak {start_peak:.1f} MiB, before the uploads {base:.1f} MiB, "
                      f"peak during A {rss_a:.1f} MiB, during B {rss_b:.1f} MiB", flush=True)
            finally:
                proc.terminate()
                proc.wait()
            mb = size / MIB
            rows.append((size_mb, mb, unzip, a, b, rss))
            print(f"archive {mb:.0f} MiB | unzip -q {unzip:.2f} s | "
                  f"A {a:.2f} s {mb / a:.0f} MiB/s ratio {a / unzip:.2f} | "
                  f"B {b:.2f} s {mb / b:.0f} MiB/s ratio {b / unzip:.2f} | server peak RSS while uploading {rss:.1f} MiB",
                  flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    print("\nsize_MiB  unzip_s  A_s  A_MiB/s  A/unzip  B_s  B_MiB/s  B/unzip  peak_RSS_MiB")
    for size_mb, mb, unzip, a, b, rss in rows:
        print(f"{size_mb:8d} {unzip:8.2f} {a:5.2f} {mb / a:8.0f} {a / unzip:8.2f} {b:5.2f} {mb / b:8.0f} "
              f"{b / unzip:8.2f} {rss:12.1f}")


if __name__ == "__main__":
    main()
