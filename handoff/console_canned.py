"""Canned responses under ``/api/agent/canned``: every agent reads them, admins write them."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from handoff import console_actions as actions
from handoff import console_views as views
from handoff.console_services import ConsoleServices

# No `from __future__ import annotations`: FastAPI must resolve the local Annotated aliases.

# A row id: past 2**63 - 1 no database (SQLite, PostgreSQL BIGINT) takes it, so it is a 422.
CannedId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class CannedCreate(BaseModel):
    shortcut: str = Field(min_length=1, max_length=64, pattern=r"^\S+$")
    title: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1)
    lang: str | None = Field(default=None, max_length=16)


def make_canned_router(
    *,
    require_agent: Callable[..., Any],
    require_admin: Callable[..., Any],
    services: Callable[..., ConsoleServices],
) -> APIRouter:
    router = APIRouter()
    Agent = Annotated[Any, Depends(require_agent)]
    Admin = Annotated[Any, Depends(require_admin)]
    Services = Annotated[ConsoleServices, Depends(services)]

    @router.get("/canned")
    async def list_canned(staff: Agent, console: Services) -> list[dict[str, Any]]:
        return await console.db(views.canned_responses)

    @router.post("/canned", status_code=201)
    async def create_canned(body: CannedCreate, staff: Admin, console: Services) -> dict[str, Any]:
        row = await console.attempt(actions.save_canned, canned_id=None, values=body.model_dump())
        return views.canned_public(row)

    @router.put("/canned/{canned_id}")
    async def replace_canned(
        canned_id: CannedId, body: CannedCreate, staff: Admin, console: Services
    ) -> dict[str, Any]:
        row = await console.attempt(
            actions.save_canned, canned_id=canned_id, values=body.model_dump()
        )
        return views.canned_public(row)

    @router.delete("/canned/{canned_id}", status_code=204)
    async def remove_canned(canned_id: CannedId, staff: Admin, console: Services) -> None:
        await console.attempt(actions.delete_canned, canned_id=canned_id)

    return router
