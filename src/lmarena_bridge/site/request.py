"""OpenAI requests -> the worker's job (docs/site-protocol.md).

Two strategies (``site_strategy``): ``create`` builds a new site conversation per request
(site/create_job.py); ``retry`` fills the seed-era payload that regenerates a captured
message (site/seed_job.py). Pure: reads one ``BridgeConfig`` snapshot, raises
``BridgeError`` subclasses for anything the client or the user must fix, and returns a
frozen :class:`SiteJob`.
"""

from __future__ import annotations

from collections.abc import Callable

from lmarena_bridge.config.model import BridgeConfig, ModelTarget
from lmarena_bridge.errors import InvalidRequest, ModelNotFound, NotConfigured
from lmarena_bridge.protocol.openai import ChatCompletionRequest
from lmarena_bridge.protocol.worker import MessageTemplate
from lmarena_bridge.site.create_job import create_job
from lmarena_bridge.site.job import SITE_REQUEST, SiteJob
from lmarena_bridge.site.seed_job import (
    EndpointRotation,
    Picker,
    image_bypass,
    merge_system,
    seed_job,
)
from lmarena_bridge.site.tool_prompt import check_tool_request, tool_call_names, tool_instructions
from lmarena_bridge.site.turns import message_turn, short_id

# Also the names callers used when everything lived here.
__all__ = ["SITE_REQUEST", "EndpointRotation", "SiteJob", "build_image_job", "build_site_job"]


def build_site_job(
    req: ChatCompletionRequest,
    config: BridgeConfig,
    *,
    pick: Picker | None = None,
    new_id: Callable[[], str] = short_id,
    continue_from: Callable[[str], str | None] | None = None,
) -> SiteJob:
    """Translate a chat completion request; ``new_id`` names unnamed attachments.

    ``continue_from`` (create strategy) maps a :func:`conversation_key` to the site session
    that conversation has; a hit makes the job a follow-up with the new turns only.

    Raises ModelNotFound (404) for a model in neither models.json nor the endpoint map,
    InvalidRequest (400) for what the bridge cannot send, NotConfigured (400) when no
    usable session/message ids exist for the model.
    """
    target = config.models.get(req.model)
    battle = req.model == config.settings.battle_model
    if target is None and not battle and req.model not in config.endpoint_map:
        raise ModelNotFound(
            f"The model '{req.model}' does not exist in models.json. "
            "See GET /v1/models for the available names.",
            param="model",
        )
    if not req.messages:
        raise InvalidRequest("'messages' must contain at least one message.", param="messages")
    if req.n is not None and req.n > 1:
        raise InvalidRequest("Only n=1 is supported: LMArena returns one answer.", param="n")
    check_tool_request(req, config.settings.tool_calling)

    names = tool_call_names(req.messages)
    turns = [message_turn(i, m, new_id, names) for i, m in enumerate(req.messages)]
    tools = tool_instructions(req.tools, req.tool_choice, req.parallel_tool_calls)
    if tools is not None:
        # With the system turns, so the model reads it before the conversation.
        turns.insert(0, ("system", MessageTemplate(role="system", content=tools)))
    if config.settings.site_strategy == "create":
        return create_job(req.model, target, turns, config, continue_from)
    templates = [t for _, t in turns]
    if req.model == config.settings.battle_model and target is None:
        raise NotConfigured(
            f"The model '{req.model}' (a battle) needs \"site_strategy\": \"create\" in "
            "config.jsonc.",
            param="model",
        )
    is_image = target.is_image if target is not None else False
    if config.settings.tavern_mode_enabled:
        templates = merge_system(templates)
    templates = image_bypass(templates)
    if config.settings.bypass_enabled and not is_image:
        templates.append(MessageTemplate(role="user", content=" "))
    return seed_job(req.model, target, is_image, templates, config, pick)


def build_image_job(
    prompt: str,
    model: str | None,
    config: BridgeConfig,
    *,
    pick: Picker | None = None,
) -> SiteJob:
    """A job for ``/v1/images/generations``: one user message, ``is_image_request``.

    ``model`` must name an image model of models.json; None or an OpenAI ``dall-e-*``
    name means the first image model there. Raises InvalidRequest for a text model,
    ModelNotFound for an unknown one, NotConfigured when models.json has no image model.
    """
    if not prompt.strip():
        raise InvalidRequest("'prompt' must not be empty.", param="prompt")
    name, target = _image_model(model, config)
    template = MessageTemplate(role="user", content=prompt)
    if config.settings.site_strategy == "create":
        return create_job(name, target, [("user", template)], config)
    return seed_job(name, target, True, [template], config, pick)


def _image_model(model: str | None, config: BridgeConfig) -> tuple[str, ModelTarget | None]:
    target = config.models.get(model) if model is not None else None
    if target is not None:
        if not target.is_image:
            raise InvalidRequest(
                f"The model '{model}' is not an image model (its models.json value has no "
                "':image' suffix).",
                param="model",
            )
        return target.name, target
    if model is not None and model in config.endpoint_map:
        return model, None  # mapped but not typed: trust the caller's choice of endpoint
    if model is None or model.lower().startswith("dall-e"):
        for name, candidate in config.models.items():
            if candidate.is_image:
                return name, candidate
        raise NotConfigured(
            "models.json has no image model; add one such as "
            '"nano-banana": "null:image" to use /v1/images/generations.',
            param="model",
        )
    raise ModelNotFound(
        f"The model '{model}' does not exist in models.json.",
        param="model",
    )
