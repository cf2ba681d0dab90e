import asyncio
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from retrieval.importer import FetchError, Importer

PAGES: dict[str, tuple[str, bytes]] = {
    "/help/returns.html": (
        "text/html; charset=utf-8",
        b"<!doctype html><html><head><title>Returns</title><meta name='keywords' content='orders'>"
        b"</head><body><h1>Returns</h1><p onclick='evil()'>Send parcels back within 30 days."
        b"</p><script>evil()</script></body></html>",
    ),
    "/help/shipping": (
        "text/html",
        b"<html><body><h1>Shipping</h1><p>We ship worldwide in 5 days.</p></body></html>",
    ),
    "/help/notes.md": ("text/markdown", b"# Notes\n\nPlain **markdown** notes."),
    "/help/empty.html": ("text/html", b"<html><body><script>x()</script></body></html>"),
    "/image.png": ("image/png", b"\x89PNG\r\n\x1a\n..."),
    "/fake.pdf": ("application/pdf", b"<html>not a pdf</html>"),
    "/big.txt": ("text/plain", b"x" * 5000),
}


def _sitemap(*paths: str, host: str) -> bytes:
    urls = "".join(f"<url><loc>{host}{p}</loc></url>" for p in paths)
    return f'<?xml version="1.0"?><urlset xmlns="x">{urls}</urlset>'.encode()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        host = f"http://{self.headers['Host']}"
        if self.path == "/sitemap.xml":
            paths = ["/help/returns.html", "/help/shipping", "/help/notes.md", "/help/missing"]
            body = (
                _sitemap(*paths, host=host) + b"<url><loc>https://elsewhere.example/x</loc></url>"
            )
            self._send(200, "application/xml", body)
        elif self.path == "/index.xml":
            index = f"<sitemapindex><sitemap><loc>{host}/sitemap.xml</loc></sitemap></sitemapindex>"
            self._send(200, "text/xml", index.encode())
        elif self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/help/shipping")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/slow":
            threading.Event().wait(1.5)
            try:
                self._send(200, "text/plain", b"late")
            except BrokenPipeError:  # the importer gave up waiting, as it should
                pass
        elif self.path in PAGES:
            self._send(200, *PAGES[self.path])
        else:
            self._send(404, "text/plain", b"not found")

    def _send(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args) -> None:  # keep test output quiet
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# The test site is on 127.0.0.1, which the default refuses.
IMPORTER = Importer(max_bytes=4096, timeout_s=0.5, allow_private=True)


def fetch(url: str):
    return asyncio.run(IMPORTER.fetch_page(url))


def test_a_page_is_fetched_sanitised_and_given_its_url_as_source(site):
    doc = fetch(f"{site}/help/returns.html")
    assert (doc.doc_id, doc.title, doc.format, doc.tags) == (
        "help-returns",
        "Returns",
        "html",
        ("orders",),
    )
    assert doc.url == f"{site}/help/returns.html"
    assert "Send parcels back within 30 days." in doc.body and "evil" not in doc.body


def test_redirects_are_followed_and_markdown_is_loaded_as_markdown(site):
    moved = fetch(f"{site}/moved")
    assert (moved.doc_id, moved.url) == ("help-shipping", f"{site}/help/shipping")
    notes = fetch(f"{site}/help/notes.md")
    assert (notes.format, notes.title) == ("md", "Notes")


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/help/missing", "HTTP status 404"),
        ("/image.png", "unsupported content type image/png"),
        ("/fake.pdf", "named .pdf but the content is not a PDF"),
        ("/big.txt", "larger than the 4096 byte limit"),
        ("/help/empty.html", "no text in the file"),
        ("/slow", "timed out after 0.5 s"),
    ],
)
def test_bad_pages_raise_a_fetch_error_that_says_why(site, path, reason):
    with pytest.raises(FetchError) as caught:
        fetch(site + path)
    assert caught.value.reason == reason and caught.value.url == site + path


@pytest.mark.parametrize("url", ["file:///etc/passwd", "javascript:alert(1)", "ftp://x/y", "help"])
def test_only_http_urls_are_imported(url):
    with pytest.raises(FetchError, match="only http:// and https://"):
        fetch(url)


def test_a_refused_connection_is_a_fetch_error():
    with pytest.raises(FetchError, match="cannot fetch"):
        fetch("http://127.0.0.1:9/nothing-listens-here")


@pytest.mark.parametrize("path", ["/sitemap.xml", "/index.xml"])
def test_a_sitemap_imports_its_own_hosts_pages_and_lists_the_failures(site, path):
    docs, errors = asyncio.run(IMPORTER.fetch_sitemap(site + path))
    assert sorted(d.doc_id for d in docs) == ["help-notes", "help-returns", "help-shipping"]
    assert [(e.url, e.reason) for e in errors] == [(f"{site}/help/missing", "HTTP status 404")]


def test_a_page_is_not_a_sitemap(site):
    with pytest.raises(FetchError, match="unsupported content type text/html"):
        asyncio.run(IMPORTER.fetch_sitemap(f"{site}/help/shipping"))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/secret",
        "http://10.0.0.1/admin",
        "https://[::1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:9/",
    ],
)
def test_by_default_private_addresses_are_refused_before_any_request(url, monkeypatch):
    # Any connection attempt fails the test: the refusal must come from the address check.
    def no_connection(*_args, **_kwargs):
        raise AssertionError("a connection was attempted")

    monkeypatch.setattr(socket, "create_connection", no_connection)
    monkeypatch.setattr(socket.socket, "connect", no_connection)
    with pytest.raises(FetchError, match="private or reserved address"):
        asyncio.run(Importer().fetch_page(url))


def test_a_host_that_rebinds_to_a_private_address_after_the_first_lookup_is_refused(
    site, monkeypatch
):
    # DNS is the edge faked here: the first answer for the name is public, every later one
    # is the test site's loopback address (the classic rebinding attack on a check-then-fetch).
    real = asyncio.base_events.BaseEventLoop.getaddrinfo
    answers = []

    async def rebinding(self, host, port, *args, **kwargs):
        if host != "help.rebind.example":
            return await real(self, host, port, *args, **kwargs)
        answers.append("93.184.216.34" if not answers else "127.0.0.1")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[-1], port))]

    monkeypatch.setattr(asyncio.base_events.BaseEventLoop, "getaddrinfo", rebinding)
    port = site.rsplit(":", 1)[1]
    with pytest.raises(FetchError, match=r"private or reserved address \(127\.0\.0\.1\)"):
        asyncio.run(Importer().fetch_page(f"http://help.rebind.example:{port}/help/shipping"))
    assert answers == ["93.184.216.34", "127.0.0.1"]  # checked, then checked again on connect
