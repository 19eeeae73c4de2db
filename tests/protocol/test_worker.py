"""Worker protocol frames: typed parsing, tolerant spellings, refusal of bad shapes."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from lmarena_bridge.protocol.worker import (
    Hello,
    IdsCaptured,
    PageSource,
    Pong,
    StatusReport,
    parse_control,
)


@pytest.mark.parametrize(
    ("frame", "kind", "check"),
    [
        ({"type": "hello", "protocol": 2, "version": "1.0.0", "page": "https://lmarena.ai/",
          "capabilities": ["abort"]}, Hello, lambda m: m.capabilities == ["abort"]),
        ({"type": "hello"}, Hello, lambda m: m.protocol == 2),
        ({"type": "pong", "ts": 1.5}, Pong, lambda m: m.ts == 1.5),
        ({"type": "status", "state": "ready"}, StatusReport, lambda m: m.state == "ready"),
        ({"type": "status", "state": "logged-out"}, StatusReport,
         lambda m: m.state == "logged_out"),
        ({"type": "status", "state": "Challenge", "detail": "Just a moment"}, StatusReport,
         lambda m: m.state == "challenge"),
        ({"type": "ids_captured", "session_id": "s", "message_id": "m"}, IdsCaptured,
         lambda m: (m.session_id, m.message_id) == ("s", "m")),
        ({"type": "page_source", "html": "<html></html>"}, PageSource,
         lambda m: m.html.startswith("<html")),
    ],
)
def test_control_frames_parse(frame: dict[str, Any], kind: type, check: Any) -> None:
    msg = parse_control(frame)
    assert isinstance(msg, kind)
    assert check(msg)


@pytest.mark.parametrize("frame", [{"type": "weird"}, {"no": "type"}, {"type": 3}])
def test_unknown_frames_are_none(frame: dict[str, Any]) -> None:
    assert parse_control(frame) is None


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "status", "state": "bogus"},
        {"type": "ids_captured", "session_id": "s"},
        {"type": "page_source"},
        {"type": "hello", "capabilities": "abort"},
    ],
)
def test_malformed_frames_raise_validation_error(frame: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        parse_control(frame)
