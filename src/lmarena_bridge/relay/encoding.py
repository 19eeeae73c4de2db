"""OpenAI's wire encoding of an answer: ``chat.completion.chunk`` SSE frames and the whole
``chat.completion`` body.

Pure: no I/O. ``ChunkEncoder`` keeps per-response templates so the per-chunk cost is one
``orjson.dumps`` of the text; ``AnswerBuilder`` (relay/completions.py) says what to send.
"""

from __future__ import annotations

from typing import Any

import orjson

from lmarena_bridge.errors import BridgeError
from lmarena_bridge.relay.completions import AnswerBuilder, Piece
from lmarena_bridge.relay.tool_calls import ToolCallOut


class ChunkEncoder:
    """Encodes ``chat.completion.chunk`` SSE frames for one response (one id, one created)."""

    __slots__ = ("_head", "_include_usage", "_tail", "completion_id", "created", "model")

    def __init__(self, completion_id: str, created: int, model: str, include_usage: bool) -> None:
        self.completion_id = completion_id
        self.created = created
        self.model = model
        self._include_usage = include_usage
        self._head = (
            b'data: {"id":'
            + orjson.dumps(completion_id)
            + b',"object":"chat.completion.chunk","created":'
            + str(created).encode()
            + b',"model":'
            + orjson.dumps(model)
            + b',"system_fingerprint":null,"choices":[{"index":0,"delta":'
        )
        self._tail = (
            b',"logprobs":null,"finish_reason":null}]'
            + (b',"usage":null' if include_usage else b"")
            + b"}\n\n"
        )

    def role(self) -> bytes:
        return self._head + b'{"role":"assistant","content":""}' + self._tail

    def pieces(self, pieces: list[Piece]) -> bytes:
        """One frame per run of same-kind pieces (queued text is coalesced)."""
        frames: list[bytes] = []
        i, n = 0, len(pieces)
        while i < n:
            kind = pieces[i].kind
            call = pieces[i].call
            if call is not None:
                frames.append(self.tool_call(call))
                i += 1
                continue
            j = i + 1
            while j < n and pieces[j].kind == kind:
                j += 1
            text = pieces[i].text if j == i + 1 else "".join(p.text for p in pieces[i:j])
            key = b'{"content":' if kind == "content" else b'{"reasoning_content":'
            frames.append(self._head + key + orjson.dumps(text) + b"}" + self._tail)
            i = j
        return b"".join(frames)

    def tool_call(self, call: ToolCallOut) -> bytes:
        """Two frames, as OpenAI streams a call: id, type and name with empty arguments,
        then the arguments (whole: the bridge has them only once the block is closed)."""
        head = {
            "index": call.index,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        args = {"index": call.index, "function": {"arguments": call.arguments}}
        return (
            self._head
            + orjson.dumps({"tool_calls": [head]})
            + self._tail
            + self._head
            + orjson.dumps({"tool_calls": [args]})
            + self._tail
        )

    def empty_delta(self) -> bytes:
        return self._head + b'{"content":""}' + self._tail

    def finish(self, reason: str) -> bytes:
        return (
            self._head
            + b'{},"logprobs":null,"finish_reason":'
            + orjson.dumps(reason)
            + b"}]"
            + (b',"usage":null' if self._include_usage else b"")
            + b"}\n\n"
        )

    def usage(self, usage: dict[str, int]) -> bytes:
        body = {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": None,
            "choices": [],
            "usage": usage,
        }
        return b"data: " + orjson.dumps(body) + b"\n\n"


SSE_DONE = b"data: [DONE]\n\n"
SSE_KEEPALIVE = b": keep-alive\n\n"


def sse_error(error: BridgeError) -> bytes:
    return b"data: " + orjson.dumps(error.to_dict()) + b"\n\n" + SSE_DONE


def completion_body(
    completion_id: str, created: int, model: str, answer: AnswerBuilder
) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": answer.message(),
                "logprobs": None,
                "finish_reason": answer.finish_reason or "stop",
            }
        ],
        "usage": answer.usage(),
    }


class ChatEncoder:
    """Chat completions as an ``AnswerEncoder`` (relay/answer_encoder.py)."""

    __slots__ = ("_chunks", "_keepalive", "created", "include_usage")

    def __init__(
        self,
        completion_id: str,
        created: int,
        model: str,
        *,
        include_usage: bool = False,
        keepalive_style: str = "comment",
    ) -> None:
        self._chunks = ChunkEncoder(completion_id, created, model, include_usage)
        self.include_usage = include_usage
        self.created = created
        self._keepalive = (
            self._chunks.empty_delta() if keepalive_style == "empty_delta" else SSE_KEEPALIVE
        )

    def open(self) -> bytes:
        return self._chunks.role()

    def pieces(self, pieces: list[Piece]) -> bytes:
        return self._chunks.pieces(pieces)

    def keepalive(self) -> bytes:
        return self._keepalive

    def close(self, answer: AnswerBuilder) -> bytes:
        out = self._chunks.finish(answer.finish_reason or "stop")
        if self.include_usage:
            out += self._chunks.usage(answer.usage())
        return out + SSE_DONE

    def error(self, exc: BridgeError) -> bytes:
        return sse_error(exc)

    def body(self, answer: AnswerBuilder) -> dict[str, Any]:
        c = self._chunks
        return completion_body(c.completion_id, c.created, c.model, answer)
