"""Training pairs for the reader, from ../shared/traindata.

Each question with a passage that answers it (label 1), a passage of the same article or
document that does not (a hard negative, label 0), sometimes a passage of another group (an
off-topic negative), and SQuAD 2.0's unanswerable questions with the paragraph they were
written against (label 0). Groups are split train/dev by a hash of their name, so no article
is on both sides. Passages are cut to what the reader sees in production: a knowledge-base
chunk of about 400 characters under its title.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

WINDOW_CHARS = 400
DEV_SHARE = 0.1  # of each source's groups; squad2_dev holds its unanswerable questions, so more
SQUAD2_DEV_SHARE = 0.3
OFF_TOPIC_SHARE = 0.25  # of questions that also get a passage from another group


@dataclass(frozen=True)
class Pair:
    question: str
    title: str
    text: str
    label: float
    source: str
    kind: str  # positive | hard | off_topic | unanswerable
    qid: str


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def is_dev(source: str, group: str) -> bool:
    share = SQUAD2_DEV_SHARE if source == "squad2_dev" else DEV_SHARE
    digest = hashlib.sha256(f"{source}/{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def _snap(text: str, start: int, end: int) -> str:
    """text[start:end] widened to whole words."""
    start = max(0, start)
    end = min(len(text), end)
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[start:end].strip()


def window_around(text: str, answers: list[str], rng: random.Random) -> str:
    """A chunk-sized window that holds the first answer span found (else the start)."""
    if len(text) <= WINDOW_CHARS:
        return text
    for answer in answers:
        at = text.find(answer)
        if at >= 0:
            slack = max(0, WINDOW_CHARS - len(answer))
            start = at - rng.randint(0, slack)
            start = min(max(0, start), len(text) - WINDOW_CHARS)
            return _snap(text, start, start + WINDOW_CHARS)
    return _snap(text, 0, WINDOW_CHARS)


def random_window(text: str, rng: random.Random) -> str:
    if len(text) <= WINDOW_CHARS:
        return text
    start = rng.randint(0, len(text) - WINDOW_CHARS)
    return _snap(text, start, start + WINDOW_CHARS)


def closest_window(text: str, question: str) -> str:
    """The window sharing most words with the question: the hardest cut of a hard negative."""
    if len(text) <= WINDOW_CHARS:
        return text
    words = {w.lower().strip("?,.") for w in question.split()}
    best, best_start = -1, 0
    for start in range(0, len(text) - WINDOW_CHARS + 1, 100):
        cut = text[start : start + WINDOW_CHARS].lower().split()
        score = sum(w.strip("?,.()") in words for w in cut)
        if score > best:
            best, best_start = score, start
    return _snap(text, best_start, best_start + WINDOW_CHARS)


def load_pairs(traindata: Path, *, seed: int) -> tuple[list[Pair], list[Pair]]:
    """(train, dev) pairs from every source folder, split by group."""
    rng = random.Random(seed)
    train: list[Pair] = []
    dev: list[Pair] = []
    every_passage: list[tuple[str, dict]] = []
    sources = sorted(p.name for p in traindata.iterdir() if (p / "questions.jsonl").exists())
    loaded = {}
    for source in sources:
        passages = {p["pid"]: p for p in read_jsonl(traindata / source / "passages.jsonl")}
        by_group: dict[str, list[str]] = defaultdict(list)
        for pid, p in passages.items():
            by_group[p["group"]].append(pid)
            every_passage.append((source, p))
        loaded[source] = (passages, by_group)
    for source in sources:
        passages, by_group = loaded[source]
        for q in read_jsonl(traindata / source / "questions.jsonl"):
            side = dev if is_dev(source, q["group"]) else train
            pairs = _question_pairs(source, q, passages, by_group, every_passage, rng)
            side.extend(pairs)
    return train, dev


def _question_pairs(source, q, passages, by_group, every_passage, rng) -> list[Pair]:
    def pair(p: dict, text: str, label: float, kind: str) -> Pair:
        return Pair(q["question"], p["title"], text, label, source, kind, q["qid"])

    own = [passages[pid] for pid in q["pids"] if pid in passages]
    if not own:
        return []
    if not q["answerable"]:
        return [pair(own[0], closest_window(own[0]["text"], q["question"]), 0.0, "unanswerable")]
    gold = rng.choice(own)
    out = [pair(gold, window_around(gold["text"], q.get("answers") or [], rng), 1.0, "positive")]
    others = [pid for pid in by_group[q["group"]] if pid not in q["pids"]]
    if not others:  # a FAQ thread's passages all answer it: the nearest is another thread's
        others = by_group[rng.choice(sorted(by_group))]
        others = [pid for pid in others if pid not in q["pids"]]
    if others:
        neg = passages[rng.choice(others)]
        out.append(pair(neg, closest_window(neg["text"], q["question"]), 0.0, "hard"))
    if rng.random() < OFF_TOPIC_SHARE:
        other_source, neg = rng.choice(every_passage)
        if neg["group"] != q["group"] or other_source != source:
            out.append(pair(neg, random_window(neg["text"], rng), 0.0, "off_topic"))
    return out


def mix_pairs(train: list[Pair], *, pairs: int, rng: random.Random) -> list[Pair]:
    """``pairs`` training pairs, whole questions at a time, no source more than its share.

    SQuAD 1.1 alone has five times the questions of the others; capping it keeps the help-page
    and FAQ styles (MedQuAD, StackFAQ) and SQuAD 2.0's unanswerable questions in view.
    """
    by_question: dict[tuple[str, str], list[Pair]] = defaultdict(list)
    for p in train:
        by_question[(p.source, p.qid)].append(p)
    by_source: dict[str, list[list[Pair]]] = defaultdict(list)
    for (source, _), group in sorted(by_question.items()):
        by_source[source].append(group)
    caps = {"squad11_train": 0.45, "medquad": 0.25, "squad2_dev": 0.22, "stackfaq": 0.08}
    chosen: list[Pair] = []
    for source, groups in sorted(by_source.items()):
        rng.shuffle(groups)
        budget = int(pairs * caps.get(source, 0.1))
        taken: list[Pair] = []
        # A small source is repeated (new hard negatives are not drawn; the same pairs again).
        for group in (g for _ in range(8) for g in groups):
            if len(taken) >= budget:
                break
            taken.extend(group)
        chosen.extend(taken)
    rng.shuffle(chosen)
    return chosen[:pairs]
