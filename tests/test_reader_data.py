"""The reader's training pairs: the negatives that stand for a help centre's wrong answers, and
the split that keeps every held-out article out of training, negatives included."""

import json
import random

from evals.reader_data import Neighbours, is_dev, load_pairs, without_answer

PARAGRAPH = (
    "The bridge opened in 1932 after six years of work. It carries eight lanes of traffic. "
    "Its arch spans 503 metres, the longest of its kind for decades. Tolls were abolished "
    "in the nineteen-nineties, and a tunnel now takes some of the load."
)


def test_a_gap_is_the_paragraph_without_the_sentences_holding_the_answer():
    rest = without_answer(PARAGRAPH, ["1932"])
    assert rest is not None
    assert "1932" not in rest and "six years" not in rest
    assert rest.startswith("It carries eight lanes") and "503 metres" in rest


def test_no_gap_when_the_answer_is_not_found_or_nothing_is_left():
    assert without_answer(PARAGRAPH, ["1950"]) is None
    assert without_answer("It opened in 1932. It is long.", ["1932"]) is None


def test_the_closest_neighbour_shares_the_rarest_words_and_is_never_the_questions_own_group():
    passages = [
        {"pid": "a", "group": "own", "title": "Harbour bridge", "text": "The harbour bridge arch."},
        {"pid": "b", "group": "g1", "title": "Harbour bridge tolls", "text": "Harbour tolls."},
        {"pid": "c", "group": "g2", "title": "Railway", "text": "The railway bridge crosses."},
        {"pid": "d", "group": "g3", "title": "Bakery", "text": "Bread and cakes daily."},
    ]
    rng = random.Random(1)
    found = Neighbours(passages).closest("When did the harbour bridge open?", "own", rng)
    assert found["pid"] == "b"
    assert Neighbours(passages).closest("Bread and cakes?", "g3", rng) is None


def _write_source(root, name, articles):
    folder = root / name
    folder.mkdir(parents=True)
    passages, questions = [], []
    for group in articles:
        for i in range(3):
            pid = f"{group}-{i}"
            text = f"{group} fact {i} sentence one about {group}. The answer is {group}{i}x here."
            passages.append({"pid": pid, "title": group, "text": text, "group": group})
            questions.append(
                {
                    "qid": f"q-{pid}",
                    "question": f"What is fact {i} about {group}?",
                    "pids": [pid],
                    "answerable": True,
                    "answers": [f"{group}{i}x"],
                    "group": group,
                }
            )
    for fname, rows in (("passages.jsonl", passages), ("questions.jsonl", questions)):
        (folder / fname).write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_no_held_out_articles_passage_is_a_training_negative(tmp_path):
    articles = [f"article{n}" for n in range(60)]
    _write_source(tmp_path, "squad11_train", articles)
    held = {a for a in articles if is_dev("squad11_train", a)}
    assert held and len(held) < len(articles)  # the fixture has both sides
    train, dev = load_pairs(tmp_path, seed=3)
    assert {p.kind for p in train} >= {"positive", "hard", "neighbour", "off_topic"}
    assert not {p.title for p in train} & held
    assert {p.title for p in dev} <= held
