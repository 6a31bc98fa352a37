"""FastAPI dependency aliases: the container, the caller, and role checks — in one place."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from canceldesk.bootstrap import Container
from canceldesk.service_layer import auth
from canceldesk.service_layer.errors import Forbidden, NotFound
from canceldesk.service_layer.principal import Principal


def get_container(request: Request) -> Container:
    return request.app.state.container


ContainerDep = Annotated[Container, Depends(get_container)]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get("cd_session")


def get_principal(request: Request, c: ContainerDep) -> Principal:
    principal = auth.authenticate(c, _bearer(request))
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def get_subscriber(p: CurrentPrincipal) -> Principal:
    if not p.is_subscriber:
        raise NotFound("not found")
    return p


CurrentSubscriber = Annotated[Principal, Depends(get_subscriber)]


def require_roles(*roles: str):
    def check(p: CurrentPrincipal) -> Principal:
        if p.role not in roles:
            raise Forbidden(f"this needs one of the roles: {', '.join(roles)}")
        return p
    return check


CurrentAdmin = Annotated[Principal, Depends(require_roles("admin"))]
CurrentStaff = Annotated[Principal, Depends(require_roles("agent", "reviewer", "admin"))]
CurrentAgent = Annotated[Principal, Depends(require_roles("agent", "admin"))]
CurrentReviewer = Annotated[Principal, Depends(require_roles("reviewer", "admin"))]
CurrentEnterpriseAdmin = Annotated[Principal, Depends(require_roles("enterprise_admin"))]


def get_lang(accept_language: Annotated[str | None, Header()] = None) -> str:
    if accept_language and accept_language.lower().startswith("en"):
        return "en"
    return "zh"


Lang = Annotated[str, Depends(get_lang)]
