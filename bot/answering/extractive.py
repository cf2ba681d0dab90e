"""The offline chat model: answers with sentences copied verbatim from the best passage.

It reads the same grounded prompt as a remote LLM (``prompts.grounded_messages``). The engine
orders the passages by the reader (the cross-encoder), so passage [1] is the one the reader
rates most likely to answer; the model quotes it and cites it as [1]. Within it, the sentence
to start from is the one whose embedding (the packaged sentence-transformers model, the same
that retrieval uses) is closest to the question's, followed by up to two sentences. It never
writes a word that is not in a passage; when the passage shares no term with the question it
replies with the no-answer marker.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from bot.answering.prompts import NO_ANSWER, PASSAGE, QUESTION_PREFIX
from bot.answering.terms import term_set
from retrieval.sentences import Sentence, passage_sentences

MAX_WORDS = 60
MAX_SENTENCES = 3
_CACHED_SENTENCES = 8192  # sentence vectors kept: a knowledge base repeats its best passages
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


def compose_answer(passages: list[Passage], question: str, similarity: SentenceSimilarity) -> str:
    """One to three consecutive sentences of passage [1] with its marker, or ``NO_ANSWER``."""
    if not passages:
        return NO_ANSWER
    best = passages[0]
    sentences = passage_sentences(best.text)
    # A sentence that starts in lower case continues a list item: no way to begin.
    starts = [i for i, s in enumerate(sentences) if not s.text[0].islower()]
    if not starts or not term_set(question) & term_set(f"{best.source} {best.text}"):
        return NO_ANSWER
    scores = similarity(question, [sentences[i].text for i in starts])
    start = starts[int(np.argmax(scores))]
    if _PROCEDURE.match(question):
        start = _first_step(sentences, start)
    return f"{_join(_window(sentences, start))} [{best.n}]"


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


StoredVectors = Callable[[Sequence[str]], Mapping[str, np.ndarray]]


class SentenceSimilarity:
    """Cosine similarity of a question to sentences. Sentence vectors come from a cache, else
    from ``stored`` (the index embeds its documents' sentences: ``SentenceVectors.lookup``),
    else from the model."""

    def __init__(self, embeddings: Embeddings, stored: StoredVectors | None = None) -> None:
        self.embeddings = embeddings
        self.stored = stored
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def __call__(self, question: str, sentences: Sequence[str]) -> list[float]:
        missing = [s for s in dict.fromkeys(sentences) if s not in self._cache]
        if missing and self.stored is not None:
            self._cache.update(self.stored(missing))
            missing = [s for s in missing if s not in self._cache]
        if missing:
            for text, vector in zip(missing, self.embeddings.embed_documents(missing), strict=True):
                self._cache[text] = np.asarray(vector, dtype=np.float32)
        for text in sentences:
            self._cache.move_to_end(text)
        while len(self._cache) > _CACHED_SENTENCES:
            self._cache.popitem(last=False)
        query = np.asarray(self.embeddings.embed_query(question), dtype=np.float32)
        return [float(self._cache[s] @ query) for s in sentences]


class ExtractiveChatModel(BaseChatModel):
    """A ``BaseChatModel`` that quotes the knowledge base instead of generating text."""

    embeddings: Embeddings
    stored_vectors: StoredVectors | None = None
    _similarity: SentenceSimilarity = PrivateAttr()

    def model_post_init(self, context: Any) -> None:
        self._similarity = SentenceSimilarity(self.embeddings, self.stored_vectors)

    @property
    def _llm_type(self) -> str:
        return "allhours-extractive"

    def _answer(self, messages: list[BaseMessage]) -> str:
        passages, question = read_prompt(messages)
        return compose_answer(passages, question, self._similarity)

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
