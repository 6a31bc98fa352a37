"""A world for the security suites: two people, two enterprises, two stores, every role logged in,
and a request of each kind of owner (subscriber, counter agent, enterprise admin)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from canceldesk.adapters import orm
from canceldesk.domain.model import Customer, EnterpriseAdmin, Line
from canceldesk.entrypoints.api.app import create_app
from canceldesk.service_layer import auth
from support import PERSON_ID, Clock, make_container, noon, seed

TODAY = date(2026, 11, 12)
MISSING_MSISDN = "13700137000"          # a valid mobile number nobody has
MISSING_TRACKING = "CD20260101DEADBEEF"  # well-formed, never issued
E2_USCC = "91110000100000000X"
OTHER_ID = "310115199303071230"         # C002's resident ID (support.OTHER_ID fails the checksum)
STAFF_PASSWORD = "correct horse battery"
STORE_1, STORE_2 = "BJ-CY-001", "SH-PD-002"


def otp_from_outbox(client: TestClient, msisdn: str) -> str:
    msgs = client.get("/dev/outbox", params={"to": msisdn}).json()["messages"]
    return re.search(r"\b(\d{6})\b", [m for m in msgs if m["event"] == "otp"][-1]["text"]).group(1)


def otp_login(client: TestClient, msisdn: str) -> str:
    r = client.post("/v1/auth/otp", json={"msisdn": msisdn})
    assert r.status_code == 202, r.text
    r = client.post("/v1/auth/token", json={"msisdn": msisdn, "otp": otp_from_outbox(client, msisdn)})
    assert r.status_code == 200, r.text
    return r.json()["token"]


def staff_login(client: TestClient, username: str, password: str = STAFF_PASSWORD) -> str:
    r = client.post("/v1/auth/staff", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return r.json()["token"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class World:
    c: object
    client: TestClient
    clock: Clock
    tokens: dict[str, str] = field(default_factory=dict)
    objects: dict[str, str] = field(default_factory=dict)

    def h(self, actor: str) -> dict:
        return bearer(self.tokens[actor]) if actor in self.tokens else {}


def add_second_enterprise(c) -> None:
    with c.uow() as uow:
        uow.session.add(Customer("E002", "enterprise", "另一家科技有限公司", "cn_uscc", E2_USCC, c.keyring.digest(E2_USCC),
                                 admins=[EnterpriseAdmin(msisdn="13700000002", name="赵六")]))
        uow.session.flush()
        uow.session.add(Line(msisdn="18659102000", customer_id="E002", cash_balance=300))
        uow.commit()


def build_world(db_url: str, **settings) -> World:
    clock = Clock(noon(TODAY))
    c = make_container(db_url, clock=clock, **settings)
    seed(c, TODAY)
    with c.uow() as uow:
        other = uow.repo.customer("C002")
        other.id_doc_number, other.id_doc_digest = OTHER_ID, c.keyring.digest(OTHER_ID)
        uow.commit()
    add_second_enterprise(c)
    auth.create_staff_user(c, "agent1", STAFF_PASSWORD, "agent", "王柜员", store=STORE_1)
    auth.create_staff_user(c, "agent2", STAFF_PASSWORD, "agent", "李柜员", store=STORE_2)
    auth.create_staff_user(c, "reviewer", STAFF_PASSWORD, "reviewer", "赵审核")
    auth.create_staff_user(c, "admin", STAFF_PASSWORD, "admin", "系统管理员")
    client = TestClient(create_app(c))
    w = World(c=c, client=client, clock=clock)
    w.tokens.update(sub1=otp_login(client, "13800138000"), sub2=otp_login(client, "13900139000"),
                    ea1=otp_login(client, "13800000001"), ea2=otp_login(client, "13700000002"),
                    agent1=staff_login(client, "agent1"), agent2=staff_login(client, "agent2"),
                    reviewer=staff_login(client, "reviewer"), admin=staff_login(client, "admin"))
    # tokens that must be refused
    w.tokens["expired"] = otp_login(client, "13800138000")
    with c.engine.begin() as conn:
        conn.execute(update(orm.sessions).where(orm.sessions.c.token_hash == auth.token_hash(w.tokens["expired"]))
                     .values(expires_at=clock.now - timedelta(seconds=1)))
    good = otp_login(client, "13800138000")
    w.tokens["tampered"] = good[:-1] + ("A" if good[-1] != "A" else "B")
    w.tokens["revoked"] = otp_login(client, "13800138000")
    assert client.post("/v1/auth/logout", headers=bearer(w.tokens["revoked"])).status_code == 204
    w.tokens["garbage"] = "x" * 5000

    # one open request per kind of owner, and one completed one with a receipt
    def create(actor, body):
        r = client.post("/v1/requests", json=body, headers=w.h(actor))
        assert r.status_code == 201 and r.json()["status"] == "awaiting_confirmation", r.text
        return r.json()["tracking_no"]

    w.objects["req_sub1"] = create("sub1", {"kind": "cancel_renewal", "msisdn": "13800138000", "subscription_id": "S-VIDEO"})
    w.objects["req_agent1"] = create("agent1", {"kind": "close_line", "msisdn": "13900139000",
                                                "in_person_document": {"type": "cn_ric", "number": OTHER_ID}})
    w.objects["req_ea1"] = create("ea1", {"kind": "close_line", "msisdn": "18659101000"})
    done = create("sub1", {"kind": "unsubscribe", "msisdn": "13800138000", "subscription_id": "S-CRBT"})
    r = client.post(f"/v1/requests/{done}/confirm", headers=w.h("sub1"))
    assert r.json()["status"] == "completed", r.text
    w.objects["done_sub1"] = done
    receipt = client.get(f"/v1/requests/{done}/receipt", headers={**w.h("sub1"), "Accept": "application/json"}).json()
    w.objects["receipt_code"] = receipt["verification_code"]
    r = client.post("/v1/enterprise/batches", json={"msisdns": ["18659101001"]}, headers=w.h("ea1"))
    assert r.status_code == 202, r.text
    w.objects["batch_ea1"] = r.json()["id"]
    return w


SECRETS_OF_SUB1 = ("13800138000", PERSON_ID, "张三", "C001")


def clone_world(w: World, path: str) -> World:
    """A private copy of a built world (SQLite backup), for tests that damage the database."""
    from sqlalchemy import text

    from canceldesk.bootstrap import bootstrap
    import sqlite3
    src = sqlite3.connect(w.c.settings.database_url[len("sqlite:///"):])
    dst = sqlite3.connect(path)
    src.backup(dst)
    src.close()
    dst.close()
    clock = Clock(w.clock.now)
    settings = w.c.settings.model_copy(update={"database_url": f"sqlite:///{path}"})
    c = bootstrap(settings, clock=clock)
    with c.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return World(c=c, client=TestClient(create_app(c)), clock=clock, tokens=dict(w.tokens), objects=dict(w.objects))
