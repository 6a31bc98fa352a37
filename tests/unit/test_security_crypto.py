"""Personal data at rest (AES-GCM with a key id, keyed-hash look-ups), key rotation with
`canceldesk keys rotate`, signed receipt codes, and the start-up refusal of a weak secret."""
from __future__ import annotations

import json
import sqlite3
from datetime import date

import pytest
from pydantic import ValidationError

from canceldesk import cli
from canceldesk.adapters.crypto import KeyRing, key_id_of
from canceldesk.bootstrap import bootstrap
from canceldesk.config import DEFAULT_SECRET, Settings
from canceldesk.service_layer import audit, counter, receipts
from canceldesk.service_layer.principal import Principal
from support import PERSON_ID, Clock, make_container, noon, seed

TODAY = date(2026, 11, 12)
OLD = "old-secret-" + "a1b2c3d4e5f6g7h8i9j0" * 2
NEW = "new-secret-" + "z9y8x7w6v5u4t3s2r1q0" * 2
AGENT = Principal(kind="staff", id="agent1", role="agent", store="S1")


def raw(path: str, sql: str) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture()
def old_world(tmp_path):
    path = f"{tmp_path}/keys.db"
    c = make_container(f"sqlite:///{path}", clock=Clock(noon(TODAY)), secret_key=OLD)
    seed(c, TODAY)
    c.dispose()
    return path


def container(path: str, secret: str, old: str = ""):
    return bootstrap(Settings(env="test", database_url=f"sqlite:///{path}", queue_url="immediate", secret_key=secret,
                              old_secret_keys=old), clock=Clock(noon(TODAY)))


def test_names_and_id_numbers_are_ciphertext_in_the_database(old_world):
    rows = raw(old_world, "SELECT name, id_doc_number, id_doc_digest FROM customers")
    admins = raw(old_world, "SELECT name, msisdn FROM enterprise_admins")
    everything = json.dumps(rows + admins, ensure_ascii=False)
    for secret in ("张三", "李四", "王五", PERSON_ID, "91350100M000100Y43"):
        assert secret not in everything
    for name, number, digest in rows:
        assert name.startswith(f"v1:{key_id_of(OLD)}:") and number.startswith(f"v1:{key_id_of(OLD)}:")
        assert len(digest) == 64
    # the same plaintext encrypts differently every time (random nonce)
    ring = KeyRing(OLD)
    assert ring.encrypt(PERSON_ID) != ring.encrypt(PERSON_ID)


def test_look_ups_go_through_a_keyed_hash(old_world):
    c = container(old_world, OLD)
    with c.uow() as uow:
        assert [cu.id for cu in uow.repo.customers_by_digest(c.keyring.digest(PERSON_ID))] == ["C001"]
    assert KeyRing(NEW).digest(PERSON_ID) != KeyRing(OLD).digest(PERSON_ID)  # not a plain hash anyone can compute
    c.dispose()


def test_an_altered_ciphertext_or_key_id_does_not_decrypt():
    ring = KeyRing(OLD, [NEW])
    token = ring.encrypt(PERSON_ID)
    version, kid, body = token.split(":", 2)
    flipped = body[:20] + ("A" if body[20] != "A" else "B") + body[21:]
    for bad in (f"{version}:{kid}:{flipped}", f"{version}:{key_id_of(NEW)}:{body}", "v1:deadbeef:xxxx", "plain"):
        with pytest.raises(ValueError):
            ring.decrypt(bad)


def test_rotation_old_keys_keep_decrypting_and_the_command_moves_everything_to_the_new_key(old_world, monkeypatch, capsys):
    # 1. new key, old one listed: everything still reads, look-ups by ID still work
    c = container(old_world, NEW, OLD)
    with c.uow() as uow:
        assert uow.repo.customer("C001").name == "张三"
    assert counter.find_customer(c, AGENT, doc_type="cn_ric", doc_number=PERSON_ID) == "C001"
    c.dispose()
    # 2. the command re-encrypts and re-digests
    monkeypatch.setenv("CANCELDESK_DATABASE_URL", f"sqlite:///{old_world}")
    monkeypatch.setenv("CANCELDESK_SECRET_KEY", NEW)
    monkeypatch.setenv("CANCELDESK_OLD_SECRET_KEYS", OLD)
    assert cli.main(["keys", "rotate"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["reencrypted"]["customers.name"] == 3 and report["reencrypted"]["customers.id_doc_number"] == 3
    assert report["reencrypted"]["enterprise_admins.name"] == 1 and report["digests_recomputed"] == 3
    for name, number, digest in raw(old_world, "SELECT name, id_doc_number, id_doc_digest FROM customers"):
        assert name.startswith(f"v1:{key_id_of(NEW)}:") and number.startswith(f"v1:{key_id_of(NEW)}:")
    assert cli.main(["keys", "rotate"]) == 0  # idempotent
    assert json.loads(capsys.readouterr().out)["reencrypted"]["customers.name"] == 0
    # 3. the old key can go: everything reads and is found with the new key alone
    c = container(old_world, NEW)
    with c.uow() as uow:
        assert uow.repo.customer("C001").id_doc_number == PERSON_ID
        assert [cu.id for cu in uow.repo.customers_by_digest(c.keyring.digest(PERSON_ID))] == ["C001"]
    assert "keys_rotated" in [r["event"] for r in _audit_rows(c)]
    c.dispose()


def _audit_rows(c):
    from sqlalchemy import select

    from canceldesk.adapters import orm
    with c.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(orm.audit_log)).mappings()]


def test_receipt_codes_and_audit_rows_signed_by_an_old_key_verify_while_it_is_listed(old_world):
    c = container(old_world, OLD)
    code = receipts.verification_code(c, "CD20261112AAAA0001")
    with c.uow() as uow:
        audit.record(uow, at=c.now(), actor="system:test", event="test")
        uow.commit()
    c.dispose()
    rotated = container(old_world, NEW, OLD)
    assert rotated.keyring.verify_signature("receipt:CD20261112AAAA0001", code.replace("-", ""))
    assert audit.verify_chain(rotated) == []
    rotated.dispose()
    dropped = container(old_world, NEW)
    assert not dropped.keyring.verify_signature("receipt:CD20261112AAAA0001", code.replace("-", ""))
    assert "not configured" in audit.verify_chain(dropped)[0]["problem"]
    dropped.dispose()


@pytest.mark.parametrize("secret", ["", DEFAULT_SECRET, "short-secret", "a" * 40, " " + "k" * 40])
def test_a_missing_default_short_or_weak_secret_is_refused_in_production(secret):
    with pytest.raises(ValidationError, match="CANCELDESK_SECRET_KEY"):
        Settings(env="prod", secret_key=secret)
    Settings(env="demo", secret_key=secret or DEFAULT_SECRET)  # demo and test may use the default


def test_a_strong_secret_starts_and_the_demo_secret_is_no_old_key_in_production():
    Settings(env="prod", secret_key=NEW)
    with pytest.raises(ValidationError):
        Settings(env="prod", secret_key=NEW, old_secret_keys=DEFAULT_SECRET)
    assert Settings(env="test", old_secret_keys=f"abcd1234:{OLD}, {NEW}x").old_secrets == [OLD, NEW + "x"]


def test_the_cli_refuses_to_start_with_the_default_secret_in_production(monkeypatch, capsys):
    monkeypatch.setenv("CANCELDESK_ENV", "prod")
    monkeypatch.delenv("CANCELDESK_SECRET_KEY", raising=False)
    with pytest.raises(SystemExit) as exc:
        cli.main(["audit", "verify"])
    assert exc.value.code == 2 and "CANCELDESK_SECRET_KEY" in capsys.readouterr().err
