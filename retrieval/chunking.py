"""Heading-aware chunking: split on Markdown headings, then by size with overlap."""

from __future__ import annotations

from langchain_core.documents import Document as LCDocument
from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

from retrieval.documents import Chunk, Document

# all-MiniLM-L6-v2 reads 256 word pieces (~1000 characters of English); chunks plus their
# "Title > Heading" line stay under that so nothing embedded is cut off.
CHUNK_SIZE = 400
CHUNK_OVERLAP = 100

_LEVELS = [("#", "h1"), ("##", "h2"), ("###", "h3"), ("####", "h4")]


def chunk_document(
    doc: Document, *, size: int = CHUNK_SIZE, overlap: int = CHUNK_OVERLAP
) -> list[Chunk]:
    """Split ``doc`` into chunks that each carry its id, title, heading path, url and version."""
    sections = MarkdownHeaderTextSplitter(_LEVELS, strip_headers=True).split_text(doc.body)
    # A body of headings alone has no sections; it is still searchable as plain text.
    sections = sections or [LCDocument(page_content=doc.body)]
    splitter = RecursiveCharacterTextSplitter(chunk_size=size, chunk_overlap=overlap)
    chunks: list[Chunk] = []
    for section in sections:
        path = _heading_path(doc.title, section.metadata)
        # The header splitter joins paragraphs with "  \n"; restoring the blank line lets the
        # size splitter break between paragraphs before it breaks inside one.
        text = section.page_content.replace("  \n", "\n\n")
        for piece in splitter.split_text(text):
            chunks.append(
                Chunk(
                    chunk_id=f"{doc.doc_id}#{len(chunks)}",
                    doc_id=doc.doc_id,
                    title=doc.title,
                    heading_path=path,
                    url=doc.url,
                    text=piece,
                    version=doc.version,
                    position=len(chunks),
                )
            )
    return chunks


def _heading_path(title: str, metadata: dict[str, str]) -> tuple[str, ...]:
    path = [metadata[key] for _, key in _LEVELS if metadata.get(key)]
    # A leading "# Title" repeats the document title; keep it once, in the title.
    if path and path[0].strip().casefold() == title.strip().casefold():
        path = path[1:]
    return tuple(path)
