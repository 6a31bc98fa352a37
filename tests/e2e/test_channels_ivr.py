"""The phone menus over the TwiML webhook, signed with the `twilio` package exactly as the platform signs."""
from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from datetime import date

import pytest
from fastapi.testclient import TestClient
from twilio.request_validator import RequestValidator

from canceldesk.config import DEMO_IVR_AGENT_NUMBER, DEMO_IVR_AUTH_TOKEN
from canceldesk.entrypoints.api.app import create_app
from support import PG_URL, Clock, make_container, noon, seed

TODAY = date(2026, 11, 12)
URL = "http://testserver/channels/ivr/voice"
SENIOR = "+8613800138000"    # C001, born 1949-12-31: 76 years old
YOUNGER = "+8613900139000"   # C002, born 1993


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request, tmp_path):
    clock = Clock(noon(TODAY))
    url = f"sqlite:///{tmp_path}/ivr.db" if request.param == "sqlite" else PG_URL
    c = make_container(url, clock=clock)
    seed(c, TODAY)
    yield c, TestClient(create_app(c))
    c.dispose()


@pytest.fixture
def lite(tmp_path):
    c = make_container(f"sqlite:///{tmp_path}/ivr1.db", clock=Clock(noon(TODAY)))
    seed(c, TODAY)
    yield c, TestClient(create_app(c))
    c.dispose()


class Call:
    def __init__(self, client, caller: str, token: str = DEMO_IVR_AUTH_TOKEN):
        self.client, self.caller, self.token = client, caller, token
        self.sid = "CA" + uuid.uuid4().hex

    def post(self, digits: str | None = None, speech: str | None = None, signature: str | None = None):
        params = {"CallSid": self.sid, "From": self.caller, "To": "+8610086", "AccountSid": "AC" + "0" * 32}
        if digits is not None:
            params["Digits"] = digits
        if speech is not None:
            params["SpeechResult"] = speech
        sig = signature if signature is not None else RequestValidator(self.token).compute_signature(URL, params)
        return self.client.post("/channels/ivr/voice", data=params, headers={"X-Twilio-Signature": sig})

    def press(self, digits: str | None = None, **kw) -> ET.Element:
        r = self.post(digits, **kw)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/xml")
        return ET.fromstring(r.text)


def says(twiml: ET.Element) -> list[str]:
    return [s.text for s in twiml.iter("Say")]


def test_bad_signature_is_refused_with_403_and_nothing_happens(lite):
    c, client = lite
    call = Call(client, SENIOR, token="not-the-token")
    r = call.post()
    assert r.status_code == 403 and r.json()["error"]["code"] == "BAD_SIGNATURE"
    assert Call(client, SENIOR).post(signature="").status_code == 403
    with c.uow() as uow:
        assert uow.repo.channels.conversation(f"ivr:{call.sid}") is None


def test_first_answer_is_a_gather_in_zh_cn_pointing_back_at_the_webhook(lite):
    _, client = lite
    twiml = Call(client, YOUNGER).press()
    gather = twiml.find("Gather")
    assert gather.get("input") == "dtmf speech" and gather.get("action") == URL and gather.get("numDigits") == "1"
    assert [s.get("language") for s in gather.iter("Say")] == ["zh-CN", "zh-CN"]
    assert says(twiml) == ["您好，欢迎致电 canceldesk 自助服务。",
                           "查询和退订付费业务请按1，取消自动续费请按2，办理销户请按3，For English press 9，人工服务请按0。"]
    assert twiml.find("Redirect").text == URL


def test_a_caller_aged_65_or_over_hears_the_agent_first(lite):
    _, client = lite
    assert says(Call(client, SENIOR).press())[1].startswith("人工服务请按0。查询和退订付费业务请按1")


def test_0_dials_the_agent_from_any_menu(lite):
    _, client = lite
    for path in ([], ["1"], ["1", "1"], ["3"]):
        call = Call(client, YOUNGER)
        call.press()
        for key in path:
            call.press(key)
        twiml = call.press("0")
        assert twiml.find("Dial").text == DEMO_IVR_AGENT_NUMBER
        assert says(twiml) == ["正在为您转接人工服务，请稍候。"]


def test_silence_and_wrong_keys_repeat_twice_then_the_agent(lite):
    _, client = lite
    call = Call(client, YOUNGER)
    call.press()
    first = call.press()  # silence: the Redirect comes back without Digits
    assert says(first)[0] == "没有收到您的按键。" and says(first)[1].startswith("查询和退订付费业务请按1")
    second = call.press("7")
    assert says(second)[0] == "输入有误。"
    third = call.press(speech="我要退订彩铃")  # speech is not understood yet: no input
    assert says(third) == ["多次未能识别您的按键，正在为您转接人工服务。"]
    assert third.find("Dial").text == DEMO_IVR_AGENT_NUMBER


def test_9_switches_to_english(lite):
    _, client = lite
    call = Call(client, YOUNGER)
    call.press()
    twiml = call.press("9")
    assert [s.get("language") for s in twiml.iter("Say")] == ["en-US"]
    assert says(twiml)[0].startswith("For your paid services press 1")
    assert twiml.find("Gather").get("language") == "en-US"


def test_an_unknown_caller_hears_a_polite_message_and_the_agent_option(lite):
    _, client = lite
    call = Call(client, "+8613700137000")
    assert says(call.press()) == ["您好，您的号码不是本系统服务的号码，无法自助办理。人工服务请按0。"]
    assert says(call.press("1"))[0] == "输入有误。"
    assert call.press("0").find("Dial").text == DEMO_IVR_AGENT_NUMBER


def test_unsubscribe_by_keys_with_the_ivr_channel_recorded(world):
    c, client = world
    call = Call(client, YOUNGER)
    call.press()
    listing = says(call.press("1"))
    assert listing == ["视频会员，每月15.00元，请按1。", "返回上级请按星号键，人工服务请按0。"]
    impact = says(call.press("1"))
    assert impact == ["退订视频会员后，权益保留至2026-12-06，不退费。", "确认请按1，返回请按2。"]
    done = says(call.press("1"))
    assert done[0].startswith("已受理，单号 C D 2 0 2 6 1 1 1 2")
    with c.uow() as uow:
        req = uow.repo.requests_of("C002")[0]
    assert req.kind == "unsubscribe" and req.subscription_id == "S-OTHER" and req.channel == "ivr"
    assert [t.channel for t in req.timeline][:4] == ["ivr", "ivr", "ivr", "ivr"]


def test_stop_a_renewal_by_keys_and_go_back_with_2(lite):
    c, client = lite
    call = Call(client, SENIOR)
    call.press()
    renewals = says(call.press("2"))
    assert renewals == ["彩铃，每月5.00元，请按1。", "视频会员，每月15.00元，请按2。", "返回上级请按星号键，人工服务请按0。"]
    assert says(call.press("2"))[0] == "取消自动续费视频会员后，权益保留至2026-12-06，不退费。"
    assert says(call.press("2")) == renewals  # 2: back to the list
    call.press("2")
    call.press("1")
    with c.uow() as uow:
        assert uow.repo.subscription("S-VIDEO").auto_renew is False
        assert uow.repo.requests_of("C001")[0].channel == "ivr"


def test_close_the_number_with_the_service_password_by_keypad(world):
    c, client = world
    call = Call(client, YOUNGER)
    call.press()
    impact = says(call.press("3"))
    assert impact[0] == "销户后，本号码及其全部业务将停止，号码冻结90天，期内可找回；退款1.00元。"
    assert impact[-1] == "确认请按1，返回请按2。"
    ask = call.press("1")
    assert says(ask) == ["请输入您的服务密码，以井号键结束。"]
    assert ask.find("Gather").get("finishOnKey") == "#"
    wrong = call.press("111111")
    assert says(wrong)[0] == "服务密码不正确，请重新输入，以井号键结束。"
    with c.uow() as uow:
        pending = uow.repo.requests_of("C002")[0]
    assert pending.status == "awaiting_confirmation"
    ok = call.press("246802")
    assert says(ok)[0].startswith("销户申请已受理，单号 ")
    assert ok.find("Hangup") is not None
    with c.uow() as uow:
        req = uow.repo.request(pending.tracking_no)
    assert req.kind == "close_line" and req.channel == "ivr" and req.status == "completed"
    assert [t.channel for t in req.timeline if t.to_status in ("submitted", "executing")] == ["ivr", "ivr"]


def test_close_with_a_blocker_reads_it_and_goes_back(lite):
    c, client = lite
    with c.uow() as uow:
        uow.repo.line("13900139000").arrears = 1200
        uow.commit()
    call = Call(client, YOUNGER)
    call.press()
    heard = says(call.press("3"))
    assert heard[0] == ("暂不能办理：账户欠费 ¥12.00，需先结清全部费用。"
                        "请先缴清欠费 ¥12.00（营业厅、App 或银行代缴均可），到账后即可继续办理。")
    assert heard[1].startswith("查询和退订付费业务请按1")


def test_state_survives_a_restart(lite, tmp_path):
    c, client = lite
    call = Call(client, YOUNGER)
    call.press()
    call.press("1")
    call.client = TestClient(create_app(c))  # a new app (another worker) answers the next key
    assert says(call.press("1"))[0] == "退订视频会员后，权益保留至2026-12-06，不退费。"


def test_a_request_left_by_the_phone_is_confirmed_in_the_api_with_each_channel_recorded(lite):
    """The caller hangs up after a wrong password; the request waits; they confirm it in the app."""
    import re
    c, client = lite
    call = Call(client, YOUNGER)
    call.press()
    call.press("3")
    call.press("1")
    call.press("000000")
    with c.uow() as uow:
        tracking = uow.repo.requests_of("C002")[0].tracking_no
    assert client.post("/v1/auth/otp", json={"msisdn": "13900139000"}).status_code == 202
    msgs = client.get("/dev/outbox", params={"to": "13900139000"}).json()["messages"]
    code = re.search(r"\b(\d{6})\b", [m for m in msgs if m["event"] == "otp"][-1]["text"]).group(1)
    token = client.post("/v1/auth/token", json={"msisdn": "13900139000", "otp": code}).json()["token"]
    h = {"Authorization": f"Bearer {token}"}
    r = client.post(f"/v1/requests/{tracking}/confirm", json={"verification": {"service_password": "246802"}}, headers=h)
    assert r.status_code == 200, r.text
    seen = client.get(f"/v1/requests/{tracking}", headers=h).json()
    assert seen["channel"] == "ivr"
    assert [(t["to"], t["channel"]) for t in seen["timeline"]][:4] == [
        ("submitted", "ivr"), ("checked", "ivr"), ("awaiting_confirmation", "ivr"), ("executing", "app")]
