"""The assistant over HTTP (CHANNELS.md): proposal first, nothing done until the caller confirms."""
from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from canceldesk.entrypoints.api.app import create_app
from support import Clock, make_container, noon, seed
from web_support import otp_from_outbox

TODAY = date(2026, 11, 12)


@pytest.fixture
def world(tmp_path):
    c = make_container(f"sqlite:///{tmp_path}/assistant.db", clock=Clock(noon(TODAY)))
    seed(c, TODAY)
    client = TestClient(create_app(c))
    yield c, client, login(client, "13800138000")
    c.dispose()


def login(client, msisdn: str) -> dict:
    assert client.post("/v1/auth/otp", json={"msisdn": msisdn}).status_code == 202
    r = client.post("/v1/auth/token", json={"msisdn": msisdn, "otp": otp_from_outbox(client, msisdn)})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def n_requests(c) -> int:
    with c.uow() as uow:
        return len(uow.repo.requests_of("C001"))


def say(client, h, text, cid=None, **kw):
    r = client.post("/v1/assistant/messages", json={"text": text, **({"conversation_id": cid} if cid else {}), **kw}, headers=h)
    assert r.status_code == 200, r.text
    return r.json()


def test_proposal_then_confirmation_through_the_same_request_handlers(world):
    c, client, h = world
    first = say(client, h, "帮我把视频会员的自动续费关了")
    assert first["intent"] == "cancel_renewal" and first["request"] is None
    assert {k: first["proposal"][k] for k in ("kind", "msisdn", "subscription_id")} == {
        "kind": "cancel_renewal", "msisdn": "13800138000", "subscription_id": "S-VIDEO"}
    assert first["proposal"]["impact"]["eligible"] is True
    assert first["reply"].startswith("将取消 视频会员 ¥15.00/月 的自动续费：不再扣费，权益可用到 2026-12-07。")
    assert n_requests(c) == 0, "nothing is created before the caller confirms"
    done = say(client, h, "确认", first["conversation_id"])
    assert done["request"]["status"] == "completed"
    got = client.get(f"/v1/requests/{done['request']['tracking_no']}", headers=h).json()
    assert (got["kind"], got["subscription_id"], got["channel"]) == ("cancel_renewal", "S-VIDEO", "assistant")
    assert [t["channel"] for t in got["timeline"] if t["to"] in ("submitted", "executing")] == ["assistant", "assistant"]
    again = say(client, h, "确认", first["conversation_id"])
    assert again["request"] is None and again["reply"] == "没有待确认的办理。请先说明要办理什么。"
    assert n_requests(c) == 1


def test_ambiguity_asks_which_and_a_serial_answers(world):
    c, client, h = world
    q = say(client, h, "取消自动续费")
    assert q["proposal"] is None
    assert [x["subscription_id"] for x in q["candidates"]] == ["S-CRBT", "S-VIDEO"]
    assert q["reply"] == "您是指哪一个？1. 彩铃 ¥5.00/月；2. 视频会员 ¥15.00/月（回复序号或名称）"
    pick = say(client, h, "2", q["conversation_id"])
    assert pick["proposal"]["subscription_id"] == "S-VIDEO" and pick["proposal"]["kind"] == "cancel_renewal"
    no = say(client, h, "算了", q["conversation_id"])
    assert no["reply"] == "好的，什么都没有办理。" and n_requests(c) == 0


def test_english_decline_complaint_human_and_someone_elses_number(world):
    c, client, h = world
    en = client.post("/v1/assistant/messages", json={"text": "unsubscibe my ringback tone"},
                     headers={**h, "Accept-Language": "en"}).json()
    assert en["proposal"]["subscription_id"] == "S-CRBT"
    assert en["reply"] == ("This unsubscribes Ringback tone ¥5.00/month: usable until 2026-12-01, refund ¥0.00. "
                           "Reply “confirm” to go ahead or “no” to leave it.")
    assert say(client, h, "我要投诉你们乱扣费")["route"] == "complaint"
    assert say(client, h, "转人工")["route"] == "agent"
    other = say(client, h, "帮我把13900139000的视频会员退了")
    assert (other["proposal"], other["refused"]) == (None, True)
    assert other["reply"].startswith("我只能办理您本人实名名下的号码和业务（139****9000 不在您名下）")
    assert n_requests(c) == 0


def test_close_line_needs_the_step_up_on_the_request_page(world):
    c, client, h = world
    p = say(client, h, "我不想用这个号了")
    assert p["proposal"]["kind"] == "close_line" and p["proposal"]["subscription_id"] is None
    done = say(client, h, "", p["conversation_id"], confirm=True)
    assert done["request"]["status"] == "awaiting_confirmation"
    assert done["next"] == f"/requests/{done['request']['tracking_no']}"


@pytest.mark.parametrize("body,field", [({"text": "x" * 501}, "text"), ({"text": ""}, "text"),
                                         ({"text": "hi", "extra": 1}, "extra")])
def test_bad_input_is_a_clear_422(world, body, field):
    _c, client, h = world
    r = client.post("/v1/assistant/messages", json=body, headers=h)
    assert r.status_code == 422 and field in r.json()["error"]["message"]
    assert client.post("/v1/assistant/messages", json={"text": "hi"}).status_code == 401


def test_the_portal_chat_box_proposes_then_confirms(tmp_path):
    import re as _re

    from web_support import csrf_of, demo_container, page_login
    c = demo_container(tmp_path / "chat.db")
    client = TestClient(create_app(c))
    page_login(client, "13800138000")
    home = client.get("/")
    assert "问问智能助手" in home.text
    r = client.post("/assistant", data={"csrf": csrf_of(home.text), "text": "把那个每月扣我15块的音乐的关了"})
    assert r.status_code == 200
    reply = _re.search(r'id="assistant-reply">([^<]+)<', r.text).group(1)
    assert reply.startswith("将退订 咪咕音乐会员 ¥15.00/月：可用到 ")
    cid = _re.search(r'name="conversation_id" value="([^"]+)"', r.text).group(1)
    with c.uow() as uow:
        assert uow.repo.requests_of("C001") == []
    r = client.post("/assistant", data={"csrf": csrf_of(r.text), "text": "确认", "conversation_id": cid})
    reply = _re.search(r'id="assistant-reply">([^<]+)<', r.text).group(1)
    assert reply.startswith("已办理，申请编号 CD")
    with c.uow() as uow:
        [req] = uow.repo.requests_of("C001")
    assert (req.kind, req.subscription_id, req.channel) == ("unsubscribe", "S-13800138000-MEM-MUSIC", "assistant")
    c.dispose()


def test_the_same_assistant_serves_other_channels_and_records_theirs(world):
    from canceldesk.service_layer import assistant
    from canceldesk.service_layer.principal import Principal
    c, _client, _h = world
    me = Principal(kind="subscriber", id="C001", login_msisdn="13800138000")
    first = assistant.handle(c, me, "退订彩铃", channel="sms")
    assert first["proposal"]["subscription_id"] == "S-CRBT" and n_requests(c) == 0
    done = assistant.handle(c, me, "Y", first["conversation_id"], channel="sms")
    with c.uow() as uow:
        req = uow.repo.request(done["request"]["tracking_no"])
    assert (req.kind, req.channel) == ("unsubscribe", "sms")
    assert {t.channel for t in req.timeline if t.actor.startswith("subscriber")} == {"sms"}  # create and confirm
