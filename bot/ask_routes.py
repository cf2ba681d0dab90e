"""``GET /healthz`` and ``POST /api/ask``: one stateless answering turn over HTTP."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from bot.answering.llms import LLMError
from bot.answering.schemas import AskPublic, AskRequest
from bot.answering.turns import answer_turn
from bot.chat.service import ChatError
from bot.deps import ChatDep, EngineDep, PolicyDep, SettingsDep

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.post("/api/ask")
async def ask(
    body: AskRequest,
    request: Request,
    engine: EngineDep,
    policy: PolicyDep,
    settings: SettingsDep,
    chat: ChatDep,
) -> AskPublic:
    """One answering turn. Each costs a retrieval and a model call, so it counts against the
    same per-address limit as the widget's messages (429 with Retry-After past it)."""
    try:
        await chat.check_rate(ip=request.client.host if request.client else "unknown")
    except ChatError as error:
        raise HTTPException(
            429,
            {"code": error.code, "message": error.message},
            headers={"Retry-After": str(error.retry_after_s)},
        ) from error
    if len(body.question) > settings.max_message_chars:
        raise HTTPException(
            422, f"the question is longer than {settings.max_message_chars} characters"
        )
    history = [(turn.role, turn.text) for turn in body.history]
    try:
        outcome = await answer_turn(
            engine=engine, policy=policy, question=body.question, history=history
        )
    except LLMError as error:
        raise HTTPException(503, str(error)) from error
    return AskPublic.from_turn(outcome.draft, outcome.decision)
