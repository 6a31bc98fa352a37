"""A real server and a real browser for the tests that need them: the app on uvicorn in a background
thread on a free port, and Debian's chromium driven by Playwright (skipped where it is missing,
a failure on CI)."""
from __future__ import annotations

import os
import socket
import threading
import time
from contextlib import contextmanager
from typing import Iterator

import pytest
import uvicorn

from canceldesk.entrypoints.api.app import create_app

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_server(container) -> Iterator[str]:
    """The app over `container` served on 127.0.0.1; yields its base URL and stops it afterwards."""
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(container), host="127.0.0.1", port=port, log_level="warning",
                                        access_log=False, lifespan="off"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


@contextmanager
def chromium():
    """A headless Debian chromium (Playwright drives it; no browser download)."""
    if not os.path.exists(CHROMIUM):
        msg = f"{CHROMIUM} is missing: install Debian's chromium (make browser)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def demo_server(db_path, **settings) -> Iterator[tuple[str, object]]:
    """A live server over a fresh database with the demo data: (base URL, container)."""
    from web_support import demo_container
    c = demo_container(db_path, **settings)
    try:
        with live_server(c) as base:
            yield base, c
    finally:
        c.dispose()
