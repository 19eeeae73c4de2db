"""The legacy retry strategy: the seed-era payload that regenerates a captured message
(docs/site-protocol.md §4): captured ids, tavern and bypass tricks, participant positions.
Pure."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Literal

from lmarena_bridge.config.model import BridgeConfig, EndpointEntry, ModelTarget, ids_are_set
from lmarena_bridge.errors import NotConfigured
from lmarena_bridge.invocation import command
from lmarena_bridge.protocol.worker import JobPayload, MessageTemplate
from lmarena_bridge.site.job import SiteJob

Picker = Callable[[str, Sequence[EndpointEntry]], EndpointEntry]

_BYPASS_MARKER = "--bypass"


class EndpointRotation:
    """Chooses an entry from a model's pool in model_endpoint_map.json.

    ``round_robin`` (default) spreads requests over the pool in order, per model name, so
    concurrent requests do not all regenerate the same captured message;
    ``random`` matches the seed's ``random.choice``. Single-threaded use (the event loop).
    """

    def __init__(self, strategy: str = "round_robin", rng: random.Random | None = None) -> None:
        if strategy not in ("round_robin", "random"):
            raise ValueError(f"unknown endpoint pool strategy {strategy!r}")
        self.strategy = strategy
        self._rng = rng or random.Random()
        self._counters: dict[str, int] = {}

    def pick(self, model: str, entries: Sequence[EndpointEntry]) -> EndpointEntry:
        if not entries:
            raise ValueError(f"empty endpoint pool for {model!r}")
        if self.strategy == "random":
            return self._rng.choice(entries)
        turn = self._counters.get(model, 0)
        self._counters[model] = turn + 1
        return entries[turn % len(entries)]

    def reset(self) -> None:
        """Forget the positions (e.g. after the map was reloaded)."""
        self._counters.clear()


def first_entry(model: str, entries: Sequence[EndpointEntry]) -> EndpointEntry:
    return entries[0]


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
        payload=payload,
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
