"""Config files on disk: read as written, replaced atomically, and the temp files an
interrupted write leaves behind removed."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path


def read_text(path: Path) -> str:
    """Read UTF-8 text without newline translation, so CRLF files are written back as CRLF."""
    with open(path, encoding="utf-8", newline="") as fh:
        return fh.read()


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so readers see the old or the new file, never a mix.

    Temp file in the same directory, fsync, ``os.replace``, fsync of the directory. An
    existing file keeps its permission bits; a symlink keeps pointing at its (rewritten)
    target. Raises ``OSError`` on failure, leaving the original untouched.
    """
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()
    try:
        mode: int | None = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = None
    tmp = temp_path_for(path)
    # A new file gets 0o666 minus the umask, as any editor would create it.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if mode is not None else 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def temp_path_for(path: Path) -> Path:
    """A new temp file name next to ``path``: ``.<name>.<12 hex digits>.tmp``."""
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")


_TEMP_NAME = re.compile(r"\.(?P<name>.+)\.[0-9a-f]{12}\.tmp")


def remove_stale_temp_files(directory: Path, names: Iterable[str]) -> list[Path]:
    """Delete temp files that writes of ``names`` in ``directory`` left behind when killed.

    Such a file is a full copy of a config file (it may hold the api_key). Call it only
    while nothing writes those files (at start-up). Returns the paths removed; files that
    cannot be removed are skipped.
    """
    wanted = set(names)
    removed: list[Path] = []
    try:
        entries = list(Path(directory).iterdir())
    except OSError:
        return removed
    for path in entries:
        m = _TEMP_NAME.fullmatch(path.name)
        if m is None or m["name"] not in wanted or not path.is_file():
            continue
        try:
            path.unlink()
        except OSError:
            continue
        removed.append(path)
    return removed


def fsync_dir(directory: Path) -> None:
    """Make a rename durable; a no-op where directories cannot be opened (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
