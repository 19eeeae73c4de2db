"""The legacy ``retry`` strategy behind the seam of site/strategy.py."""

from __future__ import annotations

from lmarena_bridge.config.check import RETRY_WARNING
from lmarena_bridge.config.model import BridgeConfig
from lmarena_bridge.errors import NotConfigured
from lmarena_bridge.protocol.openai import ChatCompletionRequest
from lmarena_bridge.protocol.worker import MessageTemplate
from lmarena_bridge.site.job import SiteJob
from lmarena_bridge.site.legacy.rotation import EndpointRotation, Picker
from lmarena_bridge.site.legacy.seed_job import seed_job, seed_templates
from lmarena_bridge.site.request import (
    NewId,
    SessionLookup,
    chat_turns,
    check_prompt,
    image_target,
)
from lmarena_bridge.site.turns import short_id

NO_IMAGE_MODEL = (
    'Add one such as "nano-banana": "null:image" (the image model of the captured session).'
)


class LegacyRetryStrategy:
    """Regenerates a captured message: models.json names or model_endpoint_map.json pools.

    ``pick`` chooses a pool's entry (default: the rotation, ``endpoint_pool_strategy``).
    """

    name = "retry"
    warning = f'site_strategy is "retry" (legacy). {RETRY_WARNING}'
    uses_captured_ids = True
    empty_answer_advice = "The captured session may be broken; try again or capture new ids."

    def __init__(self, pool_strategy: str = "round_robin", *, pick: Picker | None = None):
        self.rotation = EndpointRotation(pool_strategy)
        self._pick = pick or self.rotation.pick

    def chat_job(self, req: ChatCompletionRequest, config: BridgeConfig, *,
                 new_id: NewId = short_id, continue_from: SessionLookup | None = None) -> SiteJob:
        """Raises NotConfigured (400) for the battle pseudo-model and when no usable
        session/message ids exist for the model; what ``chat_turns`` raises."""
        target = config.models.get(req.model)
        battle = req.model == config.settings.battle_model
        known = target is not None or battle or req.model in config.endpoint_map
        turns = chat_turns(req, config, known=known, new_id=new_id)
        if battle and target is None:
            raise NotConfigured(
                f"The model '{req.model}' (a battle) needs \"site_strategy\": \"create\" in "
                "config.jsonc.",
                param="model",
            )
        is_image = target.is_image if target is not None else False
        templates = seed_templates([t for _, t in turns], is_image, config)
        return seed_job(req.model, target, is_image, templates, config, self._pick)

    def image_job(self, prompt: str, model: str | None, config: BridgeConfig) -> SiteJob:
        check_prompt(prompt)
        template = MessageTemplate(role="user", content=prompt)
        if model is not None and model not in config.models and model in config.endpoint_map:
            # Mapped but not typed: trust the caller's choice of endpoint.
            return seed_job(model, None, True, [template], config, self._pick)
        target = image_target(model, config, none_advice=NO_IMAGE_MODEL)
        return seed_job(target.name, target, True, [template], config, self._pick)

    def extra_models(self, config: BridgeConfig) -> dict[str, str | None]:
        """A model known from the endpoint map alone can be regenerated too."""
        return {name: None for name in config.endpoint_map if name not in config.models}

    def config_changed(self, config: BridgeConfig) -> None:
        # A reloaded endpoint map may have other pools: start them from their first entry.
        self.rotation.strategy = config.settings.endpoint_pool_strategy
        self.rotation.reset()
