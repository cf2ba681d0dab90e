"""The handoff policy: one pure function from a turn's facts to a typed decision.

Rules are checked in a fixed order and the first that fires wins:
requested (button or words) -> sensitive topic (highest rule priority) -> frustration ->
repeated failure (the N-th low-confidence turn in a row, or a near-duplicate of an earlier
question) -> low confidence / no answer (the first one asks the customer to rephrase when
``clarify_first``) -> answer. Small talk has ``confidence=None`` and is answered unless an
earlier rule fires. Thresholds, priorities and topic rules are configuration
(``PolicyConfig.from_mapping`` / ``from_file``), not code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

from handoff.intents import is_handoff_request, is_repeat
from handoff.sentiment import assess_frustration


class Reason(StrEnum):
    requested = "requested"
    low_confidence = "low_confidence"
    repeated_failure = "repeated_failure"
    frustration = "frustration"
    sensitive_topic = "sensitive_topic"
    no_answer = "no_answer"  # the LLM said the passages do not answer
    bot_unavailable = "bot_unavailable"  # the LLM or the search failed, timed out or broke off


class Action(StrEnum):
    answer = "answer"
    handoff = "handoff"
    clarify = "clarify"  # ask the customer to rephrase


@dataclass(frozen=True)
class TopicRule:
    """A sensitive topic: any pattern (a case-insensitive regex) matching escalates at once."""

    name: str
    patterns: tuple[str, ...]
    priority: int
    _compiled: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.patterns:
            raise ValueError(f"topic rule {self.name!r} has no patterns")
        try:
            compiled = re.compile("|".join(f"(?:{p})" for p in self.patterns), re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"topic rule {self.name!r}: bad pattern: {exc}") from None
        object.__setattr__(self, "patterns", tuple(self.patterns))
        object.__setattr__(self, "_compiled", compiled)

    def match(self, text: str) -> str | None:
        found = self._compiled.search(text)
        return found.group(0) if found else None


DEFAULT_RULES: tuple[TopicRule, ...] = (
    TopicRule(
        "legal_threat",
        (
            # A threat, not a mention: "my lawyer", "file a lawsuit"; "what does a county
            # attorney do" is a question for the bot.
            r"\b(?:my|our)\s+(?:lawyers?|attorneys?|solicitors?|legal\s+team)\b",
            r"\b(?:contact|call|get|hire|involve|consult|see|talk\s+to|speak\s+to)(?:ing|s)?\s+"
            r"(?:a|an|my)\s+(?:lawyer|attorney|solicitor)\b",
            r"\b(?:file|filing|bring|start|take|taking|pursue|threaten)\w*\s+(?:a\s+)?"
            r"(?:lawsuit|legal\s+(?:action|steps)|class\s+action)",
            r"\b(?:take|taking)\s+(?:you|this|it)\s+to\s+court\b|\bsee\s+you\s+in\s+court\b",
            r"\b(?:sue|suing)\s+(?:you|your|the\s+company|them)\b",
            r"律师函|找律师|请律师|起诉你们|要起诉|告你们|法院见|法律(?:途径|行动|手段)",
        ),
        100,
    ),
    TopicRule(
        "account_compromise",
        (
            r"\b(?:hacked|compromised|hijacked)\b|\bidentity\s+theft\b",
            r"\bunauthori[sz]ed\s+(?:access|log-?ins?|charges?|transactions?|purchases?|payments?)",
            r"\b(?:someone|somebody)\s+(?:else\s+)?(?:has\s+|is\s+)?(?:logged|logging|got|"
            r"accessed|accessing|using|used|broke)\s+(?:in(?:to)?\s+)?my\s+account\b",
            r"\bstolen\s+(?:account|card|password|identity|credentials)\b",
            r"被盗|被黑|盗号|盗刷|被入侵",
        ),
        90,
    ),
    TopicRule(
        "refund_dispute",
        (
            r"\bcharge-?backs?\b",
            r"\bdisput(?:e|ing|ed)\s+(?:the\s+|a\s+|this\s+|my\s+)?(?:charge|payment|transaction|bill)",
            r"\b(?:charged|billed)\s+(?:me\s+)?(?:twice|double)\b|\bdouble[-\s]charged\b",
            r"\brefund\b.{0,40}\b(?:denied|refused|rejected)\b",
            r"\b(?:haven't|have\s+not|never|still\s+not)\s+(?:got|gotten|received)\s+(?:my|the|a)\s+"
            r"refund\b",
            r"拒付|退款纠纷|重复扣款|扣了两次|退款.{0,6}(?:拒绝|没到|还没)",
        ),
        80,
    ),
    TopicRule(
        "cancellation",
        (
            r"\bcancel(?:l?ing|l?ed)?\s+(?:my|our|the)\s+(?:account|subscription|contract|"
            r"membership|plan|service)\b",
            r"\b(?:close|terminate|delete)\s+(?:my|our)\s+account\b",
            r"取消(?:订阅|会员|合同|账户|账号|服务)|注销|销户|退订",
        ),
        70,
    ),
)

DEFAULT_PRIORITIES: Mapping[str, int] = {
    Reason.requested: 50,
    Reason.frustration: 60,
    Reason.repeated_failure: 40,
    Reason.low_confidence: 30,
    Reason.no_answer: 30,
    Reason.bot_unavailable: 30,
}


@dataclass(frozen=True)
class PolicyConfig:
    threshold: float = 0.5  # confidence below this is low
    clarify_first: bool = True  # the first low-confidence turn asks to rephrase
    repeated_low_turns: int = 2  # this many low-confidence turns in a row hand off
    frustration_threshold: float = 0.6  # on handoff.sentiment's score in [0, 1]
    repeat_similarity: float = 0.85  # normalised edit similarity for a repeated question
    rules: tuple[TopicRule, ...] = DEFAULT_RULES
    priorities: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PRIORITIES))

    def __post_init__(self) -> None:
        if not 0 <= self.threshold <= 1 or not 0 <= self.repeat_similarity <= 1:
            raise ValueError("threshold and repeat_similarity must be in [0, 1]")
        if self.repeated_low_turns < 1:
            raise ValueError("repeated_low_turns must be at least 1")
        unknown = set(self.priorities) - set(Reason)
        if unknown:
            raise ValueError(f"unknown reasons in priorities: {sorted(unknown)}")
        object.__setattr__(self, "priorities", {**DEFAULT_PRIORITIES, **self.priorities})

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PolicyConfig:
        """Build from plain data; ``rules`` (a list of {name, patterns, priority}) replaces
        the defaults, ``extra_rules`` adds to them."""
        data = dict(data)
        known = {f.name for f in fields(cls)} | {"extra_rules"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown policy settings: {sorted(unknown)}")
        rules = data.pop("rules", None)
        extra = data.pop("extra_rules", [])
        base = DEFAULT_RULES if rules is None else tuple(_rule(r) for r in rules)
        return cls(**data, rules=base + tuple(_rule(r) for r in extra))

    @classmethod
    def from_file(cls, path: str | Path) -> PolicyConfig:
        """Load from a ``.json`` or ``.yaml``/``.yml`` file."""
        path = Path(path)
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() in {".yaml", ".yml"}:
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = json.loads(text)
        return cls.from_mapping(data)


def _rule(raw: Mapping[str, Any] | TopicRule) -> TopicRule:
    if isinstance(raw, TopicRule):
        return raw
    patterns = raw["patterns"]
    patterns = (patterns,) if isinstance(patterns, str) else tuple(patterns)
    return TopicRule(name=str(raw["name"]), patterns=patterns, priority=int(raw["priority"]))


@dataclass(frozen=True)
class TurnFacts:
    text: str
    confidence: float | None  # None: small talk, no retrieval
    requested: bool = False  # the widget's "Talk to a person" control
    no_answer: bool = False  # the LLM said the passages do not answer
    previous_customer_texts: tuple[str, ...] = ()
    low_confidence_streak: int = 0  # low-confidence turns in a row just before this one
    clarified: bool = False  # the bot already asked to rephrase in this conversation


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: Reason | None = None
    priority: int = 0  # queue priority, higher first
    detail: str = ""  # why, for the agent: the matched words, rule or score


def decide(facts: TurnFacts, config: PolicyConfig) -> Decision:
    def handoff(reason: Reason, detail: str, priority: int | None = None) -> Decision:
        level = config.priorities[reason] if priority is None else priority
        return Decision(Action.handoff, reason, level, detail)

    if facts.requested:
        return handoff(Reason.requested, "button")
    if is_handoff_request(facts.text):
        return handoff(Reason.requested, "words")
    topic = _top_topic(facts.text, config.rules)
    if topic is not None:
        rule, matched = topic
        return handoff(Reason.sensitive_topic, f"{rule.name}: {matched!r}", rule.priority)
    mood = assess_frustration(facts.text)
    if mood.score >= config.frustration_threshold:
        return handoff(Reason.frustration, mood.describe())
    if facts.confidence is None:
        return Decision(Action.answer)
    low = facts.no_answer or facts.confidence < config.threshold
    if low and facts.low_confidence_streak + 1 >= config.repeated_low_turns:
        turns = facts.low_confidence_streak + 1
        return handoff(Reason.repeated_failure, f"{turns} low-confidence turns in a row")
    if is_repeat(facts.text, facts.previous_customer_texts, similarity=config.repeat_similarity):
        return handoff(Reason.repeated_failure, "the customer repeated an earlier question")
    if low:
        reason = Reason.no_answer if facts.no_answer else Reason.low_confidence
        detail = f"confidence {facts.confidence:.2f} < {config.threshold:.2f}"
        if config.clarify_first and not facts.clarified:
            return Decision(Action.clarify, reason, 0, detail)
        return handoff(reason, detail)
    return Decision(Action.answer)


def _top_topic(text: str, rules: tuple[TopicRule, ...]) -> tuple[TopicRule, str] | None:
    hits = [(rule, found) for rule in rules if (found := rule.match(text)) is not None]
    return max(hits, key=lambda hit: hit[0].priority) if hits else None
