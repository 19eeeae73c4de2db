"""The browser profile folder, and whether another browser holds it.

Chromium marks a profile in use with the symlink ``SingletonLock`` -> ``<host>-<pid>``. A
second Chromium started on a held profile hands its URLs to the first one and exits, so
the bridge checks first and refuses with a clear error instead (it kills nothing).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

LOCK_NAME = "SingletonLock"
DEFAULT_PROFILE = "browser-profile"


class ProfileLocked(Exception):
    """Another browser uses the profile folder; the message says what to do."""


def profile_dir(configured: str, config_dir: Path) -> Path:
    """``browser_profile_dir`` (relative to the config folder), default ``browser-profile``."""
    path = Path(configured).expanduser() if configured else Path(DEFAULT_PROFILE)
    return path if path.is_absolute() else config_dir / path


def lock_holder(profile: Path) -> tuple[str, int] | None:
    """(host, pid) of the browser holding ``profile``, or None when it is free or the lock
    is stale (its process is gone: Chromium takes such a profile over by itself)."""
    try:
        target = os.readlink(profile / LOCK_NAME)
    except OSError:
        return None
    host, _, pid_text = target.rpartition("-")
    try:
        pid = int(pid_text)
    except ValueError:
        return None
    if host != socket.gethostname():
        return (host, pid)  # another machine (a shared folder): cannot check, assume held
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, another user's
    return (host, pid)


def check_profile_free(profile: Path) -> None:
    holder = lock_holder(profile)
    if holder is None:
        return
    host, pid = holder
    where = f"process {pid}" if host == socket.gethostname() else f"process {pid} on {host}"
    raise ProfileLocked(
        f"The browser profile {profile} is in use by another browser ({where}). Close that "
        'browser, or set "browser_profile_dir" in config.jsonc to another folder. The bridge '
        "runs without its browser until then."
    )
