"""Subscriber login by SMS code, staff passwords, sessions: every rule of issue 3, each with a test
that fails if the rule goes."""
from __future__ import annotations

import hmac
import re
import statistics
import time
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from canceldesk.adapters import orm
from canceldesk.entrypoints.api.app import create_app
from canceldesk.service_layer import auth
from canceldesk.service_layer.errors import InvalidInput, TooManyRequests, Unauthorized
from support import Clock, make_container, noon, seed

TODAY = date(2026, 11, 12)
MSISDN = "13800138000"
NOBODY = "13700137000"


@pytest.fixture()
def world(tmp_path):
    clock = Clock(noon(TODAY))
    c = make_container(f"sqlite:///{tmp_path}/otp.db", clock=clock)
    seed(c, TODAY)
    yield c, clock
    c.dispose()


def last_code(c, msisdn: str = MSISDN) -> str:
    with c.uow() as uow:
        msgs = [m for m in uow.repo.messages(to=msisdn) if m["event"] == "otp"]
    return re.search(r"\b(\d{6})\b", msgs[-1]["text"]).group(1)


def rows(c, table):
    with c.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(table)).mappings()]


def audit_events(c) -> list[str]:
    return [r["event"] for r in rows(c, orm.audit_log)]


def test_a_code_has_six_digits_and_is_stored_only_as_a_keyed_hash(world):
    c, _ = world
    auth.send_otp(c, MSISDN)
    code = last_code(c)
    assert re.fullmatch(r"\d{6}", code)
    (row,) = rows(c, orm.otp_codes)
    assert code not in str(row)
    assert row["code_hash"] == hmac.new(c.keyring._current.otp, f"{MSISDN}:{code}".encode(), "sha256").hexdigest()


def test_the_code_works_once_and_only_for_five_minutes(world):
    c, clock = world
    auth.send_otp(c, MSISDN)
    code = last_code(c)
    clock.advance(minutes=4, seconds=59)
    assert auth.exchange_otp(c, MSISDN, code)["token"]
    with pytest.raises(Unauthorized):  # single use
        auth.exchange_otp(c, MSISDN, code)
    auth.send_otp(c, MSISDN)
    code = last_code(c)
    clock.advance(minutes=5, seconds=1)
    with pytest.raises(Unauthorized) as exc:  # expired
        auth.exchange_otp(c, MSISDN, code)
    assert exc.value.code == "OTP_INVALID"


def test_full_width_digits_are_accepted_and_a_malformed_code_is_a_422(world):
    c, _ = world
    auth.send_otp(c, MSISDN)
    code = last_code(c)
    with pytest.raises(InvalidInput):
        auth.exchange_otp(c, MSISDN, "12345")
    full_width = "".join(chr(ord(d) + 0xFEE0) for d in code)
    assert auth.exchange_otp(c, MSISDN, full_width)["role"] == "subscriber"


def test_five_wrong_codes_lock_the_number_for_fifteen_minutes_then_longer(world):
    c, clock = world
    auth.send_otp(c, MSISDN)
    code = last_code(c)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        with pytest.raises(Unauthorized):
            auth.exchange_otp(c, MSISDN, wrong)
    with pytest.raises(TooManyRequests) as exc:  # even the right code is refused now
        auth.exchange_otp(c, MSISDN, code)
    assert exc.value.code == "OTP_LOCKED"
    assert audit_events(c).count("login_failed") == 4 and "login_locked" in audit_events(c)
    clock.advance(minutes=14, seconds=59)
    with pytest.raises(TooManyRequests):
        auth.exchange_otp(c, MSISDN, code)
    clock.advance(seconds=2)
    auth.send_otp(c, MSISDN)
    code = last_code(c)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        with pytest.raises(Unauthorized):
            auth.exchange_otp(c, MSISDN, wrong)
    clock.advance(minutes=16)  # a second lockout in a row lasts 30 minutes, not 15
    with pytest.raises(TooManyRequests):
        auth.exchange_otp(c, MSISDN, code)
    clock.advance(minutes=15)
    auth.send_otp(c, MSISDN)
    assert auth.exchange_otp(c, MSISDN, last_code(c))["token"]


def test_at_most_five_codes_per_number_per_hour_known_or_not(world):
    c, clock = world
    for number in (MSISDN, NOBODY):
        for _ in range(5):
            auth.send_otp(c, number)
        with pytest.raises(TooManyRequests) as exc:
            auth.send_otp(c, number)
        assert exc.value.code == "OTP_RATE_LIMITED"
    clock.advance(minutes=60, seconds=1)
    auth.send_otp(c, MSISDN)


def test_the_per_client_address_limit_is_configurable_and_counts_per_address(tmp_path):
    c = make_container(f"sqlite:///{tmp_path}/nat.db", clock=Clock(noon(TODAY)), client_rate_limit=3)
    seed(c, TODAY)
    numbers = ["13800138000", "13900139000", "13700137001"]
    for n in numbers:
        auth.send_otp(c, n, client="100.64.0.7")
    with pytest.raises(TooManyRequests):
        auth.send_otp(c, "13700137002", client="100.64.0.7")
    auth.send_otp(c, "13700137002", client="100.64.0.8")  # another address is not affected
    c.dispose()


def test_the_default_client_limit_is_generous_enough_for_carrier_grade_nat():
    from canceldesk.config import Settings
    s = Settings(env="test")
    assert s.client_rate_limit / (s.client_rate_window_seconds / 60) >= 10  # ≥ 10 logins a minute per address


def test_the_same_answer_and_the_same_work_whether_or_not_the_number_exists(world):
    c, _ = world
    client = TestClient(create_app(c))
    known = client.post("/v1/auth/otp", json={"msisdn": MSISDN})
    unknown = client.post("/v1/auth/otp", json={"msisdn": NOBODY})
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json()) == (202, known.json())
    assert {r["msisdn"] for r in rows(c, orm.otp_codes)} == {MSISDN, NOBODY}  # the DB work is not skipped
    bad_known = client.post("/v1/auth/token", json={"msisdn": MSISDN, "otp": "000000"})
    bad_unknown = client.post("/v1/auth/token", json={"msisdn": NOBODY, "otp": "000000"})
    assert (bad_known.status_code, bad_known.json()) == (bad_unknown.status_code, bad_unknown.json())


def test_timing_does_not_tell_whether_a_number_exists(world):
    c, clock = world
    samples = {MSISDN: [], NOBODY: []}
    for i in range(12):
        for number in (MSISDN, NOBODY) if i % 2 else (NOBODY, MSISDN):
            clock.advance(minutes=13)  # stay under 5 codes an hour
            t = time.perf_counter()
            auth.send_otp(c, number)
            samples[number].append(time.perf_counter() - t)
    known, unknown = statistics.median(samples[MSISDN]), statistics.median(samples[NOBODY])
    print(f"send_otp median: known {known * 1000:.2f} ms, unknown {unknown * 1000:.2f} ms")
    assert 0.1 < known / unknown < 10, (known, unknown)  # the same order of magnitude


def test_codes_are_compared_in_constant_time(world, monkeypatch):
    c, _ = world
    auth.send_otp(c, MSISDN)
    seen = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: seen.append((a, b)) or real(a, b))
    with pytest.raises(Unauthorized):
        auth.exchange_otp(c, MSISDN, "000001" if last_code(c) != "000001" else "000002")
    assert seen, "the OTP check must go through hmac.compare_digest"


def test_tokens_are_random_stored_hashed_and_sessions_are_audited(world):
    c, _ = world
    auth.send_otp(c, MSISDN)
    token = auth.exchange_otp(c, MSISDN, last_code(c))["token"]
    assert len(token) >= 43
    (session,) = rows(c, orm.sessions)
    assert token not in str(session) and session["token_hash"] == auth.token_hash(token)
    assert session["principal_id"] == "C001"  # the person, not the number
    auth.logout(c, token)
    with pytest.raises(Unauthorized):
        auth.authenticate(c, token)
    assert {"login", "logout"} <= set(audit_events(c))


def test_staff_passwords_are_argon2_and_five_failures_lock_the_account(world):
    c, clock = world
    auth.create_staff_user(c, "agent1", "long enough password", "agent", "王", store="S1")
    (row,) = rows(c, orm.staff_users)
    assert row["password_hash"].startswith("$argon2id$")
    with pytest.raises(Unauthorized) as unknown_user:
        auth.staff_login(c, "nobody", "whatever-password")
    for _ in range(5):
        with pytest.raises(Unauthorized) as wrong:
            auth.staff_login(c, "agent1", "wrong password!")
    assert (unknown_user.value.code, unknown_user.value.message) == (wrong.value.code, wrong.value.message)
    with pytest.raises(TooManyRequests):
        auth.staff_login(c, "agent1", "long enough password")
    clock.advance(minutes=16)
    assert auth.staff_login(c, "agent1", "long enough password")["role"] == "agent"
    assert "login_locked" in audit_events(c)


def test_staff_accounts_need_a_real_password_and_agents_a_store(world):
    c, _ = world
    with pytest.raises(InvalidInput):
        auth.create_staff_user(c, "a", "short", "agent", "x", store="S1")
    with pytest.raises(InvalidInput):
        auth.create_staff_user(c, "a", "long enough password", "agent", "x")
    with pytest.raises(InvalidInput):
        auth.create_staff_user(c, "bad name\x00", "long enough password", "admin", "x")


def test_an_enterprise_admin_is_named_without_their_phone_number(world):
    c, _ = world
    auth.send_otp(c, "13800000001")
    out = auth.exchange_otp(c, "13800000001", last_code(c, "13800000001"))
    p = auth.authenticate(c, out["token"])
    assert p.role == "enterprise_admin" and p.enterprise_id == "E001"
    assert "13800000001" not in p.actor
