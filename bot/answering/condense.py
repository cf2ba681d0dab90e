"""Turn a follow-up ("and how long does it take?") into a question that stands alone.

Offline this is deterministic: a question that is short, leans on a pronoun or starts
elliptically gets the salient terms of the customer's previous question prepended. With a
remote LLM the engine asks the model with ``prompts.CONDENSE_SYSTEM`` instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.answering.terms import STOPWORDS, content_terms, has_cjk, words

_PRONOUNS = frozenset(
    "it its it's this that these those they them their one ones he she him her same".split()
)
_CJK_PRONOUNS = re.compile(r"它|这个|那个|这些|那些|这样|那样|他们|她们|上面|刚才")
_ELLIPTIC_START = re.compile(
    r"^(?:and|also|but|or|so|then|what about|how about|what if|same|another|else|"
    r"why not|what else|any other)\b|^(?:还有|那么?|另外|如果)",
    re.IGNORECASE,
)
_MAX_TERMS = 6


def is_follow_up(question: str) -> bool:
    """Whether the question probably needs the conversation to be understood."""
    stripped = question.strip()
    if _ELLIPTIC_START.match(stripped):
        return True
    if has_cjk(question):
        return bool(_CJK_PRONOUNS.search(question))
    tokens = words(question)
    # Two content words usually name a topic ("reset password"); fewer lean on the context.
    content = [t for t in tokens if t not in STOPWORDS]
    return len(content) < 2 or bool(_PRONOUNS.intersection(tokens))


def salient_terms(text: str, *, exclude: Sequence[str] = ()) -> list[str]:
    """The content words of ``text`` in order, without repeats and without ``exclude``."""
    skip = {t.lower() for t in exclude}
    seen: list[str] = []
    stems: set[str] = set(content_terms(" ".join(exclude)))
    for word in words(text):
        if word in STOPWORDS or word in skip or len(word) < 2:
            continue
        stem = content_terms(word)
        if stem and stem[0] not in stems:
            stems.add(stem[0])
            seen.append(word)
    return seen[:_MAX_TERMS]


def last_customer_text(history: Sequence[tuple[str, str]], question: str) -> str:
    """The previous customer message (the current one may or may not be in the history)."""
    texts = [text for role, text in history if role == "customer"]
    if texts and texts[-1].strip() == question.strip():
        texts.pop()
    return texts[-1] if texts else ""


def condense_question(question: str, history: Sequence[tuple[str, str]]) -> str:
    """The deterministic condenser: the question itself, or the previous topic + the question."""
    question = " ".join(question.split())
    previous = last_customer_text(history, question)
    if not previous or not is_follow_up(question):
        return question
    if has_cjk(previous):
        # Chinese has no spaces to pick words by; the whole previous question is short anyway.
        return f"{' '.join(previous.split())} {question}"
    terms = salient_terms(previous, exclude=words(question))
    return f"{' '.join(terms)} {question}" if terms else question
