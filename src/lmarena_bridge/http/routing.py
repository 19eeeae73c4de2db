"""A small decorator-style route table over plain Starlette routes.

The bridge uses Starlette directly rather than FastAPI: the profile of the benchmark showed
FastAPI's per-request machinery (telemetry middleware, route-tree walks, dependency
solving) costing more than the bridge's own work, and the bridge validates its bodies
itself with pydantic anyway. Handlers take the request and read ``request.path_params``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from lmarena_bridge.bridge import Bridge

Endpoint = Callable[[Request], Awaitable[Response]]
Guard = Callable[[Request], None]


def bridge_of(conn: HTTPConnection) -> Bridge:
    return conn.app.state.bridge


class Routes:
    """Collects routes; ``guard`` (if any) runs before every HTTP handler of this table."""

    def __init__(self, prefix: str = "", guard: Guard | None = None) -> None:
        self.prefix = prefix
        self.guard = guard
        self.routes: list[BaseRoute] = []

    def _add(self, methods: list[str], paths: tuple[str, ...]) -> Callable[[Endpoint], Endpoint]:
        def register(endpoint: Endpoint) -> Endpoint:
            handler = endpoint
            if self.guard is not None:
                guard = self.guard

                async def handler(request: Request) -> Response:
                    guard(request)
                    return await endpoint(request)

            for path in paths:
                full = self.prefix + path
                self.routes.append(Route(full, handler, methods=methods))
                if not full.endswith(("/", ":path}")):
                    # Clients that add a slash (/v1/models/, /v1/chat/completions/) get the
                    # same answer, not a 307 that drops a POST's body or a model named "".
                    self.routes.append(Route(full + "/", handler, methods=methods))
            return endpoint

        return register

    def get(self, *paths: str) -> Callable[[Endpoint], Endpoint]:
        return self._add(["GET"], paths)

    def post(self, *paths: str) -> Callable[[Endpoint], Endpoint]:
        return self._add(["POST"], paths)

    def options(self, *paths: str) -> Callable[[Endpoint], Endpoint]:
        return self._add(["OPTIONS"], paths)

    def websocket(
        self, path: str
    ) -> Callable[[Callable[[WebSocket], Awaitable[None]]], Callable[[WebSocket], Awaitable[None]]]:
        def register(
            endpoint: Callable[[WebSocket], Awaitable[None]],
        ) -> Callable[[WebSocket], Awaitable[None]]:
            self.routes.append(WebSocketRoute(self.prefix + path, endpoint))
            return endpoint

        return register


async def until_disconnected(request: Request) -> None:
    """Returns when the HTTP client hangs up (the body must have been read already)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def unless_disconnected(request: Request, work: Awaitable[Any]) -> tuple[bool, Any]:
    """Run ``work`` in this task while watching for the client hanging up.

    Returns ``(True, result)``, or ``(False, None)`` when the client went away first (the
    work is then cancelled, which aborts its site requests). Only one extra task: the
    watcher, which cancels this one.
    """
    me = asyncio.current_task()
    assert me is not None
    gone = False

    async def watch() -> None:
        nonlocal gone
        await until_disconnected(request)
        gone = True
        me.cancel()

    watcher = asyncio.get_running_loop().create_task(watch())
    try:
        return True, await work
    except asyncio.CancelledError:
        if gone:
            me.uncancel()
            return False, None
        raise
    finally:
        watcher.cancel()
