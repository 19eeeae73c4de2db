"""A config that does not validate at start-up stops the bridge, naming file, line and key.

Running on built-in defaults instead would drop the api_key and serve /v1/* to anyone. A
broken edit while running keeps the last good config (tests/integration/test_config_reload.py).
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from pathlib import Path

import pytest

from lmarena_bridge.config.problems import ConfigFileError
from lmarena_bridge.http.app import create_app
from tests.support.servers import write_config

# One missing comma after the api_key line (line 3).
MISSING_COMMA = '{\n  "port": 5102,\n  "api_key": "s3cret"\n  "host": "127.0.0.1"\n}\n'


def broken_dir(tmp_path: Path, config_text: str) -> Path:
    config_dir = tmp_path / "cfg"
    write_config(config_dir)
    (config_dir / "config.jsonc").write_text(config_text, encoding="utf-8")
    return config_dir


def test_create_app_refuses_a_syntax_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError) as exc:
        create_app(broken_dir(tmp_path, MISSING_COMMA))
    (problem,) = exc.value.problems
    assert problem.file == "config.jsonc" and problem.line == 4


def test_create_app_refuses_invalid_values_naming_every_key(tmp_path: Path) -> None:
    config_dir = broken_dir(tmp_path, json.dumps({"port": "x", "max_messages": 0}))
    (config_dir / "models.json").write_text('{"m": 5}', encoding="utf-8")
    with pytest.raises(ConfigFileError) as exc:
        create_app(config_dir)
    keys = {(p.file, p.key) for p in exc.value.problems}
    assert keys == {("config.jsonc", "port"), ("config.jsonc", "max_messages"),
                    ("models.json", "m")}


def test_leftover_temp_files_are_removed_at_start(tmp_path: Path) -> None:
    config_dir = tmp_path / "cfg"
    write_config(config_dir, {"api_key": "s3cret"})
    leftovers = [".config.jsonc.0123456789ab.tmp", ".models.json.abcdef012345.tmp",
                 ".available_models.json.00000000ffff.tmp"]
    kept = [".notes.txt.0123456789ab.tmp", ".config.jsonc.tmp", "config.jsonc.bak"]
    for name in leftovers + kept:
        (config_dir / name).write_text('{"api_key": "s3cret"}', encoding="utf-8")
    app = create_app(config_dir)
    assert app.state.bridge.settings.api_key == "s3cret"
    names = {p.name for p in config_dir.iterdir()}
    assert not names & set(leftovers)
    assert set(kept) <= names


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def serve(config_dir: Path, port: int) -> tuple[int | None, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lmarena_bridge", "serve", "--config-dir", str(config_dir),
        "--port", str(port), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        return None, (out + err).decode()
    return proc.returncode, (out + err).decode()


async def test_serve_refuses_to_start_on_a_broken_file(tmp_path: Path) -> None:
    config_dir = broken_dir(tmp_path, MISSING_COMMA)
    port = free_port()
    code, output = await serve(config_dir, port)
    assert code == 1, output
    assert "not starting" in output
    assert f"{config_dir / 'config.jsonc'}: line 4" in output
    assert "OpenAI API:" not in output  # no banner, nothing served
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0


async def test_serve_names_the_key(tmp_path: Path) -> None:
    config_dir = broken_dir(tmp_path, json.dumps({"api_key": "k", "max_request_body_bytes": -5}))
    code, output = await serve(config_dir, free_port())
    assert code == 1, output
    assert "config.jsonc: line 1: key 'max_request_body_bytes'" in output
