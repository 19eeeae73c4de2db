"""The create strategy: UUIDv7 ids, the 2026 body, the transcript, job building."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from lmarena_bridge.config.model import BridgeConfig, ModelTarget, Settings
from lmarena_bridge.errors import InvalidRequest, ModelNotFound, NotConfigured
from lmarena_bridge.protocol.openai import ChatCompletionRequest
from lmarena_bridge.protocol.worker import Capability, JobFrame
from lmarena_bridge.site.evaluation import CREATE_PATH, Evaluation, uuid7
from lmarena_bridge.site.job import SiteJob
from lmarena_bridge.site.strategy import strategy_for
from lmarena_bridge.site.transcript import TranscriptFormat, flatten

TEXT_ID = "e2d9d353-6dbe-4414-bf87-bd289d523726"
IMG_ID = "51ad1d79-61e2-414c-99e3-faeb64bb6b1b"
SEARCH_ID = "7a0c9a2e-3f5b-4c1d-9e8f-1b2c3d4e5f60"
PNG = "data:image/png;base64,iVBORw0KGgo="


# ---- UUIDv7 --------------------------------------------------------------------------


def test_uuid7_layout_and_time() -> None:
    before = int(time.time() * 1000)
    value = uuid.UUID(uuid7())
    after = int(time.time() * 1000)
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert before <= value.int >> 80 <= after


def test_uuid7_fixed_inputs() -> None:
    text = uuid7(now_ms=0x0123_4567_89AB, rand=lambda n: b"\xff" * n)
    assert text == "01234567-89ab-7fff-bfff-ffffffffffff"
    text = uuid7(now_ms=0x0123_4567_89AB, rand=lambda n: b"\x00" * n)
    assert text == "01234567-89ab-7000-8000-000000000000"


def test_uuid7_unique_and_time_ordered() -> None:
    ids = [uuid7(now_ms=1_700_000_000_000 + i) for i in range(200)]
    assert len(set(ids)) == 200
    assert ids == sorted(ids)


# ---- the body ------------------------------------------------------------------------


def test_create_body_direct() -> None:
    payload = Evaluation(mode="direct-battle", modality="chat", content="Hi",
                         model_a_id=TEXT_ID).attempt()
    body = payload.body
    assert payload.path == CREATE_PATH and payload.method == "POST"
    assert payload.recaptcha is not None and payload.recaptcha.action == "chat_submit"
    assert set(body) == {"id", "mode", "modelAId", "userMessageId", "modelAMessageId",
                         "userMessage", "modality"}
    assert body["userMessage"] == {"content": "Hi", "experimental_attachments": [],
                                   "metadata": {}}
    assert "recaptchaV3Token" not in body  # the tab adds it
    assert payload.stop_path == (
        f"/nextjs-api/stream/stop/{body['id']}/messages/{body['userMessageId']}"
    )
    for key in ("id", "userMessageId", "modelAMessageId"):
        assert uuid.UUID(body[key]).version == 7
    JobFrame.model_validate({"request_id": "r", "payload": payload.model_dump()})


@pytest.mark.parametrize(
    ("mode", "present", "absent"),
    [
        ("battle", {"modelBMessageId"}, {"modelAId", "modelBId"}),
        ("side-by-side", {"modelAId", "modelBId", "modelBMessageId"}, set()),
        ("direct", {"modelAId"}, {"modelBId", "modelBMessageId"}),
    ],
)
def test_fields_by_mode(mode: Any, present: set[str], absent: set[str]) -> None:
    body = Evaluation(mode=mode, modality="chat", content="x", model_a_id=TEXT_ID,
                      model_b_id=IMG_ID).attempt().body
    assert present <= set(body)
    assert not absent & set(body)


def test_every_attempt_has_new_ids() -> None:
    ev = Evaluation(mode="direct-battle", modality="chat", content="x", model_a_id=TEXT_ID)
    first, second = ev.attempt().body, ev.attempt().body
    for key in ("id", "userMessageId", "modelAMessageId"):
        assert first[key] != second[key]


def test_post_to_existing_session_keeps_its_id() -> None:
    ev = Evaluation(mode="direct", modality="chat", content="x", model_a_id=TEXT_ID,
                    session_id="0190aaaa-0000-7000-8000-000000000000")
    payload = ev.attempt()
    assert payload.path == f"/nextjs-api/stream/post-to-evaluation/{ev.session_id}"
    assert payload.body["id"] == ev.session_id


# ---- the transcript ------------------------------------------------------------------

FMT = TranscriptFormat()


@pytest.mark.parametrize(
    ("turns", "expected"),
    [
        ([("user", "Hello")], "Hello"),
        ([("system", "Be terse."), ("user", "Hi")], "System: Be terse.\n\nUser: Hi"),
        (
            [("user", "a"), ("assistant", "b"), ("system", "late rule"), ("user", "c")],
            "System: late rule\n\nUser: a\n\nAssistant: b\n\nUser: c",
        ),
        ([("user", "a"), ("assistant", "b")], "User: a\n\nAssistant: b"),
        ([("system", "   "), ("user", "x")], "User: x"),
        ([("user", "{role} {content} {0}")], "{role} {content} {0}"),
    ],
)
def test_flatten(turns: list[tuple[str, str]], expected: str) -> None:
    assert flatten(turns, FMT) == expected


def test_flatten_custom_format() -> None:
    fmt = TranscriptFormat(turn="<{role}>\n{content}\n</{role}>", separator="\n",
                           role_names={"user": "human", "assistant": "ai"})
    text = flatten([("user", "a"), ("assistant", "b"), ("user", "c")], fmt)
    assert text == "<human>\na\n</human>\n<ai>\nb\n</ai>\n<human>\nc\n</human>"


# ---- building jobs -------------------------------------------------------------------


def config(**settings: Any) -> BridgeConfig:
    models = {"gpt": TEXT_ID, "painter": f"{IMG_ID}:image", "banana": "null:image",
              "finder": f"search:{SEARCH_ID}", "listed": "text:" + SEARCH_ID}
    return BridgeConfig(
        settings=Settings(**settings),
        models={k: ModelTarget.parse(k, v) for k, v in models.items()},
        available_models=(),
    )


def chat(messages: list[dict[str, Any]], model: str = "gpt") -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate({"model": model, "messages": messages})


def build_site_job(req: ChatCompletionRequest, cfg: BridgeConfig) -> SiteJob:
    return strategy_for(cfg.settings).chat_job(req, cfg)


def build_image_job(prompt: str, model: str | None, cfg: BridgeConfig) -> SiteJob:
    return strategy_for(cfg.settings).image_job(prompt, model, cfg)


def test_create_is_the_default_and_needs_no_ids() -> None:
    cfg = config()
    assert cfg.settings.site_strategy == "create" and cfg.settings.session_id == ""
    job = build_site_job(chat([{"role": "user", "content": "Hello"}]), cfg)
    assert job.requires == Capability.SITE_REQUEST and isinstance(job.request, Evaluation)
    payload = job.attempt_payload()
    body = payload["body"]
    assert body["mode"] == "direct-battle" and body["modelAId"] == TEXT_ID
    assert body["modality"] == "chat" and body["userMessage"]["content"] == "Hello"
    assert job.side == "a" and job.prompt_chars == 5


def test_direct_mode_switch() -> None:
    job = build_site_job(chat([{"role": "user", "content": "x"}]), config(direct_mode="direct"))
    assert job.attempt_payload()["body"]["mode"] == "direct"


def test_transcript_and_attachments_reach_the_site() -> None:
    job = build_site_job(chat([
        {"role": "developer", "content": "Rules."},
        {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                     {"type": "image_url", "image_url": {"url": PNG}}]},
        {"role": "assistant", "content": "A dot."},
        {"role": "user", "content": "Sure?"},
    ]), config())
    message = job.attempt_payload()["body"]["userMessage"]
    assert message["content"] == (
        "System: Rules.\n\nUser: What is this?\n\nAssistant: A dot.\n\nUser: Sure?"
    )
    assert [a["contentType"] for a in message["experimental_attachments"]] == ["image/png"]
    assert message["experimental_attachments"][0]["url"] == PNG


@pytest.mark.parametrize(
    ("model", "modality"),
    [("gpt", "chat"), ("painter", "image"), ("finder", "search"), ("listed", "chat")],
)
def test_modality_from_the_model(model: str, modality: str) -> None:
    job = build_site_job(chat([{"role": "user", "content": "x"}], model=model), config())
    assert job.attempt_payload()["body"]["modality"] == modality
    assert job.is_image == (modality == "image")


def test_search_capability_from_available_models() -> None:
    cfg = config()
    cfg = BridgeConfig(settings=cfg.settings, models=cfg.models, available_models=(
        {"id": TEXT_ID, "capabilities": {"outputCapabilities": {"text": True, "search": True}}},
    ))
    job = build_site_job(chat([{"role": "user", "content": "x"}]), cfg)
    assert job.attempt_payload()["body"]["modality"] == "search"


def test_battle_pseudo_model() -> None:
    job = build_site_job(chat([{"role": "user", "content": "x"}], model="battle"),
                         config(battle_side="B"))
    body = job.attempt_payload()["body"]
    assert body["mode"] == "battle" and "modelAId" not in body and "modelBMessageId" in body
    assert job.side == "b"


def test_model_without_site_id_is_a_clear_error() -> None:
    with pytest.raises(NotConfigured, match="site model id"):
        build_site_job(chat([{"role": "user", "content": "x"}], model="banana"), config())
    with pytest.raises(ModelNotFound):
        build_site_job(chat([{"role": "user", "content": "x"}], model="nope"), config())


def test_image_generation_job() -> None:
    job = build_image_job("a fox", "painter", config())
    body = job.attempt_payload()["body"]
    assert body["modality"] == "image" and body["modelAId"] == IMG_ID
    assert body["userMessage"]["content"] == "a fox"
    with pytest.raises(InvalidRequest):
        build_image_job("a fox", "gpt", config())
