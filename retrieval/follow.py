"""Following the shared index from one of several server processes.

Each process searches its own copy of the chunk table (texts and the BM25 index, see
``KnowledgeIndex``), while the chunks themselves live in a Chroma server that every process
writes to. An edit saved through one process changes that process's copy at once; the others
notice it here: every ``every_s`` seconds each reads what the document store says the index
holds (one small query) and, when that moved, reloads its copy from Chroma. So an edit, a
deletion or a restore is searchable everywhere within about ``every_s`` plus one reload.

The same loop retries what the vector store refused while it was down (``Publisher.repair``):
each failed document is claimed in the database by one process, which indexes it.
"""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy.orm import Session, sessionmaker

from retrieval import library
from retrieval.publishing import Publisher

log = logging.getLogger(__name__)
# Retrying a store that is still down costs a failed call and a logged error: not every check.
_REPAIR_EVERY_S = 5.0


class IndexFollower:
    def __init__(
        self, *, sessions: sessionmaker[Session], publisher: Publisher, every_s: float
    ) -> None:
        self._sessions, self._publisher, self._every_s = sessions, publisher, every_s
        self._seen: object = None  # the fingerprint the copy was last loaded at
        self._repaired_at = -_REPAIR_EVERY_S

    async def run(self) -> None:
        """Until cancelled; a failing database or vector store is logged and tried again."""
        while True:
            try:
                await asyncio.to_thread(self.check)
            except Exception:
                log.warning("following the index failed; trying again", exc_info=True)
            await asyncio.sleep(self._every_s)

    def check(self) -> None:
        """Repair what failed, then reload the copy if the index changed since it was read."""
        failed = any(state == "failed" for *_, state in self._fingerprint())
        if failed and time.monotonic() - self._repaired_at >= _REPAIR_EVERY_S:
            self._repaired_at = time.monotonic()
            self._publisher.repair()
        # Read before reloading: a change landing during the reload moves the fingerprint
        # again, and the next check reloads once more.
        fingerprint = self._fingerprint()
        if fingerprint != self._seen:
            self._publisher.index.refresh()
            self._seen = fingerprint

    def _fingerprint(self) -> tuple[tuple[str, int, bool, str], ...]:
        with self._sessions() as session:
            return library.index_fingerprint(session=session)
