"""Run the WSGI app under gunicorn from the `clubcard serve` command."""

from __future__ import annotations

import errno
import socket
from typing import Any

from gunicorn.app.base import BaseApplication

# A thread per waiting kiosk, so each can join the group-commit batch: 32 redeemed 1.36x as fast as 8
# at 32 clients (bench/api_redeem.py --threads).
THREADS_PER_WORKER = 32


class _Server(BaseApplication):
    """gunicorn configured in code, so `clubcard serve` needs no config file."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        if "control_socket_disable" in self.cfg.settings:
            # gunicorn ≥ 25 opens a control socket at one path per user (~/.gunicorn/gunicorn.ctl), so a
            # second instance takes over the first one's and stopping either deletes it for both. Nothing
            # here uses it: each instance runs without one.
            self.cfg.set("control_socket_disable", True)

    def load(self) -> Any:
        from api.wsgi import app

        return app


def port_problem(host: str, port: int) -> str | None:
    """Why gunicorn could not listen on host:port, in one line naming the option to change; None if it can."""
    address = host.strip("[]")
    family = socket.AF_INET6 if ":" in address else socket.AF_INET  # as gunicorn chooses
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As gunicorn does: a port a stopped server left in TIME_WAIT may be used again at once.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except socket.gaierror as error:
            return f"cannot listen on {host} ({error.strerror}); choose another with --host"
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return f"port {port} on {host} is in use; choose another with --port"
            if error.errno == errno.EACCES:
                return f"port {port} on {host} needs administrator rights; choose one above 1023 with --port"
            return f"cannot listen on {host} port {port} ({error.strerror}); choose another with --host"
    return None


def run_server(host: str, port: int, workers: int) -> None:
    """Serve until interrupted."""
    _Server(
        {
            "bind": f"[{host.strip('[]')}]:{port}" if ":" in host else f"{host}:{port}",
            "workers": workers,
            "threads": THREADS_PER_WORKER,
            "worker_class": "gthread",
            "accesslog": "-",
            "timeout": 60,
        }
    ).run()
