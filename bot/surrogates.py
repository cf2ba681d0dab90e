"""Lone UTF-16 surrogates: JSON can carry one (``"\\ud800"``), Python decodes it into a
``str``, and then no database (SQLite, PostgreSQL), tokenizer or UTF-8 encoder takes it.

``RejectLoneSurrogates`` refuses a JSON request body holding one with 422, for every route
of every package, before any of them sees it; the sockets check their frames with
``has_lone_surrogate`` themselves.
"""

from __future__ import annotations

import json
import re

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MESSAGE = "The text holds a lone UTF-16 surrogate (e.g. \\ud800), which is not a character."
# One escape sequence at a time, so an escaped backslash ("\\\\ud800") is not read as "\\u".
_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|.)", re.DOTALL)
_RAW = re.compile("[\ud800-\udfff]")  # already decoded (bytes read with "surrogatepass")


def _is_high(unit: int | None) -> bool:
    return unit is not None and 0xD800 <= unit <= 0xDBFF


def _is_low(unit: int | None) -> bool:
    return unit is not None and 0xDC00 <= unit <= 0xDFFF


def has_lone_surrogate(text: str) -> bool:
    """Whether JSON ``text`` holds a surrogate that is not half of a pair, escaped or not."""
    if _RAW.search(text):
        return True
    high_ends_at: int | None = None  # where a high surrogate's escape ended, awaiting its pair
    for match in _ESCAPE.finditer(text):
        unit = int(match.group(1), 16) if match.group(1) else None
        if high_ends_at is not None:
            if match.start() != high_ends_at or not _is_low(unit):
                return True
            high_ends_at = None
        elif _is_high(unit):
            high_ends_at = match.end()
        elif _is_low(unit):
            return True
    return high_ends_at is not None


class RejectLoneSurrogates:
    """ASGI middleware: a JSON request body with a lone surrogate gets 422 (the widget API's
    error shape, code ``invalid``); any other request passes through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(Headers(scope=scope).get("content-type")):
            await self.app(scope, receive, send)
            return
        body, ended = await _read_body(receive)
        if ended is None and _lone_surrogate_in(body):
            await _refuse(send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return ended or {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


async def _read_body(receive: Receive) -> tuple[bytes, Message | None]:
    """The whole body, or what came before the client went away and that message."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), message
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), None


def _lone_surrogate_in(body: bytes) -> bool:
    try:
        # "surrogatepass", as json.loads reads bytes: raw surrogate bytes become surrogates.
        text = body.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return False  # not UTF-8: the JSON parser refuses it with its own error
    return has_lone_surrogate(text)


async def _refuse(send: Send) -> None:
    body = json.dumps({"detail": {"code": "invalid", "message": MESSAGE}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 422, "headers": headers})
    await send({"type": "http.response.body", "body": body})
