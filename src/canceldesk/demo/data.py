"""Demo data: a small, believable operator's book of customers, dated relative to `today`.

`build_demo_document(today)` returns an import document in the CONTRACT.md format (plus the
extensions `product.partner`, `line.installment_due` and `subscription.started_on`). Each
pre-check code has its own person, so a newcomer can log in as that person and see it:
`DEMO_LOGINS` lists who is who. Everything is deterministic: the same `today`, the same document.

Identity numbers are made up but valid: resident IDs carry a real area code (valid for the
birth year, as `stdnum.cn.ric` checks), a birth date, a sequence whose parity matches the
person's sex (odd: male), and the GB 11643 check character.
"""
from __future__ import annotations

import calendar
from datetime import date, timedelta

from stdnum.cn import ric, uscc


def _resident_id(area: str, birth: str, seq: int) -> str:
    body = f"{area}{birth}{seq:03d}"
    # stdnum's calc_check_digit expects the full 18 characters and ignores the last one.
    return body + ric.calc_check_digit(body + "0")


def _credit_code(base17: str) -> str:
    return base17 + uscc.calc_check_digit(base17)


def add_months(d: date, months: int) -> date:
    """The same day `months` later, clamped to the month's last day (Jan 31 + 1 → Feb 28/29)."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


# code, kind, zh, en, price (fen), period, unsubscribe_effect, refund, partner
PRODUCTS = [
    ("PLAN-58", "plan", "58元畅享套餐", "58 Unlimited plan", 5800, "month", "end_of_cycle", "none", None),
    ("PLAN-128-FAMILY", "plan", "128元全家享套餐", "128 Family plan", 12800, "month", "end_of_cycle", "none", None),
    ("PLAN-FAMILY-SEC", "plan", "全家享亲情副卡", "Family plan secondary card", 1000, "month", "end_of_cycle", "none", None),
    ("PLAN-8", "plan", "8元保号套餐", "8 Keep-my-number plan", 800, "month", "end_of_cycle", "none", None),
    ("PLAN-BIZ-19", "plan", "19元行业通话卡", "19 Business calling plan", 1900, "month", "end_of_cycle", "none", None),
    ("VAS-CRBT", "vas", "彩铃", "Ringback tone", 500, "month", "end_of_cycle", "none", None),
    ("VAS-VCRBT", "vas", "视频彩铃", "Video ringback tone", 600, "month", "end_of_cycle", "none", None),
    ("VAS-NEWS", "vas", "手机报", "Mobile newspaper", 300, "month", "end_of_cycle", "none", None),
    ("VAS-DATA-10G", "vas", "10GB流量加油包", "10 GB data booster", 1000, "month", "immediate", "prorated", None),
    ("MEM-VIDEO", "membership", "腾讯视频会员", "Tencent Video membership", 1500, "month", "end_of_cycle", "none", "腾讯视频"),
    ("MEM-IQIYI", "membership", "爱奇艺黄金视频会员", "iQIYI Gold video membership", 1900, "month", "end_of_cycle", "none", "爱奇艺"),
    ("MEM-MUSIC", "membership", "咪咕音乐会员", "Migu Music membership", 1500, "month", "end_of_cycle", "none", "咪咕音乐"),
    ("MEM-CLOUD", "membership", "云盘会员年卡", "Cloud drive membership (yearly)", 8800, "year", "immediate", "prorated", "百度网盘"),
]

# id, name, (document type, number), login msisdn, service password, what to try
PEOPLE = [
    ("C001", "张伟", ("cn_ric", _resident_id("110105", "19860314", 217)), "13800138000", "135790",
     "clean line: close it, unsubscribe VAS (the 10GB data booster refunds pro rata), cancel a membership renewal"),
    ("C002", "李娜", ("cn_ric", _resident_id("420106", "19910722", 46)), "13971208650", "246802",
     "blocked by arrears of ¥86.50 (ARREARS)"),
    ("C003", "王强", ("cn_ric", _resident_id("440305", "19831102", 135)), "18675523017", "802413",
     "contract runs ~7 more months and blocks closure (CONTRACT_LOCK)"),
    ("C004", "刘洋", ("cn_ric", _resident_id("510107", "19940518", 71)), "15982036614", "517320",
     "contract may be ended early for a ¥200.00 fee, shown in the impact"),
    ("C005", "陈静", ("cn_ric", _resident_id("330106", "19830227", 64)), "13957106688", "660188",
     "family plan primary with 2 active secondary cards (SECONDARY_LINES); the secondaries close fine"),
    ("C006", "杨帆", ("cn_ric", _resident_id("310115", "19951203", 51)), "13817659302", "930217",
     "number-portability order in flight (PORT_OUT_PENDING)"),
    ("C007", "赵敏", ("cn_ric", _resident_id("320106", "19900416", 22)), "18951772046", "416022",
     "unpaid phone instalments of ¥1,249.00 (INSTALLMENT_DUE)"),
    ("C008", "黄磊", ("cn_ric", _resident_id("370202", "19880808", 313)), "13655321789", "880808",
     "bank, payment and social accounts bound to the number (BOUND_ACCOUNTS warning)"),
    ("C009", "周婷", ("cn_ric", _resident_id("610113", "19980125", 168)), "18729035512", "125168",
     "¥30.00 gifted credit is forfeited on closure (GIFT_BALANCE_FORFEIT warning)"),
    ("C010", "吴昊", ("cn_ric", _resident_id("430104", "20010630", 95)), "19973140628", "630095",
     "music membership renews tomorrow (RENEWAL_IMMINENT): cancel the renewal in time"),
    ("C011", "徐丽", ("cn_ric", _resident_id("210202", "19931012", 86)), "15140927735", "101286",
     "second card 17640981152 was never activated: closing it shows LINE_NOT_ACTIVE"),
    ("C012", "Daniel Weber", ("passport", "C8KLF2T9R"), "18601326580", "742913",
     "passport holder with ¥800 balance: closing refunds over ¥500, so a person reviews it"),
    ("C013", "林志强", ("cn_ric", _resident_id("350102", "19840321", 11)), "13905912876", "321011",
     "enterprise admin of 福州闽信通电销服务有限公司: batch-close its 50 cards (3 cannot close)"),
]

ENTERPRISE = {"id": "E001", "name": "福州闽信通电销服务有限公司",
              "uscc": _credit_code("91350102MA34QH7E5")}
FLEET_SIZE = 50
FLEET_ARREARS, FLEET_PORT_OUT, FLEET_CONTRACT = 8, 21, 37  # 1-based positions in the fleet

DEMO_LOGINS: list[dict] = [
    {"msisdn": msisdn, "name": name, "id_last6": doc[1][-6:].upper(),
     "service_password": password, "scenario": scenario}
    for _cid, name, doc, msisdn, password, scenario in PEOPLE
]
DEMO_ENTERPRISE_ADMIN: dict = {"msisdn": "13905912876", "name": "林志强", "enterprise_id": ENTERPRISE["id"]}


def _fleet_msisdn(i: int) -> str:
    """A block of consecutive numbers bought together (18659101001…18659101050)."""
    return f"1865910{1000 + i:04d}"


def build_demo_document(today: date) -> dict:
    """The demo import document, dated so that every cycle contains `today`."""
    first = today.replace(day=1)
    month = (first, add_months(first, 1))  # plans and VAS: calendar month

    def anniversary(days_ago: int) -> tuple[date, date]:
        """A monthly cycle that began `days_ago` days ago (memberships bill on the sign-up day)."""
        start = today - timedelta(days=days_ago)
        return start, add_months(start, 1)

    def yearly(days_ago: int) -> tuple[date, date]:
        start = today - timedelta(days=days_ago)
        return start, add_months(start, 12)

    tomorrow = today + timedelta(days=1)
    ends_tomorrow = (add_months(tomorrow, -1), tomorrow)

    lines: list[dict] = []
    subscriptions: list[dict] = []
    passwords = {cid: pw for cid, _n, _d, _m, pw, _s in PEOPLE}

    def line(msisdn: str, cid: str, *, password: str | None = None, status: str = "active",
             cash: int = 0, gift: int = 0, deposit: int = 0, unbilled: int = 0, arrears: int = 0,
             installment_due: int = 0, primary: str | None = None, port_out: bool = False,
             contract: dict | None = None, bindings: list | None = None) -> None:
        record = {"msisdn": msisdn, "customer_id": cid, "status": status,
                  "service_password": password or passwords[cid],
                  "cash_balance": cash, "gift_balance": gift, "deposit": deposit,
                  "unbilled_usage": unbilled, "arrears": arrears,
                  "primary_msisdn": primary, "port_out_pending": port_out,
                  "contract": contract, "bindings": bindings or []}
        if installment_due:
            record["installment_due"] = installment_due
        lines.append(record)

    def sub(msisdn: str, product: str, period: tuple[date, date], *, auto_renew: bool = True,
            started_on: date | None = None, usage: dict | None = None) -> None:
        record = {"id": f"S-{msisdn}-{product}", "msisdn": msisdn, "product": product,
                  "period_start": period[0].isoformat(), "period_end": period[1].isoformat(),
                  "auto_renew": auto_renew}
        if started_on is not None:
            record["started_on"] = started_on.isoformat()
        if usage:
            record["usage"] = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in usage.items()}
        subscriptions.append(record)

    # C001 张伟 — the clean line, with something of every kind on it; plus a keep-number card.
    line("13800138000", "C001", cash=4580, unbilled=1260)
    sub("13800138000", "PLAN-58", month, started_on=add_months(first, -26))
    sub("13800138000", "VAS-CRBT", month, started_on=add_months(first, -14),
        usage={"last_used_on": today - timedelta(days=64)})  # what the portal suggests stopping
    sub("13800138000", "VAS-DATA-10G", month, auto_renew=False)
    sub("13800138000", "MEM-VIDEO", anniversary(12), started_on=add_months(today - timedelta(days=12), -13),
        usage={"last_used_on": today - timedelta(days=1), "previous_price": 1200,
               "price_changed_on": today - timedelta(days=12)})
    sub("13800138000", "MEM-MUSIC", anniversary(3),  # signed up 3 days ago, after a 7-day trial
        usage={"trial_ended_on": today - timedelta(days=3)})
    cloud = yearly(100)
    sub("13800138000", "MEM-CLOUD", cloud, started_on=add_months(cloud[0], -12),
        usage={"last_used_on": today - timedelta(days=97)})
    line("15001186420", "C001", cash=1650, unbilled=0)
    sub("15001186420", "PLAN-8", month)

    # C002 李娜 — ARREARS.
    line("13971208650", "C002", cash=0, unbilled=0, arrears=8650)
    sub("13971208650", "PLAN-58", month)
    sub("13971208650", "VAS-CRBT", month)

    # C003 王强 — CONTRACT_LOCK (合约机, 24-month term).
    line("18675523017", "C003", cash=2300, unbilled=900,
         contract={"ends_on": add_months(today, 7).isoformat(), "early_termination": "block"})
    sub("18675523017", "PLAN-58", month, started_on=add_months(first, -17))
    sub("18675523017", "VAS-NEWS", month)

    # C004 刘洋 — contract with an early-termination fee; balance covers it.
    line("15982036614", "C004", cash=26800, unbilled=1500,
         contract={"ends_on": add_months(today, 4).isoformat(), "early_termination": {"fee": 20000}})
    sub("15982036614", "PLAN-58", month)

    # C005 陈静 — family plan: primary with two active secondary cards (her children).
    line("13957106688", "C005", cash=6600, unbilled=2100)
    sub("13957106688", "PLAN-128-FAMILY", month)
    sub("13957106688", "MEM-VIDEO", anniversary(20))
    for secondary in ("13957106689", "13957106690"):
        line(secondary, "C005", primary="13957106688")
        sub(secondary, "PLAN-FAMILY-SEC", month)

    # C006 杨帆 — PORT_OUT_PENDING (携号转网 in progress).
    line("13817659302", "C006", cash=1200, unbilled=300, port_out=True)
    sub("13817659302", "PLAN-58", month)
    sub("13817659302", "MEM-IQIYI", anniversary(9))
    sub("13817659302", "MEM-VIDEO", anniversary(17))  # two video memberships: a duplicate to point out

    # C007 赵敏 — INSTALLMENT_DUE (phone bought on instalments).
    line("18951772046", "C007", cash=3500, unbilled=700, installment_due=124900)
    sub("18951772046", "PLAN-58", month)
    sub("18951772046", "VAS-CRBT", month)

    # C008 黄磊 — BOUND_ACCOUNTS (and a deposit, returned on closure).
    line("13655321789", "C008", cash=5200, deposit=10000, unbilled=600,
         bindings=[{"kind": "bank", "name": "招商银行"}, {"kind": "payment", "name": "支付宝"},
                   {"kind": "social", "name": "微信"}])
    sub("13655321789", "PLAN-58", month)
    sub("13655321789", "MEM-MUSIC", anniversary(15))

    # C009 周婷 — GIFT_BALANCE_FORFEIT (充100送30).
    line("18729035512", "C009", cash=8000, gift=3000, unbilled=1100)
    sub("18729035512", "PLAN-58", month)
    sub("18729035512", "VAS-VCRBT", month)
    sub("18729035512", "VAS-NEWS", month)

    # C010 吴昊 — RENEWAL_IMMINENT: the music membership renews tomorrow.
    line("19973140628", "C010", cash=3000, unbilled=500)
    sub("19973140628", "PLAN-58", month)
    sub("19973140628", "MEM-MUSIC", ends_tomorrow, started_on=add_months(ends_tomorrow[0], -5))
    sub("19973140628", "MEM-IQIYI", anniversary(6))

    # C011 徐丽 — an active line to log in with, and a card that was never activated.
    line("15140927735", "C011", cash=2750, unbilled=430)
    sub("15140927735", "PLAN-58", month)
    sub("15140927735", "VAS-CRBT", month)
    line("17640981152", "C011", status="inactive")

    # C012 Daniel Weber — passport; ¥800 balance, so closing goes to manual review.
    line("18601326580", "C012", cash=80000, unbilled=2400)
    sub("18601326580", "PLAN-58", month)
    sub("18601326580", "VAS-DATA-10G", month, auto_renew=False)

    # C013 林志强 — enterprise admin, with a personal line of his own.
    line("13905912876", "C013", cash=3900, unbilled=820)
    sub("13905912876", "PLAN-58", month)

    # E001 — a telemarketing company's fleet of 50 cards; 3 cannot close.
    for i in range(1, FLEET_SIZE + 1):
        msisdn = _fleet_msisdn(i)
        blocked = {
            FLEET_ARREARS: {"cash": 0, "unbilled": 0, "arrears": 4320},
            FLEET_PORT_OUT: {"port_out": True},
            FLEET_CONTRACT: {"contract": {"ends_on": add_months(today, 5).isoformat(),
                                          "early_termination": "block"}},
        }.get(i, {})
        money = {"cash": 1000 + (i * 370) % 2000, "unbilled": (i * 53) % 800}
        line(msisdn, ENTERPRISE["id"], password=f"{(i * 7919) % 1000000:06d}", **{**money, **blocked})
        sub(msisdn, "PLAN-BIZ-19", month, started_on=add_months(first, -8))

    products = [
        {"code": code, "kind": kind, "name": {"zh": zh, "en": en}, "price": price, "period": period,
         "unsubscribe_effect": effect, "refund": refund, "partner": partner}
        for code, kind, zh, en, price, period, effect, refund, partner in PRODUCTS
    ]
    customers = [
        {"id": cid, "kind": "person", "name": name, "id_document": {"type": doc[0], "number": doc[1]}}
        for cid, name, doc, _m, _p, _s in PEOPLE
    ]
    customers.append({
        "id": ENTERPRISE["id"], "kind": "enterprise", "name": ENTERPRISE["name"],
        "id_document": {"type": "cn_uscc", "number": ENTERPRISE["uscc"]},
        "admins": [{"msisdn": DEMO_ENTERPRISE_ADMIN["msisdn"], "name": DEMO_ENTERPRISE_ADMIN["name"]}],
    })
    return {"products": products, "customers": customers, "lines": lines, "subscriptions": subscriptions}
