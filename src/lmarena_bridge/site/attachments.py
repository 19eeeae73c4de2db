"""OpenAI ``image_url`` parts -> the site's ``experimental_attachments`` entries.

The site takes ``{name, contentType, url}`` where ``url`` is a data URI or a URL its
servers can fetch. Anything we cannot describe correctly is refused with a 400 naming
the offending part; nothing is dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

from lmarena_bridge.errors import InvalidRequest
from lmarena_bridge.protocol.worker import AttachmentPayload

# A fixed table instead of ``mimetypes``: that module reads system files on first use and
# its answers vary by platform (e.g. ``.jpe`` for image/jpeg on some systems).
_EXT_BY_MIME = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/jpg": "jpg",
    "image/pjpeg": "jpg",
    "image/webp": "webp",
    "image/gif": "gif",
    "image/bmp": "bmp",
    "image/x-ms-bmp": "bmp",
    "image/svg+xml": "svg",
    "image/tiff": "tiff",
    "image/avif": "avif",
    "image/heic": "heic",
    "image/heif": "heif",
    "image/x-icon": "ico",
    "image/vnd.microsoft.icon": "ico",
    "application/pdf": "pdf",
    "text/plain": "txt",
}
_MIME_BY_EXT = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "jpe": "image/jpeg",
    "jfif": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "bmp": "image/bmp",
    "svg": "image/svg+xml",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "avif": "image/avif",
    "heic": "image/heic",
    "heif": "image/heif",
    "ico": "image/x-icon",
}
_DEFAULT_MIME = "image/png"
# data:<type>/<subtype>[;param]*,<payload>; the payload must not be empty.
_DATA_URI = re.compile(r"data:([\w.+-]+/[\w.+-]+)((?:;[^,;]*)*),(.+)", re.DOTALL)
_SAFE_NAME = re.compile(r"[^\w.\-]+")


def extension_for(mime: str) -> str:
    """File extension (no dot) for a content type; unknown types use their subtype."""
    mime = mime.lower()
    known = _EXT_BY_MIME.get(mime)
    if known:
        return known
    subtype = mime.partition("/")[2].split("+")[0]
    subtype = subtype.removeprefix("x-").removeprefix("vnd.")
    return _SAFE_NAME.sub("", subtype)[:10] or "bin"


def attachment_from_url(url: str, param: str, new_id: Callable[[], str]) -> AttachmentPayload:
    """Describe one image URL (data URI or http(s)); InvalidRequest(param=param) if unusable."""
    url = url.strip()
    if url[:5].lower() == "data:":
        found = _DATA_URI.fullmatch(url)
        if found is None:
            raise InvalidRequest(
                "Malformed data URI in image_url: expected data:<type>/<subtype>;base64,<data>.",
                param=param,
            )
        mime = found.group(1).lower()
        return AttachmentPayload(
            name=f"image_{new_id()}.{extension_for(mime)}", contentType=mime, url=url
        )
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise InvalidRequest(
            "image_url must be a data: URI or an http(s) URL that LMArena can fetch.",
            param=param,
        )
    segment = unquote(parts.path.rsplit("/", 1)[-1])
    stem, dot, ext = segment.rpartition(".")
    mime = _MIME_BY_EXT.get(ext.lower(), _DEFAULT_MIME) if dot else _DEFAULT_MIME
    clean = _SAFE_NAME.sub("_", segment).strip("._")
    # A path without a real file name ("/", "/img?id=3") gets a generated one.
    name = clean if dot and stem and clean else f"image_{new_id()}.{extension_for(mime)}"
    return AttachmentPayload(name=name, contentType=mime, url=url)
