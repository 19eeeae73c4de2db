"""Images a model sees only when uploaded to the site's file store (docs/site-protocol.md §10).

Pure: the site's limits (PNG, JPEG or WebP up to 15 MB, what its page allows), reading
the bytes of a data URI, telling the real type from the bytes, the ``upload`` job's
payload and checking the tab's answer. Fetching URLs and running jobs is relay/image_uploads.py.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import unquote_to_bytes

from pydantic import ValidationError

from lmarena_bridge.errors import BridgeError, InvalidRequest
from lmarena_bridge.protocol.worker import AttachmentPayload, UploadPayload, UploadResult
from lmarena_bridge.site.attachments import extension_for

MAX_UPLOAD_BYTES = 15 * 1024 * 1024
UPLOAD_TYPES = ("image/png", "image/jpeg", "image/webp")
LIMIT = "PNG, JPEG or WebP images of at most 15 MB"


class ImageTooLarge(InvalidRequest):
    code = "image_too_large"


class UnsupportedImage(InvalidRequest):
    code = "unsupported_image_type"


def sniff(data: bytes) -> str | None:
    """The type of an image the site takes, from its first bytes (None: none of those)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


# Errors name the image by ``label`` ("image 2 of the conversation"): after the transcript
# is flattened an attachment no longer knows its message.
PARAM = "messages"


def data_uri_bytes(url: str, label: str) -> tuple[str, bytes]:
    """(declared type, bytes) of a ``data:`` URI; a 400 naming ``label`` if malformed.

    A base64 payload larger than the limit is refused before it is decoded.
    """
    header, sep, payload = url.strip().partition(",")
    if not sep or not header[:5].lower() == "data:":
        raise InvalidRequest(f"The data URI of {label} is malformed.", param=PARAM)
    parts = header[5:].split(";")
    declared = parts[0].strip().lower() or "text/plain"
    if any(p.strip().lower() == "base64" for p in parts[1:]):
        if len(payload) * 3 // 4 > MAX_UPLOAD_BYTES + 3:
            raise too_large(label)
        try:
            data = base64.b64decode("".join(payload.split()), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest(f"The data URI of {label} is not valid base64.",
                                 param=PARAM) from None
    else:
        data = unquote_to_bytes(payload)
    return declared, data


def checked_type(data: bytes, declared: str, label: str) -> str:
    """The type to upload ``data`` as (from its bytes); a 400 naming the site's limit and
    ``label`` for anything else."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise too_large(label)
    found = sniff(data)
    if found is None:
        raise UnsupportedImage(
            f"The site takes {LIMIT} for this model; {label} is "
            f"{declared or 'of an unknown type'}, not one of those.",
            param=PARAM,
        )
    return found


def too_large(label: str) -> ImageTooLarge:
    return ImageTooLarge(
        f"The site takes {LIMIT} for this model; {label} is larger.", param=PARAM)


def upload_name(name: str, mime: str) -> str:
    """``name`` with the extension of the type it is uploaded as."""
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return f"{stem or 'image'}.{extension_for(mime)}"


def upload_payload(name: str, mime: str, data: bytes) -> dict[str, Any]:
    return UploadPayload(
        name=upload_name(name, mime), content_type=mime,
        data_b64=base64.b64encode(data).decode("ascii"),
    ).model_dump()


def uploaded_attachment(result: dict[str, Any]) -> AttachmentPayload:
    """The attachment a tab's ``upload`` answer describes; 502 ``upload_failed`` if it
    describes none."""
    try:
        found = UploadResult.model_validate(result)
    except ValidationError:
        found = None
    if found is None or not found.url.startswith("https://") or not found.name:
        raise BridgeError(
            "The browser tab's upload answer names no uploaded file; update the userscript.",
            status=502,
            code="upload_failed",
        )
    return AttachmentPayload(name=found.name, contentType=found.contentType, url=found.url)
