"""`canceldesk sms` / `canceldesk call` against a real server: a newcomer's demo journey, signed like the platforms."""
from __future__ import annotations

import pytest

from canceldesk.channel_sim import run_call, run_sms
from canceldesk.cli import build_parser
from canceldesk.config import DEMO_IVR_AUTH_TOKEN, DEMO_SMS_WEBHOOK_SECRET
from live_support import demo_server

ZHANG = "13800138000"  # demo: 张伟, service password 135790


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with demo_server(tmp_path_factory.mktemp("cli") / "cli.db") as live:
        yield live


def test_the_commands_exist_with_their_options():
    args = build_parser().parse_args(["sms", "--from", ZHANG, "0000"])
    assert args.text == ["0000"] and args.sender == ZHANG
    args = build_parser().parse_args(["call", "--keys", "2,1,1"])
    assert args.keys == "2,1,1" and args.sender == ZHANG


def test_sms_0000_1_y_from_the_simulator_ends_a_service(live, capsys):
    base, c = live
    assert run_sms(base, DEMO_SMS_WEBHOOK_SECRET, ZHANG, ["0000", "1", "Y"]) == 0
    printed = capsys.readouterr().out
    assert ">> 0000\n<< 【canceldesk】您的付费业务：\n1." in printed
    assert "回复Y确认，10分钟内有效；回复N放弃。" in printed
    assert "<< 【canceldesk】已受理：" in printed
    with c.uow() as uow:
        req = uow.repo.requests_of("C001")[0]
    assert req.channel == "sms" and req.kind == "unsubscribe"


def test_a_wrong_secret_is_refused_by_the_server(live, capsys):
    base, _ = live
    run_sms(base, "not-the-secret", ZHANG, ["0000"])
    assert "!! the server answered 401" in capsys.readouterr().out


def test_call_stops_a_renewal_then_closes_the_number_with_the_password(live, capsys):
    base, c = live
    assert run_call(base, DEMO_IVR_AUTH_TOKEN, ZHANG, ["2", "1", "1"]) == 0
    printed = capsys.readouterr().out
    assert "🔊 您好，欢迎致电 canceldesk 自助服务。" in printed and "🔊 已受理，单号 C D" in printed
    with c.uow() as uow:
        assert uow.repo.requests_of("C001")[0].kind == "cancel_renewal"
        assert uow.repo.requests_of("C001")[0].channel == "ivr"
    assert run_call(base, DEMO_IVR_AUTH_TOKEN, ZHANG, ["0"]) == 0
    assert "☎  transferred to the agent line" in capsys.readouterr().out


def test_call_closes_the_number_with_the_service_password_and_the_portal_shows_the_channel(live, capsys):
    base, c = live
    assert run_call(base, DEMO_IVR_AUTH_TOKEN, ZHANG, ["3", "1", "135790#"]) == 0
    printed = capsys.readouterr().out
    assert "🔊 请输入您的服务密码，以井号键结束。" in printed
    assert "🔊 销户申请已受理，单号 C D" in printed and "☎  the call ended" in printed
    with c.uow() as uow:
        req = uow.repo.requests_of("C001")[0]
    assert req.kind == "close_line" and req.channel == "ivr"
    from canceldesk.service_layer import requests as svc
    from canceldesk.service_layer.principal import Principal
    # what GET /v1/requests/{tracking_no} answers the owner
    seen = svc.request_public(svc.get_request(c, Principal(kind="subscriber", id="C001"), req.tracking_no))
    assert seen["channel"] == "ivr" and {t["channel"] for t in seen["timeline"][:2]} == {"ivr"}
