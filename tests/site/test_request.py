"""OpenAI chat/image requests -> seed-era job payloads (the legacy ``retry`` strategy,
site/legacy/)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from typing import Any

import pytest

from lmarena_bridge.config.model import BridgeConfig, EndpointEntry, ModelTarget, Settings
from lmarena_bridge.errors import InvalidRequest, ModelNotFound, NotConfigured
from lmarena_bridge.protocol.openai import ChatCompletionRequest
from lmarena_bridge.protocol.worker import JobPayload
from lmarena_bridge.site.job import SiteJob
from lmarena_bridge.site.legacy.rotation import EndpointRotation
from lmarena_bridge.site.legacy.seed_job import SeedRequest
from lmarena_bridge.site.legacy.strategy import LegacyRetryStrategy

SID, MID = "sess-global", "msg-global"
TEXT_ID = "e2d9d353-6dbe-4414-bf87-bd289d523726"
IMG_ID = "11111111-2222-3333-4444-555555555555"
PNG = "data:image/png;base64,iVBORw0KGgo="
JPEG = "data:image/jpeg;base64,/9j/4AAQ"


def config(
    models: dict[str, str] | None = None,
    endpoint_map: dict[str, list[dict[str, Any]]] | None = None,
    **settings: Any,
) -> BridgeConfig:
    base: dict[str, Any] = {"session_id": SID, "message_id": MID, "bypass_enabled": False,
                            "site_strategy": "retry"}
    base.update(settings)
    models = (
        {"gpt": TEXT_ID, "banana": "null:image", "painter": f"{IMG_ID}:image"}
        if models is None
        else models
    )
    return BridgeConfig(
        settings=Settings(**base),
        models={k: ModelTarget.parse(k, v) for k, v in models.items()},
        endpoint_map={
            k: tuple(EndpointEntry(**e) for e in v) for k, v in (endpoint_map or {}).items()
        },
    )


def chat(messages: list[dict[str, Any]], model: str = "gpt", **kw: Any) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate({"model": model, "messages": messages, **kw})


def counter() -> Callable[[], str]:
    numbers = itertools.count(1)
    return lambda: str(next(numbers))


def build(messages: list[dict[str, Any]], cfg: BridgeConfig | None = None, **kw: Any) -> SiteJob:
    model = kw.pop("model", "gpt")
    pick = kw.pop("pick", None)
    strategy = LegacyRetryStrategy(pick=pick)
    return strategy.chat_job(chat(messages, model, **kw), cfg or config(), new_id=counter())


def build_image_job(prompt: str, model: str | None, cfg: BridgeConfig) -> SiteJob:
    return LegacyRetryStrategy().image_job(prompt, model, cfg)


def seed(job: SiteJob) -> JobPayload:
    assert isinstance(job.request, SeedRequest) and job.requires is None
    return job.request.payload


def shape(job: SiteJob) -> list[tuple[str, str, str]]:
    return [(t.role, t.content, t.participantPosition) for t in seed(job).message_templates]


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def image(url: str, **extra: Any) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url, **extra}}


# ---- basics ----------------------------------------------------------------------------


def test_plain_text_job() -> None:
    job = build([{"role": "system", "content": "Be terse."}, user("Hi")])
    assert shape(job) == [("system", "Be terse.", "b"), ("user", "Hi", "a")]
    p = seed(job)
    assert (p.session_id, p.message_id, p.target_model_id, p.is_image_request) == (
        SID,
        MID,
        TEXT_ID,
        False,
    )
    assert (job.model, job.mode, job.battle_target, job.side, job.is_image) == (
        "gpt",
        "direct_chat",
        "A",
        "a",
        False,
    )
    assert job.target == ModelTarget("gpt", TEXT_ID)
    assert job.prompt_chars == len("Be terse.") + len("Hi")


@pytest.mark.parametrize(
    ("role", "expected"),
    [("developer", "system"), ("system", "system"), ("user", "user"), ("assistant", "assistant")],
)
def test_roles(role: str, expected: str) -> None:
    job = build([{"role": role, "content": "x"}, user("q")])
    assert seed(job).message_templates[0].role == expected


def test_function_messages_are_refused() -> None:
    with pytest.raises(InvalidRequest) as exc:
        build([user("q"), {"role": "function", "content": "42", "name": "f"}])
    assert exc.value.param == "messages"


def test_tool_results_become_user_text() -> None:
    job = build([user("q"), {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function",
         "function": {"name": "f", "arguments": '{"x": 1}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "42"}, user("r")])
    roles = [(t.role, t.content) for t in seed(job).message_templates]
    assert roles[1] == ("assistant", '<tool_call>{"name": "f", "arguments": {"x": 1}}</tool_call>')
    assert roles[2][0] == "user" and "42" in roles[2][1] and 'name="f"' in roles[2][1]


def test_tools_refused_when_tool_calling_is_refuse() -> None:
    with pytest.raises(InvalidRequest) as exc:
        build([user("q")], cfg=config(tool_calling="refuse"),
              tools=[{"type": "function", "function": {"name": "f"}}])
    assert exc.value.param == "tools"


def test_reasoning_content_is_dropped() -> None:
    job = build(
        [user("q"), {"role": "assistant", "content": "A", "reasoning_content": "secret"}, user("r")]
    )
    assert [t.content for t in seed(job).message_templates] == ["q", "A", "r"]
    assert "secret" not in seed(job).model_dump_json()


@pytest.mark.parametrize(
    ("content", "expected"),
    [("", " "), (None, " "), ("   ", " "), ([], " "), ([{"type": "text", "text": ""}], " ")],
)
def test_empty_user_text_becomes_space(content: Any, expected: str) -> None:
    assert seed(build([user(content)])).message_templates[0].content == expected


def test_empty_assistant_text_stays_empty() -> None:
    job = build([user("q"), {"role": "assistant", "content": None}, user("r")])
    assert seed(job).message_templates[1].content == ""


def test_text_parts_joined() -> None:
    job = build([user([{"type": "text", "text": "one"}, {"type": "text", "text": "two"}])])
    assert seed(job).message_templates[0].content == "one\n\ntwo"


# ---- request-level refusals ----------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "param"),
    [
        ({"n": 2}, "n"),
        ({"functions": [{"name": "f"}]}, "functions"),
    ],
)
def test_unsupported_request_fields(kw: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as exc:
        build([user("q")], **kw)
    assert exc.value.param == param
    assert exc.value.status == 400


@pytest.mark.parametrize("kw", [{"n": 1}, {"n": None}, {"tools": []}, {"functions": None}])
def test_harmless_request_fields(kw: dict[str, Any]) -> None:
    build([user("q")], **kw)


def test_empty_messages() -> None:
    with pytest.raises(InvalidRequest) as exc:
        build([])
    assert exc.value.param == "messages"


def test_unknown_model() -> None:
    with pytest.raises(ModelNotFound) as exc:
        build([user("q")], model="nope")
    assert (exc.value.status, exc.value.param) == (404, "model")


def test_model_only_in_endpoint_map() -> None:
    cfg = config(endpoint_map={"mapped": [{"session_id": "s1", "message_id": "m1"}]})
    job = build([user("q")], cfg, model="mapped")
    assert job.target is None
    assert seed(job).target_model_id is None
    assert (seed(job).session_id, seed(job).message_id) == ("s1", "m1")


# ---- attachments ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "name", "mime"),
    [
        (PNG, "image_1.png", "image/png"),
        (JPEG, "image_1.jpg", "image/jpeg"),
        ("data:image/webp;base64,UklGR", "image_1.webp", "image/webp"),
        ("data:image/gif;base64,R0lG", "image_1.gif", "image/gif"),
        ("data:image/svg+xml;base64,PHN2", "image_1.svg", "image/svg+xml"),
        ("data:IMAGE/PNG;base64,iVBO", "image_1.png", "image/png"),
        ("data:image/x-foo;base64,AAAA", "image_1.foo", "image/x-foo"),
        ("https://ex.com/pics/cat.JPG", "cat.JPG", "image/jpeg"),
        ("https://ex.com/a/b/dog.webp?size=2#frag", "dog.webp", "image/webp"),
        ("http://ex.com/my%20photo.gif", "my_photo.gif", "image/gif"),
        ("https://ex.com/img?id=3", "image_1.png", "image/png"),
        ("https://ex.com/", "image_1.png", "image/png"),
        ("https://ex.com/file.unknownext", "file.unknownext", "image/png"),
    ],
)
def test_image_attachments(url: str, name: str, mime: str) -> None:
    job = build([user([{"type": "text", "text": "look"}, image(url, detail="high")])])
    (att,) = seed(job).message_templates[0].attachments
    assert (att.name, att.contentType, att.url) == (name, mime, url)
    assert seed(job).message_templates[0].content == "look"


def test_attachment_names_are_unique_across_messages() -> None:
    job = build(
        [
            user([image(PNG), image(JPEG)]),
            {"role": "assistant", "content": "ok"},
            user([image(PNG)]),
        ]
    )
    names = [a.name for t in seed(job).message_templates for a in t.attachments]
    assert names == ["image_1.png", "image_2.jpg", "image_3.png"]


def test_image_url_as_plain_string_is_accepted() -> None:
    job = build([user([{"type": "image_url", "image_url": PNG}])])
    assert seed(job).message_templates[0].attachments[0].url == PNG


@pytest.mark.parametrize(
    ("parts", "param"),
    [
        ([{"type": "text", "text": "a"}, image("data:image/png;base64")], "messages[1].content[1]"),
        ([image("data:;base64,AAAA")], "messages[1].content[0]"),
        ([image("data:image/png;base64,")], "messages[1].content[0]"),
        ([image("ftp://ex.com/a.png")], "messages[1].content[0]"),
        ([image("file:///etc/passwd")], "messages[1].content[0]"),
        ([image("/relative/a.png")], "messages[1].content[0]"),
        (
            [{"type": "text", "text": "a"}, {"type": "input_audio", "input_audio": {}}],
            "messages[1].content[1]",
        ),
        ([{"type": "file", "file": {"file_id": "x"}}], "messages[1].content[0]"),
        ([{"type": "text"}], "messages[1].content[0]"),
    ],
)
def test_bad_parts_are_refused_with_their_path(parts: list[dict[str, Any]], param: str) -> None:
    with pytest.raises(InvalidRequest) as exc:
        build([{"role": "system", "content": "s"}, user(parts)])
    assert exc.value.param == param


# ---- tavern / bypass / --bypass --------------------------------------------------------


def test_tavern_merges_system_messages_to_front() -> None:
    msgs = [
        {"role": "system", "content": "S1"},
        user("u1"),
        {"role": "developer", "content": "S2"},
        {"role": "assistant", "content": "a1"},
        {"role": "system", "content": "S3"},
        user("u2"),
    ]
    job = build(msgs, config(tavern_mode_enabled=True))
    assert shape(job) == [
        ("system", "S1\n\nS2\n\nS3", "b"),
        ("user", "u1", "a"),
        ("assistant", "a1", "a"),
        ("user", "u2", "a"),
    ]


def test_tavern_off_keeps_order() -> None:
    msgs = [user("u1"), {"role": "system", "content": "S"}, user("u2")]
    assert [t.content for t in seed(build(msgs)).message_templates] == ["u1", "S", "u2"]


def test_tavern_without_system_messages() -> None:
    assert shape(build([user("u")], config(tavern_mode_enabled=True))) == [("user", "u", "a")]


@pytest.mark.parametrize(
    ("model", "bypass", "expected_tail"),
    [
        ("gpt", True, [("user", "q", "a"), ("user", " ", "a")]),
        ("gpt", False, [("user", "q", "a")]),
        ("banana", True, [("user", "q", "a")]),
        ("painter", True, [("user", "q", "a")]),
    ],
)
def test_bypass_mode(model: str, bypass: bool, expected_tail: list[tuple[str, str, str]]) -> None:
    job = build([user("q")], config(bypass_enabled=bypass), model=model)
    assert shape(job) == expected_tail


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("describe this --bypass", "describe this"),
        ("describe this--bypass", "describe this"),  # the seed ate the last 's' here
        ("describe this --bypass  \n", "describe this"),
        ("--bypass", " "),
    ],
)
def test_image_bypass_trick(text: str, expected: str) -> None:
    job = build([user([{"type": "text", "text": text}, image(PNG)])])
    t = seed(job).message_templates
    assert [(m.role, m.content) for m in t] == [
        ("user", "Hi"),
        ("assistant", ""),
        ("user", expected),
    ]
    assert [a.url for a in t[1].attachments] == [PNG]
    assert t[2].attachments == []
    assert t[0].attachments == []


def test_image_bypass_keeps_history_and_runs_before_bypass_mode() -> None:
    msgs = [
        {"role": "system", "content": "S"},
        user("u1"),
        {"role": "assistant", "content": "a1"},
        user([{"type": "text", "text": "look --bypass"}, image(JPEG)]),
    ]
    job = build(msgs, config(bypass_enabled=True))
    assert shape(job) == [
        ("system", "S", "b"),
        ("user", "u1", "a"),
        ("assistant", "a1", "a"),
        ("assistant", "", "a"),
        ("user", "look", "a"),
        ("user", " ", "a"),
    ]
    assert seed(job).message_templates[3].attachments[0].url == JPEG


@pytest.mark.parametrize(
    "messages",
    [
        [user("just text --bypass")],  # no image
        [user([{"type": "text", "text": "no marker"}, image(PNG)])],
        [user([{"type": "text", "text": "--bypass in the middle"}, image(PNG)])],
        [
            user([{"type": "text", "text": "x --bypass"}, image(PNG)]),
            {"role": "assistant", "content": "last"},
        ],
    ],
)
def test_image_bypass_not_applied(messages: list[dict[str, Any]]) -> None:
    job = build(messages)
    assert [t.role for t in seed(job).message_templates] == [m["role"] for m in messages]


# ---- modes, positions and ids --------------------------------------------------------

MSGS = [
    {"role": "system", "content": "S"},
    user("u"),
    {"role": "assistant", "content": "a"},
    user("v"),
]


@pytest.mark.parametrize(
    ("mode", "target", "positions", "side"),
    [
        ("direct_chat", "A", ["b", "a", "a", "a", "a"], "a"),
        ("direct_chat", "B", ["b", "a", "a", "a", "a"], "a"),
        ("battle", "A", ["a"] * 5, "a"),
        ("battle", "B", ["b"] * 5, "b"),
    ],
)
def test_positions_from_global_mode(
    mode: str, target: str, positions: list[str], side: str
) -> None:
    cfg = config(bypass_enabled=True, id_updater_last_mode=mode, id_updater_battle_target=target)
    job = build(MSGS, cfg)
    assert [t.participantPosition for t in seed(job).message_templates] == positions
    assert (job.mode, job.battle_target, job.side) == (mode, target, side)


@pytest.mark.parametrize(
    ("entry", "settings", "expected"),
    [
        ({"mode": "battle", "battle_target": "B"}, {}, ("battle", "B", "b")),
        ({"mode": "battle"}, {"id_updater_battle_target": "B"}, ("battle", "A", "a")),
        ({"mode": "direct_chat"}, {"id_updater_last_mode": "battle"}, ("direct_chat", "A", "a")),
        (
            {},
            {"id_updater_last_mode": "battle", "id_updater_battle_target": "B"},
            ("battle", "B", "b"),
        ),
        ({}, {}, ("direct_chat", "A", "a")),
        ({"mode": "Battle", "battle_target": "b"}, {}, ("battle", "B", "b")),
    ],
)
def test_endpoint_entry_mode(
    entry: dict[str, Any], settings: dict[str, Any], expected: tuple[str, str, str]
) -> None:
    cfg = config(
        endpoint_map={"gpt": [{"session_id": "s1", "message_id": "m1", **entry}]}, **settings
    )
    job = build(MSGS, cfg)
    assert (job.mode, job.battle_target, job.side) == expected
    assert (seed(job).session_id, seed(job).message_id) == ("s1", "m1")


def test_pool_uses_pick_and_defaults_to_first() -> None:
    pool = [{"session_id": f"s{i}", "message_id": f"m{i}"} for i in range(3)]
    cfg = config(endpoint_map={"gpt": pool})
    assert seed(build([user("q")], cfg)).session_id == "s0"
    seen: list[tuple[str, int]] = []

    def last(model: str, entries: Any) -> EndpointEntry:
        seen.append((model, len(entries)))
        return entries[-1]

    assert seed(build([user("q")], cfg, pick=last)).session_id == "s2"
    assert seen == [("gpt", 3)]


def test_round_robin_rotation_per_model() -> None:
    pool = [{"session_id": f"s{i}", "message_id": f"m{i}"} for i in range(3)]
    other = [{"session_id": "o", "message_id": "o"}]
    cfg = config(endpoint_map={"gpt": pool, "painter": other})
    rot = EndpointRotation()
    got = [seed(build([user("q")], cfg, pick=rot.pick)).session_id for _ in range(4)]
    assert got == ["s0", "s1", "s2", "s0"]
    assert seed(build([user("q")], cfg, model="painter", pick=rot.pick)).session_id == "o"
    assert seed(build([user("q")], cfg, pick=rot.pick)).session_id == "s1"
    rot.reset()
    assert seed(build([user("q")], cfg, pick=rot.pick)).session_id == "s0"


def test_random_rotation() -> None:
    entries = tuple(EndpointEntry(session_id=f"s{i}", message_id="m") for i in range(4))
    rot = EndpointRotation("random", rng=random.Random(7))
    picked = {rot.pick("gpt", entries).session_id for _ in range(100)}
    assert picked == {"s0", "s1", "s2", "s3"}
    with pytest.raises(ValueError):
        EndpointRotation("sticky")
    with pytest.raises(ValueError):
        EndpointRotation().pick("gpt", ())


def test_no_mapping_and_defaults_disabled() -> None:
    cfg = config(use_default_ids_if_mapping_not_found=False)
    with pytest.raises(NotConfigured) as exc:
        build([user("q")], cfg)
    assert "model_endpoint_map.json" in exc.value.message
    assert "use_default_ids_if_mapping_not_found" in exc.value.message


@pytest.mark.parametrize(
    ("sid", "mid"),
    [("", ""), ("", MID), (SID, ""), ("YOUR_SESSION_ID", MID), (SID, "YOUR_MESSAGE_ID")],
)
def test_missing_global_ids(sid: str, mid: str) -> None:
    with pytest.raises(NotConfigured) as exc:
        build([user("q")], config(session_id=sid, message_id=mid))
    assert "capture-ids" in exc.value.message
    assert exc.value.status == 400


def test_missing_ids_in_endpoint_entry() -> None:
    cfg = config(endpoint_map={"gpt": [{"session_id": "YOUR_SESSION_ID", "message_id": "m"}]})
    with pytest.raises(NotConfigured) as exc:
        build([user("q")], cfg)
    assert "capture-ids" in exc.value.message


# ---- image models ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "target_id"),
    [("banana", None), ("painter", IMG_ID)],
)
def test_image_model_in_chat(model: str, target_id: str | None) -> None:
    job = build([user("a cat")], config(bypass_enabled=True), model=model)
    assert job.is_image and seed(job).is_image_request
    assert seed(job).target_model_id == target_id
    assert shape(job) == [("user", "a cat", "a")]


@pytest.mark.parametrize(
    ("model", "name", "target_id"),
    [
        ("painter", "painter", IMG_ID),
        ("banana", "banana", None),
        (None, "banana", None),
        ("dall-e-3", "banana", None),
        ("DALL-E-2", "banana", None),
    ],
)
def test_image_job(model: str | None, name: str, target_id: str | None) -> None:
    job = build_image_job("a red fox", model, config(bypass_enabled=True))
    assert job.model == name
    assert job.is_image and seed(job).is_image_request
    assert seed(job).target_model_id == target_id
    assert shape(job) == [("user", "a red fox", "a")]
    assert job.prompt_chars == len("a red fox")


def test_image_job_battle_side() -> None:
    cfg = config(id_updater_last_mode="battle", id_updater_battle_target="B")
    job = build_image_job("fox", "painter", cfg)
    assert (job.side, shape(job)) == ("b", [("user", "fox", "b")])


def test_image_job_uses_endpoint_map() -> None:
    cfg = config(endpoint_map={"painter": [{"session_id": "ps", "message_id": "pm"}]})
    job = build_image_job("fox", "painter", cfg)
    assert (seed(job).session_id, seed(job).message_id) == ("ps", "pm")


@pytest.mark.parametrize(
    ("model", "models", "error", "param"),
    [
        ("gpt", None, InvalidRequest, "model"),
        ("nope", None, ModelNotFound, "model"),
        (None, {"gpt": TEXT_ID}, NotConfigured, "model"),
        ("dall-e-3", {"gpt": TEXT_ID}, NotConfigured, "model"),
    ],
)
def test_image_job_errors(
    model: str | None, models: dict[str, str] | None, error: type[Exception], param: str
) -> None:
    with pytest.raises(error) as exc:
        build_image_job("fox", model, config(models))
    assert exc.value.param == param  # type: ignore[attr-defined]


def test_image_job_empty_prompt() -> None:
    with pytest.raises(InvalidRequest) as exc:
        build_image_job("  ", None, config())
    assert exc.value.param == "prompt"
