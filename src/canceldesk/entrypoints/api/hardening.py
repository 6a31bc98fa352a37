"""HTTP hardening for every response of the app (API and pages alike).

* Security headers on every response — errors included: CSP (frame-ancestors 'none'),
  X-Content-Type-Options, X-Frame-Options, Referrer-Policy, Permissions-Policy, COOP/CORP, and
  HSTS in production. The API docs page may run Swagger UI's inline start-up script, nothing else may.
* Request size limits: a declared Content-Length over the limit is refused before the body is
  read (413), and a body streamed without one (chunked) is counted and cut off at the limit.
  `/v1/admin/import` has its own, larger limit.
* Control characters (NUL, escapes) in the path or the query string are refused (400): they
  have no business in a URL, and PostgreSQL refuses NUL in text.

Session cookie flags for the pages: see `session_cookie_flags`.
"""
from __future__ import annotations

import json
from urllib.parse import unquote_to_bytes

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

IMPORT_PATH = "/v1/admin/import"
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc")

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
       "object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'")
DOCS_CSP = ("default-src 'self'; img-src 'self' data:; "
            "style-src 'self' 'unsafe-inline'; "
            "script-src 'self' 'unsafe-inline'; worker-src 'self' blob:; "
            "object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": CSP,
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains"


def security_headers(path: str = "", prod: bool = False) -> dict[str, str]:
    headers = dict(SECURITY_HEADERS)
    if path in DOCS_PATHS:
        headers["Content-Security-Policy"] = DOCS_CSP
    if prod:
        headers["Strict-Transport-Security"] = HSTS
    return headers


def session_cookie_flags(settings, max_age: int | None = None) -> dict:
    """Flags for the pages' session cookie (`cd_session`), for `Response.set_cookie(**flags)`.

    HttpOnly (no script reads it), SameSite=Lax (not sent on cross-site POSTs; forms still need
    their CSRF token), Path=/, Secure whenever not in demo/test — decided by configuration, not by
    the request's scheme, which reads "http" behind a TLS-terminating proxy.
    """
    flags = {"httponly": True, "samesite": "lax", "secure": settings.session_cookie_secure, "path": "/"}
    if max_age is not None:
        flags["max_age"] = max_age
    return flags


ORDER_PATH_PREFIX = "/tmf-api/productOrderingManagement/v4/productOrder"


class SafeJSONResponse(JSONResponse):
    """JSON that cannot fail to render: a lone surrogate echoed from the input (\\ud800 is valid JSON
    but not UTF-8) is written as its \\u escape instead of turning a clear 4xx into a 500."""

    def render(self, content) -> bytes:
        return json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None,
                          separators=(",", ":")).encode("utf-8", "backslashreplace")


def json_answer(content, status_code: int = 200) -> SafeJSONResponse:
    """A hot endpoint's answer rendered at once: a dict returned from an endpoint is first walked by
    FastAPI's jsonable_encoder (every key and value, a measurable share of a small call). The view
    dicts are JSON already; anything json cannot write (a date in a finding's details) goes the usual way."""
    try:
        return SafeJSONResponse(content, status_code=status_code)
    except TypeError:
        from fastapi.encoders import jsonable_encoder
        return SafeJSONResponse(jsonable_encoder(content), status_code=status_code)


class PayloadTooLarge(HTTPException):
    def __init__(self, limit: int):
        super().__init__(status_code=413, detail=f"the body is larger than {limit} bytes")


def _has_control(text: str) -> bool:
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in text)


async def _send_error(send, status: int, code: str, message: str, headers: dict[str, str], path: str = "") -> None:
    from .tmf_errors import is_tmf, shape
    content = shape(status, code, message)[1] if is_tmf(path) else {"error": {"code": code, "message": message,
                                                                              "details": None}}
    body = json.dumps(content).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class Hardening:
    """Pure ASGI middleware (streams are never buffered here)."""

    def __init__(self, app, settings):
        self.app = app
        self.settings = settings

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        headers = security_headers(path, prod=self.settings.env == "prod")
        if path.startswith("/v1"):
            headers["Cache-Control"] = "no-store"
        encoded = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        started = False
        exceeded = False
        limit = self.settings.max_import_bytes if path == IMPORT_PATH else self.settings.max_body_bytes
        if path.startswith(ORDER_PATH_PREFIX) or path == "/enterprise/uploads":  # fleets: 100,000 lines
            limit = self.settings.max_order_bytes

        async def send_hardened(message):
            nonlocal started
            if exceeded:
                # The body was cut off: whatever the app makes of that, the answer is 413.
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await _send_error(send, 413, "PAYLOAD_TOO_LARGE", f"the body is larger than {limit} bytes",
                                  headers, path=path)
                return
            if message["type"] == "http.response.start":
                started = True
                present = {k.lower() for k, _ in message.get("headers", [])}
                message = {**message, "headers": list(message.get("headers", []))
                           + [(k, v) for k, v in encoded if k not in present]}
            await send(message)

        if _has_control(path) or any(b < 32 or b == 127 for b in unquote_to_bytes(scope.get("query_string", b""))):
            return await _send_error(send, 400, "BAD_REQUEST", "control characters are not allowed in the URL", headers,
                                     path=path)

        declared = next((v for k, v in scope.get("headers", []) if k == b"content-length"), None)
        if declared is not None:
            if not declared.isdigit():
                return await _send_error(send, 400, "BAD_REQUEST", "Content-Length is not a number", headers, path=path)
            if int(declared) > limit:
                return await _send_error(send, 413, "PAYLOAD_TOO_LARGE", f"the body is larger than {limit} bytes",
                                         headers, path=path)
        received = 0

        async def limited_receive():
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise PayloadTooLarge(limit)
            return message

        try:
            await self.app(scope, limited_receive, send_hardened)
        except Exception:  # noqa: BLE001 - the cut-off body surfaces as whatever the app wrapped it in
            if not exceeded:
                raise
            if not started:
                await _send_error(send, 413, "PAYLOAD_TOO_LARGE", f"the body is larger than {limit} bytes",
                                  headers, path=path)
