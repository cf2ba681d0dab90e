"""HTML pages to Markdown-ish text: headings become "#" lines so chunking can follow them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bs4 import BeautifulSoup, Tag

# Page furniture and code that never belongs in an answer.
_DROPPED = ("script", "style", "nav", "noscript", "template", "iframe", "svg", "form", "head")
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_BLOCKS = (
    "p",
    "div",
    "section",
    "article",
    "main",
    "header",
    "footer",
    "aside",
    "blockquote",
    "pre",
    "table",
    "tr",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "figure",
    "figcaption",
    "br",
    "hr",
)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


@dataclass(frozen=True)
class HtmlPage:
    title: str
    body: str
    url: str
    tags: tuple[str, ...]


def convert_html(markup: str) -> HtmlPage:
    soup = BeautifulSoup(markup, "html.parser")
    title = _text(soup.title) if soup.title else ""
    url = _attr(soup.find("link", rel="canonical"), "href") or _attr(
        soup.find("meta", property="og:url"), "content"
    )
    keywords = _attr(soup.find("meta", attrs={"name": "keywords"}), "content")
    tags = tuple(tag.strip() for tag in keywords.split(",") if tag.strip())
    for tag in soup.find_all(_DROPPED):
        tag.decompose()
    h1 = soup.find("h1")
    title = title or (_text(h1) if h1 else "")
    for tag in soup.find_all(list(_HEADINGS)):
        tag.replace_with(f"\n\n{'#' * _HEADINGS[tag.name]} {_text(tag)}\n\n")
    for tag in soup.find_all("li"):
        tag.insert_before("\n- ")
        tag.insert_after("\n")
    for tag in soup.find_all(["td", "th"]):
        tag.insert_after(" | ")
    for tag in soup.find_all(_BLOCKS):
        tag.insert_before("\n\n")
        tag.insert_after("\n\n")
    return HtmlPage(title=title, body=_tidy(soup.get_text()), url=url, tags=tags)


def _text(tag: Tag) -> str:
    return _SPACES.sub(" ", tag.get_text(" ")).strip()


def _attr(tag: object, name: str) -> str:
    if isinstance(tag, Tag):
        value = tag.get(name)
        return value.strip() if isinstance(value, str) else ""
    return ""


def _tidy(text: str) -> str:
    """Collapse runs of spaces on each line and of blank lines between paragraphs."""
    lines = [_SPACES.sub(" ", line).strip().rstrip("|").strip() for line in text.splitlines()]
    paragraphs: list[str] = []
    current: list[str] = []
    for line in lines:
        if line:
            current.append(line)
        elif current:
            paragraphs.append("\n".join(current))
            current = []
    if current:
        paragraphs.append("\n".join(current))
    return "\n\n".join(paragraphs)
