"""Helpers for browser tests: a live server on loopback and headless Debian Chromium.

The browser is the system's `/usr/bin/chromium`, driven by Playwright's sync API; nothing is
ever downloaded. Tests that use these helpers carry the `browser` marker.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
AXE = ROOT / ".venv" / "npm" / "node_modules" / "axe-core" / "axe.min.js"


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run an ASGI app with uvicorn in a thread on a free loopback port; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # bound before the thread starts: no race for the port
    port = sock.getsockname()[1]
    # websockets-sansio: the legacy websockets protocol warns, and warnings are errors here.
    config = uvicorn.Config(
        app, lifespan="on", ws="websockets-sansio", log_level="warning", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(3600):  # building the kb_docs index on a busy 2-core box takes a while
            if server.started:
                break
            if not thread.is_alive():
                raise RuntimeError("the live server stopped during startup")
            threading.Event().wait(0.05)
        else:
            raise RuntimeError("the live server did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def launch_chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def widget(page: Page) -> Any:
    """A locator rooted in the widget: Playwright's CSS engine pierces its open shadow root."""
    return page.locator("allhours-widget")


def stored_outbox(page: Page) -> list[dict[str, Any]]:
    """The widget's queue of messages typed but not yet acknowledged, from localStorage."""
    return page.evaluate(
        """() => {
            const key = Object.keys(localStorage).find((k) => k.startsWith("allhours:"));
            return key ? JSON.parse(localStorage.getItem(key)).outbox : [];
        }"""
    )


def stored_conversation(page: Page) -> dict[str, Any]:
    """The widget's persisted state (conversation id, token, last seq, history)."""
    return page.evaluate(
        """() => {
            const key = Object.keys(localStorage).find((k) => k.startsWith("allhours:"));
            return key ? JSON.parse(localStorage.getItem(key)) : {};
        }"""
    )


def inject_axe(page: Page) -> None:
    """Load axe-core into the page. Evaluated, not added as a <script> tag: the pages'
    Content-Security-Policy (bot/headers.py) refuses inline scripts, rightly, and evaluation
    through DevTools is not subject to it."""
    if not AXE.exists():
        raise FileNotFoundError(
            f"{AXE} is missing: run `make test` or `npm install --prefix .venv/npm axe-core@4`"
        )
    page.evaluate(AXE.read_text())


def run_axe(page: Page) -> list[dict[str, Any]]:
    """Inject axe-core and run it on the widget (shadow root included); return its violations."""
    inject_axe(page)
    return page.evaluate(
        """async () => {
            const result = await axe.run(document.querySelector("allhours-widget"), {
                resultTypes: ["violations"],
            });
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.map((n) => JSON.stringify(n.target) + " " + n.failureSummary),
            }));
        }"""
    )


def save_screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path))
    return path
