"""What is wrong with a config file, said so a person can fix it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from lmarena_bridge.invocation import program


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem in one config file.

    ``key`` is a dotted path such as ``o3-xxx[1].session_id`` (``None`` when the problem is
    about the file as a whole); ``line`` (1-based) is where the key or the syntax error is,
    ``column`` is set for syntax errors.
    """

    file: str
    key: str | None
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [self.file]
        if self.line is not None:
            where = f"line {self.line}"
            if self.column is not None:
                where += f", column {self.column}"
            parts.append(where)
        if self.key is not None:
            parts.append(f"key '{self.key}'")
        parts.append(self.message)
        return ": ".join(parts)


class ConfigFileError(Exception):
    """One or more config files are unreadable, not JSONC, or hold invalid values."""

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems: list[ConfigProblem] = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems) or "invalid configuration")


def startup_refusal(config_dir: Path, problems: Iterable[ConfigProblem]) -> str:
    """What ``serve`` prints when the config does not validate at start-up (it then exits)."""
    problems = list(problems)
    lines = [
        "lmarena-bridge: not starting: the config files have "
        f"{len(problems)} problem{'s' if len(problems) != 1 else ''} (the bridge never runs "
        "on built-in defaults, which would drop settings such as api_key):"
    ]
    lines += [f"  {replace(p, file=str(Path(config_dir) / p.file))}" for p in problems]
    lines.append(f"Fix them and start again (`{program()} check` lists them too).")
    return "\n".join(lines)
