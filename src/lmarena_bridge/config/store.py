"""The config in force: loaded once, swapped whole on reload, edited without losing comments.

Request code reads ``store.current`` once and uses that snapshot; it never re-reads files.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from watchfiles import Change, awatch

from lmarena_bridge.config.defaults import FILE_NAMES, default_text
from lmarena_bridge.config.editor import remove_key, set_value
from lmarena_bridge.config.files import write_atomic
from lmarena_bridge.config.jsonc import parse_jsonc
from lmarena_bridge.config.loader import collect_config, format_key, read_texts
from lmarena_bridge.config.model import BridgeConfig
from lmarena_bridge.config.problems import ConfigFileError, ConfigProblem

logger = logging.getLogger(__name__)

Listener = Callable[[BridgeConfig], None]
KeyPath = tuple[str | int, ...]


class ConfigStore:
    """Holds the last good ``BridgeConfig`` of ``config_dir`` and keeps it current.

    ``generation`` bumps on every swap of ``current`` (so it is 1 after a good initial
    load, 0 when the initial load failed and the built-in defaults are in force). A reload
    that finds the same config as in force swaps nothing and notifies nobody.
    """

    def __init__(self, config_dir: Path) -> None:
        self.config_dir = Path(config_dir)
        self.current: BridgeConfig = BridgeConfig()
        self.problems: list[ConfigProblem] = []
        self.generation = 0
        self._listeners: list[Listener] = []
        # Files present at the last good load: one vanishing is an edit in progress
        # (or a mistake), not a request to fall back to defaults (an empty api_key).
        self._present: frozenset[str] = frozenset()
        self._reload_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._async_write_lock = asyncio.Lock()
        self.reload()

    def add_listener(self, callback: Listener) -> None:
        """Call ``callback(new_config)`` after every swap (exceptions are logged, not raised)."""
        self._listeners.append(callback)

    def reload(self) -> bool:
        """Load the files; swap them in when valid. Returns False (and sets ``problems``) if not."""
        with self._reload_lock:
            texts, problems = read_texts(self.config_dir)
            config, more = collect_config(texts)
            problems += more
            present = frozenset(name for name, text in texts.items() if text is not None)
            for name in sorted(self._present - present):
                if not any(p.file == name for p in problems):
                    problems.append(
                        ConfigProblem(
                            name,
                            None,
                            "the file was removed; the last good settings stay in force "
                            "(restore it, or restart to use the defaults)",
                        )
                    )
            if problems:
                # One edit often reaches the watcher as several changes: say it once.
                if problems != self.problems:
                    logger.warning(
                        "Config not reloaded, the last good settings stay in force: %s"
                        if self.generation
                        else "Config not loaded: %s",
                        "; ".join(str(p) for p in problems),
                    )
                self.problems = problems
                return False
            repaired = bool(self.problems)
            self.problems = []
            self._present = present
            if config == self.current and self.generation:
                if repaired:  # back to the settings in force: nothing swaps, but say so
                    logger.info("Config problems fixed; the settings in force are unchanged")
                return True
            self.current = config  # one assignment: readers see the old or the new config
            self.generation += 1
        logger.info(
            "Config %s from %s (generation %d)",
            "problems fixed; loaded" if repaired else "loaded",
            self.config_dir,
            self.generation,
        )
        for callback in list(self._listeners):
            try:
                callback(config)
            except Exception:
                logger.exception("Config listener %r failed", callback)
        return True

    async def watch(
        self, stop_event: asyncio.Event | None = None, *, debounce_ms: int = 150
    ) -> None:
        """Reload whenever one of the four files changes, until ``stop_event`` is set.

        Changes within ``debounce_ms`` are handled as one. Raises ``FileNotFoundError`` if the
        config dir does not exist.
        """
        names = frozenset(FILE_NAMES)

        def relevant(change: Change, path: str) -> bool:
            return Path(path).name in names

        # Catch edits made between construction and the watcher starting.
        self.reload()
        async for _changes in awatch(
            self.config_dir,
            watch_filter=relevant,
            debounce=debounce_ms,
            step=50,
            stop_event=stop_event,
            recursive=False,
        ):
            self.reload()

    async def update(
        self,
        file_name: str,
        changes: Mapping[KeyPath, Any],
        *,
        remove: Iterable[KeyPath] = (),
    ) -> None:
        """Edit ``file_name`` in place, keeping comments and every other key, then reload.

        Removals apply first, then ``changes`` in order. The edited file is validated
        before anything is written; on ``ConfigFileError`` the file is untouched. Problems
        in the *other* files do not block the edit (they are reported by the reload).
        Raises ``ValueError`` for an unknown file name.
        """
        remove = tuple(remove)
        async with self._async_write_lock:
            await asyncio.to_thread(self._edit_file, file_name, changes, remove)
            self.reload()

    def update_sync(
        self,
        file_name: str,
        changes: Mapping[KeyPath, Any],
        *,
        remove: Iterable[KeyPath] = (),
    ) -> None:
        """``update`` for code without an event loop (the CLI)."""
        self._edit_file(file_name, changes, tuple(remove))
        self.reload()

    def _edit_file(
        self, file_name: str, changes: Mapping[KeyPath, Any], remove: tuple[KeyPath, ...]
    ) -> None:
        if file_name not in FILE_NAMES:
            raise ValueError(f"unknown config file {file_name!r}; expected one of {FILE_NAMES}")
        path = self.config_dir / file_name
        with self._write_lock:
            texts, _ = read_texts(self.config_dir)
            original = texts[file_name]
            text = default_text(file_name) if original is None else original
            parse_jsonc(text, file=file_name)  # a hand-broken file cannot be edited safely
            for key_path in remove:
                text = _edit(file_name, text, key_path, remove_key)
            for key_path, value in changes.items():
                text = _edit(file_name, text, key_path, set_value, value)
            if text == original:
                return
            texts[file_name] = text
            _, problems = collect_config(texts)
            blocking = [p for p in problems if p.file == file_name]
            if blocking:
                raise ConfigFileError(blocking)
            write_atomic(path, text)
            logger.info("Wrote %s", path)


def _edit(file_name: str, text: str, key_path: KeyPath, op: Callable[..., str], *args: Any) -> str:
    """Run one editor operation, reporting a bad path as a problem of that file and key."""
    try:
        return op(text, key_path, *args)
    except ValueError as exc:
        problem = ConfigProblem(file_name, format_key(key_path) or None, str(exc))
        raise ConfigFileError([problem]) from None
