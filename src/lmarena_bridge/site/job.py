"""What the relay runs for one client request: :class:`SiteJob`, built by a site strategy
(site/strategy.py) around that strategy's :class:`SiteRequest`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from pydantic import BaseModel

from lmarena_bridge.config.model import ModelTarget
from lmarena_bridge.protocol.worker import AttachmentPayload, MessageTemplate
from lmarena_bridge.site.transcript import TurnKey

Turn = tuple[str, MessageTemplate]  # (role in the transcript, its text and attachments)


class SiteRequest(Protocol):
    """What a tab sends for a job, as one strategy builds it."""

    @property
    def requires(self) -> str | None:
        """The tab capability this request needs (None: any tab)."""
        ...

    @property
    def attachments(self) -> tuple[AttachmentPayload, ...]:
        """The images a tab may have to upload first (relay/image_uploads.py)."""
        ...

    def attempt(self) -> BaseModel:
        """The job frame's payload for one attempt (a strategy may give fresh ids each)."""
        ...

    def with_files(self, uploaded: Mapping[str, AttachmentPayload]) -> SiteRequest:
        """This request with every attachment whose URL ``uploaded`` names replaced."""
        ...


@dataclass(frozen=True, slots=True)
class SiteJob:
    """Everything the relay needs to run one site request and read its answer."""

    request: SiteRequest
    model: str
    target: ModelTarget | None
    is_image: bool
    mode: str  # "direct_chat" | "battle"
    battle_target: str  # "A" | "B"
    side: str  # participant whose stream lines carry the answer: "a" | "b"
    prompt_chars: int
    # Session reuse: the whole conversation if a follow-up is refused, and the turns whose
    # continuation this request's answer becomes.
    fallback: SiteRequest | None = None
    turn_keys: tuple[TurnKey, ...] = ()
    # The images must first become files of the site's store (relay/image_uploads.py).
    upload_images: bool = False

    @property
    def requires(self) -> str | None:
        """The worker capability this job needs (None: any worker)."""
        return self.request.requires

    def attempt_payload(self) -> dict[str, Any]:
        """The frame payload for one attempt."""
        return self.request.attempt().model_dump()

    def fallback_payload(self) -> dict[str, Any]:
        assert self.fallback is not None
        return self.fallback.attempt().model_dump()

    def attachments(self) -> list[AttachmentPayload]:
        """Every attachment the job may send (its follow-up's fallback included)."""
        return [a for r in (self.request, self.fallback) if r for a in r.attachments]

    def with_uploads(self, uploaded: Mapping[str, AttachmentPayload]) -> SiteJob:
        """This job with every attachment whose URL ``uploaded`` names replaced by the file."""
        fallback = self.fallback.with_files(uploaded) if self.fallback is not None else None
        return replace(self, request=self.request.with_files(uploaded), fallback=fallback,
                       upload_images=False)


def turn_key(role: str, template: MessageTemplate) -> TurnKey:
    return role, template.content, tuple(a.url for a in template.attachments)
