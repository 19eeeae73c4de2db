"""docs/configuration.md documents every setting with its real default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmarena_bridge.config.model import Settings

DOC = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_every_setting_is_documented_with_its_default(name: str) -> None:
    default = Settings.model_fields[name].get_default(call_default_factory=True)
    assert f"| `{name}` | `{json.dumps(default, ensure_ascii=False)}` |" in DOC
