"""Partner API keys: created by an enterprise admin, shown once, stored hashed, scoped to one
enterprise, revocable — and refused everywhere they do not belong."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from canceldesk import cli
from canceldesk.adapters import orm
from canceldesk.service_layer import partner_keys
from secworld import bearer, build_world

TMF = "/tmf-api/productOrderingManagement/v4"


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    world = build_world(f"sqlite:///{tmp_path_factory.mktemp('pk')}/pk.db")
    yield world
    world.c.dispose()


def _create(w, actor: str = "ea1", name: str = "CRM") -> dict:
    r = w.client.post("/v1/enterprise/partner-keys", json={"name": name}, headers=w.h(actor))
    assert r.status_code == 201, r.text
    return r.json()


def test_a_key_is_shown_once_and_stored_only_as_a_keyed_hash(w):
    made = _create(w)
    assert made["key"].startswith(f"cdpk_{made['id']}_") and len(made["key"]) == 5 + 12 + 1 + 43
    assert made["name"] == "CRM" and made["active"] is True and made["created_by"].startswith("enterprise_admin:")
    listed = w.client.get("/v1/enterprise/partner-keys", headers=w.h("ea1")).json()
    mine = [k for k in listed if k["id"] == made["id"]][0]
    assert "key" not in mine and mine["prefix"] == f"cdpk_{made['id']}_…"
    with w.c.engine.connect() as conn:
        row = conn.execute(select(orm.partner_keys).where(orm.partner_keys.c.id == made["id"])).mappings().one()
    assert made["key"] not in json.dumps({k: str(v) for k, v in row.items()})
    assert row["secret_hash"] == w.c.keyring.digest(made["key"]) and row["enterprise_id"] == "E001"


def test_the_key_is_the_enterprise_admin_of_its_own_enterprise_on_the_partner_channel(w):
    made = _create(w)
    p = partner_keys.authenticate(w.c, made["key"])
    assert (p.role, p.enterprise_id, p.channel, p.actor) == ("enterprise_admin", "E001", "partner",
                                                             f"enterprise_admin:pk:{made['id']}")


def test_another_enterprise_cannot_see_or_revoke_the_key(w):
    made = _create(w)
    assert made["id"] not in [k["id"] for k in w.client.get("/v1/enterprise/partner-keys", headers=w.h("ea2")).json()]
    theirs = w.client.delete(f"/v1/enterprise/partner-keys/{made['id']}", headers=w.h("ea2"))
    missing = w.client.delete("/v1/enterprise/partner-keys/000000000000", headers=w.h("ea2"))
    assert theirs.status_code == 404 and theirs.json() == missing.json() == {
        "error": {"code": "NOT_FOUND", "message": "no such partner key", "details": None}}
    assert partner_keys.authenticate(w.c, made["key"]).enterprise_id == "E001"


def test_a_revoked_key_is_refused_at_once(w):
    made = _create(w)
    r = w.client.get(f"{TMF}/productOrder", headers=bearer(made["key"]))
    assert r.status_code == 200, r.text
    r = w.client.delete(f"/v1/enterprise/partner-keys/{made['id']}", headers=w.h("ea1"))
    assert r.status_code == 200 and r.json()["active"] is False
    r = w.client.get(f"{TMF}/productOrder", headers=bearer(made["key"]))
    assert r.status_code == 401
    assert r.json() == {"code": "SESSION_INVALID", "reason": "the partner key is unknown or revoked",
                        "message": "the partner key is unknown or revoked", "status": "401"}


def test_a_wrong_secret_with_a_real_key_id_is_refused(w):
    made = _create(w)
    forged = made["key"][:-4] + ("AAAA" if not made["key"].endswith("AAAA") else "BBBB")
    assert w.client.get(f"{TMF}/productOrder", headers=bearer(forged)).status_code == 401


def test_a_key_opens_nothing_outside_the_partner_api_and_cannot_mint_keys(w):
    made = _create(w)
    assert w.client.get("/v1/enterprise/lines", headers=bearer(made["key"])).status_code == 401
    r = w.client.post("/v1/enterprise/partner-keys", json={"name": "x"}, headers=bearer(made["key"]))
    assert r.status_code == 401


def test_other_roles_cannot_create_keys(w):
    for actor in ("sub1", "agent1", "admin"):
        r = w.client.post("/v1/enterprise/partner-keys", json={"name": "x"}, headers=w.h(actor))
        assert r.status_code == 403, actor


def test_a_name_is_required(w):
    r = w.client.post("/v1/enterprise/partner-keys", json={"name": ""}, headers=w.h("ea1"))
    assert r.status_code == 422 and r.json()["error"]["code"] == "VALIDATION_FAILED"


def test_the_cli_creates_lists_and_revokes(w, monkeypatch, capsys):
    url = str(w.c.engine.url)
    monkeypatch.setenv("CANCELDESK_DATABASE_URL", url)
    monkeypatch.setenv("CANCELDESK_SECRET_KEY", w.c.settings.secret_key)
    assert cli.main(["partner-key", "create", "--enterprise", "E002", "--name", "billing"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["key"].startswith("cdpk_") and made["created_by"] == "cli"
    assert partner_keys.authenticate(w.c, made["key"]).enterprise_id == "E002"
    assert cli.main(["partner-key", "list", "--enterprise", "E002"]) == 0
    assert made["id"] in [k["id"] for k in json.loads(capsys.readouterr().out)]
    assert cli.main(["partner-key", "revoke", made["id"], "--enterprise", "E001"]) == 2
    assert "no such partner key" in capsys.readouterr().err
    assert cli.main(["partner-key", "revoke", made["id"], "--enterprise", "E002"]) == 0
    capsys.readouterr()
    with pytest.raises(Exception) as exc:
        partner_keys.authenticate(w.c, made["key"])
    assert getattr(exc.value, "status", None) == 401
    assert cli.main(["partner-key", "create", "--enterprise", "NOPE", "--name", "x"]) == 2
