"""Loading knowledge-base files (.md, .html, .txt, .pdf) and uploads into Documents."""

from __future__ import annotations

import io
import re
from pathlib import Path

import yaml
from pypdf import PdfReader

from retrieval.documents import Document
from retrieval.htmltext import convert_html

SUFFIXES = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html"}
SUFFIXES |= {".txt": "txt", ".pdf": "pdf"}

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_H1 = re.compile(r"^# +(.+?)\s*#*\s*$", re.MULTILINE)
_HTML_SNIFF = re.compile(
    r"\A\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.IGNORECASE | re.DOTALL
)
_SLUG = re.compile(r"[^a-z0-9]+")


class LoadError(Exception):
    """A file that cannot become a Document; str() names the file and the reason."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


def load_file(path: str | Path, *, root: str | Path | None = None) -> Document:
    """Load one file; doc_id is its path relative to ``root`` (or its stem) without suffix."""
    path = Path(path)
    relative = path.relative_to(root) if root is not None else Path(path.name)
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise LoadError(str(path), f"unsupported file type {path.suffix or '(none)'}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    doc_id = relative.with_suffix("").as_posix().replace("/", "-")
    return _parse(str(path), data, fmt, doc_id, fallback_title=path.stem)


def load_bytes(name: str, data: bytes) -> Document:
    """Load an upload. The content decides the type; the name only gives the id and title."""
    stem = Path(name).stem
    doc_id = _SLUG.sub("-", stem.lower()).strip("-")
    if not doc_id:
        raise LoadError(name, "the file name gives no document id")
    claimed = SUFFIXES.get(Path(name).suffix.lower())
    if data.startswith(b"%PDF-"):
        fmt = "pdf"
    elif claimed == "pdf":
        raise LoadError(name, "named .pdf but the content is not a PDF")
    elif _HTML_SNIFF.match(data[:2048].decode("utf-8", "ignore")):
        fmt = "html"
    else:
        fmt = claimed if claimed in ("md", "txt") else "md"
    return _parse(name, data, fmt, doc_id, fallback_title=stem)


def load_folder(root: str | Path) -> tuple[list[Document], list[LoadError]]:
    """Load every supported file under ``root``; broken files are reported, not fatal.

    Skips hidden files and folders and the root README.md (it documents the folder).
    """
    root = Path(root)
    docs: list[Document] = []
    errors: list[LoadError] = []
    seen: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or path.suffix.lower() not in SUFFIXES:
            continue
        hidden = any(part.startswith(".") for part in relative.parts)
        if hidden or relative.as_posix() == "README.md":
            continue
        try:
            doc = load_file(path, root=root)
        except LoadError as exc:
            errors.append(exc)
            continue
        if doc.doc_id in seen:  # e.g. faq.md next to faq.html: one would silently replace the other
            errors.append(LoadError(str(path), f"same document id as {seen[doc.doc_id]}"))
            continue
        seen[doc.doc_id] = str(path)
        docs.append(doc)
    return docs, errors


def _parse(name: str, data: bytes, fmt: str, doc_id: str, *, fallback_title: str) -> Document:
    if not data.strip():
        raise LoadError(name, "empty file")
    if fmt == "pdf":
        title, body = _read_pdf(name, data)
        return _document(name, doc_id, title or fallback_title, body, format="pdf")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(name, f"not UTF-8 text (bad byte at offset {exc.start})") from exc
    if fmt == "html":
        page = convert_html(text)
        title = page.title or fallback_title
        return _document(name, doc_id, title, page.body, url=page.url, tags=page.tags, format=fmt)
    if fmt == "txt":
        return _document(name, doc_id, fallback_title, text.strip(), format=fmt)
    meta, body = _split_front_matter(name, text)
    heading = _H1.search(body)
    title = str(meta.get("title") or (heading.group(1) if heading else fallback_title))
    tags = meta.get("tags") or ()
    if isinstance(tags, str):
        tags = [tag.strip() for tag in tags.split(",")]
    tags = tuple(str(tag) for tag in tags if str(tag).strip())
    return _document(name, doc_id, title, body.strip(), url=str(meta.get("url") or ""), tags=tags)


def _document(name: str, doc_id: str, title: str, body: str, **fields: object) -> Document:
    if not body.strip():
        raise LoadError(name, "no text in the file")
    return Document(doc_id=doc_id, title=title.strip(), body=body, **fields)  # type: ignore[arg-type]


def _split_front_matter(name: str, text: str) -> tuple[dict, str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise LoadError(name, f"bad YAML front matter: {exc.__class__.__name__}") from exc
    if not isinstance(meta, dict):
        raise LoadError(name, "front matter is not a mapping")
    return meta, text[match.end() :]


def _read_pdf(name: str, data: bytes) -> tuple[str, str]:
    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        title = (reader.metadata.title if reader.metadata else None) or ""
    except Exception as exc:  # pypdf raises many types for damaged files; all mean "unreadable"
        raise LoadError(name, f"unreadable PDF ({exc.__class__.__name__}: {exc})") from exc
    body = "\n\n".join(page.strip() for page in pages if page.strip())
    if not body:
        raise LoadError(name, "the PDF has no extractable text (scanned images?)")
    return str(title), body
