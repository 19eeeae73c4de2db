"""The real CLI as a user runs it: `python -m lmarena_bridge` in a subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from lmarena_bridge import __version__
from tests.support.servers import free_socket

CLI = [sys.executable, "-m", "lmarena_bridge"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60, env=env)


def test_help_lists_the_commands() -> None:
    out = run("--help").stdout
    for command in ("serve", "check", "capture-ids", "update-models"):
        assert command in out


def test_check_reports_missing_ids_and_exit_codes(tmp_path: Path) -> None:
    (tmp_path / "config.jsonc").write_text('{"site_strategy": "retry"}')
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
        assert {"gemini-2.5-pro", "gpt-5"} <= {m["id"] for m in body["data"]}
        for name in ("config.jsonc", "models.json", "available_models.json",
                     "model_endpoint_map.json"):
            assert (tmp_path / name).exists()
        assert "//" in (tmp_path / "config.jsonc").read_text()  # commented defaults
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}/v1" in out + err


def test_check_on_a_broken_file_stops_after_its_problems(tmp_path: Path) -> None:
    (tmp_path / "config.jsonc").write_text('{\n  "site_strategy": "retry",\n  "port": 1,,\n}')
    res = run("check", "--config-dir", str(tmp_path))
    assert res.returncode == 1
    assert "config.jsonc: line 3" in res.stdout
    # Nothing built from the built-in defaults that stand in for the broken file.
    for advice in ("capture-ids", "session ids", "Listens on", "API key", "Site strategy"):
        assert advice not in res.stdout, advice
    assert res.stdout.rstrip().endswith("a running bridge keeps its last good config.")


def test_check_refuses_a_models_json_value_that_is_not_an_id(tmp_path: Path) -> None:
    uuid = "e2d9d353-6dbe-4414-bf87-bd289d523726"
    good = {"a": uuid, "b": f"{uuid}:image", "c": "null:image", "d": f"text:{uuid}",
            "e": f"text-to-image:{uuid}"}
    (tmp_path / "models.json").write_text(json.dumps(good))
    assert run("check", "--config-dir", str(tmp_path)).returncode == 0
    (tmp_path / "models.json").write_text(json.dumps({**good, "my-gpt": "gpt-4o"}))
    res = run("check", "--config-dir", str(tmp_path))
    assert res.returncode == 1
    assert "models.json: line 1: key 'my-gpt': \"gpt-4o\" is not a site model id" in res.stdout


def test_hints_name_the_command_as_the_user_runs_it(tmp_path: Path) -> None:
    env = {**os.environ, "LMARENA_BRIDGE_PROG": "bash scripts/run.sh"}
    (tmp_path / "config.jsonc").write_text('{"site_strategy": "retry"}')
    res = run("check", "--config-dir", str(tmp_path), env=env)
    assert "`bash scripts/run.sh capture-ids`" in res.stdout
    assert "`bash scripts/run.sh serve` creates it" in res.stdout
    assert "`lmarena-bridge" not in res.stdout
    assert run("--help", env=env).stdout.startswith("usage: bash scripts/run.sh")


def test_readme_shows_only_commands_that_work_after_run_sh() -> None:
    """`lmarena-bridge` is in .venv/bin, not on PATH: the README runs every command through
    scripts/run.sh, and keeps exactly two set-up commands."""
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    bare = re.findall(r"(?m)(?:`|^\$ |^)lmarena-bridge (?:serve|check|capture-ids|update-models)",
                      readme)
    assert bare == []
    for command in ("check", "capture-ids", "update-models"):
        assert f"bash scripts/run.sh {command}" in readme
    setup = readme.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    assert re.findall(r"```bash\n(.*?)\n```", setup, re.S) == [
        "bash scripts/run.sh --browser", "bash scripts/test.sh"]


def serve_on(port: int, *args: str, home: Path) -> subprocess.Popen[str]:
    env = {"LMARENA_BRIDGE_HOME": str(home), "PATH": "/usr/bin:/bin"}
    return subprocess.Popen([*CLI, "--port", str(port), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_port_taken_by_another_program_is_said_before_any_banner(tmp_path: Path) -> None:
    sock = free_socket()
    sock.listen()
    port = sock.getsockname()[1]
    try:
        res = run("serve", "--port", str(port), "--config-dir", str(tmp_path))
    finally:
        sock.close()
    assert res.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use by another program" in res.stderr
    assert "no LMArena Bridge answers there" in res.stderr and "--port PORT" in res.stderr
    assert res.stdout == ""  # no banner
    assert "Traceback" not in res.stderr and "ERROR" not in res.stderr


def test_serving_twice_says_a_bridge_is_already_running(tmp_path: Path) -> None:
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    first = serve_on(port, home=tmp_path / "first")
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        res = run("serve", "--port", str(port), "--config-dir", str(tmp_path / "second"))
    finally:
        first.terminate()
        first.communicate(timeout=10)
    assert res.returncode == 1
    assert (f"port {port} is already in use: LMArena Bridge {__version__} is already "
            f"running at http://127.0.0.1:{port}") in res.stderr
    assert res.stdout == "" and "Traceback" not in res.stderr
