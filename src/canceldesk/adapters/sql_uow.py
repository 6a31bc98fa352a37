"""The SQL unit of work (service_layer/ports.py: UnitOfWork): one session, one transaction per use case.

Bootstrap wires it with the service layer's hooks (`on_begin`, `before_commit`: the audit log's
rows; each is called with the unit of work) and with `on_messages` (wake the deliverer when the
transaction wrote to the outbox). The stores behind the service layer's other ports are attributes,
each made on first use.
"""
from __future__ import annotations

from typing import Callable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from . import (audit_store, auth_store, complaint_store, duty_store, escalation_store, insights_store, key_store,
               renewal_store, report_store, retention_store)
from .batch_store import BatchStore
from .db import READONLY
from .import_store import ImportStore
from .order_store import SqlOrderStore
from .partner_store import SqlPartnerStore
from .repository import Repository, refused

_read_binds: dict = {}


def _read_bind(engine):
    """The engine with the read-only execution option (shares the engine's pool); one per engine."""
    bind = _read_binds.get(id(engine))
    if bind is None or bind.engine is not engine:
        bind = _read_binds[id(engine)] = engine.execution_options(**{READONLY: True})
    return bind


class SqlUnitOfWork:
    def __init__(self, session_factory: sessionmaker, on_messages: Callable[[], None] | None = None,
                 on_begin: Callable[["SqlUnitOfWork"], None] | None = None,
                 before_commit: Callable[["SqlUnitOfWork"], None] | None = None, readonly: bool = False):
        self._factory = session_factory
        self.readonly = readonly
        self._on_messages = on_messages
        self._on_begin = on_begin
        self._before_commit = before_commit
        self.session: Session | None = None
        self.repo: Repository | None = None

    def __enter__(self) -> "SqlUnitOfWork":
        if self.readonly:
            # Reads only: on SQLite a deferred transaction (no write lock); writing in it is a bug.
            self.session = self._factory(bind=_read_bind(self._factory.kw["bind"]))
        else:
            self.session = self._factory()
        self.repo = Repository(self.session)
        self._stores: dict[str, object] = {}
        if not self.readonly:  # a read-only one never writes the audit rows (commit() refuses writes)
            audit_store.watch(self.session)  # from the start: the request transitions this transaction flushes
        if self._on_begin is not None:
            self._on_begin(self)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # close() rolls back anything uncommitted and keeps loaded objects readable (detached).
        self.session.close()

    def commit(self) -> None:
        if self.readonly:
            if self.session.new or self.session.dirty or self.session.deleted:
                raise RuntimeError("a read-only unit of work was asked to write")
            self.session.rollback()  # nothing to keep; ends the read snapshot
            return
        self.repo.write_detached()  # before the audit hook: it chains the transitions written so far
        if self._before_commit is not None:
            self._before_commit(self)
        self.session.commit()
        if self.repo.wrote_messages and self._on_messages is not None:
            self.repo.wrote_messages = False
            self._on_messages()  # outbox written in this transaction: wake the deliverer

    def flush(self) -> None:
        try:
            self.session.flush()
        except IntegrityError as exc:
            raise refused(exc) from None
        self.repo.write_detached()

    def rollback(self) -> None:
        self.session.rollback()
        if self.repo.detached is not None:
            self.repo.detached.forget()

    def _store(self, name: str, make: Callable[[Session], object]):
        store = self._stores.get(name)
        if store is None:
            store = self._stores[name] = make(self.session)
        return store

    # --- helper 2 ---
    @property
    def audit_log(self) -> audit_store.SqlAuditLog:
        return self._store("audit_log", audit_store.SqlAuditLog)

    @property
    def escalations(self) -> escalation_store.SqlEscalationStore:
        return self._store("escalations", escalation_store.SqlEscalationStore)

    @property
    def accounts(self) -> auth_store.SqlAccountStore:
        return self._store("accounts", auth_store.SqlAccountStore)

    @property
    def complaints(self) -> complaint_store.SqlComplaintStore:
        return self._store("complaints", complaint_store.SqlComplaintStore)

    @property
    def keys(self) -> key_store.SqlKeyStore:
        return self._store("keys", key_store.SqlKeyStore)

    @property
    def retention(self) -> retention_store.SqlRetentionStore:
        return self._store("retention", retention_store.SqlRetentionStore)

    @property
    def duties(self) -> duty_store.SqlDutyStore:
        return self._store("duties", duty_store.SqlDutyStore)

    # --- helper 3 ---
    @property
    def batches(self) -> BatchStore:
        return self._store("batches", BatchStore)

    @property
    def fleetguard(self) -> auth_store.SqlAccountStore:
        # the fleet second factor's codes and admin numbers are identity's rows: the account store serves
        # ports.FleetGuardRepository as well (one home for those statements)
        return self.accounts

    @property
    def imports(self) -> ImportStore:
        return self._store("imports", ImportStore)

    def no_autoflush(self):
        return self.session.no_autoflush

    # --- helper 4 ---
    # TMF622 orders and the partner API's keys and hubs (service_layer/ports.py: OrderStore,
    # PartnerStore), made on first use and bound to this unit of work's session.
    def _h4_bound(self, name: str, make):
        store = self.__dict__.get(name)
        if store is None or store.session is not self.session:
            store = self.__dict__[name] = make(self.session)
        return store

    @property
    def orders(self) -> SqlOrderStore:
        return self._h4_bound("_h4_orders", SqlOrderStore)

    @property
    def partner_api(self) -> SqlPartnerStore:
        return self._h4_bound("_h4_partner_api", SqlPartnerStore)

    # --- engine (helper 1) ---
    @property
    def runs(self):
        """The engine's store (ports.RunStore), created on first use in this transaction."""
        if getattr(self, "_runs", None) is None or self._runs.s is not self.session:
            from .engine_store import SqlRunStore
            self._runs = SqlRunStore(self)
        return self._runs

    @property
    def deliveries(self):
        """The deliverer's outbox store (ports.DeliveryStore)."""
        from .engine_store import SqlDeliveryStore
        return SqlDeliveryStore(self)

    @property
    def renewals(self) -> renewal_store.SqlRenewalStore:
        return self._store("renewals", renewal_store.SqlRenewalStore)

    @property
    def reports(self) -> report_store.SqlReportStore:
        return self._store("reports", report_store.SqlReportStore)

    @property
    def insights(self) -> insights_store.SqlInsightStore:
        return self._store("insights", insights_store.SqlInsightStore)
