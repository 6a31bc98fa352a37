"""Small pages a browser meets outside the areas: the favicon, an HTML 404 for unknown URLs, and
the demo SMS outbox as a readable page (newest first)."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from canceldesk.domain.identifiers import InvalidIdentifier, normalize_msisdn

from .pages import container, error_page, render, tr

router = APIRouter(include_in_schema=False)
FAVICON = Path(__file__).parent / "static" / "favicon.svg"


@router.get("/favicon.ico")
def favicon():
    return FileResponse(FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})


def wants_html(request: Request) -> bool:
    """A browser navigating (Accept: text/html), not an API client."""
    accept = request.headers.get("accept", "")
    return "text/html" in accept and not request.url.path.startswith("/v1/")


def not_found_page(request: Request) -> Response:
    _ = tr(request)
    return error_page(request, 404, _("Not found"), _("There is nothing at this address. Start again from the home page."))


def outbox_page(request: Request, to: str | None) -> Response:
    c = container(request)
    if to:
        try:
            to = normalize_msisdn(to)
        except InvalidIdentifier:
            pass
    with c.uow() as uow:
        rows = [r for r in uow.repo.messages(to=to) if r["sent_at"] is not None]
    rows.reverse()  # newest first
    return render(request, "dev_outbox.html", messages=rows, to=to or "")
