"""Receipts (凭证): a tracking number, what ended and when, the ledger lines, and a signed
verification code anyone can check without seeing personal data."""
from __future__ import annotations

import re

from canceldesk.domain.identifiers import mask_msisdn

from .errors import NotFound
from .principal import Principal
from .requests import owned_request

_CODE = re.compile(r"^[A-Z2-7]{5}-?[A-Z2-7]{5}$")


def verification_code(c, tracking_no: str) -> str:
    sig = c.keyring.sign(f"receipt:{tracking_no}", 10)
    return f"{sig[:5]}-{sig[5:]}"


def issue(c, uow, req, now, steps: dict | None = None, existing: str | None = None) -> dict:
    """Write the receipt once (the step is idempotent: an existing receipt is kept). The engine
    passes the step log and the group's already-issued codes it loaded (no query per request)."""
    if existing is None and steps is None:
        row = uow.repo.receipt(req.id)
        existing = row["verification_code"] if row else None
    if existing is not None:
        return {"verification_code": existing}
    code = verification_code(c, req.tracking_no)
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


def receipt_for(c, principal: Principal, tracking_no: str) -> dict:
    with c.uow() as uow:
        req = owned_request(uow, principal, tracking_no)
        row = uow.repo.receipt(req.id)
        if row is None:
            raise NotFound(f"request {req.tracking_no} is '{req.status}': a receipt exists once it is completed",
                           code="RECEIPT_NOT_READY")
        ledger = [{"settlement": e["settlement"], "account": e["account"], "amount": e["amount"],
                   "currency": e["currency"], "memo": e["memo"]} for e in uow.repo.ledger_of(req.id)]
        return {**row["body"], "status": req.status, "verification_code": row["verification_code"],
                "issued_at": row["issued_at"].isoformat(), "ledger": ledger,
                "timeline": [t.as_dict() for t in req.timeline]}


def verify(c, code: str) -> dict:
    """Public: {"genuine": true, …} for a real code, {"genuine": false} for anything else."""
    norm = (code or "").strip().upper()
    if not _CODE.match(norm):
        return {"genuine": False}
    if "-" not in norm:
        norm = f"{norm[:5]}-{norm[5:]}"
    with c.uow() as uow:
        row = uow.repo.receipt_by_code(norm)
        # Signed by the current key or an old one still configured (codes are printed: never re-signed).
        if row is None or not c.keyring.verify_signature(f"receipt:{row['tracking_no']}", norm.replace("-", ""), 10):
            return {"genuine": False}
        body = row["body"]
        return {"genuine": True, "tracking_no": row["tracking_no"], "kind": body["kind"],
                "completed_at": body["completed_at"], "issued_at": row["issued_at"].isoformat(),
                "issuer": body.get("issuer", "canceldesk")}  # no personal data, not even a masked number
