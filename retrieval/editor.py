"""The knowledge-base editor: HTML pages under ``/kb`` and a JSON API under ``/api/kb``.

``bot/app.py`` builds it with ``make_editor_router`` and hands in what belongs to ``bot``: the
role dependency (which also checks the CSRF token of state-changing requests), the templates
with the staff base page, and the "test a question" callable that runs the widget's own turn.
Services that the app creates in its lifespan arrive as zero-argument providers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader
from sqlalchemy.orm import Session, sessionmaker

from retrieval.editor_api import make_api_router
from retrieval.editor_deps import Kb, size_text
from retrieval.editor_pages import make_pages_router
from retrieval.importer import Importer
from retrieval.index import KnowledgeIndex
from retrieval.schemas import DraftArticle, TestQuestion
from retrieval.uploads import UploadLimits

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


def make_editor_router(
    *,
    require_editor: Callable[..., Any],
    templates: Jinja2Templates,
    sessionmaker: Callable[[], sessionmaker[Session]],
    index: Callable[[], KnowledgeIndex],
    test_question: TestQuestion,
    max_upload_bytes: int,
    importer: Importer | None = None,
    draft_article: DraftArticle | None = None,
) -> APIRouter:
    """The editor's routes. ``templates`` must be able to load ``base.html``.
    ``draft_article`` pre-fills a new article from unanswered questions (``POST /kb/draft``)."""
    kb = Kb(
        sessions=sessionmaker,
        index=index,
        test_question=test_question,
        limits=UploadLimits(max_bytes=max_upload_bytes),
        importer=importer or Importer(max_bytes=max_upload_bytes),
        draft_article=draft_article,
    )
    router = APIRouter()
    router.include_router(make_api_router(kb, require_editor))
    router.include_router(make_pages_router(kb, require_editor, _with_own_templates(templates)))
    return router


def _with_own_templates(templates: Jinja2Templates) -> Jinja2Templates:
    # Our pages first, then whatever the app serves (its base.html).
    app_loader = [templates.env.loader] if templates.env.loader else []
    loader = ChoiceLoader([FileSystemLoader(TEMPLATES_DIR), *app_loader])
    env = Environment(loader=loader, autoescape=True)
    env.globals.update(templates.env.globals)
    env.filters["size"] = size_text
    return Jinja2Templates(env=env)
