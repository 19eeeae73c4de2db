"""Edits the running bridge makes to its own config files for the tools and the monitor:
captured session ids (config.jsonc, or model_endpoint_map.json for one model) and new
models (models.json).

The tools never write files themselves: they ask the bridge they talk to, which edits the
files of its own config dir through ``ConfigStore.update`` (comments and every other key
kept, the result validated before anything is written, then reloaded).

Raises ``EditRefused`` for an edit that needs a choice first, and ``ConfigFileError``
when the edited file would not validate (or cannot be read to be edited).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lmarena_bridge.config.defaults import CONFIG_JSONC, ENDPOINT_MAP_JSON, MODELS_JSON
from lmarena_bridge.config.files import read_text
from lmarena_bridge.config.jsonc import parse_jsonc
from lmarena_bridge.config.model import Mode, Target
from lmarena_bridge.config.problems import ConfigFileError
from lmarena_bridge.config.store import ConfigStore, KeyPath

PoolChoice = Literal["append", "replace"]


class EditRefused(Exception):
    """The edit needs a choice the caller did not make; nothing was written."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class SavedIds:
    path: Path  # the file written
    detail: str  # what was written there, for the user
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AddedModels:
    path: Path
    added: dict[str, str]  # name -> value written
    skipped: dict[str, str]  # name -> why it was left alone


async def _raw(store: ConfigStore, name: str) -> dict[str, Any]:
    """The file's own object (missing, unparsable or not an object: empty)."""
    try:
        text = await asyncio.to_thread(read_text, store.config_dir / name)
        data = parse_jsonc(text, file=name)
    except (OSError, ConfigFileError):
        return {}
    return data if isinstance(data, dict) else {}


async def check_pool_choice(store: ConfigStore, model: str | None,
                            pool: PoolChoice | None) -> Path:
    """Where ids for ``model`` (or the global ids) would be saved. Raises EditRefused when
    ``model`` has a pool of entries and ``pool`` does not say what to do with it."""
    if not model:
        return store.config_dir / CONFIG_JSONC
    current = (await _raw(store, ENDPOINT_MAP_JSON)).get(model)
    if isinstance(current, list) and current and pool is None:
        raise EditRefused(
            f"'{model}' has a pool of {len(current)} entries in {ENDPOINT_MAP_JSON}. Pass "
            "--append to add these ids to it, or --replace to replace the whole pool."
        )
    return store.config_dir / ENDPOINT_MAP_JSON


async def save_ids(
    store: ConfigStore,
    session_id: str,
    message_id: str,
    *,
    mode: Mode | None = None,
    target: Target | None = None,
    model: str | None = None,
    pool: PoolChoice | None = None,
) -> SavedIds:
    """Write captured ids: the global ones in config.jsonc (with their mode and battle
    side), or ``model``'s entry in model_endpoint_map.json (``pool``: add to its list of
    entries, or replace the list)."""
    path = await check_pool_choice(store, model, pool)
    if model:
        return await _save_endpoint(store, path, session_id, message_id, mode, target, model,
                                    pool)
    changes: dict[KeyPath, Any] = {("session_id",): session_id, ("message_id",): message_id}
    if mode:
        changes[("id_updater_last_mode",)] = mode
    if target and mode in (None, "battle"):
        changes[("id_updater_battle_target",)] = target
    await store.update(CONFIG_JSONC, changes)
    shown_mode = mode or store.current.settings.id_updater_last_mode
    detail = f"mode {shown_mode}"
    if shown_mode == "battle":
        detail += f", target {target or store.current.settings.id_updater_battle_target}"
    return SavedIds(path, detail)


async def _save_endpoint(
    store: ConfigStore,
    path: Path,
    session_id: str,
    message_id: str,
    mode: Mode | None,
    target: Target | None,
    name: str,
    pool: PoolChoice | None,
) -> SavedIds:
    entry: dict[str, str] = {"session_id": session_id, "message_id": message_id,
                             "mode": mode or "direct_chat"}
    if mode == "battle":
        entry["battle_target"] = target or "A"
    current = (await _raw(store, ENDPOINT_MAP_JSON)).get(name)
    key: KeyPath = (name,)
    value: Any = entry
    if isinstance(current, list) and current:
        if pool == "append":
            key, what = (name, len(current)), f"added to its pool ({len(current) + 1} entries)"
        else:
            what = f"replaced its pool of {len(current)} entries"
    elif pool == "append" and isinstance(current, dict):
        value, what = [current, entry], "added to its entry (now a pool of 2)"
    else:
        what = "replaced its entry" if current is not None else "new entry"
    await store.update(ENDPOINT_MAP_JSON, {key: value})
    notes = []
    if name not in store.current.models:
        notes.append(f"'{name}' is not in models.json; requests for it send no model id and "
                     "get the captured conversation's model.")
    return SavedIds(path, f"under '{name}' ({what})", notes)


async def add_models(store: ConfigStore, entries: Mapping[str, str]) -> AddedModels:
    """Add ``entries`` (name -> models.json value) to models.json; names already there
    are left as they are."""
    configured = await _raw(store, MODELS_JSON)
    added: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for name, value in entries.items():
        if name in configured:
            skipped[name] = "already in models.json (left as it is)"
        else:
            added[name] = value
    if added:
        await store.update(MODELS_JSON, {(name,): value for name, value in added.items()})
    return AddedModels(store.config_dir / MODELS_JSON, added, skipped)
