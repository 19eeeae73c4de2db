"""Reference server: the same OpenAI answers as the bridge, with no WebSocket hop and no
translation — the practical limit of a Python server on the same uvicorn.

A raw ASGI app (no framework routing) that answers ``POST /v1/chat/completions`` with the
K pieces of ``bench.common`` directly: one SSE chunk per piece (byte-for-byte the bridge's
chunk shape, see ``lmarena_bridge.relay.encoding.ChunkEncoder``), or one
``chat.completion`` JSON body. ``K=-1`` sends the first chunk and holds the stream open
until the client leaves. It deliberately does not import the bridge, so optimising the
bridge never moves the yardstick.

Run: ``python -m bench.reference --port PORT`` (uvicorn as the bridge runs it: uvloop and
httptools when installed, access log off, INFO log level).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson
import uvicorn

from bench.common import HOLD, MODEL, PIECES, expected_text, last_user_text, parse_k

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]
JSON_HEADERS = [(b"content-type", b"application/json")]
MODELS_BODY = orjson.dumps(
    {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "reference"}]}
)


async def _read_body(receive: Receive) -> bytes:
    body = b""
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b""
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return body


async def _respond(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": JSON_HEADERS})
    await send({"type": "http.response.body", "body": body})


async def _stream(send: Send, receive: Receive, model: str, k: int) -> None:
    # Per-response templates, as the bridge's ChunkEncoder builds them: the per-chunk work
    # is one orjson.dumps of the text, which any real server pays too.
    head = (
        b'data: {"id":'
        + orjson.dumps(f"chatcmpl-{uuid.uuid4().hex}")
        + b',"object":"chat.completion.chunk","created":'
        + str(int(time.time())).encode()
        + b',"model":'
        + orjson.dumps(model)
        + b',"system_fingerprint":null,"choices":[{"index":0,"delta":'
    )
    tail = b',"logprobs":null,"finish_reason":null}]}\n\n'
    role = head + b'{"role":"assistant","content":""}' + tail
    await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
    n = len(PIECES)
    for i in range(max(k, 1)):
        chunk = head + b'{"content":' + orjson.dumps(PIECES[i % n]) + b"}" + tail
        if i == 0:
            chunk = role + chunk  # the bridge sends the role chunk with the first text
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if k == HOLD:
            while (await receive())["type"] != "http.disconnect":
                pass
            return
    end = head + b'{},"logprobs":null,"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
    await send({"type": "http.response.body", "body": end})


def _completion(model: str, k: int, prompt_chars: int) -> bytes:
    text = expected_text(k)
    prompt_tokens = math.ceil(prompt_chars / 4)
    completion_tokens = math.ceil(len(text) / 4)
    return orjson.dumps(
        {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": None,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
    )


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    if scope["method"] == "GET" and path in ("/health", "/v1/models"):
        await _respond(send, 200, MODELS_BODY)
        return
    if scope["method"] != "POST" or path != "/v1/chat/completions":
        await _respond(send, 404, b'{"error":{"message":"not found"}}')
        return
    req = orjson.loads(await _read_body(receive))
    messages = req.get("messages") or []
    k = parse_k(last_user_text(messages))
    model = req.get("model") or MODEL
    if req.get("stream"):
        await _stream(send, receive, model, k)
    else:
        chars = sum(len(m.get("content") or "") for m in messages)
        await _respond(send, 200, _completion(model, k, chars))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,
        lifespan="off",
    )
    return 0 if uvicorn.Server(config).run() is not False else 1


if __name__ == "__main__":
    sys.exit(main())
