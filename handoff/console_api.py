"""The console's JSON routes under ``/api/agent``: read the queue and a conversation, claim,
reply, note, transfer, return to the bot, resolve, presence, canned responses.

Every route needs the agent role (canned responses are written by admins only); every
state-changing one needs the session's CSRF token, both checked by the dependencies that
``bot`` hands in. After a change the customer and the other consoles are told through the hub.
"""

# No `from __future__ import annotations`: FastAPI must resolve the local Annotated aliases.
from collections.abc import Callable
from typing import Annotated, Any, Literal, Protocol

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from handoff import console_actions as actions
from handoff import console_views as views
from handoff.console_canned import make_canned_router
from handoff.console_services import ConsoleServices, status_public
from handoff.presence import set_presence
from handoff.queue import resolve, return_to_bot, transfer
from handoff.routing import claim_next

Text = Annotated[str, Field(min_length=1)]


class StaffMember(Protocol):
    """bot's signed-in staff member, as the console uses it."""

    id: int
    name: str

    def has_role(self, *roles: str) -> bool: ...


class ReplyCreate(BaseModel):
    text: Text


class TransferCreate(BaseModel):
    to_agent_id: str | None = None  # None: back to the queue, keeping its place


class PresenceUpdate(BaseModel):
    presence: Literal["online", "away", "offline"]
    capacity: int | None = Field(default=None, ge=0, le=50)


def agent_id_of(staff: StaffMember) -> str:
    return str(staff.id)


def make_api_router(
    *,
    require_agent: Callable[..., Any],
    require_admin: Callable[..., Any],
    services: Callable[..., ConsoleServices],
) -> APIRouter:
    """``services`` is a dependency that returns the app's ``ConsoleServices``."""
    router = APIRouter(prefix="/api/agent", tags=["agent console"])
    Agent = Annotated[StaffMember, Depends(require_agent)]
    Services = Annotated[ConsoleServices, Depends(services)]
    router.include_router(
        make_canned_router(
            require_agent=require_agent, require_admin=require_admin, services=services
        )
    )

    async def owner(console: ConsoleServices, staff: StaffMember, conversation_id: str) -> str:
        return await console.attempt(
            actions.check_owner,
            conversation_id=conversation_id,
            agent_id=agent_id_of(staff),
            admin=staff.has_role("admin"),
        )

    async def meet(console: ConsoleServices, staff: StaffMember) -> Any:
        return await console.db(
            actions.ensure_agent, agent_id=agent_id_of(staff), name=staff.name, now=console.now()
        )

    @router.get("/queue")
    async def read_queue(staff: Agent, console: Services) -> dict[str, Any]:
        return await console.db(
            views.queue_snapshot,
            now=console.now(),
            agent_id=agent_id_of(staff),
            sla_wait_s=console.settings.sla_wait_s,
            alert_length=console.settings.queue_alert_length,
        )

    @router.get("/conversations/{conversation_id}")
    async def read_conversation(
        conversation_id: str, staff: Agent, console: Services
    ) -> dict[str, Any]:
        view = await console.db(
            views.conversation_view, conversation_id=conversation_id, now=console.now()
        )
        transcript = await run_in_threadpool(console.port.transcript, conversation_id)
        if view["packet"] is None and not transcript:
            raise HTTPException(404, "No such conversation.")
        return {**view, "transcript": transcript}

    @router.post("/conversations/{conversation_id}/claim")
    async def claim_conversation(
        conversation_id: str, staff: Agent, console: Services
    ) -> dict[str, Any]:
        await meet(console, staff)
        await console.attempt(
            actions.claim_for,
            conversation_id=conversation_id,
            agent_id=agent_id_of(staff),
            now=console.now(),
        )
        await console.claimed(conversation_id, agent_id_of(staff), staff.name)
        return {"conversation_id": conversation_id, "state": "agent"}

    @router.post("/claim-next")
    async def claim_next_conversation(
        staff: Agent, console: Services, channel: Literal["widget", "email"] | None = None
    ) -> dict[str, Any]:
        await meet(console, staff)
        conversation_id = await console.attempt(
            claim_next, agent_id=agent_id_of(staff), now=console.now(), channel=channel
        )
        if conversation_id is None:
            raise HTTPException(404, "Nobody is waiting that you can take.")
        await console.claimed(conversation_id, agent_id_of(staff), staff.name)
        return {"conversation_id": conversation_id, "state": "agent"}

    @router.post("/conversations/{conversation_id}/messages", status_code=201)
    async def reply(
        conversation_id: str, body: ReplyCreate, staff: Agent, console: Services
    ) -> dict[str, Any]:
        limit = console.settings.max_message_chars
        if len(body.text) > limit:
            raise HTTPException(422, f"The message is longer than {limit} characters.")
        await owner(console, staff, conversation_id)
        message = await run_in_threadpool(
            console.port.post_message, conversation_id, "agent", body.text, staff.name
        )
        typing = {"type": "typing", "role": "agent", "on": False, "author": staff.name}
        await console.tell_customer(conversation_id, typing)
        return message

    @router.post("/conversations/{conversation_id}/notes", status_code=201)
    async def note(
        conversation_id: str, body: ReplyCreate, staff: Agent, console: Services
    ) -> dict[str, Any]:
        row = await console.db(
            actions.add_note,
            conversation_id=conversation_id,
            agent_id=agent_id_of(staff),
            text=body.text,
            now=console.now(),
        )
        public = {
            "id": row.id,
            "text": row.text,
            "agent": staff.name,
            "created_at": row.created_at.isoformat(),
        }
        await console.tell_agents(
            {"type": "note", "conversation_id": conversation_id, "note": public}
        )
        return public

    @router.post("/conversations/{conversation_id}/transfer")
    async def transfer_conversation(
        conversation_id: str, body: TransferCreate, staff: Agent, console: Services
    ) -> dict[str, Any]:
        await owner(console, staff, conversation_id)
        target = None
        if body.to_agent_id is not None:
            target = await console.attempt(actions.target_agent, agent_id=body.to_agent_id)
        await console.attempt(
            transfer,
            conversation_id=conversation_id,
            now=console.now(),
            to_agent_id=body.to_agent_id,
        )
        if target is not None:
            state = {"type": "state", "state": "agent", "agent": target.name}
            await console.tell_customer(conversation_id, state)
        event = {
            "type": "transferred",
            "conversation_id": conversation_id,
            "to_agent_id": body.to_agent_id,
        }
        await console.tell_agents(event)
        await console.queue_moved()
        return {"conversation_id": conversation_id, "state": "agent" if target else "queued"}

    @router.post("/conversations/{conversation_id}/return")
    async def return_conversation(
        conversation_id: str, staff: Agent, console: Services
    ) -> dict[str, Any]:
        await owner(console, staff, conversation_id)
        await console.attempt(return_to_bot, conversation_id=conversation_id, now=console.now())
        await console.released(conversation_id, "bot")
        return {"conversation_id": conversation_id, "state": "bot"}

    @router.post("/conversations/{conversation_id}/resolve")
    async def resolve_conversation(
        conversation_id: str, staff: Agent, console: Services
    ) -> dict[str, Any]:
        await owner(console, staff, conversation_id)
        await console.attempt(resolve, conversation_id=conversation_id, now=console.now())
        await console.released(conversation_id, "resolved")
        return {"conversation_id": conversation_id, "state": "resolved"}

    @router.get("/me")
    async def read_me(staff: Agent, console: Services) -> dict[str, Any]:
        status = await meet(console, staff)
        return status_public(status) | {"name": staff.name, "admin": staff.has_role("admin")}

    @router.put("/presence")
    async def update_presence(
        body: PresenceUpdate, staff: Agent, console: Services
    ) -> dict[str, Any]:
        status = await console.db(
            set_presence,
            agent_id=agent_id_of(staff),
            presence=body.presence,
            capacity=body.capacity,
            name=staff.name,
            now=console.now(),
        )
        await console.presence_changed(status)
        return status_public(status)

    return router
