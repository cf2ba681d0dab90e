"""``GET /metrics``: Prometheus metrics through the official client, one registry per app.

Counts that the database already holds (turns and the policy's decisions) are read from it at
scrape time, so every server process reports the same totals and a restart loses nothing. What
only a process sees (turn latency, LLM errors, its open WebSockets) is measured in-process;
Prometheus sums those across processes. The endpoint wants a bearer token
(``ALLHOURS_METRICS_TOKEN``) or a signed-in admin or supervisor.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.chat.models import Message
from handoff.waiting import list_queue

# From a cached small-talk reply to a slow remote LLM.
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)
_SOCKET_PATHS = ("/ws/widget", "/ws/agent")


class Metrics:
    """The app's registry and its in-process instruments."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.turn_seconds = Histogram(
            "allhours_turn_seconds",
            "Time from a customer's message to the bot's reply, handoff or clarification",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.llm_errors = Counter(
            "allhours_llm_errors", "Turns the LLM endpoint failed", registry=self.registry
        )
        self.open_websockets = Gauge(
            "allhours_open_websockets",
            "WebSockets open in this process",
            ["path"],
            registry=self.registry,
        )

    def watch(self, sessions: sessionmaker[Session], state: Any) -> None:
        """Add what is read at scrape time: the database's counts, the queue, the index."""
        self.registry.register(_StoredCollector(sessions, state))

    # The chat service's TurnObserver.
    def turn_took(self, seconds: float) -> None:
        self.turn_seconds.observe(seconds)

    def llm_failed(self) -> None:
        self.llm_errors.inc()


class _StoredCollector(Collector):
    def __init__(self, sessions: sessionmaker[Session], state: Any) -> None:
        self.sessions, self.state = sessions, state

    def collect(self) -> Iterator[Metric]:
        settings = self.state.settings
        decisions = CounterMetricFamily(
            "allhours_decisions",
            "The policy's decisions on bot turns",
            labels=["decision", "reason"],
        )
        with self.sessions() as session:
            rows = session.execute(
                select(Message.decision, Message.reason, func.count())
                .where(Message.decision.is_not(None))
                .group_by(Message.decision, Message.reason)
            ).all()
            view = list_queue(
                session=session,
                now=self.state.now(),
                sla_wait_s=settings.sla_wait_s,
                alert_length=settings.queue_alert_length,
            )
        for decision, reason, count in rows:
            decisions.add_metric([decision, reason or ""], count)
        yield CounterMetricFamily(
            "allhours_turns", "Customer turns the bot took", value=sum(r[2] for r in rows)
        )
        yield decisions
        yield GaugeMetricFamily("allhours_queue_length", "Conversations waiting", len(view.items))
        waits = [item.waited_s for item in view.items]
        yield GaugeMetricFamily(
            "allhours_queue_longest_wait_seconds",
            "How long the longest-waiting customer has waited",
            max(waits, default=0),
        )
        yield GaugeMetricFamily(
            "allhours_queue_sla_breaches", "Customers waiting past the SLA target", view.breached
        )
        yield GaugeMetricFamily(
            "allhours_index_chunks", "Passages in the search index", len(self.state.engine.index)
        )


class CountSockets:
    """ASGI middleware: the WebSockets open in this process, by path."""

    def __init__(self, app: ASGIApp, *, metrics: Callable[[], Metrics]) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        # Known paths only: any path may be asked for, and each label is a new time series.
        path = scope["path"] if scope["path"] in _SOCKET_PATHS else "other"
        gauge = self.metrics().open_websockets.labels(path)
        gauge.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            gauge.dec()


def make_metrics_router(
    *, metrics: Callable[[Request], Metrics], staff_allowed: Callable[[Request], Awaitable[bool]]
) -> APIRouter:
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    async def read_metrics(request: Request) -> Response:
        token = request.app.state.settings.metrics_token.get_secret_value()
        given = request.headers.get("authorization", "").removeprefix("Bearer ")
        by_token = bool(token) and hmac.compare_digest(given.encode(), token.encode())
        if not by_token and not await staff_allowed(request):
            raise HTTPException(401, "A bearer token or an admin or supervisor sign-in")
        body = await run_in_threadpool(generate_latest, metrics(request).registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return router
