"""``GET /v1/models`` in Anthropic's shape, for requests that carry ``anthropic-version``
(the Anthropic SDKs always send it): model objects with ``display_name`` and
``created_at``, paged with ``limit``, ``after_id`` and ``before_id`` as the real API does."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from lmarena_bridge.bridge import Bridge
from lmarena_bridge.errors import InvalidRequest, ModelNotFound
from lmarena_bridge.http.responses import JSONBytes
from lmarena_bridge.http.routing import bridge_of
from lmarena_bridge.protocol.openai import ModelCard

Cards = Callable[[Bridge], list[ModelCard]]
DEFAULT_LIMIT = 20


def wants_anthropic(request: Request) -> bool:
    return "anthropic-version" in request.headers


def model_object(card: ModelCard) -> dict[str, Any]:
    created = datetime.fromtimestamp(card.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"type": "model", "id": card.id, "display_name": card.id, "created_at": created}


def page(cards: list[ModelCard], query: dict[str, str]) -> dict[str, Any]:
    ids = [c.id for c in cards]
    try:
        limit = int(query.get("limit", DEFAULT_LIMIT))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 1000:
        raise InvalidRequest("limit: must be an integer from 1 to 1000", param="limit")
    start, end = 0, len(cards)
    if query.get("after_id") in ids:
        start = ids.index(query["after_id"]) + 1
    if query.get("before_id") in ids:
        end = ids.index(query["before_id"])
        start = max(start, end - limit)
    chosen = cards[start:end][:limit]
    data = [model_object(c) for c in chosen]
    return {
        "data": data,
        "has_more": start + len(chosen) < end,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


def list_models(request: Request, cards: Cards) -> Response:
    """The model list in Anthropic's page shape (its errors, too, are Anthropic's:
    http/responses.py renders by the ``anthropic-version`` header)."""
    return JSONBytes(page(cards(bridge_of(request)), dict(request.query_params)))


def get_model(request: Request, cards: Cards, model_id: str) -> Response:
    for card in cards(bridge_of(request)):
        if card.id == model_id:
            return JSONBytes(model_object(card))
    raise ModelNotFound(f"model: {model_id}", param="model")
