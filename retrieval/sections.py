"""Small-to-big: the section around a matching chunk, rebuilt from the chunks themselves.

Chunks are small because small chunks retrieve best; an answer, though, often spans a whole
section (numbered steps cut after step 4). The generator gets the enclosing section: the
chunks of the same document and heading path, in order, with the splitter's overlaps removed.
"""

from __future__ import annotations

from collections.abc import Sequence

from retrieval.chunking import CHUNK_OVERLAP

# About four chunks: enough for a procedure, small enough that five passages stay a short prompt.
SECTION_CHARS = 1500
_MIN_OVERLAP = 5


def section_text(texts: Sequence[str], hit: int, *, cap: int = SECTION_CHARS) -> str:
    """``texts`` (one section's chunks in order) joined without overlaps. When that is longer
    than ``cap``: the chunk ``hit`` and its neighbours, after and before in turn, while they fit."""
    lo = hi = hit
    length = len(texts[hit])
    growing = True
    while growing:
        growing = False
        if hi + 1 < len(texts):
            added = len(_fresh(texts[hi], texts[hi + 1]))
            if length + added <= cap:
                hi, length, growing = hi + 1, length + added, True
        if lo > 0:
            added = len(_fresh(texts[lo - 1], texts[lo]))
            if length + added <= cap:
                lo, length, growing = lo - 1, length + added, True
    return texts[lo] + "".join(_fresh(texts[j - 1], texts[j]) for j in range(lo + 1, hi + 1))


def _fresh(previous: str, text: str) -> str:
    """What ``text`` adds after ``previous``: its part past the overlap, or a paragraph break."""
    k = _overlap(previous, text)
    return text[k:] if k else "\n\n" + text


def _overlap(previous: str, text: str) -> int:
    # The splitter overlaps whole words: the shared run starts after a space in the previous
    # chunk and ends before one in the next. Runs shorter than _MIN_OVERLAP are taken for
    # chance ("|" ending one table row and starting the next); a real one that short is kept
    # twice, which costs a few characters, not a word of the section.
    for k in range(min(len(previous) - 1, len(text) - 1, CHUNK_OVERLAP), _MIN_OVERLAP - 1, -1):
        if (
            previous[-k - 1].isspace()
            and text[k].isspace()
            and not text[k - 1].isspace()
            and previous.endswith(text[:k])
        ):
            return k
    return 0
