from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmarena_bridge.config.defaults import (
    DEFAULT_CONFIG_JSONC,
    DEFAULT_TEXTS,
    FILE_NAMES,
    ensure_default_files,
)
from lmarena_bridge.config.jsonc import parse_jsonc
from lmarena_bridge.config.loader import config_files, load_config, validate_texts
from lmarena_bridge.config.model import BridgeConfig, EndpointEntry, ModelTarget, Settings
from lmarena_bridge.config.problems import ConfigFileError

SEED_MODELS = {
    "gemini-2.5-pro": ModelTarget("gemini-2.5-pro", "e2d9d353-6dbe-4414-bf87-bd289d523726"),
    "gpt-5": ModelTarget("gpt-5", "983bc566-b783-4d28-b24c-3c8b08eb1086"),
}


def test_config_files_names(tmp_path: Path) -> None:
    files = config_files(tmp_path)
    assert set(files) == {
        "config.jsonc",
        "models.json",
        "available_models.json",
        "model_endpoint_map.json",
    }
    assert all(path == tmp_path / name for name, path in files.items())


def test_default_files_load_as_defaults(tmp_path: Path) -> None:
    created = ensure_default_files(tmp_path / "new")
    assert sorted(p.name for p in created) == sorted(FILE_NAMES)
    config = load_config(tmp_path / "new")
    assert config == BridgeConfig(settings=Settings(), models=SEED_MODELS)


def test_missing_files_count_as_defaults(tmp_path: Path) -> None:
    empty, filled = tmp_path / "empty", tmp_path / "filled"
    empty.mkdir()
    ensure_default_files(filled)
    assert load_config(empty) == load_config(filled)
    assert list(empty.iterdir()) == []  # loading never creates files


def test_default_config_documents_every_setting() -> None:
    data = parse_jsonc(DEFAULT_CONFIG_JSONC, file="config.jsonc")
    assert set(data) == set(Settings.model_fields), "config.jsonc default must list every key"
    assert Settings.model_validate(data) == Settings()
    lines = DEFAULT_CONFIG_JSONC.splitlines()
    for name in Settings.model_fields:
        index = next(i for i, line in enumerate(lines) if line.strip().startswith(f'"{name}":'))
        # Each key sits under a comment (directly, or as part of a commented group).
        above = [line.strip() for line in lines[max(0, index - 3) : index]]
        assert any(line.startswith("//") for line in above), name
    assert data["session_id"] == data["message_id"] == data["api_key"] == ""
    assert data["enable_auto_update"] is False


def test_default_models_json_is_plain_json() -> None:
    assert json.loads(DEFAULT_TEXTS["models.json"]) == {
        "gemini-2.5-pro": "e2d9d353-6dbe-4414-bf87-bd289d523726",
        "gpt-5": "983bc566-b783-4d28-b24c-3c8b08eb1086",
    }
    assert json.loads(DEFAULT_TEXTS["available_models.json"]) == []
    assert json.loads(DEFAULT_TEXTS["model_endpoint_map.json"]) == {}


def test_ensure_default_files_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "models.json").write_text('{"mine": "x"}', encoding="utf-8")
    created = ensure_default_files(tmp_path)
    assert (tmp_path / "models.json") not in created
    assert len(created) == 3
    assert (tmp_path / "models.json").read_text(encoding="utf-8") == '{"mine": "x"}'
    assert ensure_default_files(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILE_NAMES)


def test_seed_style_files_load(tmp_path: Path) -> None:
    (tmp_path / "config.jsonc").write_text(
        """{
  // seed v2.7.6 style
  "version": "2.7.6",
  "session_id": "YOUR_SESSION_ID", "message_id": "YOUR_MESSAGE_ID",
  "id_updater_last_mode": "Battle",
  "id_updater_battle_target": "b",
  "enable_auto_update": true,
  "file_bed_upload_url": "http:\\/\\/127.0.0.1:5180/upload",
  "server_port": 9999, /* another fork's key: kept, ignored */
}""",
        encoding="utf-8",
    )
    (tmp_path / "model_endpoint_map.json").write_text(
        json.dumps(
            {
                "o3-xxx": [
                    {"session_id": "s1", "message_id": "m1", "mode": "direct_chat"},
                    {
                        "session_id": "s2",
                        "message_id": "m2",
                        "mode": "battle",
                        "battle_target": "a",
                    },
                ],
                "gemini-xxx": {"session_id": "s3", "message_id": "m3", "mode": "battle"},
            }
        ),
        encoding="utf-8",
    )
    (tmp_path / "available_models.json").write_text(
        '{"m1": {"publicName": "m1", "id": "x"}}', encoding="utf-8"
    )
    config = load_config(tmp_path)
    assert config.settings.id_updater_last_mode == "battle"
    assert config.settings.id_updater_battle_target == "B"
    assert config.settings.file_bed_upload_url == "http://127.0.0.1:5180/upload"
    assert config.settings.model_extra == {"server_port": 9999}
    assert config.endpoint_map["o3-xxx"][1] == EndpointEntry(
        session_id="s2", message_id="m2", mode="battle", battle_target="A"
    )
    assert len(config.endpoint_map["o3-xxx"]) == 2
    assert config.endpoint_map["gemini-xxx"] == (
        EndpointEntry(session_id="s3", message_id="m3", mode="battle"),
    )
    assert config.available_models == ({"publicName": "m1", "id": "x"},)


ENTRY = {"session_id": "s", "message_id": "m"}

INVALID_CASES = [
    ("config.jsonc", {"port": "abc"}, "port", "valid integer"),
    ("config.jsonc", {"port": 70000}, "port", "less than or equal to 65535"),
    ("config.jsonc", {"id_updater_last_mode": "solo"}, "id_updater_last_mode", "'battle'"),
    ("config.jsonc", {"allowed_origins": ["ok", 5]}, "allowed_origins[1]", "valid string"),
    (
        "config.jsonc",
        {"stream_response_timeout_seconds": 0},
        "stream_response_timeout_seconds",
        "greater than 0",
    ),
    ("config.jsonc", [], None, "should be a JSON object of settings, not a list"),
    ("models.json", {"m": 5}, "m", 'string like "<uuid>"'),
    ("models.json", {"m": None}, "m", "not null"),
    ("models.json", ["x"], None, "should be a JSON object"),
    (
        "model_endpoint_map.json",
        {"o3-xxx": [ENTRY, {"session_id": "a"}]},
        "o3-xxx[1].message_id",
        "required",
    ),
    (
        "model_endpoint_map.json",
        {"g": {**ENTRY, "mode": "solo"}},
        "g.mode",
        "'direct_chat' or 'battle'",
    ),
    (
        "model_endpoint_map.json",
        {"g": {**ENTRY, "battle_target": "C"}},
        "g.battle_target",
        "'A' or 'B'",
    ),
    ("model_endpoint_map.json", {"g": {**ENTRY, "session_id": 1}}, "g.session_id", "valid string"),
    ("model_endpoint_map.json", {"g": "x"}, "g", "or a list of them, not a string"),
    ("model_endpoint_map.json", {"g": [1]}, "g[0]", "not a number"),
    ("model_endpoint_map.json", {"g": []}, "g", "empty list"),
    ("model_endpoint_map.json", 3, None, "should be a JSON object"),
    ("available_models.json", [{"a": 1}, 1], "[1]", "model object"),
    ("available_models.json", {"a": 5}, "a", "model object"),
    ("available_models.json", "x", None, "list of model objects"),
]


@pytest.mark.parametrize(
    ("file", "data", "key", "fragment"),
    INVALID_CASES,
    ids=[f"{c[0]}:{c[2]}:{i}" for i, c in enumerate(INVALID_CASES)],
)
def test_invalid_value_names_file_and_key(
    tmp_path: Path, file: str, data: object, key: str | None, fragment: str
) -> None:
    (tmp_path / file).write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigFileError) as info:
        load_config(tmp_path)
    [problem] = info.value.problems
    assert (problem.file, problem.key) == (file, key)
    assert fragment in problem.message
    # One-line files: every key is on line 1.
    assert str(problem).startswith(f"{file}: line 1: key '{key}': " if key else f"{file}: ")


def test_all_problems_are_collected(tmp_path: Path) -> None:
    (tmp_path / "config.jsonc").write_text('{\n  "port": 1,\n  "host": 5,,\n}', encoding="utf-8")
    (tmp_path / "models.json").write_text('{"a": 1,\n "b": "null:image",\n\n "c": []}',
                                          encoding="utf-8")
    (tmp_path / "model_endpoint_map.json").write_text('{\n"x": {}}', encoding="utf-8")
    with pytest.raises(ConfigFileError) as info:
        load_config(tmp_path)
    found = [(p.file, p.key, p.line) for p in info.value.problems]
    # A wrong value names its key and its line; a missing key, the object that lacks it.
    assert found == [
        ("config.jsonc", None, 3),
        ("models.json", "a", 1),
        ("models.json", "c", 4),
        ("model_endpoint_map.json", "x.session_id", 2),
        ("model_endpoint_map.json", "x.message_id", 2),
    ]


def test_a_wrong_value_names_its_line(tmp_path: Path) -> None:
    ensure_default_files(tmp_path)
    text = (tmp_path / "config.jsonc").read_text(encoding="utf-8")
    (tmp_path / "config.jsonc").write_text(
        text.replace('"port": 5102', '"port": "5102x"'), encoding="utf-8"
    )
    (tmp_path / "model_endpoint_map.json").write_text(
        '{\n  "m.v1": [\n    {"session_id": "s", "message_id": "m"},\n'
        '    {"session_id": "s", "message_id": "m", "mode": "duel"}\n  ]\n}\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigFileError) as info:
        load_config(tmp_path)
    port_line = 1 + text[: text.index('"port": 5102')].count("\n")
    port, mode = info.value.problems
    assert (port.key, port.line) == ("port", port_line)
    assert str(port).startswith(f"config.jsonc: line {port_line}: key 'port': ")
    assert (mode.key, mode.line) == ("m.v1[1].mode", 4)


def test_unreadable_file_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "models.json").write_bytes(b'{"a": "\xff"}')
    with pytest.raises(ConfigFileError, match=r"models\.json: cannot be read: it is not UTF-8"):
        load_config(tmp_path)


def test_empty_file_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "model_endpoint_map.json").write_text("", encoding="utf-8")
    with pytest.raises(ConfigFileError, match=r"model_endpoint_map\.json: the file is empty"):
        load_config(tmp_path)


def test_validate_texts_uses_given_texts() -> None:
    uuid = "33333333-3333-4333-8333-333333333333"
    texts = {name: None for name in FILE_NAMES} | {"models.json": f'{{"img": "{uuid}:IMAGE"}}'}
    config = validate_texts(texts)
    assert config.models == {"img": ModelTarget("img", uuid, "image")}


UUID = "e2d9d353-6dbe-4414-bf87-bd289d523726"


@pytest.mark.parametrize("value", [
    UUID, UUID.upper(), f"{UUID}:image", "null:image", "null", "NULL", f"text:{UUID}",
    f"text-to-image:{UUID}", f"text-to-image:{UUID}:image", f" {UUID} ", f"{UUID}:search",
])
def test_model_values_of_every_form_load(tmp_path: Path, value: str) -> None:
    (tmp_path / "models.json").write_text(json.dumps({"m": value}), encoding="utf-8")
    assert "m" in load_config(tmp_path).models


@pytest.mark.parametrize("value", [
    "", "gpt-4o", "abc:IMAGE", "not-a-uuid-at-all", UUID[:-1], f"{UUID}x", f"{UUID}:",
    f"text:{UUID}:image:extra", "text:image", f"{UUID} {UUID}", f"{UUID}:im age",
])
def test_model_values_that_are_not_ids_are_refused_naming_the_key(
    tmp_path: Path, value: str
) -> None:
    (tmp_path / "models.json").write_text(json.dumps({"ok": UUID, "my-model": value}),
                                          encoding="utf-8")
    with pytest.raises(ConfigFileError) as info:
        load_config(tmp_path)
    (problem,) = info.value.problems
    assert (problem.file, problem.key) == ("models.json", "my-model")
    assert f"{json.dumps(value)} is not a site model id" in str(problem)


def test_fresh_config_names_commands_as_the_user_types_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LMARENA_BRIDGE_PROG", "bash scripts/run.sh")
    ensure_default_files(tmp_path)
    text = (tmp_path / "config.jsonc").read_text(encoding="utf-8")
    assert "`bash scripts/run.sh check`" in text
    assert "`bash scripts/run.sh capture-ids`" in text
    assert "lmarena-bridge check" not in text


def test_fresh_config_leads_with_the_default_strategy() -> None:
    text = DEFAULT_CONFIG_JSONC
    keys = [line.strip().split('"')[1] for line in text.splitlines()
            if line.strip().startswith('"')]
    assert keys[:2] == ["version", "site_strategy"]
    strategy_comment = text[: text.index('"site_strategy":')].rsplit("// ----", 1)[1]
    assert '"create" (the default)' in strategy_comment
    # The keys only the legacy strategy reads sit under a heading that says so.
    legacy = text.index("---- Legacy retry strategy only")
    for key in ("session_id", "message_id", "bypass_enabled", "tavern_mode_enabled",
                "use_default_ids_if_mapping_not_found", "endpoint_pool_strategy"):
        assert text.index(f'"{key}":') > legacy, key
    assert '"Seed" below means' in text
