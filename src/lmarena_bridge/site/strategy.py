"""How a client request becomes a site job: the seam between the relay and a site strategy.

``site_strategy`` chooses one, once per config (:func:`strategy_for`): ``create``
(site/create_job.py, the default) starts a site conversation per request; ``retry``
(site/legacy/, kept for old setups) regenerates a captured message.
"""

from __future__ import annotations

from typing import Protocol

from lmarena_bridge.config.model import BridgeConfig, Settings
from lmarena_bridge.protocol.openai import ChatCompletionRequest
from lmarena_bridge.site.create_job import CreateStrategy
from lmarena_bridge.site.job import SiteJob
from lmarena_bridge.site.legacy.strategy import LegacyRetryStrategy
from lmarena_bridge.site.request import NewId, SessionLookup


class SiteStrategy(Protocol):
    """Builds the jobs the relay runs; raises ``BridgeError`` subclasses for anything the
    client or the user must fix, before any tab is used."""

    @property
    def name(self) -> str:
        """The ``site_strategy`` value."""
        ...

    @property
    def warning(self) -> str | None:
        """Logged when the bridge starts with (or switches to) this strategy."""
        ...

    @property
    def uses_captured_ids(self) -> bool:
        """Its jobs send ids the user captured, so site errors about them advise new ones."""
        ...

    @property
    def empty_answer_advice(self) -> str:
        """What the user can do when the site's answer is empty."""
        ...

    def chat_job(
        self,
        req: ChatCompletionRequest,
        config: BridgeConfig,
        *,
        new_id: NewId = ...,
        continue_from: SessionLookup | None = None,
    ) -> SiteJob:
        """The job for a chat request; ``new_id`` names unnamed attachments and
        ``continue_from`` finds the site session of an earlier conversation (if used)."""
        ...

    def image_job(self, prompt: str, model: str | None, config: BridgeConfig) -> SiteJob:
        """One image generation; ``model`` None or ``dall-e-*``: the first image model."""
        ...

    def extra_models(self, config: BridgeConfig) -> dict[str, str | None]:
        """Names it serves beyond models.json, with their model card's type (None: unsaid)."""
        ...

    def config_changed(self, config: BridgeConfig) -> None:
        """A new config snapshot (same ``site_strategy``) was loaded."""
        ...


def strategy_for(settings: Settings) -> SiteStrategy:
    if settings.site_strategy == "retry":
        return LegacyRetryStrategy(settings.endpoint_pool_strategy)
    return CreateStrategy()
