"""The SMS replies, zh-CN and English. Only wording lives here; the facts come from the service layer."""
from __future__ import annotations

from canceldesk.domain.money import format_yuan

PERIOD = {"zh": {"day": "天", "week": "周", "month": "月", "quarter": "季度", "year": "年"},
          "en": {"day": "day", "week": "week", "month": "month", "quarter": "quarter", "year": "year"}}
KIND = {"zh": {"unsubscribe": "退订", "cancel_renewal": "取消自动续费", "close_line": "销户"},
        "en": {"unsubscribe": "unsubscribe", "cancel_renewal": "stop auto-renewal", "close_line": "close the number"}}
STATUS = {"zh": {"submitted": "已提交", "checked": "已核查", "awaiting_confirmation": "待确认", "in_review": "人工复核中",
                 "executing": "办理中", "completed": "已办结", "rejected": "未能办理", "withdrawn": "已撤回",
                 "failed": "已转人工处理"},
          "en": {"submitted": "submitted", "checked": "checked", "awaiting_confirmation": "awaiting confirmation",
                 "in_review": "being reviewed", "executing": "in progress", "completed": "completed",
                 "rejected": "could not proceed", "withdrawn": "withdrawn", "failed": "with a person"}}

T = {
    "help": ("【canceldesk】短信指令：发送0000查询付费业务；回复序号（如1,3）退订；回复“取消+序号”取消自动续费；"
             "发送“CXXZ#姓名#证件号码”查询能否销户；发送单号查询进度；English: send EN。",
             "[canceldesk] SMS commands: 0000 lists your paid services; reply their numbers (e.g. 1,3) to unsubscribe; "
             "'取消2' (or CANCEL 2) stops an auto-renewal; 'CXXZ#name#ID number' asks whether this number can be closed; "
             "send a tracking number to follow a request. 中文请回复“中文”。"),
    "unknown": ("【canceldesk】未能识别您的指令。", "[canceldesk] We did not understand that message. "),
    "not_served": ("【canceldesk】您的号码不在本系统服务范围内，无法通过短信办理。如需帮助请联系人工客服。",
                   "[canceldesk] This number is not served here, so nothing can be done by SMS. Please call us for help."),
    "limited": ("【canceldesk】指令发送过于频繁，请1小时后再试。", "[canceldesk] Too many messages; please try again in an hour."),
    "empty": ("【canceldesk】您的号码当前没有付费业务（增值业务或会员）。", "[canceldesk] There are no paid services on your number."),
    "list_head": ("【canceldesk】您的付费业务：", "[canceldesk] Your paid services:"),
    "list_item": ("{n}.{name} {price}/{period}，{effect}{renew}", "{n}. {name} {price}/{period}, {effect}{renew}"),
    "effect_end_of_cycle": ("退订后用到{date}，不退费", "if ended, use it until {date}, no refund"),
    "effect_immediate": ("退订立即生效，{refund}", "ends at once if ended, {refund}"),
    "refund_prorated": ("按未使用天数退费", "unused days refunded"),
    "refund_none": ("不退费", "no refund"),
    "renews": ("；自动续费中，回复“取消{n}”可停止续费", "; auto-renews, reply '取消{n}' to stop it"),
    "list_foot": ("回复序号退订（如1,3），回复“取消+序号”取消自动续费，2小时内有效。",
                  "Reply their numbers (e.g. 1,3) to unsubscribe, or '取消' + number to stop an auto-renewal; valid 2 hours."),
    "list_needed": ("【canceldesk】请先发送0000查询业务列表（列表2小时内有效），再回复序号。",
                    "[canceldesk] Send 0000 first (the list is valid for 2 hours), then reply with the numbers."),
    "bad_serials": ("【canceldesk】序号{bad}不在列表中，有效序号为1-{n}。请重新回复。",
                    "[canceldesk] {bad} is not on the list; the numbers are 1-{n}. Please reply again."),
    "not_found": ("【canceldesk】未找到“{ref}”对应的业务。发送0000查看您的付费业务。",
                  "[canceldesk] No service matches '{ref}'. Send 0000 to see your paid services."),
    "preview_head": ("【canceldesk】您将办理：", "[canceldesk] You are about to:"),
    "preview_item": ("{kind}{name}：{effect}", "{kind} {name}: {effect}"),
    "preview_access": ("权益保留至{date}，{refund}", "access until {date}, {refund}"),
    "preview_now": ("立即停止，{refund}", "ends at once, {refund}"),
    "preview_refund": ("退费{amount}", "refund {amount}"),
    "preview_blocked": ("{name}暂不能{kind}：{message}{resolution}", "{name} cannot be ended now: {message} {resolution}"),
    "preview_warning": ("提示：{message}", "Note: {message}"),
    "preview_foot": ("回复Y确认，10分钟内有效；回复N放弃。", "Reply Y to confirm within 10 minutes, or N to cancel."),
    "nothing_to_confirm": ("【canceldesk】没有待确认的操作，或确认已超过10分钟。发送0000重新开始。",
                           "[canceldesk] There is nothing to confirm (or the 10 minutes passed). Send 0000 to start again."),
    "declined": ("【canceldesk】已放弃，未做任何变更。", "[canceldesk] Cancelled; nothing was changed."),
    "done_head": ("【canceldesk】已受理：", "[canceldesk] Accepted:"),
    "done_item": ("{kind}{name}，单号{ref}（{status}）", "{kind} {name}, tracking number {ref} ({status})"),
    "failed_item": ("{kind}{name}未能办理：{message}", "{kind} {name} could not proceed: {message}"),
    "done_foot": ("回复单号可查询进度。", "Reply a tracking number to follow it."),
    "not_allowed": ("【canceldesk】{kind}不能通过短信办理，请在App、营业厅或拨打客服电话办理。",
                    "[canceldesk] {kind} cannot be done by SMS; use the app, a store or call us."),
    "eligibility_neutral": ("【canceldesk】无法核验：您提供的姓名或证件号码与本号码的实名登记信息不一致，或格式有误。"
                            "请核对后重新发送“CXXZ#姓名#证件号码”，或本人携带证件到营业厅查询。",
                            "[canceldesk] We could not verify this: the name or ID number does not match this number's "
                            "real-name record, or is malformed. Check and send 'CXXZ#name#ID number' again, or ask at a store with your ID."),
    "eligible": ("【canceldesk】本号码目前可以办理销户。", "[canceldesk] This number can be closed now."),
    "blocked": ("【canceldesk】本号码暂不能销户：", "[canceldesk] This number cannot be closed yet:"),
    "blocker": ("{n}.{message}解决办法：{resolution}", "{n}. {message} To resolve: {resolution}"),
    "where_close": ("销户请拨打客服电话按3（需服务密码）、在App中办理，或本人携带身份证件到营业厅办理。",
                    "To close it, call us and press 3 (service password needed), use the app, or visit a store with your ID."),
    "follow": ("【canceldesk】单号{ref}：{kind}，{status}。", "[canceldesk] {ref}: {kind}, {status}."),
    "follow_unknown": ("【canceldesk】未找到单号{ref}的申请。", "[canceldesk] No request {ref} was found for this number."),
}


def t(key: str, lang: str, **params) -> str:
    zh, en = T[key]
    return (en if lang == "en" else zh).format(**params)


def money(amount: int) -> str:
    return format_yuan(amount)
