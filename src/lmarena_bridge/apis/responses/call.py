"""A Responses API request as the lifecycle runs it: the neutral request and its encoder."""

from __future__ import annotations

from dataclasses import dataclass

from lmarena_bridge.apis.responses.encoder import ResponsesEncoder
from lmarena_bridge.apis.responses.items import ResponseFrame, new_id
from lmarena_bridge.apis.responses.translate import translate
from lmarena_bridge.apis.responses.wire import ResponsesRequest
from lmarena_bridge.relay.answer_encoder import ClientCall


@dataclass
class ResponsesCall:
    call: ClientCall
    ignored: list[str]  # request fields and tools the bridge does not honour


def responses_call(req: ResponsesRequest, *, created_at: int) -> ResponsesCall:
    """Raises ``InvalidRequest`` for what cannot be translated (apis/responses/translate.py)."""
    translated = translate(req)
    frame = ResponseFrame.of(req, new_id("resp"), created_at)
    encoder = ResponsesEncoder(
        frame, translated.table, reasoning_summary=req.reasoning_as_summary()
    )
    call = ClientCall(
        endpoint="responses",
        request=translated.request,
        encoder=encoder,
        # The site's reasoning goes back only to a request that asked for it.
        reasoning_mode="reasoning_content" if req.reasoning_asked() else "drop",
    )
    return ResponsesCall(call, translated.ignored)
