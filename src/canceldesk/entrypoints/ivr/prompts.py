"""What the phone says, zh-CN and English (`9` switches). Only wording; facts come from the service layer."""
from __future__ import annotations

from canceldesk.domain.money import format_yuan

VOICE_LANG = {"zh": "zh-CN", "en": "en-US"}

P = {
    "welcome": ("您好，欢迎致电 canceldesk 自助服务。", "Welcome to canceldesk self-service."),
    "agent_first": ("人工服务请按0。", "For an agent, press 0."),
    "top": ("查询和退订付费业务请按1，取消自动续费请按2，办理销户请按3，For English press 9，人工服务请按0。",
            "For your paid services press 1, to stop an auto-renewal press 2, to close this number press 3, "
            "中文服务请按9, for an agent press 0."),
    "top_senior": ("人工服务请按0。查询和退订付费业务请按1，取消自动续费请按2，办理销户请按3，For English press 9。",
                   "For an agent press 0. For your paid services press 1, to stop an auto-renewal press 2, "
                   "to close this number press 3, 中文服务请按9."),
    "not_served": ("您好，您的号码不是本系统服务的号码，无法自助办理。人工服务请按0。",
                   "Hello, this number is not served here, so nothing can be done by phone self-service. For an agent, press 0."),
    "no_input": ("没有收到您的按键。", "We did not hear a key."),
    "wrong_key": ("输入有误。", "That key is not an option."),
    "to_agent": ("正在为您转接人工服务，请稍候。", "Connecting you to an agent, please hold."),
    "agent_offer": ("多次未能识别您的按键，正在为您转接人工服务。", "We could not get your choice; connecting you to an agent."),
    "item": ("{name}，每{period}{price}，请按{n}。", "{name}, {price} per {period}, press {n}."),
    "list_foot": ("返回上级请按星号键，人工服务请按0。", "To go back press star; for an agent press 0."),
    "no_services": ("您的号码没有付费业务。", "There are no paid services on your number."),
    "no_renewals": ("您的号码没有自动续费的业务。", "Nothing on your number renews automatically."),
    "impact_access": ("{kind}{name}后，权益保留至{date}，{refund}。", "If you {kind} {name}, access continues until {date}; {refund}."),
    "impact_now": ("{kind}{name}后立即停止，{refund}。", "If you {kind} {name}, it ends at once; {refund}."),
    "refund": ("退款{amount}", "refund {amount}"),
    "no_refund": ("不退费", "no refund"),
    "confirm": ("确认请按1，返回请按2。", "To confirm press 1, to go back press 2."),
    "blocked": ("暂不能办理：{message}{resolution}", "This cannot be done now: {message} {resolution}"),
    "accepted": ("已受理，单号 {ref}。", "Accepted. Your tracking number is {ref}."),
    "close_impact": ("销户后，本号码及其全部业务将停止，号码冻结{days}天，期内可找回；{refund}。",
                     "Closing ends this number and everything on it; the number is frozen for {days} days and can be "
                     "reclaimed in that time; {refund}."),
    "warning": ("请注意：{message}", "Please note: {message}"),
    "password": ("请输入您的服务密码，以井号键结束。", "Enter your service password, then press hash."),
    "password_wrong": ("服务密码不正确，请重新输入，以井号键结束。", "That service password is wrong. Enter it again, then press hash."),
    "password_locked": ("服务密码错误次数过多，已暂时锁定。", "Too many wrong passwords; it is locked for a while."),
    "close_accepted": ("销户申请已受理，单号 {ref}。结果将以短信通知您。再见。",
                       "Your closure request is accepted, tracking number {ref}. We will tell you the result by SMS. Goodbye."),
    "not_allowed": ("该业务不能通过电话办理，请到营业厅办理。", "This cannot be done by phone; please visit a store."),
    "failed": ("暂时无法办理：{message}", "This could not be done now: {message}"),
}

KIND = {"zh": {"unsubscribe": "退订", "cancel_renewal": "取消自动续费"},
        "en": {"unsubscribe": "unsubscribe", "cancel_renewal": "stop the auto-renewal of"}}
PERIOD = {"zh": {"day": "天", "week": "周", "month": "月", "quarter": "季度", "year": "年"},
          "en": {"day": "day", "week": "week", "month": "month", "quarter": "quarter", "year": "year"}}


def p(key: str, lang: str, **params) -> str:
    zh, en = P[key]
    return (en if lang == "en" else zh).format(**params)


def money(amount: int, lang: str) -> str:
    yuan = format_yuan(amount).replace("¥", "")
    return f"{yuan} yuan" if lang == "en" else f"{yuan}元"


def spoken_ref(ref: str) -> str:
    """A tracking number read character by character."""
    return " ".join(ref)
