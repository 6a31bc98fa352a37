"""The group commit's many-row inserts go through COPY on PostgreSQL (adapters/bulk.py): the rows read back
exactly as the same rows written by an INSERT (UTC times, JSON, Chinese text, the columns' defaults), and a
duplicate key is the same IntegrityError the stores turn into "not now"."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import delete, event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from canceldesk.adapters import orm
from canceldesk.adapters.bulk import COPY_FROM, insert_rows
from support import PG_URL, make_container


@pytest.fixture(scope="module")
def c():
    c = make_container(PG_URL)
    yield c
    c.dispose()


def _notices(prefix: str, n: int) -> list[dict]:
    at = datetime(2026, 12, 2, 9, 30, tzinfo=timezone.utc)
    return [{"dedup_key": f"{prefix}-{i}", "channel": "sms", "to": "13800138000", "event": "completed",
             "ref": f"CD{i:06d}", "text": f"【canceldesk】您的退订已完成，退款 ¥{i}.00 #{i}", "created_at": at}
            for i in range(n)]


def _read(c, prefix: str) -> list[tuple]:
    with c.engine.connect() as conn:
        rows = conn.execute(select(orm.outbox).where(orm.outbox.c.dedup_key.like(f"{prefix}-%"))
                            .order_by(orm.outbox.c.ref)).mappings().all()
    return [(r["dedup_key"], r["to"], r["text"], r["created_at"], r["attempts"], r["sent_at"]) for r in rows]


def test_copy_writes_what_an_insert_writes(c):
    n = COPY_FROM * 3
    statements: list[str] = []
    listen = lambda _conn, _cur, sql, *_: statements.append(sql.split()[0])  # noqa: E731
    event.listen(c.engine, "before_cursor_execute", listen)
    try:
        with Session(c.engine) as s, s.begin():
            insert_rows(s, orm.outbox, _notices("copy", n))
    finally:
        event.remove(c.engine, "before_cursor_execute", listen)
    assert "INSERT" not in statements  # it went through COPY, not the executemany
    with c.engine.begin() as conn:
        conn.execute(orm.outbox.insert(), _notices("insert", n))
    copied, inserted = _read(c, "copy"), _read(c, "insert")
    assert len(copied) == n
    assert [r[1:] for r in copied] == [r[1:] for r in inserted]
    assert copied[0][3] == datetime(2026, 12, 2, 9, 30, tzinfo=timezone.utc) and copied[0][4] == 0


def test_a_duplicate_key_in_a_copy_is_an_integrity_error_and_nothing_is_half_written(c):
    with c.engine.begin() as conn:
        conn.execute(delete(orm.outbox).where(orm.outbox.c.dedup_key.like("dup-%")))
    rows = _notices("dup", COPY_FROM * 2)
    rows[-1]["dedup_key"] = rows[0]["dedup_key"]
    with pytest.raises(IntegrityError):
        with Session(c.engine) as s, s.begin():
            insert_rows(s, orm.outbox, rows)
    assert _read(c, "dup") == []
