"""API key and browser-origin checks."""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from lmarena_bridge.errors import AuthenticationFailed

SITE_DOMAINS = ("lmarena.ai", "arena.ai")


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


def origin_allowed(origin: str | None, extra: Iterable[str]) -> bool:
    """No Origin (not a browser) is allowed; a browser must come from the site or ``extra``."""
    if origin is None:
        return True
    origin = origin.strip().rstrip("/")
    if origin in {o.rstrip("/") for o in extra} or "*" in extra:
        return True
    parts = urlsplit(origin)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http"):
        return False
    return any(host == d or host.endswith("." + d) for d in SITE_DOMAINS)


def token_matches(expected: str, presented: str | None) -> bool:
    return bool(expected) and presented is not None and hmac.compare_digest(
        presented.encode(), expected.encode()
    )
