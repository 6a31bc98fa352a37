"""No 500 from hostile input or load (issue 8): deeply nested JSON, a database lock held past the
busy timeout, and a client that tries to choose the address the per-address limits count."""
from __future__ import annotations

import json
import sqlite3

import pytest
from fastapi.testclient import TestClient
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from canceldesk.adapters.ratelimit import RateLimiter
from canceldesk.cli import build_parser, proxy_options
from canceldesk.entrypoints.api.app import create_app
from secworld import build_world

DEEP = 100_000


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    world = build_world(f"sqlite:///{tmp_path_factory.mktemp('load')}/load.db", db_busy_timeout_seconds=0.5)
    yield world
    world.c.dispose()


@pytest.mark.parametrize("body", ["[" * DEEP + "]" * DEEP, '{"a":' * DEEP + "1" + "}" * DEEP,
                                  '{"kind": "close_line", "msisdn": ' + "[" * DEEP + "]" * DEEP + "}"])
@pytest.mark.parametrize("url, actor", [("/v1/prechecks", "sub1"), ("/v1/requests", "sub1"), ("/v1/auth/token", None)])
def test_deeply_nested_json_is_a_400(w, body, url, actor):
    r = w.client.post(url, content=body, headers={**w.h(actor or ""), "Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"] == {"code": "BAD_REQUEST", "details": None, "message":
                                 "the body is not JSON we can read (malformed, or nested too deeply); "
                                 "send one plain JSON object"}


def test_deeply_nested_import_is_refused_whole(w):
    deep = "[" * DEEP + "]" * DEEP
    r = w.client.post("/v1/admin/import", content=deep, headers={**w.h("admin"), "Content-Type": "application/json"})
    assert (r.status_code, r.json()["error"]["code"]) == (422, "IMPORT_REJECTED")
    assert r.json()["error"]["details"]["errors"][0]["message"] == \
        "the JSON is nested too deeply; a record is an object of plain values"
    lines = json.dumps({"type": "product", "code": "X"}) + "\n" + '{"type": "line", "a": ' + deep + "}\n"
    r = w.client.post("/v1/admin/import", content=lines, headers={**w.h("admin"), "Content-Type": "application/x-ndjson"})
    assert r.status_code == 422 and "is nested too deeply; each line is one object of plain values" in r.text


def test_a_lock_past_the_busy_timeout_is_a_503_with_retry_after(w):
    holder = sqlite3.connect(w.c.settings.database_url[len("sqlite:///"):], isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the database
    try:
        r = w.client.post("/v1/prechecks", json={"kind": "close_line", "msisdn": "13800138000"}, headers=w.h("agent1"))
        assert (r.status_code, r.headers.get("Retry-After")) == (503, "2"), r.text
        assert r.json()["error"]["code"] == "BUSY"
        assert r.json()["error"]["message"] == \
            "the service is busy right now and nothing was changed; try again in a moment"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    r = w.client.post("/v1/prechecks", json={"kind": "close_line", "msisdn": "13800138000"}, headers=w.h("agent1"))
    assert r.status_code == 200


def test_serve_takes_the_trusted_proxy_list():
    args = build_parser().parse_args(["serve", "--forwarded-allow-ips", "10.0.0.1, 10.0.0.2"])
    assert proxy_options(args.forwarded_allow_ips) == {"proxy_headers": True, "forwarded_allow_ips": "10.0.0.1,10.0.0.2"}
    assert proxy_options(None) == {"proxy_headers": False}
    assert proxy_options("") == {"proxy_headers": False}


def test_a_client_cannot_choose_its_address_for_the_limits(w):
    """Behind uvicorn with a trusted-proxy list that does not include the client, X-Forwarded-For is
    ignored: three different forged addresses still share the client's own limit (3 here)."""
    saved, w.c.rate_limiter = w.c.rate_limiter, RateLimiter(3, 600)
    try:
        client = TestClient(ProxyHeadersMiddleware(create_app(w.c), trusted_hosts="10.0.0.1"))
        codes = [client.post("/v1/auth/otp", json={"msisdn": "13700137000"},
                             headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code for i in range(4)]
    finally:
        w.c.rate_limiter = saved
    assert codes == [202, 202, 202, 429]
