"""Latency of one offline answering turn, next to a bare query embedding and the reader.

Indexes ``kb_docs`` into a temporary folder, warms up, then times ``Engine.answer`` on
``n`` distinct questions in-process (no HTTP), the embedding of ``n`` other distinct
questions, so neither figure is helped by the query-embedding cache, and the reader scoring
the retriever's candidates for a third set of questions (the reader's share of a turn).

    python -m evals.bench_turn [N]
"""

from __future__ import annotations

import asyncio
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bot.answering.engine import make_answer_engine, make_embeddings_for, open_index
from bot.answering.reader import hit_context
from bot.config import Settings
from retrieval.loaders import load_folder

KB_DIR = Path(__file__).resolve().parent.parent / "kb_docs"
_TEMPLATES = (
    "How do I {topic}?",
    "{topic}",
    "Can you tell me about {topic}?",
    "I have a question: {topic}",
    "What should I know about {topic}?",
    "Help with {topic} please",
)
_WARM_UP = 20


def bench_questions(kb_dir: Path, count: int) -> list[str]:
    """``count`` distinct questions built from the knowledge base's titles and headings."""
    topics = sorted(
        {
            match.strip().lower()
            for path in kb_dir.rglob("*.md")
            for match in re.findall(r"^(?:title:|#+) (.+)$", path.read_text(), re.M)
        }
    )
    pool = [template.format(topic=topic) for template in _TEMPLATES for topic in topics]
    random.Random(7).shuffle(pool)
    if len(pool) < count:
        raise ValueError(f"only {len(pool)} distinct questions in {kb_dir}, asked for {count}")
    return pool[:count]


def _percentiles(samples_s: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples_s)
    return {
        "p50_ms": round(statistics.median(ms), 2),
        "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 2),
        "max_ms": round(ms[-1], 2),
    }


def measure_turns(n: int = 200, *, kb_dir: Path = KB_DIR) -> dict:
    questions = bench_questions(kb_dir, 3 * n + 2 * _WARM_UP)
    turn_questions, embed_questions = questions[:n], questions[n : 2 * n]
    read_questions, warm_up = questions[2 * n : 3 * n], questions[3 * n :]
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder), kb_dir=kb_dir)
        embeddings = make_embeddings_for(settings)
        index = open_index(settings, embeddings)
        documents, _errors = load_folder(kb_dir)
        report = index.sync(documents)
        engine = make_answer_engine(settings, index=index, embeddings=embeddings)

        candidates = [
            [
                (hit_context(h), h.text)
                for h in index.search_with_vector(
                    q,
                    embeddings.embed_query(q),
                    k=engine.candidates,
                    per_doc=engine.chunks_per_doc,
                )
            ]
            for q in read_questions
        ]

        async def run() -> tuple[list[float], list[float], list[float]]:
            for question in warm_up:
                await engine.answer(question, [])
            turns, embeds, reads = [], [], []
            # Interleaved, so that a busy neighbour on the machine slows every figure alike.
            rounds = zip(turn_questions, embed_questions, read_questions, candidates, strict=True)
            for question, other, third, passages in rounds:
                started = time.perf_counter()
                await engine.answer(question, [])
                turns.append(time.perf_counter() - started)
                started = time.perf_counter()
                await asyncio.to_thread(embeddings.embed_query, other)  # as the engine does
                embeds.append(time.perf_counter() - started)
                started = time.perf_counter()
                await asyncio.to_thread(engine.reader.logits, third, passages)
                reads.append(time.perf_counter() - started)
            return turns, embeds, reads

        turns, embeds, reads = asyncio.run(run())
    return {
        "n": n,
        "documents": len(documents),
        "chunks": report.chunks_embedded,
        "turn": _percentiles(turns),
        "query_embedding": _percentiles(embeds),
        "reader": _percentiles(reads),
        "reader_pairs": round(sum(map(len, candidates)) / max(1, len(candidates)), 1),
    }


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    result = measure_turns(n)
    print(f"{result['documents']} documents, {result['chunks']} chunks, {n} questions")
    for name in ("turn", "query_embedding", "reader"):
        figures = result[name]
        print(f"{name:16} p50 {figures['p50_ms']:7.2f} ms   p95 {figures['p95_ms']:7.2f} ms")


if __name__ == "__main__":
    main()
