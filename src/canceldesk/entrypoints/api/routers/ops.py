"""Health, metrics and the demo outbox."""
from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from canceldesk.domain.identifiers import InvalidIdentifier, normalize_msisdn
from canceldesk.service_layer.errors import NotFound

from ..deps import ContainerDep
from ..metrics import REGISTRY, refresh_gauges

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness and dependencies")
def healthz(c: ContainerDep):
    status = {"status": "ok", "database": "ok", "queue": "ok"}
    try:
        with c.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - report, never crash the probe
        status.update(status="degraded", database=f"error: {type(exc).__name__}")
    try:
        if c.queue is not None:
            len(c.queue)  # pending task count: touches the storage (SQLite file or Redis)
    except Exception as exc:  # noqa: BLE001
        status.update(status="degraded", queue=f"error: {type(exc).__name__}")
    return JSONResponse(status_code=200 if status["status"] == "ok" else 503, content=status)


@router.get("/metrics", summary="Prometheus metrics")
def metrics(c: ContainerDep):
    refresh_gauges(c)
    return PlainTextResponse(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


@router.get("/dev/outbox", summary="Demo/test only: messages the simulated SMS gateway sent")
def outbox(c: ContainerDep, request: Request, to: str | None = Query(None, max_length=200)):
    if not c.settings.is_dev:
        raise NotFound("not found")
    from canceldesk.entrypoints.web.devpages import outbox_page, wants_html
    if wants_html(request):
        return outbox_page(request, to)  # a browser reads it as a page, newest first
    if to:
        try:
            to = normalize_msisdn(to)
        except InvalidIdentifier:
            pass  # an e-mail address or other gateway target
    with c.uow() as uow:
        rows = uow.repo.messages(to=to)
    return {"messages": [{"id": r["id"], "channel": r["channel"], "to": r["to"], "event": r["event"], "ref": r["ref"],
                          "text": r["text"], "created_at": r["created_at"].isoformat()}
                         for r in rows if r["sent_at"] is not None]}
