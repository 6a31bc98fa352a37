"""The channels' pure parts: the SMS command parser, the pack's channel rules, the IVR's rendering."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from canceldesk.bootstrap import load_policy
from canceldesk.domain.policy import ChannelRules, channel_rules_from_dict
from canceldesk.entrypoints.ivr.calls import Turn
from canceldesk.entrypoints.ivr.prompts import money as spoken_money, spoken_ref
from canceldesk.entrypoints.ivr.router import render
from canceldesk.entrypoints.sms.commands import language_of, normalize, parse
from canceldesk.service_layer.notifications import render as render_notice
from canceldesk.service_layer.principal import Principal


@pytest.mark.parametrize("text", ["0000", "０００００"[:4], " 0000 ", "00 00", "０ ０ ０ ０"])
def test_0000_in_any_width_and_spacing_is_the_list(text):
    assert parse(text).name == "list"


@pytest.mark.parametrize("text,serials", [
    ("1", (1,)), ("1,3", (1, 3)), ("1，3", (1, 3)), ("1、3", (1, 3)), ("１ ３", (1, 3)), ("１，３", (1, 3)),
    ("1；2；3", (1, 2, 3)), ("3,1", (3, 1)), ("1,1,2", (1, 2)), ("1 、 2", (1, 2)), ("12", (12,)), ("1.2", (1, 2)),
])
def test_serial_replies_in_every_width_and_separator(text, serials):
    cmd = parse(text)
    assert cmd.name == "serials" and cmd.serials == serials


@pytest.mark.parametrize("text", ["y", "Y", "Ｙ", " y ", "是", "确认", "YES", "yes", "ok"])
def test_confirmations(text):
    assert parse(text).name == "confirm"


@pytest.mark.parametrize("text", ["n", "Ｎ", "否", "no"])
def test_declines(text):
    assert parse(text).name == "decline"


@pytest.mark.parametrize("text,target,lang", [
    ("取消2", "2", "zh"), ("取消 2", "2", "zh"), ("取消２", "2", "zh"), ("取消MEM-VIDEO", "MEM-VIDEO", "zh"),
    ("取消mem-video", "MEM-VIDEO", "zh"), ("cancel 2", "2", "en"), ("QX2", "2", None),
])
def test_cancel_plus_serial_or_product_code(text, target, lang):
    cmd = parse(text)
    assert (cmd.name, cmd.target, cmd.lang) == ("cancel", target, lang)


@pytest.mark.parametrize("text,name,number", [
    ("CXXZ#张三#11010519491231002X", "张三", "11010519491231002X"),
    ("cxxz#张三#11010519491231002x", "张三", "11010519491231002X"),
    ("ＣＸＸＺ＃张三＃１１０１０５１９４９１２３１００２Ｘ", "张三", "11010519491231002X"),
    ("CXXZ # Zhang  San # 1101 0519 4912 3100 2X", "Zhang San", "11010519491231002X"),
])
def test_the_closure_eligibility_query(text, name, number):
    cmd = parse(text)
    assert (cmd.name, cmd.person_name, cmd.id_number) == ("eligibility", name, number)


def test_a_tracking_number_is_a_follow_up():
    assert parse("cd20261112abcd1234") .name == "follow"
    assert parse("CD20261112ABCD1234").target == "CD20261112ABCD1234"


@pytest.mark.parametrize("text", ["", "hello", "你好", "退订", "00000", "1-", "CXXZ#张三", "取消", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21"])
def test_anything_else_is_help(text):
    assert parse(text).name == "help"


def test_help_words_are_help_without_the_unknown_prefix():
    assert parse("帮助").target == "" and parse("HELP").target == "" and parse("blah").target == "unknown"


@pytest.mark.parametrize("text,lang", [("你好", "zh"), ("hello", "en"), ("1,3", None), ("Y", None), ("", None)])
def test_the_language_a_message_is_written_in(text, lang):
    assert language_of(text) == lang


def test_normalize_folds_full_width_and_case():
    assert normalize("　ｃｘｘｚ＃ａ　") == "CXXZ#A"


def test_language_switch_commands():
    assert (parse("EN").name, parse("EN").lang) == ("language", "en")
    assert (parse("中文").name, parse("中文").lang) == ("language", "zh")


# ---- policy ----------------------------------------------------------------------------------------

def test_cn_pack_lets_sms_unsubscribe_and_stop_renewals_but_not_close_a_line():
    sms, ivr = load_policy("cn").channel("sms"), load_policy("cn").channel("ivr")
    assert sms.kinds == ("unsubscribe", "cancel_renewal") and not sms.may_start("close_line")
    assert ivr.may_start("close_line") and ivr.factors("close_line") == ("service_password",)
    assert ivr.agent_first_age == 65 and sms.factors("unsubscribe") == ()
    assert (sms.max_commands_per_hour, sms.list_valid_minutes, sms.confirm_valid_minutes) == (30, 120, 10)


def test_a_channel_the_pack_does_not_name_may_start_nothing():
    assert load_policy("cn").channel("fax") == ChannelRules(name="fax")
    assert not load_policy("cn").channel("fax").may_start("unsubscribe")


def test_channel_rules_from_toml_data():
    r = channel_rules_from_dict("sms", {"kinds": ["unsubscribe"], "step_up": {"unsubscribe": ["id_last6"]},
                                        "max_commands_per_hour": 5})
    assert r.may_start("unsubscribe") and r.factors("unsubscribe") == ("id_last6",) and r.max_commands_per_hour == 5


def test_principal_via_is_the_channel_recorded():
    assert Principal(kind="subscriber", id="C1").channel == "app"
    assert Principal(kind="subscriber", id="C1", via="sms").channel == "sms"


def test_notices_of_an_sms_request_say_how_to_follow_it_by_sms():
    from canceldesk.service_layer.notifications import FOLLOW_BY_SMS
    assert FOLLOW_BY_SMS[0].format(ref="CD1") == "回复“CD1”可查询进度。"
    assert render_notice("withdrawn", ref="CD1", kind="unsubscribe") == "【canceldesk】您的业务退订申请 CD1 已撤回，未做任何变更。"


# ---- IVR rendering --------------------------------------------------------------------------------

def test_twiml_gather_with_says_and_a_redirect_for_silence():
    xml = render(Turn("zh", ["按1"]), "https://x.example/channels/ivr/voice", "+864001234567")
    root = ET.fromstring(xml)
    g = root.find("Gather")
    assert g.get("numDigits") == "1" and g.get("input") == "dtmf speech" and g.get("language") == "zh-CN"
    assert [s.text for s in g.iter("Say")] == ["按1"] and root.find("Redirect").text == "https://x.example/channels/ivr/voice"


def test_twiml_password_gather_ends_with_hash():
    g = ET.fromstring(render(Turn("en", ["pw"], gather="password"), "u", "a")).find("Gather")
    assert g.get("finishOnKey") == "#" and g.get("numDigits") is None and g.get("language") == "en-US"


def test_twiml_dial_and_hangup():
    root = ET.fromstring(render(Turn("zh", ["转接"], gather=None, dial=True), "u", "+864001234567"))
    assert root.find("Dial").text == "+864001234567" and root.find("Gather") is None
    assert ET.fromstring(render(Turn("zh", ["再见"], gather=None, hangup=True), "u", "a")).find("Hangup") is not None


def test_twiml_escapes_what_it_says():
    xml = render(Turn("zh", ["<Dial>1</Dial>"], gather=None), "u", "a")
    assert ET.fromstring(xml).find("Dial") is None and "&lt;Dial&gt;" in xml


def test_spoken_amounts_and_references():
    assert spoken_money(1500, "zh") == "15.00元" and spoken_money(1500, "en") == "15.00 yuan"
    assert spoken_ref("CD12") == "C D 1 2"
