"""Request bodies: JSON objects parsed and validated in one place, with OpenAI-style 4xx
errors naming the first invalid parameter."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from lmarena_bridge.errors import InvalidRequest
from lmarena_bridge.http.limits import require_json

M = TypeVar("M", bound=BaseModel)

# Names pydantic gives the union member it tried: not part of a parameter's path.
_UNION_TAGS = frozenset({"str", "TextPart", "ImagePart", "OtherPart", "int", "float"})


def _param(loc: tuple[Any, ...], union_tags: frozenset[str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif (
            part in _UNION_TAGS
            or part in union_tags
            or str(part).startswith(("list[", "function-"))
        ):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out


async def read_json(request: Request, *, optional: bool = False) -> dict[str, Any]:
    """The body as a JSON object: 415 unless declared as JSON, 400 unless it is one.
    With ``optional``, an empty body is ``{}`` whatever its content type."""
    raw = await request.body()
    if optional and not raw.strip():
        return {}
    require_json(request.headers)
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(
            f"The request body is not valid JSON ({exc}).", code="invalid_json"
        ) from None
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    return data


def validate(
    model: type[M],
    data: dict[str, Any],
    *,
    union_tags: frozenset[str] = frozenset(),
    style: Literal["openai", "path"] = "openai",
) -> M:
    """``model`` from ``data``; a 400 naming the first invalid parameter, as OpenAI words
    it or (``style="path"``) as Anthropic does (``messages[0].content: Field required``).
    ``union_tags`` are the model's own union member names, left out of the path."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        param = _param(tuple(err["loc"]), union_tags)
        message = (
            f"{param}: {err['msg']}" if style == "path"
            else f"Invalid value for '{param}': {err['msg']}."
        )
        raise InvalidRequest(message, param=param or None) from None


async def parse_body(request: Request, model: type[M], *, optional: bool = False) -> M:
    return validate(model, await read_json(request, optional=optional))
