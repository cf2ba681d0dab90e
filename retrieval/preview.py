"""Markdown to HTML for the editor's preview, safe by construction.

markdown-it-py with raw HTML disabled escapes any tag in the text, and its link check refuses
``javascript:``, ``vbscript:``, ``file:`` and ``data:`` URLs, so the output can be inserted as is.
"""

from __future__ import annotations

from markdown_it import MarkdownIt

_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")


def render_markdown(text: str) -> str:
    return _MARKDOWN.render(text)
