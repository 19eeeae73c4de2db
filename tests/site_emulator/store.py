"""The site's file store (an S3-style bucket on R2 in 2026): objects, presigned URLs.

A presigned URL names its object by path and carries ``X-Amz-Date`` (``YYYYMMDDTHHMMSSZ``),
``X-Amz-Expires`` (seconds) and ``X-Amz-Signature``: an HMAC over the method, the key, the
date and the lifetime with a secret of this store (SITE_2026.md §4: uploads PUT to such a
URL; attachments are GET URLs of the same kind, and they expire). Nothing here knows HTTP.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from .hosts import UPLOADS_HOST

UPLOADS_ORIGIN = f"https://{UPLOADS_HOST}"
UPLOAD_TYPES = ("image/png", "image/jpeg", "image/webp")
MAX_UPLOAD_BYTES = 15 * 1024 * 1024  # the site's UI limit per file
_DATE_FORMAT = "%Y%m%dT%H%M%SZ"


@dataclass
class StoredObject:
    key: str
    content_type: str
    data: bytes
    owner: str | None  # the user who uploaded it (None: made by the site, e.g. an image answer)
    created: float = field(default_factory=time.time)


@dataclass
class UploadStore:
    """Objects by key, keys handed out for upload (key -> content type), and the secret."""

    objects: dict[str, StoredObject] = field(default_factory=dict)
    pending: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # key -> (type, owner)
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    def presign(self, method: str, key: str, lifetime: float,
                issued_at: float | None = None) -> str:
        """A URL allowing ``method`` on ``key`` for ``lifetime`` seconds from ``issued_at``."""
        stamp = datetime.fromtimestamp(time.time() if issued_at is None else issued_at, UTC)
        date = stamp.strftime(_DATE_FORMAT)
        expires = str(int(lifetime))
        query = {
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Credential": f"emulator/{date[:8]}/auto/s3/aws4_request",
            "X-Amz-Date": date,
            "X-Amz-Expires": expires,
            "X-Amz-SignedHeaders": "host",
            "X-Amz-Signature": self._signature(method, key, date, expires),
        }
        return f"{UPLOADS_ORIGIN}/{quote(key)}?{urlencode(query)}"

    def check(self, method: str, key: str, query: str, now: float | None = None) -> str | None:
        """Why a request with this query may not ``method`` the object ``key`` (None: it may).

        The answers are S3's error codes: ``AccessDenied`` (no or bad signature, expired).
        """
        params = {k: v[0] for k, v in parse_qs(query).items()}
        date, expires = params.get("X-Amz-Date"), params.get("X-Amz-Expires")
        signature = params.get("X-Amz-Signature")
        if not (date and expires and signature):
            return "AccessDenied: Query-string authentication requires the Signature, " \
                   "Expires and Date parameters"
        if not hmac.compare_digest(signature, self._signature(method, key, date, expires)):
            return "SignatureDoesNotMatch: The request signature we calculated does not match"
        try:
            issued = datetime.strptime(date, _DATE_FORMAT).replace(tzinfo=UTC).timestamp()
            lifetime = int(expires)
        except ValueError:
            return "AccessDenied: malformed X-Amz-Date or X-Amz-Expires"
        if (time.time() if now is None else now) > issued + lifetime:
            return "AccessDenied: Request has expired"
        return None

    def key_of(self, url: str) -> tuple[str, str] | None:
        """(key, query) of a URL on this store, else None."""
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != UPLOADS_ORIGIN or len(parts.path) < 2:
            return None
        return unquote(parts.path[1:]), parts.query

    def readable(self, url: str) -> StoredObject | None:
        """The object a signed, unexpired GET URL of this store names, if it exists."""
        found = self.key_of(url)
        if found is None or self.check("GET", found[0], found[1]) is not None:
            return None
        return self.objects.get(found[0])

    def _signature(self, method: str, key: str, date: str, expires: str) -> str:
        message = "\n".join((method.upper(), key, date, expires)).encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()
