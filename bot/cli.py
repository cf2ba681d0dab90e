"""``allhours``: index the knowledge base, ask a question, chat, serve the app."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from pydantic import ValidationError
from tqdm import tqdm

from bot.answering.engine import Engine, Turn, make_answer_engine, make_embeddings_for, open_index
from bot.answering.llms import LLMError
from bot.answering.schemas import AskPublic
from bot.answering.turns import Outcome, answer_turn, make_policy
from bot.config import Settings
from bot.db import make_engine, make_sessionmaker
from bot.migrations import upgrade_database
from bot.staff.cli import users
from retrieval.publishing import Publisher


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """allhours: an AI-first customer-support chatbot with human handoff."""
    try:
        ctx.obj = Settings()
    except ValidationError as error:
        # One line on stderr and exit status 1, instead of a traceback whose pydantic message
        # quoted the settings' input, the secret key included.
        raise click.ClickException(_settings_problem(error)) from None


def _settings_problem(error: ValidationError) -> str:
    """What is wrong with the settings, naming each variable and never quoting a value."""
    problems = []
    for problem in error.errors(include_input=False, include_url=False, include_context=False):
        message = problem["msg"].removeprefix("Value error, ")
        field = ".".join(str(part) for part in problem["loc"])
        problems.append(f"ALLHOURS_{field.upper()}: {message}" if field else message)
    return "invalid settings: " + "; ".join(problems)


# Command groups that live in their own modules, one line each.
main.add_command(users)


@main.command()
@click.argument("path", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.pass_obj
def index(settings: Settings, path: Path | None) -> None:
    """Import PATH (default: the settings' kb_dir) into the document store, then the index.

    The store is the source of truth (the app brings the index in line with it at start):
    changed files become new versions (author "cli"), documents whose file is gone are
    deleted (restorable in the editor), and only changed documents are embedded."""
    root = path or settings.kb_dir
    if not root.is_dir():
        raise click.BadParameter(f"{root} is not a folder", param_hint="PATH")
    bar = tqdm(unit="text", desc="embedding", leave=False)
    with _publisher(settings) as publisher, bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        report, errors = publisher.mirror(root, author="cli", progress=progress)
    for error in errors:
        click.echo(f"skipped: {error}", err=True)
    documents = report.added + report.updated + report.unchanged
    click.echo(
        f"{documents} documents from {root}: {report.added} added, {report.updated} updated, "
        f"{report.deleted} deleted, {report.unchanged} unchanged; {report.chunks_embedded} "
        f"chunks embedded, {report.sentences_embedded} sentences embedded, "
        f"{report.chunks_deleted} chunks deleted, {len(errors)} files skipped"
    )


@contextmanager
def _publisher(settings: Settings) -> Iterator[Publisher]:
    """A Publisher over the settings' database (migrated) and index."""
    database = make_engine(settings.sqlalchemy_url)
    try:
        upgrade_database(database)
        knowledge = open_index(settings, make_embeddings_for(settings))
        yield Publisher(sessionmaker=make_sessionmaker(database), index=knowledge)
    finally:
        database.dispose()


@main.command()
@click.option("--full", is_flag=True, help="Drop the index and embed every document again.")
@click.pass_obj
def reindex(settings: Settings, full: bool) -> None:
    """Rebuild the index from the documents stored in the database (the editor's store)."""
    with _publisher(settings) as publisher:
        report = publisher.reindex(full=full)
    click.echo(
        f"{report.added} added, {report.updated} updated, {report.deleted} deleted, "
        f"{report.unchanged} unchanged; {report.chunks_embedded} chunks embedded, "
        f"{report.sentences_embedded} sentences embedded, {report.chunks_deleted} chunks deleted"
    )


@main.command()
@click.pass_obj
def prepare(settings: Settings) -> None:
    """Migrate the database, fill an empty document store from the settings' kb_dir and bring
    the index in step: what each server does at start unless ALLHOURS_PREPARE_ON_START=false.
    Run it once before starting several servers on one database and Chroma server."""
    with _publisher(settings) as publisher:
        report = publisher.start(settings.kb_dir)
    click.echo(
        f"database migrated; index: {report.added} added, {report.updated} updated, "
        f"{report.deleted} deleted, {report.unchanged} unchanged"
    )


def _turn(settings: Settings, engine: Engine, question: str, history: list[Turn]) -> Outcome:
    policy = make_policy(settings, engine.calibration)
    coroutine = answer_turn(engine=engine, policy=policy, question=question, history=history)
    try:
        return asyncio.run(coroutine)
    except LLMError as error:
        raise click.ClickException(str(error)) from error


def _print(outcome: Outcome, *, signals: bool) -> None:
    draft, decision = outcome.draft, outcome.decision
    if draft.condensed != " ".join(draft.question.split()):
        click.echo(f"(searched for: {draft.condensed})")
    click.echo(draft.answer or "(the knowledge base has no answer to this)")
    for citation in draft.citations:
        where = " > ".join((citation.title, *citation.heading_path))
        click.echo(f"  [{citation.n}] {where}" + (f" <{citation.url}>" if citation.url else ""))
    if draft.kind == "smalltalk":
        return
    reason = f" ({decision.reason})" if decision.reason else ""
    click.echo(f"confidence {draft.confidence:.2f}, decision: {decision.action}{reason}")
    if signals:
        click.echo("signals: " + ", ".join(f"{k}={v:.2f}" for k, v in draft.signals.items()))


@main.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the whole turn as JSON.")
@click.pass_obj
def ask(settings: Settings, question: str, as_json: bool) -> None:
    """Answer one QUESTION from the indexed knowledge base."""
    outcome = _turn(settings, make_answer_engine(settings), question, [])
    if as_json:
        public = AskPublic.from_turn(outcome.draft, outcome.decision)
        click.echo(json.dumps(public.model_dump(), ensure_ascii=False, indent=2))
    else:
        _print(outcome, signals=True)


@main.command()
@click.pass_obj
def chat(settings: Settings) -> None:
    """Chat in the terminal; the conversation history feeds follow-up questions."""
    engine = make_answer_engine(settings)
    history: list[Turn] = []
    click.echo("Ask a question (an empty line or Ctrl-D ends).")
    while True:
        try:
            question = click.prompt("you", default="", show_default=False).strip()
        except click.Abort:  # Ctrl-D
            question = ""
        if not question:
            return
        outcome = _turn(settings, engine, question, history)
        _print(outcome, signals=False)
        history += [("customer", question), ("bot", outcome.draft.answer)]


@main.command()
@click.pass_obj
def serve(settings: Settings) -> None:
    """Run the app with uvicorn on the settings' host and port."""
    import uvicorn

    from bot.app import create_app

    uvicorn.run(create_app(settings), host=settings.host, port=settings.port)
