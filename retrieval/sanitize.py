"""Untrusted HTML made harmless before it is loaded, and URLs limited to the web.

Uploads and HTTP imports pass through here: ``nh3`` (ammonia, a maintained sanitiser) drops
scripts, styles, event handlers and ``javascript:`` URLs. The head elements that carry the
page's title, canonical URL and keywords are kept so the loader can still read them.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlsplit

import nh3

from retrieval.documents import Document
from retrieval.loaders import load_bytes

_TAGS = nh3.ALLOWED_TAGS | {"title", "meta", "link"}
_ATTRIBUTES = {
    **nh3.ALLOWED_ATTRIBUTES,
    "meta": {"name", "property", "content"},
    "link": {"rel", "href"},
}
_WEB_SCHEMES = ("http", "https")


def sanitize_html(markup: str) -> str:
    # link_rel=None: ammonia would otherwise refuse the "rel" of <link rel="canonical">.
    return nh3.clean(markup, tags=_TAGS, attributes=_ATTRIBUTES, link_rel=None)


def safe_url(url: str) -> str:
    """``url`` if it is an http(s) URL or a site-relative path, else "" (javascript:, data:...)."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() in _WEB_SCHEMES and parts.netloc:
        return url
    if not parts.scheme and not parts.netloc and url.startswith("/"):
        return url
    return ""


def load_upload(name: str, data: bytes) -> Document:
    """``load_bytes`` with HTML sanitised first and the document's URL checked.

    Raises ``LoadError`` with the loader's message for broken or unsupported content.
    """
    doc = load_bytes(name, data)
    if doc.format == "html":
        return load_html(name, data.decode("utf-8-sig"))
    return replace(doc, url=safe_url(doc.url))


def load_html(name: str, markup: str) -> Document:
    """An HTML page, sanitised, as a Document (``name`` gives the id and fallback title)."""
    # The sanitiser returns a fragment; the doctype keeps the loader reading it as HTML.
    clean = "<!doctype html>" + sanitize_html(markup)
    doc = load_bytes(name, clean.encode("utf-8"))
    return replace(doc, url=safe_url(doc.url))
