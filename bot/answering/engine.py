"""The answering engine: one customer turn, from question to a cited, scored answer.

``prepare`` handles small talk, condenses a follow-up, retrieves and scores; ``stream``
generates (or replays) the answer token by token; ``answer`` does both.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from langchain_core.embeddings import Embeddings
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import BaseMessage

from bot.answering import condense
from bot.answering.confidence import Calibration, signals
from bot.answering.extractive import ExtractiveChatModel
from bot.answering.llms import LLMError, invoke_text, make_chat_model, stream_text
from bot.answering.prompts import NO_ANSWER, condense_messages, grounded_messages
from bot.answering.reader import Reader
from bot.answering.smalltalk import reply_to_smalltalk
from bot.config import Settings
from retrieval.documents import Hit
from retrieval.embeddings import make_embeddings
from retrieval.index import KnowledgeIndex

log = logging.getLogger(__name__)

Turn = tuple[str, str]  # (role, text), role in customer | bot | agent | system
_CITATION = re.compile(r"\[(\d+)\]")
_MAX_CONDENSED_CHARS = 500


@dataclass
class Citation:
    n: int
    doc_id: str
    title: str
    url: str
    version: int
    heading_path: tuple[str, ...]


@dataclass
class Draft:
    """One turn, before and after generation."""

    question: str
    condensed: str
    kind: str  # "smalltalk" | "retrieval"
    hits: list[Hit]
    signals: dict[str, float]  # every signal the confidence used
    confidence: float  # calibrated probability in [0, 1]; 1.0 for small talk
    answer: str = ""
    citations: list[Citation] = field(default_factory=list)
    no_answer: bool = False  # the model said the passages do not answer
    generated: bool = False  # answer, citations and the answer signals are final
    messages: list[BaseMessage] = field(default_factory=list, repr=False)  # the grounded prompt
    reader_logits: list[float] = field(default_factory=list)  # one per hit, best first


def cite(answer: str, hits: Sequence[Hit]) -> list[Citation]:
    """The passages the answer's [n] markers point to, in order of first use."""
    seen: list[int] = []
    for match in _CITATION.finditer(answer):
        n = int(match.group(1))
        if 1 <= n <= len(hits) and n not in seen:
            seen.append(n)
    return [
        Citation(n, h.doc_id, h.title, h.url, h.version, h.heading_path)
        for n, h in ((n, hits[n - 1]) for n in seen)
    ]


class Engine:
    def __init__(
        self,
        *,
        index: KnowledgeIndex,
        embeddings: Embeddings,
        chat_model: BaseChatModel,
        calibration: Calibration,
        reader: Reader,
        company: str,
        top_k: int = 5,
        candidates: int = 8,
        chunks_per_doc: int = 2,
    ) -> None:
        self.index = index
        self.embeddings = embeddings
        self.chat_model = chat_model
        self.calibration = calibration
        self.reader = reader
        self.top_k = top_k
        self.candidates = max(candidates, top_k)
        self.chunks_per_doc = chunks_per_doc
        self.company = company
        # The extractive model is instant: it answers inside prepare(), so the confidence
        # already includes how well the answer is supported.
        self._instant = isinstance(chat_model, ExtractiveChatModel)

    async def prepare(self, question: str, history: Sequence[Turn]) -> Draft:
        reply = reply_to_smalltalk(question)
        if reply is not None:
            return Draft(question, question, "smalltalk", [], {}, 1.0, reply, generated=True)
        condensed = await self._condense(question, history)
        hits, logits = await asyncio.to_thread(self._retrieve, condensed)
        draft = Draft(question, condensed, "retrieval", hits, {}, 0.0, reader_logits=logits)
        draft.messages = grounded_messages(hits, condensed, company=self.company)
        if self._instant or not hits:
            # One whole message: streaming ~50 word chunks through LangChain costs more than
            # composing the answer; stream() replays the words.
            async for _ in self._generate(draft, whole=True):
                pass
        else:
            self._score(draft, "")
        return draft

    async def stream(self, draft: Draft) -> AsyncIterator[str]:
        """The answer's tokens; fills ``draft.answer``/``citations``; raises ``LLMError``."""
        if draft.generated:
            words = draft.answer.split(" ") if draft.answer else []
            for i, word in enumerate(words):
                yield word if i == len(words) - 1 else f"{word} "
            return
        async for token in self._generate(draft):
            yield token

    async def answer(self, question: str, history: Sequence[Turn]) -> Draft:
        draft = await self.prepare(question, history)
        async for _ in self.stream(draft):
            pass
        return draft

    async def _condense(self, question: str, history: Sequence[Turn]) -> str:
        if self._instant or not condense.last_customer_text(history, question):
            return condense.condense_question(question, history)
        try:
            messages = condense_messages(history, question)
            text = " ".join((await invoke_text(self.chat_model, messages)).split())
        except LLMError as error:
            log.warning("condensing offline instead: %s", error)
            text = ""
        if not text or len(text) > _MAX_CONDENSED_CHARS:
            return condense.condense_question(question, history)
        return text

    def _retrieve(self, query: str) -> tuple[list[Hit], list[float]]:
        """The ``top_k`` passages the reader rates best of the retriever's candidates."""
        vector = self.embeddings.embed_query(query)
        hits, logits = self.reader.read(
            self.index, query, vector, documents=self.candidates, per_doc=self.chunks_per_doc
        )
        return hits[: self.top_k], logits[: self.top_k]

    async def _whole_text(self, draft: Draft) -> AsyncIterator[str]:
        yield await invoke_text(self.chat_model, draft.messages)

    async def _generate(self, draft: Draft, *, whole: bool = False) -> AsyncIterator[str]:
        """Run the model, holding back text while it may still be the no-answer marker."""
        pieces: list[str] = []
        pending: str | None = ""  # None once the text can no longer be the marker
        if draft.hits:  # no passages: nothing to answer from, spare the model call
            model = self.chat_model
            source = self._whole_text(draft) if whole else stream_text(model, draft.messages)
            async for piece in source:
                if draft.no_answer:
                    continue
                if pending is not None:
                    pending += piece
                    head = pending.lstrip()
                    if NO_ANSWER.startswith(head):
                        continue
                    if head.startswith(NO_ANSWER):
                        draft.no_answer = True
                        continue
                    piece, pending = head, None
                pieces.append(piece)
                yield piece
        if pending is not None and not draft.no_answer:
            # The whole reply was a prefix of the marker: the marker itself, nothing, or "NO".
            tail = pending.strip()
            if tail in ("", NO_ANSWER):
                draft.no_answer = True
            else:
                pieces.append(tail)
                yield tail
        draft.answer = "" if draft.no_answer else "".join(pieces).strip()
        draft.citations = cite(draft.answer, draft.hits)
        draft.generated = True
        self._score(draft, NO_ANSWER if draft.no_answer else draft.answer)

    def _score(self, draft: Draft, answer: str) -> None:
        draft.signals = signals(draft.hits, draft.reader_logits, draft.condensed, answer)
        draft.confidence = self.calibration.confidence(draft.signals)


def open_index(settings: Settings, embeddings: Embeddings) -> KnowledgeIndex:
    return KnowledgeIndex(
        embeddings=embeddings,
        persist_dir=None if settings.chroma_url else settings.chroma_dir,
        chroma_url=settings.chroma_url,
        collection=settings.collection,
    )


def make_embeddings_for(settings: Settings) -> Embeddings:
    local = settings.embeddings == "local"
    return make_embeddings(
        settings.embeddings,
        model=settings.embedding_model if local else settings.openai_embedding_model,
        base_url="" if local else settings.openai_base_url,
        api_key="" if local else settings.openai_api_key.get_secret_value(),
    )


def make_answer_engine(
    settings: Settings, *, index: KnowledgeIndex | None = None, embeddings: Embeddings | None = None
) -> Engine:
    """The engine chosen by settings; pass an existing index/embeddings to share them."""
    if embeddings is None:
        embeddings = make_embeddings_for(settings)
    # "is None", not "or": an index with no documents yet is falsy (len 0) and must be shared.
    if index is None:
        index = open_index(settings, embeddings)
    return Engine(
        index=index,
        embeddings=embeddings,
        chat_model=make_chat_model(settings, embeddings, index.sentences.lookup),
        calibration=Calibration.load(Path(settings.calibration_path)),
        reader=Reader(),
        top_k=settings.top_k,
        candidates=settings.reader_candidates,
        chunks_per_doc=settings.reader_chunks_per_doc,
        company=settings.company_name,
    )
