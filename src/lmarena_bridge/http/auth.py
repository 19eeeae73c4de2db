"""The API key and token checks (browser Host/Origin rules live in ``http.origins``)."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from starlette.requests import HTTPConnection

from lmarena_bridge.errors import AuthenticationFailed
from lmarena_bridge.http.routing import bridge_of


def check_api_key(expected: str, headers: Mapping[str, str]) -> None:
    """Raise 401 unless ``expected`` is empty or the request presents it (constant time)."""
    if not expected:
        return
    auth = headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    presented = token.strip() if scheme.lower() == "bearer" else headers.get("x-api-key", "")
    if not presented:
        raise AuthenticationFailed(
            "Missing API key: send it as 'Authorization: Bearer <key>' (api_key in config.jsonc)."
        )
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        raise AuthenticationFailed("Incorrect API key provided.")


def token_matches(expected: str, presented: str | None) -> bool:
    return bool(expected) and presented is not None and hmac.compare_digest(
        presented.encode(), expected.encode()
    )


def require_api_key(request: HTTPConnection) -> None:
    """The route guard (``Routes(guard=…)``): the configured api key, or a 401."""
    check_api_key(bridge_of(request).settings.api_key, request.headers)
