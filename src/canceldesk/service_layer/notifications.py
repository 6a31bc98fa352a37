"""Subscriber notifications: texts in zh-CN and en, written to the outbox in the same
transaction as the state change that causes them (delivered later by the worker)."""
from __future__ import annotations

from datetime import datetime

from .ports import OutboxRepository as Repository

KIND_ZH = {"close_line": "销户", "unsubscribe": "业务退订", "cancel_renewal": "取消自动续费",
           "withdraw": "合同撤回", "reclaim": "号码找回"}

TEMPLATES = {
    "otp": ("【canceldesk】验证码 {code}，5分钟内有效。请勿告诉他人，工作人员不会索要验证码。",
            "[canceldesk] Your code is {code}, valid for 5 minutes. Never share it; staff will never ask for it."),
    "accepted": ("【canceldesk】您的{kind}申请已受理，单号 {ref}，预计 {deadline} 前办结。",
                 "[canceldesk] Your {kind} request {ref} was accepted; expected by {deadline}."),
    "needs_action": ("【canceldesk】您的{kind}申请 {ref} 需要您确认：{detail}",
                     "[canceldesk] Your {kind} request {ref} needs your action: {detail}"),
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
                          "[canceldesk] We could not remind you in time, so your {name} was not charged; it renews on {date} at the earliest for {amount}. Reply '取消{serial}' or turn it off in the app."),
    "step_up_locked": ("【canceldesk】您的身份验证连续失败，{kind}功能已锁定 15 分钟。如非本人操作，请联系客服。",
                       "[canceldesk] Repeated failed identity checks: {kind} is locked for 15 minutes. If this was not you, call us."),
    "renewal_reminder": ("【canceldesk】您的{name}将于 {date} 自动续费 {amount}。如不需要，回复“取消{serial}”或在 App 中关闭。",
                         "[canceldesk] Your {name} renews on {date} for {amount}. Reply '取消{serial}' or turn it off in the app."),
    "freeze_ending": ("【canceldesk】号码 {msisdn} 的冻结期将于 {date} 结束，之后无法找回。",
                      "[canceldesk] The freeze on {msisdn} ends on {date}; after that it cannot be reclaimed."),
}


# A request started by SMS is followed by SMS: its notices say how (CHANNELS.md).
FOLLOW_BY_SMS = ("回复“{ref}”可查询进度。", " Reply '{ref}' to follow it.")


def render(event: str, lang: str = "zh", **params) -> str:
    zh, en = TEMPLATES[event]
    template = en if lang.startswith("en") else zh
    if "kind" in params and not lang.startswith("en"):
        params["kind"] = KIND_ZH.get(params["kind"], params["kind"])
    elif "kind" in params:
        params["kind"] = params["kind"].replace("_", " ")
    return template.format(**params)


def notify(repo: Repository, *, to: str, event: str, ref: str | None, at: datetime, dedup: str,
           lang: str = "zh", channel: str = "sms", via: str | None = None, **params) -> None:
    """Write one message to the outbox; the same dedup key never produces a second message.
    `via`: the channel the request came through; "sms" adds how to follow it by SMS."""
    text = render(event, lang, ref=ref, **params)
    if via == "sms" and ref:
        text += FOLLOW_BY_SMS[1 if lang.startswith("en") else 0].format(ref=ref)
    repo.add_message(dedup_key=dedup, channel=channel, to=to, event=event, ref=ref, text=text, at=at)
