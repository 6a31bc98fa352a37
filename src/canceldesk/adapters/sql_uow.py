"""The SQL unit of work (service_layer/ports.py: UnitOfWork): one session, one transaction per use case.

Bootstrap wires it with the service layer's hooks (`on_begin`, `before_commit`: the audit log's
rows) and with `on_messages` (wake the deliverer when the transaction wrote to the outbox).
"""
from __future__ import annotations

from typing import Callable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from canceldesk.domain.errors import IntegrityConflict

from .batch_store import BatchStore
from .fleetguard_store import FleetGuardStore
from .import_store import ImportStore
from .repository import Repository


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

    # --- helper 3 ---
    # Stores created on first use, over this unit of work's session.
    def _h3_store(self, name: str, make: Callable):
        stores = self.__dict__.setdefault("_h3_stores", {})
        if name not in stores or stores[name][0] is not self.session:
            stores[name] = (self.session, make(self.session))
        return stores[name][1]

    @property
    def batches(self) -> BatchStore:
        return self._h3_store("batches", BatchStore)

    @property
    def fleetguard(self) -> FleetGuardStore:
        return self._h3_store("fleetguard", FleetGuardStore)

    @property
    def imports(self) -> ImportStore:
        return self._h3_store("imports", ImportStore)

    def no_autoflush(self):
        return self.session.no_autoflush
