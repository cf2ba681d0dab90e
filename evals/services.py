"""Server processes the tests and the benchmarks start themselves: redis-server, a Chroma
server and ``allhours serve``. Each is ready when it answers (a TCP connection, a heartbeat,
``/healthz``), polled with a deadline: a busy machine is slow, and a server that never comes up
fails with its own log rather than as a timeout in whichever client uses it first."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
CHROMA = Path(sys.executable).with_name("chroma")
ROOT = Path(__file__).resolve().parent.parent
_START_S = 600  # loading the embedding model and the reader on a machine busy with other work


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(ready: Callable[[], bool], *, what: str, seconds: float = _START_S) -> None:
    """Poll ``ready`` until it is true; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} was not ready in {seconds} s")
        time.sleep(0.05)


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


class Process:
    """One server process with its log in ``folder``; ``start`` returns once it is ready."""

    def __init__(self, name: str, folder: Path, port: int) -> None:
        self.name, self.folder, self.port = name, folder, port
        self.log = folder / f"{name}.log"
        self._process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str] | None:
        return None

    @property
    def pid(self) -> int:
        assert self._process is not None, f"{self.name} is not running"
        return self._process.pid

    def ready(self) -> bool:
        return _accepts(self.port)

    def start(self) -> None:
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, env=self.env()
            )

        def up() -> bool:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start:\n{self.tail()}")
            return self.ready()

        wait_until(up, what=self.name)

    def stop(self) -> None:
        """A clean stop (SIGTERM), as an orchestrator does."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()  # still starting (loading models): it will not be missed
        self._process = None

    def kill(self) -> None:
        """``kill -9``: no clean-up of any kind."""
        if self._process is not None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(timeout=30)
        self._process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class RedisServer(Process):
    def __init__(self, folder: Path, port: int) -> None:
        super().__init__("redis", folder, port)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        bind = ["--port", str(self.port), "--bind", "127.0.0.1"]
        return [REDIS_SERVER, *bind, "--save", "", "--appendonly", "no", "--dir", str(self.folder)]


class ChromaServer(Process):
    def __init__(self, folder: Path, port: int) -> None:
        super().__init__("chroma", folder, port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        path = str(self.folder / "chroma")
        return [str(CHROMA), "run", "--path", path, "--host", "127.0.0.1", "--port", str(self.port)]

    def ready(self) -> bool:
        return _answers(f"{self.url}/api/v2/heartbeat")


class AppServer(Process):
    """``allhours serve`` with ``settings`` (ALLHOURS_* variables) on its own port."""

    def __init__(self, name: str, folder: Path, port: int, settings: dict[str, str]) -> None:
        super().__init__(name, folder, port)
        self.settings = settings

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [sys.executable, "-c", "from bot.cli import main; main()", "serve"]

    def env(self) -> dict[str, str]:
        return allhours_env(self.settings | {"ALLHOURS_PORT": str(self.port)})

    def ready(self) -> bool:
        return _answers(f"{self.url}/healthz")


def allhours_env(settings: dict[str, str]) -> dict[str, str]:
    """The environment of an ``allhours`` process running this checkout's code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALLHOURS_")}
    return env | {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"} | settings


def run_allhours(*args: str, settings: dict[str, str]) -> str:
    """A one-off ``allhours`` command (e.g. ``prepare``); its output."""
    done = subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", *args],
        env=allhours_env(settings),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode:
        raise RuntimeError(f"allhours {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout
