"""OpenAI requests -> the worker's job (docs/site-protocol.md).

Two strategies (``site_strategy``): ``create`` builds a new site conversation per request
(:mod:`lmarena_bridge.site.evaluation`, the transcript flattened by
:mod:`lmarena_bridge.site.transcript`); ``retry`` fills the seed-era payload that
regenerates a captured message. Pure: reads one ``BridgeConfig`` snapshot, raises
``BridgeError`` subclasses for anything the client or the user must fix, and returns a
frozen :class:`SiteJob`.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from lmarena_bridge.config.model import (
    BridgeConfig,
    EndpointEntry,
    ModelTarget,
    ids_are_set,
)
from lmarena_bridge.errors import InvalidRequest, ModelNotFound, NotConfigured
from lmarena_bridge.invocation import command
from lmarena_bridge.protocol.openai import ChatCompletionRequest, ChatMessage, ImagePart, TextPart
from lmarena_bridge.protocol.worker import AttachmentPayload, JobPayload, MessageTemplate
from lmarena_bridge.site.attachments import attachment_from_url
from lmarena_bridge.site.catalog import find_entry, requires_upload
from lmarena_bridge.site.evaluation import Evaluation, Modality
from lmarena_bridge.site.tool_prompt import (
    check_tool_request,
    render_tool_calls,
    render_tool_result,
    tool_call_names,
    tool_instructions,
)
from lmarena_bridge.site.transcript import TranscriptFormat, TurnKey, conversation_key, flatten

Picker = Callable[[str, Sequence[EndpointEntry]], EndpointEntry]
Turn = tuple[str, MessageTemplate]  # (role in the transcript, the seed-era template)

_BYPASS_MARKER = "--bypass"
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


def _short_id() -> str:
    return uuid.uuid4().hex[:12]


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


def _first(model: str, entries: Sequence[EndpointEntry]) -> EndpointEntry:
    return entries[0]


def build_site_job(
    req: ChatCompletionRequest,
    config: BridgeConfig,
    *,
    pick: Picker | None = None,
    new_id: Callable[[], str] = _short_id,
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
    turns = [_template(i, m, new_id, names) for i, m in enumerate(req.messages)]
    tools = tool_instructions(req.tools, req.tool_choice, req.parallel_tool_calls)
    if tools is not None:
        # With the system turns, so the model reads it before the conversation.
        turns.insert(0, ("system", MessageTemplate(role="system", content=tools)))
    if config.settings.site_strategy == "create":
        return _create_job(req.model, target, turns, config, continue_from)
    templates = [t for _, t in turns]
    if req.model == config.settings.battle_model and target is None:
        raise NotConfigured(
            f"The model '{req.model}' (a battle) needs \"site_strategy\": \"create\" in "
            "config.jsonc.",
            param="model",
        )
    is_image = target.is_image if target is not None else False
    if config.settings.tavern_mode_enabled:
        templates = _merge_system(templates)
    templates = _image_bypass(templates)
    if config.settings.bypass_enabled and not is_image:
        templates.append(MessageTemplate(role="user", content=" "))
    return _finish_job(req.model, target, is_image, templates, config, pick)


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
        return _create_job(name, target, [("user", template)], config)
    return _finish_job(name, target, True, [template], config, pick)


# ---- the create strategy ---------------------------------------------------------------

_MODALITY_BY_KIND: dict[str, Modality] = {
    "text": "chat",
    "image": "image",
    "search": "search",
    "webdev": "webdev",
}


def _create_job(
    model: str,
    target: ModelTarget | None,
    turns: list[Turn],
    config: BridgeConfig,
    continue_from: Callable[[str], str | None] | None = None,
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
            payload=None, model=model, target=None, is_image=False, mode="battle",
            battle_target=s.battle_side, side=side, prompt_chars=len(content),
            evaluation=evaluation,
            upload_images=bool(attachments) and s.upload_images == "always",
        )
    if target is None or target.model_id is None:
        raise NotConfigured(
            f"The model '{model}' has no site model id in models.json (a value such as "
            '"<uuid>" or "<uuid>:image"); a new site conversation must name its model.',
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
        payload=None, model=model, target=target, is_image=modality == "image",
        mode="direct_chat", battle_target="A", side="a", prompt_chars=len(content),
        evaluation=evaluation, fallback=fallback, turn_keys=keys,
        upload_images=bool(attachments) and _uploads_wanted(target, config),
    )


def _uploads_wanted(target: ModelTarget, config: BridgeConfig) -> bool:
    """``upload_images``: always, never, or (auto) when the model requires uploads."""
    wanted = config.settings.upload_images
    if wanted != "auto":
        return wanted == "always"
    entry = find_entry(config.available_models, target.model_id)
    return entry is not None and requires_upload(entry)


def turn_key(role: str, template: MessageTemplate) -> TurnKey:
    return role, template.content, tuple(a.url for a in template.attachments)


def answer_turn_key(message: dict[str, Any]) -> TurnKey:
    """The turn key of an answer the bridge gave, as a client sends it back next time."""
    role, template = _template(0, ChatMessage.model_validate(message), _short_id, {})
    return turn_key(role, template)


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


# ---- pipeline steps ------------------------------------------------------------------


def _template(
    index: int, msg: ChatMessage, new_id: Callable[[], str], tool_names: dict[str, str]
) -> Turn:
    """(transcript role, template) of one message; tool results become user text."""
    if msg.role == "tool":
        name = tool_names.get(msg.tool_call_id or "")
        text = render_tool_result(msg.tool_call_id, name, msg.content)
        return "tool", MessageTemplate(role="user", content=text)
    role = _ROLES.get(msg.role)
    if role is None:
        raise InvalidRequest(
            f"messages[{index}] has role '{msg.role}', which the bridge does not support "
            "(send tool results as role 'tool').",
            param="messages",
        )
    # reasoning_content of earlier assistant turns is dropped on purpose: the site has no
    # field for it and replaying it as text would change the conversation.
    content = msg.content
    attachments: list[AttachmentPayload] = []
    if content is None:
        text = ""
    elif isinstance(content, str):
        text = content
    else:
        texts: list[str] = []
        for j, part in enumerate(content):
            where = f"messages[{index}].content[{j}]"
            if isinstance(part, TextPart):
                texts.append(part.text)
            elif isinstance(part, ImagePart):
                attachments.append(attachment_from_url(part.image_url.url, where, new_id))
            else:
                # Some clients send {"type": "image_url", "image_url": "<url>"}.
                loose = (part.model_extra or {}).get("image_url")
                if part.type == "image_url" and isinstance(loose, str):
                    attachments.append(attachment_from_url(loose, where, new_id))
                else:
                    raise InvalidRequest(
                        f"Content part type '{part.type}' is not supported by the bridge "
                        "(only 'text' and 'image_url' are).",
                        param=where,
                    )
        text = "\n\n".join(texts)
    if msg.tool_calls:
        calls = render_tool_calls(msg.tool_calls)
        text = f"{text}\n\n{calls}" if text.strip() else calls
    if role == "user" and not text.strip():
        text = " "  # the site refuses empty user messages
    return role, MessageTemplate(role=role, content=text, attachments=attachments)


def _merge_system(templates: list[MessageTemplate]) -> list[MessageTemplate]:
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


def _image_bypass(templates: list[MessageTemplate]) -> list[MessageTemplate]:
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


def _finish_job(
    model: str,
    target: ModelTarget | None,
    is_image: bool,
    templates: list[MessageTemplate],
    config: BridgeConfig,
    pick: Picker | None,
) -> SiteJob:
    session_id, message_id, mode, battle_target = _ids(model, config, pick or _first)
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
    """(session_id, message_id, mode, battle_target) for a model (§5.2)."""
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
