"""Small-to-big: the passage around a matching chunk, rebuilt from the chunks themselves.

Chunks are small because small chunks retrieve best; an answer, though, often spans a whole
section (numbered steps cut after step 4). The generator gets the enclosing section: the
chunks of the same document and heading path, in order, with the splitter's overlaps removed.
A short section grows into its document's neighbouring sections, whole and under their
headings: the best chunk of an article may sit next to the section that answers ("Change a
password you still know" beside "Reset a forgotten password").
"""

from __future__ import annotations

from collections.abc import Sequence

from retrieval.chunking import CHUNK_OVERLAP

# The hit's own section, centred on the hit when longer: about four chunks, a procedure.
SECTION_CHARS = 1500
# With neighbouring sections: five passages stay a prompt of ~2,500 tokens.
PASSAGE_CHARS = 2000
_MIN_OVERLAP = 5

Section = tuple[tuple[str, ...], Sequence[str]]  # (heading path, its chunks' texts in order)


def passage_text(sections: Sequence[Section], index: int, hit: int) -> str:
    """The passage for chunk ``hit`` of ``sections[index]`` (one document's sections in
    order). Earlier sections are added first: they hold the main procedure that later ones
    refer back to ("reset your password using the steps above")."""
    path, texts = sections[index]
    lo, hi = _window(texts, hit, SECTION_CHARS)
    own = merge_chunks(texts[lo : hi + 1])
    if (lo, hi) != (0, len(texts) - 1) or len(sections) == 1:
        return own
    before: list[str] = []
    after: list[str] = []
    length = len(own)
    for step in (-1, 1):
        j = index + step
        while 0 <= j < len(sections):
            block = _headed(*sections[j])
            if length + len(block) + 2 > PASSAGE_CHARS:
                break
            (before if step < 0 else after).append(block)
            length += len(block) + 2
            j += step
    if not before and not after:
        return own
    return "\n\n".join([*reversed(before), _headed(path, texts, own), *after])


def merge_chunks(texts: Sequence[str]) -> str:
    """Consecutive chunks of one section joined, each overlap kept once."""
    return texts[0] + "".join(_fresh(texts[j - 1], texts[j]) for j in range(1, len(texts)))


def _headed(path: tuple[str, ...], texts: Sequence[str], text: str = "") -> str:
    # The heading line tells a reader where one section ends; the extractive model skips
    # heading lines, so nothing but the sections' sentences can be quoted.
    body = text or merge_chunks(texts)
    return f"{'#' * (len(path) + 1)} {path[-1]}\n\n{body}" if path else body


def _window(texts: Sequence[str], hit: int, cap: int) -> tuple[int, int]:
    """The chunk ``hit`` and its neighbours, after and before in turn, while they fit."""
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
    return lo, hi


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
