"""A real OpenAI-compatible HTTP server on 127.0.0.1 for tests: the one allowed fake.

It serves ``POST /v1/chat/completions`` as JSON or as server-sent events, records every
request body it receives, and answers what the test sets: ``server.reply`` (a string, or a
function of the request body) or an HTTP error with ``server.status``. Like a real endpoint in
trouble it can also be slow: ``stall_s`` before it answers at all, ``chunk_delay_s`` between
streamed pieces; or break off: ``break_after`` pieces, then the connection is closed with no
end of stream (HTTP/1.0, so the cut looks like a clean end to the client).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = str | Callable[[dict[str, Any]], str]


class OpenAIServer:
    def __init__(self) -> None:
        self.reply: Reply = "Open Settings and choose Reset password. [1]"
        self.status = 200
        self.stall_s = 0.0
        self.chunk_delay_s = 0.0
        self.break_after: int | None = None
        self.streamed = threading.Event()  # set once a streamed piece was sent
        self.requests: list[dict[str, Any]] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def start(self) -> OpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def text_for(self, body: dict[str, Any]) -> str:
        return self.reply(body) if callable(self.reply) else self.reply


def _completion(body: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", "test"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _chunks(body: dict[str, Any], text: str) -> list[dict[str, Any]]:
    def chunk(delta: dict[str, str], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-test",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": body.get("model", "test"),
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    # Word-sized pieces, the way real servers split tokens.
    pieces = [word + " " for word in text.split(" ")]
    pieces[-1] = pieces[-1][:-1]
    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": piece}) for piece in pieces if piece]
    events.append(chunk({}, "stop"))
    if (body.get("stream_options") or {}).get("include_usage"):
        usage = {"prompt_tokens": 1, "completion_tokens": len(pieces), "total_tokens": 9}
        events.append({**chunk({}), "choices": [], "usage": usage})
    return events


def _handler_for(server: OpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # keep test output clean
            pass

        def _send_json(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            server.requests.append(body)
            time.sleep(server.stall_s)
            if self.path != "/v1/chat/completions":
                self._send_json(404, {"error": {"message": f"no route {self.path}"}})
                return
            if server.status != 200:
                error = {"message": "the test server failed on purpose", "type": "server_error"}
                self._send_json(server.status, {"error": error})
                return
            text = server.text_for(body)
            if not body.get("stream"):
                self._send_json(200, _completion(body, text))
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            for n, event in enumerate(_chunks(body, text)):
                if server.break_after is not None and n > server.break_after:
                    self.close_connection = True
                    return
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.flush()
                if n:  # the first event only opens the assistant's message
                    server.streamed.set()
                time.sleep(server.chunk_delay_s)
            self.wfile.write(b"data: [DONE]\n\n")

    return Handler
