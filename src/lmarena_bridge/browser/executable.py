"""Which Chromium to run: ``browser_executable``, else Debian's, else one found on PATH."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

DEBIAN_CHROMIUM = "/usr/bin/chromium"
# Looked up on PATH, in this order, after DEBIAN_CHROMIUM.
PATH_NAMES = (
    "chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome",
)
INSTALL_HINT = (
    "Install Chromium (Debian/Ubuntu: sudo apt-get install chromium) or Google Chrome, or "
    'set "browser_executable" in config.jsonc to the browser\'s program file.'
)


class BrowserNotFound(Exception):
    """No usable browser; the message says what was looked for and what to install."""


def find_browser(
    configured: str,
    *,
    debian_path: str = DEBIAN_CHROMIUM,
    names: Sequence[str] = PATH_NAMES,
    path: str | None = None,
) -> str:
    """The program to run, or ``BrowserNotFound`` naming every place that was tried."""
    if configured:
        found = shutil.which(configured, path=path) if os.sep not in configured else None
        candidate = found or configured
        if Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
        raise BrowserNotFound(
            f'browser_executable is "{configured}", but no program is there. {INSTALL_HINT}'
        )
    if Path(debian_path).is_file() and os.access(debian_path, os.X_OK):
        return debian_path
    for name in names:
        found = shutil.which(name, path=path)
        if found:
            return found
    looked = ", ".join([debian_path, *names])
    raise BrowserNotFound(f"No Chromium or Chrome found (looked for {looked} on PATH). "
                          f"{INSTALL_HINT}")
