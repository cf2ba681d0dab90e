"""The reader's model card: card.json and MODEL_CARD.md next to its weights."""

from __future__ import annotations

import json
import math
from pathlib import Path

_LICENCES = """\
| source | what | licence |
|---|---|---|
| squad11_train | SQuAD 1.1 train (Rajpurkar et al. 2016), Wikipedia paragraphs | CC BY-SA 4.0 |
| squad2_dev | SQuAD 2.0 dev (Rajpurkar et al. 2018), incl. unanswerable questions | CC BY-SA 4.0 |
| medquad | MedQuAD (Ben Abacha & Demner-Fushman 2019), NIH consumer-health pages | CC BY 4.0 |
| stackfaq | StackFAQ (ML-Recipes/BERT-FAQ), StackExchange FAQs | code MIT; text CC BY-SA |
| base model | sentence-transformers/all-MiniLM-L6-v2 | Apache-2.0 |
"""


def _command(card: dict) -> str:
    command = f"allhours-eval train-reader --steps {card['steps']} --seed {card['seed']}"
    if card["trained_steps"] < card["steps"]:
        command += f" --stop-after {card['trained_steps']}"
    return command


def write_card(out: Path, card: dict) -> None:
    (out / "card.json").write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    dev = "\n".join(
        f"| {source} | {f['pairs']} | {f['auroc']} | {f['top1']} | "
        f"{f.get('answerability_auroc', '')} |"
        for source, f in card["dev"].items()
    )
    mix = ", ".join(f"{k}: {v}" for k, v in card["train_pairs"].items())
    minutes = math.ceil(card["train_seconds"] / 60)
    text = f"""# allhours reader (cross-encoder)

Scores whether a knowledge-base passage answers a question: one logit, higher is better.
The engine reranks retrieved passages with it and turns it into the bot's confidence
(`bot/answering/reader.py`, `bot/answering/calibration.json`).

- Base: {card["base"]}. Inputs: question, then "title\\npassage", at most {card["max_tokens"]}
  tokens; passages cut to about {card["window_chars"]} characters, as knowledge-base chunks are.
- Training: `{_command(card)}`
  (evals/reader_train.py), seed {card["seed"]}, {card["trained_steps"]} steps of
  {card["batch"]} pairs of a {card["steps"]}-step schedule (AdamW lr {card["lr"]}, warm-up, then
  linear decay), binary cross-entropy, word embeddings frozen; {minutes} minutes on 2 shared
  CPU cores.
- Pairs used ({sum(card["train_pairs"].values())}): {mix}.
- Split: by article/document (a hash of its name): 10 % of groups held out per source, 30 % of
  squad2_dev's articles. Final training loss {card["final_loss"]}.
- Weights: `model.safetensors`, float16, sha256 `{card["sha256"]}`.

## Data and licences

{_LICENCES}
Nothing from the evaluation sets (../shared/evaldata, evals/tidewater) was used.

## Dev figures (held-out groups)

AUROC of passages that answer vs hard and off-topic negatives; top-1: share of questions
whose best-scored passage is one that answers; answerability: SQuAD 2.0 answered vs
unanswerable questions, each on its own paragraph.

| source | pairs | AUROC | top-1 | answerability AUROC |
|---|---|---|---|---|
{dev}
"""
    (out / "MODEL_CARD.md").write_text(text, encoding="utf-8")
