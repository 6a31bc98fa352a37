"""Pre-check texts in zh-CN and en: what is wrong, and exactly how to resolve it."""
from __future__ import annotations

from .money import format_money

# code: (zh message, zh resolution, en message, en resolution)
CATALOGUE: dict[str, tuple[str, str, str, str]] = {
    "NOT_OWNER": (
        "办理人不是该号码的实名机主或企业授权管理员。",
        "请机主本人携带有效身份证件办理，或由企业授权管理员办理。",
        "The person asking is not the line's real-name owner or an authorised enterprise admin.",
        "The owner must apply in person with a valid ID, or an authorised enterprise admin must apply.",
    ),
    "LINE_NOT_ACTIVE": (
        "号码当前状态为“{status}”，无法办理。",
        "该号码已销户、冻结或未激活；如需找回已销户号码，请在冻结期内办理号码找回。",
        "The line is {status}; nothing can be ended on it.",
        "The line is already closed, frozen or was never activated; a closed number can be reclaimed inside its freeze window.",
    ),
    "ARREARS": (
        "账户欠费 {amount}，需先结清全部费用。",
        "请先缴清欠费 {amount}（营业厅、App 或银行代缴均可），到账后即可继续办理。",
        "There are unpaid charges of {amount}; all fees must be settled first.",
        "Pay the {amount} due (app, counter or bank); you can continue once it is received.",
    ),
    "CONTRACT_LOCK": (
        "合约期内（至 {ends_on}），暂不能销户。",
        "请于 {ends_on} 合约期满后办理，或到营业厅协商解除合约。",
        "A minimum-term contract runs until {ends_on}.",
        "Apply after {ends_on}, or ask a store to release the contract.",
    ),
    "SECONDARY_LINES": (
        "该号码是家庭/共享套餐的主卡，仍有 {count} 张副卡在用：{lines}。",
        "请先将副卡销户或转为独立套餐，再办理主卡销户。",
        "This line is the primary of a shared plan with {count} active secondary line(s): {lines}.",
        "Close the secondary lines or move them to their own plans first.",
    ),
    "PORT_OUT_PENDING": (
        "该号码有正在办理的携号转网申请。",
        "请等待携号转网完成，或先撤销携号转网申请。",
        "A number-portability (port-out) order is in flight for this line.",
        "Wait for the port-out to finish, or cancel it first.",
    ),
    "OPEN_REQUEST": (
        "已有办理中的申请 {tracking_no} 覆盖同一对象。",
        "请查看申请 {tracking_no} 的进度，或先撤回该申请。",
        "Another open request {tracking_no} already covers this.",
        "Follow request {tracking_no}, or withdraw it first.",
    ),
    "INSTALLMENT_DUE": (
        "终端分期尚有 {amount} 未付清。",
        "请先一次性结清终端分期款 {amount}。",
        "A device instalment plan has {amount} unpaid.",
        "Pay off the remaining {amount} of the device instalments first.",
    ),
    "SUBSCRIPTION_NOT_ACTIVE": (
        "该业务已退订或已结束。",
        "无需再次办理；可在“我的业务”中查看当前生效的业务。",
        "This service has already been ended.",
        "Nothing more to do; see your active services under your line.",
    ),
    "RENEWAL_ALREADY_OFF": (
        "该业务的自动续费已关闭。",
        "无需再次办理，权益保留至 {access_ends}。",
        "Auto-renewal is already off for this service.",
        "Nothing more to do; access continues until {access_ends}.",
    ),
    "WITHDRAWAL_NOT_AVAILABLE": (
        "当前政策不提供无理由撤回。",
        "如需结束该业务，请办理退订或取消自动续费。",
        "This jurisdiction's policy has no withdrawal right for this contract.",
        "Unsubscribe or cancel the renewal instead.",
    ),
    "WITHDRAWAL_WINDOW_CLOSED": (
        "撤回期已于 {deadline} 结束。",
        "请办理退订或取消自动续费。",
        "The {days}-day withdrawal window ended on {deadline}.",
        "Unsubscribe or cancel the renewal instead.",
    ),
    "NOT_RECLAIMABLE": (
        "该号码当前不可找回（状态：{status}）。",
        "号码找回仅限销户后冻结期内由原机主办理。",
        "This number cannot be reclaimed (it is {status}).",
        "A number can only be reclaimed by its former owner while it is frozen after closure.",
    ),
    "SUBSCRIPTION_REQUIRED": (
        "请选择要办理的业务。",
        "在请求中提供 subscription_id（见“我的业务”列表）。",
        "Choose which service to end.",
        "Send subscription_id (see the line's subscriptions list).",
    ),
    # warnings
    "BOUND_ACCOUNTS": (
        "该号码绑定了 {names}，销户后将无法接收验证码。",
        "请先在各平台解绑或更换手机号。",
        "Accounts are bound to this number: {names}. After closure it cannot receive their codes.",
        "Unbind the number or change it on each of these accounts first.",
    ),
    "GIFT_BALANCE_FORFEIT": (
        "赠送余额 {amount} 不予退还。",
        "如需使用，请在销户前用完赠送余额。",
        "Promotional (gifted) credit of {amount} is not refunded.",
        "Use the gifted credit before closing if you want its value.",
    ),
    "RENEWAL_IMMINENT": (
        "{names} 将在 24 小时内自动续费；现在办理仍会阻止这次续费扣款。",
        "您无需另做处理。",
        "Due to renew within 24 hours: {names}. Ending it now still stops that renewal charge.",
        "There is nothing else to do.",
    ),
    "CONTRACT_FEE": (
        "合约期内（至 {ends_on}）提前解约，需支付违约金 {amount}。",
        "违约金已计入退款结算。",
        "Ending the contract before {ends_on} costs an early-termination fee of {amount}.",
        "The fee is deducted in the settlement shown.",
    ),
    "ADMIN_LOGIN": (
        "该号码是 {names} 的企业管理员登录号码；销户后其管理员权限终止。",
        "请先让企业指定另一名管理员；销户后企业的其他管理员会收到通知。",
        "This number is the enterprise-admin login of {names}; closing it ends that admin role.",
        "Have the enterprise name another admin first; its other admins are told when the line closes.",
    ),
}

WARNING_CODES = frozenset({"BOUND_ACCOUNTS", "GIFT_BALANCE_FORFEIT", "RENEWAL_IMMINENT", "CONTRACT_FEE", "ADMIN_LOGIN"})


def render(code: str, lang: str = "zh", currency: str = "CNY", **params) -> tuple[str, str]:
    """A parameter may be given in both languages ({"zh": …, "en": …}): the reader's is used."""
    zh_msg, zh_res, en_msg, en_res = CATALOGUE[code]
    key = "en" if lang.startswith("en") else "zh"
    shown = {k: (format_money(v, currency, lang) if k == "amount" else v[key] if isinstance(v, dict) else v)
             for k, v in params.items()}
    if lang.startswith("en"):
        return en_msg.format(**shown), en_res.format(**shown)
    return zh_msg.format(**shown), zh_res.format(**shown)
