import asyncio
import shutil

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.chat.hub import AGENTS, HubOverflow, InMemoryHub, RedisHub, conversation_channel, make_hub
from bot.config import Settings
from evals.services import REDIS_SERVER, RedisServer, free_port
from tests.widget_app import ANSWERABLE, bearer, receive_until, start


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    if not shutil.which(REDIS_SERVER):
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path_factory.mktemp("redis"), free_port())
    server.start()
    yield server.url
    server.stop()


@pytest.fixture(params=["memory", "redis"])
async def hubs(request):
    """Two hubs that share events: the same one in memory, two processes' worth on Redis."""
    if request.param == "memory":
        hub = InMemoryHub()
        yield hub, hub
        await hub.close()
        return
    url = request.getfixturevalue("redis_url")
    first, second = RedisHub(url), RedisHub(url)
    yield first, second
    await first.close()
    await second.close()


async def _next(subscription, timeout=5.0):
    return await asyncio.wait_for(subscription.__anext__(), timeout)


@pytest.mark.anyio
async def test_a_subscriber_gets_events_of_its_channel_in_order(hubs):
    publisher, listener = hubs
    channel = conversation_channel("c1")
    async with listener.subscribe(channel) as events:
        for n in range(5):
            await publisher.publish(channel, {"type": "token", "n": n, "text": "<b>é</b>"})
        received = [await _next(events) for _ in range(5)]
    assert [event["n"] for event in received] == [0, 1, 2, 3, 4]
    assert received[0]["text"] == "<b>é</b>"


@pytest.mark.anyio
async def test_channels_are_separate(hubs):
    publisher, listener = hubs
    async with listener.subscribe(conversation_channel("a")) as a_events:
        async with listener.subscribe(AGENTS) as agent_events:
            await publisher.publish(conversation_channel("b"), {"to": "b"})
            await publisher.publish(AGENTS, {"to": "agents"})
            await publisher.publish(conversation_channel("a"), {"to": "a"})
            assert await _next(a_events) == {"to": "a"}
            assert await _next(agent_events) == {"to": "agents"}


@pytest.mark.anyio
async def test_every_subscriber_of_a_channel_gets_each_event(hubs):
    publisher, listener = hubs
    channel = conversation_channel("c2")
    async with listener.subscribe(channel) as one, listener.subscribe(channel) as two:
        await publisher.publish(channel, {"n": 1})
        assert await _next(one) == {"n": 1}
        assert await _next(two) == {"n": 1}
    async with listener.subscribe(channel) as three:  # resubscribing after all left works
        await publisher.publish(channel, {"n": 2})
        assert await _next(three) == {"n": 2}


@pytest.mark.anyio
async def test_nothing_is_delivered_after_leaving(hubs):
    publisher, listener = hubs
    channel = conversation_channel("c3")
    async with listener.subscribe(channel) as events:
        pass
    await publisher.publish(channel, {"n": 1})
    async with listener.subscribe(channel) as later:
        await publisher.publish(channel, {"n": 2})
        assert await _next(later) == {"n": 2}  # the first event was never buffered
    assert events._queue.empty()


@pytest.mark.anyio
async def test_events_must_be_json():
    hub = InMemoryHub()
    with pytest.raises(TypeError):
        await hub.publish(AGENTS, {"when": object()})


@pytest.mark.anyio
async def test_a_subscriber_that_falls_behind_is_cut_off():
    hub = InMemoryHub()
    async with hub.subscribe(AGENTS) as events:
        for n in range(1001):
            await hub.publish(AGENTS, {"n": n})
        with pytest.raises(HubOverflow):
            await _next(events)


def test_make_hub_follows_settings(tmp_path):
    assert isinstance(make_hub(Settings(data_dir=tmp_path)), InMemoryHub)
    redis_hub = make_hub(Settings(data_dir=tmp_path, hub="redis", redis_url="redis://127.0.0.1:1"))
    assert isinstance(redis_hub, RedisHub)
    asyncio.run(redis_hub.close())


def test_two_app_processes_share_a_conversation_through_redis(redis_url, chat_settings):
    settings = chat_settings(hub="redis", redis_url=redis_url)
    with TestClient(create_app(settings)) as first, TestClient(create_app(settings)) as second:
        conversation_id, token = start(first)
        with first.websocket_connect(f"/ws/widget?token={token}") as ws:
            assert ws.receive_json()["type"] == "state"
            posted = second.post(
                f"/api/conversations/{conversation_id}/messages",
                json={"client_id": "x", "text": ANSWERABLE},
                headers=bearer(token),
            ).json()
            events = receive_until(ws, lambda e: e["type"] == "message" and e["role"] == "bot")
    # The customer's message and the streamed answer, produced by the other app, arrive live.
    assert (events[0]["role"], events[0]["client_id"]) == ("customer", "x")
    assert any(e["type"] == "token" for e in events)
    answer = {key: value for key, value in posted["replies"][0].items() if value is not None}
    assert events[-1] == answer
