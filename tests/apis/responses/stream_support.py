"""Runs a Responses request's encoder over site events, as the lifecycle does, and checks
every event and body against the openai SDK's own models (openai.types.responses)."""

from __future__ import annotations

from typing import Any, get_args

import orjson
from openai.types.responses import Response, ResponseStreamEvent

from lmarena_bridge.apis.responses.call import responses_call
from lmarena_bridge.apis.responses.wire import ResponsesRequest
from lmarena_bridge.errors import BridgeError
from lmarena_bridge.relay.completions import AnswerBuilder
from lmarena_bridge.relay.tool_calls import ToolSet
from lmarena_bridge.site.events import Event, TextDelta

EVENT_MODELS = {
    cls.model_fields["type"].annotation.__args__[0]: cls
    for cls in get_args(get_args(ResponseStreamEvent)[0])
}


def text_events(text: str, size: int) -> list[Event]:
    return [TextDelta(text[i : i + size]) for i in range(0, len(text), size)]


def builder(body: dict[str, Any], keep_text: bool) -> tuple[Any, AnswerBuilder]:
    rc = responses_call(ResponsesRequest.model_validate(body), created_at=1_800_000_000)
    call = rc.call
    answer = AnswerBuilder(
        stops=call.request.stop_sequences(),
        token_limit=call.request.token_limit(),
        reasoning_mode=call.reasoning_mode or "drop",
        prompt_chars=40,
        keep_text=keep_text,
        tools=ToolSet.from_request(call.request),
        new_call_id=call.new_call_id,
    )
    return call, answer


def stream(body: dict[str, Any], events: list[Event], *, open_late: bool = False
           ) -> list[dict[str, Any]]:
    """The SSE events of one streamed answer, each checked against the SDK's model.
    ``open_late``: ``open()`` is called after the first pieces are encoded (and its frames
    still sent first), as a lifecycle that commits on the first frame may do."""
    call, answer = builder({**body, "stream": True}, keep_text=False)
    enc = call.encoder
    data = b"" if open_late else enc.open()
    try:
        for ev in events:
            data += enc.pieces(answer.feed([ev]))
            if open_late and data:
                data, open_late = enc.open() + data, False
            if answer.ended:
                break
        data += enc.pieces(answer.finish())
        data = (enc.open() if open_late else b"") + data + enc.close(answer)
    except BridgeError as exc:
        data = (enc.open() if open_late else b"") + data + enc.error(exc)
    return parse(data)


def body(body: dict[str, Any], events: list[Event]) -> dict[str, Any]:
    call, answer = builder(body, keep_text=True)
    for ev in events:
        answer.feed([ev])
        if answer.ended:
            break
    answer.finish()
    out: dict[str, Any] = call.encoder.body(answer)
    Response.model_validate(out)
    return out


def parse(data: bytes) -> list[dict[str, Any]]:
    assert data.endswith(b"\n\n")
    out = []
    for frame in data[:-2].split(b"\n\n"):
        if frame.startswith(b":"):
            continue
        head, payload = frame.split(b"\n")
        event = orjson.loads(payload.removeprefix(b"data: "))
        assert head == b"event: " + event["type"].encode()
        EVENT_MODELS[event["type"]].model_validate(event)
        out.append(event)
    assert [e["sequence_number"] for e in out] == list(range(len(out)))
    return out


def squash(types: list[str]) -> list[str]:
    """Event types with runs of one delta type written once (chunk splits vary them)."""
    out: list[str] = []
    for t in types:
        if not (out and out[-1] == t and t.endswith(".delta")):
            out.append(t)
    return out
