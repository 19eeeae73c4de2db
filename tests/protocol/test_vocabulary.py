"""The tab's vocabulary is spelled once (protocol/worker.py) and the userscript agrees."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

from lmarena_bridge.protocol.worker import (
    ANSWER_HEADERS,
    CAPABILITIES,
    HEALTH_STATES,
    HUMAN_REASONS,
    TAB_STATES,
    Capability,
    Hello,
)
from lmarena_bridge.site import ratelimit

USERSCRIPT = (Path(__file__).resolve().parents[2]
              / "src/lmarena_bridge/userscript/lmarena-bridge.user.js")


def test_userscript_hello_names_exactly_the_capabilities() -> None:
    source = USERSCRIPT.read_text(encoding="utf-8")
    found = re.search(r"const CAPABILITIES = \[(.*?)\];", source, re.DOTALL)
    assert found is not None
    names = json.loads("[" + found.group(1).strip().rstrip(",") + "]")
    assert names == list(CAPABILITIES)


def test_states_and_reasons() -> None:
    assert HEALTH_STATES == ("ready", "busy", "cooling_down", "needs_human", "disconnected")
    assert ("ready", *HUMAN_REASONS) == TAB_STATES
    assert Capability.SITE_REQUEST == "site_request"  # a plain string where one is compared


def test_answer_headers_are_what_the_parser_reads() -> None:
    read = set(re.findall(r'hdrs\.get\("([a-z-]+)"', inspect.getsource(ratelimit)))
    assert read == set(ANSWER_HEADERS)


def test_hello_account_is_optional() -> None:
    assert Hello.model_validate({"type": "hello"}).account == ""
    assert Hello.model_validate({"type": "hello", "account": "acct-1"}).account == "acct-1"
