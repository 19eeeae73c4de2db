"""A chat request's images -> files of the site's store, through a tab, before the request
goes out (docs/site-protocol.md §10).

Every image is read first (data URIs decoded, http(s) URLs fetched by the bridge with the
site's size limit) and checked, so a bad image is a 400 before any tab is used. Then each
distinct image is uploaded by an ``upload`` job (relay/calls.py); all of them and the site
request itself go to the same tab while it has room (``RequestRecord.prefer_worker``).
"""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from lmarena_bridge.errors import InvalidRequest
from lmarena_bridge.protocol.worker import AttachmentPayload, Capability
from lmarena_bridge.relay.calls import call_tab
from lmarena_bridge.relay.dispatch import Dispatcher
from lmarena_bridge.relay.request_record import RequestRecord
from lmarena_bridge.site.image_files import (
    MAX_UPLOAD_BYTES,
    PARAM,
    checked_type,
    data_uri_bytes,
    too_large,
    upload_payload,
    uploaded_attachment,
)
from lmarena_bridge.site.job import SiteJob

FETCH_TIMEOUT_SECONDS = 30.0
UPLOAD_TIMEOUT_SECONDS = 120.0


class ImageUrlUnreadable(InvalidRequest):
    code = "image_url_unreadable"


class Uploader:
    """Uploads the images of create-strategy jobs whose model needs uploaded files."""

    def __init__(
        self,
        relay: Dispatcher,
        *,
        fetch_timeout: float = FETCH_TIMEOUT_SECONDS,
        upload_timeout: float = UPLOAD_TIMEOUT_SECONDS,
    ) -> None:
        self.relay = relay
        self.fetch_timeout = fetch_timeout
        self.upload_timeout = upload_timeout

    async def upload(self, job: SiteJob, rec: RequestRecord) -> SiteJob:
        """``job`` with its images replaced by uploaded files.

        Raises a 400 ``InvalidRequest`` for an image the site would not take (type, size)
        or an http(s) URL the bridge cannot read; the tab's failures as ``SiteError``
        (502 ``upload_unavailable`` when the page shows no upload actions, 502
        ``upload_failed``), and what ``call_tab`` raises.
        """
        if not job.upload_images:
            return job
        files: dict[str, tuple[AttachmentPayload, str, bytes]] = {}
        for i, att in enumerate(job.attachments()):
            if att.url not in files:
                mime, data = await self._read(att, f"image {i + 1} of the conversation")
                files[att.url] = (att, mime, data)
        uploaded: dict[str, AttachmentPayload] = {}
        for url, (att, mime, data) in files.items():
            answer = await call_tab(
                self.relay, upload_payload(att.name, mime, data), requires=Capability.UPLOAD,
                timeout=self.upload_timeout, rec=rec,
            )
            rec.prefer_worker = answer.worker.id
            uploaded[url] = uploaded_attachment(answer.value)
        return job.with_uploads(uploaded)

    async def _read(self, att: AttachmentPayload, label: str) -> tuple[str, bytes]:
        """(type to upload as, bytes) of one attachment."""
        if att.url[:5].lower() == "data:":
            declared, data = data_uri_bytes(att.url, label)
        else:
            declared, data = await asyncio.to_thread(
                _fetch, att.url, self.fetch_timeout, label)
        return checked_type(data, declared or att.contentType, label), data


def _fetch(url: str, timeout: float, label: str) -> tuple[str, bytes]:
    """GET an image a client named by URL (blocking; run in a thread), at most the site's
    limit. Raises ImageUrlUnreadable or ImageTooLarge naming ``label``."""
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        raise ImageUrlUnreadable(f"The URL of {label} is neither data: nor http(s).",
                                 param=PARAM)
    req = urllib.request.Request(url, headers={"User-Agent": "lmarena-bridge"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            declared = resp.headers.get_content_type()
            body = resp.read(MAX_UPLOAD_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise ImageUrlUnreadable(
            f"The bridge could not fetch {label} ({url}): HTTP {exc.code}.", param=PARAM
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ImageUrlUnreadable(
            f"The bridge could not fetch {label} ({url}): {reason}.", param=PARAM
        ) from None
    if len(body) > MAX_UPLOAD_BYTES:
        raise too_large(label)
    return declared, body
