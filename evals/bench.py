"""``make bench``: every speed figure of allhours in one run, one table and one JSON file.

Offline turn latency in-process and over the widget's WebSocket (next to a bare query
embedding), indexing throughput next to the raw encode rate of the same chunks, and the
customer-chat concurrency benchmark.

    python -m evals.bench --out reports/bench.json [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import websockets

from evals import metrics

# The WebSocket turn uses the concurrency benchmark's server and event helpers, so both
# measure the same thing the same way.
from evals.bench_chat import is_reply, live_server, measure_concurrency, receive_until
from evals.bench_index import measure_indexing
from evals.bench_turn import KB_DIR, bench_questions, measure_turns

CONCURRENCY = (100, 500, 1000)
_WARM_UP = 10
_TURN_BOUND_S = 60  # a turn with no reply by then is counted, not waited for


def measure_websocket(n: int = 100, *, kb_dir: Path = KB_DIR) -> dict[str, Any]:
    """One turn over the widget's WebSocket against the real server in a subprocess: send ->
    the company's reply, each question in a new conversation (so no handoff streak builds)."""
    questions = bench_questions(kb_dir, n + _WARM_UP)
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        with live_server(data_dir, data_dir / "bench.db", kb_dir, data_dir / "server.log") as (
            base_url,
            _process,
        ):
            samples, unanswered = asyncio.run(_ask_over_websocket(base_url, questions))
    return {
        "n": len(samples[_WARM_UP:]),
        "unanswered": unanswered,
        **percentiles(samples[_WARM_UP:]),
    }


async def _ask_over_websocket(base_url: str, questions: list[str]) -> tuple[list[float], int]:
    """Turn latencies, and how many turns got no reply within the bound (not timed)."""
    samples, unanswered = [], 0
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        for i, question in enumerate(questions):
            try:
                async with asyncio.timeout(_TURN_BOUND_S):
                    samples.append(await _turn(client, base_url, f"w{i}", question))
            except TimeoutError:
                unanswered += 1
    return samples, unanswered


async def _turn(client: httpx.AsyncClient, base_url: str, client_id: str, question: str) -> float:
    created = (await client.post("/api/conversations")).raise_for_status().json()
    url = f"{base_url.replace('http', 'ws', 1)}/ws/widget?token={created['token']}"
    async with websockets.connect(url) as ws:
        await receive_until(ws, lambda e: e["type"] == "state")
        message = {"type": "message", "client_id": client_id, "text": question}
        started = time.perf_counter()
        await ws.send(json.dumps(message))
        await receive_until(ws, is_reply)
        return (time.perf_counter() - started) * 1000


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(metrics.percentile(samples_ms, 50), 2),
        "p95_ms": round(metrics.percentile(samples_ms, 95), 2),
    }


def machine() -> dict[str, Any]:
    import torch

    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def table(results: dict[str, Any]) -> str:
    turn, ws, index = results["turn"], results["websocket"], results["indexing"]
    embed = turn["query_embedding"]
    rows = [
        ("turn, in-process", _ms(turn["turn"])),
        ("turn, over WebSocket", f"{_ms(ws)}, no reply {ws['unanswered']}"),
        ("bare query embedding", _ms(embed)),
        (f"reader, {turn['reader_pairs']} passages", _ms(turn["reader"])),
        (
            f"indexing ({index['chunks']} chunks, {index['sentences']} sentences)",
            f"{index['index_texts_per_s']:.1f} texts/s, raw encode "
            f"{index['encode_texts_per_s']:.1f} texts/s ({index['index_vs_encode']:.0%})",
        ),
    ]
    for n, c in results["concurrency"].items():
        rows.append(
            (
                f"concurrency N={n} x {c['messages_each']}",
                f"{_ms(c)}, sent {c['sent']}, stored {c['stored']}, answered {c['answered']}, "
                f"lost {c['lost']}, failed {c['failed_conversations']}, {c['wall_s']} s, "
                f"saturation {c['turns_per_s']} turns/s",
            )
        )
    width = max(len(name) for name, _ in rows) + 2
    return "\n".join(f"{name:<{width}}{value}" for name, value in rows)


def _ms(figures: dict[str, Any]) -> str:
    return f"p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--quick", action="store_true", help="fewer samples, for a smoke run")
    args = parser.parse_args()
    n = 40 if args.quick else 200
    results: dict[str, Any] = {"machine": machine(), "started_at": time.strftime("%F %T %Z")}
    results["turn"] = measure_turns(n)
    results["websocket"] = measure_websocket(n // 2)
    results["indexing"] = measure_indexing(KB_DIR)
    results["concurrency"] = {
        str(c): measure_concurrency(c) for c in (CONCURRENCY[:1] if args.quick else CONCURRENCY)
    }
    print(table(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
