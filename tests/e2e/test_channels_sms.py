"""SMS commands over the signed webhook (CHANNELS.md): what the subscriber sends, what comes back."""
from __future__ import annotations

import json
import uuid
from datetime import date

import pytest
from fastapi.testclient import TestClient

from canceldesk.config import DEMO_SMS_WEBHOOK_SECRET
from canceldesk.entrypoints.api.app import create_app
from canceldesk.entrypoints.sms.router import signature_of
from support import PG_URL, Clock, make_container, noon, seed

TODAY = date(2026, 11, 12)
ME, OTHER = "13800138000", "13900139000"


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request, tmp_path):
    clock = Clock(noon(TODAY))
    url = f"sqlite:///{tmp_path}/sms.db" if request.param == "sqlite" else PG_URL
    c = make_container(url, clock=clock)
    seed(c, TODAY)
    yield c, TestClient(create_app(c)), clock
    c.dispose()


@pytest.fixture
def sqlite_world(tmp_path):
    clock = Clock(noon(TODAY))
    c = make_container(f"sqlite:///{tmp_path}/sms1.db", clock=clock)
    seed(c, TODAY)
    yield c, TestClient(create_app(c)), clock
    c.dispose()


def send(client, text: str, frm: str = ME, mid: str | None = None, secret: str = DEMO_SMS_WEBHOOK_SECRET,
         signature: str | None = None):
    body = json.dumps({"from": frm, "to": "10086", "text": text, "message_id": mid or uuid.uuid4().hex},
                      ensure_ascii=False).encode()
    sig = signature if signature is not None else signature_of(secret, body)
    return client.post("/channels/sms/inbound", content=body,
                       headers={"Content-Type": "application/json", "X-Canceldesk-Signature": sig})


def api_login(client, msisdn: str) -> dict:
    import re
    assert client.post("/v1/auth/otp", json={"msisdn": msisdn}).status_code == 202
    code = re.search(r"\b(\d{6})\b", [m for m in outbox(client, msisdn) if m["event"] == "otp"][-1]["text"]).group(1)
    return {"Authorization": f"Bearer {client.post('/v1/auth/token', json={'msisdn': msisdn, 'otp': code}).json()['token']}"}


def outbox(client, to: str = ME) -> list[dict]:
    return client.get("/dev/outbox", params={"to": to}).json()["messages"]


def last_reply(client, to: str = ME) -> str:
    replies = [m for m in outbox(client, to) if m["event"] == "sms_reply"]
    assert replies, "no SMS reply"
    assert replies[-1]["channel"] == "sms" and replies[-1]["to"] == to
    return replies[-1]["text"]


def test_0000_1_y_unsubscribes_with_the_sms_channel_on_every_transition(world):
    c, client, _ = world
    r = send(client, "0000")
    assert r.status_code == 202 and r.json() == {"accepted": True}
    listing = last_reply(client)
    assert listing.splitlines()[0] == "【canceldesk】您的付费业务："
    assert listing.splitlines()[1] == "1.彩铃 ¥5.00/月，退订后用到2026-11-30，不退费；自动续费中，回复“取消1”可停止续费"
    assert listing.splitlines()[2] == "2.流量加油包 ¥10.00/月，退订立即生效，按未使用天数退费"
    assert listing.splitlines()[3].startswith("3.视频会员 ¥15.00/月")
    assert len(listing.splitlines()) == 5  # the plan is not a paid service of the 0000 list

    send(client, "1")
    preview = last_reply(client)
    assert preview == ("【canceldesk】您将办理：\n退订彩铃：权益保留至2026-11-30，不退费\n"
                       "回复Y确认，10分钟内有效；回复N放弃。")
    send(client, "Y")
    done = last_reply(client)
    assert done.startswith("【canceldesk】已受理：\n退订彩铃，单号CD20261112")
    assert done.endswith("（办理中）\n回复单号可查询进度。")
    tracking = done.split("单号")[1][:18]

    # One request, seen with channel "sms" on every transition, through the API as the owner.
    with c.uow() as uow:
        req = uow.repo.request(tracking)
        assert req.channel == "sms" and req.status == "completed"
        by_channel = [(t.to_status, t.channel) for t in req.timeline]
    assert by_channel[:4] == [("submitted", "sms"), ("checked", "sms"), ("awaiting_confirmation", "sms"),
                              ("executing", "sms")]
    assert by_channel[-1] == ("completed", "worker")

    # Exactly: the list, the preview, the answer to Y, accepted, completed — nothing else.
    events = [m["event"] for m in outbox(client) if m["event"] != "otp"]
    assert events == ["sms_reply", "sms_reply", "accepted", "completed", "sms_reply"]
    accepted = [m for m in outbox(client) if m["event"] == "accepted"][0]["text"]
    assert accepted.endswith(f"回复“{tracking}”可查询进度。")

    send(client, tracking.lower())
    assert last_reply(client) == f"【canceldesk】单号{tracking}：退订，已办结。"

    # The same request through the API and the portal, with its channel.
    h = api_login(client, ME)
    seen = client.get(f"/v1/requests/{tracking}", headers=h).json()
    assert seen["channel"] == "sms" and [t["channel"] for t in seen["timeline"]][:4] == ["sms"] * 4
    client.cookies.set("cd_session", h["Authorization"][7:])
    page = client.get(f"/requests/{tracking}")
    assert page.status_code == 200 and "短信" in page.text
    client.cookies.clear()


def test_bad_signature_is_refused_and_nothing_happens(sqlite_world):
    c, client, _ = sqlite_world
    assert send(client, "0000", secret="wrong-secret").status_code == 401
    assert send(client, "0000", signature="").status_code == 401
    r = send(client, "0000", signature="sha256=" + "0" * 64)
    assert r.status_code == 401 and r.json()["error"]["code"] == "BAD_SIGNATURE"
    assert outbox(client) == []
    with c.uow() as uow:
        assert uow.repo.channels.inbound_count("sms", ME, noon(TODAY).replace(year=2000)) == 0


def test_a_replayed_message_id_is_processed_once(sqlite_world):
    _, client, _ = sqlite_world
    send(client, "0000", mid="m-1")
    send(client, "1", mid="m-2")
    assert send(client, "Y", mid="m-3").status_code == 202
    assert send(client, "Y", mid="m-3").status_code == 202
    assert send(client, "0000", mid="m-1").status_code == 202
    assert [m["event"] for m in outbox(client)] == ["sms_reply", "sms_reply", "accepted", "completed", "sms_reply"]


@pytest.mark.parametrize("reply", ["1,3", "1，3", "1、3", "１ ３", "１，３", " 1 , 3 "])
def test_serials_in_every_width_and_separator(sqlite_world, reply):
    _, client, _ = sqlite_world
    send(client, "0000")
    send(client, reply)
    preview = last_reply(client)
    assert preview.splitlines()[1] == "退订彩铃：权益保留至2026-11-30，不退费"
    assert preview.splitlines()[2] == "退订视频会员：权益保留至2026-12-06，不退费"


def test_serials_not_on_the_list_get_a_clear_error(sqlite_world):
    _, client, _ = sqlite_world
    send(client, "0000")
    send(client, "2,7")
    assert last_reply(client) == "【canceldesk】序号7不在列表中，有效序号为1-3。请重新回复。"


def test_a_reply_after_the_two_hour_window_asks_for_0000_again(sqlite_world):
    _, client, clock = sqlite_world
    send(client, "0000")
    clock.advance(hours=2, minutes=1)
    send(client, "1")
    assert last_reply(client) == "【canceldesk】请先发送0000查询业务列表（列表2小时内有效），再回复序号。"


def test_y_after_ten_minutes_confirms_nothing(sqlite_world):
    c, client, clock = sqlite_world
    send(client, "0000")
    send(client, "1")
    clock.advance(minutes=11)
    send(client, "Y")
    assert last_reply(client) == "【canceldesk】没有待确认的操作，或确认已超过10分钟。发送0000重新开始。"
    with c.uow() as uow:
        assert uow.repo.requests_of("C001") == []


def test_cancel_plus_serial_stops_the_renewal_after_y(sqlite_world):
    c, client, _ = sqlite_world
    send(client, "0000")
    send(client, "取消3")
    assert last_reply(client) == ("【canceldesk】您将办理：\n取消自动续费视频会员：权益保留至2026-12-06，不退费\n"
                                  "回复Y确认，10分钟内有效；回复N放弃。")
    send(client, "是")
    assert "取消自动续费视频会员，单号CD" in last_reply(client)
    with c.uow() as uow:
        sub = uow.repo.subscription("S-VIDEO")
        assert sub.auto_renew is False
        assert uow.repo.requests_of("C001")[0].kind == "cancel_renewal"


def test_cancel_by_product_code_as_the_renewal_reminder_says(sqlite_world):
    _, client, _ = sqlite_world
    send(client, "取消MEM-VIDEO")
    assert last_reply(client).splitlines()[1] == "取消自动续费视频会员：权益保留至2026-12-06，不退费"


def test_n_declines_and_nothing_changes(sqlite_world):
    c, client, _ = sqlite_world
    send(client, "0000")
    send(client, "1")
    send(client, "n")
    assert last_reply(client) == "【canceldesk】已放弃，未做任何变更。"
    send(client, "Y")
    assert last_reply(client).startswith("【canceldesk】没有待确认的操作")


def test_another_numbers_subscriptions_are_unreachable(sqlite_world):
    c, client, _ = sqlite_world
    send(client, "取消MEM-VIDEO", frm=OTHER)  # OTHER's own membership: fine
    assert last_reply(client, OTHER).splitlines()[1] == "取消自动续费视频会员：权益保留至2026-12-06，不退费"
    send(client, "取消VAS-CRBT", frm=OTHER)  # only 13800138000 has the ringback tone
    assert last_reply(client, OTHER) == "【canceldesk】未找到“VAS-CRBT”对应的业务。发送0000查看您的付费业务。"
    send(client, "0000")
    send(client, "1", frm=OTHER)  # my list is not OTHER's list
    assert last_reply(client, OTHER) == "【canceldesk】请先发送0000查询业务列表（列表2小时内有效），再回复序号。"
    send(client, "0000")
    send(client, "1")
    send(client, "Y")
    tracking = last_reply(client).split("单号")[1][:18]
    send(client, tracking, frm=OTHER)
    assert last_reply(client, OTHER) == f"【canceldesk】未找到单号{tracking}的申请。"


def test_closure_eligibility_without_an_oracle(sqlite_world):
    c, client, _ = sqlite_world
    send(client, "CXXZ#张三#11010519491231002X")
    assert last_reply(client) == ("【canceldesk】本号码目前可以办理销户。销户请拨打客服电话按3（需服务密码）、"
                                  "在App中办理，或本人携带身份证件到营业厅办理。")
    with c.uow() as uow:
        uow.repo.line(ME).arrears = 1200
        uow.commit()
    send(client, "cxxz＃张 三＃11010519491231002x")
    assert last_reply(client) == ("【canceldesk】本号码暂不能销户：\n1.账户欠费 ¥12.00，需先结清全部费用。解决办法："
                                  "请先缴清欠费 ¥12.00（营业厅、App 或银行代缴均可），到账后即可继续办理。\n"
                                  "销户请拨打客服电话按3（需服务密码）、在App中办理，或本人携带身份证件到营业厅办理。")
    wrong_name = send(client, "CXXZ#李四#11010519491231002X")
    assert wrong_name.status_code == 202
    neutral = last_reply(client)
    send(client, "ＣＸＸＺ＃张三＃310115199303071234")  # someone else's real ID
    assert last_reply(client) == neutral
    send(client, "cxxz#张三#123")  # malformed
    assert last_reply(client) == neutral
    assert neutral.startswith("【canceldesk】无法核验：")


def test_anything_else_gets_the_help_text_in_the_senders_language(sqlite_world):
    _, client, _ = sqlite_world
    send(client, "你好")
    assert last_reply(client).startswith("【canceldesk】未能识别您的指令。短信指令：发送0000查询付费业务")
    send(client, "hello there")
    en = last_reply(client)
    assert en.startswith("[canceldesk] We did not understand that message. SMS commands: 0000 lists your paid services")
    send(client, "0000")  # the conversation stays in English until the sender writes Chinese
    assert last_reply(client).splitlines()[0] == "[canceldesk] Your paid services:"
    assert last_reply(client).splitlines()[1] == ("1. Ringback tone ¥5.00/month, if ended, use it until 2026-11-30, "
                                                  "no refund; auto-renews, reply '取消1' to stop it")


def test_an_unknown_sender_hears_it_is_not_served(sqlite_world):
    _, client, _ = sqlite_world
    send(client, "0000", frm="13700137000")
    assert last_reply(client, "13700137000") == "【canceldesk】您的号码不在本系统服务范围内，无法通过短信办理。如需帮助请联系人工客服。"


def test_per_number_command_limit(sqlite_world):
    c, client, _ = sqlite_world
    limit = c.pack.channel("sms").max_commands_per_hour
    for _ in range(limit + 3):
        assert send(client, "帮助").status_code == 202
    replies = [m["text"] for m in outbox(client) if m["event"] == "sms_reply"]
    assert len(replies) == limit + 1
    assert replies[-1] == "【canceldesk】指令发送过于频繁，请1小时后再试。"
    send(client, "0000", frm=OTHER)  # another number is not affected
    assert last_reply(client, OTHER).startswith("【canceldesk】您的付费业务：")


@pytest.mark.parametrize("body,field", [
    (b"not json", None), (b"[]", None),
    (json.dumps({"from": ME, "to": "10086", "text": "0000"}).encode(), "message_id"),
    (json.dumps({"from": "12345", "to": "10086", "text": "0000", "message_id": "x"}).encode(), "from"),
    (json.dumps({"from": ME, "to": "10086", "text": "0000", "message_id": "x", "extra": 1}).encode(), None),
])
def test_malformed_webhook_bodies_are_422_not_500(sqlite_world, body, field):
    _, client, _ = sqlite_world
    r = client.post("/channels/sms/inbound", content=body,
                    headers={"X-Canceldesk-Signature": signature_of(DEMO_SMS_WEBHOOK_SECRET, body)})
    assert r.status_code == 422
    if field:
        assert r.json()["error"]["details"]["field"] == field


def test_sms_webhook_is_off_in_prod_without_a_secret(tmp_path):
    from canceldesk.config import Settings
    s = Settings(env="prod", secret_key="x" * 8 + "abcdefghijklmnopqrstuvwxyz012345", database_url=f"sqlite:///{tmp_path}/p.db")
    assert s.sms_secret is None and s.ivr_token is None
    s2 = Settings(env="prod", secret_key="x" * 8 + "abcdefghijklmnopqrstuvwxyz012345", sms_webhook_secret="k" * 40,
                  database_url=f"sqlite:///{tmp_path}/p.db")
    assert s2.sms_secret == "k" * 40


def test_a_kind_the_pack_does_not_allow_sms_to_start_is_refused(sqlite_world):
    from canceldesk.service_layer import channels
    from canceldesk.service_layer.errors import Forbidden
    c, _, _ = sqlite_world
    p = channels.principal_for_number(c, ME, via="sms")
    with pytest.raises(Forbidden) as refused:
        channels.end(c, p, "close_line", ME, idempotency_key="k-close")
    assert refused.value.code == "CHANNEL_NOT_ALLOWED"
    assert refused.value.details == {"channel": "sms", "kind": "close_line", "allowed": ["unsubscribe", "cancel_renewal"]}
    with c.uow() as uow:
        assert uow.repo.requests_of("C001") == []
    ivr = channels.principal_for_number(c, ME, via="ivr")
    with pytest.raises(Forbidden) as needs:
        channels.end(c, ivr, "close_line", ME, idempotency_key="k-close2")
    assert needs.value.code == "STEP_UP_REQUIRED"


def test_principal_for_number_serves_only_active_person_lines(sqlite_world):
    from canceldesk.service_layer import channels
    c, _, _ = sqlite_world
    assert channels.principal_for_number(c, "+86 138 0013 8000", via="sms").id == "C001"
    assert channels.principal_for_number(c, "18659101000", via="sms") is None  # an enterprise card
    assert channels.principal_for_number(c, "13700137000", via="sms") is None  # not a line here
    assert channels.principal_for_number(c, "not a number", via="sms") is None


def test_conversation_state_is_purged_after_a_day_idle(sqlite_world):
    from canceldesk.service_layer import channels
    c, client, clock = sqlite_world
    send(client, "0000")
    assert channels.load_conversation(c, f"sms:{ME}")["state"]["list"] == ["S-CRBT", "S-DATA", "S-VIDEO"]
    assert channels.purge_state(c, clock.now) == {"conversations": 0}
    clock.advance(days=1, minutes=1)
    assert channels.purge_state(c, clock.now) == {"conversations": 1}
    assert channels.load_conversation(c, f"sms:{ME}") is None
