"""Where the config files live: one rule for ``serve``, ``check`` and the tools."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "LMARENA_BRIDGE_HOME"


def resolve_config_dir(arg: str | None) -> Path:
    """``--config-dir``, else ``$LMARENA_BRIDGE_HOME``, else the current directory."""
    if arg:
        return Path(arg).expanduser()
    env = os.environ.get(HOME_ENV)
    return Path(env).expanduser() if env else Path.cwd()
