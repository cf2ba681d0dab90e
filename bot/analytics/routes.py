"""``/analytics`` (the supervisors' dashboard), ``/analytics/gaps`` (knowledge gaps) and their
JSON and CSV API under ``/api/analytics``.

``bot/app.py`` hands in the role dependencies: the dashboard is for supervisors (and admins);
the gaps are also for editors, who turn them into articles.
"""

# No `from __future__ import annotations`: FastAPI must resolve the local Annotated aliases.
import csv
import io
from collections.abc import Callable
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from bot.analytics import charts
from bot.analytics.gaps import Gap
from bot.analytics.period import Filters, Period, PeriodError, PeriodName, make_period
from bot.analytics.report import TABLES
from bot.analytics.schemas import Dashboard, Table
from bot.analytics.service import Analytics

STATIC_DIR = Path(__file__).resolve().parent / "static"
Figure = StrEnum("Figure", {name: name for name in TABLES})  # type: ignore[misc]


class GapQuestion(BaseModel):
    ref: str  # conversation:seq, what the draft and re-check routes take
    text: str
    at: str
    why: str
    cited: str | None


class GapPublic(BaseModel):
    key: str
    title: str
    size: int
    latest: str
    cited: list[str]
    questions: list[GapQuestion]


class RecheckCreate(BaseModel):
    questions: list[str] = Field(min_length=1, max_length=50)  # refs


class RecheckPublic(BaseModel):
    asked: int
    answered: int
    results: list[dict[str, str]]


def make_analytics_router(
    *,
    require_supervisor: Callable[..., Any],
    require_gap_viewer: Callable[..., Any],
    templates: Jinja2Templates,
    analytics: Callable[[Request], Analytics],
    now: Callable[[Request], datetime],
) -> APIRouter:
    router = APIRouter()
    Supervisor = Annotated[Any, Depends(require_supervisor)]
    GapViewer = Annotated[Any, Depends(require_gap_viewer)]

    def get_service(request: Request) -> Analytics:
        return analytics(request)

    Service = Annotated[Analytics, Depends(get_service)]

    def report_query(
        request: Request,
        period: PeriodName = "7d",
        start: date | None = None,
        end: date | None = None,
        channel: str | None = None,
        lang: str | None = None,
        skill: str | None = None,
    ) -> tuple[Period, Filters]:
        settings = analytics(request).settings
        try:
            chosen = make_period(
                period, now=now(request), timezone=settings.timezone, start=start, end=end
            )
        except PeriodError as error:
            raise HTTPException(422, str(error)) from error
        return chosen, Filters(channel or None, lang or None, skill or None)

    Query = Annotated[tuple[Period, Filters], Depends(report_query)]

    async def dashboard(request: Request, query: Query) -> Dashboard:
        return await run_in_threadpool(analytics(request).dashboard, *query, now(request))

    async def gaps(request: Request, query: Query) -> list[Gap]:
        return await run_in_threadpool(analytics(request).gaps, *query)

    @router.get("/analytics", response_class=HTMLResponse, include_in_schema=False)
    async def dashboard_page(request: Request, staff: Supervisor, service: Service, query: Query):
        board = await dashboard(request, query)
        context = {
            "staff": staff,
            "d": board,
            "query": request.url.query,
            "options": await run_in_threadpool(service.filter_options),
            "figures": list(TABLES),
            "charts": {
                "daily": charts.daily_bars(board.volume.days),
                "hours": charts.hour_heatmap(board.volume.hours),
                "reasons": charts.hbars(board.bot.handoffs_by_reason, "Handoffs by reason"),
                "csat": charts.hbars(board.csat.distribution, "Ratings"),
            },
        }
        return templates.TemplateResponse(request, "analytics.html", context)

    @router.get("/api/analytics", tags=["analytics"])
    async def read_dashboard(request: Request, staff: Supervisor, query: Query) -> Dashboard:
        return await dashboard(request, query)

    # Declared before the JSON route, whose {name} would otherwise take "volume.csv".
    @router.get(
        "/api/analytics/figures/{name}.csv",
        tags=["analytics"],
        response_class=Response,
        responses={200: {"content": {"text/csv": {}}}},
    )
    async def figure_csv(request: Request, name: Figure, staff: Supervisor, query: Query):
        table = TABLES[name.value](await dashboard(request, query))
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(table.columns)
        writer.writerows(table.rows)
        disposition = f'attachment; filename="{name.value}.csv"'
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": disposition},
        )

    @router.get("/api/analytics/figures/{name}", tags=["analytics"])
    async def figure_json(request: Request, name: Figure, staff: Supervisor, query: Query) -> Table:
        return TABLES[name.value](await dashboard(request, query))

    @router.get("/analytics/gaps", response_class=HTMLResponse, include_in_schema=False)
    async def gaps_page(request: Request, staff: GapViewer, query: Query):
        found = await gaps(request, query)
        return _gaps_page(templates, request, staff, found, {})

    @router.post("/analytics/gaps/recheck", response_class=HTMLResponse, include_in_schema=False)
    async def recheck_form(
        request: Request,
        staff: GapViewer,
        service: Service,
        query: Query,
        key: Annotated[str, Form()],
        question: Annotated[list[str], Form()],
    ):
        result = await _recheck(service, question)
        found = await gaps(request, query)
        return _gaps_page(templates, request, staff, found, {key: result})

    @router.get("/api/analytics/gaps", tags=["analytics"])
    async def read_gaps(request: Request, staff: GapViewer, query: Query) -> list[GapPublic]:
        return [gap_public(gap) for gap in await gaps(request, query)]

    @router.post("/api/analytics/gaps/recheck", tags=["analytics"])
    async def recheck_gap(body: RecheckCreate, staff: GapViewer, service: Service) -> RecheckPublic:
        return await _recheck(service, body.questions)

    @router.get("/analytics/static/analytics.css", include_in_schema=False)
    async def stylesheet() -> FileResponse:
        return FileResponse(STATIC_DIR / "analytics.css", media_type="text/css")

    return router


async def _recheck(service: Analytics, refs: list[str]) -> RecheckPublic:
    done = await service.recheck(refs)
    if done.asked == 0:
        raise HTTPException(404, "None of these questions exists.")
    results = [{"question": q, "decision": d} for q, d in done.results]
    return RecheckPublic(asked=done.asked, answered=done.answered, results=results)


def gap_public(gap: Gap) -> GapPublic:
    return GapPublic(
        key=gap.key,
        title=gap.title,
        size=len(gap.questions),
        latest=gap.latest.isoformat(),
        cited=gap.cited,
        questions=[
            GapQuestion(ref=q.ref, text=q.text, at=q.at.isoformat(), why=q.why, cited=q.cited)
            for q in gap.questions
        ],
    )


def _gaps_page(
    templates: Jinja2Templates,
    request: Request,
    staff: Any,
    found: list[Gap],
    rechecked: dict[str, RecheckPublic],
) -> Response:
    context = {"staff": staff, "gaps": found, "rechecked": rechecked, "query": request.url.query}
    return templates.TemplateResponse(request, "gaps.html", context)
