from __future__ import annotations

import copy
import json
import os
import random
import stat
from pathlib import Path
from typing import Any

import pytest

from lmarena_bridge.config.defaults import DEFAULT_CONFIG_JSONC, DEFAULT_TEXTS
from lmarena_bridge.config.editor import remove_key, set_value
from lmarena_bridge.config.files import read_text, write_atomic
from lmarena_bridge.config.jsonc import parse_jsonc

Path_ = tuple[str | int, ...]


def _set(data: Any, path: Path_, value: Any) -> Any:
    """What the parsed data should look like after set_value."""
    data = copy.deepcopy(data)
    if not path:
        return value
    node = data
    for step in path[:-1]:
        node = node.setdefault(step, {}) if isinstance(step, str) else node[step]
    last = path[-1]
    if isinstance(node, list) and last == len(node):
        node.append(value)
    else:
        node[last] = value
    return data


def _remove(data: Any, path: Path_) -> Any:
    data = copy.deepcopy(data)
    node = data
    for step in path[:-1]:
        node = node[step]
    del node[path[-1]]
    return data


SET_CASES: list[tuple[str, str, Path_, Any, str]] = [
    (
        "string-to-number",
        '{"a": "x", "b": 2}',
        ("a",),
        5,
        '{"a": 5, "b": 2}',
    ),
    (
        "escaped-quotes-and-backslashes-before-target",
        '{"a": "say \\"hi\\" \\\\", "b": 1}',
        ("b",),
        2,
        '{"a": "say \\"hi\\" \\\\", "b": 2}',
    ),
    (
        "value-with-quotes-backslashes-unicode",
        '{\n  "a": 1\n}\n',
        ("a",),
        'he said "hi" \\ ünï 😀 // not /* a */ comment',
        '{\n  "a": "he said \\"hi\\" \\\\ ünï 😀 // not /* a */ comment"\n}\n',
    ),
    (
        "comment-markers-inside-strings",
        '{\n  "u": "http://x//y", // real\n  "c": "/* no */",\n  "t": 1\n}',
        ("t",),
        "z",
        '{\n  "u": "http://x//y", // real\n  "c": "/* no */",\n  "t": "z"\n}',
    ),
    (
        "key-text-inside-a-string-is-not-a-key",
        '{"a": "\\"b\\": 1", "b": 2}',
        ("b",),
        3,
        '{"a": "\\"b\\": 1", "b": 3}',
    ),
    (
        "key-text-inside-comments-is-not-a-key",
        '{\n  // "b": 1,\n  /* "b": 2, */\n  "b": 3\n}',
        ("b",),
        4,
        '{\n  // "b": 1,\n  /* "b": 2, */\n  "b": 4\n}',
    ),
    (
        "nested-a-b-c",
        '{\n  "a": {\n    "b": {"c": 1, "d": 2} // keep\n  }\n}',
        ("a", "b", "c"),
        [1, 2],
        '{\n  "a": {\n    "b": {"c": [1, 2], "d": 2} // keep\n  }\n}',
    ),
    (
        "create-missing-intermediate-objects",
        '{\n  "a": 1 // one\n}',
        ("x", "y", "z"),
        True,
        '{\n  "a": 1, // one\n  "x": {\n    "y": {\n      "z": true\n    }\n  }\n}',
    ),
    (
        "create-inside-existing-empty-object",
        '{\n  "a": {}\n}',
        ("a", "b", "c"),
        1,
        '{\n  "a": {\n    "b": {\n      "c": 1\n    }\n  }\n}',
    ),
    (
        "list-index",
        '{"l": [1, {"x": 1}, 3]}',
        ("l", 1, "x"),
        2,
        '{"l": [1, {"x": 2}, 3]}',
    ),
    (
        "list-negative-index",
        '{"l": [1, 2, 3]}',
        ("l", -1),
        "last",
        '{"l": [1, 2, "last"]}',
    ),
    (
        "list-append",
        '{\n  "l": [\n    1,\n    2 // two\n  ]\n}',
        ("l", 2),
        3,
        '{\n  "l": [\n    1,\n    2, // two\n    3\n  ]\n}',
    ),
    (
        "trailing-comma-replace",
        '{\n  "a": 1,\n  "b": 2,\n}',
        ("b",),
        3,
        '{\n  "a": 1,\n  "b": 3,\n}',
    ),
    (
        "replace-string-by-object-pretty",
        '{\n    "a": "x", /* after */\n    "b": 2\n}',
        ("a",),
        {"k": [1, "v"], "e": {}},
        '{\n    "a": {\n        "k": [\n            1,\n            "v"\n        ],\n'
        '        "e": {}\n    }, /* after */\n    "b": 2\n}',
    ),
    (
        "replace-object-by-string",
        '{\n  "a": {\n    "x": 1\n  },\n  "b": 2\n}',
        ("a",),
        "s",
        '{\n  "a": "s",\n  "b": 2\n}',
    ),
    (
        "insert-into-non-empty",
        '{\n  "a": 1,\n  "b": 2\n}\n',
        ("c",),
        3,
        '{\n  "a": 1,\n  "b": 2,\n  "c": 3\n}\n',
    ),
    (
        "insert-after-trailing-line-comment",
        '{\n  "a": 1,\n  "b": "x" // about b\n}',
        ("c",),
        3,
        '{\n  "a": 1,\n  "b": "x", // about b\n  "c": 3\n}',
    ),
    (
        "insert-after-trailing-block-comment",
        '{\n  "b": 2 /* about b */\n  // footer\n}',
        ("c",),
        3,
        '{\n  "b": 2, /* about b */\n  "c": 3\n  // footer\n}',
    ),
    (
        "insert-after-existing-trailing-comma",
        '{\n  "a": 1,\n  "b": 2, // about b\n}',
        ("c",),
        3,
        '{\n  "a": 1,\n  "b": 2, // about b\n  "c": 3,\n}',
    ),
    (
        "insert-when-comment-sits-between-value-and-comma",
        '{\n  "b": 2 /* x */ ,\n}',
        ("c",),
        3,
        '{\n  "b": 2 /* x */ ,\n  "c": 3,\n}',
    ),
    (
        "insert-into-empty-root",
        "{}\n",
        ("k",),
        "v",
        '{\n  "k": "v"\n}\n',
    ),
    (
        "insert-object-into-empty-root",
        "{}",
        ("o3",),
        [{"session_id": "s", "message_id": "m"}],
        '{\n  "o3": [\n    {\n      "session_id": "s",\n      "message_id": "m"\n    }\n  ]\n}',
    ),
    (
        "insert-into-empty-multiline-with-comment",
        "{ // nothing yet\n}",
        ("k",),
        1,
        '{ // nothing yet\n  "k": 1\n}',
    ),
    (
        "insert-into-empty-with-inline-comment",
        "{ /* none */ }",
        ("k",),
        1,
        '{ /* none */ "k": 1}',
    ),
    (
        "insert-inline-object",
        '{"a": 1, "b": {"c": 2}}',
        ("b", "d"),
        {"e": 1},
        '{"a": 1, "b": {"c": 2, "d": {"e": 1}}}',
    ),
    (
        "insert-inline-trailing-comma",
        '{"a": 1,}',
        ("b",),
        2,
        '{"a": 1, "b": 2,}',
    ),
    (
        "nested-empty-object-in-inline-parent-stays-inline",
        '{"a": {}}',
        ("a", "b"),
        1,
        '{"a": {"b": 1}}',
    ),
    (
        "crlf-newlines-kept",
        '{\r\n  "a": 1 // c\r\n}\r\n',
        ("b",),
        {"x": 1},
        '{\r\n  "a": 1, // c\r\n  "b": {\r\n    "x": 1\r\n  }\r\n}\r\n',
    ),
    (
        "tab-indentation",
        '{\n\t"a": 1\n}',
        ("b",),
        {"x": 1},
        '{\n\t"a": 1,\n\t"b": {\n\t\t"x": 1\n\t}\n}',
    ),
    (
        "json5-single-quotes-and-bare-keys",
        "{\n  bare: 'it''s',\n  'q': 1,\n}".replace("''", "\\'"),
        ("q",),
        2,
        "{\n  bare: 'it\\'s',\n  'q': 2,\n}",
    ),
    (
        "duplicate-keys-edit-the-effective-last-one",
        '{"a": 1, "a": 2}',
        ("a",),
        3,
        '{"a": 1, "a": 3}',
    ),
    (
        "unicode-key-and-escaped-key",
        '{"ключ": 1, "t\\u0061b": 2}',
        ("tab",),
        "ü",
        '{"ключ": 1, "t\\u0061b": "ü"}',
    ),
    (
        "bom-and-leading-comments",
        '\ufeff// header\n/* more */\n{\n  "a": 1\n}\n',
        ("a",),
        2,
        '\ufeff// header\n/* more */\n{\n  "a": 2\n}\n',
    ),
    (
        "root-replace",
        "// keep\n[1, 2]\n",
        (),
        [3],
        "// keep\n[\n  3\n]\n",
    ),
    (
        "numbers-of-every-shape",
        '{"a": -1.5e3, "b": 0x1F, "c": NaN, "d": Infinity, "e": null}',
        ("c",),
        0,
        '{"a": -1.5e3, "b": 0x1F, "c": 0, "d": Infinity, "e": null}',
    ),
]


@pytest.mark.parametrize(
    ("text", "path", "value", "expected"),
    [case[1:] for case in SET_CASES],
    ids=[case[0] for case in SET_CASES],
)
def test_set_value(text: str, path: Path_, value: Any, expected: str) -> None:
    result = set_value(text, path, value)
    assert result == expected
    before = parse_jsonc(text, file="t.jsonc")
    assert parse_jsonc(result, file="t.jsonc") == _set(before, path, value)


REMOVE_CASES: list[tuple[str, str, Path_, str]] = [
    (
        "middle-member-with-its-line-and-comment",
        '{\n  "a": 1, // about a\n  // about b\n  "b": 2\n}',
        ("a",),
        '{\n  // about b\n  "b": 2\n}',
    ),
    (
        "last-member-drops-previous-comma",
        '{\n  "a": 1, // about a\n  "b": 2\n}',
        ("b",),
        '{\n  "a": 1 // about a\n}',
    ),
    (
        "last-member-with-trailing-comma",
        '{\n  "a": 1,\n  "b": 2,\n}',
        ("b",),
        '{\n  "a": 1,\n}',
    ),
    (
        "only-member",
        '{\n  "a": {\n    "x": 1\n  }\n}',
        ("a",),
        "{\n}",
    ),
    (
        "inline-first",
        '{"a": 1, "b": 2}',
        ("a",),
        '{"b": 2}',
    ),
    (
        "inline-last",
        '{"a": 1, "b": 2}',
        ("b",),
        '{"a": 1}',
    ),
    (
        "inline-only",
        '{"a": 1}',
        ("a",),
        "{}",
    ),
    (
        "nested",
        '{\n  "m": {\n    "x": 1,\n    "y": 2\n  }\n}',
        ("m", "x"),
        '{\n  "m": {\n    "y": 2\n  }\n}',
    ),
    (
        "array-item",
        '{"l": [1, 2, 3]}',
        ("l", 1),
        '{"l": [1, 3]}',
    ),
    (
        "duplicates-all-go",
        '{"a": 1, "b": 2, "a": 3}',
        ("a",),
        '{"b": 2}',
    ),
    (
        "crlf",
        '{\r\n  "a": 1,\r\n  "b": 2\r\n}',
        ("a",),
        '{\r\n  "b": 2\r\n}',
    ),
]


@pytest.mark.parametrize(
    ("text", "path", "expected"),
    [case[1:] for case in REMOVE_CASES],
    ids=[case[0] for case in REMOVE_CASES],
)
def test_remove_key(text: str, path: Path_, expected: str) -> None:
    result = remove_key(text, path)
    assert result == expected
    before = parse_jsonc(text, file="t.jsonc")
    assert parse_jsonc(result, file="t.jsonc") == _remove(before, path)


@pytest.mark.parametrize("path", [("missing",), ("m", "missing"), ("missing", "deeper")])
def test_remove_missing_key_is_a_no_op(path: Path_) -> None:
    text = '{"m": {"x": 1}} // c'
    assert remove_key(text, path) is text


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        ('{"a": "s"}', ("a", "b"), "'a' is a string, not an object"),
        ('{"a": [1]}', ("a", "b"), "'a' is an array, not an object"),
        ('{"a": {"b": 1}}', ("a", 0), "'a' is an object, not an array"),
        ("[1]", ("a",), "the top level is an array, not an object"),
        ('{"a": [1]}', ("a", 5), "index 5 is out of range"),
        ('{"a": 1}', ("x", 0), "cannot create array item 0"),
        ('{"a": 1,, }', ("a",), "cannot edit"),
        ('{"a": 1', ("a",), "unclosed {"),
        ('{"a": "x}', ("a",), "unterminated string"),
    ],
)
def test_set_value_errors(text: str, path: Path_, message: str) -> None:
    with pytest.raises(
        ValueError, match="(?s).*" + message.replace("[", r"\[").replace("{", r"\{")
    ):
        set_value(text, path, 1)


def test_remove_through_non_object_raises() -> None:
    with pytest.raises(ValueError, match="'a' is a number, not an object"):
        remove_key('{"a": 1}', ("a", "b"))


def _lines_changed(before: str, after: str) -> list[tuple[str, str]]:
    a, b = before.splitlines(), after.splitlines()
    assert len(a) == len(b)
    return [(x, y) for x, y in zip(a, b, strict=True) if x != y]


DEFAULT_DATA = parse_jsonc(DEFAULT_CONFIG_JSONC, file="config.jsonc")


@pytest.mark.parametrize("key", list(DEFAULT_DATA))
def test_every_default_key_edits_one_line_only(key: str) -> None:
    new_value = 'e"dit\\ed // /* x */'
    result = set_value(DEFAULT_CONFIG_JSONC, (key,), new_value)
    changed = _lines_changed(DEFAULT_CONFIG_JSONC, result)
    assert len(changed) == 1
    old_line, new_line = changed[0]
    # Outside the value's span the line is byte-for-byte the same.
    head = old_line.split(":", 1)[0]
    assert new_line.startswith(head + ": ")
    assert new_line.endswith(",") == old_line.endswith(",")
    data = parse_jsonc(result, file="config.jsonc")
    assert data == _set(DEFAULT_DATA, (key,), new_value)


def test_insert_and_remove_round_trip_on_default_config() -> None:
    added = set_value(DEFAULT_CONFIG_JSONC, ("extra_key",), {"nested": [1]})
    assert added.startswith(DEFAULT_CONFIG_JSONC[: DEFAULT_CONFIG_JSONC.rindex('"idle_restart')])
    removed = remove_key(added, ("extra_key",))
    assert removed == DEFAULT_CONFIG_JSONC


def test_plain_json_stays_plain_json() -> None:
    # models.json is read by seed-era tools with json.loads: no comma may be left dangling.
    text = DEFAULT_TEXTS["models.json"]
    added = set_value(text, ("new-model",), "abc:image")
    assert json.loads(added)["new-model"] == "abc:image"
    without_gpt5 = json.loads(remove_key(added, ("gpt-5",)))
    assert list(without_gpt5) == ["gemini-2.5-pro", "new-model"]
    assert json.loads(remove_key(added, ("gemini-2.5-pro",)))["gpt-5"]
    assert remove_key(added, ("new-model",)) == text


def test_write_atomic_replaces_and_keeps_mode(tmp_path: Path) -> None:
    target = tmp_path / "config.jsonc"
    target.write_text("old", encoding="utf-8")
    os.chmod(target, 0o640)
    write_atomic(target, '{\r\n  "a": "ü"\r\n}\r\n')
    assert read_text(target) == '{\r\n  "a": "ü"\r\n}\r\n'
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.jsonc"]


def test_write_atomic_creates_new_file(tmp_path: Path) -> None:
    target = tmp_path / "new.json"
    write_atomic(target, "{}\n")
    assert target.read_text(encoding="utf-8") == "{}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.json"]


def test_write_atomic_follows_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text("{}", encoding="utf-8")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_atomic(link, '{"a": 1}')
    assert link.is_symlink()
    assert real.read_text(encoding="utf-8") == '{"a": 1}'


def test_write_atomic_failure_leaves_original(tmp_path: Path) -> None:
    target = tmp_path / "config.jsonc"
    target.write_text("original", encoding="utf-8")
    with pytest.raises(TypeError):
        write_atomic(target, 123)  # type: ignore[arg-type]
    assert target.read_text(encoding="utf-8") == "original"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.jsonc"]


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth < 3 and roll < 0.25:
        return {
            rng.choice(FUZZ_KEYS): _random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))
        }
    if depth < 3 and roll < 0.4:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return rng.choice([1, -2.5, True, None, "", 'say "hi" \\ // /* */', "http://x//y"])


FUZZ_KEYS = ["a", "b", "d/e", 'q"k', "ü", "x y"]
FUZZ_COMMENTS = ["", " // c", " /* b */", "\n  // own line", "\n/* multi\nline */"]


def _render(rng: random.Random, value: Any, indent: str = "") -> str:
    """A random but valid JSONC layout of ``value``: comments, trailing commas, inline parts."""
    if not isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    items = list(value.items()) if isinstance(value, dict) else [(None, v) for v in value]
    opening, closing = ("{", "}") if isinstance(value, dict) else ("[", "]")
    if not items:
        return opening + rng.choice(["", " ", "\n" + indent, " /* empty */ "]) + closing
    multiline, inner = rng.random() < 0.6, indent + "  "
    parts = []
    for i, (key, item) in enumerate(items):
        member = "" if key is None else json.dumps(key, ensure_ascii=False) + ": "
        member += _render(rng, item, inner)
        if i < len(items) - 1 or rng.random() < 0.3:
            member += ","
        member += rng.choice(FUZZ_COMMENTS if multiline else ["", " /* i */"])
        parts.append(member)
    if multiline:
        return opening + "\n" + "".join(f"{inner}{p}\n" for p in parts) + indent + closing
    return opening + " ".join(parts) + closing


def _paths(value: Any, prefix: Path_ = ()) -> list[Path_]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _paths(item, (*prefix, i))
    return found


def _get(data: Any, path: Path_) -> Any:
    for step in path:
        data = data[step]
    return data


def test_random_layouts_edit_to_the_expected_data() -> None:
    rng = random.Random(20250601)
    for _ in range(300):
        data = {rng.choice(FUZZ_KEYS): _random_value(rng, 1) for _ in range(rng.randint(0, 4))}
        text = "// head\n" + _render(rng, data) + "\n"
        assert parse_jsonc(text, file="t") == data
        paths = _paths(data)
        existing = [p for p in paths if p]
        objects = [p for p in paths if isinstance(_get(data, p), dict)]
        target = rng.choice(existing) if existing and rng.random() < 0.5 else None
        if target is None:
            target = (*rng.choice(objects), "new", *(("deeper",) if rng.random() < 0.3 else ()))
        value = _random_value(rng, 1)
        result = set_value(text, target, value)
        assert result.startswith("// head\n")
        assert parse_jsonc(result, file="t") == _set(data, target, value), (text, target)
        if existing:
            target = rng.choice(existing)
            result = remove_key(text, target)
            assert parse_jsonc(result, file="t") == _remove(data, target), (text, target)
