"""Receipts (凭证): a tracking number, what ended and when, the ledger lines, and a signed
verification code anyone can check without seeing personal data."""
from __future__ import annotations

import re

from canceldesk.domain import localtime
from canceldesk.domain.identifiers import mask_msisdn
from canceldesk.domain.present import localize

from .errors import NotFound
from .principal import Principal
from .requests import owned_request

_CODE = re.compile(r"^[A-Z2-7]{5}-?[A-Z2-7]{5}$")
OPERATOR = {"zh": "canceldesk 演示运营商", "en": "canceldesk demo operator"}


# A code is 50 bits of a signature of the tracking number: among 10 million receipts, two share one with a
# probability of ~4% (the birthday bound).
# The receipt that finds its code taken signs the next variant instead (`receipt:<no>:1`, …); without this,
# its request could never complete — its code, derived again on every retry, would always be taken.
CODE_VARIANTS = 3


def _signed(tracking_no: str, variant: int) -> str:
    return f"receipt:{tracking_no}" + (f":{variant}" if variant else "")


def verification_code(c, tracking_no: str, variant: int = 0) -> str:
    sig = c.keyring.sign(_signed(tracking_no, variant), 10)
    return f"{sig[:5]}-{sig[5:]}"


def _untaken(c, uow, req, code: str) -> str:
    """`code`, or the first variant no other request's receipt holds."""
    for variant in range(1, CODE_VARIANTS + 1):
        row = uow.repo.receipt_by_code(code)
        if row is None or row["request_id"] == req.id:
            return code
        code = verification_code(c, req.tracking_no, variant)
    return code


def issue(c, uow, req, now, steps: dict | None = None, existing: str | None = None,
          check_taken: bool = True) -> dict:
    """Write the receipt once (the step is idempotent: an existing receipt is kept). The engine
    passes the step log and the group's already-issued codes it loaded (no query per request), and
    `check_taken` only for a request run alone: a group whose write met a taken code is rolled back
    and run one request at a time (engine.py), where the code is checked and a variant signed."""
    if existing is None and steps is None:
        row = uow.repo.receipt(req.id)
        existing = row["verification_code"] if row else None
    if existing is not None:
        return {"verification_code": existing}
    code = verification_code(c, req.tracking_no)
    if check_taken:
        code = _untaken(c, uow, req, code)
    steps = uow.repo.steps(req.id) if steps is None else steps
    settle = (steps["settle"].result or {}) if "settle" in steps else {}
    ends = req.impact.get("ends", [])
    body = {
        "tracking_no": req.tracking_no, "kind": req.kind, "msisdn_masked": mask_msisdn(req.msisdn),
        "subscription_id": req.subscription_id, "ends": ends, "requested_at": req.created_at.isoformat(),
        "completed_at": now.isoformat(), "refund": {"amount": settle.get("refund", 0), "currency": settle.get("currency", "CNY"),
                                                    "lines": settle.get("refund_lines", [])},
        "fees": settle.get("fees", []), "gift_forfeited": settle.get("gift_forfeited", 0),
        "frozen_until": (steps["freeze_number"].result or {}).get("frozen_until") if "freeze_number" in steps else None,
        "channel": req.channel, "issuer": "canceldesk",
    }
    uow.repo.add_receipt(request_id=req.id, tracking_no=req.tracking_no, verification_code=code, issued_at=now, body=body)
    return {"verification_code": code}


def receipt_for(c, principal: Principal, tracking_no: str, lang: str = "zh") -> dict:
    """The receipt as its reader sees it: times local to the pack, words in the reader's language,
    and who issued it. The ledger (account names) is for the back office: `ledger` is kept here for
    the auditor's copy and left out of the subscriber's PDF."""
    tz = c.pack.timezone
    with c.uow() as uow:
        req = owned_request(uow, principal, tracking_no)
        row = uow.repo.receipt(req.id)
        if row is None:
            raise NotFound(f"request {req.tracking_no} is '{req.status}': a receipt exists once it is completed",
                           code="RECEIPT_NOT_READY")
        ledger = [{"settlement": e["settlement"], "account": e["account"], "amount": e["amount"],
                   "currency": e["currency"], "memo": e["memo"]} for e in uow.repo.ledger_of(req.id)]
        payment = uow.repo.payment(f"{req.id}:refund")
        body = localize(row["body"], lang)
        body["refund_method"] = (payment or {}).get("method") or "original"
        for key in ("requested_at", "completed_at", "frozen_until"):
            body[key] = localtime.iso(body.get(key), tz)
        return {**body, "status": req.status, "verification_code": row["verification_code"],
                "issued_at": localtime.iso(row["issued_at"], tz), "ledger": ledger, "timezone": tz,
                "operator": c.settings.operator_name or OPERATOR["en" if lang.startswith("en") else "zh"],
                "timeline": [{**t.as_dict(), "at": localtime.iso(t.at, tz)} for t in req.timeline]}


def verify(c, code: str) -> dict:
    """Public: {"genuine": true, …} for a real code, {"genuine": false} for anything else."""
    norm = "".join(str(code or "").split()).upper()  # as typed: "abcde fghij" is the same code
    if not _CODE.match(norm):
        return {"genuine": False}
    if "-" not in norm:
        norm = f"{norm[:5]}-{norm[5:]}"
    with c.uow() as uow:
        row = uow.repo.receipt_by_code(norm)
        # Signed by the current key or an old one still configured (codes are printed: never re-signed).
        if row is None or not any(c.keyring.verify_signature(_signed(row["tracking_no"], v), norm.replace("-", ""), 10)
                                  for v in range(CODE_VARIANTS + 1)):
            return {"genuine": False}
        body = row["body"]
        return {"genuine": True, "tracking_no": row["tracking_no"], "kind": body["kind"],
                "completed_at": localtime.iso(body["completed_at"], c.pack.timezone),
                "issued_at": localtime.iso(row["issued_at"], c.pack.timezone),
                "issuer": body.get("issuer", "canceldesk")}  # no personal data, not even a masked number
