"""Open-loop load: many open chats, messages arriving at a fixed rate (Poisson), stepped up.

The burst benchmark (``bench_chat``) sends everything at once and measures a queue. Real
traffic arrives at a rate: here ``chats`` widget conversations stay open over real WebSockets
against the real server (``allhours serve`` in a subprocess, fresh SQLite), and messages
arrive with exponential gaps at each rate in turn, each on a chat with no turn in flight.
A message's latency runs from its send to the bot's reply. Per rate: p50/p95/p99, messages
sent / acknowledged / answered, the server's CPU and peak memory; at the end, messages
stored and lost (sent but not in the database). The run stops stepping once the server
falls behind (answered under 90 % of sent, or p95 over 5 s): the best answered rate is the
saturation throughput. A benchmark, not a test: it prints figures and decides nothing.

    python -m evals.bench_load [--chats 1000] [--rates 2 4 8 12 16] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import websockets

from evals.bench_chat import (
    _count_stored,
    _cpu_s,
    _create,
    _Monitor,
    _percentiles,
    _plain_questions,
    is_reply,
    live_server,
)
from evals.bench_turn import KB_DIR

SEED = 11
_DRAIN_S = 60  # how long a step waits for its last replies before counting them unanswered


class _Chat:
    """One open widget conversation; at most one turn in flight."""

    def __init__(self, ws: Any) -> None:
        self.ws, self.busy = ws, False
        self.sent_at = 0.0
        self.acked: set[str] = set()
        self.reader = asyncio.create_task(self._read())
        self.replies: asyncio.Queue[float] = asyncio.Queue()

    async def _read(self) -> None:
        async for raw in self.ws:
            event = json.loads(raw)
            if event["type"] == "ack":
                self.acked.add(event["client_id"])
            elif is_reply(event) and self.busy:
                self.busy = False
                await self.replies.put(time.perf_counter() - self.sent_at)


async def _open(base_url: str, client: httpx.AsyncClient) -> _Chat:
    created = await _create(client, {"retries": 0})
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
        chat.busy, chat.sent_at = True, time.perf_counter()
        await chat.ws.send(
            json.dumps({"type": "message", "client_id": client_id, "text": rng.choice(questions)})
        )
        sent += 1
        ids.append((chat, client_id))
        collectors.append(asyncio.create_task(collect(chat)))
    await asyncio.gather(*collectors, return_exceptions=True)
    acked = sum(client_id in chat.acked for chat, client_id in ids)
    return latencies, sent, acked, skipped


async def _run(base_url: str, args, questions: list[str], process: psutil.Process) -> list[dict]:
    rng = random.Random(SEED)
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        chats = []
        for start in range(0, args.chats, 50):  # opened in batches, as visitors arrive
            batch = range(start, min(args.chats, start + 50))
            chats += await asyncio.gather(*(_open(base_url, client) for _ in batch))
        steps = []
        for rate in args.rates:
            monitor, cpu_before = _Monitor(process), _cpu_s(process)
            started = time.perf_counter()
            latencies, sent, acked, skipped = await _step(chats, rate, args.seconds, questions, rng)
            wall = time.perf_counter() - started
            monitor.stop()
            step = {
                "rate_per_s": rate,
                "sent": sent,
                "acked": acked,
                "answered": len(latencies),
                "not_sent_all_chats_busy": skipped,
                "answered_per_s": round(len(latencies) / wall, 2),
                **_percentiles(latencies),
                "p99_ms": round(sorted(latencies)[int(0.99 * (len(latencies) - 1))] * 1000, 1)
                if latencies
                else None,
                "server_cpu_pct": round(100 * (_cpu_s(process) - cpu_before) / wall, 1),
                "server_peak_rss_mb": round(monitor.peak_rss / 2**20, 1),
            }
            print(json.dumps(step), flush=True)
            steps.append(step)
            behind = step["answered"] < 0.9 * sent or (step["p95_ms"] or 0) > 5000
            if behind:
                break
        for chat in chats:
            await chat.ws.close()
            chat.reader.cancel()
    return steps


def measure_load(args) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "bench.db"
        with live_server(Path(folder), database, KB_DIR, Path(folder) / "server.log") as (
            base_url,
            process,
        ):
            steps = asyncio.run(_run(base_url, args, _plain_questions(KB_DIR), process))
        stored = _count_stored(database)
    sent = sum(s["sent"] for s in steps)
    return {
        "chats": args.chats,
        "seconds_per_rate": args.seconds,
        "steps": steps,
        "saturation_turns_per_s": max((s["answered_per_s"] for s in steps), default=0.0),
        "sent": sent,
        "stored": stored["customer"],
        "lost": sent - stored["customer"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--rates", type=float, nargs="+", default=[2, 4, 6, 8, 10, 12, 16])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = measure_load(args)
    print(json.dumps({k: v for k, v in result.items() if k != "steps"}), flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
