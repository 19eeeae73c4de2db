"""What every site strategy checks of a client request before it builds its job
(site/strategy.py), and the turns a chat request becomes (docs/site-protocol.md).

Pure: reads one ``BridgeConfig`` snapshot and raises ``BridgeError`` subclasses for
anything the client or the user must fix.
"""

from __future__ import annotations

from collections.abc import Callable

from lmarena_bridge.config.model import BridgeConfig, ModelTarget
from lmarena_bridge.errors import InvalidRequest, ModelNotFound, NotConfigured
from lmarena_bridge.protocol.openai import ONLY_ONE_CHOICE, ChatCompletionRequest
from lmarena_bridge.protocol.worker import MessageTemplate
from lmarena_bridge.site.job import Turn
from lmarena_bridge.site.tool_prompt import check_tool_request, tool_call_names, tool_instructions
from lmarena_bridge.site.turns import message_turn, short_id

NewId = Callable[[], str]  # names an unnamed attachment
# A conversation_key (site/transcript.py) -> the site session that conversation has, if any.
SessionLookup = Callable[[str], str | None]


def chat_turns(
    req: ChatCompletionRequest,
    config: BridgeConfig,
    *,
    known: bool,
    new_id: NewId = short_id,
) -> list[Turn]:
    """The request's turns, tool instructions first; ``new_id`` names unnamed attachments.

    ``known`` says whether the strategy can serve ``req.model``. Raises ModelNotFound (404)
    when it cannot, InvalidRequest (400) for what the bridge cannot send.
    """
    if not known:
        raise ModelNotFound(
            f"The model '{req.model}' does not exist in models.json and matches no "
            "model_aliases entry of config.jsonc. See GET /v1/models for the available "
            "names, or map this name to one of them in model_aliases.",
            param="model",
        )
    if not req.messages:
        raise InvalidRequest("'messages' must contain at least one message.", param="messages")
    if req.n is not None and req.n > 1:
        raise InvalidRequest(ONLY_ONE_CHOICE, param="n")
    check_tool_request(req, config.settings.tool_calling)

    names = tool_call_names(req.messages)
    turns = [message_turn(i, m, new_id, names) for i, m in enumerate(req.messages)]
    tools = tool_instructions(req.tools, req.tool_choice, req.parallel_tool_calls)
    if tools is not None:
        # With the system turns, so the model reads it before the conversation.
        turns.insert(0, ("system", MessageTemplate(role="system", content=tools)))
    return turns


def check_prompt(prompt: str) -> None:
    if not prompt.strip():
        raise InvalidRequest("'prompt' must not be empty.", param="prompt")


def image_target(
    model: str | None, config: BridgeConfig, *, none_advice: str
) -> ModelTarget:
    """The models.json image model ``/v1/images/generations`` asks for.

    None or an OpenAI ``dall-e-*`` name means the first image model there. Raises
    InvalidRequest for a text model, ModelNotFound for an unknown one, NotConfigured when
    models.json has no image model.
    """
    target = config.models.get(model) if model is not None else None
    if target is not None:
        if not target.is_image:
            raise InvalidRequest(
                f"The model '{model}' is not an image model (its models.json value has no "
                "':image' suffix).",
                param="model",
            )
        return target
    if model is None or model.lower().startswith("dall-e"):
        for candidate in config.models.values():
            if candidate.is_image:
                return candidate
        raise NotConfigured(
            f"models.json has no image model for /v1/images/generations. {none_advice}",
            param="model",
        )
    raise ModelNotFound(
        f"The model '{model}' does not exist in models.json and matches no model_aliases "
        "entry of config.jsonc.",
        param="model",
    )
