"""Read and validate the four config files into one ``BridgeConfig``.

Every problem in every file is collected, so one ``check`` run shows all of them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from lmarena_bridge.config.defaults import (
    AVAILABLE_MODELS_JSON,
    CONFIG_JSONC,
    DEFAULT_TEXTS,
    ENDPOINT_MAP_JSON,
    FILE_NAMES,
    MODELS_JSON,
)
from lmarena_bridge.config.files import read_text
from lmarena_bridge.config.jsonc import parse_jsonc
from lmarena_bridge.config.locate import KeyLines
from lmarena_bridge.config.model import BridgeConfig, EndpointEntry, ModelTarget, Settings
from lmarena_bridge.config.problems import ConfigFileError, ConfigProblem

# Texts by file name; None means the file is missing (its default applies).
Texts = Mapping[str, str | None]

M = TypeVar("M", bound=BaseModel)

# Stands in for the data of a file that did not parse (its problem is already recorded).
_UNPARSED: Any = object()

_MODEL_VALUE_HINT = (
    'should be a string like "<uuid>", "<uuid>:image", "null:image" or "text:<uuid>"'
)
# A models.json value: a site model id (a UUID) or null (the captured conversation's
# model), optionally after an arena ("text:") and before a kind (":image").
_UUID = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
_WORD = r"[A-Za-z][A-Za-z0-9_-]*"
_MODEL_VALUE = re.compile(
    rf"\s*(?:{_WORD}\s*:\s*)?(?:{_UUID}|(?i:null|none))(?:\s*:\s*{_WORD})?\s*"
)


def config_files(config_dir: Path) -> dict[str, Path]:
    """The four config file paths by file name."""
    return {name: Path(config_dir) / name for name in FILE_NAMES}


def read_texts(config_dir: Path) -> tuple[dict[str, str | None], list[ConfigProblem]]:
    """Read the four files. Missing -> ``None``; unreadable -> ``None`` plus a problem."""
    texts: dict[str, str | None] = {}
    problems: list[ConfigProblem] = []
    for name, path in config_files(config_dir).items():
        try:
            texts[name] = read_text(path)
        except FileNotFoundError:
            texts[name] = None
        except UnicodeDecodeError:
            texts[name] = None
            problems.append(ConfigProblem(name, None, "cannot be read: it is not UTF-8 text"))
        except OSError as exc:
            texts[name] = None
            problems.append(ConfigProblem(name, None, f"cannot be read: {exc.strerror or exc}"))
    return texts, problems


def load_config(config_dir: Path) -> BridgeConfig:
    """Load and validate all four files; missing files count as their defaults.

    Raises ``ConfigFileError`` listing every problem found (file, key, reason).
    """
    texts, problems = read_texts(config_dir)
    config, more = collect_config(texts)
    problems += more
    if problems:
        raise ConfigFileError(problems)
    return config


def validate_texts(texts: Texts) -> BridgeConfig:
    """Like ``load_config`` for texts already in memory (used before writing an edit)."""
    config, problems = collect_config(texts)
    if problems:
        raise ConfigFileError(problems)
    return config


def collect_config(texts: Texts) -> tuple[BridgeConfig, list[ConfigProblem]]:
    """Validate each file on its own; a file with problems contributes its defaults.

    The returned config is therefore always usable for reporting (``check``), but only a
    config with no problems may be put in force.
    """
    problems: list[ConfigProblem] = []

    def data(name: str) -> Any:
        text = texts.get(name)
        try:
            return parse_jsonc(DEFAULT_TEXTS[name] if text is None else text, file=name)
        except ConfigFileError as exc:
            problems.extend(exc.problems)
            return _UNPARSED

    def at(name: str) -> _Where:
        return _Where(name, KeyLines(texts.get(name)), problems)

    settings = _settings(data(CONFIG_JSONC), at(CONFIG_JSONC))
    models = _models(data(MODELS_JSON), at(MODELS_JSON))
    endpoint_map = _endpoint_map(data(ENDPOINT_MAP_JSON), at(ENDPOINT_MAP_JSON))
    available = _available_models(data(AVAILABLE_MODELS_JSON), at(AVAILABLE_MODELS_JSON))
    config = BridgeConfig(
        settings=settings if settings is not None else Settings(),
        models=models if models is not None else {},
        endpoint_map=endpoint_map if endpoint_map is not None else {},
        available_models=available if available is not None else (),
    )
    return config, problems


def format_key(parts: Sequence[str | int]) -> str:
    """``("o3-xxx", 1, "session_id")`` -> ``o3-xxx[1].session_id``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class _Where:
    """Collects the problems of one file, each with the line of its key when found."""

    def __init__(self, file: str, lines: KeyLines, problems: list[ConfigProblem]) -> None:
        self.file = file
        self.lines = lines
        self.problems = problems

    def add(self, loc: Sequence[str | int], message: str) -> None:
        line = self.lines.line(loc) if loc else None
        self.problems.append(ConfigProblem(self.file, format_key(loc) or None, message, line))


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _validate_model(
    model: type[M], data: Any, where: _Where, prefix: Sequence[str | int]
) -> M | None:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            loc = [*prefix, *(p for p in error["loc"] if isinstance(p, str | int))]
            where.add(loc, "this key is required" if error["type"] == "missing" else error["msg"])
        return None


def _expect_object(data: Any, where: _Where, what: str) -> bool:
    if data is _UNPARSED:
        return False
    if not isinstance(data, dict):
        where.add((), f"should be a JSON object {what}, not {_type_name(data)}")
        return False
    return True


def _settings(data: Any, where: _Where) -> Settings | None:
    if not _expect_object(data, where, "of settings"):
        return None
    return _validate_model(Settings, data, where, ())


def _models(data: Any, where: _Where) -> dict[str, ModelTarget] | None:
    if not _expect_object(data, where, "mapping model names to site model ids"):
        return None
    models: dict[str, ModelTarget] = {}
    ok = True
    for name, value in data.items():
        if not isinstance(value, str):
            where.add((name,), f"{_MODEL_VALUE_HINT}, not {_type_name(value)}")
            ok = False
            continue
        if not _MODEL_VALUE.fullmatch(value):
            where.add(
                (name,), f"{json.dumps(value)} is not a site model id; {_MODEL_VALUE_HINT}"
            )
            ok = False
            continue
        models[name] = ModelTarget.parse(name, value)
    return models if ok else None


def _endpoint_map(data: Any, where: _Where) -> dict[str, tuple[EndpointEntry, ...]] | None:
    if not _expect_object(data, where, "mapping model names to ids"):
        return None
    result: dict[str, tuple[EndpointEntry, ...]] = {}
    before = len(where.problems)
    for name, value in data.items():
        if isinstance(value, dict):
            items: list[tuple[tuple[str | int, ...], Any]] = [((name,), value)]
        elif isinstance(value, list):
            if not value:
                where.add((name,), "an empty list has no ids to use")
                continue
            items = [((name, i), item) for i, item in enumerate(value)]
        else:
            where.add(
                (name,),
                "should be an object with session_id and message_id, or a list of them, "
                f"not {_type_name(value)}",
            )
            continue
        entries: list[EndpointEntry] = []
        for loc, item in items:
            if not isinstance(item, dict):
                where.add(
                    loc,
                    f"should be an object with session_id and message_id, not {_type_name(item)}",
                )
                continue
            entry = _validate_model(EndpointEntry, item, where, loc)
            if entry is not None:
                entries.append(entry)
        result[name] = tuple(entries)
    return result if len(where.problems) == before else None


def _available_models(data: Any, where: _Where) -> tuple[dict[str, Any], ...] | None:
    if data is _UNPARSED:
        return None
    if isinstance(data, dict):
        # Tolerated older shape: {"name": {...model...}, ...}.
        items: list[tuple[str | int, Any]] = list(data.items())
    elif isinstance(data, list):
        items = list(enumerate(data))
    else:
        where.add((), f"should be a list of model objects, not {_type_name(data)}")
        return None
    models: list[dict[str, Any]] = []
    ok = True
    for key, item in items:
        if not isinstance(item, dict):
            where.add((key,), f"should be a model object, not {_type_name(item)}")
            ok = False
            continue
        models.append(item)
    return tuple(models) if ok else None
