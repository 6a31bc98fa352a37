"""The in-memory unit of work (ports.UnitOfWork) over a Store."""
from __future__ import annotations

import contextlib
import copy
from typing import Callable

from canceldesk.domain.errors import IntegrityConflict

from .store import InMemoryRepository, Store
from .stores import (InMemoryAccountStore, InMemoryAuditLog, InMemoryBatchStore, InMemoryEscalationStore,
                     InMemoryRunStore)




class InMemoryUnitOfWork:
    """ports.UnitOfWork over a Store. `session` is None: nothing here speaks SQL."""

    session = None

    def __init__(self, store: Store, on_messages: Callable[[], None] | None = None):
        self.store = store
        self._on_messages = on_messages
        self.repo: InMemoryRepository | None = None

    def __enter__(self) -> "InMemoryUnitOfWork":
        self.repo = InMemoryRepository(self.store)
        self.batches = InMemoryBatchStore(self.store, self.repo)
        self.audit_log = InMemoryAuditLog(self.store)
        self.accounts = InMemoryAccountStore(self.store)
        self.leases = copy.deepcopy(self.store.leases)
        self.runs = InMemoryRunStore(self)
        self.escalations = InMemoryEscalationStore(self)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.repo.seen.clear()  # what was not committed is forgotten
        self.repo.messages.clear()
        self.repo.forget_held()
        self.audit_log.deferred.clear()

    def flush(self) -> None:
        requests = self.repo._all("request")
        targets = [r.open_target for r in requests if r.open_target]
        keys = [(r.requested_by, r.idempotency_key) for r in requests if r.idempotency_key]
        if len(targets) != len(set(targets)) or len(keys) != len(set(keys)):
            raise IntegrityConflict("unique")

    def commit(self) -> None:
        self.flush()
        for (kind, key), obj in self.repo.seen.items():
            if kind == "line":  # the history is append-only and kept apart, as in line_history
                for entry in obj.history:
                    if entry.id is None:
                        entry.id = len(self.store.history) + 1
                        self.store.history.append(copy.copy(entry))
            stored = copy.deepcopy(obj)
            if kind == "line":
                stored.history = []
            self.store.table(kind)[key] = stored
        self.store.outbox.extend(self.repo.messages)
        self.repo.messages = []
        self.store.receipts.update(self.repo.receipts)
        self.store.payments.update(self.repo.payments)
        self.store.ledger += self.repo.ledger
        self.repo.forget_held()
        self.runs.write()
        self.escalations.write()
        self.store.leases = copy.deepcopy(self.leases)
        self.batches.commit()
        self.store.audit.extend(self.audit_log.take()[0])
        self.store.commits += 1
        if self.repo.wrote_messages and self._on_messages is not None:
            self.repo.wrote_messages = False
            self._on_messages()

    def rollback(self) -> None:
        self.repo.seen.clear()
        self.repo.messages.clear()
        self.batches = InMemoryBatchStore(self.store, self.repo)
        self.audit_log.deferred.clear()
        self.repo.forget_held()
        self.leases = copy.deepcopy(self.store.leases)
        self.runs = InMemoryRunStore(self)
        self.escalations = InMemoryEscalationStore(self)

    def no_autoflush(self):
        return contextlib.nullcontext()  # nothing here flushes before commit
