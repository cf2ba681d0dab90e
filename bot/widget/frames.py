"""Reading one client frame of the widget socket, bounded, so that no frame can take the
socket down: whatever arrives becomes either an event (a JSON object) or a ``ChatError``
with one of the protocol's codes, which the socket sends back as an ``error`` event."""

from __future__ import annotations

import json
from typing import Any

from bot.chat.service import ChatError
from bot.surrogates import MESSAGE, has_lone_surrogate

# Room for a message of max_message_chars even if every character arrives escaped, as a
# surrogate pair "\ud83d\ude00" (12 characters) at worst, plus the rest of the event.
_ESCAPED = 12
_ENVELOPE = 1024


def frame_limit(max_message_chars: int) -> int:
    """The longest frame, in characters, the socket reads as JSON."""
    return _ESCAPED * max_message_chars + _ENVELOPE


def read_frame(frame: dict[str, Any], *, limit: int) -> dict[str, Any]:
    """The event in an ASGI ``websocket.receive`` message, or ``ChatError``."""
    raw: str | bytes | None = frame.get("text")
    if raw is None:
        raw = frame.get("bytes") or b""
    if len(raw) > limit:
        # Only a message over max_message_chars makes a frame this long: the widget drops
        # the message it sent first (the error cannot name it without reading the frame).
        raise ChatError("too_long", f"The frame is longer than {limit} characters.")
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ChatError("bad_json", "The frame is not UTF-8 text.") from error
    if has_lone_surrogate(raw):
        raise ChatError("invalid", MESSAGE)
    try:
        data = json.loads(raw)
    except ValueError as error:
        raise ChatError("bad_json", "The frame is not valid JSON.") from error
    except RecursionError as error:  # JSON nested deeper than the parser's stack
        raise ChatError("bad_json", "The frame is nested too deeply.") from error
    if not isinstance(data, dict):
        raise ChatError("bad_json", "The frame must be a JSON object.")
    return data


def event_type(data: dict[str, Any], known: set[str]) -> str:
    """The event's ``type`` if it is one of ``known``, else ``ChatError`` (``bad_type``)."""
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ChatError("bad_type", "The event type must be a string.")
    if kind not in known:
        raise ChatError("bad_type", f"Unknown event type {kind[:40]!r}.")
    return kind
