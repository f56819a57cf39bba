"""Real server processes for end-to-end tests: a free port on 127.0.0.1, start, wait until healthy, stop."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

STARTUP_TIMEOUT_SECONDS = 120
STOP_TIMEOUT_SECONDS = 30


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def clean_environment(**overrides: str) -> dict[str, str]:
    """This process's environment without any CLUBCARD_* setting, plus `overrides`."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("CLUBCARD_")}
    environment.update(overrides)
    return environment


@dataclass(frozen=True)
class RunningServer:
    """A server answering on 127.0.0.1:port, with its log file."""

    port: int
    log_path: Path
    pid: int

    @property
    def base_url(self) -> str:
        """The URL to put in front of a path."""
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        """Everything the server printed so far."""
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def running_server(
    arguments: list[str],
    *,
    port: int,
    environment: Mapping[str, str],
    log_path: Path,
    health_path: str = "/healthz",
) -> Iterator[RunningServer]:
    """Start `python arguments...` in its own process group; yield once GET health_path answers 200."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, *arguments],
            env=dict(environment),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so stopping it stops every worker it forked, and nothing else
        )
    server = RunningServer(port, log_path, process.pid)
    try:
        _wait_until_healthy(process, server, health_path)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):  # it may have exited already
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=STOP_TIMEOUT_SECONDS)


def _wait_until_healthy(process: subprocess.Popen[bytes], server: RunningServer, health_path: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}:\n{server.log()}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=2)
            connection.request("GET", health_path)
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"the server did not answer {health_path} in time:\n{server.log()}")
