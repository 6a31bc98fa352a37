"""A per-client sliding-window limiter (in process; generous enough for carrier-grade NAT)."""
from __future__ import annotations

import threading
import time
from collections import deque

from canceldesk.service_layer.errors import TooManyRequests


class RateLimiter:
    def __init__(self, limit: int, window_seconds: int, clock=time.monotonic):
        self.limit, self.window, self.clock = limit, window_seconds, clock
        self._hits: dict[str, deque] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> None:
        now = self.clock()
        with self._lock:
            q = self._hits.setdefault(key, deque())
            while q and q[0] <= now - self.window:
                q.popleft()
            if len(q) >= self.limit:
                raise TooManyRequests("too many attempts from this address; wait a few minutes",
                                      {"retry_after_seconds": int(q[0] + self.window - now) + 1})
            q.append(now)
            if len(self._hits) > 100_000:  # bounded memory under a flood of addresses
                self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - self.window}
