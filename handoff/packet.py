"""The handoff packet: what an agent needs to take over without asking the customer again.

``build_packet`` returns plain JSON-able data (stored on the ticket); ``render_packet`` turns
it into plain text (the console's summary, an offline ticket's email, logs).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)

PACKET_VERSION = 1
_GOAL_CHARS = 200

Summariser = Callable[[str], str]  # the transcript as text -> the customer's goal in one line


def build_packet(
    *,
    transcript: Sequence[Mapping[str, Any]],
    goal: str,
    reason: str,
    confidence: float | None,
    waited_s: int = 0,
    contact: str | None = None,
    attempts: Sequence[Mapping[str, Any]] | None = None,
    detail: str = "",
    summarise: Summariser | None = None,
) -> dict[str, Any]:
    """``transcript``: the conversation's messages as dicts (role, text, and optionally
    author, citations, confidence, seq, created_at). ``goal``: the condensed question, used
    as is unless ``summarise`` (an LLM summary) is given and succeeds. ``attempts``: what the
    bot tried; by default its answers in the transcript with their sources and confidence."""
    messages = [_message(m) for m in transcript]
    if summarise is not None:
        try:
            goal = summarise(transcript_text(messages)) or goal
        except Exception:  # a failed summary must not block the handoff
            log.warning("goal summary failed; using the condensed question", exc_info=True)
    return {
        "version": PACKET_VERSION,
        "goal": _one_line(goal),
        "reason": str(reason),
        "detail": detail,
        "confidence": confidence,
        "waited_s": waited_s,
        "contact": contact,
        "attempts": [dict(a) for a in attempts] if attempts is not None else _attempts(messages),
        "transcript": messages,
    }


def transcript_text(messages: Sequence[Mapping[str, Any]]) -> str:
    lines = []
    for m in messages:
        who = m["role"] if not m.get("author") else f"{m['role']} {m['author']}"
        lines.append(f"[{who}] {m['text']}")
    return "\n".join(lines)


def render_packet(packet: Mapping[str, Any]) -> str:
    confidence = packet.get("confidence")
    lines = [
        f"Goal: {packet.get('goal') or '(unknown)'}",
        f"Reason: {packet['reason']}" + (f" ({packet['detail']})" if packet.get("detail") else ""),
        f"Confidence: {confidence:.2f}" if confidence is not None else "Confidence: n/a",
        f"Waited: {_duration(int(packet.get('waited_s') or 0))}",
        f"Contact: {packet.get('contact') or 'none given'}",
        "What the bot tried:",
    ]
    attempts = packet.get("attempts") or []
    for n, attempt in enumerate(attempts, start=1):
        lines.append(f"  {n}. Q: {attempt.get('question', '')}")
        score = attempt.get("confidence")
        tail = f" (confidence {score:.2f})" if score is not None else ""
        lines.append(f"     A: {attempt.get('answer', '')}{tail}")
        for source in attempt.get("sources", []):
            url = f" <{source['url']}>" if source.get("url") else ""
            lines.append(f"     - {source.get('title', source.get('doc_id', ''))}{url}")
    if not attempts:
        lines.append("  nothing")
    lines.append("Transcript:")
    lines.extend(f"  {line}" for line in transcript_text(packet.get("transcript", [])).splitlines())
    return "\n".join(lines)


def _message(raw: Mapping[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": str(raw["role"]), "text": str(raw.get("text", ""))}
    for key in ("author", "seq", "confidence"):
        if raw.get(key) is not None:
            message[key] = raw[key]
    if raw.get("citations"):
        message["citations"] = [dict(c) for c in raw["citations"]]
    created = raw.get("created_at")
    if created is not None:
        message["created_at"] = created.isoformat() if isinstance(created, datetime) else created
    return message


def _attempts(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    attempts, question = [], ""
    for m in messages:
        if m["role"] == "customer":
            question = m["text"]
        elif m["role"] == "bot":
            sources = [
                {k: c[k] for k in ("title", "url", "doc_id", "version") if k in c}
                for c in m.get("citations", [])
            ]
            attempts.append(
                {
                    "question": question,
                    "answer": m["text"],
                    "sources": sources,
                    "confidence": m.get("confidence"),
                }
            )
    return attempts


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _GOAL_CHARS else line[: _GOAL_CHARS - 1].rstrip() + "…"


def _duration(seconds: int) -> str:
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"
