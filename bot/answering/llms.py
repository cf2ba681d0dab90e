"""Chat models behind LangChain's ``BaseChatModel``, chosen by ``settings.llm``.

``extractive`` (the offline default) quotes passages; ``openai`` talks to any
OpenAI-compatible endpoint. Callers go through ``stream_text``/``invoke_text`` so that a
failing endpoint always surfaces as ``LLMError`` instead of a client-specific exception.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import httpx
import openai
from langchain_core.embeddings import Embeddings
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import BaseMessage

from bot.answering.extractive import ExtractiveChatModel, StoredVectors
from bot.config import Settings


class LLMError(Exception):
    """The chat model could not produce an answer (endpoint down, timeout, HTTP error)."""


def make_chat_model(
    settings: Settings, embeddings: Embeddings, stored_vectors: StoredVectors | None = None
) -> BaseChatModel:
    """The chat model chosen by settings; the extractive one picks sentences by ``embeddings``
    (vectors the index stored, ``stored_vectors``, first)."""
    match settings.llm:
        case "extractive":
            return ExtractiveChatModel(embeddings=embeddings, stored_vectors=stored_vectors)
        case "openai":
            from langchain_openai import ChatOpenAI  # imported lazily: offline never needs it

            return ChatOpenAI(
                base_url=settings.openai_base_url or None,
                # The openai client refuses an empty key; local servers do not check it.
                api_key=settings.openai_api_key.get_secret_value() or "not-needed",
                model=settings.openai_model,
                timeout=settings.llm_timeout_s,
                max_retries=settings.llm_max_retries,
                streaming=True,
                temperature=0,
            )
    raise ValueError(f"unknown llm {settings.llm!r}")


def _describe(error: Exception, model: BaseChatModel) -> str:
    where = getattr(model, "openai_api_base", None) or "the default endpoint"
    match error:
        case openai.APITimeoutError() | httpx.TimeoutException():
            return f"the LLM at {where} did not answer in time"
        case openai.APIConnectionError() | httpx.TransportError():
            return f"cannot reach the LLM at {where}: {error}"
        case openai.APIStatusError(status_code=status):
            return f"the LLM at {where} failed with HTTP {status}: {error.message}"
    return f"the LLM at {where} failed: {error}"


_FAILURES = (openai.OpenAIError, httpx.HTTPError)


async def stream_text(model: BaseChatModel, messages: Sequence[BaseMessage]) -> AsyncIterator[str]:
    """The model's answer as text pieces; raises ``LLMError`` if the endpoint fails."""
    finished = isinstance(model, ExtractiveChatModel)  # local: it cannot break off
    try:
        async for chunk in model.astream(list(messages)):
            finished = finished or bool(chunk.response_metadata.get("finish_reason"))
            if isinstance(chunk.content, str) and chunk.content:
                yield chunk.content
    except _FAILURES as error:
        raise LLMError(_describe(error, model)) from error
    if not finished:
        # The stream ended without the server saying the answer is complete (a connection
        # cut mid-answer can look like a clean end): what came is not a whole answer.
        where = getattr(model, "openai_api_base", None) or "the default endpoint"
        raise LLMError(f"the LLM at {where} broke off mid-answer")


async def invoke_text(model: BaseChatModel, messages: Sequence[BaseMessage]) -> str:
    """The model's whole answer; raises ``LLMError`` if the endpoint fails."""
    try:
        # stream=False: a whole answer needs no server-sent events (the condense step).
        message = await model.ainvoke(list(messages), stream=False)
    except _FAILURES as error:
        raise LLMError(_describe(error, model)) from error
    return message.content if isinstance(message.content, str) else ""
