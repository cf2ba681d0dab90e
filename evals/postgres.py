"""A throwaway PostgreSQL server for the tests and the benchmarks: Debian's binaries, a
cluster in a temporary folder listening on 127.0.0.1 with trust authentication, removed
afterwards. Under root (CI) the server runs as the ``postgres`` user, since PostgreSQL refuses
to run as root."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from evals.services import free_port


def binary(name: str) -> str | None:
    """A PostgreSQL server program: Debian keeps them out of PATH, by major version."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


class Postgres:
    def __init__(self, folder: Path, port: int) -> None:
        self.folder, self.port = folder, port
        self._as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self._databases = 0

    def _pg_ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        command = [binary("pg_ctl"), "-D", str(self.folder / "data"), "-o", options]
        log = ["-l", str(self.folder / "server.log")]
        subprocess.run([*self._as_owner, *command, *log, "-w", *args], check=True, timeout=60)

    def init(self) -> None:
        data = str(self.folder / "data")
        initdb = [binary("initdb"), "-D", data, "-U", "postgres", "--auth=trust", "--no-sync"]
        subprocess.run([*self._as_owner, *initdb], check=True, timeout=120, capture_output=True)

    def start(self) -> None:
        self._pg_ctl("start")

    def stop(self) -> None:
        self._pg_ctl("-m", "fast", "stop")

    def restart(self) -> None:
        """Stop and start again: every open connection is cut."""
        self._pg_ctl("-m", "fast", "restart")

    def new_database(self) -> str:
        """A fresh, empty database; its SQLAlchemy URL."""
        self._databases += 1
        name = f"test{self._databases}"
        dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"


@contextmanager
def postgres_server() -> Iterator[Postgres]:
    folder = Path(tempfile.mkdtemp(prefix="allhours-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    server = Postgres(folder, free_port())
    try:
        server.init()
        server.start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
