"""Image generation (``/v1/images/generations``, docs/site-protocol.md §5.2): ``n`` separate site
jobs on image models, every image of their ``a2`` lines (a URL or base64 data), optionally
returned as base64.

For ``b64_json`` an http(s) image is downloaded by the bridge; one on the site's own domain
(its cookies are needed) or one the bridge cannot reach is fetched by a tab instead (a
``fetch_image`` job, relay/calls.py; docs/site-protocol.md §10).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from lmarena_bridge.config.aliases import resolve_model
from lmarena_bridge.config.model import BridgeConfig, Settings
from lmarena_bridge.errors import BridgeError, SiteError, Timeout, WorkerDisconnected
from lmarena_bridge.protocol.openai import ImageGenerationRequest
from lmarena_bridge.protocol.worker import Capability, FetchImagePayload, FetchImageResult
from lmarena_bridge.relay.calls import call_tab
from lmarena_bridge.relay.completions import AnswerBuilder
from lmarena_bridge.relay.dispatch import Dispatcher
from lmarena_bridge.relay.job_run import JobRun
from lmarena_bridge.relay.observer import RelayObserver
from lmarena_bridge.relay.records import RequestScope
from lmarena_bridge.relay.request_record import RequestRecord
from lmarena_bridge.relay.tab_job import KEEPALIVE
from lmarena_bridge.site.job import SiteJob
from lmarena_bridge.site.stream import SiteStreamParser

log = logging.getLogger("lmarena_bridge.requests")

# A site strategy's image job: (prompt, model, config) -> job (site/strategy.py).
ImageJobBuilder = Callable[[str, str | None, BridgeConfig], SiteJob]

FETCH_TIMEOUT_SECONDS = 60.0
MAX_IMAGE_BYTES = 50 * 1024 * 1024
_SITE_HOST = re.compile(r"(?:^|\.)(?:lm)?arena\.ai$")


class ImageFetchFailed(BridgeError):
    status = 502
    type = "server_error"
    code = "image_fetch_failed"


@dataclass(eq=False)
class ImageService:
    """Runs image generations through the relay; stateless between requests."""

    relay: Dispatcher
    config: Callable[[], BridgeConfig]
    observer: RelayObserver
    image_job: ImageJobBuilder
    fetch_timeout: float = FETCH_TIMEOUT_SECONDS

    def prepare(self, req: ImageGenerationRequest) -> tuple[list[SiteJob], Settings]:
        """One site job per wanted image; raises a 4xx BridgeError before any dispatch
        (a text model, an unknown model, no image model configured, no ids)."""
        cfg = self.config()
        model = req.model and resolve_model(req.model, cfg.settings.model_aliases, cfg.models)
        jobs = [self.image_job(req.prompt, model, cfg) for _ in range(req.n)]
        return jobs, cfg.settings

    async def generate(
        self, req: ImageGenerationRequest, request_id: str | None = None
    ) -> dict[str, Any]:
        """The OpenAI images response for ``req``; owns the request's record.

        The ``n`` generations run concurrently, each as its own site job. Generations that
        fail are left out when at least one succeeded; when all fail, the first error is
        raised. ``size``, ``quality`` and ``style`` are not sent: the site has no such
        fields.
        """
        scope = RequestScope(self.observer, "images", req.model or "", request_id=request_id)
        rec = scope.rec
        try:
            jobs, settings = self.prepare(req)
            rec.model = jobs[0].model
            results = await asyncio.gather(
                *(self._one(job, settings, scope) for job in jobs), return_exceptions=True
            )
            urls: list[str] = []
            errors: list[BridgeError] = []
            for result in results:
                if isinstance(result, BridgeError):
                    errors.append(result)
                elif isinstance(result, BaseException):
                    raise result
                else:
                    urls += result[0]
                    # Downloads through a tab go to one that made an image (its account).
                    rec.prefer_worker = rec.prefer_worker or result[1]
            if not urls:
                raise errors[0]
            if errors:
                log.warning(
                    "request %s: %d of %d image generations failed (first: %s)",
                    rec.request_id, len(errors), len(jobs), errors[0].message,
                )
            if req.response_format == "b64_json":
                images = await asyncio.gather(*(self._b64(url, rec) for url in urls))
                data = [{"b64_json": b64} for b64 in images]
            else:
                data = [{"url": url} for url in urls]
            scope.succeed()
            return {"created": int(time.time()), "data": data}
        except BridgeError as exc:
            scope.fail(exc)
            raise
        finally:
            scope.finish()

    async def _one(
        self, job: SiteJob, s: Settings, scope: RequestScope
    ) -> tuple[list[str], str | None]:
        """Every image URL one generation produced and the tab that ran it; raises
        BridgeError (502 ``no_image`` when the answer ended without an image)."""
        # Eager: an image seen before a stall still counts, so chunks are read as they come.
        run = JobRun.for_settings(
            self.relay, job.attempt_payload, scope.rec, s, eager=True, requires=job.requires
        )
        parser = SiteStreamParser(job.side)
        answer = AnswerBuilder(
            stops=[],
            token_limit=None,
            reasoning_mode="drop",
            prompt_chars=job.prompt_chars,
            image_markdown=False,
        )
        await run.start()
        batches = run.batches()
        try:
            async for batch in batches:
                if batch is KEEPALIVE:
                    continue
                text = "".join(batch)
                answer.feed(parser.feed(text))
                if answer.images:
                    scope.first_token()
                if answer.ended:
                    break
            if not answer.ended:
                answer.feed(parser.close())
        except (Timeout, WorkerDisconnected):
            # The seed's rule: an image already seen counts even if the stream then stalls.
            if not answer.images:
                raise
        finally:
            await batches.aclose()
            run.close()
        if not answer.images:
            raise _no_image(answer)
        worker = run.job.worker.id if run.job is not None else None
        return [image.url for image in answer.images], worker

    async def _b64(self, url: str, rec: RequestRecord) -> str:
        """The image at ``url`` as base64: ``data:`` URLs are decoded, http(s) fetched by
        the bridge, or by a tab for the site's own URLs and when the bridge cannot."""
        if url.startswith("data:"):
            return base64.b64encode(_data_url_bytes(url)).decode("ascii")
        parts = urllib.parse.urlsplit(url)
        if parts.scheme.lower() not in ("http", "https"):
            raise ImageFetchFailed(f"Cannot fetch the generated image {url!r}: unsupported URL.")
        tab_can = any(w.can(Capability.FETCH_IMAGE) for w in self.relay.pool.workers.values())
        if tab_can and _SITE_HOST.search(parts.hostname or ""):
            return await self._through_tab(url, rec)
        try:
            body = await asyncio.to_thread(_fetch, url, self.fetch_timeout)
        except ImageFetchFailed as direct:
            if not tab_can:
                raise
            try:
                return await self._through_tab(url, rec)
            except ImageFetchFailed as tab:
                raise ImageFetchFailed(f"{direct.message} {tab.message}") from None
        return base64.b64encode(body).decode("ascii")

    async def _through_tab(self, url: str, rec: RequestRecord) -> str:
        """The image fetched by a browser tab (``fetch_image`` job), as base64."""
        payload = FetchImagePayload(url=url, max_bytes=MAX_IMAGE_BYTES).model_dump()
        try:
            answer = await call_tab(self.relay, payload, requires=Capability.FETCH_IMAGE,
                                    timeout=self.fetch_timeout, rec=rec)
            data = FetchImageResult.model_validate(answer.value).data_b64
            base64.b64decode(data, validate=True)
        except (ValidationError, binascii.Error, ValueError):
            raise ImageFetchFailed(
                f"The browser tab sent no usable image for {url}; update the userscript."
            ) from None
        except BridgeError as exc:
            raise ImageFetchFailed(
                f"Fetching the generated image {url} through the browser tab failed: "
                f"{exc.message}"
            ) from None
        return data


def _no_image(answer: AnswerBuilder) -> BridgeError:
    if answer.finish_reason == "content_filter":
        return SiteError(
            "The site stopped the image generation (content filter); no image was produced.",
            kind="content_policy",
            status=400,
            type="invalid_request_error",
            code="content_policy_violation",
        )
    said = answer.text.strip()
    detail = f" It answered with text instead: {said[:300]!r}." if said else ""
    return BridgeError(
        "The image model's answer ended without an image." + detail,
        status=502,
        code="no_image",
    )


def _data_url_bytes(url: str) -> bytes:
    header, sep, payload = url.partition(",")
    if not sep:
        raise ImageFetchFailed("The generated image is a malformed data: URL.")
    try:
        if header.endswith(";base64"):
            return base64.b64decode(payload, validate=False)
        return urllib.parse.unquote_to_bytes(payload)
    except (binascii.Error, ValueError):
        raise ImageFetchFailed("The generated image is a malformed data: URL.") from None


def _fetch(url: str, timeout: float) -> bytes:
    """GET ``url`` (blocking; run in a thread). Raises ImageFetchFailed naming the URL."""
    req = urllib.request.Request(url, headers={"User-Agent": "lmarena-bridge"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read(MAX_IMAGE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise ImageFetchFailed(
            f"Fetching the generated image {url} failed: HTTP {exc.code}."
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ImageFetchFailed(f"Fetching the generated image {url} failed: {reason}.") from None
    if len(body) > MAX_IMAGE_BYTES:
        raise ImageFetchFailed(f"The generated image {url} is larger than {MAX_IMAGE_BYTES} bytes.")
    return body

