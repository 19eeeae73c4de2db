"""Command-line tools beside `serve`: capture-ids and update-models."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def register_tools(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add the tool subcommands to the CLI (each sets ``handler`` on its namespace)."""
    from lmarena_bridge.tools import capture_ids, update_models

    capture_ids.register(sub, common)
    update_models.register(sub, common)
