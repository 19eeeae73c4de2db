"""The real CLI as a user runs it: `python -m lmarena_bridge` in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.support.servers import free_socket

CLI = [sys.executable, "-m", "lmarena_bridge"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60, env=env)


def test_help_lists_the_commands() -> None:
    out = run("--help").stdout
    for command in ("serve", "check", "capture-ids", "update-models"):
        assert command in out


def test_check_reports_missing_ids_and_exit_codes(tmp_path: Path) -> None:
    ok = run("check", "--config-dir", str(tmp_path))
    assert ok.returncode == 0
    assert "capture-ids" in ok.stdout
    (tmp_path / "config.jsonc").write_text('{"port": "abc", // comment\n}')
    bad = run("check", "--config-dir", str(tmp_path))
    assert bad.returncode == 1
    assert "config.jsonc" in bad.stdout and "port" in bad.stdout


def test_serve_refuses_a_config_dir_it_cannot_create(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = run("serve", "--config-dir", str(blocker / "sub"))
    assert res.returncode == 1
    assert "cannot create the config files" in res.stderr
    assert "Traceback" not in res.stderr


def test_serve_is_the_default_and_works_on_a_fresh_dir(tmp_path: Path) -> None:
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    env = {"LMARENA_BRIDGE_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen(
        [*CLI, "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        body = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=1) as r:
                    body = json.loads(r.read())
                    break
            except OSError:
                time.sleep(0.1)
        assert body is not None, "the bridge did not answer"
        assert [m["id"] for m in body["data"]] == ["gemini-2.5-pro", "gpt-5", "nano-banana"]
        for name in ("config.jsonc", "models.json", "available_models.json",
                     "model_endpoint_map.json"):
            assert (tmp_path / name).exists()
        assert "//" in (tmp_path / "config.jsonc").read_text()  # commented defaults
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}/v1" in out + err
