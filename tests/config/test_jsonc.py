from __future__ import annotations

import pytest

from lmarena_bridge.config.jsonc import parse_jsonc
from lmarena_bridge.config.problems import ConfigFileError, ConfigProblem

SAMPLE = """\
// leading comment
{
  /* block
     comment */
  "url": "http://x/a//b", // trailing
  "not_comment": "/* not a comment */",
  "quote": "say \\"hi\\" \\\\ // still a string",
  "list": [1, 2, 3,],
  "nested": {"a": null, "b": true,},
}
"""


def test_parses_jsonc_sample() -> None:
    assert parse_jsonc(SAMPLE, file="config.jsonc") == {
        "url": "http://x/a//b",
        "not_comment": "/* not a comment */",
        "quote": 'say "hi" \\ // still a string',
        "list": [1, 2, 3],
        "nested": {"a": None, "b": True},
    }


def test_accepts_bom_and_plain_json() -> None:
    assert parse_jsonc('\ufeff{"a": [1]}', file="models.json") == {"a": [1]}
    assert parse_jsonc("[]", file="available_models.json") == []


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ('{\n  "a": 1\n  "b": 2\n}', 3, 3),
        ('{\n  "a": tru\n}', 2, 11),
        ('{"a": 1 /* never closed', 1, None),
        ('{"a": "x', 1, None),
    ],
)
def test_syntax_error_names_file_line_and_column(text: str, line: int, column: int | None) -> None:
    with pytest.raises(ConfigFileError) as info:
        parse_jsonc(text, file="config.jsonc")
    [problem] = info.value.problems
    assert problem.file == "config.jsonc"
    assert problem.key is None
    assert problem.line == line
    if column is not None:
        assert problem.column == column
    assert problem.message.startswith("not valid JSON: unexpected")
    assert str(problem).startswith(f"config.jsonc: line {line}, column ")


@pytest.mark.parametrize("text", ["", "  \n", "\ufeff"])
def test_empty_file_is_a_problem(text: str) -> None:
    with pytest.raises(ConfigFileError, match="the file is empty"):
        parse_jsonc(text, file="models.json")


def test_problem_str_formats() -> None:
    assert (
        str(ConfigProblem("config.jsonc", "port", "Input should be a valid integer"))
        == "config.jsonc: key 'port': Input should be a valid integer"
    )
    assert str(ConfigProblem("models.json", None, "the file is empty")) == (
        "models.json: the file is empty"
    )
    error = ConfigFileError(
        [ConfigProblem("a.json", "x", "bad"), ConfigProblem("b.json", None, "worse")]
    )
    assert str(error) == "a.json: key 'x': bad; b.json: worse"
