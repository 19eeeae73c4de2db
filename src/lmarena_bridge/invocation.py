"""How the user runs the command line, so that every hint names a command that works as
typed: ``scripts/run.sh`` sets ``LMARENA_BRIDGE_PROG`` to ``bash scripts/run.sh`` (the
console script lives in ``.venv/bin``, not on PATH); an installed package is run as
``lmarena-bridge``.
"""

from __future__ import annotations

import os

PROG_ENV = "LMARENA_BRIDGE_PROG"
DEFAULT_PROG = "lmarena-bridge"


def program() -> str:
    return os.environ.get(PROG_ENV, "").strip() or DEFAULT_PROG


def command(args: str) -> str:
    """``command("capture-ids")`` -> ``bash scripts/run.sh capture-ids`` (or the like)."""
    return f"{program()} {args}"
