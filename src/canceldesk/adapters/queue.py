"""The queue: huey, persisted in SQLite by default (embedded), on Redis for many workers.

Tasks are registered on the huey instance when a container is attached, never at import time.
"""
from __future__ import annotations

import logging
import os

from huey import MemoryHuey, RedisHuey, SqliteHuey
from huey.exceptions import RetryTask

log = logging.getLogger("canceldesk.queue")


def build_huey(settings):
    url = settings.queue_url
    if url in ("immediate", "memory"):
        return MemoryHuey("canceldesk", immediate=True, results=False)
    if url.startswith(("redis://", "rediss://")):
        return RedisHuey("canceldesk", url=url, results=False)
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
    elif settings.database_url.startswith("sqlite:///") and ":memory:" not in settings.database_url:
        db_path = settings.database_url[len("sqlite:///"):]
        path = os.path.join(os.path.dirname(os.path.abspath(db_path)), "queue.db")
    else:
        path = os.path.join("var", "queue.db")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return SqliteHuey("canceldesk", filename=path, results=False)


def attach(c) -> None:
    """Create the queue for this container and register the tasks that run the service layer."""
    from canceldesk.adapters.downstream import PermanentError
    from canceldesk.service_layer import delivery, executor

    huey = build_huey(c.settings)
    c.queue = huey

    @huey.task(name="deliver_outbox")
    def deliver_outbox():
        delivery.deliver_pending(c)

    @huey.task(name="execute_request", context=True)
    def execute_request(request_id: str, task=None):
        try:
            executor.execute(c, request_id)
        except executor.RetryLater as exc:
            delay = executor.backoff_seconds(max(exc.attempts, 1))
            log.info("request %s step %s: retry in %.1fs (%s)", request_id, exc.step, delay, exc.error)
            raise RetryTask(delay=delay) from None
        except PermanentError:
            log.warning("request %s failed permanently; escalated to staff", request_id)
        finally:
            delivery.deliver_pending(c)

    c.enqueue_execution = lambda request_id: execute_request(request_id)
    c.enqueue_delivery = lambda: deliver_outbox()
    c.tasks = {"execute_request": execute_request, "deliver_outbox": deliver_outbox}
