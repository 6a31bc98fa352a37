"""The assistant's SMS replies stay within one long SMS (issue 12b)."""
from __future__ import annotations

from canceldesk.entrypoints.sms import free_text


def test_a_long_reply_is_cut_to_one_long_sms_and_points_to_the_app():
    body = free_text._sms_text({"reply": "很" * 900}, "zh")
    assert len(body) == 536 and body.startswith("【canceldesk】很") and body.endswith("…更多内容请在App查看。")
    en = free_text._sms_text({"reply": "x" * 900}, "en")
    assert len(en) == 536 and en.endswith("…More in the app.")


def test_the_confirm_hint_becomes_the_sms_y_n():
    body = free_text._sms_text({"reply": "将退订 彩铃。 回复“确认”办理，回复“算了”放弃。"}, "zh")
    assert body == "【canceldesk】将退订 彩铃。\n回复Y确认，10分钟内有效；回复N放弃。"
