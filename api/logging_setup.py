"""Structured logs as JSON lines (one event per line, exceptions as plain text), for log shippers."""

from __future__ import annotations

import logging

import structlog

_configured = False


def configure_logging() -> None:
    """Configure structlog once: ISO timestamps, levels, plain-text tracebacks, JSON rendering."""
    global _configured
    if _configured:
        return
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    _configured = True
