"""update-models against the real bridge: page source from our tab or a seed-era one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import wait_for
from tests.site_emulator import (
    IMAGE_MODEL_ID,
    SEARCH_MODEL_ID,
    STEALTH_MODEL_ID,
    TEXT_MODEL_ID,
    VISION_MODEL_ID,
    EmulatorState,
)
from tests.site_emulator.page import challenge_page, chat_page
from tests.support.servers import RunningServer
from tests.support.workers import ScriptedWorker
from tests.tools.tool_runner import ToolRun

SITE = EmulatorState()
PAGE = chat_page(SITE, SITE.direct_session, logged_in=True)
SEED_OK = {"status": "success", "message": "Available models file updated."}

RICH_MODELS = f"""// my models
{{
  "echo-model": "{TEXT_MODEL_ID}",   // the text one
  /* images */
  "image-model": "null:image"
}}
"""


def state(srv: RunningServer) -> Any:
    return srv.app.state.bridge


def tool(srv: RunningServer, *extra: str) -> list[str]:
    return ["update-models", "--config-dir", str(state(srv).config_dir),
            "--bridge-url", srv.url, *extra]


async def send_page(w: ScriptedWorker, html: str = PAGE, nth: int = 1) -> None:
    """Our userscript's answer to send_page_source."""
    await wait_for(lambda: w.commands.count("send_page_source") >= nth)
    await w.send({"type": "page_source", "html": html})


def available(srv: RunningServer) -> Any:
    return json.loads((state(srv).config_dir / "available_models.json").read_text("utf-8"))


async def test_list_written_and_diff_printed(make_bridge, workers) -> None:
    srv = await make_bridge()
    previous = [
        {"id": TEXT_MODEL_ID, "publicName": "echo-1"},
        {"id": "00000000-0000-4000-8000-000000000000", "publicName": "old-model"},
        {"id": SEARCH_MODEL_ID, "publicName": "echo-search-0"},
    ]
    (state(srv).config_dir / "available_models.json").write_text(json.dumps(previous), "utf-8")
    models_before = (state(srv).config_dir / "models.json").read_text("utf-8")
    w = await workers(srv.ws_url)
    run = ToolRun(tool(srv)).start()
    await send_page(w)
    assert await run.finished() == 0, run.errors
    # It says what it asks the tab for: the catalog, not "its page".
    assert "read the site's model catalog" in run.errors and "for its page" not in run.errors

    assert available(srv) == SITE.models  # full objects, as the page has them
    out = run.output
    assert f"Read {len(SITE.models)} models from tab {w.worker_id}" in out
    assert "Added (3): echo-image-1, echo-vision-1, mystery-model" in out
    # Each new model with what the site says it can do.
    assert "  echo-image-1: image output" in out
    assert "  echo-vision-1: text, vision (images uploaded first)" in out
    assert "  mystery-model: text" in out
    assert "Removed (1): old-model" in out
    assert "Renamed (1): echo-search-0 -> echo-search-1" in out
    assert f'Image-capable models (1):\n  echo-image-1  "{IMAGE_MODEL_ID}:image"' in out
    assert "update-models --apply" in out  # the hint; nothing added without being asked
    assert (state(srv).config_dir / "models.json").read_text("utf-8") == models_before
    await wait_for(lambda: len(state(srv).config().available_models) == len(SITE.models))


async def test_apply_adds_new_models_keeping_comments(make_bridge, workers) -> None:
    srv = await make_bridge()
    path = state(srv).config_dir / "models.json"
    path.write_text(RICH_MODELS, "utf-8")
    await wait_for(lambda: state(srv).config().models["image-model"].model_id is None)
    w = await workers(srv.ws_url)
    run = ToolRun(tool(srv, "--apply")).start()
    await send_page(w)
    assert await run.finished() == 0, run.errors

    # Every new model whose id is not mapped yet (echo-1 is, as echo-model), appended.
    expected = RICH_MODELS.replace(
        '"null:image"\n',
        '"null:image",\n'
        f'  "echo-image-1": "{IMAGE_MODEL_ID}:image",\n'
        f'  "echo-search-1": "{SEARCH_MODEL_ID}",\n'
        f'  "echo-vision-1": "{VISION_MODEL_ID}",\n'
        f'  "mystery-model": "{STEALTH_MODEL_ID}"\n',
    )
    assert path.read_text("utf-8") == expected
    assert '"mystery-model": "' in run.output

    # The running bridge serves them without a restart.
    await wait_for(lambda: "mystery-model" in state(srv).config().models)
    async with httpx.AsyncClient() as http:
        ids = {m["id"] for m in (await http.get(srv.url + "/v1/models")).json()["data"]}
    assert {"echo-image-1", "echo-search-1", "mystery-model"} <= ids

    # Named models: added even if the id is mapped; present names and unknown ones skipped.
    run = ToolRun(tool(srv, "--apply", "echo-1", "echo-image-1", "no-such-model")).start()
    await send_page(w, nth=2)
    assert await run.finished() == 0, run.errors
    assert "No changes since the last update." in run.output
    assert "Skipped 'echo-image-1': already in models.json" in run.errors
    assert "Skipped 'no-such-model': no model of that name" in run.errors
    assert path.read_text("utf-8") == expected.replace(
        f'"{STEALTH_MODEL_ID}"\n', f'"{STEALTH_MODEL_ID}",\n  "echo-1": "{TEXT_MODEL_ID}"\n')


async def test_interactive_yes_adds_the_new_models(make_bridge, workers) -> None:
    srv = await make_bridge()
    w = await workers(srv.ws_url)
    run = ToolRun(tool(srv), stdin="y\n", interactive=True).start()
    await send_page(w)
    assert await run.finished() == 0, run.errors
    assert "Add the 4 new models to models.json? [y/N]" in run.errors
    await wait_for(lambda: "echo-vision-1" in state(srv).config().models)


async def test_seed_era_tab_posts_its_page(make_bridge, workers) -> None:
    srv = await make_bridge()
    w = await workers(srv.ws_url, protocol=1)
    run = ToolRun(tool(srv)).start()
    await wait_for(lambda: "send_page_source" in w.commands)
    url = f"{srv.url}/internal/update_available_models"
    seed = {"Origin": "https://lmarena.ai", "Content-Type": "text/html; charset=utf-8"}
    async with httpx.AsyncClient() as http:
        # The seed userscript's cross-origin POST: preflight, then the page.
        pre = await http.options(url, headers={
            "Origin": "https://lmarena.ai", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"})
        assert pre.status_code == 204
        assert pre.headers["access-control-allow-origin"] == "https://lmarena.ai"
        assert "content-type" in pre.headers["access-control-allow-headers"].lower()
        r = await http.post(url, content=PAGE.encode(), headers=seed)
        assert r.status_code == 200 and r.json() == SEED_OK
        assert r.headers["access-control-allow-origin"] == "https://lmarena.ai"
    assert await run.finished() == 0, run.errors
    assert f"Read {len(SITE.models)} models" in run.output
    assert available(srv) == SITE.models


async def test_seed_update_endpoint_answers_as_the_seed(bridge) -> None:
    url = f"{bridge.url}/internal/update_available_models"
    seed = {"Origin": "https://lmarena.ai", "Content-Type": "text/html; charset=utf-8"}
    async with httpx.AsyncClient() as http:
        empty = await http.post(url, content=b"", headers=seed)
        assert empty.status_code == 400
        assert empty.json() == {"status": "error", "message": "No HTML content received."}
        bad = await http.post(url, content=challenge_page().encode(), headers=seed)
        assert bad.status_code == 400
        assert bad.json() == {"status": "error",
                              "message": "Could not extract model data from HTML."}
        assert available(bridge) == []
        ok = await http.post(url, content=PAGE.encode(), headers=seed)
        assert ok.status_code == 200 and ok.json() == SEED_OK
        assert available(bridge) == SITE.models
        foreign = await http.post(url, content=PAGE.encode(),
                                  headers={**seed, "Origin": "https://evil.example"})
        assert foreign.status_code == 403


async def test_seed_request_model_update_with_our_tab(bridge, workers) -> None:
    w = await workers(bridge.ws_url)
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{bridge.url}/internal/request_model_update")
    assert r.status_code == 200
    assert r.json() == {"status": "success", "message": "Request to send page source sent."}
    await send_page(w)
    path: Path = state(bridge).config_dir / "available_models.json"
    await wait_for(lambda: path.read_text("utf-8") != "[]")
    assert available(bridge) == SITE.models


async def test_page_without_a_model_list(make_bridge, workers) -> None:
    srv = await make_bridge()
    w = await workers(srv.ws_url)
    run = ToolRun(tool(srv)).start()
    await send_page(w, challenge_page())
    assert await run.finished() == 1
    assert "No model list found in the page" in run.errors
    assert available(srv) == []


async def test_several_tabs_any_one_will_do_unless_named(make_bridge, workers) -> None:
    srv = await make_bridge()
    first = await workers(srv.ws_url)
    second = await workers(srv.ws_url)
    run = ToolRun(tool(srv, "--worker", second.worker_id or "")).start()
    await send_page(second)
    assert await run.finished() == 0, run.errors
    assert "send_page_source" not in first.commands
    assert f"from tab {second.worker_id}" in run.output


async def test_apply_after_an_update_adds_every_model_still_missing(make_bridge, workers) -> None:
    """The hint of a plain run, followed as written: --apply alone adds all of them, though
    the second read finds no change since the first."""
    srv = await make_bridge()
    w = await workers(srv.ws_url)
    run = ToolRun(tool(srv)).start()
    await send_page(w)
    assert await run.finished() == 0, run.errors
    assert "update-models --apply` adds all 4 models" in run.output

    run = ToolRun(tool(srv, "--apply")).start()
    await send_page(w, nth=2)
    assert await run.finished() == 0, run.errors
    assert "No changes since the last update." in run.output
    added = json.loads((state(srv).config_dir / "models.json").read_text("utf-8"))
    assert {"echo-image-1", "echo-search-1", "echo-vision-1", "mystery-model"} <= set(added)
    await wait_for(lambda: "mystery-model" in state(srv).config().models)

    run = ToolRun(tool(srv, "--apply")).start()
    await send_page(w, nth=3)
    assert await run.finished() == 0, run.errors
    assert "Every model on the page is in models.json already" in run.output


def test_help_says_what_the_list_is_used_for() -> None:
    from lmarena_bridge.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    text = sub.choices["update-models"].format_help()  # type: ignore[attr-defined]
    assert "model catalog" in text and "its page" not in text
    assert "uploaded first" in text
