"""``allhours-eval``: offline evaluations of allhours. Each evaluation is a subcommand."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click


@click.group()
def main() -> None:
    """Evaluate allhours on datasets in the shared/evaldata format."""


@main.command()
@click.option(
    "--dataset",
    "dataset",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Dataset folder: kb/*.md and questions.jsonl.",
)
@click.option("--json", "json_out", type=click.Path(path_type=Path), help="Also write the figures.")
def retrieval(dataset: Path, json_out: Path | None) -> None:
    """Recall@1, Recall@5 and MRR@10 of hybrid, BM25-only and dense-only retrieval."""
    from evals.retrieval import evaluate_dataset, format_table

    started = time.perf_counter()
    with click.progressbar(length=0, label="indexing", file=sys.stderr) as bar:

        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        figures = evaluate_dataset(dataset, progress=progress)
    figures["seconds"] = round(time.perf_counter() - started, 1)
    click.echo(
        f"{figures['dataset']}: {figures['documents']} documents, {figures['chunks']} chunks, "
        f"answerable questions: {figures['retrievers']['engine']['n']}"
    )
    click.echo(format_table(figures["retrievers"]))
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(figures, indent=1) + "\n")


_DATASET_DIR = click.Path(exists=True, file_okay=False, path_type=Path)


@main.command()
@click.option("--dataset", required=True, type=_DATASET_DIR, help="Dataset folder.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
def run(dataset: Path, out: Path) -> None:
    """Every question through the widget's engine and handoff policy: predictions.jsonl,
    metrics.json, report.md and plots."""
    from evals.report import summary_line
    from evals.run import run as run_dataset

    click.echo(summary_line(run_dataset(dataset, out)))
    click.echo(f"wrote {out}/predictions.jsonl, metrics.json, report.md and plots")


@main.command()
@click.option("--dataset", "datasets", multiple=True, required=True, type=_DATASET_DIR)
@click.option(
    "--out", default=Path("bot/answering/calibration.json"), type=click.Path(path_type=Path)
)
@click.option("--max-wrong-rate", default=0.05, type=click.FloatRange(0, 1), show_default=True)
@click.option(
    "--features",
    default="",
    help="Comma-separated signals (a*b for a product); default: every signal and every product.",
)
def calibrate(datasets: tuple[Path, ...], out: Path, max_wrong_rate: float, features: str) -> None:
    """Fit how the signals combine into the confidence and pick the threshold (out-of-fold)."""
    from evals.calibrate import calibrate_datasets

    chosen = [f.strip() for f in features.split(",") if f.strip()] or None
    data = calibrate_datasets(list(datasets), out, max_risk=max_wrong_rate, features=chosen)
    for name, figures in data["cross_validation"].items():
        if isinstance(figures, dict):
            click.echo(f"{name:12} " + " ".join(f"{k}={v:.3f}" for k, v in _flat(figures)))
    for name, figures in data["leave_one_set_out"].items():
        click.echo(
            f"{name:12} fitted on the others: "
            + " ".join(f"{k}={v:.3f}" for k, v in _flat(figures))
        )
    click.echo(f"threshold {data['threshold']:.3f}; wrote {out}")


@main.command()
@click.option(
    "--traindata", default=Path("../shared/traindata"), type=_DATASET_DIR, show_default=True
)
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
def devsets(traindata: Path, out: Path) -> None:
    """Calibration sets from the reader's held-out training groups (see evals/devsets.py)."""
    from evals.devsets import build_all

    for made in build_all(traindata, out):
        click.echo(" ".join(f"{k}={v}" for k, v in made.items()))


def _flat(figures: dict) -> list[tuple[str, float]]:
    policy = figures.get("policy_at_threshold", {})
    pairs = [(k, v) for k, v in figures.items() if isinstance(v, float)]
    return pairs + [(f"policy_{k}", float(v)) for k, v in policy.items()]


@main.command("train-reader")
@click.option(
    "--traindata",
    default=Path("../shared/traindata"),
    type=_DATASET_DIR,
    show_default=True,
    help="Folder of training sources (shared/traindata format).",
)
@click.option("--out", default=Path("bot/answering/reader_model"), type=click.Path(path_type=Path))
@click.option("--steps", default=3200, show_default=True, help="Steps of --batch pairs.")
@click.option("--batch", default=16, show_default=True)
@click.option("--layers", default=4, show_default=True, help="Encoder layers kept of six.")
@click.option("--seed", default=13, show_default=True)
@click.option(
    "--stop-after", default=0, show_default=True, help="End after this many steps (0: --steps)."
)
def train_reader(
    traindata: Path, out: Path, steps: int, batch: int, layers: int, seed: int, stop_after: int
) -> None:
    """Train the reader (cross-encoder) and write its weights and model card to --out."""
    from evals.reader_train import train

    card = train(
        traindata,
        out,
        steps=steps,
        batch=batch,
        layers=layers,
        seed=seed,
        stop_after=stop_after,
        log=click.echo,
    )
    click.echo(f"wrote {out} (sha256 {card['sha256']}, {card['train_seconds']} s)")
