"""Unit of work: one transaction per use case; repositories never commit, handlers do."""
from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from canceldesk.adapters.repository import Repository

from . import audit


class UnitOfWork:
    def __init__(self, session_factory: sessionmaker, on_messages=None):
        self._factory = session_factory
        self._on_messages = on_messages
        self.session: Session | None = None
        self.repo: Repository | None = None

    def __enter__(self) -> "UnitOfWork":
        self.session = self._factory()
        self.repo = Repository(self.session)
        audit.watch_transitions(self.session)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # close() rolls back anything uncommitted and keeps loaded objects readable (detached).
        self.session.close()

    def commit(self) -> None:
        audit.before_commit(self.session)  # one audit row per request transition, same transaction
        self.session.commit()
        if self.repo.wrote_messages and self._on_messages is not None:
            self.repo.wrote_messages = False
            self._on_messages()  # outbox written in this transaction: wake the deliverer

    def flush(self) -> None:
        self.session.flush()
