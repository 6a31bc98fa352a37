"""Times are stored in UTC and shown in the pack's time zone — by these functions only.

`iso()` is for the API (ISO 8601, seconds, with the local offset: `2026-12-02T18:45:00+08:00`);
`shown()` is for people (pages, SMS, PDF: `2026-12-02 18:45`); `day()` is a local calendar date.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo


def _local(value: datetime, tz: str) -> datetime:
    if value.tzinfo is None:  # SQLite hands back naive datetimes: they are UTC
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(ZoneInfo(tz))


def iso(value: datetime | str | None, tz: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value  # a word such as "on completion" stays as it is
    if not isinstance(value, datetime):
        return value.isoformat() if isinstance(value, date) else value
    return _local(value, tz).isoformat(timespec="seconds")


def shown(value: datetime | str | None, tz: str, with_time: bool = True) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(value, datetime):
        return value.isoformat()
    local = _local(value, tz)
    return local.strftime("%Y-%m-%d %H:%M") if with_time else local.strftime("%Y-%m-%d")


def day(value: datetime, tz: str) -> date:
    return _local(value, tz).date()
