"""SQL for enterprise batches (service_layer/batches.py, intake.py, fleet_upload.py): the fleet's
lines, the batches and their items, read and written through one session (ports.BatchRepository)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update

from canceldesk.domain.lifecycle import Status
from canceldesk.domain.model import LineStatus

from . import order_store, orm

IN_CHUNK = 500
INSERT_CHUNK = 5000


def _fleet_where(enterprise_id: str, digits: str, flag: str) -> list:
    t = orm.lines.c
    where = [t.customer_id == enterprise_id]
    if digits:
        where.append(t.msisdn.contains(digits))
    if flag == "active":
        where.append(t.status == LineStatus.ACTIVE)
    elif flag == "not_active":
        where.append(t.status != LineStatus.ACTIVE)
    elif flag == "arrears":
        where.append(t.arrears > 0)
    elif flag == "port_out":
        where.append(t.port_out_pending.is_(True))
    elif flag == "contract":
        where.append(t.contract_ends_on.is_not(None))
    return where


def _with_requests():
    return orm.batch_items.outerjoin(orm.requests, orm.requests.c.id == orm.batch_items.c.request_id)


def _results_query(batch_id: str, show: str):
    it, rq = orm.batch_items.c, orm.requests.c
    q = (select(it.position, it.msisdn, it.eligible, it.blockers, it.warnings, it.refund, it.tracking_no,
                it.error_code, it.error_message, rq.status, rq.reject_codes, rq.completed_at)
         .select_from(_with_requests()).where(it.batch_id == batch_id))
    if show == "eligible":
        q = q.where(it.eligible.is_(True))
    elif show == "blocked":
        q = q.where(it.eligible.is_(False))
    elif show == "completed":
        q = q.where(rq.status == Status.COMPLETED)
    elif show == "not_completed":
        q = q.where((rq.status.is_(None)) | (rq.status != Status.COMPLETED))
    return q.order_by(it.position)


class BatchStore:
    def __init__(self, session):
        self.s = session

    # the fleet ----------------------------------------------------------------------------------
    def fleet_count(self, enterprise_id: str, digits: str, flag: str) -> int:
        return self.s.execute(select(func.count()).select_from(orm.lines)
                              .where(*_fleet_where(enterprise_id, digits, flag))).scalar_one()

    def fleet_page(self, enterprise_id: str, digits: str, flag: str, limit: int, offset: int) -> list[dict]:
        t = orm.lines.c
        rows = self.s.execute(
            select(t.msisdn, t.status, t.arrears, t.cash_balance, t.port_out_pending, t.contract_ends_on, t.currency)
            .where(*_fleet_where(enterprise_id, digits, flag)).order_by(t.msisdn).limit(limit).offset(offset))
        return [dict(r) for r in rows.mappings()]

    def fleet_numbers(self, enterprise_id: str, digits: str, flag: str, limit: int) -> list[str]:
        return list(self.s.scalars(select(orm.lines.c.msisdn).where(*_fleet_where(enterprise_id, digits, flag))
                                   .order_by(orm.lines.c.msisdn).limit(limit)))

    def open_requests_by_line(self, msisdns: list[str]) -> dict[str, str]:
        """msisdn -> tracking number of its open request, for the lines that have one."""
        if not msisdns:
            return {}
        rq = orm.requests.c
        return dict(self.s.execute(select(rq.msisdn, rq.tracking_no).where(
            rq.msisdn.in_(msisdns), rq.open_target.is_not(None))).all())

    def owned_lines(self, enterprise_id: str, msisdns: list[str]) -> set[str]:
        return order_store.owned_lines(self.s, enterprise_id, msisdns)

    # batches --------------------------------------------------------------------------------------
    def add(self, batch: dict, msisdns: list[str]) -> None:
        """The batch and one item per number, in the order given (positions from 1)."""
        self.s.execute(orm.batches.insert().values(**batch))
        rows = [{"batch_id": batch["id"], "position": i + 1, "msisdn": n, "blockers": [], "warnings": []}
                for i, n in enumerate(msisdns)]
        for i in range(0, len(rows), INSERT_CHUNK):
            self.s.execute(orm.batch_items.insert(), rows[i:i + INSERT_CHUNK])

    def get(self, batch_id: str) -> dict | None:
        row = self.s.execute(select(orm.batches).where(orm.batches.c.id == batch_id)).mappings().first()
        return dict(row) if row is not None else None

    def touch(self, batch_id: str, at: datetime, **values) -> None:
        self.s.execute(update(orm.batches).where(orm.batches.c.id == batch_id).values(updated_at=at, **values))

    def move(self, batch_id: str, current: str, to: str, at: datetime, **values) -> bool:
        """Compare-and-set of the phase: False when the batch was no longer in `current`."""
        t = orm.batches.c
        res = self.s.execute(update(orm.batches).where(t.id == batch_id, t.phase == current)
                             .values(phase=to, updated_at=at, **values))
        return res.rowcount == 1

    def recent_ids(self, enterprise_id: str, limit: int) -> list[str]:
        t = orm.batches.c
        return list(self.s.scalars(select(t.id).where(t.enterprise_id == enterprise_id)
                                   .order_by(t.created_at.desc()).limit(limit)))

    # items ------------------------------------------------------------------------------------------
    def items_to_precheck(self, batch_id: str, limit: int) -> list[tuple[int, str]]:
        it = orm.batch_items.c
        return [tuple(r) for r in self.s.execute(select(it.id, it.msisdn).where(
            it.batch_id == batch_id, it.eligible.is_(None)).order_by(it.position).limit(limit))]

    def items_to_submit(self, batch_id: str, positions: tuple[int, int] | None,
                        limit: int) -> list[tuple[int, str, str | None, str | None, str | None]]:
        """(id, msisdn, item kind, subscription id, item ref) of items with neither a request nor an error."""
        it = orm.batch_items.c
        where = [it.batch_id == batch_id, it.request_id.is_(None), it.error_code.is_(None)]
        if positions is not None:
            where += [it.position >= positions[0], it.position <= positions[1]]
        return [tuple(r) for r in self.s.execute(select(it.id, it.msisdn, it.item_kind, it.subscription_id, it.item_ref)
                                                 .where(*where).order_by(it.position).limit(limit))]

    def set_item(self, item_id: int, **values) -> None:
        self.s.execute(update(orm.batch_items).where(orm.batch_items.c.id == item_id).values(**values))

    def set_item_outcomes(self, outcomes: list[dict]) -> None:
        order_store.set_item_outcomes(self.s, outcomes)

    def eligible_warnings(self, batch_id: str) -> list[list[dict]]:
        """The warnings of each eligible item (one list per item)."""
        it = orm.batch_items.c
        return [w or [] for w in self.s.scalars(select(it.warnings).where(it.batch_id == batch_id,
                                                                          it.eligible.is_(True)))]

    def request_statuses(self, batch_id: str) -> list[str | None]:
        """The status of each item's request (None: no request)."""
        rq, it = orm.requests.c, orm.batch_items.c
        return list(self.s.scalars(select(rq.status).select_from(_with_requests()).where(it.batch_id == batch_id)))

    def progress_rows(self, batch_id: str) -> list[dict]:
        """Per item: eligible, warnings, request_id, error_code, status (of its request), refund."""
        it, rq = orm.batch_items.c, orm.requests.c
        rows = self.s.execute(select(it.eligible, it.warnings, it.request_id, it.error_code, rq.status, it.refund)
                              .select_from(_with_requests()).where(it.batch_id == batch_id))
        return [dict(r) for r in rows.mappings()]

    def results(self, batch_id: str, show: str, limit: int | None = None, offset: int = 0) -> list[dict]:
        """Items with their requests' outcomes, in position order; `show` as batches.RESULT_FILTERS."""
        q = _results_query(batch_id, show)
        if limit is not None:
            q = q.limit(limit).offset(offset)
        return [dict(r) for r in self.s.execute(q).mappings()]

    def results_count(self, batch_id: str, show: str) -> int:
        return self.s.execute(select(func.count()).select_from(_results_query(batch_id, show).subquery())).scalar_one()
