"""Worker protocol frames: typed parsing, tolerant spellings, refusal of bad shapes."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from lmarena_bridge.protocol.worker import (
    JOB_EVENTS,
    CommandFrame,
    Hello,
    HelloAck,
    HumanSolvedFrame,
    IdsCaptured,
    NeedsHumanFrame,
    PageSource,
    Pong,
    RecaptchaSpec,
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


@pytest.mark.parametrize(
    ("frame", "tab_state"),
    [
        ({"type": "status", "state": "needs_human", "reason": "recaptcha"}, "recaptcha"),
        ({"type": "status", "state": "needs_human", "reason": "Logged-Out"}, "logged_out"),
        ({"type": "status", "state": "challenge"}, "challenge"),
        ({"type": "status", "state": "wrong_origin"}, "wrong_origin"),
        ({"type": "status", "state": "ready", "reason": None}, "ready"),
    ],
)
def test_status_reports_map_to_one_tab_state(frame: dict[str, Any], tab_state: str) -> None:
    msg = parse_control(frame)
    assert isinstance(msg, StatusReport) and msg.tab_state == tab_state


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "status", "state": "needs_human"},  # a person is needed: for what?
        {"type": "status", "state": "needs_human", "reason": "bored"},
    ],
)
def test_needs_human_must_name_a_known_reason(frame: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        parse_control(frame)


def test_job_level_human_frames() -> None:
    needs = JOB_EVENTS["needs_human"].model_validate(
        {"request_id": "r1", "type": "needs_human", "reason": "recaptcha", "detail": "v2"})
    assert isinstance(needs, NeedsHumanFrame)
    assert (needs.reason, needs.detail) == ("recaptcha", "v2")
    solved = JOB_EVENTS["human_solved"].model_validate({"request_id": "r1", "type": "human_solved"})
    assert isinstance(solved, HumanSolvedFrame) and solved.reason == "recaptcha"


def test_hello_ack_and_jobs_carry_the_human_check_settings() -> None:
    ack = HelloAck(worker_id="w1", heartbeat_interval=15).model_dump()
    assert ack["recaptcha_v2_sitekey"] == "" and ack["human_check_timeout_seconds"] == 90
    spec = RecaptchaSpec(action="chat_submit", v2_timeout_seconds=30).model_dump()
    assert spec == {"action": "chat_submit", "v3_retries": 1, "v2_timeout_seconds": 30}
    assert CommandFrame(command="focus").model_dump() == {"command": "focus"}
