"""Run the WSGI app under gunicorn from the `clubcard serve` command."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

THREADS_PER_WORKER = 8


class _Server(BaseApplication):
    """gunicorn configured in code, so `clubcard serve` needs no config file."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from api.wsgi import app

        return app


def run_server(host: str, port: int, workers: int) -> None:
    """Serve until interrupted."""
    _Server(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": THREADS_PER_WORKER,
            "worker_class": "gthread",
            "accesslog": "-",
            "timeout": 60,
        }
    ).run()
