"""What a client API must provide to be served: one encoder of an answer.

Every endpoint that answers from a site job (chat completions, Anthropic messages, OpenAI
responses) runs the same lifecycle (relay/lifecycle.py): the request becomes a neutral
``ChatCompletionRequest`` and a site job, the site's stream becomes neutral ``Piece`` s
(relay/completions.py: text, reasoning, tool calls; images arrive as markdown text), and
only the encoder below knows the client's wire format.

Contract: every method is pure (no I/O) and cheap; the lifecycle calls ``open`` once before
anything else of a stream, then any number of ``pieces``/``keepalive``, then exactly one of
``close`` (success) or ``error`` (a failure after the stream started). A non-stream answer
calls only ``body``. Errors before the first byte are not the encoder's: the route renders
them in its API's error shape with their HTTP status.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from lmarena_bridge.errors import BridgeError
from lmarena_bridge.protocol.openai import ChatCompletionRequest
from lmarena_bridge.relay.completions import AnswerBuilder, Piece
from lmarena_bridge.relay.tool_calls import new_call_id


class AnswerEncoder(Protocol):
    def open(self) -> bytes:
        """The frames that start a stream (OpenAI's role chunk, ``message_start``, …)."""
        ...

    def pieces(self, pieces: list[Piece]) -> bytes:
        """Frames for answer pieces, in order; may be empty bytes."""
        ...

    def keepalive(self) -> bytes:
        """A frame that keeps an idle stream open without changing the answer."""
        ...

    def close(self, answer: AnswerBuilder) -> bytes:
        """The frames that end a stream that succeeded (finish reason, usage, terminator)."""
        ...

    def error(self, exc: BridgeError) -> bytes:
        """The frames that end a stream that failed after it started."""
        ...

    def body(self, answer: AnswerBuilder) -> dict[str, Any]:
        """The whole non-stream answer."""
        ...


@dataclass
class ClientCall:
    """One client request as the lifecycle runs it, whichever API it came in.

    ``request`` is the neutral form (an OpenAI chat request: its messages, tools, stops,
    token limit and ``stream`` flag are what the job and the answer are built from).
    ``reasoning_mode`` overrides the config's for APIs that decide per request whether the
    site's reasoning is shown; ``new_call_id`` makes the ids of tool calls (``call_…``,
    ``toolu_…``). ``endpoint`` names the API in request records, logs and metrics.
    """

    endpoint: str
    request: ChatCompletionRequest
    encoder: AnswerEncoder
    reasoning_mode: str | None = None
    new_call_id: Callable[[], str] = field(default=new_call_id)
    client_request_id: str | None = None
