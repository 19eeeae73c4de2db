"""Terminal I/O for the tools: prompts (only on a terminal), a countdown, picking a tab.

Everything goes through a ``Console`` so tests drive the tools with plain string streams.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from lmarena_bridge.config.problems import ConfigFileError
from lmarena_bridge.tools.client import BridgeClient, ToolError, about_bridge, client_for


@dataclass
class Console:
    """``out`` carries results, ``err`` progress and questions. ``interactive`` is true
    only when stdin is a terminal: then missing choices are asked for."""

    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    interactive: bool | None = None
    live: bool | None = None  # one updating countdown line (stderr is a terminal)

    def __post_init__(self) -> None:
        if self.interactive is None:
            self.interactive = _isatty(self.stdin)
        if self.live is None:
            self.live = _isatty(self.err)

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def note(self, text: str) -> None:
        print(text, file=self.err, flush=True)

    def ask(self, question: str, choices: dict[str, str], default: str | None = None) -> str:
        """Ask until the answer is one of ``choices`` (keys, case-insensitive); returns
        the matching value. End of input gives ``default`` or raises ToolError."""
        keys = {k.lower(): v for k, v in choices.items()}
        while True:
            self.err.write(question)
            self.err.flush()
            line = self.stdin.readline()
            if not line:
                if default is not None:
                    return default
                raise ToolError("No answer given.")
            answer = line.strip().lower()
            if not answer and default is not None:
                return default
            if answer in keys:
                return keys[answer]
            self.note(f"Please answer one of: {', '.join(choices)}.")

    def confirm(self, question: str) -> bool:
        return self.ask(f"{question} [y/N] ", {"y": "y", "yes": "y", "n": "n", "no": "n"},
                        default="n") == "y"


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class Countdown:
    """Shows the time left: one updating line on a terminal, a line every ``every``
    seconds otherwise (logs and CI stay readable)."""

    def __init__(self, console: Console, what: str, every: float = 10.0) -> None:
        self.console = console
        self.what = what
        self.every = every
        self._last_line = -1.0
        self._shown = False

    def tick(self, remaining: float) -> None:
        left = max(0, int(remaining + 0.999))
        if self.console.live:
            self.console.err.write(f"\r{self.what}: {left:4d} s left ")
            self.console.err.flush()
            self._shown = True
            return
        now = time.monotonic()
        if self._last_line < 0 or now - self._last_line >= self.every:
            self._last_line = now
            self.console.note(f"{self.what}: {left} s left")

    def close(self) -> None:
        if self._shown:
            self.console.err.write("\n")
            self.console.err.flush()
            self._shown = False


def describe_worker(w: dict[str, Any]) -> str:
    state = w.get("state", "?")
    kind = "our userscript" if int(w.get("protocol", 1)) >= 2 else "seed-era userscript"
    page = w.get("page") or "(page unknown)"
    return f"{w.get('id')}  {state:<10} {kind:<20} {page}"


def choose_worker(
    workers: list[dict[str, Any]], console: Console, wanted: str | None
) -> dict[str, Any]:
    """The tab to use among ``workers`` (the bridge's list): ``wanted``, the only one, or
    the user's pick on a terminal.

    Raises ToolError when none is connected, ``wanted`` is unknown, or several are
    connected and no terminal is there to ask (then ``--worker`` is needed).
    """
    if not workers:
        raise ToolError(
            "No browser tab is connected to the bridge. Open the LMArena site with the "
            "userscript installed (its title shows ✅ when connected) and try again."
        )
    if wanted:
        for w in workers:
            if w.get("id") == wanted:
                return w
        known = ", ".join(str(w.get("id")) for w in workers)
        raise ToolError(f"No connected tab '{wanted}' (connected: {known}).")
    if len(workers) == 1:
        return workers[0]
    listing = "\n".join(f"  {i}. {describe_worker(w)}" for i, w in enumerate(workers, 1))
    if not console.interactive:
        raise ToolError(
            f"{len(workers)} browser tabs are connected; choose one with --worker ID:\n{listing}"
        )
    console.note(f"{len(workers)} browser tabs are connected:\n{listing}")
    choices = {str(i): str(i) for i in range(1, len(workers) + 1)}
    choices.update({str(w.get("id")): str(i) for i, w in enumerate(workers, 1)})
    pick = console.ask(f"Which tab? [1-{len(workers)}] ", choices)
    return workers[int(pick) - 1]


def run_tool(
    run: Callable[[argparse.Namespace, Console], object],
    args: argparse.Namespace,
    console: Console | None,
    writing: str,
) -> int:
    """Run a tool's flow and turn its expected failures into a message and an exit code."""
    console = console or Console()
    try:
        run(args, console)
    except ToolError as exc:
        console.note(f"Error: {exc.message}")
        return exc.exit_code
    except ConfigFileError as exc:
        console.note(f"Error: cannot write {writing}: {exc}")
        return 1
    return 0


def connect(
    args: argparse.Namespace, console: Console
) -> tuple[BridgeClient, list[dict[str, Any]], dict[str, Any]]:
    """The client for the user's bridge, its tabs and what it says about itself; the
    config-dir warnings and the bridge's address are told on ``console``."""
    notes: list[str] = []
    client = client_for(args, notes)
    for note in notes:
        console.note(note)
    workers, bridge = about_bridge(client)
    console.note(f"Bridge: {client.base_url} (config in {bridge.get('config_dir', '?')})")
    return client, workers, bridge
