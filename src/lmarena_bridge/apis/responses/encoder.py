"""The Responses API's ``AnswerEncoder`` (relay/answer_encoder.py): the ``response`` body
and the SSE event sequence, each event with its ``sequence_number``.

A stream is ``response.created``, ``response.in_progress``, then one output item at a
time -- reasoning (``reasoning_summary_*`` or ``reasoning_text`` events), a message
(``content_part.added``, ``output_text.delta``/``.done``, ``content_part.done``) or a tool
call (``function_call_arguments.delta``/``.done`` or ``custom_tool_call_input.delta``/
``.done``) -- each between ``output_item.added`` and ``output_item.done`` (which carries
the whole item: Codex reads only those and the last event), then ``response.completed``
(``response.incomplete`` when cut for length or filtered). A failure after the start is
an ``error`` event and ``response.failed``.

Whitespace before a tool call opens no message (the tool emulation can leave a blank
line there); calls arrive whole, so their arguments go out in one delta.
"""

from __future__ import annotations

from typing import Any

import orjson

from lmarena_bridge.apis.responses.items import (
    ResponseFrame,
    body_output,
    call_item,
    end_status,
    failure,
    item_prefix,
    message_item,
    new_id,
    reasoning_item,
    text_part,
    usage,
)
from lmarena_bridge.apis.responses.tools import ToolTable
from lmarena_bridge.errors import BridgeError
from lmarena_bridge.relay.completions import AnswerBuilder, Piece
from lmarena_bridge.relay.tool_calls import ToolCallOut

KEEPALIVE = b": keep-alive\n\n"


class _Open:
    """The output item being streamed (a message or reasoning)."""

    __slots__ = ("id", "index", "kind", "parts")

    def __init__(self, kind: str, item_id: str, index: int) -> None:
        self.kind = kind
        self.id = item_id
        self.index = index
        self.parts: list[str] = []


class ResponsesEncoder:
    def __init__(self, frame: ResponseFrame, table: ToolTable, *, reasoning_summary: bool) -> None:
        self.frame = frame
        self.table = table
        self.summary = reasoning_summary
        # 0 and 1 belong to open()'s two events, whenever it is called: a lifecycle may
        # encode the first pieces before it knows the stream is committed.
        self._seq = 2
        self._output: list[dict[str, Any]] = []
        self._open: _Open | None = None
        self._blank = ""  # whitespace that may precede a tool call

    # -- AnswerEncoder ---------------------------------------------------------------------

    def open(self) -> bytes:
        resp = self.frame.response("in_progress", [])
        return self._ev("response.created", 0, response=resp) + self._ev(
            "response.in_progress", 1, response=resp
        )

    def pieces(self, pieces: list[Piece]) -> bytes:
        out: list[bytes] = []
        for p in pieces:
            if p.kind == "reasoning":
                self._reasoning(p.text, out)
            elif p.kind == "content":
                self._content(p.text, out)
            elif p.call is not None:
                self._call(p.call, out)
        return b"".join(out)

    def keepalive(self) -> bytes:
        return KEEPALIVE

    def close(self, answer: AnswerBuilder) -> bytes:
        out: list[bytes] = []
        if self._blank and not self._output and self._open is None:
            self._content_now(self._blank, out)
        self._close_open(out)
        status, reason = end_status(answer)
        resp = self.frame.response(status, self._output, usage=usage(answer), incomplete=reason)
        kind = "response.completed" if status == "completed" else "response.incomplete"
        out.append(self._ev(kind, response=resp))
        return b"".join(out)

    def error(self, exc: BridgeError) -> bytes:
        resp = self.frame.response("failed", self._output, error=failure(exc))
        return self._ev("error", code=exc.code, message=exc.message, param=exc.param) + self._ev(
            "response.failed", response=resp
        )

    def body(self, answer: AnswerBuilder) -> dict[str, Any]:
        status, reason = end_status(answer)
        return self.frame.response(
            status,
            body_output(answer, self.table, self.summary),
            usage=usage(answer),
            incomplete=reason,
        )

    # -- items -----------------------------------------------------------------------------

    def _reasoning(self, text: str, out: list[bytes]) -> None:
        if self._open is None or self._open.kind != "reasoning":
            self._close_open(out)
            item = self._start("reasoning", "rs")
            added = reasoning_item(item.id, "", self.summary, status="in_progress")
            out.append(self._ev("response.output_item.added", output_index=item.index,
                                item=added))
            if self.summary:
                out.append(self._ev("response.reasoning_summary_part.added", item_id=item.id,
                                    output_index=item.index, summary_index=0,
                                    part={"type": "summary_text", "text": ""}))
            else:
                out.append(self._ev("response.content_part.added", item_id=item.id,
                                    output_index=item.index, content_index=0,
                                    part={"type": "reasoning_text", "text": ""}))
        assert self._open is not None
        self._open.parts.append(text)
        if self.summary:
            out.append(self._ev("response.reasoning_summary_text.delta", item_id=self._open.id,
                                output_index=self._open.index, summary_index=0, delta=text))
        else:
            out.append(self._ev("response.reasoning_text.delta", item_id=self._open.id,
                                output_index=self._open.index, content_index=0, delta=text))

    def _content(self, text: str, out: list[bytes]) -> None:
        if self._open is not None and self._open.kind == "message":
            self._delta(text, out)
            return
        if not (self._blank + text).strip():
            self._blank += text
            return
        text, self._blank = self._blank + text, ""
        self._content_now(text, out)

    def _content_now(self, text: str, out: list[bytes]) -> None:
        self._close_open(out)
        item = self._start("message", "msg")
        out.append(self._ev("response.output_item.added", output_index=item.index,
                            item=message_item(item.id, "", status="in_progress")))
        out.append(self._ev("response.content_part.added", item_id=item.id,
                            output_index=item.index, content_index=0, part=text_part("")))
        self._delta(text, out)

    def _delta(self, text: str, out: list[bytes]) -> None:
        assert self._open is not None
        self._open.parts.append(text)
        out.append(self._ev("response.output_text.delta", item_id=self._open.id,
                            output_index=self._open.index, content_index=0, delta=text,
                            logprobs=[]))

    def _call(self, call: ToolCallOut, out: list[bytes]) -> None:
        self._close_open(out)
        self._blank = ""
        item_id = new_id(item_prefix(call, self.table))
        index = len(self._output)
        done = call_item(item_id, call, self.table)
        out.append(self._ev("response.output_item.added", output_index=index,
                            item=call_item(item_id, call, self.table, status="in_progress")))
        if done["type"] == "custom_tool_call":
            value = done["input"]
            out.append(self._ev("response.custom_tool_call_input.delta", item_id=item_id,
                                output_index=index, delta=value))
            out.append(self._ev("response.custom_tool_call_input.done", item_id=item_id,
                                output_index=index, input=value))
        else:
            value = done["arguments"]
            out.append(self._ev("response.function_call_arguments.delta", item_id=item_id,
                                output_index=index, delta=value))
            out.append(self._ev("response.function_call_arguments.done", item_id=item_id,
                                output_index=index, arguments=value))
        self._output.append(done)
        out.append(self._ev("response.output_item.done", output_index=index, item=done))

    def _start(self, kind: str, prefix: str) -> _Open:
        self._open = _Open(kind, new_id(prefix), len(self._output))
        return self._open

    def _close_open(self, out: list[bytes]) -> None:
        item, self._open = self._open, None
        if item is None:
            return
        text = "".join(item.parts)
        where: dict[str, Any] = {"item_id": item.id, "output_index": item.index}
        if item.kind == "message":
            done = message_item(item.id, text)
            out.append(self._ev("response.output_text.done", **where, content_index=0,
                                text=text, logprobs=[]))
            out.append(self._ev("response.content_part.done", **where, content_index=0,
                                part=text_part(text)))
        else:
            done = reasoning_item(item.id, text, self.summary)
            if self.summary:
                part = {"type": "summary_text", "text": text}
                out.append(self._ev("response.reasoning_summary_text.done", **where,
                                    summary_index=0, text=text))
                out.append(self._ev("response.reasoning_summary_part.done", **where,
                                    summary_index=0, part=part))
            else:
                part = {"type": "reasoning_text", "text": text}
                out.append(self._ev("response.reasoning_text.done", **where, content_index=0,
                                    text=text))
                out.append(self._ev("response.content_part.done", **where, content_index=0,
                                    part=part))
        self._output.append(done)
        out.append(self._ev("response.output_item.done", output_index=item.index, item=done))

    def _ev(self, kind: str, seq: int | None = None, **fields: Any) -> bytes:
        if seq is None:
            seq = self._seq
            self._seq += 1
        data = {"type": kind, **fields, "sequence_number": seq}
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"
