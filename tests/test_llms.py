import asyncio
import socket

import pytest
from langchain_core.messages import HumanMessage

from bot.answering.extractive import ExtractiveChatModel
from bot.answering.llms import LLMError, invoke_text, make_chat_model, stream_text
from bot.answering.prompts import NO_ANSWER
from bot.config import Settings

MESSAGES = [HumanMessage("How do I reset my password?")]


def _settings(tmp_path, base_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path,
        llm="openai",
        openai_base_url=base_url,
        openai_model="test-model",
        llm_timeout_s=2,
        llm_max_retries=0,
    )


def _stream(model) -> list[str]:
    async def collect() -> list[str]:
        return [piece async for piece in stream_text(model, MESSAGES)]

    return asyncio.run(collect())


def test_the_default_is_the_offline_extractive_model(tmp_path, embeddings):
    assert isinstance(make_chat_model(Settings(data_dir=tmp_path), embeddings), ExtractiveChatModel)


def test_streaming_reaches_the_server_and_yields_its_tokens(tmp_path, openai_server, embeddings):
    openai_server.reply = "Choose Forgot password on the sign-in page. [1]"
    pieces = _stream(make_chat_model(_settings(tmp_path, openai_server.base_url), embeddings))
    assert len(pieces) > 1
    assert "".join(pieces) == "Choose Forgot password on the sign-in page. [1]"
    (request,) = openai_server.requests
    assert request["stream"] is True
    assert request["model"] == "test-model"
    assert request["messages"] == [{"role": "user", "content": "How do I reset my password?"}]


def test_a_whole_answer_does_not_stream(tmp_path, openai_server, embeddings):
    openai_server.reply = NO_ANSWER
    model = make_chat_model(_settings(tmp_path, openai_server.base_url), embeddings)
    assert asyncio.run(invoke_text(model, MESSAGES)) == NO_ANSWER
    assert openai_server.requests[0]["stream"] is False


def test_an_http_500_is_an_llm_error(tmp_path, openai_server, embeddings):
    openai_server.status = 500
    model = make_chat_model(_settings(tmp_path, openai_server.base_url), embeddings)
    with pytest.raises(LLMError, match="HTTP 500"):
        _stream(model)
    with pytest.raises(LLMError, match="HTTP 500"):
        asyncio.run(invoke_text(model, MESSAGES))


def test_a_closed_port_is_an_llm_error_not_a_hang(tmp_path, embeddings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The port is closed now; the connection is refused at once.
    model = make_chat_model(_settings(tmp_path, f"http://127.0.0.1:{port}/v1"), embeddings)
    with pytest.raises(LLMError, match="cannot reach"):
        _stream(model)


@pytest.mark.timeout(20)  # a hang would fail here instead of blocking the suite
def test_a_silent_server_times_out_as_an_llm_error(tmp_path, embeddings):
    with socket.socket() as silent:
        # Listening but never accepting: the request waits until the client's timeout.
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        settings = _settings(tmp_path, f"http://127.0.0.1:{silent.getsockname()[1]}/v1")
        model = make_chat_model(settings.model_copy(update={"llm_timeout_s": 0.3}), embeddings)
        with pytest.raises(LLMError, match="did not answer in time"):
            _stream(model)
