"""The offline chat model: answers with sentences copied verbatim from the retrieved passages.

It reads the same grounded prompt as a remote LLM (``prompts.grounded_messages``), picks the
passage sentence that shares the most terms with the question plus up to two sentences that
follow it, and cites the passage as [n]. It never writes a word that is not in a passage;
when nothing in the passages touches the question it replies with the no-answer marker.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from bot.prompts import NO_ANSWER, PASSAGE, QUESTION_PREFIX
from bot.terms import overlap, split_sentences, term_set

MAX_WORDS = 60
MAX_SENTENCES = 3
_SOURCE_WEIGHT = 0.5  # a heading that names the topic makes its passage's sentences likelier
_RANK_PENALTY = 0.02  # ties go to the passage retrieval ranked higher


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


def compose_answer(passages: list[Passage], question: str) -> str:
    """One to three consecutive passage sentences with their [n] marker, or ``NO_ANSWER``."""
    query = term_set(question)
    best: tuple[float, Passage, list[str], int] | None = None
    for rank, passage in enumerate(passages):
        source_score = _SOURCE_WEIGHT * overlap(query, term_set(passage.source))
        sentences = split_sentences(passage.text)
        for i, sentence in enumerate(sentences):
            sentence_score = overlap(query, term_set(sentence))
            if sentence_score == 0 and source_score == 0:
                continue
            score = sentence_score + source_score - _RANK_PENALTY * rank
            if best is None or score > best[0]:
                best = (score, passage, sentences, i)
    if best is None:
        return NO_ANSWER
    _, passage, sentences, start = best
    chosen = [sentences[start]]
    budget = MAX_WORDS - len(chosen[0].split())
    for sentence in sentences[start + 1 : start + MAX_SENTENCES]:
        budget -= len(sentence.split())
        if budget < 0:
            break
        chosen.append(sentence)
    return f"{' '.join(chosen)} [{passage.n}]"


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
