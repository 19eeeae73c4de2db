"""The create strategy (the default): one new site conversation per request, carrying the
whole transcript (docs/site-protocol.md §5), or a follow-up in a conversation the bridge
started (§5.6). Pure."""

from __future__ import annotations

from dataclasses import replace

from lmarena_bridge.config.model import BridgeConfig, ModelTarget
from lmarena_bridge.errors import InvalidRequest, NotConfigured
from lmarena_bridge.invocation import command
from lmarena_bridge.protocol.openai import ChatCompletionRequest
from lmarena_bridge.protocol.worker import MessageTemplate
from lmarena_bridge.site.catalog import find_entry, requires_upload
from lmarena_bridge.site.evaluation import Evaluation, Modality
from lmarena_bridge.site.job import SiteJob, Turn, turn_key
from lmarena_bridge.site.request import (
    NewId,
    SessionLookup,
    chat_turns,
    check_prompt,
    image_target,
)
from lmarena_bridge.site.transcript import TranscriptFormat, conversation_key, flatten
from lmarena_bridge.site.turns import short_id

_MODALITY_BY_KIND: dict[str, Modality] = {
    "text": "chat",
    "image": "image",
    "search": "search",
    "webdev": "webdev",
}


# With no image model configured: where the ids come from (the site's catalog, via a tab).
NO_IMAGE_MODEL = (
    f"With a site tab connected, {command('update-models --apply')} adds the site's image "
    "models (then name one, or let dall-e-* names pick the first)."
)


class CreateStrategy:
    """Models of models.json by their site id, and the anonymous battle pseudo-model."""

    name = "create"
    warning: str | None = None
    uses_captured_ids = False
    empty_answer_advice = (
        "This is a known site failure; try again in a moment or pick another model."
    )

    def chat_job(self, req: ChatCompletionRequest, config: BridgeConfig, *,
                 new_id: NewId = short_id, continue_from: SessionLookup | None = None) -> SiteJob:
        """``continue_from`` maps a :func:`conversation_key` to the site session that
        conversation has; a hit makes the job a follow-up with the new turns only."""
        target = config.models.get(req.model)
        known = target is not None or req.model == config.settings.battle_model
        turns = chat_turns(req, config, known=known, new_id=new_id)
        return create_job(req.model, target, turns, config, continue_from)

    def image_job(self, prompt: str, model: str | None, config: BridgeConfig) -> SiteJob:
        check_prompt(prompt)
        target = image_target(model, config, none_advice=NO_IMAGE_MODEL)
        template = MessageTemplate(role="user", content=prompt)
        return create_job(target.name, target, [("user", template)], config)

    def extra_models(self, config: BridgeConfig) -> dict[str, str | None]:
        battle = config.settings.battle_model
        return {} if battle in config.models else {battle: "text"}

    def config_changed(self, config: BridgeConfig) -> None:
        return None


def create_job(
    model: str,
    target: ModelTarget | None,
    turns: list[Turn],
    config: BridgeConfig,
    continue_from: SessionLookup | None = None,
) -> SiteJob:
    """A new site conversation carrying the whole transcript (docs/site-protocol.md §5), or
    a follow-up in a conversation the bridge started (§5.6)."""
    s = config.settings
    fmt = TranscriptFormat(
        turn=s.transcript_turn_format,
        separator=s.transcript_separator,
        role_names=s.transcript_role_names,
    )
    content = flatten([(role, t.content) for role, t in turns], fmt)
    attachments = tuple(a for _, t in turns for a in t.attachments)
    if target is None and model == s.battle_model:
        side = s.battle_side.lower()
        evaluation = Evaluation(
            mode="battle",
            modality="chat",
            content=content,
            attachments=attachments,
            recaptcha_retries=s.recaptcha_retries,
            human_check_seconds=s.human_check_timeout_seconds or None,
        )
        return SiteJob(
            request=evaluation, model=model, target=None, is_image=False, mode="battle",
            battle_target=s.battle_side, side=side, prompt_chars=len(content),
            upload_images=bool(attachments) and s.upload_images == "always",
        )
    if target is None or target.model_id is None:
        raise NotConfigured(
            f"The model '{model}' has no site model id in models.json (a value such as "
            '"<uuid>" or "<uuid>:image"); a new site conversation must name its model. '
            f"{command('update-models --apply')} adds every model the site offers with its id.",
            param="model",
        )
    modality = _modality(target, config)
    evaluation = Evaluation(
        mode=s.direct_mode,
        modality=modality,
        content=content,
        model_a_id=target.model_id,
        attachments=attachments,
        recaptcha_retries=s.recaptcha_retries,
        human_check_seconds=s.human_check_timeout_seconds or None,
    )
    keys = tuple(turn_key(role, t) for role, t in turns)
    fallback = None
    split = _follow_up(turns)
    if split is not None and continue_from is not None and modality != "image":
        earlier, new = split
        session_id = continue_from(conversation_key(model, keys[: len(earlier)]))
        if session_id is not None:
            fallback = evaluation
            content = flatten([(role, t.content) for role, t in new], fmt)
            evaluation = replace(
                evaluation,
                content=content,
                attachments=tuple(a for _, t in new for a in t.attachments),
                session_id=session_id,
            )
    return SiteJob(
        request=evaluation, model=model, target=target, is_image=modality == "image",
        mode="direct_chat", battle_target="A", side="a", prompt_chars=len(content),
        fallback=fallback, turn_keys=keys,
        upload_images=bool(attachments) and _uploads_wanted(target, config),
    )


def _uploads_wanted(target: ModelTarget, config: BridgeConfig) -> bool:
    """``upload_images``: always, never, or (auto) when the model requires uploads."""
    wanted = config.settings.upload_images
    if wanted != "auto":
        return wanted == "always"
    entry = find_entry(config.available_models, target.model_id)
    return entry is not None and requires_upload(entry)


def _follow_up(turns: list[Turn]) -> tuple[list[Turn], list[Turn]] | None:
    """(turns up to the last assistant turn, the turns after it), when both are non-empty."""
    last = max((i for i, (role, _) in enumerate(turns) if role == "assistant"), default=-1)
    if last < 0 or last == len(turns) - 1:
        return None
    return turns[: last + 1], turns[last + 1 :]


def _modality(target: ModelTarget, config: BridgeConfig) -> Modality:
    """From the models.json kind; a text model the site lists as a search model searches."""
    modality = _MODALITY_BY_KIND.get(target.kind)
    if modality is None:
        raise InvalidRequest(
            f"The model '{target.name}' is a '{target.kind}' model, which the bridge cannot "
            "use for chat.",
            param="model",
        )
    if modality == "chat":
        for entry in config.available_models:
            if entry.get("id") == target.model_id:
                caps = entry.get("capabilities")
                out = caps.get("outputCapabilities") if isinstance(caps, dict) else None
                if isinstance(out, dict) and out.get("search"):
                    return "search"
                break
    return modality
