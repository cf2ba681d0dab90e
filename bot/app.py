"""The app: the one place that wires the packages together.

``create_app`` stays small: one ``include_router`` line per router. Long-lived services are
built once in the lifespan and kept on ``app.state`` (read them through ``bot.deps``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from bot import ask_routes
from bot.analytics import TEMPLATES_DIR as ANALYTICS_TEMPLATES
from bot.analytics import Analytics, make_analytics_router
from bot.answering.engine import make_answer_engine, make_embeddings_for, open_index
from bot.answering.turns import answer_turn, make_policy
from bot.chat.hub import AGENTS, RedisHub, conversation_channel
from bot.chat.port import ChatPort
from bot.chat.service import make_chat_service
from bot.config import Settings
from bot.consoles import RedisSockets
from bot.db import make_engine, make_sessionmaker
from bot.email import routes as email_routes
from bot.email.channel import open_email
from bot.email.port import EmailingPort
from bot.headers import SecurityHeaders
from bot.logs import RequestIds, use_json_logs
from bot.metrics import CountSockets, Metrics, make_metrics_router
from bot.migrations import upgrade_database
from bot.sockets import SocketLimit
from bot.staff.auth import current_staff, require_roles, staff_still_allowed, websocket_staff
from bot.staff.routes import TEMPLATES_DIR, make_auth_router, make_templates
from bot.staff.users import display_name
from bot.surrogates import RejectLoneSurrogates
from bot.widget import api as widget_api
from bot.widget import static as widget_static
from bot.widget import ws as widget_ws
from handoff.console import TEMPLATES_DIR as CONSOLE_TEMPLATES
from handoff.console import make_console_router
from handoff.console_services import ConsoleServices
from handoff.console_ws import TICK_S as CONSOLE_TICK_S
from retrieval.editor import make_editor_router
from retrieval.follow import IndexFollower
from retrieval.importer import Importer
from retrieval.publishing import Publisher

_ADDRESS_TTL_S = 30.0  # a socket's entry in the shared per-address count, renewed every 10 s


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    database = make_engine(settings.sqlalchemy_url)
    app.state.sessionmaker = make_sessionmaker(database, now=app.state.now)
    embeddings = await run_in_threadpool(make_embeddings_for, settings)
    index = await run_in_threadpool(open_index, settings, embeddings)
    publisher = Publisher(sessionmaker=app.state.sessionmaker, index=index)
    if settings.prepare_on_start:  # else ``allhours prepare`` ran once for every replica
        await run_in_threadpool(upgrade_database, database)
        # The document store is the source of truth: a fresh install imports kb_dir into it,
        # then the index is brought in step with the stored documents (only differences are
        # embedded).
        await run_in_threadpool(publisher.start, settings.kb_dir)
    # With a Chroma server other processes write to the index too: follow their changes.
    follower = IndexFollower(
        sessions=app.state.sessionmaker, publisher=publisher, every_s=settings.index_check_s
    )
    following = asyncio.create_task(follower.run()) if settings.chroma_url else None
    app.state.engine = make_answer_engine(settings, index=index, embeddings=embeddings)
    app.state.policy = make_policy(settings, app.state.engine.calibration)
    app.state.chat = make_chat_service(
        settings,
        sessions=app.state.sessionmaker,
        engine=app.state.engine,
        policy=app.state.policy,
        staff_names=display_name,  # the agent's name in the customer's state events
    )
    app.state.analytics = Analytics(
        settings=settings,
        sessions=app.state.sessionmaker,
        engine=app.state.engine,
        policy=app.state.policy,
    )
    app.state.chat.observer = app.state.metrics
    app.state.metrics.watch(app.state.sessionmaker, app.state)
    app.state.conversation_port = ChatPort(app.state.chat, asyncio.get_running_loop())
    app.state.email = await open_email(settings, app.state.chat)  # None: email is not set up
    if app.state.email is not None:
        app.state.conversation_port = EmailingPort(app.state.conversation_port, app.state.email)
    app.state.console = ConsoleServices(
        sessions=app.state.sessionmaker,
        port=app.state.conversation_port,
        hub=app.state.chat.hub,
        settings=settings,
        agents_channel=AGENTS,
        conversation_channel=conversation_channel,
        auto_assign=settings.auto_assign,
        now=app.state.now,
    )
    if isinstance(app.state.chat.hub, RedisHub):  # consoles on other processes count too
        ttl_s = CONSOLE_TICK_S * 3
        client = app.state.chat.hub.client
        app.state.console.consoles = RedisSockets(client, ttl_s=ttl_s, prefix="allhours:consoles:")
        # The cap on sockets per client address (bot.sockets) counts on every process.
        addresses = RedisSockets(client, ttl_s=_ADDRESS_TTL_S, prefix="allhours:addresses:")
        app.state.address_sockets = addresses
    # A customer joining or leaving the queue moves it as an agent's action does.
    app.state.chat.desk.listener = app.state.console
    try:
        yield
    finally:
        if following is not None:
            following.cancel()
        if app.state.email is not None:
            await app.state.email.close()
        await app.state.chat.close()
        database.dispose()


def create_app(settings: Settings, *, clock: Callable[[], float] = time.time) -> FastAPI:
    """``clock`` is now in Unix seconds: staff sign-ins are issued and expire by it, and
    messages, handoffs and ratings are stamped by it."""
    app = FastAPI(title="allhours", lifespan=lifespan)
    app.state.settings = settings
    app.state.clock = clock
    app.state.now = lambda: datetime.fromtimestamp(clock(), UTC)
    app.state.metrics = Metrics()  # per app: every test builds its own
    if settings.log_format == "json":
        use_json_logs()
    app.include_router(ask_routes.router)
    app.include_router(widget_api.router)
    app.include_router(widget_ws.router)
    app.include_router(widget_static.router)
    app.include_router(email_routes.router)
    # Staff pages extend bot's base.html.
    staff_templates = make_templates(CONSOLE_TEMPLATES, ANALYTICS_TEMPLATES)
    app.include_router(make_auth_router(templates=staff_templates))
    app.mount("/static", StaticFiles(directory=TEMPLATES_DIR.parent / "static"), name="static")
    app.include_router(
        make_console_router(
            require_agent=require_roles("agent"),
            require_admin=require_roles("admin"),
            websocket_staff=websocket_staff,
            staff_still_allowed=staff_still_allowed,
            templates=staff_templates,
            services=lambda conn: conn.app.state.console,
        )
    )
    app.include_router(
        make_editor_router(
            require_editor=require_roles("editor"),
            templates=staff_templates,
            sessionmaker=lambda: app.state.sessionmaker,
            index=lambda: app.state.engine.index,  # the very index the widget's engine reads
            test_question=lambda question: answer_turn(
                engine=app.state.engine, policy=app.state.policy, question=question, history=()
            ),
            draft_article=lambda refs: app.state.analytics.draft(refs),
            max_upload_bytes=settings.max_upload_bytes,
            importer=Importer(
                max_bytes=settings.max_upload_bytes,
                allow_private=settings.import_allow_private,
            ),
        )
    )
    app.include_router(
        make_analytics_router(
            require_supervisor=require_roles("supervisor"),
            require_gap_viewer=require_roles("supervisor", "editor"),
            templates=staff_templates,
            analytics=lambda request: request.app.state.analytics,
            now=lambda request: request.app.state.now(),
        )
    )
    app.include_router(
        make_metrics_router(
            metrics=lambda request: request.app.state.metrics,
            staff_allowed=_metrics_reader,
        )
    )
    app.add_middleware(CountSockets, metrics=lambda: app.state.metrics)
    app.add_middleware(SocketLimit, per_ip=settings.max_sockets_per_ip)
    # Inside CORS, so that the widget on another site can read the refusal.
    app.add_middleware(RejectLoneSurrogates)
    widget_static.add_cors(app, settings)
    # Outermost, so that every response gets them, refusals and CORS preflights included.
    docs = (app.docs_url, app.swagger_ui_oauth2_redirect_url, app.redoc_url)
    app.add_middleware(
        SecurityHeaders,
        demo_path=widget_static.DEMO_PATH,
        docs_paths=[path for path in docs if path],
    )
    app.add_middleware(RequestIds)  # outermost: every log line of the request has its id
    return app


async def _metrics_reader(request: Request) -> bool:
    staff = await current_staff(request)
    return staff is not None and staff.has_role("supervisor")  # admins hold every role
