"""Import pages over HTTP: one URL, or every page a sitemap lists.

Every response is checked before it is loaded: the status, the declared content type, and
the size (read in a stream and cut off at the limit, so a huge or endless body costs nothing).
HTML is sanitised. A sitemap may only point at pages on its own host. Unless allowed, no
request (the first or a redirect) goes to a host that resolves to a loopback, private,
link-local or reserved address: an editor must not make the server reach its own network.
The check is made where the connection is opened, on the very addresses it connects to, so a
DNS answer that changes after a first lookup (DNS rebinding) cannot slip past it.
"""

from __future__ import annotations

import asyncio
import html
import ipaddress
import re
import socket
from collections.abc import Collection
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

import httpcore
import httpx

from retrieval.documents import Document
from retrieval.loaders import LoadError, load_bytes
from retrieval.sanitize import load_html, safe_url

# Declared content type -> the suffix that tells the loader what the name claims.
_PAGE_TYPES = {
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "text/markdown": ".md",
    "text/x-markdown": ".md",
    "text/plain": ".txt",
    "application/pdf": ".pdf",
}
_SITEMAP_TYPES = ("application/xml", "text/xml")
_LOC = re.compile(r"<loc>\s*(.*?)\s*</loc>", re.I | re.S)
_SLUG = re.compile(r"[^a-z0-9]+")
_PARALLEL = 4  # pages fetched at once from one sitemap


class _NotPublic(Exception):
    """A host that resolves to an address the importer must not reach."""


class FetchError(Exception):
    """A URL that cannot become a Document; str() names the URL and the reason."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


@dataclass(frozen=True)
class Importer:
    max_bytes: int = 10 * 1024 * 1024
    timeout_s: float = 10.0
    max_pages: int = 200
    allow_private: bool = False  # fetch from internal hosts too (tests, intranet help centres)

    async def fetch_page(self, url: str) -> Document:
        async with self._client() as client:
            return await self._page(client, _checked(url))

    async def fetch_sitemap(self, url: str) -> tuple[list[Document], list[FetchError]]:
        """Every page of a sitemap (or of the sitemaps a sitemap index lists, one level)."""
        async with self._client() as client:
            urls = await self._sitemap_urls(client, _checked(url), nested=True)
            gate = asyncio.Semaphore(_PARALLEL)

            async def one(page_url: str) -> Document | FetchError:
                async with gate:
                    try:
                        return await self._page(client, page_url)
                    except FetchError as exc:
                        return exc

            results = await asyncio.gather(*(one(u) for u in urls))
        docs = [r for r in results if isinstance(r, Document)]
        return docs, [r for r in results if isinstance(r, FetchError)]

    def _client(self) -> httpx.AsyncClient:
        # The hook runs before every request httpx sends, redirects included, and also covers a
        # proxy from the environment (there the proxy, not our backend, opens the connection).
        hooks = {"request": [] if self.allow_private else [_refuse_private]}
        return httpx.AsyncClient(
            timeout=self.timeout_s,
            follow_redirects=True,
            max_redirects=5,
            event_hooks=hooks,
            transport=None if self.allow_private else _PublicOnlyTransport(),
        )

    async def _page(self, client: httpx.AsyncClient, url: str) -> Document:
        kind, charset, data, final_url = await self._get(client, url, _PAGE_TYPES)
        name = _name(final_url) + _PAGE_TYPES[kind]
        try:
            if _PAGE_TYPES[kind] == ".html":
                doc = load_html(name, data.decode(charset, errors="replace"))
            else:
                doc = load_bytes(name, data)
        except LoadError as exc:
            raise FetchError(url, exc.reason) from exc
        return replace(doc, url=doc.url or safe_url(final_url))

    async def _sitemap_urls(
        self, client: httpx.AsyncClient, url: str, *, nested: bool
    ) -> list[str]:
        _, charset, data, final_url = await self._get(client, url, _SITEMAP_TYPES)
        text = data.decode(charset, errors="replace")
        host = urlsplit(final_url).netloc
        locs = [html.unescape(loc) for loc in _LOC.findall(text)]
        locs = [loc for loc in locs if safe_url(loc) and urlsplit(loc).netloc == host]
        if nested and re.search(r"<sitemapindex\b", text, re.I):
            pages: list[str] = []
            for child in locs:
                pages += await self._sitemap_urls(client, child, nested=False)
            locs = pages
        if not locs:
            raise FetchError(url, "the sitemap lists no pages on its own host")
        return list(dict.fromkeys(locs))[: self.max_pages]

    async def _get(
        self, client: httpx.AsyncClient, url: str, types: Collection[str]
    ) -> tuple[str, str, bytes, str]:
        """(content type, charset, body, final URL) of a successful response within limits."""
        try:
            async with client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise FetchError(url, f"HTTP status {response.status_code}")
                kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if kind not in types:
                    raise FetchError(url, f"unsupported content type {kind or '(none)'}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    raise FetchError(url, f"larger than the {self.max_bytes} byte limit")
                body = bytearray()
                async for part in response.aiter_bytes():
                    body += part
                    if len(body) > self.max_bytes:
                        raise FetchError(url, f"larger than the {self.max_bytes} byte limit")
                charset = response.charset_encoding or "utf-8"
                return kind, charset, bytes(body), str(response.url)
        except _NotPublic as exc:
            raise FetchError(url, f"{exc}; ALLHOURS_IMPORT_ALLOW_PRIVATE=true allows it") from exc
        except httpx.TimeoutException as exc:
            raise FetchError(url, f"timed out after {self.timeout_s:g} s") from exc
        except httpx.HTTPError as exc:
            raise FetchError(url, f"cannot fetch ({exc.__class__.__name__})") from exc


def _checked(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise FetchError(url, "only http:// and https:// URLs can be imported")
    return url


async def _public_address(host: str, port: int) -> str:
    """The address to connect to for ``host``, if every address it resolves to is public."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise _NotPublic(f"cannot resolve {host}") from exc
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not address.is_global or address.is_multicast:
            raise _NotPublic(f"{host} is a private or reserved address ({address})")
    return str(infos[0][4][0])


async def _refuse_private(request: httpx.Request) -> None:
    """Refuse a request to a host that is not public before anything is sent."""
    await _public_address(request.url.host, request.url.port or 443)


class _PublicOnlyBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections only to public addresses: it resolves the host itself, checks
    every address, and connects to a checked one (TLS still names the host, for SNI and the
    certificate)."""

    def __init__(self) -> None:
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options=None,
    ) -> httpcore.AsyncNetworkStream:
        address = await _public_address(host, port)
        return await self._backend.connect_tcp(
            address, port, timeout, local_address, socket_options
        )

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise _NotPublic("the importer does not open Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class _PublicOnlyTransport(httpx.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        # httpx takes no network backend, so the pool it built is replaced by the same kind of
        # pool on ours (tests/test_importer.py checks that it is the one that connects).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(), network_backend=_PublicOnlyBackend()
        )


def _name(url: str) -> str:
    """A document name from the URL's path ("/help/reset.html" -> "help-reset")."""
    parts = urlsplit(url)
    path = parts.path.rsplit(".", 1)[0] if "." in parts.path.rsplit("/", 1)[-1] else parts.path
    return _SLUG.sub("-", path.lower()).strip("-") or _SLUG.sub("-", parts.netloc).strip("-")
