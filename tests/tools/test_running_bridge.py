"""The tools talk to the bridge the user started and have it save into its own config dir,
whatever folder they run from: the real CLI in a subprocess, a real bridge, a scripted tab.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from tests.conftest import wait_for
from tests.site_emulator import EmulatorState
from tests.site_emulator.page import chat_page
from tests.support.servers import RunningServer
from tests.tools.test_capture_ids import NEW_MID, NEW_SID, click_retry

SITE = EmulatorState()


async def cli(cwd: Path, *args: str, env: dict[str, str] | None = None,
              started: asyncio.Event | None = None) -> tuple[int, str, str]:
    """``python -m lmarena_bridge ARGS`` run in ``cwd``, without $LMARENA_BRIDGE_HOME."""
    base = {k: v for k, v in os.environ.items()
            if k not in ("LMARENA_BRIDGE_HOME", "LMARENA_BRIDGE_API_KEY", "LMARENA_BRIDGE_PROG")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lmarena_bridge", *args, cwd=cwd, env={**base, **(env or {})},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def bridge_dir(srv: RunningServer) -> Path:
    return Path(srv.app.state.bridge.config_dir)


async def test_capture_ids_from_another_folder_saves_in_the_bridges_folder(
    make_bridge: Any, workers: Any, tmp_path: Path
) -> None:
    srv = await make_bridge({"site_strategy": "retry"})
    w = await workers(srv.ws_url)
    # Another folder with its own config.jsonc naming the same port: the tool once wrote
    # the ids there and said the running bridge used them.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    decoy = f'// another setup\n{{"port": {srv.port}}}\n'
    (elsewhere / "config.jsonc").write_text(decoy, encoding="utf-8")

    tool = asyncio.ensure_future(cli(elsewhere, "capture-ids", "--mode", "direct_chat",
                                     "--no-side-channel", "--timeout", "30"))
    await click_retry(w)
    code, out, err = await tool
    assert code == 0, err
    config = bridge_dir(srv) / "config.jsonc"
    assert f"The bridge saved them to {config.resolve()} (mode direct_chat)." in out
    assert f"config in {bridge_dir(srv).resolve()}" in err
    assert NEW_SID in config.read_text(encoding="utf-8")
    assert (elsewhere / "config.jsonc").read_text(encoding="utf-8") == decoy
    assert sorted(p.name for p in elsewhere.iterdir()) == ["config.jsonc"]
    await wait_for(lambda: srv.app.state.bridge.settings.message_id == NEW_MID)


async def test_update_models_with_port_from_an_empty_folder(
    make_bridge: Any, workers: Any, tmp_path: Path
) -> None:
    srv = await make_bridge()
    w = await workers(srv.ws_url)
    empty = tmp_path / "empty"
    empty.mkdir()

    async def answer_page() -> None:
        await wait_for(lambda: "send_page_source" in w.commands, timeout=30)
        await w.send({"type": "page_source",
                      "html": chat_page(SITE, SITE.direct_session, logged_in=True)})

    page = asyncio.ensure_future(answer_page())
    code, out, err = await cli(empty, "update-models", "--port", str(srv.port),
                               "--apply", "echo-vision-1")
    await page
    assert code == 0, err
    available = bridge_dir(srv) / "available_models.json"
    models = bridge_dir(srv) / "models.json"
    assert f"the bridge wrote {available.resolve()}" in out
    assert f"The bridge added to {models.resolve()}:" in out
    assert json.loads(available.read_text(encoding="utf-8")) == SITE.models
    assert "echo-vision-1" in json.loads(models.read_text(encoding="utf-8"))
    assert list(empty.iterdir()) == []  # nothing written where the tool ran


async def test_a_bridge_with_an_api_key_says_how_to_pass_it(
    make_bridge: Any, tmp_path: Path
) -> None:
    srv = await make_bridge({"api_key": "sekret"})
    code, _, err = await cli(tmp_path, "capture-ids", "--port", str(srv.port),
                             "--mode", "direct_chat", "--no-side-channel")
    assert code == 1
    assert "The bridge answered 401" in err and "LMARENA_BRIDGE_API_KEY" in err
    code, _, err = await cli(tmp_path, "capture-ids", "--port", str(srv.port),
                             "--mode", "direct_chat", "--no-side-channel",
                             env={"LMARENA_BRIDGE_API_KEY": "sekret"})
    assert code == 1
    assert "No browser tab is connected" in err  # past the key: no tab to arm


async def test_nothing_listening_names_the_address_and_the_flags(tmp_path: Path) -> None:
    code, _, err = await cli(tmp_path, "update-models", "--port", "9")
    assert code == 1
    assert "Cannot reach the bridge at http://127.0.0.1:9" in err
    assert "--port PORT or --bridge-url URL" in err
