"""Open-loop load: many open chats, messages arriving at a fixed rate (Poisson), stepped up.

The burst benchmark (``bench_chat``) sends everything at once and measures a queue. Real
traffic arrives at a rate: here ``chats`` widget conversations stay open over real WebSockets
and messages arrive with exponential gaps at each rate in turn, each on a chat with no turn in
flight. A message's latency runs from its send to the bot's reply.

Against one process (``allhours serve`` on a fresh SQLite database), or with ``--processes 2``
against the at-scale topology (``evals.topology``: PostgreSQL, Redis, a Chroma server and two
servers, the chats split between them). A few warm-up turns on each server come first and are
not timed. Per rate: p50/p95/p99, messages sent / acknowledged / answered, and each server's
CPU and peak memory; at the end, messages stored and lost (sent but not in the database). The
run stops stepping once the servers fall behind (answered under 90 % of sent, or p95 over
5 s): the best answered rate is the saturation throughput. A benchmark, not a test: it prints
figures and decides nothing.

    python -m evals.bench_load [--chats 1000] [--rates 2 4 8 12 16] [--seconds 20]
                               [--processes 1|2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil
import websockets

from evals.bench_chat import (
    BENCH_SETTINGS,
    Monitor,
    count_stored,
    cpu_seconds,
    create_conversation,
    is_reply,
    live_server,
    percentiles,
    plain_questions,
)
from evals.bench_turn import KB_DIR
from evals.postgres import postgres_server
from evals.topology import Topology

SEED = 11
_DRAIN_S = 60  # how long a step waits for its last replies before counting them unanswered
_WARM_UP_TURNS = 3  # per server, untimed: the first turns load what later turns reuse


class _Chat:
    """One open widget conversation; at most one turn in flight."""

    def __init__(self, ws: Any) -> None:
        self.ws, self.busy = ws, False
        self.sent_at = 0.0
        self.acked: set[str] = set()
        self.closing = False
        self.closed_by_server = False  # a real widget would reconnect and replay; this does not
        self.reader = asyncio.create_task(self._read())
        self.replies: asyncio.Queue[float] = asyncio.Queue()

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                event = json.loads(raw)
                if event["type"] == "ack":
                    self.acked.add(event["client_id"])
                elif is_reply(event) and self.busy:
                    self.busy = False
                    await self.replies.put(time.perf_counter() - self.sent_at)
        except websockets.ConnectionClosedError:
            pass
        self.closed_by_server = not self.closing

    async def send(self, client_id: str, text: str) -> None:
        self.busy, self.sent_at = True, time.perf_counter()
        await self.ws.send(json.dumps({"type": "message", "client_id": client_id, "text": text}))


async def _open(base_url: str, client: httpx.AsyncClient) -> _Chat:
    created = await create_conversation(client, {"retries": 0})
    url = f"{base_url.replace('http', 'ws', 1)}/ws/widget?token={created['token']}"
    return _Chat(await websockets.connect(url, open_timeout=120, max_queue=None))


async def _step(chats: list[_Chat], rate: float, seconds: float, questions: list[str], rng):
    """Send at ``rate`` for ``seconds``: this step's latencies, and its sent, acknowledged and
    not sent (no idle chat) counts."""
    latencies: list[float] = []
    sent, skipped, ids = 0, 0, []
    collectors = []

    async def collect(chat: _Chat) -> None:
        async with asyncio.timeout(_DRAIN_S + seconds):
            latencies.append(await chat.replies.get())

    deadline = time.perf_counter() + seconds
    next_at = time.perf_counter()
    while True:
        next_at += rng.expovariate(rate)
        if next_at > deadline:
            break
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        idle = [c for c in chats if not c.busy]
        if not idle:
            skipped += 1  # every chat has a turn in flight: the server is far behind
            continue
        chat = rng.choice(idle)
        client_id = f"m{rate}-{sent}"
        await chat.send(client_id, rng.choice(questions))
        sent += 1
        ids.append((chat, client_id))
        collectors.append(asyncio.create_task(collect(chat)))
    await asyncio.gather(*collectors, return_exceptions=True)
    acked = sum(client_id in chat.acked for chat, client_id in ids)
    return latencies, sent, acked, skipped


async def _open_chats(base_urls: list[str], count: int) -> list[_Chat]:
    """``count`` chats, opened in batches as visitors arrive, spread over the servers."""
    chats: list[_Chat] = []
    # No kept-alive connections: a batch can take longer than the server keeps an idle one
    # open, and a request on a connection it is closing fails.
    limits = httpx.Limits(max_connections=50, max_keepalive_connections=0)
    clients = [httpx.AsyncClient(base_url=u, limits=limits, timeout=60) for u in base_urls]
    try:
        for start in range(0, count, 50):
            batch = range(start, min(count, start + 50))
            chats += await asyncio.gather(
                *(_open(base_urls[i % len(base_urls)], clients[i % len(clients)]) for i in batch)
            )
    finally:
        for client in clients:
            await client.aclose()
    return chats


async def _warm_up(chats: list[_Chat], servers: int, questions: list[str]) -> int:
    """Untimed turns on the first chats of each server; how many messages they sent."""
    warm = chats[: servers * _WARM_UP_TURNS]
    for n, chat in enumerate(warm):
        await chat.send(f"warm-{n}", questions[n % len(questions)])
    for chat in warm:
        async with asyncio.timeout(_DRAIN_S):
            await chat.replies.get()
    return len(warm)


async def _run(base_urls: list[str], args, questions: list[str], processes: list[psutil.Process]):
    """The steps, and the warm-up's message count."""
    rng = random.Random(SEED)
    chats = await _open_chats(base_urls, args.chats)
    warm_up = await _warm_up(chats, len(base_urls), questions)
    steps = []
    for rate in args.rates:
        monitors = [Monitor(p) for p in processes]
        cpu_before = [cpu_seconds(p) for p in processes]
        started = time.perf_counter()
        latencies, sent, acked, skipped = await _step(chats, rate, args.seconds, questions, rng)
        wall = time.perf_counter() - started
        for monitor in monitors:
            monitor.stop()
        step = {
            "rate_per_s": rate,
            "sent": sent,
            "acked": acked,
            "answered": len(latencies),
            "not_sent_all_chats_busy": skipped,
            "sockets_closed_by_server": sum(chat.closed_by_server for chat in chats),
            "answered_per_s": round(len(latencies) / wall, 2),
            **percentiles(latencies),
            "p99_ms": round(sorted(latencies)[int(0.99 * (len(latencies) - 1))] * 1000, 1)
            if latencies
            else None,
            "server_cpu_pct": [
                round(100 * (cpu_seconds(p) - before) / wall, 1)
                for p, before in zip(processes, cpu_before, strict=True)
            ],
            "server_peak_rss_mb": [round(m.peak_rss / 2**20, 1) for m in monitors],
        }
        print(json.dumps(step), flush=True)
        steps.append(step)
        if step["answered"] < 0.9 * sent or (step["p95_ms"] or 0) > 5000:
            break  # behind: the next rate would only queue
    for chat in chats:
        chat.closing = True
        await chat.ws.close()
        chat.reader.cancel()
    return steps, warm_up


_Deployment = tuple[list[str], list[psutil.Process], str]


@contextmanager
def _deployment(folder: Path, processes: int) -> Iterator[_Deployment]:
    """The servers' URLs and processes, and the database URL."""
    if processes == 1:
        database = folder / "bench.db"
        with live_server(folder, database, KB_DIR, folder / "server.log") as (url, process):
            yield [url], [process], f"sqlite:///{database}"
        return
    with postgres_server() as postgres:
        topology = Topology(folder, postgres, BENCH_SETTINGS, servers=processes)
        try:
            topology.start()
            pids = [psutil.Process(server.pid) for server in topology.servers]
            yield [server.url for server in topology.servers], pids, topology.database_url
        finally:
            topology.stop()


def measure_load(args) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        with _deployment(Path(folder), args.processes) as (urls, processes, database_url):
            questions = plain_questions(KB_DIR)
            steps, warm_up = asyncio.run(_run(urls, args, questions, processes))
            stored = count_stored(database_url)
    sent = warm_up + sum(s["sent"] for s in steps)
    return {
        "processes": args.processes,
        "chats": args.chats,
        "seconds_per_rate": args.seconds,
        "steps": steps,
        "saturation_turns_per_s": max((s["answered_per_s"] for s in steps), default=0.0),
        "sent_with_warm_up": sent,
        "stored": stored["customer"],
        "lost": sent - stored["customer"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--rates", type=float, nargs="+", default=[1, 2, 3, 4, 6, 8, 12])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--processes", type=int, choices=(1, 2), default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = measure_load(args)
    print(json.dumps({k: v for k, v in result.items() if k != "steps"}), flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
