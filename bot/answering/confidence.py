"""How sure the bot is: lexical and retrieval signals, combined by a calibrated logistic model.

``signals`` is the one feature extractor: the engine uses it for every turn and the
evaluations reuse it to fit ``calibration.json``, so a fitted file replaces the hand-set one
without a code change.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.answering.terms import overlap, strip_markers, term_set
from retrieval.documents import Hit
from retrieval.sentences import split_sentences

# BM25 scores are unbounded and grow with query length; s / (s + scale) maps them into [0, 1)
# with 0.5 at a score typical of a match on one or two rare terms.
BM25_SCALE = 5.0
_SUPPORTED = 0.8  # share of a sentence's terms that must occur in the passages to count
_FIRST_MARKER = re.compile(r"\[(\d+)\]")


def _top_two(values: list[float]) -> tuple[float, float]:
    ranked = sorted(values, reverse=True) + [0.0, 0.0]
    return ranked[0], ranked[1]


def _terms(hit: Hit, body: str = "") -> frozenset[str]:
    """The terms of the hit's title and headings, and of ``body`` (its chunk or section)."""
    return term_set(" ".join((hit.title, *hit.heading_path, body)))


def _answer_support(answer: str, passages: frozenset[str]) -> float:
    """Share of the answer's sentences whose words are (nearly all) in the passages."""
    sentences = [term_set(s) for s in split_sentences(strip_markers(answer))]
    sentences = [s for s in sentences if s]
    if not sentences:
        return 0.0
    return sum(overlap(s, passages) >= _SUPPORTED for s in sentences) / len(sentences)


def _cited_index(answer: str, count: int) -> int:
    """The passage the answer cites first; the top passage before generation."""
    found = _FIRST_MARKER.search(answer)
    n = int(found.group(1)) if found else 1
    return n - 1 if 1 <= n <= count else 0


def _citation_signals(hits: Sequence[Hit], query: frozenset[str], answer: str) -> dict[str, float]:
    # A wrong primary citation is the commonest wrong answer on answerable questions: these
    # say whether the cited passage is the one that matches the question best, and by how much.
    i = _cited_index(answer, len(hits))
    cited = hits[i]
    coverages = [overlap(query, _terms(h, h.text)) for h in hits]
    rival = max((c for j, c in enumerate(coverages) if j != i), default=0.0)
    # A question about the page's subject names it: the title and headings of the cited
    # passage against the best of the others. A related page that lacks the answer tends to
    # share the question's words in its text but not in its title.
    titles = [overlap(query, _terms(h)) for h in hits]
    title_rival = max((c for j, c in enumerate(titles) if j != i), default=0.0)
    fused_1, fused_2 = _top_two([h.score for h in hits])
    sentences = [overlap(query, term_set(s)) for s in split_sentences(cited.passage)]
    return {
        "cited_top": float(i == 0),
        "cited_dense": max(cited.dense_score or 0.0, 0.0),
        "coverage_lead": (1 + coverages[i] - rival) / 2,
        "score_lead": (fused_1 - fused_2) / fused_1 if fused_1 > 0 else 0.0,
        # The answer sits in one place: the best single sentence's share of the question terms.
        "sentence_coverage": max(sentences, default=0.0),
        "title_coverage": titles[i],
        "title_lead": (1 + titles[i] - title_rival) / 2,
    }


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-max(-50.0, min(50.0, x))))  # clipped: no overflow on odd inputs


def _reader_signals(logits: Sequence[float], answer: str) -> dict[str, float]:
    # The reader's judgement of the passage the answer cites (the top one before generation),
    # and how far it stands above the best other passage.
    i = _cited_index(answer, len(logits))
    rival = max((x for j, x in enumerate(logits) if j != i), default=-10.0)
    return {
        "reader": sigmoid(logits[i]),
        "reader_logit": logits[i],
        "reader_lead": sigmoid(logits[i]) - sigmoid(rival),
    }


def signals(
    hits: Sequence[Hit], reader_logits: Sequence[float], question: str, answer: str
) -> dict[str, float]:
    """Every signal the confidence may use (each in [0, 1], but the reader's raw logit).

    Before generation (``answer`` empty) the answer signals are those of the top passage, so
    a remote LLM's turn has a usable estimate before its first token.
    """
    names = (
        "dense_top dense_margin bm25_top bm25_margin same_top dense_rank_of_top "
        "bm25_rank_of_top coverage support answer_overlap cited_top cited_dense coverage_lead "
        "score_lead sentence_coverage title_coverage title_lead reader reader_lead"
    ).split()
    if not hits:
        return dict.fromkeys(names, 0.0) | {"reader_logit": -10.0}
    dense = [h.dense_score for h in hits if h.dense_score is not None]
    bm25 = [h.bm25_score for h in hits if h.bm25_score is not None]
    dense_1, dense_2 = _top_two(dense)
    bm25_1, bm25_2 = _top_two(bm25)
    dense_best = max(hits, key=lambda h: -1.0 if h.dense_score is None else h.dense_score)
    bm25_best = max(hits, key=lambda h: -1.0 if h.bm25_score is None else h.bm25_score)
    top = hits[0]
    query = term_set(question)
    # The generator reads the whole section around each hit (small-to-big), so an answer is
    # supported by what it was given, not only by the matching chunk.
    passages = frozenset().union(*(_terms(h, h.passage) for h in hits))
    answer = answer or top.text
    return {
        "dense_top": max(dense_1, 0.0),
        "dense_margin": max(dense_1 - dense_2, 0.0),
        "bm25_top": bm25_1 / (bm25_1 + BM25_SCALE) if bm25_1 > 0 else 0.0,
        "bm25_margin": (bm25_1 - bm25_2) / bm25_1 if bm25_1 > 0 else 0.0,
        "same_top": float(bool(dense and bm25) and dense_best.doc_id == bm25_best.doc_id),
        "dense_rank_of_top": 1 / top.dense_rank if top.dense_rank else 0.0,
        "bm25_rank_of_top": 1 / top.bm25_rank if top.bm25_rank else 0.0,
        "coverage": overlap(query, _terms(top, top.text)),
        "support": _answer_support(answer, passages),
        "answer_overlap": overlap(query, term_set(strip_markers(answer))),
        **_citation_signals(hits, query, answer),
        **_reader_signals(reader_logits, answer),
    }


def feature_value(values: dict[str, float], feature: str) -> float:
    """A signal, or for "a*b" an interaction: the product of two signals (missing counts 0)."""
    product = 1.0
    for name in feature.split("*"):
        product *= values.get(name, 0.0)
    return product


@dataclass(frozen=True)
class Calibration:
    """A logistic model over named signals, as stored in ``calibration.json``."""

    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float
    fitted_on: str = ""

    @classmethod
    def load(cls, path: Path) -> Calibration:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        calibration = cls(
            features=tuple(data["features"]),
            weights=tuple(float(w) for w in data["weights"]),
            bias=float(data["bias"]),
            threshold=float(data["threshold"]),
            fitted_on=str(data.get("fitted_on", "")),
        )
        if len(calibration.features) != len(calibration.weights):
            raise ValueError(
                f"{path}: {len(calibration.features)} features but "
                f"{len(calibration.weights)} weights"
            )
        return calibration

    def confidence(self, values: dict[str, float]) -> float:
        """The calibrated probability that the answer is right; a missing signal counts 0."""
        z = self.bias + sum(
            w * feature_value(values, f) for f, w in zip(self.features, self.weights, strict=True)
        )
        return sigmoid(z)
