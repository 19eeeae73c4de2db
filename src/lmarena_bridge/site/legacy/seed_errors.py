"""The error strings of a seed-era (protocol 1) tab: ``{"error": "<text>"}`` frames, read into
what site/failures.py classifies (docs/worker-protocol.md)."""

from __future__ import annotations

import re

from lmarena_bridge.errors import SiteError
from lmarena_bridge.site.failures import classify_failure

_SEED_STATUS = re.compile(
    r"(?:(?:状态|status(?:\s*code)?)\s*[:：=]?\s*|\bHTTP(?:/[\d.]+)?\s+)(\d{3})\b", re.IGNORECASE
)
_SEED_BODY = re.compile(r"(?:内容|content|body)\s*[:：]\s*", re.IGNORECASE)


def parse_seed_error(text: str) -> tuple[int | None, str]:
    """Split a protocol-1 error string into (status, body).

    Accepts ``网络响应不正常。状态: 429. 内容: {...}``, the English ``Status: 429.
    Content: ...`` and plain text (no status: the whole text is the body).
    """
    found = _SEED_STATUS.search(text)
    if found is None:
        return None, text.strip()
    status = int(found.group(1))
    after = text[found.end() :]
    marker = _SEED_BODY.search(after)
    body = after[marker.end() :] if marker else after.lstrip(" .,;:")
    return status, body.strip()


def classify_seed_error(text: str) -> SiteError:
    """Classify a protocol-1 ``{"error": "<text>"}`` frame (such a tab only runs the retry
    strategy, with captured ids)."""
    status, body = parse_seed_error(text)
    return classify_failure(status=status, content_type=None, body=body, message=text,
                            captured_ids=True)
