"""Write an evaluation's figures as ``metrics.json`` and a readable ``report.md``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

_RETRIEVERS = (
    ("engine", "engine (hybrid, reranked by the reader)"),
    ("hybrid", "hybrid only"),
    ("bm25", "BM25 only"),
    ("dense", "dense only"),
)


def write(out: Path, figures: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(figures, indent=1, default=_plain) + "\n")
    (out / "report.md").write_text(render(figures))


def _plain(value: Any) -> Any:
    return float(value) if hasattr(value, "__float__") else str(value)


def _f(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def render(m: dict[str, Any]) -> str:
    policy, cal, lat = m["default_policy"], m["calibration"], m["latency_ms"]
    lines = [
        f"# Evaluation: {m['dataset']}",
        "",
        f"`{m['command']}` — {m['questions']} questions ({m['answerable']} answerable), "
        f"{m['kb_docs']} knowledge-base documents, run at {m['finished_at']}.",
        "",
        "## How the figures were kept honest",
        "",
        cal["description"],
        "",
        f"Shipped calibration fitted on: {_fitted_on(cal['fitted_on'])}.",
        "",
        "Correct = answerable AND the primary citation is a gold document (as in the reference "
        "scorer `tools/score.py`, whose figures these agree with).",
        "",
        "## Retrieval (answerable questions)",
        "",
        "| retriever | Recall@1 | Recall@5 | MRR@10 |",
        "|---|---|---|---|",
    ]
    for key, label in _RETRIEVERS:
        r = m["retrieval"].get(key)
        if r:
            lines.append(
                f"| {label} | {_f(r['recall@1'])} | {_f(r['recall@5'])} | {_f(r['mrr@10'])} |"
            )
    lines += [
        "",
        "## Answers and handoff",
        "",
        "| figure | value |",
        "|---|---|",
        f"| AUROC of the confidence (answerable vs not) | {_f(m['auroc'])} |",
        f"| resolution at <= 5 % wrong answers (threshold swept) | {_f(m['resolution_at_5pct'])} |",
        f"| resolution at <= 10 % wrong answers (threshold swept) | "
        f"{_f(m['resolution_at_10pct'])} |",
        f"| expected calibration error (10 bins) | {_f(m['ece'])} |",
        f"| default policy: threshold | {_f(policy['threshold'])} |",
        f"| default policy: answered | {policy['answered']} of {m['questions']} |",
        f"| default policy: resolution | {_f(policy['resolution'])} |",
        f"| default policy: wrong-answer rate | {_f(policy['wrong_rate'])} |",
        f"| token F1 vs reference, answered questions ({m['token_f1']['answered_n']}) | "
        f"{_f(m['token_f1']['answered'])} |",
        f"| token F1 vs reference, every referenced question ({m['token_f1']['all_n']}) | "
        f"{_f(m['token_f1']['all'])} |",
        f"| turn latency p50 / p95 (ms) | {_f(lat['p50'], 1)} / {_f(lat['p95'], 1)} |",
        "",
        "Decisions of the default policy: "
        + ", ".join(f"{k} {v}" for k, v in sorted(policy["decisions"].items()))
        + "; reasons: "
        + (", ".join(f"{k} {v}" for k, v in sorted(policy["reasons"].items())) or "none")
        + ".",
        "",
        "## By category",
        "",
        "| category | questions | answered | correct answers | mean confidence |",
        "|---|---|---|---|---|",
    ]
    for name, c in sorted(m["by_category"].items()):
        lines.append(
            f"| {name} | {c['questions']} | {c['answered']} | {c['correct_answers']} | "
            f"{_f(c['mean_confidence'])} |"
        )
    lines += ["", "## Plots", ""]
    lines += [f"![{name}]({file})" for name, file in m["plots"].items()]
    return "\n".join(lines) + "\n"


def _fitted_on(fitted: list[dict[str, Any]]) -> str:
    if not fitted:
        return "nothing recorded"
    return "; ".join(f"{d['dataset']} ({d['questions']} questions, every one)" for d in fitted)


def summary_line(m: dict[str, Any]) -> str:
    """One line, in the reference scorer's words, plus retrieval and latency."""
    policy, engine = m["default_policy"], m["retrieval"]["engine"]
    return (
        f"{m['dataset']}: resolution@5%={m['resolution_at_5pct']:.3f} "
        f"resolution@10%={m['resolution_at_10pct']:.3f} auroc={m['auroc']:.3f} "
        f"ece={m['ece']:.3f} default: resolution={policy['resolution']:.3f} "
        f"wrong_rate={policy['wrong_rate']:.3f} recall@1={engine['recall@1']:.3f} "
        f"recall@5={engine['recall@5']:.3f} p50={m['latency_ms']['p50']:.1f}ms"
    )
