"""Moto on loopback for the benchmarks that run the server on S3 (bench/storage.py, bench/upload.py --storage s3).

`moto[server]` from PyPI in the virtual environment the tests use (~/.cache/allure-hub/moto-venv, or
ALLURE_HUB_MOTO_VENV), created the same way when missing, started on a free loopback port with one bucket.

Self-contained (no import of the other benchmark modules), so that any of them can import it. Not named `moto.py`:
`python -m moto.server` run from this directory would import it instead of the package.
"""

import collections
import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

MOTO = "moto[server]>=5,<6"  # as crates/test-support/src/s3.rs
# Every variable the server reads for its storage: cleared for a server that must keep its files under DATA_DIR.
S3_VARS = ("STORAGE_URL", "AWS_ENDPOINT_URL", "S3_ENDPOINT", "AWS_ALLOW_HTTP", "AWS_ACCESS_KEY_ID",
           "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION")


def moto_venv():
    given = os.environ.get("ALLURE_HUB_MOTO_VENV")
    if given:
        return given
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "allure-hub", "moto-venv")


def has_moto(python):
    return subprocess.run([python, "-c", "import moto.server"], capture_output=True).returncode == 0


def ensure_moto(venv):
    """The virtual environment's python with moto, installed as the tests do when missing: built beside `venv` and
    renamed into place, so an interrupted install never leaves half an environment. Scripts are never run from it
    (their first line names the directory they were installed in), only `python -m`."""
    python = os.path.join(venv, "bin", "python")
    if has_moto(python):
        return python
    shutil.rmtree(venv, ignore_errors=True)
    building = f"{venv}.{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    print(f"installing {MOTO} into {venv} (once)…", flush=True)
    subprocess.run(["python3", "-m", "venv", building], check=True)
    subprocess.run([os.path.join(building, "bin", "python"), "-m", "pip", "install", "--quiet",
                    "--disable-pip-version-check", MOTO], check=True)
    try:
        os.rename(building, venv)
    except OSError:
        if not has_moto(python):
            raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return python


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _create_bucket(port, bucket):
    """`PUT /<bucket>` (moto checks no signature); its status."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("PUT", f"/{bucket}", body=b"", headers={"Content-Length": "0"})
        res = conn.getresponse()
        res.read()
        return res.status
    finally:
        conn.close()


class Moto:
    """`python -m moto.server` on a free loopback port with one bucket; its request log (werkzeug's, one line per
    request) is kept to count requests by method."""

    def __init__(self, python, log, bucket="bench"):
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.bucket = bucket
        self.log = log
        with open(log, "w") as err:
            self.proc = subprocess.Popen([python, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 60
        while True:
            try:
                status = _create_bucket(self.port, bucket)
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    sys.exit("moto did not start")
                time.sleep(0.2)
        if status != 200:
            self.stop()
            sys.exit(f"moto refused to create bucket {bucket}: {status}")

    def server_env(self, prefix):
        """The variables of a server keeping its files in this bucket below `prefix`."""
        return {"STORAGE_URL": f"s3://{self.bucket}/{prefix}", "AWS_ENDPOINT_URL": self.endpoint,
                "AWS_ALLOW_HTTP": "true", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_REGION": "us-east-1"}

    def requests(self):
        """Requests logged so far, by method."""
        counts = collections.Counter()
        with open(self.log, errors="replace") as f:
            for line in f:
                # Werkzeug colours the lines of some statuses.
                m = re.search(r'"(GET|PUT|POST|HEAD|DELETE) /', re.sub(r"\x1b\[[0-9;]*m", "", line))
                if m:
                    counts[m.group(1)] += 1
        return counts

    def stored(self, prefix):
        """(objects, bytes) under `prefix`/: a ListObjectsV2 listing, page by page."""
        count = size = 0
        token = None
        while True:
            query = {"list-type": "2", "prefix": f"{prefix}/", "max-keys": "1000"}
            if token:
                query["continuation-token"] = token
            with urllib.request.urlopen(f"{self.endpoint}/{self.bucket}?{urllib.parse.urlencode(query)}",
                                        timeout=300) as res:
                root = ET.fromstring(res.read())
            ns = {"s3": root.tag[1:].split("}")[0]} if root.tag.startswith("{") else {"s3": ""}
            sizes = [int(e.text) for e in root.iterfind("s3:Contents/s3:Size", ns)]
            count += len(sizes)
            size += sum(sizes)
            if root.findtext("s3:IsTruncated", "false", ns) != "true":
                return count, size
            token = root.findtext("s3:NextContinuationToken", None, ns)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()
