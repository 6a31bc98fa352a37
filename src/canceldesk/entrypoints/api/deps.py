"""FastAPI dependency aliases: the container, the caller, and role checks — in one place.

Which *role* may call an endpoint is decided here and only here (routes declare one of the
`Current…` aliases). Which *objects* a caller may see (their own lines, their enterprise's lines,
their store's counter requests) is the service layer's job, and answers 404 for "not yours"
exactly as for "does not exist".

A wrong role answers 403 FORBIDDEN (the endpoint exists for everybody; only the role is wrong);
no or a bad token answers 401.
"""
from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Query, Request

from canceldesk.bootstrap import Container
from canceldesk.entrypoints.web.i18n import preferred_lang
from canceldesk.service_layer import auth
from canceldesk.service_layer.errors import Forbidden
from canceldesk.service_layer.principal import MAY
from canceldesk.service_layer.principal import Principal

SESSION_COOKIE = "cd_session"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


# The dependencies that only look at the request (no I/O) are `async def`: FastAPI runs a plain `def`
# dependency in the thread pool, one hand-off to a thread and back per dependency per call — on a
# small API call more CPU than the dependency itself. The token look-up (database) and the endpoints
# stay `def`, in the thread pool.

async def get_container(request: Request) -> Container:
    return request.app.state.container


ContainerDep = Annotated[Container, Depends(get_container)]


async def client_address(request: Request) -> str:
    """The address the per-client limits count (uvicorn applies X-Forwarded-For only from trusted proxies)."""
    return request.client.host if request.client else "unknown"


ClientAddress = Annotated[str, Depends(client_address)]


def _csrf_header_ok(request: Request, token: str) -> bool:
    given = request.headers.get("x-csrf-token", "")
    if not given:
        return False
    expected = request.app.state.container.keyring.sign("csrf:" + token, 32)  # the pages' token (web/pages.py)
    return hmac.compare_digest(expected.encode(), given.encode())


def bearer_token(request: Request) -> str | None:
    """`Authorization: Bearer …`, or the pages' session cookie.

    A cookie rides along with cross-site requests; a header never does. So a state-changing API
    call authenticated by the cookie must also carry the page's CSRF token in `X-CSRF-Token`
    (what the portal's scripts do); without it the cookie does not count (401).
    """
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and (request.method in SAFE_METHODS or _csrf_header_ok(request, cookie)):
        return cookie
    return None


def get_principal(request: Request, c: ContainerDep) -> Principal:
    principal = auth.authenticate(c, bearer_token(request))
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: str):
    async def check(p: CurrentPrincipal) -> Principal:
        if p.role not in roles:
            raise Forbidden(f"this needs one of the roles: {', '.join(roles)}")
        return p
    check.roles = roles  # read by the authorisation test suite
    return check


def require(action: str):
    """The roles the one roles table (service_layer/principal.MAY) allows for `action`."""
    return require_roles(*MAY[action])


# subscriber: a real-name person logged in by SMS code
CurrentSubscriber = Annotated[Principal, Depends(require("own_lines"))]
# who may ask to end something and confirm it: the person, the counter (in person), the enterprise
CurrentRequester = Annotated[Principal, Depends(require("request"))]
CurrentAdmin = Annotated[Principal, Depends(require("admin"))]
CurrentStaff = Annotated[Principal, Depends(require("staff_pages"))]
# the counter: agents (store-bound) and back-office admins look customers up and check IDs
CurrentCounterStaff = Annotated[Principal, Depends(require("counter"))]
CurrentReviewer = Annotated[Principal, Depends(require("review"))]
CurrentEnterpriseAdmin = Annotated[Principal, Depends(require("enterprise"))]


async def get_lang(request: Request, accept_language: Annotated[str | None, Header(max_length=200)] = None,
             lang: Annotated[str | None, Query(max_length=5)] = None) -> str:
    """?lang=, else the language chosen on the pages (cookie), else Accept-Language, else the pack's."""
    if lang in ("zh", "en"):
        return lang
    chosen = request.cookies.get("cd_lang")
    if chosen in ("zh", "en"):
        return chosen
    return preferred_lang(accept_language) or ("en" if request.app.state.container.pack.locale.startswith("en") else "zh")


Lang = Annotated[str, Depends(get_lang)]


def get_partner(request: Request, c: ContainerDep) -> Principal:
    """The partner API (TMF622): a partner key, or an enterprise admin's bearer token (never a
    cookie) — either way the company's admin acting through the `partner` channel."""
    from dataclasses import replace

    from canceldesk.service_layer import partner_keys
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else None
    if partner_keys.looks_like_key(token):
        principal = partner_keys.authenticate(c, token)
    else:
        principal = auth.authenticate(c, token)
        if principal.role != "enterprise_admin":
            raise Forbidden("this needs one of the roles: enterprise_admin")
        principal = replace(principal, via="partner")
    request.state.principal = principal
    return principal


get_partner.roles = MAY["enterprise"]  # read by the authorisation test suite
CurrentPartner = Annotated[Principal, Depends(get_partner)]
