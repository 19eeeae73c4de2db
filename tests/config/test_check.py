from __future__ import annotations

import json
from pathlib import Path

from lmarena_bridge.config.check import FIX_FIRST, NO_IDS_HINT, RETRY_WARNING, check_config
from lmarena_bridge.config.defaults import ensure_default_files


def test_fresh_dir_reports_defaults(tmp_path: Path) -> None:
    lines, ok = check_config(tmp_path)
    assert ok
    assert lines[0] == f"Config dir: {tmp_path.resolve()}"
    assert "  config.jsonc: missing (defaults used; `lmarena-bridge serve` creates it)" in lines
    assert "No problems found." in lines
    # The default strategy needs no captured ids, so nothing asks for them.
    assert any(line.startswith("Site strategy: create") for line in lines)
    assert NO_IDS_HINT not in lines
    assert not any("session ids" in line for line in lines)
    assert any(line.startswith("API key: not set") for line in lines)
    assert "models.json: 2 models" in lines
    # The fresh files hold no image model the default strategy can use: check says how to
    # get one rather than "No problems found" alone.
    assert any(line.startswith("No image model usable") and
               "`lmarena-bridge update-models --apply`" in line for line in lines)
    assert "model_endpoint_map.json: 0 entries" in lines
    assert "available_models.json: 0 models" in lines
    assert "Listens on: 127.0.0.1:5102" in lines


def test_configured_dir(tmp_path: Path) -> None:
    ensure_default_files(tmp_path)
    (tmp_path / "config.jsonc").write_text(
        """{
  // mine
  "session_id": "0b2f-session", "message_id": "7c1d-message",
  "id_updater_last_mode": "battle", "id_updater_battle_target": "B",
  "site_strategy": "retry",
  "api_key": "sk-very-secret", "worker_token": "tok-secret",
  "host": "0.0.0.0", "port": 8080,
  "prot": 1,
}""",
        encoding="utf-8",
    )
    entry = {"session_id": "s", "message_id": "m"}
    (tmp_path / "model_endpoint_map.json").write_text(
        json.dumps({"a": entry, "b": [entry, entry]}), encoding="utf-8"
    )
    (tmp_path / "available_models.json").write_text(json.dumps([{"id": 1}]), encoding="utf-8")
    lines, ok = check_config(tmp_path)
    text = "\n".join(lines)
    assert ok
    assert "  config.jsonc: present" in lines
    assert "Site strategy: retry (legacy). " + RETRY_WARNING in lines
    assert "Mode of the global ids: battle (side B)" in lines
    assert "Global session ids: set" in lines
    assert NO_IDS_HINT not in lines
    assert "API key: set (required on /v1/* and the monitor)" in lines
    assert "secret" not in text
    assert "0b2f-session" not in text
    assert "Unknown keys in config.jsonc (ignored; typo?): prot" in lines
    assert "model_endpoint_map.json: 2 entries (1 pool)" in lines
    assert "available_models.json: 1 model" in lines
    assert "Listens on: 0.0.0.0:8080 (reachable from other machines)" in lines


def test_placeholder_ids_are_not_set(tmp_path: Path) -> None:
    (tmp_path / "config.jsonc").write_text(
        '{"session_id": "YOUR_SESSION_ID", "message_id": "YOUR_MESSAGE_ID",'
        ' "site_strategy": "retry"}',
        encoding="utf-8",
    )
    lines, ok = check_config(tmp_path)
    assert ok
    assert NO_IDS_HINT in lines


def test_problems_make_check_fail(tmp_path: Path) -> None:
    ensure_default_files(tmp_path)
    (tmp_path / "config.jsonc").write_text('{"port": "abc", "api_key": "k"}', encoding="utf-8")
    (tmp_path / "models.json").write_text('{"x": 1,,}', encoding="utf-8")
    lines, ok = check_config(tmp_path)
    assert not ok
    start = lines.index("Problems (2):")
    port_problem, models_problem = lines[start + 1 : start + 3]
    assert port_problem.startswith(
        "  config.jsonc: line 1: key 'port': Input should be a valid integer")
    assert models_problem.startswith("  models.json: line 1, column ")
    # The report stops there: no summary or advice built from built-in defaults.
    assert lines[start + 3 :] == [FIX_FIRST]


def test_legacy_image_model_under_create_is_named(tmp_path: Path) -> None:
    (tmp_path / "models.json").write_text(
        '{"nano-banana": "null:image", "gpt": "983bc566-b783-4d28-b24c-3c8b08eb1086"}',
        encoding="utf-8",
    )
    lines, ok = check_config(tmp_path, prog="bash scripts/run.sh")
    assert ok
    assert any(line.startswith("Image models without a site id (nano-banana)") and "retry" in line
               for line in lines)
    assert any("`bash scripts/run.sh update-models --apply`" in line for line in lines)


def test_image_advice_is_quiet_when_an_image_model_has_an_id(tmp_path: Path) -> None:
    (tmp_path / "models.json").write_text(
        '{"painter": "text-to-image:983bc566-b783-4d28-b24c-3c8b08eb1086",'
        ' "nano-banana": "null:image"}',
        encoding="utf-8",
    )
    lines, _ = check_config(tmp_path)
    assert not any(line.startswith("No image model usable") for line in lines)
    # The retry strategy can use "null:image": no advice about it there.
    (tmp_path / "config.jsonc").write_text('{"site_strategy": "retry"}', encoding="utf-8")
    lines, _ = check_config(tmp_path)
    assert not any(line.startswith(("Image models without", "No image model")) for line in lines)
