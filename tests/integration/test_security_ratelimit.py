"""The per-client limit shared by every API worker through Redis (CANCELDESK_RATE_LIMIT_URL)."""
from __future__ import annotations

import uuid

import pytest

from canceldesk.adapters.ratelimit import RateLimited, RateLimiter, RedisRateLimiter, build
from canceldesk.config import Settings
from support import REDIS_URL, require_service


def test_in_process_sliding_window():
    now = [0.0]
    rl = RateLimiter(3, 60, clock=lambda: now[0])
    for _ in range(3):
        rl.hit("a")
    with pytest.raises(RateLimited) as exc:
        rl.hit("a")
    assert exc.value.retry_after == 61  # the oldest hit leaves the 60 s window after 61 s
    rl.hit("b")
    now[0] = 61
    rl.hit("a")


@pytest.mark.redis
def test_two_workers_share_one_count_in_redis():
    require_service("redis", REDIS_URL)
    prefix = f"canceldesk:test:{uuid.uuid4().hex}:"
    worker_a = RedisRateLimiter(REDIS_URL, 3, 60, prefix=prefix)
    worker_b = RedisRateLimiter(REDIS_URL, 3, 60, prefix=prefix)
    worker_a.hit("otp:100.64.0.1")
    worker_b.hit("otp:100.64.0.1")
    worker_a.hit("otp:100.64.0.1")
    with pytest.raises(RateLimited):
        worker_b.hit("otp:100.64.0.1")
    worker_b.hit("otp:100.64.0.2")
    assert isinstance(build(Settings(env="test", rate_limit_url=REDIS_URL)), RedisRateLimiter)
    assert isinstance(build(Settings(env="test")), RateLimiter)
