"""Secrets never reach the log: the server's handshake and access lines, and our own loggers."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from uvicorn.logging import AccessFormatter
from websockets.asyncio.client import connect

from lmarena_bridge.http.app import create_app
from lmarena_bridge.log_redaction import redact
from tests.conftest import wait_for
from tests.integration.test_access import ws_handshake
from tests.support.servers import RunningServer, start_server, write_config
from tests.support.workers import ScriptedWorker

API_KEY = "s3cret-api-key"
TOKEN = "tok-worker-123"


@pytest.mark.parametrize(("text", "expected"), [
    ("/ws?token=abc", "/ws?token=***"),
    ("/ws/monitor?key=abc&x=1", "/ws/monitor?key=***&x=1"),
    ('"GET /v1/models?a=1&api_key=abc HTTP/1.1" 200',
     '"GET /v1/models?a=1&api_key=*** HTTP/1.1" 200'),
    ("/x?worker_token=a%20b#frag", "/x?worker_token=***#frag"),
    ("/x?TOKEN=abc", "/x?TOKEN=***"),
    ("Authorization: Bearer sk-abc.def", "Authorization: Bearer ***"),
    ("/v1/models?monkey=1&tokens=5", "/v1/models?monkey=1&tokens=5"),
    ("no secrets here", "no secrets here"),
])
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def captured() -> Iterator[Records]:
    """Records of uvicorn's loggers (attached after the server configured its logging)."""
    handler = Records()
    loggers = [logging.getLogger(n) for n in ("uvicorn.error", "uvicorn.access")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


async def test_query_secrets_are_masked_in_every_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config_dir = tmp_path / "cfg"
    write_config(config_dir, {"api_key": API_KEY, "worker_token": TOKEN})
    srv = await start_server(create_app(config_dir), access_log=True, log_level="info")
    with captured() as records:
        await _use_secrets_in_urls(srv, caplog)
        await wait_for(lambda: len(records.records) >= 4)
    lines = [r.getMessage() for r in records.records]
    access = [r for r in records.records if r.name == "uvicorn.access"]
    assert access, lines
    formatter = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s')
    lines += [formatter.format(r) for r in access]  # uvicorn's own formatter still works
    lines += [r.getMessage() for r in caplog.records]
    text = "\n".join(lines)
    assert API_KEY not in text and TOKEN not in text, text
    assert "/ws?token=***" in text
    assert "/ws/monitor?key=***" in text
    assert "/v1/models?key=***" in text


async def _use_secrets_in_urls(srv: RunningServer, caplog: pytest.LogCaptureFixture) -> None:
    try:
        # A worker from an origin that needs the token, the monitor with the key, a
        # refused handshake and an HTTP request that put secrets into their URLs.
        w = await ScriptedWorker(f"{srv.ws_url}?token={TOKEN}",
                                 origin="https://elsewhere.example").start()
        async with connect(f"ws://127.0.0.1:{srv.port}/ws/monitor?key={API_KEY}") as ws:
            await ws.recv()
        status, _ = await ws_handshake(srv, f"/ws/monitor?key={API_KEY}", "evil.example")
        assert status == 403
        async with httpx.AsyncClient() as http:
            r = await http.get(f"{srv.url}/v1/models?key={API_KEY}",
                               headers={"Authorization": f"Bearer {API_KEY}"})
            assert r.status_code == 200
        with caplog.at_level(logging.INFO):
            logging.getLogger("lmarena_bridge.http.origins").warning(
                "a path with a secret: %s", f"/ws?token={TOKEN}")
        await w.close()
    finally:
        await srv.stop()
