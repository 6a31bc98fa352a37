"""Unit of work: one transaction per use case; repositories never commit, handlers do.

The service layer depends on the port (`ports.UnitOfWork`); the SQL implementation lives in
adapters/sql_uow.py and bootstrap wires it with `hooks()` — what every transaction does for the
service layer: write the audit rows of its request transitions and recorded events right before COMMIT.
"""
from __future__ import annotations

from . import audit
from .ports import UnitOfWork as UnitOfWork  # re-exported: the port


def hooks() -> dict:
    return {"before_commit": audit.before_commit}
