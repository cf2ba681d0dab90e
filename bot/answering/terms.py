"""Cheap lexical helpers shared by condensing, extractive answers and confidence signals.

Everything here is pure string work: the answering turn must stay fast, so no model calls.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Latin words (with inner apostrophes/hyphens) or single CJK characters.
_TOKEN = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*|[\u3400-\u4dbf\u4e00-\u9fff]")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_MARKER = re.compile(r"\s*\[\d+\]")
_SUFFIX = re.compile(r"(?:(?:(?<=[sxz])|(?<=ch)|(?<=sh))es|(?<![su])s|ing|ed)$")

# "on/off", "up/down", "out" stay: "turn on two-factor" and "turn it off" are different questions.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing don't during each few for
    from further had has have having he her here hers herself him himself his how i i'm if in
    into is it it's its itself just let's me more most my myself no nor not now of once
    only or other our ours ourselves over own same she should so some such than that that's
    the their theirs them themselves then there these they this those through to too under
    until very was we were what what's when where which while who whom why will with would
    you your yours yourself yourselves also get got please hi hello hey thanks thank want need
    can't cannot does doesn't isn't tell know way there's ok okay one something anything
    的 了 吗 呢 吧 是 我 你 在 有 和 怎么 么 什 这 那 个 请 问""".split()
)


def words(text: str) -> list[str]:
    """Lower-cased word tokens (CJK: one token per character)."""
    return _TOKEN.findall(text.lower())


@lru_cache(maxsize=8192)
def stem(word: str) -> str:
    """A deliberately crude suffix stripper: "passwords"/"resetting" meet "password"/"reset"."""
    if len(word) <= 3 or _CJK.match(word):
        return word
    stripped = _SUFFIX.sub("", word)
    if len(stripped) >= 3 and stripped != word:
        word = stripped
        # "resetting" -> "resett" -> "reset": undouble a final consonant left by the suffix.
        if word[-1] == word[-2] and word[-1] not in "aeiouls":
            word = word[:-1]
    # "invoice"/"invoices", "charge"/"charged": a final e never distinguishes two words here.
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def content_terms(text: str) -> list[str]:
    """Stemmed non-stopword tokens in order of appearance, repeats kept."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and (len(w) > 1 or _CJK.match(w))]


@lru_cache(maxsize=16384)  # passages and their sentences recur from turn to turn
def term_set(text: str) -> frozenset[str]:
    return frozenset(content_terms(text))


def overlap(query: frozenset[str], other: frozenset[str]) -> float:
    """Share of the query's terms found in ``other`` (0 when the query has none)."""
    return len(query & other) / len(query) if query else 0.0


def strip_markers(text: str) -> str:
    """The text without its [n] citation markers."""
    return _MARKER.sub("", text).strip()


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))
