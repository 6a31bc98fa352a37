"""The SQL unit of work (service_layer/ports.py: UnitOfWork): one session, one transaction per use case.

Bootstrap wires it with the service layer's hooks (`on_begin`, `before_commit`: the audit log's
rows) and with `on_messages` (wake the deliverer when the transaction wrote to the outbox).
"""
from __future__ import annotations

from typing import Callable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from canceldesk.domain.errors import IntegrityConflict

from .repository import Repository
# --- helper 4 ---
from .order_store import SqlOrderStore
from .partner_store import SqlPartnerStore


class SqlUnitOfWork:
    def __init__(self, session_factory: sessionmaker, on_messages: Callable[[], None] | None = None,
                 on_begin: Callable[[Session], None] | None = None,
                 before_commit: Callable[[Session], None] | None = None):
        self._factory = session_factory
        self._on_messages = on_messages
        self._on_begin = on_begin
        self._before_commit = before_commit
        self.session: Session | None = None
        self.repo: Repository | None = None

    def __enter__(self) -> "SqlUnitOfWork":
        self.session = self._factory()
        self.repo = Repository(self.session)
        if self._on_begin is not None:
            self._on_begin(self.session)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # close() rolls back anything uncommitted and keeps loaded objects readable (detached).
        self.session.close()

    def commit(self) -> None:
        if self._before_commit is not None:
            self._before_commit(self.session)
        self.session.commit()
        if self.repo.wrote_messages and self._on_messages is not None:
            self.repo.wrote_messages = False
            self._on_messages()  # outbox written in this transaction: wake the deliverer

    def flush(self) -> None:
        try:
            self.session.flush()
        except IntegrityError as exc:
            raise IntegrityConflict(type(exc.orig).__name__) from None

    def rollback(self) -> None:
        self.session.rollback()

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
