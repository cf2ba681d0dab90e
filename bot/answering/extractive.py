"""The offline chat model: answers with sentences copied verbatim from the retrieved passages.

It reads the same grounded prompt as a remote LLM (``prompts.grounded_messages``), picks the
passage sentence that shares the most terms with the question plus up to two sentences that
follow it, and cites the passage as [n]. It never writes a word that is not in a passage;
when nothing in the passages touches the question it replies with the no-answer marker.
"""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from bot.answering.prompts import NO_ANSWER, PASSAGE, QUESTION_PREFIX
from bot.answering.terms import Sentence, passage_sentences, term_set

MAX_WORDS = 60
MAX_SENTENCES = 3
# A heading that names the topic makes its sentences likelier; the title less so, since every
# section of an article shares it.
_HEADING_WEIGHT = 0.5
_TITLE_WEIGHT = 0.25
# Retrieval ranks the right document first far more often than a sentence's word overlap
# picks it (hybrid Recall@1 0.72-0.99 on the public sets): a lower passage must match clearly
# better to become the primary citation...
_RANK_PENALTY = 0.1
_POSITION_PENALTY = 0.01  # ...and to the sentence nearer the start of its section
_PROCEDURE = re.compile(r"(?i)^\s*(?:how (?:do|can|should|would) (?:i|we|you)|how to)\b")


@dataclass(frozen=True)
class Passage:
    n: int
    source: str
    text: str


def read_prompt(messages: list[BaseMessage]) -> tuple[list[Passage], str]:
    """The numbered passages and the question from a grounded prompt."""
    human = next((m for m in reversed(messages) if isinstance(m, HumanMessage)), None)
    content = human.content if human is not None and isinstance(human.content, str) else ""
    passages = [Passage(int(n), source, text) for n, source, text in PASSAGE.findall(content)]
    _, found, question = content.rpartition(QUESTION_PREFIX)
    return passages, question.strip() if found else ""


def _weights(query: frozenset[str], sentences: list[frozenset[str]]) -> dict[str, float]:
    """Inverse frequency of each query term among the candidate sentences: a term that every
    passage repeats ("password" in a password article) tells less than a rare one ("link")."""
    total = len(sentences) + 1
    return {t: math.log(1 + total / (1 + sum(t in s for s in sentences))) for t in query}


def _match(weights: dict[str, float], terms: frozenset[str]) -> float:
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in terms) / total if total else 0.0


def compose_answer(passages: list[Passage], question: str) -> str:
    """One to three consecutive passage sentences with their [n] marker, or ``NO_ANSWER``."""
    query = term_set(question)
    split = [passage_sentences(p.text) for p in passages]
    terms = [[term_set(s.text) for s in sentences] for sentences in split]
    weights = _weights(query, [t for group in terms for t in group])
    best: tuple[float, int, int] | None = None
    for rank, passage in enumerate(passages):
        title, _, headings = passage.source.partition(" > ")
        source_score = _HEADING_WEIGHT * _match(weights, term_set(headings)) + (
            _TITLE_WEIGHT * _match(weights, term_set(title))
        )
        for i, sentence in enumerate(split[rank]):
            sentence_score = _match(weights, terms[rank][i])
            # A sentence that starts in lower case continues a list item: no way to begin.
            if sentence_score == 0 or sentence.text[0].islower():
                continue
            score = sentence_score + source_score - _RANK_PENALTY * rank - _POSITION_PENALTY * i
            if best is None or score > best[0]:
                best = (score, rank, i)
    if best is None:
        return NO_ANSWER
    _, rank, start = best
    sentences = split[rank]
    if _PROCEDURE.match(question):
        start = _first_step(sentences, start)
    return f"{_join(_window(sentences, start))} [{passages[rank].n}]"


def _first_step(sentences: Sequence[Sentence], start: int) -> int:
    """The first item of the numbered list that ``start`` is in: "how do I" wants step 1."""
    first = start
    for i in range(start, -1, -1):
        if sentences[i].bullet[:1].isdigit():
            first = i
            if sentences[i].bullet.startswith("1"):
                return i
    return first if sentences[first].bullet[:1].isdigit() else start


def _window(sentences: Sequence[Sentence], start: int) -> list[Sentence]:
    chosen = [sentences[start]]
    budget = MAX_WORDS - len(chosen[0].text.split())
    for sentence in sentences[start + 1 : start + MAX_SENTENCES]:
        budget -= len(sentence.text.split())
        if budget < 0:
            break
        chosen.append(sentence)
    # "While locked:" announces a list that did not fit; end before it.
    while len(chosen) > 1 and chosen[-1].text.endswith(":"):
        chosen.pop()
    return chosen


def _join(chosen: list[Sentence]) -> str:
    """The sentences as they stand in the passage: list items keep their line and marker."""
    if len({s.line for s in chosen}) == 1:
        return " ".join(s.text for s in chosen)
    text = chosen[0].bullet + chosen[0].text
    for previous, sentence in zip(chosen, chosen[1:], strict=False):
        same_line = sentence.line == previous.line
        text += " " + sentence.text if same_line else f"\n{sentence.bullet}{sentence.text}"
    return text


class ExtractiveChatModel(BaseChatModel):
    """A ``BaseChatModel`` that quotes the knowledge base instead of generating text."""

    @property
    def _llm_type(self) -> str:
        return "allhours-extractive"

    def _answer(self, messages: list[BaseMessage]) -> str:
        passages, question = read_prompt(messages)
        return compose_answer(passages, question)

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, **kwargs: Any
    ) -> ChatResult:
        message = AIMessage(content=self._answer(messages))
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _agenerate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, **kwargs: Any
    ) -> ChatResult:
        # Pure string work: no executor thread as the default _agenerate would use.
        return self._generate(messages, stop, **kwargs)

    def _chunks(self, messages: list[BaseMessage]) -> Iterator[ChatGenerationChunk]:
        words = self._answer(messages).split(" ")
        for i, word in enumerate(words):
            text = word if i == len(words) - 1 else f"{word} "
            yield ChatGenerationChunk(message=AIMessageChunk(content=text))

    def _stream(
        self, messages: list[BaseMessage], stop: list[str] | None = None, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        yield from self._chunks(messages)

    async def _astream(
        self, messages: list[BaseMessage], stop: list[str] | None = None, **kwargs: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        # Pure string work: no thread hop per chunk as the default _astream would make.
        for chunk in self._chunks(messages):
            yield chunk
