"""The TMF error shape for every /tmf-api path: `{"code", "reason", "message", "status"}`.

The specification lists 400, 401, 403, 404, 405, 409 and 500 for its operations, so a request
that does not validate (422 elsewhere in this API) is a 400 here.
"""
from __future__ import annotations

PREFIX = "/tmf-api/"


def is_tmf(path: str) -> bool:
    return path.startswith(PREFIX)


def shape(status: int, code: str, message: str, details=None) -> tuple[int, dict]:
    status = 400 if status == 422 else status
    text = message
    if isinstance(details, list) and details and isinstance(details[0], dict) and "field" in details[0]:
        text = message  # the field list is already summarised in the message
    elif isinstance(details, dict) and details.get("field"):
        text = f"{message} (field: {details['field']})"
    return status, {"code": code, "reason": message, "message": text, "status": str(status)}
