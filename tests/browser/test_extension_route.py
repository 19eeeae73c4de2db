"""GET /extension.zip: the bridge's address filled in from the name it was reached by, and
the same Host/Origin protection as /userscript.user.js (http/origins.py)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from lmarena_bridge.browser.extension import SCRIPT_NAME, page_script_source
from lmarena_bridge.http.app import create_app
from tests.support.servers import RunningServer, start_server, write_config


@pytest.fixture
async def srv(tmp_path: Path) -> AsyncIterator[RunningServer]:
    write_config(tmp_path)
    server = await start_server(create_app(tmp_path, watch_config=False))
    yield server
    await server.stop()


def unzip(body: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        return {name: zf.read(name).decode() for name in zf.namelist()}


async def test_zip_has_manifest_and_script_with_the_address(srv: RunningServer) -> None:
    async with httpx.AsyncClient() as http:
        r = await http.get(srv.url + "/extension.zip")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/zip"
    assert "attachment" in r.headers["content-disposition"]
    files = unzip(r.content)
    assert set(files) == {"manifest.json", SCRIPT_NAME}
    manifest = json.loads(files["manifest.json"])
    assert manifest["manifest_version"] == 3
    assert manifest["content_scripts"][0]["world"] == "MAIN"
    assert manifest["content_scripts"][0]["js"] == [SCRIPT_NAME]
    assert f'const BRIDGE_URL = "http://127.0.0.1:{srv.port}"' in files[SCRIPT_NAME]
    source = page_script_source()
    assert files[SCRIPT_NAME] == source.replace("http://127.0.0.1:5102", srv.url)


async def test_allowed_host_name_is_written_into_the_script(tmp_path: Path) -> None:
    write_config(tmp_path, {"allowed_hosts": ["bridge.lan"]})
    server = await start_server(create_app(tmp_path, watch_config=False))
    try:
        async with httpx.AsyncClient() as http:
            r = await http.get(server.url + "/extension.zip",
                               headers={"Host": f"bridge.lan:{server.port}"})
        assert r.status_code == 200
        script = unzip(r.content)[SCRIPT_NAME]
        assert f'const BRIDGE_URL = "http://bridge.lan:{server.port}"' in script
    finally:
        await server.stop()


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.nip.io:{port}",
                                  'localhost:{port}"<script>'])
async def test_foreign_host_is_refused(srv: RunningServer, host: str) -> None:
    async with httpx.AsyncClient() as http:
        r = await http.get(srv.url + "/extension.zip",
                           headers={"Host": host.format(port=srv.port)})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "host_not_allowed"


@pytest.mark.parametrize("path", ["/extension.zip", "/userscript.user.js"])
async def test_foreign_page_is_refused_like_the_userscript(srv: RunningServer, path: str) -> None:
    async with httpx.AsyncClient() as http:
        r = await http.get(srv.url + path, headers={"Origin": "https://evil.example"})
        own = await http.get(srv.url + path, headers={"Origin": srv.url})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "origin_not_allowed"
    assert own.status_code == 200
