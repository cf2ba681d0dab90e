"""What the customer's words say: a request for a human, a repeated question.

A request for a human is recognised by intent patterns, never by bare words, so that "human
error", "is this a human-readable format?" or "does the agent app support iOS" stay with the
bot. A request is either a verb aimed at a person noun ("talk to a human", "connect me with
an agent", "转人工", "我要找客服") or a message that is nothing but the noun ("agent!",
"人工"). English and Chinese are covered.
"""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher

_PERSON = (
    r"(?:(?:a|an|the|some|your|one\s+of\s+your)\s+)?(?:(?:real|live|actual|human|another)\s+)?"
    r"(?:human(?:\s+being)?|person|agent|representative|rep|operator|supervisor|manager"
    r"|staff(?:\s+member)?|customer\s+(?:service|support)(?:\s+(?:agent|rep|person))?"
    r"|support\s+(?:agent|person|team|staff))"
)
# The noun must end the phrase: "an agent app" or "human-readable" are things, not people.
_END = r"(?![-\w'’])"

_ENGLISH = [
    # talk / speak / chat to someone ("someone" and "support" are people only after these verbs)
    rf"\b(?:talk|speak|chat|communicate)\s+(?:to|with)\s+(?:{_PERSON}|someone|somebody|"
    rf"(?:your\s+)?support){_END}",
    # connect / transfer / put me through to ...: the customer must be the object
    rf"\b(?:connect|transfer|put|pass|forward|escalate|send|route|hand)\s+(?:me|us|this|my\s+"
    rf"(?:case|chat|ticket))\s+(?:through\s+)?(?:to|with)\s+{_PERSON}{_END}",
    # I want / need / get me / give me a human
    rf"\b(?:want|need|get\s+me|give\s+me|request|prefer|get)\s+(?:{_PERSON}|some(?:one|body)\s+real)"
    rf"{_END}(?!\s+(?:app|application|portal|software|account|version|tool)\b)",
    r"\b(?:want|need|get|prefer|request)\s+(?:some\s+)?(?:human|real|live|personal)\s+"
    r"(?:help|support|assistance)\b",
    rf"\b(?:can|could)\s+{_PERSON}\s+(?:please\s+)?help\b",
    r"\b(?:is|are)\s+there\s+(?:a|any)\s+(?:real\s+|live\s+)?(?:human|person|people|agents?)"
    r"\s+(?:i|we)\s+can\s+(?:talk|speak|chat)",
    rf"\bescalate\b(?:\s+(?:this|it|me))?(?:\s+to\s+{_PERSON})?\s*[.!?]*$",
    # the whole message is the noun: "agent", "human please", "a real person!!"
    rf"^\s*(?:{_PERSON}|someone\s+real)(?:\s*,?\s*(?:please|pls|plz|now|asap))*\s*[.!?]*\s*$",
]

_CN_PERSON = r"(?:真人|人工(?!智能)|客服|工作人员|活人|坐席|专员)"
_CHINESE = [
    r"转(?:接)?(?:到)?(?:人工|真人|客服)(?!电话)",
    rf"(?:找|要|叫|换|联系|接通|接)(?:一个|一位|个|位)?(?:真的|真正的)?{_CN_PERSON}(?!电话|热线|邮箱|几点|的)",
    rf"(?:跟|和|与|同)(?:一个|一位|个|位)?{_CN_PERSON}(?:说话|聊|谈|沟通|对话|交流)",
    rf"(?:让|请)(?:一个|一位|个|位)?{_CN_PERSON}来?(?:回答|处理|帮|跟进|回复|联系我)",
    rf"^\s*(?:{_CN_PERSON}(?:服务|客服)?)(?:[，,]?\s*(?:谢谢|快点|马上))?\s*[!！。.?？]*\s*$",
    r"人工服务(?!时间)",
]
_REQUEST = re.compile("|".join(f"(?:{p})" for p in _ENGLISH + _CHINESE), re.IGNORECASE)

# Questions about the bot itself ("are you a real person?") are answered, not escalated.
_ABOUT_BOT = re.compile(r"^\s*(?:are\s+you|is\s+this|你是)", re.IGNORECASE)


def is_handoff_request(text: str) -> bool:
    """True when the customer asks, in words, for a human."""
    if _ABOUT_BOT.search(text) and not re.search(r"\b(?:talk|speak|connect)\b", text, re.I):
        return False
    return _REQUEST.search(text) is not None


def normalise(text: str) -> str:
    """Lower case, NFKC width folding, punctuation dropped, whitespace collapsed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(c if c.isalnum() or c.isspace() else " " for c in folded)
    return " ".join(kept.split())


def _substantial(norm: str) -> bool:
    # "ok", "yes", "谢谢" repeat naturally; only real questions count as repeated ones.
    cjk = sum(1 for c in norm if "\u3400" <= c <= "\u9fff")
    return len(norm.split()) >= 3 or cjk >= 4


def is_repeat(text: str, previous: tuple[str, ...] | list[str], *, similarity: float) -> bool:
    """True when ``text`` is a near-duplicate of an earlier customer message."""
    norm = normalise(text)
    if not _substantial(norm):
        return False
    for earlier in previous:
        other = normalise(earlier)
        if other and SequenceMatcher(None, norm, other).ratio() >= similarity:
            return True
    return False
