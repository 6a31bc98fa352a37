"""A realistic, deterministic JSON Lines feed for import benchmarks and tests.

`generate_jsonl(path, n_lines, seed=0)` writes a few products, then the customers, then
`n_lines` lines, then one subscription per line — the order a CRM export usually has. Most
people have one number, some two or three (a few as family secondary cards); about one customer
in 500 is an enterprise with a fleet of 10–60 numbers and one or two admins. Numbers are valid
mainland mobile numbers (134–139, 150–153, 155–159, 180–189; unique by construction), resident
IDs carry a real area code, a birth date and the GB 11643 check character.

    python -m canceldesk.service_layer.import_fixtures FEED.jsonl 100000 [SEED]
"""
from __future__ import annotations

import json
import random
import sys
from datetime import date, timedelta

from stdnum.cn import ric, uscc

PREFIXES = [f"13{d}" for d in range(4, 10)] + ["150", "151", "152", "153", "155", "156", "157", "158", "159"] \
    + [f"18{d}" for d in range(10)]
AREAS = ["110105", "110108", "310115", "310104", "440305", "440106", "420106", "510107", "330106", "320106",
         "370202", "610113", "430104", "210202", "350102", "500103", "120101", "410105", "340104", "360102"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚华玉萍红玲芬燕彬鹏辉婷雪琳晨浩宇轩然涵欣怡萱俊思远"
COMPANY_WORDS = ["华信", "中联", "恒通", "瑞丰", "鼎盛", "汇通", "宏远", "天成", "嘉禾", "永安"]
COMPANY_KINDS = ["电销服务有限公司", "物流有限公司", "科技有限公司", "商贸有限公司", "网络科技有限公司"]
BINDINGS = [("bank", "招商银行"), ("bank", "工商银行"), ("bank", "建设银行"), ("payment", "支付宝"),
            ("payment", "微信支付"), ("social", "微信"), ("social", "QQ"), ("other", "12306")]
PRODUCTS = [
    {"code": "PLAN-58", "kind": "plan", "name": {"zh": "58元畅享套餐", "en": "58 Unlimited plan"}, "price": 5800},
    {"code": "PLAN-8", "kind": "plan", "name": {"zh": "8元保号套餐", "en": "8 Keep-my-number plan"}, "price": 800},
    {"code": "PLAN-128", "kind": "plan", "name": {"zh": "128元套餐", "en": "128 plan"}, "price": 12800},
    {"code": "PLAN-BIZ-19", "kind": "plan", "name": {"zh": "19元行业通话卡", "en": "19 Business plan"}, "price": 1900},
    {"code": "VAS-CRBT", "kind": "vas", "name": {"zh": "彩铃", "en": "Ringback tone"}, "price": 500},
    {"code": "MEM-VIDEO", "kind": "membership", "name": {"zh": "视频会员", "en": "Video membership"}, "price": 1500,
     "partner": "腾讯视频"},
]
_MSISDN_STEP = 48_271  # odd, not a multiple of 5: a bijection on 0..10^8-1


def msisdn_for(i: int, seed: int = 0) -> str:
    """The i-th number of a feed: distinct for distinct i (below 25 × 10^8)."""
    p, q = divmod(i, len(PREFIXES))[::-1]
    return PREFIXES[p] + f"{(q * _MSISDN_STEP + seed * 7_919 + 1_234_567) % 10**8:08d}"


_VALID_AREA_YEAR: dict[tuple[str, int], bool] = {}


def resident_id(rng: random.Random) -> str:
    while True:
        area, year = rng.choice(AREAS), rng.randint(1950, 2005)
        body = f"{area}{year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(1, 999):03d}"
        number = body + ric.calc_check_digit(body + "0")
        ok = _VALID_AREA_YEAR.get((area, year))
        if ok is None:
            ok = _VALID_AREA_YEAR[(area, year)] = ric.is_valid(number)
        if ok:
            return number


def credit_code(rng: random.Random) -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    base = "91" + rng.choice(AREAS) + "".join(rng.choice(alphabet) for _ in range(9))
    return base + uscc.calc_check_digit(base)


def _add_month(d: date) -> date:
    y, m = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    return date(y, m, 1)


def generate_jsonl(path: str, n_lines: int, seed: int = 0, today: date | None = None) -> dict:
    """Write the feed; returns how many records of each type it holds."""
    rng = random.Random(seed)
    today = today or date.today()
    month = (today.replace(day=1), _add_month(today.replace(day=1)))
    # Who owns which lines: (customer id, kind, number of lines), in line order.
    owners: list[tuple[str, str, int]] = []
    left, k = n_lines, 0
    while left > 0:
        k += 1
        if rng.random() < 0.002:
            kind, count = "enterprise", rng.randint(10, 60)
        else:
            kind, count = "person", rng.choices((1, 2, 3), (80, 15, 5))[0]
        count = min(count, left)
        owners.append((f"{'E' if kind == 'enterprise' else 'C'}{seed:02d}{k:07d}", kind, count))
        left -= count
    counts = {"product": 0, "customer": 0, "line": 0, "subscription": 0}
    with open(path, "w", encoding="utf-8") as out:
        def emit(rtype: str, rec: dict) -> None:
            counts[rtype] += 1
            out.write(json.dumps({"type": rtype, **rec}, ensure_ascii=False, separators=(",", ":")) + "\n")

        for p in PRODUCTS:
            emit("product", {**p, "period": "month", "unsubscribe_effect": "end_of_cycle", "refund": "none"})
        admin_no = n_lines
        for cid, kind, _count in owners:
            if kind == "person":
                name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
                emit("customer", {"id": cid, "kind": "person", "name": name,
                                  "id_document": {"type": "cn_ric", "number": resident_id(rng)}})
            else:
                admins = []
                for _ in range(rng.randint(1, 2)):
                    admins.append({"msisdn": msisdn_for(admin_no, seed),
                                   "name": rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)})
                    admin_no += 1
                name = rng.choice(["福州", "厦门", "杭州", "深圳", "成都"]) + rng.choice(COMPANY_WORDS) \
                    + rng.choice(COMPANY_KINDS)
                emit("customer", {"id": cid, "kind": "enterprise", "name": name,
                                  "id_document": {"type": "cn_uscc", "number": credit_code(rng)}, "admins": admins})
        i = 0
        plans: list[str] = []
        for cid, kind, count in owners:
            first = msisdn_for(i, seed)
            family = kind == "person" and count > 1 and rng.random() < 0.3
            for j in range(count):
                status = rng.choices(("active", "suspended", "inactive"), (95, 4, 1))[0]
                rec = {"msisdn": msisdn_for(i, seed), "customer_id": cid, "status": status,
                       "service_password": f"{rng.randrange(10**6):06d}" if rng.random() < 0.95 else None,
                       "cash_balance": rng.randrange(0, 20_000), "gift_balance": rng.choice((0, 0, 0, 1000, 3000)),
                       "deposit": 10_000 if rng.random() < 0.05 else 0, "unbilled_usage": rng.randrange(0, 3000),
                       "arrears": rng.randrange(100, 10_000) if status == "suspended" else 0,
                       "primary_msisdn": first if family and j > 0 else None,
                       "port_out_pending": rng.random() < 0.005, "contract": None,
                       "bindings": [dict(zip(("kind", "name"), b)) for b in rng.sample(BINDINGS, rng.randint(1, 3))]
                       if rng.random() < 0.3 else []}
                if rng.random() < 0.02:
                    rec["installment_due"] = rng.randrange(10_000, 300_000)
                if rng.random() < 0.08:
                    rec["contract"] = {"ends_on": (today + timedelta(days=rng.randint(30, 700))).isoformat(),
                                       "early_termination": "block" if rng.random() < 0.5
                                       else {"fee": rng.choice((5000, 10000, 20000))}}
                emit("line", rec)
                plans.append("PLAN-BIZ-19" if kind == "enterprise" else
                             rng.choices(("PLAN-58", "PLAN-8", "PLAN-128", "VAS-CRBT", "MEM-VIDEO"), (50, 15, 10, 10, 15))[0])
                i += 1
        for i, product in enumerate(plans):
            if product == "MEM-VIDEO":
                start = today - timedelta(days=rng.randint(0, 27))
                period = (start, start + timedelta(days=30))
            else:
                period = month
            emit("subscription", {"id": f"S{seed:02d}{i:08d}", "msisdn": msisdn_for(i, seed), "product": product,
                                  "period_start": period[0].isoformat(), "period_end": period[1].isoformat(),
                                  "auto_renew": rng.random() < 0.9})
    return counts


if __name__ == "__main__":  # pragma: no cover
    print(generate_jsonl(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 0))
