"""Security headers (bot/headers.py) on each kind of response. That the pages still work under
their policies is shown in a browser by tests/test_headers_browser.py."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from bot.headers import DEMO_CSP, DOCS_CSP, STAFF_CSP
from tests.staff import signed_in_headers

STAFF_PAGES = ["/login", "/agent", "/kb", "/kb/new", "/kb/upload", "/kb/test"]
DOCS_PAGES = ["/docs", "/docs/oauth2-redirect", "/redoc"]


def _directives(policy: str) -> dict[str, list[str]]:
    parts = (part.split() for part in policy.split(";") if part.strip())
    return {name: values for name, *values in parts}


def _assert_common(response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"


class _Inline(HTMLParser):
    """What a policy without 'unsafe-inline' would block: inline scripts, <style>, on*= handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._script = False

    def handle_starttag(self, tag, attrs):
        names = {name for name, _ in attrs}
        self._script = tag == "script" and "src" not in names
        if tag == "style":
            self.found.append("<style>")
        self.found += [f"{tag} {name}=" for name in names if name.startswith("on")]

    def handle_data(self, data):
        if self._script and data.strip():
            self.found.append("inline <script>")

    def handle_endtag(self, tag):
        self._script = False


def _inline(html: str) -> list[str]:
    parser = _Inline()
    parser.feed(html)
    return parser.found


@pytest.fixture
def staff(chat_client):
    return signed_in_headers(chat_client.app, "agent", "editor", "admin")


@pytest.mark.parametrize("path", STAFF_PAGES)
def test_staff_pages_run_only_this_sites_scripts_and_no_site_may_frame_them(
    chat_client, staff, path
):
    page = chat_client.get(path, headers={} if path == "/login" else staff)  # signed out
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    _assert_common(page)
    assert page.headers["content-security-policy"] == STAFF_CSP
    policy = _directives(STAFF_CSP)
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert page.headers["x-frame-options"] == "DENY"
    assert _inline(page.text) == []  # nothing on the page that its policy would block


def test_the_widget_demo_page_loads_the_widget_from_this_site_and_may_be_framed(chat_client):
    page = chat_client.get("/")
    _assert_common(page)
    assert page.headers["content-security-policy"] == DEMO_CSP
    policy = _directives(DEMO_CSP)
    assert policy["script-src"] == ["'self'"] and "frame-ancestors" not in policy
    assert "x-frame-options" not in page.headers
    assert _inline(page.text) == ["<style>"]  # the page's own styles: allowed for this page


@pytest.mark.parametrize("path", DOCS_PAGES)
def test_the_api_docs_may_load_their_cdn_code_but_no_site_may_frame_them(chat_client, path):
    page = chat_client.get(path)
    _assert_common(page)
    assert page.headers["content-security-policy"] == DOCS_CSP
    assert "https://cdn.jsdelivr.net" in _directives(DOCS_CSP)["script-src"]
    assert page.headers["x-frame-options"] == "DENY"


def test_what_the_widget_uses_on_customer_sites_gets_nosniff_but_no_page_policy(chat_client):
    created = chat_client.post("/api/conversations", json={})
    conversation_id, token = created.json()["conversation_id"], created.json()["token"]
    responses = [
        chat_client.get("/widget.js"),
        chat_client.get("/widget.css"),
        created,
        chat_client.get(
            f"/api/conversations/{conversation_id}/state",
            headers={"Authorization": f"Bearer {token}"},
        ),
        chat_client.get("/openapi.json"),
        chat_client.get("/healthz"),
        chat_client.get("/api/conversations/nope/state"),  # an error, 401
    ]
    for response in responses:
        _assert_common(response)
        assert "content-security-policy" not in response.headers, response.url
        assert "x-frame-options" not in response.headers, response.url
