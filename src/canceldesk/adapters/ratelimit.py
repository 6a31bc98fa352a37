"""Per-client sliding-window limits (generous enough for carrier-grade NAT).

`RateLimiter` counts in this process (the embedded default); `RedisRateLimiter` counts in Redis,
so every API worker on every machine shares one count. `build(settings)` picks one.
"""
from __future__ import annotations

import threading
import time
import uuid
from collections import deque

from canceldesk.domain.errors import RateLimited as RateLimited  # the service layer catches it


def _refuse(retry_after: int) -> RateLimited:
    return RateLimited(max(1, retry_after))


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
                raise _refuse(int(q[0] + self.window - now) + 1)
            q.append(now)
            if len(self._hits) > 100_000:  # bounded memory under a flood of addresses
                self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - self.window}


class RedisRateLimiter:
    """The same sliding window in a Redis sorted set per key (members are unique hit ids)."""

    def __init__(self, url: str, limit: int, window_seconds: int, prefix: str = "canceldesk:rl:", client=None):
        import redis
        self.r = client or redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.limit, self.window, self.prefix = limit, window_seconds, prefix

    def hit(self, key: str) -> None:
        now = time.time()
        k = self.prefix + key
        pipe = self.r.pipeline(transaction=True)
        pipe.zremrangebyscore(k, 0, now - self.window)
        pipe.zcard(k)
        pipe.zadd(k, {uuid.uuid4().hex: now})
        pipe.expire(k, self.window + 1)
        _, count, _, _ = pipe.execute()
        if count >= self.limit:
            self.r.zremrangebyrank(k, -1, -1)  # a refused hit does not use up the window
            oldest = self.r.zrange(k, 0, 0, withscores=True)
            retry = int(oldest[0][1] + self.window - now) + 1 if oldest else self.window
            raise _refuse(retry)


def build_staff(settings):
    """The per-staff-account limit of pre-checks and customer look-ups."""
    limit, window = settings.staff_lookup_limit, settings.staff_lookup_window_seconds
    if settings.rate_limit_url.startswith(("redis://", "rediss://")):
        return RedisRateLimiter(settings.rate_limit_url, limit, window, prefix="canceldesk:staff:")
    return RateLimiter(limit, window)


def build(settings):
    if settings.rate_limit_url.startswith(("redis://", "rediss://")):
        return RedisRateLimiter(settings.rate_limit_url, settings.client_rate_limit,
                                settings.client_rate_window_seconds)
    return RateLimiter(settings.client_rate_limit, settings.client_rate_window_seconds)
