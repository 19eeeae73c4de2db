"""Read JSONC (JSON with ``//`` and ``/* */`` comments and trailing commas).

json5 is a superset of JSONC, so it also tolerates single quotes and unquoted keys; the
seed's files (plain JSON plus comments) always parse.
"""

from __future__ import annotations

import json
import re
from typing import Any

import json5

from lmarena_bridge.config.problems import ConfigFileError, ConfigProblem

# json5's messages look like '<string>:3 Unexpected "}" at column 5'.
_JSON5_ERROR = re.compile(r"^<string>:(?P<line>\d+) (?P<what>.*?) at column (?P<column>\d+)$", re.S)

_HINT = "check for a missing comma, quote or bracket, or an unclosed comment, just before it"


def parse_jsonc(text: str, *, file: str) -> Any:
    """Parse ``text`` and return plain Python data.

    Raises ``ConfigFileError`` with one ``ConfigProblem`` naming ``file`` and, when known,
    the line and column of the syntax error.
    """
    if not text.strip(" \t\r\n\ufeff"):
        raise ConfigFileError([ConfigProblem(file, None, "the file is empty (expected JSON)")])
    try:
        # Plain JSON (what the bridge itself writes) parses ~100x faster with the stdlib;
        # a discovered available_models.json can be large.
        return json.loads(text)
    except ValueError:
        pass
    try:
        return json5.loads(text)
    except ValueError as exc:
        raise ConfigFileError([_problem_from(exc, file)]) from None
    except RecursionError:
        raise ConfigFileError(
            [ConfigProblem(file, None, "the JSON is nested too deeply")]
        ) from None


def _problem_from(exc: ValueError, file: str) -> ConfigProblem:
    raw = str(exc)
    match = _JSON5_ERROR.match(raw)
    if match is None:
        return ConfigProblem(file, None, f"not valid JSON: {raw}")
    what = match["what"]
    what = what.replace('Unexpected "\\n"', "Unexpected end of line").replace(
        'Unexpected "\n"', "Unexpected end of line"
    )
    what = what[:1].lower() + what[1:]
    return ConfigProblem(
        file,
        None,
        f"not valid JSON: {what} ({_HINT})",
        line=int(match["line"]),
        column=int(match["column"]),
    )
