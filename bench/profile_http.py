"""In-process profile of the HTTP benchmark's three-call sequence (bench_http.py): CPU and SQL
statements per call of POST /v1/prechecks, POST /v1/requests, POST …/confirm, driven straight into the
ASGI app (no sockets, no wrk), on a SQLite file seeded like bench_http.

    cd bench && PYTHONPATH=../src:. python profile_http.py            # CPU ms and statements per call
    SQL=1 ...        # also each call's statements, by text
    INLINE=1 ...     # sync endpoints run on the loop (no thread pool): what the calls cost themselves
    PROF=1 SORT=tottime TOP=60 ...  # cProfile of the measured loop (use with INLINE=1: threads are not profiled)
    STUB=1 ...       # the service layer answers from a cache: the HTTP layer's own cost
    N=… B=…          # sequences, and the batch size of the MIN-OF-BATCH line (least disturbed by a busy machine)
"""
import asyncio, json, os, sys, time, tempfile, cProfile, pstats, collections, hashlib, secrets
from datetime import date, datetime, timedelta, timezone
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
N = int(os.environ.get("N", "400"))
d = tempfile.mkdtemp(prefix="cd-profile-http")
if not os.environ.get("PROF"):  # keep the directory only for the profile it holds
    import atexit, shutil
    atexit.register(shutil.rmtree, d, True)
url = f"sqlite:///{d}/http.db"
os.environ.update({"CANCELDESK_DATABASE_URL": url, "CANCELDESK_QUEUE_URL": "embedded", "CANCELDESK_ENV": "test",
                   "CANCELDESK_LOG_LEVEL": "WARNING", "CANCELDESK_BENCH_ENDPOINTS": "1",
                   "CANCELDESK_SIM_LATENCY_MS": "0", "CANCELDESK_SIM_FAILURE_RATE": "0"})
from common import fresh_container, seed_lines
from sqlalchemy import insert, event
from canceldesk.adapters import orm
c0 = fresh_container(url)
pairs = seed_lines(c0, N + 50, date.today())
now = datetime.now(timezone.utc)
tokens = []
rows = []
for cid, msisdn in pairs:
    t = secrets.token_urlsafe(32); tokens.append(t)
    rows.append({"token_hash": hashlib.sha256(t.encode()).hexdigest(), "principal_kind": "subscriber",
                 "principal_id": cid, "login_msisdn": msisdn, "created_at": now, "last_seen_at": now,
                 "expires_at": now + timedelta(hours=2)})
with c0.engine.begin() as conn:
    conn.execute(insert(orm.sessions), rows)
c0.dispose()
from canceldesk.entrypoints.api.app import app_from_env
app = app_from_env()
if os.environ.get("INLINE"):
    import anyio.to_thread, starlette.concurrency, fastapi.routing, fastapi.dependencies.utils
    async def _inline(func, *args, **kw):
        return func(*args)
    async def _inline2(func, *args, **kw):
        return func(*args, **kw)
    anyio.to_thread.run_sync = _inline
    starlette.concurrency.run_in_threadpool = _inline2
    for m in (fastapi.routing, fastapi.dependencies.utils):
        if hasattr(m, "run_in_threadpool"): m.run_in_threadpool = _inline2

c = app.state.container
stmts = collections.Counter()
cur_phase = ["setup"]
texts = collections.defaultdict(collections.Counter)
@event.listens_for(c.engine, "before_cursor_execute")
def _count(conn, cursor, statement, params, context, executemany):
    stmts[cur_phase[0]] += 1
    texts[cur_phase[0]][statement.split("\n")[0][:110]] += 1

async def call(method, path, token=None, body=None, headers=()):
    hs = [(b"host", b"x")]
    if token: hs.append((b"authorization", f"Bearer {token}".encode()))
    data = b""
    if body is not None:
        data = json.dumps(body).encode(); hs += [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    hs += [(k.encode(), v.encode()) for k, v in headers]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "headers": hs, "client": ("127.0.0.1", 1),
             "server": ("x", 80), "root_path": ""}
    sent = False
    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": data, "more_body": False}
        await asyncio.sleep(3600)
    out = {}
    chunks = []
    async def send(m):
        if m["type"] == "http.response.start": out["status"] = m["status"]
        elif m["type"] == "http.response.body": chunks.append(m.get("body", b""))
    await app(scope, receive, send)
    return out["status"], b"".join(chunks)

cpu = collections.Counter()
async def seq(i):
    cid, msisdn = pairs[i]; tok = tokens[i]; sub = f"S{int(cid[1:]):07d}"
    body = {"kind": "unsubscribe", "msisdn": msisdn, "subscription_id": sub}
    tracking = None
    for ph in ("precheck", "create", "confirm"):
        if ph == "precheck":
            m, p, b, h = "POST", "/v1/prechecks", body, ()
        elif ph == "create":
            m, p, b, h = "POST", "/v1/requests", body, (("idempotency-key", "bench-" + sub),)
        else:
            m, p, b, h = "POST", f"/v1/requests/{tracking}/confirm", None, ()
        cur_phase[0] = ph
        p0 = time.process_time()
        st, resp = await call(m, p, tok, b, h)
        cpu[ph] += time.process_time() - p0
        if ph == "precheck":
            assert st == 200 and b'"eligible":true' in resp, (st, resp)
        elif ph == "create":
            assert st == 201, (st, resp)
            tracking = json.loads(resp)["tracking_no"]
        else:
            assert st == 200, (st, resp)


async def bare(k):
    cur_phase[0] = "bare"
    for i in range(k):
        p0 = time.process_time(); await call("GET", "/bench/bare"); cpu["bare"] += time.process_time() - p0
    cur_phase[0] = "write"
    for i in range(k):
        p0 = time.process_time(); st, _ = await call("POST", "/bench/write", tokens[-1]); cpu["write"] += time.process_time() - p0
        assert st == 201

async def main():
    if os.environ.get("STUB"):
        from canceldesk.service_layer import requests as svc
        cache = {}
        for name in ("precheck", "create_request", "confirm", "confirmed_view"):
            real = getattr(svc, name)
            def stub(*a, _real=real, _name=name, **k):
                if _name not in cache:
                    cache[_name] = _real(*a, **k)
                return cache[_name]
            setattr(svc, name, stub)
    for i in range(20): await seq(i)   # warm-up
    await bare(20)
    stmts.clear(); cpu.clear()
    for ph in list(texts): texts[ph].clear()
    prof = cProfile.Profile() if os.environ.get("PROF") else None
    if prof: prof.enable()
    B = int(os.environ.get("B", "25"))
    best = {}
    for b0 in range(20, N - B + 1, B):
        before = dict(cpu)
        for i in range(b0, b0 + B): await seq(i)
        for ph in ("precheck", "create", "confirm"):
            v = (cpu[ph] - before.get(ph, 0)) / B
            best[ph] = min(best.get(ph, 9), v)
    print("MIN-OF-BATCH  " + "  ".join(f"{ph} {best[ph]*1000:.2f}" for ph in best) + f"  seq {sum(best.values())*1000:.2f} ms")
    if prof: prof.disable()
    if not os.environ.get('NOBARE'): await bare(N - 20)
    n = N - 20
    for ph in ("precheck", "create", "confirm", "bare", "write"):
        print(f"{ph:9s} cpu {cpu[ph]/n*1000:6.2f} ms  stmts {stmts[ph]/n:5.2f}")
    print(f"sequence cpu {(cpu['precheck']+cpu['create']+cpu['confirm'])/n*1000:.2f} ms")
    if os.environ.get("SQL"):
        for ph in ("precheck", "create", "confirm", "write"):
            print("==", ph)
            for s, k in texts[ph].most_common():
                print(f"  {k/n:5.2f}  {s}")
    if prof:
        prof.dump_stats(os.path.join(d, "profile.out"))
        print("profile:", os.path.join(d, "profile.out"))
        pstats.Stats(prof).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(int(os.environ.get("TOP", "60")))
asyncio.run(main())
