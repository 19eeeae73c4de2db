"""scripts/run.sh, run by bash on a copy of the project with stand-in interpreters on PATH.

The stand-ins answer the script's questions (their version; whether pip runs) and record
what they are asked to do, so each case is quick and needs no network. Only the tools the
script uses are on PATH, so the machine's own Python cannot be found by accident.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).parent.parent / "scripts"
SCRIPT = SCRIPTS / "run.sh"
TOOLS = ("dirname", "rm", "cat", "sha256sum", "id")
HELPERS = ("basename", "mkdir", "cp", "chmod")

# An interpreter that reports VERSION; with VENV, `-m venv DIR` makes a stand-in venv whose
# python reports the same version, whose pip works and whose lmarena-bridge prints its
# arguments and the command name it was given.
FAKE_PYTHON = """#!/bin/sh
echo "$(basename "$0") $*" >> "{log}"
if [ "$1" = "-c" ]; then echo "{version}"; exit 0; fi
if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then exit 0; fi
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
  {make_venv}
fi
exit 1
"""
MAKE_VENV = """mkdir -p "$3/bin"
  cp "{template}" "$3/bin/python"
  chmod +x "$3/bin/python"
  printf '#!/bin/sh\\necho "ARGS: $*"\\necho "PROG: $LMARENA_BRIDGE_PROG"\\n' \\
    > "$3/bin/lmarena-bridge"
  chmod +x "$3/bin/lmarena-bridge"
  exit 0"""


class Sandbox:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.project = root / "project"
        (self.project / "scripts").mkdir(parents=True)
        for name in ("run.sh", "test.sh", "find_python.sh"):
            shutil.copy(SCRIPTS / name, self.project / "scripts" / name)
        (self.project / "pyproject.toml").write_text("[project]\nname = 'x'\n")
        self.bin = root / "bin"
        self.bin.mkdir()
        for tool in TOOLS:
            found = shutil.which(tool)
            assert found, tool
            (self.bin / tool).symlink_to(found)
        for helper in HELPERS:  # used by the stand-in interpreters only
            (self.bin / helper).symlink_to(shutil.which(helper) or f"/bin/{helper}")
        self.log = root / "calls.log"
        self.log.touch()

    def python(self, name: str, version: str, *, can_make_venvs: bool = True,
               where: Path | None = None) -> Path:
        template = self.root / f"venv-python-{version}"
        template.write_text(FAKE_PYTHON.format(log=self.log, version=version,
                                               make_venv="exit 1"))
        path = (where or self.bin) / name
        make = MAKE_VENV.format(template=template) if can_make_venvs else (
            'mkdir -p "$3/bin"; exit 1')  # like Debian without python3-venv: half a venv
        path.write_text(FAKE_PYTHON.format(log=self.log, version=version, make_venv=make))
        path.chmod(0o755)
        return path

    def run(self, *args: str, script: str = "run.sh") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["/bin/bash", f"scripts/{script}", *args], cwd=self.project, capture_output=True,
            text=True, timeout=30, env={"PATH": str(self.bin), "HOME": str(self.root)},
        )

    @property
    def calls(self) -> list[str]:
        return self.log.read_text().splitlines()


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path)


def test_too_old_python_is_refused_before_anything_is_made(box: Sandbox) -> None:
    box.python("python3", "3.10")
    res = box.run()
    assert res.returncode == 1
    assert "needs Python 3.11 or newer; found: python3 (3.10)" in res.stderr
    assert "python3.11-venv" in res.stderr
    assert not (box.project / ".venv").exists()
    assert not any(" -m venv" in call for call in box.calls)


def test_a_newer_python_is_found_when_python3_is_old(box: Sandbox) -> None:
    box.python("python3", "3.10")
    box.python("python3.12", "3.12")
    res = box.run("check", "--config-dir", "x")
    assert res.returncode == 0, res.stderr
    assert "Creating .venv with python3.12 (Python 3.12)" in res.stderr
    assert "python3.12 -m venv .venv" in box.calls
    assert "python -m pip install -q --disable-pip-version-check -e ." in box.calls
    # Subcommands reach the program; its hints name the script.
    assert res.stdout.splitlines() == ["ARGS: check --config-dir x", "PROG: bash scripts/run.sh"]


def test_a_stale_venv_is_recreated(box: Sandbox) -> None:
    box.python("python3", "3.11")
    stale = box.project / ".venv" / "bin"
    stale.mkdir(parents=True)
    box.python("python", "3.10", where=stale)  # made by an old Python, as run.sh once did
    (box.project / ".venv" / "leftover").write_text("x")
    res = box.run()
    assert res.returncode == 0, res.stderr
    assert "The .venv here is broken or was made with an older Python; recreating it." in (
        res.stderr)
    assert not (box.project / ".venv" / "leftover").exists()
    assert res.stdout.splitlines()[0] == "ARGS: "


def test_a_venv_without_python_is_recreated(box: Sandbox) -> None:
    box.python("python3", "3.11")
    (box.project / ".venv").mkdir()  # a venv whose creation failed half-way
    res = box.run()
    assert res.returncode == 0, res.stderr
    assert "recreating it" in res.stderr
    assert (box.project / ".venv" / "bin" / "python").exists()


def test_a_failed_venv_is_not_left_behind(box: Sandbox) -> None:
    box.python("python3", "3.12", can_make_venvs=False)
    res = box.run()
    assert res.returncode == 1
    assert "apt-get install python3.12-venv" in res.stderr
    assert not (box.project / ".venv").exists()


def test_install_runs_once_until_pyproject_changes(box: Sandbox) -> None:
    box.python("python3", "3.11")
    installs = lambda: sum(" install " in c for c in box.calls)  # noqa: E731
    assert box.run().returncode == 0
    assert box.run("check").returncode == 0
    assert installs() == 1
    (box.project / "pyproject.toml").write_text("[project]\nname = 'x'\nversion = '2'\n")
    assert box.run().returncode == 0
    assert installs() == 2


def test_the_test_script_finds_python_as_run_does(box: Sandbox) -> None:
    # test.sh used to make its venv with whatever `python3` was.
    box.python("python3", "3.10")
    box.python("python3.12", "3.12")
    res = box.run(script="test.sh")
    assert "Creating .venv with python3.12 (Python 3.12)" in res.stderr
    assert "python3.12 -m venv .venv" in box.calls
    assert "python3 -m venv .venv" not in box.calls


def test_the_test_script_refuses_an_old_python_first(box: Sandbox) -> None:
    box.python("python3", "3.10")
    res = box.run(script="test.sh")
    assert res.returncode == 1
    assert "needs Python 3.11 or newer; found: python3 (3.10)" in res.stderr
    assert not (box.project / ".venv").exists()
