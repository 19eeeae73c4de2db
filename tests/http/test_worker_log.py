"""The connect log line: one per tab, written once the tab's hello says what it runs."""

from __future__ import annotations

import logging

import pytest

from lmarena_bridge.http import worker_ws
from tests.conftest import wait_for


def connect_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.INFO and " connected" in r.getMessage()
            and r.getMessage().startswith("worker ")]


async def test_our_userscript_is_logged_with_its_hello(
    bridge, workers, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        w = await workers(bridge.ws_url, page="https://lmarena.ai/c/abc")
        await wait_for(lambda: bool(connect_lines(caplog)))
    (line,) = connect_lines(caplog)
    assert line.startswith(f"worker {w.worker_id} connected: userscript ")
    assert "(protocol 2) on https://lmarena.ai/c/abc" in line


async def test_a_seed_era_tab_is_logged_after_the_hello_wait(
    bridge, workers, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker_ws, "HELLO_WAIT_SECONDS", 0.2)
    with caplog.at_level(logging.DEBUG):
        await workers(bridge.ws_url, protocol=1)
        await wait_for(lambda: bool(connect_lines(caplog)))
    (line,) = connect_lines(caplog)
    assert line.endswith("connected: seed-era userscript (protocol 1, sent no hello)")
