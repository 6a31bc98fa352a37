"""Subscriber notifications: texts in zh-CN and en, written to the outbox in the same
transaction as the state change that causes them (delivered later by the worker)."""
from __future__ import annotations

import functools
from datetime import datetime

from .ports import OutboxRepository as Repository

from canceldesk.domain.money import format_money

KIND_ZH = {"close_line": "销户", "unsubscribe": "业务退订", "cancel_renewal": "取消自动续费",
           "withdraw": "合同撤回", "reclaim": "号码找回"}
KIND_EN = {"close_line": "line closure", "unsubscribe": "unsubscribe", "cancel_renewal": "stop-renewal",
           "withdraw": "withdrawal", "reclaim": "number reclaim"}

TEMPLATES = {
    "otp": ("【canceldesk】验证码 {code}，5分钟内有效。请勿告诉他人，工作人员不会索要验证码。",
            "[canceldesk] Your code is {code}, valid for 5 minutes. Never share it; staff will never ask for it."),
    "accepted": ("【canceldesk】您的{kind}申请已受理，单号 {ref}，预计 {deadline} 前办结。",
                 "[canceldesk] Your {kind} request {ref} was accepted; expected by {deadline}."),
    "needs_action": ("【canceldesk】您的{kind}申请 {ref} 需要您确认：请在 App 中查看办理影响并确认。",
                     "[canceldesk] Your {kind} request {ref} needs your confirmation: check its effect in the app and confirm."),
    "batch_accepted": ("【canceldesk】批量{kind}（批次 {ref}）已提交：{accepted} 个号码已受理，{refused} 个未能办理，详情见企业控制台。",
                       "[canceldesk] Your batch {kind} ({ref}) was submitted: {accepted} line(s) accepted, {refused} could not proceed; see the enterprise console."),
    "in_review": ("【canceldesk】您的{kind}申请 {ref} 正在人工复核，我们会尽快处理。",
                  "[canceldesk] Your {kind} request {ref} is being reviewed by a person."),
    "completed": ("【canceldesk】您的{kind}申请 {ref} 已办结。{detail}凭证验证码 {code}。",
                  "[canceldesk] Your {kind} request {ref} is complete. {detail}Receipt code {code}."),
    "rejected": ("【canceldesk】您的{kind}申请 {ref} 未能办理：{detail}",
                 "[canceldesk] Your {kind} request {ref} could not proceed: {detail}"),
    "withdrawn": ("【canceldesk】您的{kind}申请 {ref} 已撤回，未做任何变更。",
                  "[canceldesk] Your {kind} request {ref} was withdrawn; nothing was changed."),
    "escalated": ("【canceldesk】您的{kind}申请 {ref} 处理遇到问题，已转人工跟进，预计 {deadline} 前回复您。",
                  "[canceldesk] Your {kind} request {ref} hit a problem and is with a person now; we will reply by {deadline}."),
    "overdue": ("【canceldesk】您的{kind}申请 {ref} 未能在承诺时间内办结，已转专人加急处理，新的预计办结时间 {deadline}。",
                "[canceldesk] Your {kind} request {ref} missed its promised time; a person is on it now. New expected time: {deadline}."),
    "renewed": ("【canceldesk】您的{name}已自动续费 {amount}，有效期至 {date}。",
                "[canceldesk] Your {name} renewed for {amount}; it now runs until {date}."),
    "renewal_postponed": ("【canceldesk】您的{name}本期未能提前提醒，暂不扣费；最早于 {date} 续费 {amount}。如不需要，回复“取消{serial}”或在 App 中关闭。",
                          "[canceldesk] We could not remind you in time, so your {name} was not charged; it renews on {date} at the earliest for {amount}. Turn it off in the app, or reply STOP {serial}."),
    "step_up_locked": ("【canceldesk】您的身份验证连续失败，{kind}功能已锁定 15 分钟。如非本人操作，请联系客服。",
                       "[canceldesk] Repeated failed identity checks: {kind} is locked for 15 minutes. If this was not you, call us."),
    "renewal_reminder": ("【canceldesk】您的{name}将于 {date} 自动续费 {amount}。如不需要，回复“取消{serial}”或在 App 中关闭。",
                         "[canceldesk] Your {name} renews on {date} for {amount}. Turn it off in the app, or reply STOP {serial}."),
    "freeze_ending": ("【canceldesk】号码 {msisdn} 的冻结期将于 {date} 结束，之后无法找回。",
                      "[canceldesk] The freeze on {msisdn} ends on {date}; after that it cannot be reclaimed."),
    "admin_login_ended": ("【canceldesk】号码 {msisdn} 已销户或已转给他人，其企业管理员权限已终止。请尽快指定新的企业管理员。",
                          "[canceldesk] {msisdn} was closed or re-issued, so its enterprise admin role has ended. Please name another admin."),
    "fleet_closure": ("【canceldesk】企业管理员 {admin} 已确认批量销户 {count} 个号码（批次 {ref}）。如非授权操作，请立即联系客服。",
                      "[canceldesk] Enterprise admin {admin} confirmed closing {count} lines (batch {ref}). If this was not authorised, call us now."),
    "large_order": ("【canceldesk】贵企业通过合作伙伴接口提交了批量订单 {ref}，将结束 {count} 个号码或业务（提交方：{who}）。如非授权操作，请立即在企业控制台吊销该密钥并联系客服。",
                    "[canceldesk] A partner API order {ref} for your company ends {count} lines or services (placed by {who}). If this was not authorised, revoke the key in the enterprise console and call us now."),
    "closure_requested": ("【canceldesk】您名下号码 {msisdn} 的销户申请 {ref} 已提交。如非本人操作，请立即撤回申请并联系客服。",
                          "[canceldesk] A request {ref} to close your number {msisdn} was made. If this was not you, withdraw it and call us now."),
    "step_up_locked_elsewhere": ("【canceldesk】您名下号码 {msisdn} 的身份验证连续失败，{kind}功能已锁定。如非本人操作，请立即联系客服。",
                                 "[canceldesk] Repeated failed identity checks on your number {msisdn}: {kind} is locked. If this was not you, call us now."),
}


# A request started by SMS is followed by SMS: its notices say how (CHANNELS.md).
FOLLOW_BY_SMS = ("回复“{ref}”可查询进度。", " Reply '{ref}' to follow it.")


def render(event: str, lang: str = "zh", **params) -> str:
    zh, en = TEMPLATES[event]
    template = en if lang.startswith("en") else zh
    if "kind" in params:
        names = KIND_EN if lang.startswith("en") else KIND_ZH
        params["kind"] = names.get(params["kind"], str(params["kind"]).replace("_", " "))
    return template.format(**params)


@functools.lru_cache(maxsize=4096)
def completion_detail(kind: str, refund: int, currency: str, freeze_days: int, lang: str) -> str:
    """What the "completed" message says beyond the reference: the refund and where it goes.
    A function of its arguments only: each amount is formatted once per process (the engine
    completes thousands of requests a second with a few hundred distinct refunds)."""
    en = lang.startswith("en")
    detail = ""
    if refund > 0:
        amount = format_money(refund, currency, lang)
        detail = f"{amount} is refunded to the original payment method. " if en else f"退款 {amount} 将原路退回。"
    if kind == "close_line":
        detail += (f"The number is frozen for {freeze_days} days and can be reclaimed until then. " if en
                   else f"号码冻结 {freeze_days} 天，期内可找回。")
    return detail


def notify(repo: Repository, *, to: str, event: str, ref: str | None, at: datetime, dedup: str,
           lang: str, channel: str = "sms", via: str | None = None, **params) -> None:
    """Write one message to the outbox; the same dedup key never produces a second message.
    `via`: the channel the request came through; "sms" adds how to follow it by SMS."""
    text = render(event, lang, ref=ref, **params)
    if via == "sms" and ref:
        text += FOLLOW_BY_SMS[1 if lang.startswith("en") else 0].format(ref=ref)
    repo.add_message(dedup_key=dedup, channel=channel, to=to, event=event, ref=ref, text=text, at=at)
