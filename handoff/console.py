"""The agent console: ``GET /agent`` (the page), its script and style, the JSON routes under
``/api/agent`` and ``WS /ws/agent``.

``bot/app.py`` builds it with what handoff cannot import: the role dependencies, the staff
socket check, the templates (which know bot's ``base.html``) and a function that finds the
``ConsoleServices`` the app built in its lifespan.
"""

# No `from __future__ import annotations`: FastAPI must resolve the local Annotated aliases.
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.requests import HTTPConnection

from handoff.console_api import StaffMember, make_api_router
from handoff.console_services import ConsoleServices
from handoff.console_ws import StaffCheck, StaffSocket, make_socket_router

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"
_STATIC = {
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}


def make_console_router(
    *,
    require_agent: Callable[..., Any],
    require_admin: Callable[..., Any],
    websocket_staff: StaffSocket,
    staff_still_allowed: StaffCheck,
    templates: Jinja2Templates,
    services: Callable[[Any], ConsoleServices],
) -> APIRouter:
    """``services`` takes the request or socket and returns the app's ``ConsoleServices``."""
    router = APIRouter()
    Agent = Annotated[StaffMember, Depends(require_agent)]

    @router.get("/agent", include_in_schema=False)
    async def console_page(request: Request, staff: Agent) -> Response:
        response = templates.TemplateResponse(request, "agent.html", {"staff": staff})
        response.headers["Cache-Control"] = "no-store"
        return response

    @router.get("/agent/static/{name}", include_in_schema=False)
    async def console_static(name: str) -> FileResponse:
        if name not in _STATIC:
            raise HTTPException(404, "Not found")
        return FileResponse(
            STATIC_DIR / name, media_type=_STATIC[name], headers={"Cache-Control": "no-cache"}
        )

    def get_services(connection: HTTPConnection) -> ConsoleServices:
        return services(connection)

    router.include_router(
        make_api_router(
            require_agent=require_agent, require_admin=require_admin, services=get_services
        )
    )
    router.include_router(
        make_socket_router(
            websocket_staff=websocket_staff,
            staff_still_allowed=staff_still_allowed,
            services=services,
        )
    )
    return router
