"""Frustration in one customer message, as a score in [0, 1].

Method: the base is VADER's compound polarity (``vaderSentiment``, a maintained rule-based
model with its own lexicon that handles negation, intensifiers, caps and punctuation),
negated (``-compound``, so praise pulls the score down). On top of it, three surface signals
that VADER under-weights in support chats raise the score, clamped to [0, 1]: shouting
(mostly upper case, +0.3), runs of ``!!!``/``???`` (+0.3), and abuse aimed at the bot or the
company, which alone lifts the score to 0.7. VADER knows English only, so for Chinese a
short list of strong complaint phrases lifts the score to 0.8; it complements the model, it
is not the method. VADER scores words, not their target ("where is the dead sea" is negative),
so the sentiment counts in full only when the message is aimed at the speaker, at us or at the
service (first or second person, "this", "nothing", or words such as service, support, bot);
otherwise at half weight. The threshold lives in the policy configuration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

_SHOUT_BONUS = 0.3
_PUNCT_BONUS = 0.3
_ABUSE_FLOOR = 0.7
_CHINESE_FLOOR = 0.8

_UNAIMED_WEIGHT = 0.5
_AIMED = re.compile(
    r"\b(?:i|i'm|im|me|my|mine|we|us|our|you|your|yours|this|nothing|again|still"
    r"|service|support|bot|chat|help|app|product|company|experience|order|account)\b",
    re.IGNORECASE,
)
_PUNCT_RUN = re.compile(r"[!?！？]{3,}|[!！]{2,}")
_ABUSE = re.compile(
    r"\b(?:useless|stupid|idiot(?:ic|s)?|dumb|moron(?:ic)?|garbage|trash|rubbish|pathetic"
    r"|ridiculous|joke|wtf|fuck\w*|shit\w*|crap(?:py)?|damn|bullshit|scam|incompetent)\b",
    re.IGNORECASE,
)
# Strong Chinese complaint phrases: VADER has no Chinese lexicon, so these stand in for it.
_CHINESE = re.compile(
    r"太差|垃圾|气死|破(?:系统|机器人|服务|玩意)|废物|没用的?东西|烦死|受够了|搞什么|"
    r"什么鬼|骗子|坑人|无语|去死|投诉你们|他妈|妈的"
)


@dataclass(frozen=True)
class Frustration:
    score: float  # 0 calm .. 1 clearly frustrated or abusive
    signals: tuple[str, ...]  # what raised it: "sentiment", "caps", "punctuation", "abuse", ...

    def describe(self) -> str:
        return f"frustration {self.score:.2f} ({', '.join(self.signals) or 'none'})"


@cache
def _analyzer() -> SentimentIntensityAnalyzer:
    # Reading the lexicon costs a few milliseconds; do it once per process.
    return SentimentIntensityAnalyzer()


def _shouting(text: str) -> bool:
    letters = [c for c in text if c.isascii() and c.isalpha()]
    return len(letters) >= 8 and sum(c.isupper() for c in letters) / len(letters) >= 0.7


def assess_frustration(text: str) -> Frustration:
    compound = _analyzer().polarity_scores(text)["compound"]
    score = -compound * (1.0 if _AIMED.search(text) else _UNAIMED_WEIGHT)
    signals = ["sentiment"] if compound < 0 else []
    if _shouting(text):
        score += _SHOUT_BONUS
        signals.append("caps")
    if _PUNCT_RUN.search(text):
        score += _PUNCT_BONUS
        signals.append("punctuation")
    if _ABUSE.search(text):
        score = max(score, _ABUSE_FLOOR)
        signals.append("abuse")
    if _CHINESE.search(text):
        score = max(score, _CHINESE_FLOOR)
        signals.append("chinese_phrase")
    return Frustration(score=round(min(max(score, 0.0), 1.0), 3), signals=tuple(signals))
