"""Security headers: ``nosniff`` and a referrer policy on every response, and on every HTML
page a Content-Security-Policy chosen by the kind of page.

Only HTML pages get a CSP: the widget's script, stylesheet, API and socket are used from the
customers' own sites, whose pages carry their own policies, so nothing here may stand in
their way (no ``frame-ancestors`` on them either).
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_BASE = "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"

# Staff pages (sign-in, agent console, knowledge-base editor), and any HTML not named below:
# scripts, styles and sockets from this site only, and no other site may frame them (a framed
# console could be clicked into claiming or publishing). Style attributes stay allowed: the
# editor's preview shows markdown-it's table alignment as style="text-align: …".
STAFF_CSP = (
    f"{_BASE}; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
)
# The widget demo page at "/": the widget from this site, the page's own inline <style> (a
# static page that shows no one's input). It may be framed, as a customer's page may be.
DEMO_CSP = (
    f"{_BASE}; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'"
)
# FastAPI's /docs (Swagger UI) and /redoc load their code, styles and fonts from CDNs and start
# with an inline script; they render the OpenAPI document, no one's input.
DOCS_CSP = (
    f"{_BASE}; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'"
)
_EVERY_RESPONSE = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
}


class SecurityHeaders:
    """ASGI middleware; ``demo_path`` and ``docs_paths`` get their own policies."""

    def __init__(self, app: ASGIApp, *, demo_path: str, docs_paths: Iterable[str]) -> None:
        self.app = app
        self.policies = {demo_path: DEMO_CSP} | {path: DOCS_CSP for path in docs_paths}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self.policies.get(scope["path"], STAFF_CSP)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _EVERY_RESPONSE.items():
                    headers.setdefault(name, value)
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("content-security-policy", policy)
                    if "frame-ancestors 'none'" in policy:  # for browsers before CSP 2
                        headers.setdefault("x-frame-options", "DENY")
            await send(message)

        await self.app(scope, receive, send_with_headers)
