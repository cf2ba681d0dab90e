"""Eval datasets in the shared/evaldata format: ``kb/<doc_id>.md`` plus ``questions.jsonl``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.documents import Document
from retrieval.loaders import load_folder


@dataclass(frozen=True)
class Dataset:
    name: str
    documents: list[Document]
    questions: list[dict[str, Any]]  # the questions.jsonl objects, as they are

    @property
    def answerable(self) -> list[dict[str, Any]]:
        return [q for q in self.questions if q["answerable"] and q["gold_docs"]]


def load_dataset(path: str | Path) -> Dataset:
    """Load a dataset folder; doc ids are the file stems, as ``gold_docs`` name them."""
    path = Path(path)
    documents, errors = load_folder(path / "kb")
    if errors:
        raise ValueError(f"{path}: {len(errors)} unreadable documents: {errors[0]}")
    with (path / "questions.jsonl").open(encoding="utf-8") as lines:
        questions = [json.loads(line) for line in lines if line.strip()]
    known = {doc.doc_id for doc in documents}
    unknown = {doc_id for q in questions for doc_id in q["gold_docs"]} - known
    if unknown:
        raise ValueError(f"{path}: gold_docs not in kb/: {', '.join(sorted(unknown)[:5])}")
    return Dataset(name=path.name, documents=documents, questions=questions)
