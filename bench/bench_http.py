"""HTTP: completed unsubscribes per second through the real API path, measured with wrk (a native load
generator, so the client is not the bottleneck) against `canceldesk serve --workers 2` plus one
`canceldesk worker`, on SQLite with the embedded queue.

Three figures from the same server, one after another:
- `http_bare_endpoint`: GET /bench/bare — the server's ceiling for any call;
- `http_bare_write`: POST /bench/write — one token look-up, one insert, one commit (the ceiling for a write);
- `http_completed_unsubscribes`: each connection runs POST /v1/prechecks → POST /v1/requests → POST confirm
  on its own subscriptions (bench/wrk/unsubscribe.lua times each sequence), then the run waits until every
  confirmed request is `completed`; the rate is completed requests / (load time + drain time).
"""
from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, insert, select

from canceldesk.adapters import orm

from common import fresh_container, seed_lines, stop_workers

SECONDS = int(os.environ.get("BENCH_HTTP_SECONDS", "10"))
CONCURRENCY = int(os.environ.get("BENCH_HTTP_CONCURRENCY", "32"))
API_WORKERS = int(os.environ.get("BENCH_HTTP_API_WORKERS", "2"))
LUA = Path(__file__).parent / "wrk" / "unsubscribe.lua"


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
                     "principal_id": cid, "login_msisdn": msisdn, "created_at": now, "last_seen_at": now,
                     "expires_at": now + timedelta(hours=2)})
    with c.engine.begin() as conn:
        for k in range(0, len(rows), 5000):
            conn.execute(insert(orm.sessions), rows[k:k + 5000])
    return tokens


def _wrk(args: list[str], timeout: float) -> str:
    out = subprocess.run(["wrk", *args], capture_output=True, text=True, timeout=timeout)
    if os.environ.get("BENCH_HTTP_DEBUG"):
        print(out.stdout)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed: {out.stderr.strip() or out.stdout.strip()}")
    return out.stdout


def _rate_and_p99(text: str) -> tuple[float, float, int]:
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    errors = sum(int(x) for x in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", text))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if sock:
        errors += sum(int(x) for x in sock.groups())
    return rate, float(m.group(1)) * scale, errors


def _tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its descendants so far (Linux /proc; 0 elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry)] = fields
            children.setdefault(int(fields[1]), []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        if p in stats:
            total += int(stats[p][11]) + int(stats[p][12])
        todo += children.get(p, [])
    return total / tick


def _completed(url: str) -> int:
    eng = create_engine(url)
    try:
        with eng.connect() as conn:
            return conn.execute(select(func.count()).select_from(orm.requests)
                                .where(orm.requests.c.status == "completed")).scalar_one()
    finally:
        eng.dispose()


def ensure_wrk() -> None:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: `make bench` installs it (apt-get install wrk)")


def run(results: list) -> None:
    ensure_wrk()
    n = max(2000, int(os.environ.get("BENCH_HTTP_N", str(max(20000, SECONDS * 2000)))))
    threads = CONCURRENCY  # one connection per wrk thread: the script follows each connection's sequence
    with tempfile.TemporaryDirectory() as d:
        url = f"sqlite:///{d}/http.db"
        c = fresh_container(url)
        pairs = seed_lines(c, n, date.today())
        tokens = _tokens(c, pairs)
        c.dispose()
        data = Path(d) / "subscribers.txt"
        data.write_text("".join(f"{t} {m} S{int(cid[1:]):07d}\n" for t, (cid, m) in zip(tokens, pairs)))
        port = _free_port()
        env = {**os.environ, "CANCELDESK_DATABASE_URL": url, "CANCELDESK_QUEUE_URL": "embedded",
               "CANCELDESK_ENV": "test", "CANCELDESK_LOG_LEVEL": "WARNING", "CANCELDESK_BENCH_ENDPOINTS": "1",
               "CANCELDESK_SIM_LATENCY_MS": "0", "CANCELDESK_SIM_FAILURE_RATE": "0"}
        server = subprocess.Popen([sys.executable, "-m", "canceldesk.cli", "serve", "--port", str(port),
                                   "--workers", str(API_WORKERS)], env=env, cwd=d,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        worker = subprocess.Popen([sys.executable, "-m", "canceldesk.cli", "worker", "--workers", "2"], env=env,
                                  cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            else:
                raise RuntimeError("the server did not answer /healthz within 30 s")
            common = ["-t", "2", "-c", str(CONCURRENCY), "--latency", "-d", f"{SECONDS}s"]
            _wrk(["-t", "2", "-c", "8", "-d", "2s", f"{base}/bench/bare"], 60)  # warm-up
            bare = _rate_and_p99(_wrk([*common, f"{base}/bench/bare"], SECONDS + 60))
            write_lua = Path(d) / "write.lua"
            write_lua.write_text('wrk.method = "POST"\nwrk.headers["Authorization"] = "Bearer %s"\nlocal n = 0\nfunction response(s, h, b) if s ~= 201 and n < 3 then n = n + 1; print("WRITEFAIL", s, b) end end\n' % tokens[-1])
            write = _rate_and_p99(_wrk([*common, "-s", str(write_lua), f"{base}/bench/write"], SECONDS + 60))
            before = _completed(url)
            api0, worker0 = _tree_cpu_seconds(server.pid), _tree_cpu_seconds(worker.pid)
            t0 = time.perf_counter()
            out = _wrk(["-t", str(threads), "-c", str(threads), "-d", f"{SECONDS}s", "-s", str(LUA),
                        f"{base}/", "--", str(data), str(threads)], SECONDS + 120)
            load_seconds = time.perf_counter() - t0
            api_cpu = _tree_cpu_seconds(server.pid) - api0
            facts = {k: int(v) for k, v in re.findall(r"^(SEQUENCES|ERRORS|EXHAUSTED) (\d+)$", out, re.M)}
            p99 = float(re.search(r"^P99_MS ([\d.]+)$", out, re.M).group(1))
            p50 = float(re.search(r"^P50_MS ([\d.]+)$", out, re.M).group(1))
            failed = re.findall(r"^FAILED (\S+) (\d+)$", out, re.M)
            confirmed = facts["SEQUENCES"]
            deadline = time.perf_counter() + 300
            done = _completed(url) - before
            while done < confirmed and time.perf_counter() < deadline:
                time.sleep(0.2)
                done = _completed(url) - before
            total_seconds = time.perf_counter() - t0
            worker_cpu = _tree_cpu_seconds(worker.pid) - worker0
        finally:
            stop_workers([server, worker], timeout=15)
    rate = done / total_seconds
    results.append({"name": "http_bare_endpoint", "unit": "requests/s", "value": round(bare[0], 1), "baseline": None,
                    "ratio": None, "p99_ms": round(bare[1], 1),
                    "notes": f"wrk -t2 -c{CONCURRENCY} -d{SECONDS}s GET /bench/bare against `canceldesk serve --workers "
                             f"{API_WORKERS}` (SQLite); p99 {bare[1]:.1f} ms; {bare[2]} errors"})
    results.append({"name": "http_bare_write", "unit": "requests/s", "value": round(write[0], 1), "baseline": None,
                    "ratio": None, "p99_ms": round(write[1], 1),
                    "notes": f"wrk -t2 -c{CONCURRENCY} -d{SECONDS}s POST /bench/write (token look-up + one insert + one "
                             f"commit), same server; p99 {write[1]:.1f} ms; {write[2]} errors"})
    results.append({
        "name": "http_completed_unsubscribes", "unit": "requests/s", "value": round(rate, 1),
        "baseline": round(write[0], 1), "ratio": round(rate / write[0], 3) if write[0] else None,
        "p99_ms": round(p99, 1), "p50_ms": round(p50, 1),
        "api_cpu_ms_per_sequence": round(1000 * api_cpu / confirmed, 1) if confirmed else None,
        "worker_cpu_ms_per_completed": round(1000 * worker_cpu / done, 1) if done else None,
        "notes": f"wrk, {threads} connections for {SECONDS}s, each running POST /v1/prechecks + POST /v1/requests + POST "
                 f"confirm on its own subscriptions (bench/wrk/unsubscribe.lua) against `canceldesk serve --workers "
                 f"{API_WORKERS}` and one `canceldesk worker --workers 2` on SQLite + the embedded queue, simulators at "
                 f"0 ms; {confirmed} confirmed, {done} completed in {total_seconds:.1f}s ({load_seconds:.1f}s of load, then "
                 f"the drain); value = completed / that time; p99 of the three-call sequence {p99:.1f} ms (p50 {p50:.1f}); "
                 f"API CPU {1000 * api_cpu / max(1, confirmed):.1f} ms per sequence (both serve processes), worker CPU "
                 f"{1000 * worker_cpu / max(1, done):.1f} ms per completed (the figures least moved by a busy machine); "
                 f"{facts.get('ERRORS', 0)} sequences failed {dict((k, int(v)) for k, v in failed)} (phase:status); "
                 f"baseline = the bare authenticated write (bare GET {bare[0]:.0f}/s). "
                 f"Target >= 300/s with p99 <= 250 ms at concurrency 32"})


if __name__ == "__main__":
    out: list = []
    run(out)
    for r in out:
        print(r)
