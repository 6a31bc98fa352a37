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
