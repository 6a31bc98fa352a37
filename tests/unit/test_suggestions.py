"""What a subscriber could stop (domain/suggestions.py): neutral facts, the saving per month, the ending."""
from __future__ import annotations

from datetime import date

from canceldesk.domain.suggestions import Facts, monthly, suggest

TODAY = date(2026, 12, 2)


def facts(sid, kind, zh, en, price, **kw):
    base = dict(subscription_id=sid, msisdn="13800138000", product_kind=kind, name_zh=zh, name_en=en, price=price,
                period="month", auto_renew=True, period_end=date(2026, 12, 20))
    return Facts(**{**base, **kw})


def test_each_reason_with_its_saving_and_action():
    got = suggest([
        facts("S-CLOUD", "membership", "云盘会员年卡", "Cloud drive membership (yearly)", 8800, period="year",
              partner="百度网盘", last_used_on=date(2026, 8, 27)),
        facts("S-V", "membership", "腾讯视频会员", "Tencent Video membership", 1500, partner="腾讯视频",
              previous_price=1200, price_changed_on=date(2026, 11, 20)),
        facts("S-Q", "membership", "爱奇艺黄金视频会员", "iQIYI Gold video membership", 1900, partner="爱奇艺"),
        facts("S-M", "membership", "咪咕音乐会员", "Migu Music membership", 1500, trial_ended_on=date(2026, 11, 29)),
        facts("S-R", "vas", "视频彩铃", "Video ringback tone", 600, last_used_on=date(2026, 11, 30)),
        facts("S-PLAN", "plan", "58元畅享套餐", "58 plan", 5800, last_used_on=date(2025, 1, 1)),
    ], TODAY)
    assert [(s.subscription_id, s.reason, s.saving_per_month, s.action) for s in got] == [
        ("S-CLOUD", "unused", 733, "cancel_renewal"),
        ("S-V", "duplicate", 1500, "cancel_renewal"),
        ("S-V", "price_rise", 1500, "cancel_renewal"),
        ("S-Q", "duplicate", 1900, "cancel_renewal"),
        ("S-M", "renews_after_trial", 1500, "cancel_renewal"),
    ]
    assert got[0].text == "最近 97 天没有使用记录（上次使用 2026-08-27）。停用每月约可节省 ¥7.33。"
    assert got[1].details == {"with": ["S-Q"]}
    assert got[2].text == "价格由 ¥12.00 调整为 ¥15.00 (2026-11-20)。停用每月约可节省 ¥15.00。"
    en = suggest([facts("S-M", "membership", "咪咕音乐会员", "Migu Music membership", 1500,
                        trial_ended_on=date(2026, 11, 29))], TODAY, lang="en")
    assert en[0].text == ("The trial ended on 2026-11-29; it renews at ¥15.00 on 2026-12-20. "
                          "Stopping it saves about ¥15.00 a month.")


def test_nothing_to_say_about_recent_use_or_an_ended_trial_long_ago():
    assert suggest([facts("S-V", "membership", "腾讯视频会员", "Tencent Video", 1500, last_used_on=date(2026, 11, 20),
                          trial_ended_on=date(2026, 6, 1), previous_price=1500)], TODAY) == []
    assert suggest([facts("S-V", "vas", "彩铃", "Ringback tone", 500, last_used_on=date(2026, 11, 2))], TODAY,
                   unused_days=30)[0].reason == "unused"
    assert monthly(8800, "year") == 733 and monthly(500, "month") == 500
