"""handoff: when the bot stops and a person takes over.

The policy (``decide``), the one state machine (``check_transition``), the queue and its
routing, business hours, the handoff packet, and the port through which handoff reaches
conversations owned by ``bot``. Never imports ``bot`` or ``retrieval``.
"""

from handoff.hours import BusinessHours
from handoff.models import AgentStatus, Base, CannedResponse, Note, Ticket
from handoff.packet import build_packet, render_packet
from handoff.policy import (
    Action,
    Decision,
    PolicyConfig,
    Reason,
    TopicRule,
    TurnFacts,
    decide,
)
from handoff.ports import ConversationPort
from handoff.presence import Presence, is_offline, set_presence
from handoff.queue import (
    cancel,
    claim,
    open_handoff,
    resolve,
    return_to_bot,
    set_contact,
    state_of,
    transfer,
)
from handoff.routing import assign_waiting, auto_assign, claim_next
from handoff.states import IllegalTransition, State, bot_speaks, check_transition
from handoff.waiting import list_queue, queue_position

__all__ = [
    "Action",
    "AgentStatus",
    "Base",
    "BusinessHours",
    "CannedResponse",
    "ConversationPort",
    "Decision",
    "IllegalTransition",
    "Note",
    "PolicyConfig",
    "Presence",
    "Reason",
    "State",
    "Ticket",
    "TopicRule",
    "TurnFacts",
    "assign_waiting",
    "auto_assign",
    "bot_speaks",
    "build_packet",
    "cancel",
    "check_transition",
    "claim",
    "claim_next",
    "decide",
    "is_offline",
    "list_queue",
    "open_handoff",
    "queue_position",
    "render_packet",
    "resolve",
    "return_to_bot",
    "set_contact",
    "set_presence",
    "state_of",
    "transfer",
]
