"""Import: 100,000 lines with subscriptions from JSON Lines — seconds, rows/s and peak RSS —
against the ceiling of a raw bulk insert of the same rows into the same (SQLite) database.

Each side runs in a fresh child process so its peak RSS is its own. Targets: <= 60 s, <= 300 MB.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap

N = int(os.environ.get("BENCH_IMPORT_N", "100000"))

CHILD_IMPORT = textwrap.dedent("""
    import json, resource, sys, time
    sys.path.insert(0, sys.argv[3])
    from common import fresh_container
    from canceldesk.service_layer import importer
    c = fresh_container(sys.argv[1], queue_url="none")
    t0 = time.perf_counter()
    report = importer.import_path(c, sys.argv[2])
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "report": {k: v for k, v in report.items() if k != "seconds"}}))
""")

CHILD_RAW = textwrap.dedent("""
    import json, resource, sys, time
    sys.path.insert(0, sys.argv[3])
    from sqlalchemy import insert
    from common import fresh_container
    from canceldesk.adapters import orm
    c = fresh_container(sys.argv[1], queue_url="none")
    recs = {"product": [], "customer": [], "line": [], "subscription": []}
    with open(sys.argv[2], encoding="utf-8") as f:
        for raw in f:
            r = json.loads(raw)
            recs[r.pop("type")].append(r)
    t0 = time.perf_counter()
    rows = {
        "products": [{"code": p["code"], "kind": p["kind"], "name_zh": p["name"]["zh"], "name_en": p["name"]["en"],
                      "price": p["price"], "currency": "CNY", "period": p["period"], "unsubscribe_effect": p["unsubscribe_effect"],
                      "refund": p["refund"], "partner": p.get("partner")} for p in recs["product"]],
        "customers": [{"id": x["id"], "kind": x["kind"], "name": x["name"], "id_doc_type": x["id_document"]["type"],
                       "id_doc_number": x["id_document"]["number"], "id_doc_digest": x["id_document"]["number"]} for x in recs["customer"]],
        "lines": [{"msisdn": l["msisdn"], "customer_id": l["customer_id"], "status": l["status"], "cash_balance": l.get("cash_balance", 0),
                   "gift_balance": l.get("gift_balance", 0), "deposit": 0, "unbilled_usage": 0, "arrears": 0, "installment_due": 0,
                   "port_out_pending": False, "contract_fee": 0, "bindings": l.get("bindings") or [], "currency": "CNY", "version": 1}
                  for l in recs["line"]],
        "subscriptions": [{"id": s["id"], "msisdn": s["msisdn"], "product_code": s["product"], "period_start": __import__("datetime").date.fromisoformat(s["period_start"]),
                           "period_end": __import__("datetime").date.fromisoformat(s["period_end"]), "auto_renew": s["auto_renew"],
                           "status": "active", "renewal_postponed": False} for s in recs["subscription"]],
    }
    with c.engine.begin() as conn:
        for table in ("products", "customers", "lines", "subscriptions"):
            data = rows[table]
            for k in range(0, len(data), 5000):
                conn.execute(insert(orm.metadata.tables[table]), data[k:k + 5000])
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""")


def _child(code: str, url: str, feed: str) -> dict:
    here = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run([sys.executable, "-c", code, url, feed, here], capture_output=True, text=True, timeout=900,
                         env={**os.environ, "CANCELDESK_LOG_LEVEL": "WARNING"})
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(results: list, n: int = N) -> None:
    from canceldesk.service_layer.import_fixtures import generate_jsonl
    with tempfile.TemporaryDirectory() as d:
        feed = os.path.join(d, "feed.jsonl")
        generate_jsonl(feed, n)
        size_mb = os.path.getsize(feed) / 1e6
        imp = _child(CHILD_IMPORT, f"sqlite:///{d}/import.db", feed)
        raw = _child(CHILD_RAW, f"sqlite:///{d}/raw.db", feed)
    rows = n
    results.append({"name": f"import_{n // 1000}k_lines_jsonl_sqlite", "unit": "lines/s", "value": round(rows / imp["seconds"], 1),
                    "baseline": round(rows / raw["seconds"], 1), "ratio": round(raw["seconds"] / imp["seconds"], 3),
                    "seconds": round(imp["seconds"], 1), "peak_rss_mb": round(imp["rss_mb"], 1),
                    "notes": f"{n} lines + one subscription each + their customers ({size_mb:.0f} MB JSON Lines), "
                             f"validated whole, then written in one transaction; baseline = raw executemany insert of "
                             f"the same rows (no validation, no encryption, no hashing) in a fresh process, "
                             f"{raw['seconds']:.1f} s, peak RSS {raw['rss_mb']:.0f} MB. Targets: <= 60 s, <= 300 MB. "
                             f"Counts: {imp['report']}"})


if __name__ == "__main__":
    out: list = []
    run(out, int(os.environ.get("BENCH_IMPORT_N", "20000")))
    print(json.dumps(out, indent=1, ensure_ascii=False))
