from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lmarena_bridge.config.defaults import DEFAULT_CONFIG_JSONC, ensure_default_files
from lmarena_bridge.config.jsonc import parse_jsonc
from lmarena_bridge.config.model import BridgeConfig, EndpointEntry
from lmarena_bridge.config.problems import ConfigFileError
from lmarena_bridge.config.store import ConfigStore

COMMENTED = """\
// my notes
{
  /* keep me */
  "port": 6000, // my port
  "session_id": "",
  "message_id": "",
}
"""


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    ensure_default_files(tmp_path)
    (tmp_path / "config.jsonc").write_text(COMMENTED, encoding="utf-8")
    return tmp_path


def test_initial_load(config_dir: Path) -> None:
    store = ConfigStore(config_dir)
    assert store.current.settings.port == 6000
    assert store.problems == []
    assert store.generation == 1


def test_failed_initial_load_uses_defaults(config_dir: Path) -> None:
    (config_dir / "config.jsonc").write_text('{"port": "x"}', encoding="utf-8")
    store = ConfigStore(config_dir)
    assert store.current == BridgeConfig()
    assert store.generation == 0
    assert [(p.file, p.key) for p in store.problems] == [("config.jsonc", "port")]


def test_invalid_hand_edit_keeps_last_good_config(
    config_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = ConfigStore(config_dir)
    good = store.current
    seen: list[BridgeConfig] = []
    store.add_listener(seen.append)
    (config_dir / "config.jsonc").write_text('{"port": 0}', encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert store.reload() is False
    assert store.current is good
    assert store.generation == 1
    assert [(p.file, p.key) for p in store.problems] == [("config.jsonc", "port")]
    assert "config.jsonc: line 1: key 'port'" in caplog.text
    assert seen == []
    # Fixing the file clears the problems and swaps the new config in.
    (config_dir / "config.jsonc").write_text('{"port": 6001}', encoding="utf-8")
    assert store.reload() is True
    assert store.problems == []
    assert store.current.settings.port == 6001
    assert store.generation == 2
    assert seen == [store.current]


def test_rejected_edit_is_logged_once_and_its_repair_too(
    config_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = ConfigStore(config_dir)
    path = config_dir / "config.jsonc"
    path.write_text(COMMENTED.replace("6000", '"6000x"'), encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="lmarena_bridge.config.store"):
        # One edit often reaches the watcher as two or three changes.
        assert store.reload() is False
        assert store.reload() is False
        rejected = [r for r in caplog.records if "not reloaded" in r.getMessage()]
        assert len(rejected) == 1
        assert "key 'port'" in rejected[0].getMessage()
        # Undoing the typo brings back the settings in force: nothing swaps, but the log
        # says the problem is gone (it used to say nothing).
        caplog.clear()
        path.write_text(COMMENTED, encoding="utf-8")
        assert store.reload() is True
        assert store.generation == 1
        assert [r.getMessage() for r in caplog.records] == [
            "Config problems fixed; the settings in force are unchanged"
        ]
        # A second broken edit is logged again, and a fix to new settings says so too.
        caplog.clear()
        path.write_text("{", encoding="utf-8")
        assert store.reload() is False
        path.write_text(COMMENTED.replace("6000", "6001"), encoding="utf-8")
        assert store.reload() is True
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2 and "not reloaded" in messages[0]
    assert messages[1].startswith("Config problems fixed; loaded from")


def test_unchanged_reload_does_not_notify(config_dir: Path) -> None:
    store = ConfigStore(config_dir)
    seen: list[BridgeConfig] = []
    store.add_listener(seen.append)
    assert store.reload() is True
    assert (seen, store.generation) == ([], 1)


def test_removed_file_keeps_last_good_config(config_dir: Path) -> None:
    store = ConfigStore(config_dir)
    (config_dir / "config.jsonc").unlink()
    assert store.reload() is False
    assert store.current.settings.port == 6000
    assert [(p.file, p.key) for p in store.problems] == [("config.jsonc", None)]
    assert "removed" in store.problems[0].message


def test_listener_failure_is_logged_not_raised(
    config_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = ConfigStore(config_dir)
    seen: list[int] = []

    def broken(config: BridgeConfig) -> None:
        raise RuntimeError("boom")

    store.add_listener(broken)
    store.add_listener(lambda config: seen.append(config.settings.port))
    (config_dir / "config.jsonc").write_text('{"port": 6002}', encoding="utf-8")
    assert store.reload() is True
    assert seen == [6002]
    assert "listener" in caplog.text


async def _wait_for(
    predicate: Callable[[], bool],
    timeout: float = 5.0,
    touch: Callable[[], object] | None = None,
) -> None:
    """Poll until ``predicate()``; ``touch()`` is repeated in case the watcher was not ready."""
    deadline = time.monotonic() + timeout
    next_touch = 0.0
    while not predicate():
        now = time.monotonic()
        assert now < deadline, "timed out"
        if touch is not None and now >= next_touch:
            touch()
            next_touch = now + 0.5
        await asyncio.sleep(0.02)


async def test_watch_picks_up_valid_hand_edit(config_dir: Path) -> None:
    store = ConfigStore(config_dir)
    stop = asyncio.Event()
    task = asyncio.create_task(store.watch(stop))
    try:
        path = config_dir / "config.jsonc"
        edited = COMMENTED.replace('"port": 6000', '"port": 6100')
        # Other names in the dir do not trigger anything.
        (config_dir / "notes.txt").write_text("x", encoding="utf-8")
        started = time.monotonic()
        await _wait_for(
            lambda: store.current.settings.port == 6100,
            touch=lambda: path.write_text(edited, encoding="utf-8"),
        )
        assert time.monotonic() - started < 3
        assert store.problems == []
        # An invalid edit is seen too, and rejected.
        await _wait_for(
            lambda: bool(store.problems),
            touch=lambda: path.write_text('{"port": -1}', encoding="utf-8"),
        )
        assert store.current.settings.port == 6100
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_update_keeps_comments_and_other_keys(config_dir: Path) -> None:
    store = ConfigStore(config_dir)
    seen: list[BridgeConfig] = []
    store.add_listener(seen.append)
    await store.update(
        "config.jsonc",
        {("session_id",): "s-1", ("message_id",): "m-1", ("api_key",): "k"},
    )
    text = (config_dir / "config.jsonc").read_text(encoding="utf-8")
    assert text == (
        "// my notes\n{\n  /* keep me */\n"
        '  "port": 6000, // my port\n'
        '  "session_id": "s-1",\n'
        '  "message_id": "m-1",\n'
        '  "api_key": "k",\n'
        "}\n"
    )
    assert store.current.settings.session_id == "s-1"
    assert store.current.settings.api_key == "k"
    assert store.generation == 2
    assert seen == [store.current]


ENTRY_B = {"session_id": "s2", "message_id": "m2"}


async def test_update_with_remove(config_dir: Path) -> None:
    store = ConfigStore(config_dir)
    await store.update(
        "model_endpoint_map.json",
        {("a",): {"session_id": "s", "message_id": "m"}, ("b",): ENTRY_B},
        remove=[("b",)],  # removals run first, so "b" is set afterwards
    )
    assert set(store.current.endpoint_map) == {"a", "b"}
    await store.update("model_endpoint_map.json", {}, remove=[("b",)])
    assert store.current.endpoint_map == {"a": (EndpointEntry(session_id="s", message_id="m"),)}


async def test_invalid_update_raises_and_leaves_file_untouched(config_dir: Path) -> None:
    store = ConfigStore(config_dir)
    path = config_dir / "config.jsonc"
    before = path.read_bytes()
    mtime = path.stat().st_mtime_ns
    with pytest.raises(ConfigFileError) as info:
        await store.update("config.jsonc", {("port",): "not a port", ("host",): "0.0.0.0"})
    assert [(p.file, p.key) for p in info.value.problems] == [("config.jsonc", "port")]
    assert path.read_bytes() == before
    assert path.stat().st_mtime_ns == mtime
    assert store.current.settings.port == 6000
    assert sorted(p.name for p in config_dir.iterdir() if p.name.startswith(".")) == []


async def test_update_through_a_non_object_is_a_config_error(config_dir: Path) -> None:
    store = ConfigStore(config_dir)
    with pytest.raises(ConfigFileError) as info:
        await store.update("config.jsonc", {("port", "x"): 1})
    [problem] = info.value.problems
    assert (problem.file, problem.key) == ("config.jsonc", "port.x")
    assert "not an object" in problem.message


async def test_update_refuses_a_hand_broken_file(config_dir: Path) -> None:
    store = ConfigStore(config_dir)
    (config_dir / "models.json").write_text('{"a": "x",,}', encoding="utf-8")
    with pytest.raises(ConfigFileError) as info:
        await store.update("models.json", {("b",): "y"})
    assert info.value.problems[0].line == 1
    assert (config_dir / "models.json").read_text(encoding="utf-8") == '{"a": "x",,}'


async def test_update_is_not_blocked_by_problems_in_other_files(config_dir: Path) -> None:
    store = ConfigStore(config_dir)
    (config_dir / "models.json").write_text("[]", encoding="utf-8")
    await store.update("config.jsonc", {("session_id",): "s"})
    assert "s" in (config_dir / "config.jsonc").read_text(encoding="utf-8")
    # The reload after the write still refuses the broken models.json.
    assert [p.file for p in store.problems] == ["models.json"]
    assert store.current.settings.session_id == ""


async def test_update_creates_a_missing_file_from_its_default(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path)
    await store.update("config.jsonc", {("session_id",): "s", ("message_id",): "m"})
    text = (tmp_path / "config.jsonc").read_text(encoding="utf-8")
    assert text == DEFAULT_CONFIG_JSONC.replace('"session_id": ""', '"session_id": "s"').replace(
        '"message_id": ""', '"message_id": "m"'
    )
    assert store.current.settings.session_id == "s"


async def test_update_rejects_unknown_file(config_dir: Path) -> None:
    store = ConfigStore(config_dir)
    with pytest.raises(ValueError, match="unknown config file"):
        await store.update("other.json", {("a",): 1})


async def test_concurrent_updates_keep_every_change(config_dir: Path) -> None:
    store = ConfigStore(config_dir)
    names = [f"model-{i}" for i in range(12)]
    async_updates = [
        store.update("model_endpoint_map.json", {(name,): {"session_id": name, "message_id": "m"}})
        for name in names[:8]
    ]
    # The CLI path (update_sync) from threads, racing the async ones.
    thread_updates = [
        asyncio.to_thread(store.update_sync, "models.json",
                          {(name,): f"00000000-0000-4000-8000-{i:012d}"})
        for i, name in enumerate(names[8:])
    ]
    await asyncio.gather(*async_updates, *thread_updates)
    endpoint_map = parse_jsonc(
        (config_dir / "model_endpoint_map.json").read_text(encoding="utf-8"), file="m"
    )
    assert sorted(endpoint_map) == sorted(names[:8])
    models = parse_jsonc((config_dir / "models.json").read_text(encoding="utf-8"), file="m")
    assert set(names[8:]) <= set(models)
    assert "gpt-5" in models
    assert sorted(store.current.endpoint_map) == sorted(names[:8])
    assert set(names[8:]) <= set(store.current.models)


def test_update_sync_keeps_file_mode(config_dir: Path) -> None:
    path = config_dir / "config.jsonc"
    os.chmod(path, 0o600)
    store = ConfigStore(config_dir)
    store.update_sync("config.jsonc", {("api_key",): "secret"})
    assert path.stat().st_mode & 0o777 == 0o600
    assert store.current.settings.api_key == "secret"
