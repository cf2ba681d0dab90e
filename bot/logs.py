"""Structured logs: with ``ALLHOURS_LOG_FORMAT=json``, one JSON object a line, carrying the
request id (the caller's ``X-Request-ID``, else a new one) and the conversation id when the
line was written on a request or turn about a conversation.

The ids travel in context variables: asyncio copies them into the tasks and worker threads a
request starts, so a log line deep in a turn still knows whose turn it was.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
conversation_id: ContextVar[str | None] = ContextVar("conversation_id", default=None)
_CONVERSATION_PATH = re.compile(r"^/api/(?:conversations|agent/conversations)/([0-9a-f]{1,32})\b")
_REQUEST_ID = re.compile(r"^[\w.-]{1,64}$")  # what we echo back must be a safe header value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id.get(),
            "conversation_id": conversation_id.get(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps({k: v for k, v in line.items() if v is not None}, ensure_ascii=False)


def use_json_logs() -> None:
    """Send every log line (ours, uvicorn's, libraries') to stderr as JSON."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.INFO)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True


class RequestIds:
    """ASGI middleware: sets the ids for the request's log lines, and answers with
    ``X-Request-ID`` so that a customer's report can be found in the logs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        request_id.set(rid)
        match = _CONVERSATION_PATH.match(scope["path"])
        conversation_id.set(match.group(1) if match else None)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        await self.app(scope, receive, send_with_id)
