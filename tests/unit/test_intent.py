"""The assistant's understanding (domain/intent.py): intent and target from a subscriber's own words."""
from __future__ import annotations

import pytest

from canceldesk.domain.intent import Target, classify, is_confirmation, prices, understand

LINE = Target(msisdn="13800138000", plan_name="58元畅享套餐")
KEEP = Target(msisdn="15001186420", plan_name="8元保号套餐")
VIDEO = Target("13800138000", "S-V", "membership", "腾讯视频会员", "Tencent Video membership", "腾讯视频", 1500, auto_renew=True)
MUSIC = Target("13800138000", "S-M", "membership", "咪咕音乐会员", "Migu Music membership", "咪咕音乐", 1500, auto_renew=True)
CRBT = Target("13800138000", "S-R", "vas", "彩铃", "Ringback tone", None, 500, auto_renew=True)
CLOUD = Target("13800138000", "S-C", "membership", "云盘会员年卡", "Cloud drive membership (yearly)", "百度网盘", 8800, "year", True)
MINE = [LINE, KEEP, VIDEO, MUSIC, CRBT, CLOUD]


@pytest.mark.parametrize("text,intent,target", [
    ("帮我把视频会员的自动续费关了", "cancel_renewal", "S-V"),
    ("把那个每月扣我15块的音乐的关了", "unsubscribe", "S-M"),
    ("stop renewing my video thing", "cancel_renewal", "S-V"),
    ("退定彩玲", "unsubscribe", "S-R"),                      # homophone typos, matched on pinyin
    ("cancle my tencnet membership", "unsubscribe", "S-V"),   # spelling typos, matched fuzzily
    ("腾迅视频别再扣我钱了", "cancel_renewal", "S-V"),
    ("百度网盘年卡退掉", "unsubscribe", "S-C"),
    ("把保号卡销了", "close_line", "15001186420"),
    ("close my number ending 8000", "close_line", "13800138000"),
])
def test_clear_requests_name_one_of_my_things(text, intent, target):
    u = understand(text, MINE)
    assert (u.intent, u.note) == (intent, "clear")
    assert (u.target.subscription_id or u.target.msisdn) == target


def test_ambiguity_names_the_candidates():
    u = understand("15块的会员不要了", MINE)
    assert (u.intent, u.note, u.target) == ("unsubscribe", "ambiguous", None)
    assert [c.subscription_id for c in u.candidates] == ["S-V", "S-M"]
    u = understand("我不想用这个号了", MINE)
    assert (u.intent, u.note, [c.msisdn for c in u.candidates]) == ("close_line", "ambiguous", ["13800138000", "15001186420"])
    assert understand("我不想用这个号了", MINE, current_msisdn="15001186420").target == KEEP


def test_someone_elses_number_or_things_are_refused():
    u = understand("帮我把13911112222销户", MINE)
    assert (u.intent, u.note, u.target, u.foreign) == ("close_line", "not_yours", None, ("13911112222",))
    assert understand("帮我把我老婆的视频会员退了", MINE).note == "not_yours"
    assert understand("cancel the line ending 4321", MINE).note == "not_yours"


@pytest.mark.parametrize("text,intent", [
    ("我要投诉你们乱扣费", "complaint"), ("转人工", "human"), ("I want to talk to a real person", "human"),
    ("我开了哪些业务", "query"), ("what am I paying for every month?", "query"), ("今天天气怎么样", "unknown"),
    ("帮我开通视频会员", "unknown"), ("", "unknown"),
])
def test_intents_without_a_target(text, intent):
    assert classify(text) == intent
    assert understand(text, MINE).target is None


def test_prices_and_confirmations():
    assert prices("每月扣我15块") == {1500}
    assert prices("十五元的那个") == {1500}
    assert prices("the ¥88 one") == {8800}
    assert [is_confirmation(w) for w in ("确认", "ＹＥＳ", "好的。", "no", "取消")] == [True, True, True, False, False]
