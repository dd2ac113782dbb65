"""The two-node recipe of deploy/compose/ run without containers (called by .ci/deploy-check).

The release binary starts twice with the environment docker-compose gives `hub-1` and `hub-2` in
compose.nodes.yaml, and Caddy runs deploy/compose/Caddyfile.nodes in front of them. Only what containers would
provide is replaced: the service names become loopback ports (PostgreSQL on 127.0.0.1:5432 with a fresh database,
moto on loopback for MinIO, with the bucket of STORAGE_URL), the balancer listens on free loopback ports, and each
node gets its own data directory. Then, through the balancer only:
  * both nodes answer (round robin), and both report origins;
  * an admin signed in through one node is signed in on the other (one database, one SESSION_SECRET);
  * GET /api/nodes lists hub-1 and hub-2;
  * hub-1 stopped with SIGTERM: every request still succeeds (Caddy tries the other node), and the node list
    shrinks to hub-2.

Usage: nodes-recipe-check.py <allure-hub binary> <caddy binary> <compose config as JSON> <PostgreSQL URL>
"""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "bench"))
from moto_s3 import Moto, ensure_moto, moto_venv  # noqa: E402

ADMIN_PASSWORD = "nodes-recipe-check-password"
DATABASE = "allure_hub_nodes_recipe"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, method, path, body=None, headers=None):
    """(status, headers, body) of one request to 127.0.0.1:`port`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        res = conn.getresponse()
        return res.status, res.headers, res.read()
    finally:
        conn.close()


def wait_for(what, check, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            sys.exit(f"nodes-recipe-check: {what} did not happen within {timeout}s")
        time.sleep(0.1)


def psql(base_url, *commands):
    args = ["psql", "-v", "ON_ERROR_STOP=1", "-q", base_url]
    for command in commands:
        args += ["-c", command]
    env = dict(os.environ, PGOPTIONS="-c client_min_messages=warning")
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, env=env)


def main():
    binary, caddy, config_json, pg_url = sys.argv[1:5]
    with open(config_json) as f:
        services = json.load(f)["services"]
    work = tempfile.mkdtemp(prefix="nodes-recipe-")
    processes = []
    try:
        run(binary, caddy, services, pg_url, work, processes)
    finally:
        for proc in processes:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        psql(pg_url, f"DROP DATABASE IF EXISTS {DATABASE}")
    shutil.rmtree(work)
    print("nodes-recipe-check: two nodes behind Caddyfile.nodes serve one installation, and one stopping is hidden")


def run(binary, caddy, services, pg_url, work, processes):
    envs = {name: services[name]["environment"] for name in ("hub-1", "hub-2")}
    storage = urllib.parse.urlparse(envs["hub-1"]["STORAGE_URL"])
    assert storage.scheme == "s3", storage

    moto = Moto(ensure_moto(moto_venv()), os.path.join(work, "moto.log"), bucket=storage.netloc)
    processes.append(moto.proc)
    psql(pg_url, f"DROP DATABASE IF EXISTS {DATABASE}", f"CREATE DATABASE {DATABASE}")
    database_url = urllib.parse.urlparse(pg_url)._replace(path=f"/{DATABASE}").geturl()

    # An npm whose install of the Allure CLI never ends: no generation is needed here, nor a registry.
    npm = os.path.join(work, "npm-that-never-finishes")
    with open(npm, "w") as f:
        f.write("#!/bin/sh\nexec sleep 3600\n")
    os.chmod(npm, 0o755)

    ports = {name: (free_port(), free_port()) for name in envs}
    balancer = (free_port(), free_port())
    nodes = {}

    def start(name):
        env = dict(envs[name])
        # What the containers' network and volumes would provide.
        assert env["DATABASE_URL"].startswith("postgres://") and env["AWS_ENDPOINT_URL"] == "http://minio:9000"
        env.update(DATABASE_URL=database_url, AWS_ENDPOINT_URL=moto.endpoint,
                   ADDR=f"127.0.0.1:{ports[name][0]}", REPORTS_ADDR=f"127.0.0.1:{ports[name][1]}",
                   DATA_DIR=os.path.join(work, name), BASE_URL=f"http://127.0.0.1:{balancer[0]}",
                   REPORTS_BASE_URL=f"http://127.0.0.1:{balancer[1]}", ADMIN_PASSWORD=ADMIN_PASSWORD,
                   NPM_BIN=npm, AUTH_POLICY_FILE=os.path.join(work, "no-policy.yaml"), PATH=os.environ["PATH"],
                   LOG_LEVEL="warn")
        with open(os.path.join(work, f"{name}.log"), "w") as log:
            proc = subprocess.Popen([binary, "serve"], env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        processes.append(proc)
        nodes[name] = proc
        wait_for(f"{name} answering", lambda: request(ports[name][0], "GET", "/api/healthz")[0] == 200)

    # In the compose file's order: hub-2 once hub-1 is healthy.
    start("hub-1")
    start("hub-2")

    with open("deploy/compose/Caddyfile.nodes") as f:
        caddyfile = f.read()
    replacements = [
        ("\tauto_https off\n", "\tauto_https off\n\tadmin off\n\tdefault_bind 127.0.0.1\n"),
        ("http://:8080 {", f"http://:{balancer[0]} {{"),
        ("http://:8081 {", f"http://:{balancer[1]} {{"),
        ("reverse_proxy hub-1:8080 hub-2:8080 {",
         f"reverse_proxy 127.0.0.1:{ports['hub-1'][0]} 127.0.0.1:{ports['hub-2'][0]} {{"),
        ("reverse_proxy hub-1:8081 hub-2:8081 {",
         f"reverse_proxy 127.0.0.1:{ports['hub-1'][1]} 127.0.0.1:{ports['hub-2'][1]} {{"),
    ]
    for old, new in replacements:
        assert caddyfile.count(old) == 1, f"Caddyfile.nodes no longer contains {old!r} once"
        caddyfile = caddyfile.replace(old, new)
    config = os.path.join(work, "Caddyfile")
    with open(config, "w") as f:
        f.write(caddyfile)
    with open(os.path.join(work, "caddy.log"), "w") as log:
        processes.append(subprocess.Popen(
            [caddy, "run", "--adapter", "caddyfile", "--config", config],
            env=dict(os.environ, XDG_DATA_HOME=os.path.join(work, "caddy-data"),
                     XDG_CONFIG_HOME=os.path.join(work, "caddy-config")),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log))
    wait_for("Caddy answering", lambda: request(balancer[0], "GET", "/api/healthz")[0] == 200)

    def answering():
        status, _, body = request(balancer[0], "GET", "/api/healthz")
        assert status == 200, (status, body)
        return json.loads(body)["node"]

    seen = {answering() for _ in range(6)}
    assert seen == {"hub-1", "hub-2"}, f"the balancer reached {seen}"
    for _ in range(4):
        # The report origin of either node: it serves report files only.
        assert request(balancer[1], "GET", "/")[0] == 404

    status, headers, body = request(
        balancer[0], "POST", "/auth/login",
        json.dumps({"email": "admin@localhost", "password": ADMIN_PASSWORD}),
        {"Content-Type": "application/json", "Origin": f"http://127.0.0.1:{balancer[0]}"})
    assert status == 200, (status, body)
    cookie = headers["Set-Cookie"].split(";")[0]

    def listed():
        status, _, body = request(balancer[0], "GET", "/api/nodes", headers={"Cookie": cookie})
        assert status == 200, (status, body)
        return sorted(node["id"] for node in json.loads(body))

    # Both nodes in turn: the session made by one is valid on the other.
    assert [listed() for _ in range(4)] == [["hub-1", "hub-2"]] * 4

    nodes["hub-1"].send_signal(signal.SIGTERM)
    assert nodes["hub-1"].wait(timeout=60) == 0, "hub-1 did not stop cleanly on SIGTERM"
    for _ in range(10):
        assert answering() == "hub-2"
    assert listed() == ["hub-2"]


if __name__ == "__main__":
    main()
