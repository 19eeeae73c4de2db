"""What the relay runs for one OpenAI request: :class:`SiteJob`, built by site/request.py."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from lmarena_bridge.config.model import ModelTarget
from lmarena_bridge.protocol.worker import AttachmentPayload, JobPayload, MessageTemplate
from lmarena_bridge.site.evaluation import Evaluation
from lmarena_bridge.site.transcript import TurnKey

Turn = tuple[str, MessageTemplate]  # (role in the transcript, the seed-era template)


# The capability a tab needs for create-strategy jobs (docs/worker-protocol.md).
SITE_REQUEST = "site_request"


@dataclass(frozen=True, slots=True)
class SiteJob:
    """Everything the relay needs to run one site request and read its answer.

    Exactly one of ``payload`` (retry strategy, the seed payload) and ``evaluation``
    (create strategy) is set.
    """

    payload: JobPayload | None
    model: str
    target: ModelTarget | None
    is_image: bool
    mode: str  # "direct_chat" | "battle"
    battle_target: str  # "A" | "B"
    side: str  # participant whose stream lines carry the answer: "a" | "b"
    prompt_chars: int
    evaluation: Evaluation | None = None
    # Session reuse (create strategy): the whole conversation if a follow-up is refused,
    # and the turns whose continuation this request's answer becomes.
    fallback: Evaluation | None = None
    turn_keys: tuple[TurnKey, ...] = ()
    # The images must first become files of the site's store (relay/uploads.py).
    upload_images: bool = False

    @property
    def requires(self) -> str | None:
        """The worker capability this job needs (None: any worker)."""
        return SITE_REQUEST if self.evaluation is not None else None

    def attempt_payload(self) -> dict[str, Any]:
        """The frame payload for one attempt; create jobs get fresh site ids every time."""
        if self.evaluation is not None:
            return self.evaluation.attempt().model_dump()
        assert self.payload is not None
        return self.payload.model_dump()

    def fallback_payload(self) -> dict[str, Any]:
        assert self.fallback is not None
        return self.fallback.attempt().model_dump()

    def attachments(self) -> list[AttachmentPayload]:
        """Every attachment the job may send (its follow-up's fallback included)."""
        return [a for ev in (self.evaluation, self.fallback) if ev for a in ev.attachments]

    def with_uploads(self, uploaded: dict[str, AttachmentPayload]) -> SiteJob:
        """This job with every attachment whose URL ``uploaded`` names replaced by the file."""

        def swap(ev: Evaluation | None) -> Evaluation | None:
            if ev is None:
                return None
            return replace(ev, attachments=tuple(uploaded.get(a.url, a) for a in ev.attachments))

        return replace(self, evaluation=swap(self.evaluation), fallback=swap(self.fallback),
                       upload_images=False)


def turn_key(role: str, template: MessageTemplate) -> TurnKey:
    return role, template.content, tuple(a.url for a in template.attachments)
