"""Fleet closure by file: an enterprise admin uploads a CSV of numbers (one per row, first column).

Every row is validated — a mobile number, a line of this company, not listed twice — and the
errors are listed by row; nothing is created until the file is clean. A clean file becomes an
ordinary batch (batches.py): pre-checked, then closed on the admin's word, resumable after a
restart. The results download in Chinese: 序号, 号码, …, amounts in yuan, times in the pack's
local time; a line that did not close shows no refund.
"""
from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

from . import batches, requests
from .errors import InvalidInput
from .principal import Principal

MAX_ROWS = 100_000
MAX_ERRORS_SHOWN = 200
HEADER_WORDS = ("msisdn", "number", "phone", "号码", "手机号", "手机号码", "电话")


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidInput("the file is not text (save it as CSV, UTF-8 or GBK)", code="NOT_CSV")


def parse(c, principal: Principal, data: bytes) -> tuple[list[str], list[dict]]:
    """The numbers in file order, and the errors by row (1-based, as a spreadsheet counts)."""
    ent = batches._enterprise_of(principal)
    text = _decode(data)
    rows = list(csv.reader(io.StringIO(text)))
    numbers: list[tuple[int, str]] = []
    errors: list[dict] = []
    seen: dict[str, int] = {}
    for row_no, row in enumerate(rows, start=1):
        cell = (row[0] if row else "").strip()
        if not cell or (row_no == 1 and cell.lower() in HEADER_WORDS):
            continue
        try:
            n = requests.parse_msisdn(cell)
        except InvalidInput:
            errors.append({"row": row_no, "value": cell[:20], "code": "NOT_A_NUMBER", "message": "not a mobile number"})
            continue
        if n in seen:
            errors.append({"row": row_no, "value": n, "code": "DUPLICATE",
                           "message": f"listed twice (first on row {seen[n]})"})
            continue
        seen[n] = row_no
        numbers.append((row_no, n))
    if len(numbers) > MAX_ROWS:
        raise InvalidInput(f"at most {MAX_ROWS} numbers in one file", code="TOO_MANY_LINES")
    with c.uow() as uow:
        mine = uow.batches.owned_lines(ent, [n for _, n in numbers])
    for row_no, n in numbers:
        if n not in mine:  # another company's line reads exactly like one that does not exist
            errors.append({"row": row_no, "value": n, "code": "NOT_OURS", "message": "not a line of this company"})
    errors.sort(key=lambda e: e["row"])
    return [n for _, n in numbers], errors


def upload(c, principal: Principal, data: bytes, reason: str | None = None) -> dict:
    """A clean file becomes a batch (pre-checks run next); a file with errors changes nothing."""
    numbers, errors = parse(c, principal, data)
    if errors:
        raise InvalidInput(f"{len(errors)} row(s) need fixing; nothing was started",
                           {"errors": errors[:MAX_ERRORS_SHOWN], "count": len(errors)}, code="UPLOAD_INVALID")
    if not numbers:
        raise InvalidInput("the file lists no numbers", code="NO_LINES")
    return batches.create(c, principal, numbers, reason=reason, limit=MAX_ROWS)


RESULT_ZH = {"completed": "已销户", "rejected": "未通过", "failed": "失败（已转人工）", "withdrawn": "已撤回",
             "running": "处理中", "not_submitted": "未提交", "error": "出错"}
PRECHECK_ZH = {None: "待预检", True: "可办理", False: "有阻断"}
CSV_HEADERS_ZH = ["序号", "号码", "预检", "阻断原因", "受理单号", "结果", "原因代码", "退款（元）", "完成时间"]


def _yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def results_csv_zh(c, principal: Principal, batch_id: str) -> str:
    """Per-line results for people: Chinese headers, local times, yuan; a refund only where the line closed."""
    tz = ZoneInfo(c.pack.timezone)
    out = io.StringIO()
    out.write("\ufeff")  # Excel opens UTF-8 CSV correctly only with the byte-order mark
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(CSV_HEADERS_ZH[:-1] + [f"完成时间（{c.pack.timezone}）"])
    page, pages = 1, 1
    while page <= pages:
        res = batches.results(c, principal, batch_id, page=page, size=500)
        pages = res["pages"]
        for r in res["rows"]:
            done = r["result"] == "completed"
            refund = _yuan(r["refund"]) if done and r["refund"] is not None else ""
            at = datetime.fromisoformat(r["completed_at"]).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") \
                if r["completed_at"] else ""
            w.writerow([r["position"], r["msisdn"], PRECHECK_ZH[r["eligible"]],
                        " ".join(b["code"] for b in r["blockers"]), r["tracking_no"] or "",
                        RESULT_ZH.get(r["result"], r["result"]), " ".join(r["reason_codes"]), refund, at])
        page += 1
    return out.getvalue()
