"""Web hardening on the HTTP side: security headers on every response (errors and pages included),
request size limits (413, declared or streamed), control characters in URLs, cookie flags,
receipts that cannot be forged."""
from __future__ import annotations

import re

import pytest
from fastapi import routing
from fastapi.testclient import TestClient
from starlette.routing import Mount

from canceldesk.config import Settings
from canceldesk.entrypoints.api.hardening import SECURITY_HEADERS, session_cookie_flags
from secworld import MISSING_MSISDN, MISSING_TRACKING, build_world

FILL = {"msisdn": MISSING_MSISDN, "tracking_no": MISSING_TRACKING, "code": "AAAAA-BBBBB", "name": "requests",
        "batch_id": "00000000-0000-4000-8000-000000000000"}


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    world = build_world(f"sqlite:///{tmp_path_factory.mktemp('http')}/http.db", max_body_bytes=4096,
                        max_import_bytes=16384)
    yield world
    world.c.dispose()


def assert_hardened(r, where: str) -> None:
    for name, value in SECURITY_HEADERS.items():
        if name == "Content-Security-Policy":
            assert "frame-ancestors 'none'" in r.headers.get(name, ""), (where, r.status_code)
        else:
            assert r.headers.get(name) == value, (where, r.status_code, name, r.headers.get(name))


def test_every_route_answers_with_the_security_headers(w):
    seen = set()
    for ctx in routing.iter_route_contexts(w.client.app.routes):
        if isinstance(ctx.original_route, Mount):
            r = w.client.get(ctx.path + "/app.js")
            assert_hardened(r, ctx.path)
            continue
        path = re.sub(r"\{(\w+)\}", lambda m: FILL.get(m.group(1), "x"), ctx.path)
        for method in (ctx.methods or set()) - {"HEAD", "OPTIONS"}:
            for actor in ("anonymous",) if ctx.path.endswith("logout") else ("anonymous", "sub1", "admin"):
                r = w.client.request(method, path, headers=w.h(actor), json={} if method == "POST" else None,
                                     follow_redirects=False)
                assert_hardened(r, f"{method} {ctx.path} as {actor}")
                seen.add(r.status_code)
    assert {200, 303, 401, 403, 404, 422} <= seen, seen


def test_error_responses_are_hardened_too(w):
    checks = {
        "404": w.client.get("/no/such/path"),
        "405": w.client.delete("/v1/lines"),
        "413": w.client.post("/v1/auth/otp", content=b"x" * 5000, headers={"Content-Type": "application/json"}),
        "400": w.client.get("/v1/receipts/verify/%00abc"),
        "422": w.client.post("/v1/auth/otp", json={"msisdn": 1}),
        "401": w.client.get("/v1/lines"),
    }
    for name, r in checks.items():
        assert r.status_code == int(name), (name, r.status_code, r.text)
        assert_hardened(r, name)
        assert set(r.json()) == {"error"}


def test_a_server_error_is_hardened_and_says_nothing_inside(tmp_path, monkeypatch):
    world = build_world(f"sqlite:///{tmp_path}/boom.db")
    from canceldesk.service_layer import selfservice  # noqa: F401 - imported by the router module

    def boom(*a, **k):
        raise RuntimeError("secret internals 13800138000")
    monkeypatch.setattr("canceldesk.entrypoints.api.routers.lines.visible_line", boom)
    client = TestClient(world.client.app, raise_server_exceptions=False)
    r = client.get("/v1/lines/13800138000/subscriptions", headers=world.h("sub1"))
    assert r.status_code == 500 and r.json()["error"]["code"] == "INTERNAL"
    assert "13800138000" not in r.text and "RuntimeError" not in r.text
    assert_hardened(r, "500")
    world.c.dispose()


def test_the_docs_page_works_offline_and_only_it_may_run_an_inline_script(w):
    r = w.client.get("/docs")
    csp = r.headers["Content-Security-Policy"]
    assert "https://" not in csp and "http://" not in csp, csp  # no third-party origin at all
    assert "/docs-assets/swagger-ui-bundle.js" in r.text and "cdn.jsdelivr.net" not in r.text
    assert w.client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert "script-src 'self' 'unsafe-inline'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in w.client.get("/healthz").headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]


def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(w):
    before = w.client.get("/dev/outbox").json()["messages"]
    body = b'{"msisdn": "13800138000", "pad": "' + b"x" * 5000 + b'"}'
    r = w.client.post("/v1/auth/otp", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert w.client.get("/dev/outbox").json()["messages"] == before


def test_a_streamed_body_without_length_is_cut_off_at_the_limit(w):
    def chunks():
        yield b'{"kind": "close_line", "msisdn": "13800138000", "reason": "'
        for _ in range(100):
            yield b"y" * 100
        yield b'"}'
    r = w.client.post("/v1/requests", content=chunks(), headers={**w.h("sub1"), "Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert_hardened(r, "streamed 413")


def test_the_import_has_its_own_larger_limit(w):
    doc = b'{"products": [], "pad": "' + b"z" * 8000 + b'"}'
    r = w.client.post("/v1/admin/import", content=doc, headers={**w.h("admin"), "Content-Type": "application/json"})
    assert r.status_code != 413  # over the API limit, under the import limit: the importer judges it
    r = w.client.post("/v1/admin/import", content=b"{" + b" " * 20000 + b"}",
                      headers={**w.h("admin"), "Content-Type": "application/json"})
    assert r.status_code == 413


def test_control_characters_in_the_url_are_refused(w):
    for url in ("/v1/requests/CD%00X", "/v1/lines/138%0A00138000/subscriptions", "/dev/outbox?to=%00",
                "/v1/receipts/verify/AAAAA%1B[31m"):
        r = w.client.get(url, headers=w.h("sub1"))
        assert r.status_code == 400 and r.json()["error"]["code"] == "BAD_REQUEST", url


def test_session_cookie_flags_for_the_pages():
    prod = session_cookie_flags(Settings(env="prod", secret_key="p" * 20 + "q" * 20 + "0123456789"), max_age=3600)
    assert prod == {"httponly": True, "samesite": "lax", "secure": True, "path": "/", "max_age": 3600}
    assert session_cookie_flags(Settings(env="demo"))["secure"] is False  # plain http on 127.0.0.1
    assert session_cookie_flags(Settings(env="demo", cookie_secure=True))["secure"] is True


def test_hsts_in_production(w):
    from canceldesk.entrypoints.api.hardening import security_headers
    assert "Strict-Transport-Security" in security_headers("/", prod=True)
    assert "Strict-Transport-Security" not in w.client.get("/healthz").headers


def test_receipt_codes_cannot_be_forged(w):
    code = w.objects["receipt_code"]
    genuine = w.client.get(f"/v1/receipts/verify/{code}").json()
    assert genuine["genuine"] is True and set(genuine) == {"genuine", "tracking_no", "kind", "completed_at", "issued_at",
                                                           "issuer"}
    assert w.client.get(f"/v1/receipts/verify/{code.lower()}").json()["genuine"] is True  # case-insensitive, same code
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    plain = code.replace("-", "")
    for i in range(len(plain)):  # every single-character change
        for ch in (alphabet[(alphabet.index(plain[i]) + 1) % 32], alphabet[(alphabet.index(plain[i]) + 17) % 32]):
            forged = plain[:i] + ch + plain[i + 1:]
            assert w.client.get(f"/v1/receipts/verify/{forged[:5]}-{forged[5:]}").json() == {"genuine": False}
    # a code signed with another key, for a real tracking number, is not genuine either
    from canceldesk.adapters.crypto import KeyRing
    other = KeyRing("attacker-secret-" + "x1y2z3" * 6).sign(f"receipt:{genuine['tracking_no']}", 10)
    assert w.client.get(f"/v1/receipts/verify/{other[:5]}-{other[5:]}").json() == {"genuine": False}
    for junk in ("", "A" * 39, "'; DROP TABLE receipts; --", "ＡＡＡＡＡ-ＢＢＢＢＢ", "🙂🙂🙂"):
        r = w.client.get(f"/v1/receipts/verify/{junk}")
        assert r.status_code in (200, 404) and (r.status_code == 404 or r.json() == {"genuine": False}), junk


def test_a_receipt_row_planted_in_the_database_is_not_genuine(w):
    """Someone with write access to the receipts table cannot mint a code: it must carry our signature."""
    from sqlalchemy import update

    from canceldesk.adapters import orm
    with w.c.engine.begin() as conn:
        conn.execute(update(orm.receipts).where(orm.receipts.c.tracking_no == w.objects["done_sub1"])
                     .values(verification_code="AAAAA-BBBBB"))
    try:
        assert w.client.get("/v1/receipts/verify/AAAAA-BBBBB").json() == {"genuine": False}
    finally:
        with w.c.engine.begin() as conn:
            conn.execute(update(orm.receipts).where(orm.receipts.c.tracking_no == w.objects["done_sub1"])
                         .values(verification_code=w.objects["receipt_code"]))
