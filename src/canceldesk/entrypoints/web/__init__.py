"""Server-rendered pages: the portal, the counter console, the enterprise console, the dashboard.

`install(app)` adds the page routers and the static files to the FastAPI app.
"""
from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from . import counter, dashboard, enterprise, kiosk, portal

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    for module in (portal, counter, enterprise, dashboard, kiosk):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
