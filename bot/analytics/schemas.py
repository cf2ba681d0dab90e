"""The dashboard's figures as typed JSON (``GET /api/analytics``, in the OpenAPI spec)."""

from __future__ import annotations

from pydantic import BaseModel


class DayVolume(BaseModel):
    day: str  # local date, ISO
    conversations: int
    customer_messages: int


class HourVolume(BaseModel):
    weekday: int  # 0 Monday .. 6 Sunday, local
    hour: int  # 0-23, local
    customer_messages: int


class Volume(BaseModel):
    conversations: int
    customer_messages: int
    days: list[DayVolume]
    hours: list[HourVolume]  # every weekday x hour, zeros included
    out_of_hours_messages: int  # customer messages sent outside business hours
    out_of_hours_conversations: int  # conversations started outside business hours
    out_of_hours_bot_resolved: int  # ... that the bot resolved (confirmed or assumed)


class Resolution(BaseModel):
    """Each conversation with a customer message counts in exactly one outcome."""

    engaged: int  # conversations with at least one customer message
    confirmed: int  # no handoff; a thumbs-up, a rating of 4+ or the customer said it solved it
    assumed: int  # no handoff, no complaint, no confirmation, and ended (idle)
    handed_off: int
    unresolved: int  # no handoff, a complaint (thumbs-down, rating of 2 or less)
    ongoing: int  # no handoff, no signal, and still active


class BotFigures(BaseModel):
    answers: int
    clarifications: int
    resolution: Resolution
    handoffs_by_reason: dict[str, int]
    thumbs_down: int  # answers that got a thumbs-down
    answers_then_handoff: int  # answers followed by a handoff in the same conversation


class AgentFigures(BaseModel):
    agent_id: str
    name: str
    claimed: int
    resolved: int
    csat_average: float | None
    ratings: int


class PeopleFigures(BaseModel):
    handoffs: int  # times a conversation entered the queue
    claimed: int
    abandoned: int  # the customer left the queue before an agent came
    still_waiting: int
    sla_breaches: int  # waits (to a claim, to leaving, or until now) longer than the target
    sla_wait_s: int
    wait_p50_s: float | None
    wait_p90_s: float | None
    first_response_p50_s: float | None  # from the claim to the agent's first message
    first_response_p90_s: float | None
    resolution_p50_s: float | None  # from entering the queue to the agent's resolve
    resolution_p90_s: float | None
    agents: list[AgentFigures]


class RatingComment(BaseModel):
    conversation_id: str
    rating: int
    comment: str


class CsatFigures(BaseModel):
    ratings: int
    average: float | None
    distribution: dict[int, int]  # 1..5
    comments: list[RatingComment]


class AlertPublic(BaseModel):
    started_at: str
    ended_at: str | None
    peak: int
    alert_length: int


class LiveFigures(BaseModel):
    """Now, whatever the period: the numbers the agent console shows."""

    queue_length: int
    longest_wait_s: int
    agents_online: int
    alerts: list[AlertPublic]  # the period's supervisor alerts, newest first


class Dashboard(BaseModel):
    period: str
    start: str  # UTC, ISO
    end: str
    timezone: str
    filters: dict[str, str | None]
    volume: Volume
    bot: BotFigures
    people: PeopleFigures
    csat: CsatFigures
    live: LiveFigures


class Table(BaseModel):
    """One figure as rows, as the CSV export has it."""

    name: str
    columns: list[str]
    rows: list[list[str | int | float | None]]
