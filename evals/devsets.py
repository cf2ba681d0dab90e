"""Calibration sets built from the reader's held-out training groups, never from evaluation data.

Each set is a small knowledge base in the shared/evaldata format (``kb/*.md`` and
``questions.jsonl``) made of the dev-side groups of one training source, so the shipped
calibration is fitted on knowledge bases that no evaluation set shares. Unanswerable questions
come three ways, as they do for a real help center:

- *gap*: the passage that answers the question is left out of the knowledge base, while the
  rest of its article or document stays in (the bot sees related text that does not answer);
- *unanswerable*: SQuAD 2.0's questions written to look answerable from their paragraph;
- *other domain*: questions of another source, about things this knowledge base never covers.
"""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from pathlib import Path

from evals.reader_data import is_dev, read_jsonl

QUESTIONS_PER_SET = 400
GAP_SHARE = 0.35
OTHER_DOMAIN = 60
SEED = 7
_SETS = {
    "squad": "squad11_train",
    "squad2": "squad2_dev",
    "medquad": "medquad",
    "stackfaq": "stackfaq",  # web-app FAQs and users' own queries: the nearest to a help centre
}


def _doc_id(pid: str) -> str:
    return "p-" + re.sub(r"[^a-z0-9-]", "-", pid.lower())


def _dev_side(traindata: Path, source: str) -> tuple[dict[str, dict], list[dict]]:
    passages = {
        p["pid"]: p
        for p in read_jsonl(traindata / source / "passages.jsonl")
        if is_dev(source, p["group"])
    }
    questions = [
        q
        for q in read_jsonl(traindata / source / "questions.jsonl")
        if is_dev(source, q["group"]) and all(pid in passages for pid in q["pids"])
    ]
    return passages, questions


def build_set(traindata: Path, name: str, out: Path, *, foreign: list[dict]) -> dict:
    """One calibration set in ``out/name``; ``foreign`` are other sources' questions."""
    rng = random.Random(f"{SEED}/{name}")
    passages, questions = _dev_side(traindata, _SETS[name])
    rng.shuffle(questions)
    chosen = questions[:QUESTIONS_PER_SET]
    answerable = [q for q in chosen if q["answerable"]]
    # Passages are left out until GAP_SHARE of the answerable questions lose every passage
    # that answers them (several questions may share one, as an FAQ's paraphrases do).
    left_out: set[str] = set()
    target = int(len(answerable) * GAP_SHARE)
    for q in answerable:
        if sum(set(a["pids"]) <= left_out for a in answerable) >= target:
            break
        left_out |= set(q["pids"])
    folder = out / name
    (folder / "kb").mkdir(parents=True, exist_ok=True)
    for pid, p in passages.items():
        if pid not in left_out:
            text = f"# {p['title']}\n\n{p['text']}\n"
            (folder / "kb" / f"{_doc_id(pid)}.md").write_text(text, encoding="utf-8")
    rows = []
    for q in chosen:
        pids = set(q["pids"])
        if not pids & left_out:
            category = "answerable" if q["answerable"] else "unanswerable"
        elif q["answerable"] and pids <= left_out:
            category = "gap"
        else:  # partly answered by what is left, or an unanswerable about a removed passage
            continue
        ok = category == "answerable"
        rows.append(_row(q, ok, [_doc_id(pid) for pid in q["pids"]] if ok else [], category))
    for q in rng.sample(foreign, min(OTHER_DOMAIN, len(foreign))):
        rows.append(_row(q, False, [], "other_domain"))
    with (folder / "questions.jsonl").open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[row["category"]] += 1
    return {"set": name, "documents": len(passages) - len(left_out), **counts}


def _row(q: dict, answerable: bool, gold: list[str], category: str) -> dict:
    return {
        "id": q["qid"],
        "question": q["question"],
        "history": [],
        "answerable": answerable,
        "gold_docs": gold,
        "answer": (q.get("answers") or [""])[0] if answerable else "",
        "category": category,
        "source": q.get("source", ""),
    }


def build_all(traindata: Path, out: Path) -> list[dict]:
    """Every calibration set; each gets other-domain questions from the other sources."""
    dev_questions = {
        name: [q for q in _dev_side(traindata, source)[1] if q["answerable"]]
        for name, source in _SETS.items()
    }
    domain = {"squad": "wiki", "squad2": "wiki", "medquad": "health", "stackfaq": "software"}
    return [
        build_set(
            traindata,
            name,
            out,
            foreign=[
                q
                for other, qs in sorted(dev_questions.items())
                if domain[other] != domain[name]
                for q in qs
            ],
        )
        for name in _SETS
    ]
