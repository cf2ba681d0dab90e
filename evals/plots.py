"""The report's figures as PNG files (matplotlib, headless Agg backend)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers and in CI

import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

from evals import metrics  # noqa: E402

FILES = {
    "risk_coverage": "risk_coverage.png",
    "confidence": "confidence_hist.png",
    "reliability": "reliability.png",
    "latency": "latency_hist.png",
}


def draw_all(
    out: Path,
    *,
    items: Sequence[metrics.Scored],
    answerable: Sequence[bool],
    n_answerable: int,
    latencies_ms: Sequence[float],
    title: str,
) -> dict[str, str]:
    """Write every figure into ``out``; return {figure: file name}."""
    _risk_coverage(out / FILES["risk_coverage"], items, n_answerable, title)
    _confidence(out / FILES["confidence"], items, answerable, title)
    _reliability(out / FILES["reliability"], items, title)
    _latency(out / FILES["latency"], latencies_ms, title)
    return dict(FILES)


def _risk_coverage(path: Path, items, n_answerable: int, title: str) -> None:
    points = metrics.sweep(items, n_answerable)
    coverage = [p.answered / len(items) for p in points]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(coverage, [p.wrong_rate for p in points], label="wrong-answer rate")
    ax.plot(coverage, [p.resolution for p in points], label="resolution")
    for risk, style in ((0.05, ":"), (0.10, "--")):
        ax.axhline(risk, color="grey", linestyle=style, linewidth=0.8, label=f"{risk:.0%} wrong")
    ax.set(xlabel="share of questions answered (coverage)", ylabel="rate", title=title)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left", fontsize=8)
    _save(fig, path)


def _confidence(path: Path, items, answerable: Sequence[bool], title: str) -> None:
    labelled = list(zip(items, answerable, strict=True))
    groups = {
        "answerable, gold citation": [c for (c, ok), a in labelled if a and ok],
        "answerable, wrong citation": [c for (c, ok), a in labelled if a and not ok],
        "unanswerable": [c for (c, _), a in labelled if not a],
    }
    fig, ax = plt.subplots(figsize=(6, 4))
    bins = [i / 20 for i in range(21)]
    for label, values in groups.items():
        ax.hist(values, bins=bins, alpha=0.55, label=f"{label} ({len(values)})")
    ax.set(xlabel="confidence", ylabel="questions", title=title)
    ax.legend(fontsize=8)
    _save(fig, path)


def _reliability(path: Path, items, title: str) -> None:
    rows = metrics.reliability(items)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=0.8, label="perfect")
    ax.bar(
        [(lo + hi) / 2 for lo, hi, *_ in rows],
        [acc for *_, acc, _ in rows],
        width=0.09,
        alpha=0.6,
        label="share correct",
    )
    ax.plot([conf for *_, conf, _, _ in rows], [acc for *_, acc, _ in rows], "o-", label="bin mean")
    for lo, hi, _, acc, n in rows:
        ax.annotate(str(n), ((lo + hi) / 2, acc), ha="center", va="bottom", fontsize=7)
    ax.set(xlabel="confidence", ylabel="share correct", title=f"{title}: reliability (10 bins)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8)
    _save(fig, path)


def _latency(path: Path, latencies_ms: Sequence[float], title: str) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(latencies_ms, bins=40)
    for q, style in ((50, "--"), (95, ":")):
        value = metrics.percentile(latencies_ms, q)
        ax.axvline(value, color="black", linestyle=style, label=f"p{q} {value:.1f} ms")
    ax.set(xlabel="turn latency (ms)", ylabel="questions", title=title)
    ax.legend(fontsize=8)
    _save(fig, path)


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
