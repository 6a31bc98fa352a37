"""HTTP: completed unsubscribes per second through the real API path (precheck, create, confirm,
complete) against a bare JSON endpoint of the same app on the same uvicorn server."""
from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone

import httpx
from sqlalchemy import insert

from canceldesk.adapters import orm

from common import fresh_container, seed_lines

N = int(os.environ.get("BENCH_HTTP_N", "600"))
CONCURRENCY = int(os.environ.get("BENCH_HTTP_CONCURRENCY", "16"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tokens(c, pairs) -> list[str]:
    now = datetime.now(timezone.utc)
    tokens, rows = [], []
    for cid, msisdn in pairs:
        t = secrets.token_urlsafe(32)
        tokens.append(t)
        rows.append({"token_hash": hashlib.sha256(t.encode()).hexdigest(), "principal_kind": "subscriber",
                     "principal_id": cid, "login_msisdn": msisdn, "created_at": now, "expires_at": now + timedelta(hours=2)})
    with c.engine.begin() as conn:
        conn.execute(insert(orm.sessions), rows)
    return tokens


async def _bare(base: str, n: int) -> tuple[float, list[float]]:
    lat: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        sem = asyncio.Semaphore(CONCURRENCY)

        async def one():
            async with sem:
                t0 = time.perf_counter()
                r = await client.get("/bench/bare")
                assert r.status_code == 200
                lat.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return n / (time.perf_counter() - t0), lat


async def _full(base: str, pairs, tokens) -> tuple[float, list[float]]:
    lat: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        sem = asyncio.Semaphore(CONCURRENCY)

        async def one(i: int):
            cid, msisdn = pairs[i]
            h = {"Authorization": f"Bearer {tokens[i]}"}
            body = {"kind": "unsubscribe", "msisdn": msisdn, "subscription_id": f"S{int(cid[1:]):07d}"}
            async with sem:
                t0 = time.perf_counter()
                pre = await client.post("/v1/prechecks", json=body, headers=h)
                assert pre.status_code == 200 and pre.json()["eligible"], pre.text
                r = await client.post("/v1/requests", json=body, headers={**h, "Idempotency-Key": f"bench-{i}"})
                assert r.status_code == 201, r.text
                done = await client.post(f"/v1/requests/{r.json()['tracking_no']}/confirm", headers=h)
                assert done.status_code == 200 and done.json()["status"] == "completed", done.text
                lat.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(len(pairs))))
        return len(pairs) / (time.perf_counter() - t0), lat


def _p99(lat: list[float]) -> float:
    return statistics.quantiles(lat, n=100)[98] * 1000 if len(lat) >= 100 else max(lat) * 1000


def run(results: list, n: int = N) -> None:
    with tempfile.TemporaryDirectory() as d:
        url = f"sqlite:///{d}/http.db"
        c = fresh_container(url)
        pairs = seed_lines(c, n, date.today())
        tokens = _tokens(c, pairs)
        c.dispose()
        port = _free_port()
        env = {**os.environ, "CANCELDESK_DATABASE_URL": url, "CANCELDESK_QUEUE_URL": "immediate",
               "CANCELDESK_ENV": "test", "CANCELDESK_LOG_LEVEL": "WARNING"}
        server = subprocess.Popen([sys.executable, "-m", "canceldesk.cli", "serve", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            asyncio.run(_bare(base, 200))  # warm-up
            bare_rate, bare_lat = asyncio.run(_bare(base, max(2000, n * 3)))
            full_rate, full_lat = asyncio.run(_full(base, pairs, tokens))
        finally:
            server.terminate()
            server.wait(10)
    results.append({"name": "http_bare_endpoint", "unit": "requests/s", "value": round(bare_rate, 1), "baseline": None,
                    "ratio": None, "notes": f"GET /bench/bare, same app and uvicorn process, concurrency {CONCURRENCY}; "
                                            f"p99 {_p99(bare_lat):.1f} ms"})
    results.append({"name": "http_completed_unsubscribes", "unit": "requests/s", "value": round(full_rate, 1),
                    "baseline": round(bare_rate, 1), "ratio": round(full_rate / bare_rate, 3),
                    "p99_ms": round(_p99(full_lat), 1),
                    "notes": f"{n} unsubscribes, each = POST /v1/prechecks + POST /v1/requests + POST confirm, executed to "
                             f"completed inside the confirm call (queue inline), SQLite, one uvicorn process, "
                             f"concurrency {CONCURRENCY}; p99 of the whole sequence {_p99(full_lat):.1f} ms. Target ratio >= 0.25"})


if __name__ == "__main__":
    out: list = []
    run(out, int(os.environ.get("BENCH_HTTP_N", "200")))
    for r in out:
        print(r)
