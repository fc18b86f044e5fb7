"""Real processes for tests: private redis-server instances (never the shared 6379),
`metacrm` subprocesses, free loopback ports and "eventually happens" polling.

Shared by the job, automation and webhook tests that run RQ workers and schedulers. Every
process started here is killed when its context ends, whatever happened.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis

PLATFORM = Path(__file__).resolve().parents[1] / "platform"
"""The source root, for subprocesses' PYTHONPATH."""
METACRM = (sys.executable, "-c", "from metacrm.cli.main import main; main()")
"""The `metacrm` command, run with this interpreter."""
DEADLINE = 60.0
"""Seconds an "eventually happens" poll waits at most (generous: slow CI machines)."""


def wait_until(check: Callable[[], Any], *, deadline: float = DEADLINE,
               what: str = "condition") -> Any:
    """Poll `check` until it returns something truthy; fail after `deadline` seconds."""
    end = time.monotonic() + deadline
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}; last value {value!r}")
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    """A private redis-server on a fixed port that can be stopped and started again."""

    def __init__(self, root: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:  # a missing service skips, except where CI forbids skipping
            reason = "redis-server is not installed"
            if os.environ.get("METACRM_REQUIRE_SERVICES") == "1":
                pytest.fail(f"required service unavailable: {reason}")
            pytest.skip(reason)
        self.binary = str(binary)
        self.port = free_port()
        self.root = root
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.root)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        try:
            wait_until(lambda: _pings(client), deadline=20, what="redis-server to start")
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.exceptions.ConnectionError:
        return False


@contextmanager
def redis_server(root: Path) -> Iterator[RedisServer]:
    """A started private redis-server, killed at the end."""
    server = RedisServer(root)
    server.start()
    try:
        yield server
    finally:
        server.stop()
