"""Errors the domain names for the layers around it."""
from __future__ import annotations


class IntegrityConflict(Exception):
    """The store refused a write that breaks one of its rules — one open request per target, one
    request per idempotency key. Raised by a unit of work's `flush`; the use case answers 409."""
