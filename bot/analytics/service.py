"""What the analytics routes run in a worker thread: one session each, the app's services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from bot.analytics import drafting
from bot.analytics.facts import load_facts
from bot.analytics.gaps import Gap, find_gaps, unanswered
from bot.analytics.period import Filters, Period
from bot.analytics.report import build_dashboard
from bot.analytics.schemas import Dashboard
from bot.answering.engine import Engine
from bot.chat.models import Conversation
from bot.config import Settings
from handoff.models import Ticket
from handoff.policy import PolicyConfig
from retrieval.schemas import ArticleDraft


@dataclass(frozen=True)
class Analytics:
    settings: Settings
    sessions: sessionmaker[Session]
    engine: Engine
    policy: PolicyConfig

    def dashboard(self, period: Period, filters: Filters, now: datetime) -> Dashboard:
        with self.sessions() as session:
            return build_dashboard(
                session=session, settings=self.settings, period=period, filters=filters, now=now
            )

    def gaps(self, period: Period, filters: Filters) -> list[Gap]:
        with self.sessions() as session:
            questions = unanswered(load_facts(session=session, period=period, filters=filters))
        distance = self.settings.gap_distance
        return find_gaps(questions, self.engine.embeddings, distance=distance)

    def filter_options(self) -> dict[str, list[str]]:
        """The channels, languages and skills that occur, for the filter menus."""
        with self.sessions() as session:
            channels = session.scalars(select(Conversation.channel).distinct())
            langs = session.scalars(select(Conversation.lang).distinct())
            skills = {s for row in session.scalars(select(Ticket.skills)) for s in row}
            return {"channel": sorted(channels), "lang": sorted(langs), "skill": sorted(skills)}

    async def draft(self, refs: list[str]) -> ArticleDraft:
        """The KB editor's ``draft_article``: the questions that ``refs`` name, and with an
        LLM configured, a body drafted from the agents' replies in their conversations."""

        def load() -> tuple[list[str], list[str]]:
            with self.sessions() as session:
                questions = drafting.questions_of(session=session, refs=refs)
                return questions, drafting.agent_replies(session=session, refs=refs)

        questions, replies = await run_in_threadpool(load)
        use_llm = self.settings.llm != "extractive"  # the offline model quotes, it cannot write
        return await drafting.draft_article(self.engine, questions, replies, use_llm=use_llm)

    async def recheck(self, refs: list[str]) -> drafting.Recheck:
        def load() -> list[str]:
            with self.sessions() as session:
                return drafting.questions_of(session=session, refs=refs)

        return await drafting.recheck(self.engine, self.policy, await run_in_threadpool(load))
