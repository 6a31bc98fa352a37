"""`canceldesk serve --workers N`: several API processes on one port (the HTTP benchmark's setup), and the
benchmark's write endpoint, which exists only when CANCELDESK_BENCH_ENDPOINTS is set."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
from fastapi.testclient import TestClient

from canceldesk.entrypoints.api.app import create_app
from web_support import demo_container


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_with_two_workers_answers_from_two_processes(tmp_path):
    url = f"sqlite:///{tmp_path}/serve.db"
    env = {**os.environ, "CANCELDESK_DATABASE_URL": url, "CANCELDESK_ENV": "test", "CANCELDESK_QUEUE_URL": "immediate"}
    subprocess.run([sys.executable, "-m", "canceldesk.cli", "migrate"], env=env, check=True, capture_output=True)
    port = _port()
    server = subprocess.Popen([sys.executable, "-m", "canceldesk.cli", "serve", "--port", str(port), "--workers", "2"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stderr.read().decode()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "serve --workers 2 did not answer within 60 s"
            time.sleep(0.2)
        children = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
        assert len(children) >= 2  # the two API processes under uvicorn's supervisor
        # a database-backed call through the multi-process server (unknown numbers are answered alike: no oracle)
        assert httpx.post(f"http://127.0.0.1:{port}/v1/auth/otp", json={"msisdn": "13800138000"}).status_code == 202
        assert httpx.post(f"http://127.0.0.1:{port}/bench/write").status_code == 404  # off unless asked for
    finally:
        server.terminate()
        server.wait(20)


def test_the_bench_write_endpoint_needs_a_session_and_writes_one_row(tmp_path):
    c = demo_container(tmp_path / "bench.db", bench_endpoints=True)
    client = TestClient(create_app(c))
    assert client.post("/bench/write").status_code == 401
    assert client.post("/v1/auth/otp", json={"msisdn": "13800138000"}).status_code == 202
    from web_support import otp_from_outbox
    token = client.post("/v1/auth/token", json={"msisdn": "13800138000",
                                                "otp": otp_from_outbox(client, "13800138000")}).json()["token"]
    r = client.post("/bench/write", headers={"Authorization": f"Bearer {token}"})
    assert (r.status_code, r.json()) == (201, {"ok": True})
    from sqlalchemy import text
    with c.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM bench_writes")).scalar_one() == 1
    c.dispose()
