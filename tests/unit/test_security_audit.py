"""The tamper-evident audit log: what it records, and `canceldesk audit verify` naming the row that
was edited, deleted, cut off or forged."""
from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import delete, func, select, update

from canceldesk import cli
from canceldesk.adapters import orm
from canceldesk.service_layer import audit
from secworld import OTHER_ID, build_world, clone_world
from support import PERSON_ID


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    world = build_world(f"sqlite:///{tmp_path_factory.mktemp('audit')}/audit.db")
    yield world
    world.c.dispose()


@pytest.fixture()
def w(template, tmp_path):
    world = clone_world(template, f"{tmp_path}/audit-copy.db")
    yield world
    world.c.dispose()


def rows(c) -> list[dict]:
    with c.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(orm.audit_log).order_by(orm.audit_log.c.id)).mappings()]


def test_logins_failures_lockouts_staff_actions_and_every_transition_are_recorded(w):
    c, client = w.c, w.client
    for _ in range(5):
        client.post("/v1/auth/staff", json={"username": "agent2", "password": "wrong password"})
    client.post("/v1/staff/customers/search", json={"msisdn": "13800138000"}, headers=w.h("agent1"))
    events = [r["event"] for r in rows(c)]
    for expected in ("login", "logout", "login_failed", "login_locked", "in_person_id_check", "customer_lookup",
                     "request_transition", "staff_user_saved"):
        assert expected in events, expected
    with c.engine.connect() as conn:
        transitions = conn.execute(select(func.count()).select_from(orm.request_events)).scalar_one()
    assert events.count("request_transition") == transitions  # one row per timeline entry, no more, no less
    staff = [r for r in rows(c) if r["actor"].startswith("agent:agent1@")]
    assert {r["event"] for r in staff} >= {"login", "in_person_id_check", "customer_lookup", "request_transition"}


def test_the_audit_log_holds_no_personal_data(w):
    text = json.dumps(rows(w.c), default=str, ensure_ascii=False)
    for secret in ("13800138000", "13900139000", "13800000001", PERSON_ID, OTHER_ID, "张三", "李四", *w.tokens.values()):
        assert secret not in text, secret


def test_an_intact_chain_verifies(w):
    assert audit.verify_chain(w.c) == []
    assert len(rows(w.c)) > 20


def test_an_edited_row_is_named(w):
    target = rows(w.c)[7]
    with w.c.engine.begin() as conn:
        conn.execute(update(orm.audit_log).where(orm.audit_log.c.id == target["id"]).values(actor="subscriber:C999"))
    problems = audit.verify_chain(w.c)
    assert problems == [{"id": target["id"], "seq": target["seq"], "problem": "edited: its contents no longer match its MAC"}]


def test_a_deleted_row_is_named(w):
    all_rows = rows(w.c)
    gone, after = all_rows[5], all_rows[6]
    with w.c.engine.begin() as conn:
        conn.execute(delete(orm.audit_log).where(orm.audit_log.c.id == gone["id"]))
    problems = audit.verify_chain(w.c)
    assert problems and problems[0]["id"] == after["id"]
    assert f"seq {gone['seq']}" in problems[0]["problem"] and "deleted" in problems[0]["problem"]


def test_rows_cut_off_the_end_are_noticed(w):
    last = rows(w.c)[-1]
    with w.c.engine.begin() as conn:
        conn.execute(delete(orm.audit_log).where(orm.audit_log.c.id == last["id"]))
    (problem,) = audit.verify_chain(w.c)
    assert problem["seq"] == last["seq"] and "deleted" in problem["problem"]


def test_a_chain_recomputed_without_the_key_does_not_verify(w):
    """An attacker with the database but not the secret edits a row and re-computes every hash after
    it with SHA-256 (what a plain hash chain would accept)."""
    all_rows = rows(w.c)
    k = 4
    with w.c.engine.begin() as conn:
        prev = all_rows[k - 1]["hash"]
        for i, r in enumerate(all_rows[k:], start=k):
            actor = "subscriber:C999" if i == k else r["actor"]
            payload = json.dumps([r["seq"], prev, r["at"].isoformat(), actor, r["event"], r["subject"], r["details"]],
                                 sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
            h = hashlib.sha256(payload).hexdigest()
            conn.execute(update(orm.audit_log).where(orm.audit_log.c.id == r["id"]).values(actor=actor, prev_hash=prev, hash=h))
            prev = h
        conn.execute(update(orm.audit_head).values(hash=prev))
    problems = audit.verify_chain(w.c)
    assert problems[0]["id"] == all_rows[k]["id"]


def test_downgrading_rows_to_unsigned_does_not_dodge_the_mac(w):
    target = rows(w.c)[3]
    with w.c.engine.begin() as conn:
        conn.execute(update(orm.audit_log).where(orm.audit_log.c.id == target["id"]).values(key_id=None, seq=None))
    assert audit.verify_chain(w.c)[0]["id"] == target["id"]


def test_a_remembered_head_catches_a_rollback_of_the_whole_tail(w):
    head = audit.head(w.c)
    all_rows = rows(w.c)
    # roll the table and the head back by three rows, as someone who copied an old head row could
    keep = all_rows[-4]
    with w.c.engine.begin() as conn:
        conn.execute(delete(orm.audit_log).where(orm.audit_log.c.id > keep["id"]))
        old_head = {"seq": keep["seq"], "hash": keep["hash"], "key_id": keep["key_id"],
                    "mac": w.c.keyring.audit_mac(f"audit-head:{keep['seq']}:{keep['hash']}".encode())}
        conn.execute(update(orm.audit_head).values(**old_head))
    assert audit.verify_chain(w.c) == []  # the database alone cannot tell (the head's MAC is genuine)
    problems = audit.verify_chain(w.c, expect_head=(head["seq"], head["hash"]))
    assert problems and "expected head" in problems[-1]["problem"]


def test_the_cli_says_intact_or_names_the_row(w, monkeypatch, capsys):
    monkeypatch.setenv("CANCELDESK_DATABASE_URL", w.c.settings.database_url)
    monkeypatch.setenv("CANCELDESK_SECRET_KEY", w.c.settings.secret_key)
    assert cli.main(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert "audit chain intact" in out and "head" in out
    seq_hash = out.split("--expect-head ")[1].split("`")[0]
    target = rows(w.c)[2]
    with w.c.engine.begin() as conn:
        conn.execute(update(orm.audit_log).where(orm.audit_log.c.id == target["id"])
                     .values(details={**target["details"], "to": "completed"}))
    assert cli.main(["audit", "verify", "--expect-head", seq_hash]) == 1
    err = capsys.readouterr().err
    assert f"audit row {target['id']} (seq {target['seq']}): edited" in err


def test_transitions_of_a_rolled_back_transaction_leave_no_audit_row(w):
    from canceldesk.domain.lifecycle import Status
    before = len(rows(w.c))
    with w.c.uow() as uow:
        req = uow.repo.request(w.objects["req_sub1"])
        req.transition(Status.WITHDRAWN, w.c.now(), "subscriber:C001", "app", "test")
        uow.flush()
        uow.session.rollback()
    with w.c.uow() as uow:
        uow.commit()
    assert len(rows(w.c)) == before and audit.verify_chain(w.c) == []
