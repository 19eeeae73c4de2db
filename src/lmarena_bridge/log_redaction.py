"""Keep secrets out of the log: ``?key=``, ``?token=`` and the like are masked.

uvicorn logs the path with its query string for every WebSocket handshake
(``"WebSocket /ws/monitor?key=…" [accepted]`` on ``uvicorn.error``) and, with the access
log on, for every request (``uvicorn.access``). The monitor page sends the ``api_key`` as
``?key=`` and a worker may send ``worker_token`` as ``?token=``. ``RedactSecrets`` rewrites
a record's message and arguments in place, so every handler after it sees the masked text
(uvicorn's access formatter reads the arguments one by one, so they keep their shape).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

MASK = "***"
# Query parameters that carry a secret, anywhere in a logged text (a path, a URL).
_QUERY_SECRET = re.compile(
    r"([?&;](?:key|api[_-]?key|token|worker[_-]?token|access[_-]?token|password|secret)=)"
    r"[^&#\s\"']+",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(\bBearer\s+)[^\s\"',;]+", re.IGNORECASE)
# Loggers whose records carry request paths or our own messages.
LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "lmarena_bridge")


def redact(text: str) -> str:
    """``text`` with secret query values and bearer tokens replaced by ``***``."""
    if "=" in text:
        text = _QUERY_SECRET.sub(r"\g<1>" + MASK, text)
    if "earer" in text:
        text = _BEARER.sub(r"\g<1>" + MASK, text)
    return text


def _redact_arg(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, int | float):
        return value
    shown = str(value)  # e.g. a URL object: keep it unless it holds a secret
    masked = redact(shown)
    return value if masked == shown else masked


class RedactSecrets(logging.Filter):
    """Masks secrets in ``record.msg`` and ``record.args``; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        args = record.args
        if isinstance(args, tuple):
            record.args = tuple(_redact_arg(a) for a in args)
        elif isinstance(args, Mapping):
            record.args = {k: _redact_arg(v) for k, v in args.items()}
        return True


_FILTER = RedactSecrets()


def _add(target: logging.Logger | logging.Handler) -> None:
    if not any(isinstance(f, RedactSecrets) for f in target.filters):
        target.addFilter(_FILTER)


def install_log_redaction() -> None:
    """Put ``RedactSecrets`` on uvicorn's and our loggers and on their handlers (idempotent).

    A logger's filter only sees records logged on that very logger, so it goes on each of
    ours that exists and on every handler of the root and uvicorn loggers (which see the
    records of all their children). Call it again after uvicorn configures its logging
    (the app does so at start-up), since that replaces uvicorn's handlers.
    """
    loggers = [logging.getLogger(name) for name in LOGGERS]
    loggers += [
        logger
        for name, logger in logging.root.manager.loggerDict.items()
        if name.startswith("lmarena_bridge.") and isinstance(logger, logging.Logger)
    ]
    for logger in loggers:
        _add(logger)
    for logger in (logging.getLogger(), *loggers[:3]):
        for handler in logger.handlers:
            _add(handler)
