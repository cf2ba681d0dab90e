"""The at-scale topology on one machine, as compose.yaml runs it: real PostgreSQL, redis-server
and a Chroma server, and ``allhours serve`` processes sharing them. The topology tests and the
load benchmark start it. ``allhours prepare`` migrates the database and indexes the knowledge
base once, before any server starts (they run with ALLHOURS_PREPARE_ON_START=false)."""

from __future__ import annotations

from pathlib import Path

from evals.postgres import Postgres
from evals.services import ROOT, AppServer, ChromaServer, RedisServer, free_port, run_allhours

KB_DIR = ROOT / "kb_docs"


class Topology:
    """``servers`` app processes on one PostgreSQL database, one Redis and one Chroma server;
    ``settings`` (ALLHOURS_* variables) add to or override the shared ones."""

    def __init__(
        self, folder: Path, postgres: Postgres, settings: dict[str, str], servers: int = 2
    ) -> None:
        self.folder, self.postgres = folder, postgres
        self.database_url = postgres.new_database()
        self.redis = RedisServer(folder, free_port())
        self.chroma = ChromaServer(folder, free_port())
        self.settings = {
            "ALLHOURS_DATABASE_URL": self.database_url,
            "ALLHOURS_HUB": "redis",
            "ALLHOURS_REDIS_URL": self.redis.url,
            "ALLHOURS_CHROMA_URL": self.chroma.url,
            "ALLHOURS_PREPARE_ON_START": "false",
            "ALLHOURS_DATA_DIR": str(folder / "data"),
            "ALLHOURS_KB_DIR": str(KB_DIR),
        } | settings
        names = "abcdefgh"[:servers]
        self.servers = [AppServer(n, folder, free_port(), self.settings) for n in names]

    def start(self) -> str:
        """Start every part; what ``allhours prepare`` printed."""
        self.redis.start()
        self.chroma.start()
        prepared = run_allhours("prepare", settings=self.settings)
        for server in self.servers:
            server.start()
        return prepared

    def stop(self) -> None:
        for process in (*self.servers, self.chroma, self.redis):
            process.stop()
