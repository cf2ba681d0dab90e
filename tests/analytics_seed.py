"""A week of support, seeded through the real widget and console APIs on a controlled clock,
with a ledger of what happened that the tests count their expectations from."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from bot.chat.notices import notice
from bot.db import session_scope
from bot.staff.auth import (
    SESSION_COOKIE,
    SESSION_MAX_AGE_S,
    csrf_token,
    new_session,
    sign_session,
)
from bot.staff.users import create_user, open_sign_in
from tests.staff import ORIGIN

MONDAY = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday; the period is this week
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # when the dashboard is read
_BOT_ASKS = {notice(lang, key) for lang in ("en", "zh") for key in ("clarify", "suggest")}


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now

    def at(self, moment: datetime) -> None:
        self.now = moment.timestamp()

    def wait(self, seconds: float) -> None:
        self.now += seconds

    @property
    def moment(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)


@dataclass
class Chat:
    """What the test saw of one conversation."""

    id: str
    token: str
    lang: str
    started: datetime
    asked: list[datetime] = field(default_factory=list)  # the customer's messages
    turns: Counter[str] = field(default_factory=Counter)  # answer | clarify | handoff
    handoffs: list[str] = field(default_factory=list)  # reasons
    outcome: str = ""  # what the test expects: confirmed | assumed | handed_off | ...
    rating: int | None = None


@dataclass
class Stay:
    """One stay in the queue, as the test timed it."""

    queued: datetime
    left: datetime | None = None  # claimed or cancelled
    abandoned: bool = False
    agent: str | None = None
    first_reply: datetime | None = None
    resolved: datetime | None = None


class Week:
    def __init__(self, client: TestClient, clock: Clock) -> None:
        self.client, self.clock = client, clock
        self.chats: list[Chat] = []
        self.stays: list[Stay] = []
        self.answers_then_handoff = 0
        self.thumbs_down = 0
        self.user_ids: dict[str, int] = {}
        for name in ("Ana", "Bob"):
            with session_scope(client.app.state.sessionmaker) as db:
                email, password = f"{name.lower()}@example.com", "a long password"
                user = create_user(
                    session=db, email=email, name=name, password=password, roles=["agent"]
                )
                self.user_ids[name] = user.id
        self.ids = {name: str(user_id) for name, user_id in self.user_ids.items()}

    # -- the customer -------------------------------------------------------------------
    def start(self, moment: datetime, lang: str = "en") -> Chat:
        self.clock.at(moment)
        created = self.client.post("/api/conversations", json={"lang": lang}).json()
        chat = Chat(created["conversation_id"], created["token"], lang, moment)
        self.chats.append(chat)
        return chat

    def say(self, chat: Chat, text: str) -> list[dict[str, Any]]:
        chat.asked.append(self.clock.moment)
        body = {"text": text, "client_id": f"c{len(chat.asked)}"}
        posted = self._post(chat, "messages", body)
        replies = posted.json()["replies"]
        for reply in replies:
            if reply["role"] == "bot":
                kind = "clarify" if reply["text"] in _BOT_ASKS else "answer"
                chat.turns[kind] += 1
        return replies

    def handoff_by_words(self, chat: Chat, text: str) -> Stay:
        """A message the bot cannot answer a second time: it hands off by itself."""
        replies = self.say(chat, text)
        assert [r["role"] for r in replies] == ["system"], replies
        if chat.turns["answer"]:
            self.answers_then_handoff += chat.turns["answer"]
        return self._queued(chat)

    def request_person(self, chat: Chat) -> Stay:
        assert self._post(chat, "handoff").status_code == 200
        return self._queued(chat)

    def cancel(self, chat: Chat, stay: Stay) -> None:
        gone = self.client.delete(f"/api/conversations/{chat.id}/handoff", headers=self._auth(chat))
        assert gone.status_code == 200
        stay.left, stay.abandoned = self.clock.moment, True

    def vote(self, chat: Chat, seq: int, value: str) -> None:
        assert self._post(chat, "feedback", {"seq": seq, "value": value}).status_code == 204
        self.thumbs_down += value == "down"

    def rate(self, chat: Chat, value: int, comment: str = "") -> None:
        assert self._post(chat, "rating", {"value": value, "comment": comment}).status_code == 204
        chat.rating = value

    # -- the agents ---------------------------------------------------------------------
    def presence(self, agent: str, presence: str) -> None:
        self._agent(agent, "PUT", "/api/agent/presence", json={"presence": presence})

    def claim(self, agent: str, stay: Stay, chat: Chat) -> None:
        self._agent(agent, "POST", f"/api/agent/conversations/{chat.id}/claim")
        stay.left, stay.agent = self.clock.moment, agent

    def reply(self, agent: str, stay: Stay, chat: Chat, text: str) -> None:
        self._agent(
            agent, "POST", f"/api/agent/conversations/{chat.id}/messages", json={"text": text}
        )
        stay.first_reply = stay.first_reply or self.clock.moment

    def resolve(self, agent: str, stay: Stay, chat: Chat) -> None:
        self._agent(agent, "POST", f"/api/agent/conversations/{chat.id}/resolve")
        stay.resolved = self.clock.moment

    # -- plumbing -----------------------------------------------------------------------
    def _queued(self, chat: Chat) -> Stay:
        """The handoff as the console shows it (its reason is not the customer's to see)."""
        view = self._agent("Ana", "GET", f"/api/agent/conversations/{chat.id}")
        assert view["state"] == "queued", view
        chat.turns["handoff"] += 1
        chat.handoffs.append(view["reason"])
        stay = Stay(queued=self.clock.moment)
        self.stays.append(stay)
        return stay

    def _auth(self, chat: Chat) -> dict[str, str]:
        return {"authorization": f"Bearer {chat.token}"}

    def _post(self, chat: Chat, what: str, body: dict[str, Any] | None = None) -> Any:
        return self.client.post(
            f"/api/conversations/{chat.id}/{what}", json=body, headers=self._auth(chat)
        )

    def headers(self, agent: str) -> dict[str, str]:
        """A fresh sign-in on the clock: a week outlasts any session."""
        session = new_session(self.user_ids[agent], now=self.clock())
        with session_scope(self.client.app.state.sessionmaker) as db:
            open_sign_in(
                session=db, sid=session.sid, user_id=session.uid, max_age_s=SESSION_MAX_AGE_S
            )
        settings = self.client.app.state.settings
        return {
            "cookie": f"{SESSION_COOKIE}={sign_session(settings, session)}",
            "origin": ORIGIN,
            "x-csrf-token": csrf_token(settings, session.sid),
        }

    def _agent(self, agent: str, method: str, path: str, **kwargs: Any) -> Any:
        response = self.client.request(method, path, headers=self.headers(agent), **kwargs)
        assert response.status_code < 300, response.text
        return response.json()


CRYPTO = [
    "Can I pay with dogecoin?",
    "Do you accept cryptocurrency like bitcoin?",
    "Is it possible to pay using crypto coins?",
    "Can I pay for my order with crypto money?",
]
PENGUIN = "Do you ship to Antarctica by penguin?"
PASSWORD = "How do I reset my password?"
INVOICE = "Where can I download my invoice?"
COMMENT = "<b>Great</b> help, thanks"


def seed_week(week: Week) -> None:
    """Monday 23 to Monday 30 November 2026, business hours Mon-Fri 09-17 UTC."""
    day = lambda n, h, m=0: MONDAY + timedelta(days=n, hours=h, minutes=m)  # noqa: E731
    clock = week.clock
    clock.at(day(0, 8))
    week.presence("Ana", "online")
    week.presence("Bob", "online")

    c1 = week.start(day(0, 10))  # answered, thumbs-up: confirmed
    reply = week.say(c1, PASSWORD)[-1]
    week.vote(c1, reply["seq"], "up")
    c1.outcome = "confirmed"

    c2 = week.start(day(0, 20))  # out of hours, answered, went quiet: assumed
    week.say(c2, INVOICE)
    c2.outcome = "assumed"

    c3 = week.start(day(1, 11))  # the customer says it solved it: confirmed
    week.say(c3, "How can I change my password?")
    clock.wait(60)
    week.say(c3, "That solved it, thanks!")
    c3.outcome = "confirmed"

    c4 = week.start(day(1, 12))  # thumbs-down: unresolved
    reply = week.say(c4, INVOICE)[-1]
    week.vote(c4, reply["seq"], "down")
    c4.outcome = "unresolved"

    c5 = week.start(day(2, 9, 30))  # not in the KB twice: handed off, claimed, resolved, 5/5
    week.say(c5, CRYPTO[0])
    clock.wait(60)
    stay = week.handoff_by_words(c5, CRYPTO[1])
    clock.wait(120)
    week.claim("Ana", stay, c5)
    clock.wait(60)
    week.reply("Ana", stay, c5, "We take cards and PayPal; no cryptocurrency for now.")
    clock.wait(420)
    week.resolve("Ana", stay, c5)
    week.rate(c5, 5, COMMENT)
    c5.outcome = "handed_off"

    c6 = week.start(day(2, 14))  # an answer, then a handoff; waits past the SLA; 2/5
    week.say(c6, PASSWORD)
    clock.wait(60)
    week.say(c6, CRYPTO[2])
    clock.wait(60)
    stay = week.handoff_by_words(c6, CRYPTO[3])
    clock.wait(400)
    week.claim("Bob", stay, c6)
    clock.wait(30)
    week.reply("Bob", stay, c6, "Crypto is not accepted: cards, PayPal or bank transfer.")
    clock.wait(300)
    week.resolve("Bob", stay, c6)
    week.rate(c6, 2, "slow")
    c6.outcome = "handed_off"

    c7 = week.start(day(3, 10))  # asks for a person, gives up waiting: abandoned
    week.say(c7, PENGUIN)
    first = week.request_person(c7)
    c8 = week.start(day(3, 10, 1))  # a second in the queue: past the alert length of 1
    week.say(c8, "Can I bring my dog to the office?")
    second = week.request_person(c8)
    clock.at(day(3, 10, 3) + timedelta(seconds=20))
    week.cancel(c7, first)
    c7.outcome = "handed_off"
    clock.at(day(3, 10, 5))
    week.claim("Ana", second, c8)
    clock.wait(60)
    week.reply("Ana", second, c8, "Only guide dogs, sorry.")
    clock.at(day(3, 10, 20))
    week.resolve("Ana", second, c8)
    c8.outcome = "handed_off"

    c9 = week.start(day(3, 16))  # still waiting when the dashboard is read
    week.say(c9, "What is your office dog's name?")
    week.request_person(c9)
    c9.outcome = "handed_off"

    c10 = week.start(day(5, 3))  # Saturday night, asked to rephrase, went quiet: assumed
    week.say(c10, PENGUIN)
    c10.outcome = "assumed"

    c11 = week.start(day(6, 12), lang="zh")  # rated 4: confirmed
    week.say(c11, PASSWORD)
    week.rate(c11, 4)
    c11.outcome = "confirmed"

    c12 = week.start(NOW - timedelta(minutes=5))  # answered five minutes ago: ongoing
    week.say(c12, PASSWORD)
    c12.outcome = "ongoing"

    clock.at(NOW)
    week.presence("Bob", "offline")
