"""A batch's results as CSV for the API (`GET /v1/enterprise/batches/{id}/results.csv`): one row per line, in
the order the lines were chosen. The batch itself: batches.py."""
from __future__ import annotations

import csv
import io

from . import batches
from .principal import Principal


CSV_COLUMNS = ["position", "msisdn", "precheck", "blockers", "tracking_no", "result", "reason_codes",
               "refund_fen", "completed_at"]


def results_csv(c, principal: Principal, batch_id: str) -> str:
    """One row per line, in the order the lines were chosen."""
    with c.uow() as uow:
        b = batches._batch(uow, principal, batch_id)
        rows = [batches._result_row(r, c.pack.timezone) for r in uow.batches.results(b["id"], "")]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in rows:
        pre = "pending" if r["eligible"] is None else ("eligible" if r["eligible"] else "blocked")
        w.writerow([r["position"], r["msisdn"], pre, " ".join(x["code"] for x in r["blockers"]), r["tracking_no"] or "",
                    r["result"], " ".join(r["reason_codes"]), "" if r["refund"] is None else r["refund"],
                    r["completed_at"] or ""])
    return out.getvalue()
