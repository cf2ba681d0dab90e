"""``allhours-eval``: offline evaluations of allhours. Each evaluation is a subcommand."""

from __future__ import annotations

import json
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
    with click.progressbar(length=0, label="indexing", file=click.get_text_stream("stderr")) as bar:

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
