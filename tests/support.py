"""Test helpers: containers on SQLite / PostgreSQL, a small world of customers and lines, a clock."""
from __future__ import annotations

import os
from datetime import date, datetime, timedelta, timezone

import pytest

from canceldesk.adapters.db import recreate_schema
from canceldesk.bootstrap import bootstrap
from canceldesk.config import Settings
from canceldesk.domain.model import Customer, EnterpriseAdmin, Line, Product, Subscription
from canceldesk.service_layer.auth import hash_password

PG_URL = os.environ.get("CANCELDESK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CANCELDESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PERSON_ID = "11010519491231002X"
OTHER_ID = "310115199303071234"


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += timedelta(**kw)


def require_service(kind: str, url: str) -> None:
    """Integration tests run for real; under CI an unreachable service fails the run, never skips it."""
    try:
        if kind == "postgres":
            import psycopg
            psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3).close()
        else:
            import redis
            redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001
        msg = f"{kind} at {url.split('@')[-1]} is unreachable: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(msg + " (CI=true: integration tests must run)")
        pytest.skip(msg)


def empty_postgres_schema(url: str) -> None:
    """A PostgreSQL database with nothing in it, for migration tests (fails under CI when unreachable)."""
    from sqlalchemy import create_engine, text
    require_service("postgres", url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def make_container(url: str, clock=None, queue_url: str = "immediate", **settings):
    s = Settings(env="test", database_url=url, queue_url=queue_url, **settings)
    if url.startswith("postgresql"):
        require_service("postgres", url)
    c = bootstrap(s, create_schema=False, clock=clock)
    reset_schema(c)
    return c


def reset_schema(c) -> None:
    recreate_schema(c.engine)


def products() -> list[Product]:
    return [
        Product("PLAN-58", "plan", "58元套餐", "58 plan", 5800),
        Product("VAS-CRBT", "vas", "彩铃", "Ringback tone", 500),
        Product("VAS-DATA", "vas", "流量加油包", "Data booster", 1000, unsubscribe_effect="immediate", refund="prorated"),
        Product("MEM-VIDEO", "membership", "视频会员", "Video membership", 1500, partner="腾讯视频"),
        Product("MEM-CLOUD", "membership", "云盘会员", "Cloud membership", 36500, period="year",
                unsubscribe_effect="immediate", refund="prorated", partner="云盘"),
    ]


def seed(c, today: date, **line_overrides) -> dict:
    """One person (C001) with line 13800138000 and four subscriptions; another person C002 with 13900139000."""
    month_start = today.replace(day=1)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    with c.uow() as uow:
        for p in products():
            uow.session.add(p)
        uow.session.add(Customer("C001", "person", "张三", "cn_ric", PERSON_ID, c.keyring.digest(PERSON_ID)))
        uow.session.add(Customer("C002", "person", "李四", "cn_ric", OTHER_ID, c.keyring.digest(OTHER_ID)))
        uow.session.add(Customer("E001", "enterprise", "某某电销有限公司", "cn_uscc", "91350100M000100Y43",
                                 c.keyring.digest("91350100M000100Y43"),
                                 admins=[EnterpriseAdmin(msisdn="13800000001", name="王五")]))
        uow.session.flush()
        line = dict(msisdn="13800138000", customer_id="C001", cash_balance=5000, gift_balance=1000, unbilled_usage=320,
                    service_password_hash=hash_password("135790"))
        line.update(line_overrides)
        uow.session.add(Line(**line))
        uow.session.add(Line(msisdn="13900139000", customer_id="C002", cash_balance=100,
                             service_password_hash=hash_password("246802")))
        for i in range(3):
            uow.session.add(Line(msisdn=f"1865910100{i}", customer_id="E001", cash_balance=200))
        uow.session.flush()
        subs = [
            Subscription("S-PLAN", "13800138000", "PLAN-58", month_start, next_month),
            Subscription("S-CRBT", "13800138000", "VAS-CRBT", month_start, next_month),
            Subscription("S-DATA", "13800138000", "VAS-DATA", month_start, next_month, auto_renew=False),
            Subscription("S-VIDEO", "13800138000", "MEM-VIDEO", today - timedelta(days=5), today + timedelta(days=25)),
            Subscription("S-OTHER", "13900139000", "MEM-VIDEO", today - timedelta(days=5), today + timedelta(days=25)),
        ]
        for s in subs:
            uow.session.add(s)
        uow.commit()
    return {"msisdn": "13800138000", "other_msisdn": "13900139000"}


def noon(d: date) -> datetime:
    """12:00 Asia/Shanghai on day d, as UTC."""
    return datetime(d.year, d.month, d.day, 4, 0, tzinfo=timezone.utc)
