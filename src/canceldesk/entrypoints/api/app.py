"""The FastAPI application: routers, one error shape, security headers, metrics."""
from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from canceldesk import __version__
from canceldesk.adapters.db import is_busy
from canceldesk.bootstrap import Container, bootstrap
from canceldesk.domain.transitions import IllegalTransition
from canceldesk.service_layer.errors import ServiceError

from . import tmf_errors
from .deps import CurrentPrincipal
from .hardening import Hardening, SafeJSONResponse, security_headers
from .metrics import HTTP_LATENCY, HTTP_REQUESTS
from .routers import admin, auth, enterprise, lines, ops, requests, staff
from .routers import partner_keys as partner_keys_router
from .routers import tmf622
from .routers import assistant as assistant_router

log = logging.getLogger("canceldesk.api")

RETRY_AFTER_SECONDS = 2


def error(status: int, code: str, message: str, details=None, path: str = "") -> JSONResponse:
    # Headers here too: a 500 is answered outside the middleware that adds them to everything else.
    if tmf_errors.is_tmf(path):
        status, body = tmf_errors.shape(status, code, message, details)
        return SafeJSONResponse(status_code=status, content=body, headers=security_headers())
    return SafeJSONResponse(status_code=status, content={"error": {"code": code, "message": message, "details": details}},
                            headers=security_headers())


def _field_errors(exc: RequestValidationError) -> list[dict]:
    out = []
    for e in exc.errors():
        loc = [str(x) for x in e.get("loc", ()) if x not in ("body",)]
        out.append({"field": ".".join(loc) or "body", "message": e.get("msg", "invalid")})
    return out


def create_app(container: Container | None = None) -> FastAPI:
    c = container or bootstrap()
    @asynccontextmanager
    async def lifespan(_app):
        import anyio.to_thread
        anyio.to_thread.current_default_thread_limiter().total_tokens = c.settings.api_threads
        yield

    app = FastAPI(title="canceldesk", version=__version__, default_response_class=SafeJSONResponse,
                  docs_url=None, redoc_url=None, lifespan=lifespan,
                  description="End what you pay for — line closure, unsubscribe, renewal cancellation — "
                              "checked, settled and proven, from any channel.")
    app.state.container = c

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError):
        return error(exc.status, exc.code, exc.message, exc.details, request.url.path)

    @app.exception_handler(IllegalTransition)
    async def _illegal_transition(_: Request, exc: IllegalTransition):
        # A state change its table refuses (a race, a stale page): a conflict with its code, never a 500.
        return error(409, exc.code, exc.message, exc.as_details())

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        fields = _field_errors(exc)
        summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
        return error(422, "VALIDATION_FAILED", f"the request is not valid — {summary}", fields, request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 404:
            from canceldesk.entrypoints.web.devpages import not_found_page, wants_html
            if wants_html(request):
                return not_found_page(request)  # a browser gets a page, an API client JSON
        code = {400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND",
                405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}.get(exc.status_code, "HTTP_ERROR")
        detail = str(exc.detail)
        if detail == "There was an error parsing the body":  # FastAPI's words for bad or too deeply nested JSON
            detail = "the body is not JSON we can read (malformed, or nested too deeply); send one plain JSON object"
        return error(exc.status_code, code, detail, path=request.url.path)

    @app.exception_handler(OperationalError)
    async def _database(request: Request, exc: OperationalError):
        if is_busy(exc):  # a lock held past the busy timeout: say so, and when to come back
            log.warning("database busy on %s %s", request.method, request.url.path)
            busy = error(503, "BUSY", "the service is busy right now and nothing was changed; try again in a moment")
            busy.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return busy
        log.error("database error %s on %s %s", type(getattr(exc, "orig", exc)).__name__, request.method,
                  request.url.path)
        return error(500, "INTERNAL", "something went wrong on our side; the request was not lost — try again or ask staff")

    @app.exception_handler(RecursionError)
    async def _too_deep(_: Request, exc: RecursionError):
        return error(400, "BAD_REQUEST", "the body is nested too deeply; send plain JSON objects")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
        return error(500, "INTERNAL", "something went wrong on our side; the request was not lost — try again or ask staff",
                     path=request.url.path)

    app.add_middleware(_Metrics)

    # Outermost of ours: size limits, URL control characters, security headers (hardening.py).
    app.add_middleware(Hardening, settings=c.settings)

    for r in (ops.router, auth.router, lines.router, requests.router, admin.router, staff.router, enterprise.router,
              partner_keys_router.router, tmf622.router, assistant_router.router):
        app.include_router(r)

    from canceldesk.entrypoints.sms.router import router as sms_router
    app.include_router(sms_router)  # the channels (CHANNELS.md): SMS commands
    from canceldesk.entrypoints.ivr.router import router as ivr_router
    app.include_router(ivr_router)  # the phone menus (TwiML)

    from canceldesk.entrypoints import web
    web.install(app)  # the pages (portal at /, counter, enterprise, dashboard) and /static
    _install_docs(app)

    @app.get("/bench/bare", include_in_schema=False)
    def bare():
        """The ceiling the HTTP benchmark measures against: same app, same server, no work."""
        return {"ok": True}

    if c.settings.bench_endpoints:
        _install_bench_write(app, c)
    return app


class _Metrics:
    """Counts and times every HTTP call by route template and status. A plain ASGI middleware: the
    decorator form (BaseHTTPMiddleware) runs each call through an extra task and memory stream, a
    measurable share of the CPU of a small API call."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = ["500"]

        async def send_counted(message):
            if message["type"] == "http.response.start":
                status[0] = str(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            HTTP_REQUESTS.labels(scope["method"], path, status[0]).inc()
            HTTP_LATENCY.labels(path).observe(time.perf_counter() - start)


def app_from_env() -> FastAPI:
    """uvicorn's factory for `canceldesk serve --workers N`: each worker process builds its own container."""
    from canceldesk.bootstrap import serving_process
    serving_process()
    return create_app(bootstrap())


def _install_bench_write(app: FastAPI, c: Container) -> None:
    """The HTTP benchmark's second ceiling (CANCELDESK_BENCH_ENDPOINTS=1 only): an authenticated write —
    the same token look-up every API call makes, one insert, one commit — in the same server."""
    from sqlalchemy import text

    with c.engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS bench_writes (id INTEGER PRIMARY KEY, principal VARCHAR(64), "
                          "at VARCHAR(40))"))

    @app.post("/bench/write", include_in_schema=False, status_code=201)
    def bench_write(principal: CurrentPrincipal):
        with c.engine.begin() as conn:
            conn.execute(text("INSERT INTO bench_writes (principal, at) VALUES (:p, :at)"),
                         {"p": principal.id, "at": c.now().isoformat()})
        return {"ok": True}


def _install_docs(app: FastAPI) -> None:
    """Swagger UI served from the swagger-ui-bundle package: /docs works on a machine with no internet."""
    from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
    from starlette.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs():
        return get_swagger_ui_html(openapi_url="/openapi.json", title="canceldesk API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/static/app.css",
                                   oauth2_redirect_url="/docs/oauth2-redirect")

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def docs_redirect():
        return get_swagger_ui_oauth2_redirect_html()
