"""Neutral answer pieces -> Anthropic Messages: the SSE event stream and the message body.

Events as the real API names and orders them: ``message_start``, then per content block
``content_block_start`` / ``content_block_delta`` (``text_delta``, ``thinking_delta``,
``signature_delta``, ``input_json_delta``) / ``content_block_stop``, then
``message_delta`` (stop reason, usage) and ``message_stop``; ``ping`` keeps an idle
stream open and ``error`` ends one that failed. Pure: no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

import orjson

from lmarena_bridge.apis.anthropic.errors import error_body
from lmarena_bridge.errors import BridgeError
from lmarena_bridge.relay.completions import AnswerBuilder, Piece
from lmarena_bridge.relay.tool_calls import ToolCallOut

PING = b'event: ping\ndata: {"type":"ping"}\n\n'


def new_message_id() -> str:
    return "msg_" + uuid.uuid4().hex[:24]


def new_tool_use_id() -> str:
    return "toolu_" + uuid.uuid4().hex[:24]


def stop_reason(answer: AnswerBuilder) -> tuple[str, str | None]:
    """(``stop_reason``, ``stop_sequence``) of a finished answer."""
    reason = answer.finish_reason or "stop"
    if reason == "stop" and answer.stop_matched is not None:
        return "stop_sequence", answer.stop_matched
    return {
        "length": "max_tokens",
        "tool_calls": "tool_use",
        "content_filter": "refusal",
    }.get(reason, "end_turn"), None


def usage(answer: AnswerBuilder) -> dict[str, int]:
    u = answer.usage()
    return {
        "input_tokens": u["prompt_tokens"],
        "output_tokens": u["completion_tokens"],
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def signature(thinking: str | bytes) -> str:
    """A ``signature`` for a thinking block. The SDKs only carry it; the bridge drops
    thinking blocks sent back, so it needs no secret: a digest of the text."""
    data = thinking.encode() if isinstance(thinking, str) else thinking
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _event(name: bytes, data: dict[str, Any]) -> bytes:
    return b"event: " + name + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class MessagesEncoder:
    """One Anthropic answer, streamed or whole (an ``AnswerEncoder``).

    Text made only of whitespace is held until something else follows: whitespace the
    model wrote before a tool call would otherwise open an empty-looking text block.
    """

    def __init__(self, model: str, input_tokens: int = 0, message_id: str | None = None) -> None:
        self.model = model
        self.input_tokens = input_tokens
        self.message_id = message_id or new_message_id()
        self._index = -1  # of the open or last block
        self._open: str | None = None  # "text" | "thinking" | None
        self._held = ""  # whitespace not yet sent
        self._digest = hashlib.sha256()

    # -- stream ----------------------------------------------------------------------------

    def open(self) -> bytes:
        message: dict[str, Any] = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": self.input_tokens, "output_tokens": 0},
        }
        return _event(b"message_start", {"type": "message_start", "message": message}) + PING

    def keepalive(self) -> bytes:
        return PING

    def pieces(self, pieces: list[Piece]) -> bytes:
        out: list[bytes] = []
        i, n = 0, len(pieces)
        while i < n:
            piece = pieces[i]
            if piece.call is not None:
                out.append(self._tool_use(piece.call))
                i += 1
                continue
            j = i + 1
            while j < n and pieces[j].kind == piece.kind and pieces[j].call is None:
                j += 1
            text = piece.text if j == i + 1 else "".join(p.text for p in pieces[i:j])
            if piece.kind == "reasoning":
                out.append(self._thinking(text))
            else:
                out.append(self._text(text))
            i = j
        return b"".join(out)

    def close(self, answer: AnswerBuilder) -> bytes:
        out = b""
        if self._held and not answer.tool_calls:
            out += self._text_now(self._held)
        self._held = ""
        out += self._close_block()
        reason, sequence = stop_reason(answer)
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": reason, "stop_sequence": sequence},
            "usage": usage(answer),
        }
        return out + _event(b"message_delta", delta) + _event(
            b"message_stop", {"type": "message_stop"}
        )

    def error(self, exc: BridgeError) -> bytes:
        return _event(b"error", error_body(exc))

    def _text(self, text: str) -> bytes:
        if not text:
            return b""
        if self._open != "text" and not (self._held + text).strip():
            self._held += text
            return b""
        text, self._held = self._held + text, ""
        return self._text_now(text)

    def _text_now(self, text: str) -> bytes:
        out = b"" if self._open == "text" else self._start({"type": "text", "text": ""}, "text")
        return out + self._delta({"type": "text_delta", "text": text})

    def _thinking(self, text: str) -> bytes:
        if not text:
            return b""
        out = b""
        if self._open != "thinking":
            out = self._start({"type": "thinking", "thinking": "", "signature": ""}, "thinking")
        self._digest.update(text.encode())
        return out + self._delta({"type": "thinking_delta", "thinking": text})

    def _tool_use(self, call: ToolCallOut) -> bytes:
        self._held = ""  # whitespace before a call is not part of the answer
        block = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
        out = self._start(block, None)
        out += self._delta({"type": "input_json_delta", "partial_json": call.arguments})
        return out + _event(
            b"content_block_stop", {"type": "content_block_stop", "index": self._index}
        )

    def _start(self, block: dict[str, Any], kind: str | None) -> bytes:
        out = self._close_block()
        self._index += 1
        self._open = kind
        return out + _event(
            b"content_block_start",
            {"type": "content_block_start", "index": self._index, "content_block": block},
        )

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return _event(
            b"content_block_delta",
            {"type": "content_block_delta", "index": self._index, "delta": delta},
        )

    def _close_block(self) -> bytes:
        if self._open is None:
            return b""
        out = b""
        if self._open == "thinking":
            sig = base64.b64encode(self._digest.digest()).decode()
            self._digest = hashlib.sha256()
            out = self._delta({"type": "signature_delta", "signature": sig})
        self._open = None
        return out + _event(
            b"content_block_stop", {"type": "content_block_stop", "index": self._index}
        )

    # -- whole -----------------------------------------------------------------------------

    def body(self, answer: AnswerBuilder) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if answer.reasoning:
            thinking = answer.reasoning
            content.append(
                {"type": "thinking", "thinking": thinking, "signature": signature(thinking)}
            )
        text = answer.text
        if text and (text.strip() or not answer.tool_calls):
            content.append({"type": "text", "text": text})
        for call in answer.tool_calls:
            content.append(
                {
                    "type": "tool_use",
                    "id": call.id,
                    "name": call.name,
                    "input": orjson.loads(call.arguments),
                }
            )
        reason, sequence = stop_reason(answer)
        return {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": reason,
            "stop_sequence": sequence,
            "usage": usage(answer),
        }
