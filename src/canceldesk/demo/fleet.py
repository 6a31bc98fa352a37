"""The demo's large fleet: a logistics company with 1,000 lines, and the CSV an admin uploads to
close all of them in the enterprise console (docs/demo/fleet-1000.csv, this module's `csv_text`).

Loaded by `make demo` after the main demo document (demo/load.py), as its own small import, so the
tests that load the main document do not pay for 1,000 more lines. Lines 250, 500 and 750 have
arrears: they are reported as not closed, each with its reason; the other 997 close.

    python -m canceldesk.demo.fleet > docs/demo/fleet-1000.csv     # regenerate the file
"""
from __future__ import annotations

import sys
from datetime import date

from .data import _credit_code, add_months

FLEET_ENTERPRISE = {"id": "E100", "name": "厦门鹭岛速运物流有限公司", "uscc": _credit_code("91350203MA8RWT2K6")}
FLEET_ADMIN = {"msisdn": "13905920168", "name": "陈建华", "enterprise_id": "E100"}
FLEET_LINES = 1000
FLEET_BLOCKED = (250, 500, 750)  # 1-based: arrears of ¥25.80
CSV_PATH = "docs/demo/fleet-1000.csv"


def fleet_msisdn(i: int) -> str:
    """Numbers bought in one block: 18659200001 … 18659201000."""
    return f"1865920{i:04d}"


def build_fleet_document(today: date) -> dict:
    first = today.replace(day=1)
    month = (first.isoformat(), add_months(first, 1).isoformat())
    lines, subscriptions = [], []
    for i in range(1, FLEET_LINES + 1):
        msisdn = fleet_msisdn(i)
        blocked = i in FLEET_BLOCKED
        lines.append({"msisdn": msisdn, "customer_id": FLEET_ENTERPRISE["id"], "status": "active",
                      "service_password": f"{(i * 7877) % 1000000:06d}",
                      "cash_balance": 0 if blocked else 500 + (i * 131) % 1500, "gift_balance": 0, "deposit": 0,
                      "unbilled_usage": 0 if blocked else (i * 37) % 400, "arrears": 2580 if blocked else 0,
                      "primary_msisdn": None, "port_out_pending": False, "contract": None, "bindings": []})
        subscriptions.append({"id": f"S-{msisdn}-PLAN-BIZ-19", "msisdn": msisdn, "product": "PLAN-BIZ-19",
                              "period_start": month[0], "period_end": month[1], "auto_renew": True})
    customers = [{"id": FLEET_ENTERPRISE["id"], "kind": "enterprise", "name": FLEET_ENTERPRISE["name"],
                  "id_document": {"type": "cn_uscc", "number": FLEET_ENTERPRISE["uscc"]},
                  "admins": [{"msisdn": FLEET_ADMIN["msisdn"], "name": FLEET_ADMIN["name"]}]}]
    return {"customers": customers, "lines": lines, "subscriptions": subscriptions}


def csv_text() -> str:
    """The upload: a header row (号码) and the 1,000 numbers, one per row."""
    return "号码\n" + "".join(f"{fleet_msisdn(i)}\n" for i in range(1, FLEET_LINES + 1))


if __name__ == "__main__":
    sys.stdout.write(csv_text())
