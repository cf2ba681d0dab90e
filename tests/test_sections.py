from itertools import groupby

from retrieval.chunking import chunk_document
from retrieval.documents import Document
from retrieval.sections import PASSAGE_CHARS, SECTION_CHARS, merge_chunks, passage_text

STEPS = "\n".join(f"{n}. Press the button marked {n} and wait for the light." for n in range(1, 13))
BODY = f"""# Guide

## Pair

{STEPS}

## Limits

A hub supports up to 64 sensors.

## Huge

{" ".join(f"Sentence {n} of a very long section about nothing." for n in range(200))}
"""


def _sections():
    chunks = chunk_document(Document("guide", "Guide", BODY))
    groups = groupby(chunks, lambda c: c.heading_path)
    return [(path, [c.text for c in group]) for path, group in groups]


def test_a_sections_chunks_merge_back_into_its_text_without_overlaps():
    path, texts = _sections()[0]
    assert path == ("Pair",) and len(texts) > 1
    assert merge_chunks(texts) == STEPS


def test_a_table_rows_shared_bar_is_not_taken_for_an_overlap():
    assert merge_chunks(["| a | b |", "| c | d |"]) == "| a | b |\n\n| c | d |"


def test_a_short_section_grows_into_whole_neighbouring_sections_under_their_headings():
    sections = _sections()
    passage = passage_text(sections, 1, 0)
    assert passage.startswith(f"## Pair\n\n{STEPS}\n\n## Limits\n\nA hub supports")
    assert "Sentence 0" not in passage and len(passage) <= PASSAGE_CHARS


def test_a_long_section_is_capped_around_the_hit_chunk():
    path, texts = _sections()[2]
    middle = len(texts) // 2
    passage = passage_text(_sections(), 2, middle)
    assert texts[middle] in passage and len(passage) <= SECTION_CHARS
    assert not passage.startswith("Sentence 0 ") and "Sentence 199" not in passage
    assert passage in merge_chunks(texts)
