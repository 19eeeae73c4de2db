"""The seed-era payload that regenerates a captured message (docs/site-protocol.md §4):
captured ids, tavern and bypass tricks, participant positions. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal

from lmarena_bridge.config.model import BridgeConfig, ModelTarget, ids_are_set
from lmarena_bridge.errors import NotConfigured
from lmarena_bridge.invocation import command
from lmarena_bridge.protocol.worker import AttachmentPayload, JobPayload, MessageTemplate
from lmarena_bridge.site.job import SiteJob
from lmarena_bridge.site.legacy.rotation import Picker, first_entry

_BYPASS_MARKER = "--bypass"


@dataclass(frozen=True, slots=True)
class SeedRequest:
    """The seed payload, sent the same on every attempt: the captured ids are the request.

    Its images travel inside the templates; the retry strategy never uploads them.
    """

    payload: JobPayload

    requires: ClassVar[str | None] = None  # a seed-era tab runs it too
    attachments: ClassVar[tuple[AttachmentPayload, ...]] = ()

    def attempt(self) -> JobPayload:
        return self.payload

    def with_files(self, uploaded: Mapping[str, AttachmentPayload]) -> SeedRequest:
        return self


def seed_templates(
    templates: list[MessageTemplate], is_image: bool, config: BridgeConfig
) -> list[MessageTemplate]:
    """The conversation as the seed sent it: tavern mode, the image bypass, the text bypass."""
    if config.settings.tavern_mode_enabled:
        templates = merge_system(templates)
    templates = image_bypass(templates)
    if config.settings.bypass_enabled and not is_image:
        templates.append(MessageTemplate(role="user", content=" "))
    return templates


def merge_system(templates: list[MessageTemplate]) -> list[MessageTemplate]:
    """Tavern mode: every system message merged, in order, into one at the front."""
    systems = [t for t in templates if t.role == "system"]
    if not systems:
        return templates
    merged = MessageTemplate(
        role="system",
        content="\n\n".join(t.content for t in systems),
        attachments=[a for t in systems for a in t.attachments],
    )
    return [merged, *(t for t in templates if t.role != "system")]


def image_bypass(templates: list[MessageTemplate]) -> list[MessageTemplate]:
    """The ``--bypass`` trick (§5.6): present the user's images as an assistant's output."""
    last = templates[-1]
    stripped = last.content.rstrip()
    if (
        last.role != "user"
        or not stripped.endswith(_BYPASS_MARKER)
        or not any(a.contentType.startswith("image/") for a in last.attachments)
    ):
        return templates
    text = stripped[: -len(_BYPASS_MARKER)].strip() or " "
    fake = MessageTemplate(role="assistant", content="", attachments=list(last.attachments))
    out = [*templates[:-1], fake, MessageTemplate(role="user", content=text)]
    if out[0].role == "assistant":
        out.insert(0, MessageTemplate(role="user", content="Hi"))
    return out


def seed_job(
    model: str,
    target: ModelTarget | None,
    is_image: bool,
    templates: list[MessageTemplate],
    config: BridgeConfig,
    pick: Picker | None,
) -> SiteJob:
    session_id, message_id, mode, battle_target = _ids(model, config, pick or first_entry)
    side: Literal["a", "b"]
    if mode == "battle":
        side = "b" if battle_target == "B" else "a"
        for t in templates:
            t.participantPosition = side
    else:
        side = "a"
        for t in templates:
            t.participantPosition = "b" if t.role == "system" else "a"
    payload = JobPayload(
        message_templates=templates,
        target_model_id=target.model_id if target is not None else None,
        session_id=session_id,
        message_id=message_id,
        is_image_request=is_image,
    )
    return SiteJob(
        request=SeedRequest(payload),
        model=model,
        target=target,
        is_image=is_image,
        mode=mode,
        battle_target=battle_target,
        side=side,
        prompt_chars=sum(len(t.content) for t in templates),
    )


def _ids(model: str, config: BridgeConfig, pick: Picker) -> tuple[str, str, str, str]:
    """(session_id, message_id, mode, battle_target) for a model."""
    settings = config.settings
    entries = config.endpoint_map.get(model)
    if entries:
        entry = pick(model, entries)
        session_id, message_id = entry.session_id, entry.message_id
        if entry.mode is None:
            mode: str = settings.id_updater_last_mode
            target: str = entry.battle_target or settings.id_updater_battle_target
        else:
            mode, target = entry.mode, entry.battle_target or "A"
        where = f"model_endpoint_map.json entry for '{model}'"
    elif settings.use_default_ids_if_mapping_not_found:
        session_id, message_id = settings.session_id, settings.message_id
        mode, target = settings.id_updater_last_mode, settings.id_updater_battle_target
        where = "config.jsonc"
    else:
        raise NotConfigured(
            f"The model '{model}' has no entry in model_endpoint_map.json. Add one, or set "
            '"use_default_ids_if_mapping_not_found": true in config.jsonc.',
            param="model",
        )
    if not ids_are_set(session_id, message_id):
        raise NotConfigured(
            f"No LMArena session/message ids are set ({where}). Open the LMArena site in your "
            f"browser with the userscript running and run `{command('capture-ids')}`."
        )
    return session_id, message_id, mode, target
