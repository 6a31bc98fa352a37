"""Logs never carry personal data or secrets: a redactor applied to every log record.

What it removes, wherever it appears in a message, its arguments or a traceback:

* mainland mobile numbers (11 digits starting with 1, also written +86 / 0086 / with spaces or
  dashes) → masked like `138****8000`;
* resident ID numbers (17 digits + check character) → `110************02X` (identifiers.mask_id);
* bearer tokens and other long random strings (40+ URL-safe characters), `Bearer …`;
* `password=…`, `otp: …`, `"token": "…"` and similar key/value pairs → `password=***`;
* any standalone 6-digit number (what an OTP or a service password looks like) → `******`.

`install()` (called by bootstrap) wraps the log-record factory, so every handler — ours,
uvicorn's, pytest's — sees the redacted record. `RedactingFilter` / `RedactingFormatter` do the
same for a handler configured elsewhere.
"""
from __future__ import annotations

import logging
import re

from canceldesk.domain.identifiers import mask_id

_SEP = r"[ \-]?"
_MOBILE = re.compile(r"(?<![\dA-Za-z])(?:(?:\+|00)?86[ \-]?)?(1[3-9]\d)" + _SEP + r"(\d{4})" + _SEP + r"(\d{4})(?!\d)")
_RESIDENT_ID = re.compile(r"(?<![\dA-Za-z])(\d{6})(\d{8})(\d{3}[\dXx])(?![\dA-Za-z])")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
_LONG_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{40,}(?![A-Za-z0-9_-])")
_SECRET_KV = re.compile(
    r"(?i)([\"']?\b(?:password|passwd|service_password|otp|code|token|secret|id_last6|authorization|cookie)"
    r"[\"']?\s*[:=]\s*[\"']?)([^\s\"',;&}]+)")
_SIX_DIGITS = re.compile(r"(?<![\d.:\-*])\d{6}(?![\d*])")
_KEEP_ARGS = frozenset({"uvicorn.access"})


def redact(text: str) -> str:
    if not text:
        return text
    text = _BEARER.sub(r"\1***", text)
    text = _SECRET_KV.sub(r"\1***", text)
    text = _RESIDENT_ID.sub(lambda m: mask_id(m.group(0)), text)
    text = _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    text = _LONG_TOKEN.sub("***", text)
    text = _SIX_DIGITS.sub("******", text)
    return text


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Render the message, redact it, and freeze it (args cleared) — idempotent."""
    if getattr(record, "_canceldesk_redacted", False):
        return record
    if record.name in _KEEP_ARGS and isinstance(record.args, tuple):
        # uvicorn's access formatter unpacks the args: keep their shape, redact the texts
        record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
    else:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not break logging
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    record._canceldesk_redacted = True
    return record


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


_installed = False


def install() -> None:
    """Redact every record at creation, for every logger and handler (idempotent)."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        return redact_record(previous(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    _installed = True
