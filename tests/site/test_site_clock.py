"""Ids on the site's clock (site/evaluation.py on_site_clock) and the clock_skew error."""

from __future__ import annotations

from lmarena_bridge.site.evaluation import Evaluation, on_site_clock, uuid7_ms
from lmarena_bridge.site.failures import classify_failure

SITE_MS = 1_900_000_000_000


def test_new_session_ids_move_to_the_sites_clock() -> None:
    payload = Evaluation(mode="direct", modality="chat", content="hi",
                         model_a_id="m").attempt().model_dump()
    before = dict(payload["body"])
    on_site_clock(payload, SITE_MS)
    body = payload["body"]
    for key in ("id", "userMessageId", "modelAMessageId"):
        assert uuid7_ms(body[key]) is not None
        assert abs(uuid7_ms(body[key]) - SITE_MS) < 50  # type: ignore[operator]
        assert body[key][14:] == before[key][14:]  # version, variant and random bits kept
    assert payload["stop_path"].endswith(f"{body['id']}/messages/{body['userMessageId']}")


def test_a_posts_session_id_stays() -> None:
    payload = Evaluation(mode="direct", modality="chat", content="hi", model_a_id="m",
                         session_id="0190a4c2-0000-7000-8000-000000000001").attempt().model_dump()
    on_site_clock(payload, SITE_MS)
    assert payload["body"]["id"] == "0190a4c2-0000-7000-8000-000000000001"
    assert payload["path"].endswith("/0190a4c2-0000-7000-8000-000000000001")
    assert uuid7_ms(payload["body"]["userMessageId"]) == SITE_MS


def test_other_payloads_untouched() -> None:
    seed = {"message_templates": [], "session_id": "x"}
    on_site_clock(seed, SITE_MS)
    assert seed == {"message_templates": [], "session_id": "x"}


def test_spoofed_offset_is_clock_skew() -> None:
    err = classify_failure(status=400, content_type="application/json",
                           body='{"error":"Evaluation session ID seems spoofed, offset too big"}')
    assert (err.status, err.code) == (502, "clock_skew")
    assert "clock" in err.message
