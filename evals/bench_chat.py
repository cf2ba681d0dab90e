"""Customer-chat concurrency: N widget conversations at once over real WebSockets.

Starts the real server (``allhours serve``, uvicorn) in a subprocess on a free loopback port
with a fresh SQLite database, opens ``n_conversations`` WebSocket conversations at once, each
sending ``messages_each`` messages one after the other (the next once the previous is
answered), and reports the turn latency (send -> the final bot message), messages sent vs
acknowledged vs stored (counted in the database) vs answered, and the server's CPU time and
peak memory (psutil). A benchmark, not a test: it prints figures and decides nothing.

    python -m evals.bench_chat [N ...] [--messages 3] [--out reports/bench_chat.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil
import websockets
from sqlalchemy import create_engine, text

from evals.bench_turn import KB_DIR, bench_questions
from evals.services import AppServer, free_port
from handoff.policy import Action, PolicyConfig, TurnFacts, decide

_TURN_TIMEOUT_S = 180  # a bound on every wait, so a stuck run ends
_QUESTION_POOL = 120


def measure_concurrency(
    n_conversations: int,
    messages_each: int = 3,
    *,
    kb_dir: Path = KB_DIR,
    index_dir: Path | None = None,
) -> dict[str, Any]:
    """Figures for one run; ``index_dir`` reuses a folder whose Chroma index is built."""
    with tempfile.TemporaryDirectory() as folder:
        data_dir = index_dir or Path(folder)
        database = Path(folder) / "bench.db"
        with live_server(data_dir, database, kb_dir, Path(folder) / "server.log") as (
            base_url,
            process,
        ):
            questions = plain_questions(kb_dir)
            monitor = Monitor(process)
            client = psutil.Process()
            cpu_before, client_cpu_before = cpu_seconds(process), cpu_seconds(client)
            started = time.perf_counter()
            results = asyncio.run(_run(base_url, n_conversations, messages_each, questions))
            wall_s = time.perf_counter() - started
            cpu_s = cpu_seconds(process) - cpu_before
            client_cpu_s = cpu_seconds(client) - client_cpu_before
            monitor.stop()
        stored = count_stored(f"sqlite:///{database}")
    latencies = [s for r in results for s in r["latencies"]]
    sent = sum(r["sent"] for r in results)
    return {
        "conversations": n_conversations,
        "messages_each": messages_each,
        "sent": sent,
        "acked": sum(r["acked"] for r in results),
        "stored": stored["customer"],
        "answered": sum(r["answered"] for r in results),
        "lost": sent - stored["customer"],
        "bot_replies_stored": stored["replies"],
        "handoffs": stored["handoffs"],
        "failed_conversations": sum(1 for r in results if r["error"]),
        "create_retries": sum(r["retries"] for r in results),
        **percentiles(latencies),
        "wall_s": round(wall_s, 1),
        # Every conversation starts at once, so the server is saturated for the whole run.
        "turns_per_s": round(sum(r["answered"] for r in results) / wall_s, 1),
        "server_cpu_s": round(cpu_s, 1),
        "server_peak_rss_mb": round(monitor.peak_rss / 2**20, 1),
        # The load generator shares the machine: its CPU time bounds what the server could do.
        "client_cpu_s": round(client_cpu_s, 1),
        "errors": sorted({r["error"] for r in results if r["error"]})[:5],
    }


def plain_questions(kb_dir: Path) -> list[str]:
    # Questions the policy lets the bot answer whatever the score (no sensitive topic, no
    # request for a person), so that every message of the run expects an answer.
    pool = bench_questions(kb_dir, _QUESTION_POOL)
    config = PolicyConfig()
    return [q for q in pool if decide(TurnFacts(q, 1.0), config).action == Action.answer]


async def _run(
    base_url: str, n: int, messages_each: int, questions: list[str]
) -> list[dict[str, Any]]:
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        return await asyncio.gather(
            *(_converse(client, base_url, i, messages_each, questions) for i in range(n))
        )


async def _converse(
    client: httpx.AsyncClient, base_url: str, i: int, count: int, questions: list[str]
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "sent": 0,
        "acked": 0,
        "answered": 0,
        "latencies": [],
        "error": "",
        "retries": 0,
    }
    try:
        created = await create_conversation(client, result)
        url = f"{base_url.replace('http', 'ws', 1)}/ws/widget?token={created['token']}"
        async with websockets.connect(url, open_timeout=_TURN_TIMEOUT_S, max_queue=None) as ws:
            await receive_until(ws, lambda e: e["type"] == "state")
            for j in range(count):
                question = questions[(i * count + j) % len(questions)]
                client_id = f"{i}-{j}"
                started = time.perf_counter()
                await ws.send(
                    json.dumps({"type": "message", "client_id": client_id, "text": question})
                )
                result["sent"] += 1
                events = await receive_until(ws, is_reply)
                result["latencies"].append(time.perf_counter() - started)
                result["answered"] += 1
                result["acked"] += any(
                    e["type"] == "ack" and e["client_id"] == client_id for e in events
                )
    except Exception as error:  # a benchmark reports failures instead of stopping
        result["error"] = f"{type(error).__name__}: {error}"[:200]
    return result


async def create_conversation(client: httpx.AsyncClient, result: dict[str, Any]) -> dict[str, Any]:
    # As the widget does: a dropped connection (a pooled keep-alive connection the server
    # closed as it was reused) is retried once. Counted, so the figures show it.
    try:
        return (await client.post("/api/conversations")).raise_for_status().json()
    except httpx.TransportError:
        result["retries"] += 1
        return (await client.post("/api/conversations")).raise_for_status().json()


def is_reply(event: dict[str, Any]) -> bool:
    return event["type"] == "message" and event["role"] in ("bot", "system")


async def receive_until(ws: Any, predicate: Any) -> list[dict[str, Any]]:
    events = []
    async with asyncio.timeout(_TURN_TIMEOUT_S):
        while True:
            event = json.loads(await ws.recv())
            events.append(event)
            if event["type"] == "error":
                raise RuntimeError(f"server error {event['code']}: {event['message']}")
            if predicate(event):
                return events


def percentiles(samples_s: list[float]) -> dict[str, float | None]:
    if not samples_s:
        return {"p50_ms": None, "p95_ms": None, "max_ms": None}
    ms = sorted(s * 1000 for s in samples_s)
    return {
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1),
        "max_ms": round(ms[-1], 1),
    }


def count_stored(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT role, count(*) FROM messages GROUP BY role"))
        counts = dict(rows.all())
        handoffs = connection.execute(text("SELECT count(*) FROM handoff_tickets")).scalar_one()
    engine.dispose()
    return {
        "customer": counts.get("customer", 0),
        "replies": counts.get("bot", 0) + counts.get("system", 0),
        "handoffs": handoffs,
    }


# What a benchmark's servers run with, besides their data: one client machine asks for
# everything, so the per-IP limits are lifted, and the bot answers every turn (no
# low-confidence handoff, after which it would rightly stay silent): the benchmarks measure
# the chat path, the evals measure the policy.
BENCH_SETTINGS = {
    "ALLHOURS_SECRET_KEY": "bench-" + "k" * 32,
    "ALLHOURS_RATE_LIMIT_IP_PER_MINUTE": "100000000",
    "ALLHOURS_MAX_SOCKETS_PER_IP": "100000",
    "ALLHOURS_RATE_LIMIT_CONVERSATION_PER_MINUTE": "100000",
    "ALLHOURS_HANDOFF_THRESHOLD": "0",
    "TOKENIZERS_PARALLELISM": "false",
}


@contextmanager
def live_server(data_dir: Path, database: Path, kb_dir: Path, log: Path):
    """``allhours serve`` on a fresh SQLite database, its log in ``log``: its URL and process."""
    settings = BENCH_SETTINGS | {
        "ALLHOURS_DATA_DIR": str(data_dir),
        "ALLHOURS_DATABASE_URL": f"sqlite:///{database}",
        "ALLHOURS_KB_DIR": str(kb_dir),
    }
    server = AppServer(log.stem, log.parent, free_port(), settings)
    server.start()
    try:
        yield server.url, psutil.Process(server.pid)
    finally:
        server.stop()


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


class Monitor:
    """Samples the server's resident memory to find its peak."""

    def __init__(self, process: psutil.Process, every_s: float = 0.1) -> None:
        self.peak_rss = process.memory_info().rss
        self._process, self._every_s = process, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(self._every_s):
            try:
                self.peak_rss = max(self.peak_rss, self._process.memory_info().rss)
            except psutil.Error:
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="*", type=int, default=[100, 500, 1000])
    parser.add_argument("--messages", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as index_dir:  # indexed by the first run, then reused
        for n in args.n:
            results[n] = measure_concurrency(n, args.messages, index_dir=Path(index_dir))
            print(json.dumps(results[n]), flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
