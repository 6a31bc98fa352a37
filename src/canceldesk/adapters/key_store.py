"""Key rotation's storage (service_layer/ports.py: KeyStore), in SQL: every `Encrypted` column's raw
tokens, re-written through the type (which encrypts under the current key on the way in), and the
customers' ID-number digests. service_layer/keys.py decides what to re-write and counts."""
from __future__ import annotations

from typing import Iterator

from sqlalchemy import Text, select, type_coerce, update
from sqlalchemy.orm import Session

from . import orm


def _columns() -> dict[str, tuple]:
    return {f"{t.name}.{col.name}": (t, col) for t in orm.metadata.sorted_tables for col in t.columns
            if isinstance(col.type, orm.Encrypted)}


class SqlKeyStore:
    def __init__(self, session: Session):
        self.s = session

    def encrypted_columns(self) -> list[str]:
        """"table.column" of every encrypted column."""
        return list(_columns())

    def stale_tokens(self, column: str, current_kid: str, limit: int) -> list[tuple[tuple, str]]:
        """(primary key, raw token) of values not encrypted under `current_kid`, in key order."""
        table, col = _columns()[column]
        pk, raw = list(table.primary_key.columns), type_coerce(col, Text)
        rows = self.s.execute(select(*pk, raw.label("raw"))
                              .where(col.isnot(None), ~raw.startswith(f"v1:{current_kid}:", autoescape=True))
                              .order_by(*pk).limit(limit)).all()
        return [(tuple(row[:len(pk)]), row.raw) for row in rows]

    def rewrite(self, column: str, key: tuple, token: str, plain: str) -> None:
        """Store `plain` (encrypted under the current key) where the value is still `token`: a
        concurrent change, already under the new key, stays untouched."""
        table, col = _columns()[column]
        raw = type_coerce(col, Text)
        cond = [p == v for p, v in zip(table.primary_key.columns, key)]
        self.s.execute(update(table).where(*cond, raw == token).values({col.name: plain}))

    def tokens(self, column: str) -> Iterator[str]:
        table, col = _columns()[column]
        for (value,) in self.s.execute(select(type_coerce(col, Text)).where(col.isnot(None))):
            yield value

    def id_documents(self, after_id: str, limit: int) -> list[tuple[str, str, str | None]]:
        """(customer id, ID number, its stored digest), by id after `after_id`."""
        cu = orm.customers.c
        return [tuple(r) for r in self.s.execute(select(cu.id, cu.id_doc_number, cu.id_doc_digest)
                                                 .where(cu.id > after_id).order_by(cu.id).limit(limit)).all()]

    def set_digest(self, customer_id: str, digest: str) -> None:
        self.s.execute(update(orm.customers).where(orm.customers.c.id == customer_id).values(id_doc_digest=digest))
