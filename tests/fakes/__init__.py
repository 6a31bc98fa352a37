"""An in-memory unit of work (service_layer/ports.py) for unit tests without a database.

Each unit of work sees copies of the stored objects (like a session's identity map): what it
changes or adds reaches the store only on `commit`; leaving without committing forgets it. `flush`
enforces the store's uniqueness rules like the SQL schema does (one open request per target, one
request per idempotency key) by raising `IntegrityConflict`.
"""
from .outside import (FakeContainer, FakeDownstream, FakePartners, FakePayments, FakeProvisioning,
                      FakeSettings)
from .store import KEYS, InMemoryRepository, Store
from .stores import (InMemoryAccountStore, InMemoryAuditLog, InMemoryBatchStore,
                     InMemoryEscalationStore, InMemoryRunStore)
from .uow import InMemoryUnitOfWork

__all__ = ["FakeContainer", "FakeDownstream", "FakePartners", "FakePayments", "FakeProvisioning", "FakeSettings",
           "KEYS", "InMemoryRepository", "Store", "InMemoryAccountStore", "InMemoryAuditLog", "InMemoryBatchStore",
           "InMemoryEscalationStore", "InMemoryRunStore", "InMemoryUnitOfWork"]
