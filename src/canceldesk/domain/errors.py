"""Errors the domain names for the layers around it."""
from __future__ import annotations


class IntegrityConflict(Exception):
    """The store refused a write that breaks one of its rules — one open request per target, one
    request per idempotency key. Raised by a unit of work's `flush`; the use case answers 409.
    `key`: the unique key that was taken, where the store can tell (`"tracking_no"`: a random tracking
    number drawn twice — the caller draws another and retries; it is no one's conflict)."""

    def __init__(self, reason: str = "", key: str | None = None):
        super().__init__(reason)
        self.key = key


class TransientError(Exception):
    """A downstream call failed or timed out; retrying later may succeed."""


class PermanentError(Exception):
    """A downstream system refused; retrying will not help — a person must look."""


class RateLimited(Exception):
    """Past a rate limit: try again after `retry_after` seconds (the service layer answers 429).
    Raised by the limiters (adapters/ratelimit.py)."""

    def __init__(self, retry_after: int):
        super().__init__(f"rate limited; retry after {retry_after}s")
        self.retry_after = retry_after


class TransientError(Exception):
    """An outside system's call failed or timed out; retrying later may succeed."""


class PermanentError(Exception):
    """An outside system refused; retrying will not help — a person must look."""


class StoreBusy(Exception):
    """The store could not do it now — a conflicting run, a stale row, a locked database; nothing was
    half-done (the transaction rolled back) and a retry shortly may succeed."""
