"""One request's life, whichever client API it came in: job, tab, answer, record.

``AnswerService.serve`` is the one call every answering endpoint makes (chat completions,
Anthropic messages, OpenAI responses). It owns the request's record from arrival to end
(relay/records.py), builds the site job from the neutral request (relay/answer_encoder.py),
runs it on a tab (relay/job_run.py: failover, timers, human checks), turns the site's
stream into neutral pieces (site/stream.py → relay/completions.py) and hands them to the
call's encoder. Errors before the first byte are raised, so the route answers with a real
HTTP status in its API's shape; after it they end the stream through the encoder.

An answer that ends empty (HTTP 200, no text, image or tool call: a known site failure) is
tried once more with a fresh job before the client gets 502 ``empty_response``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from lmarena_bridge.config.aliases import resolve_model
from lmarena_bridge.config.model import BridgeConfig, Settings
from lmarena_bridge.errors import BridgeError
from lmarena_bridge.relay.answer_encoder import ClientCall
from lmarena_bridge.relay.completions import AnswerBuilder
from lmarena_bridge.relay.conversations import ConversationMemory
from lmarena_bridge.relay.dispatch import Dispatcher
from lmarena_bridge.relay.image_uploads import Uploader
from lmarena_bridge.relay.job_run import JobRun
from lmarena_bridge.relay.observer import RelayObserver
from lmarena_bridge.relay.records import RequestScope
from lmarena_bridge.relay.tab_job import KEEPALIVE
from lmarena_bridge.relay.tool_calls import ToolSet
from lmarena_bridge.site.job import SiteJob
from lmarena_bridge.site.stream import SiteStreamParser
from lmarena_bridge.site.transcript import conversation_key
from lmarena_bridge.site.turns import answer_turn_key

JobBuilder = Callable[[ClientCall, BridgeConfig, ConversationMemory | None], SiteJob]
EmptyAdvice = Callable[[Settings], str]

EMPTY_CODE = "empty_response"


@dataclass
class Served:
    """What a route sends: a whole ``body``, or ``frames`` of a stream that has started."""

    body: dict[str, Any] | None = None
    frames: AsyncIterator[bytes] | None = None


@dataclass
class _Request:
    call: ClientCall
    job: SiteJob
    settings: Settings
    scope: RequestScope
    answer: AnswerBuilder | None = None  # of the last attempt
    unknown_prefixes: Counter[str] | None = None

    @property
    def remembers(self) -> bool:
        return self.settings.reuse_site_sessions and bool(self.job.turn_keys)

    def answer_builder(self) -> AnswerBuilder:
        req = self.call.request
        tools = ToolSet.from_request(req) if self.settings.tool_calling == "emulate" else None
        return AnswerBuilder(
            stops=req.stop_sequences(),
            token_limit=req.token_limit(),
            reasoning_mode=self.call.reasoning_mode or self.settings.reasoning_mode,
            prompt_chars=self.job.prompt_chars,
            # Session reuse needs the answer's text to recognise the next turn; a
            # non-stream body needs all of it.
            keep_text=not req.stream or self.remembers,
            tools=tools,
            new_call_id=self.call.new_call_id,
        )


@dataclass(eq=False)
class AnswerService:
    """Serves ``ClientCall`` s; stateless between requests but for session memory."""

    relay: Dispatcher
    config: Callable[[], BridgeConfig]
    observer: RelayObserver
    build_job: JobBuilder
    empty_advice: EmptyAdvice
    conversations: ConversationMemory = field(default_factory=ConversationMemory)
    uploader: Uploader = field(init=False)

    def __post_init__(self) -> None:
        self.uploader = Uploader(self.relay)

    async def serve(self, call: ClientCall) -> Served:
        """Run ``call``; raises ``BridgeError`` for anything that fails before the first
        byte (validation, no tab, the site refusing at once). Cancelling the caller before
        that cancels the job; a started stream is closed by its consumer (``aclose``)."""
        cfg = self.config()
        self._resolve(call, cfg)
        req = call.request
        scope = RequestScope(
            self.observer, call.endpoint, req.model, stream=bool(req.stream),
            request_id=call.client_request_id,
        )
        try:
            memory = self.conversations if cfg.settings.reuse_site_sessions else None
            request = _Request(call, self.build_job(call, cfg, memory), cfg.settings, scope)
        except BridgeError as exc:
            scope.fail(exc)
            scope.finish()
            raise
        if not req.stream:
            return Served(body=await self._collect(request))
        frames = self._stream(request)
        # The first frame is awaited here: an error the site reports at once still
        # reaches the client as a real HTTP status (the stream has closed its record).
        first = await frames.__anext__()
        return Served(frames=_prepend(first, frames))

    def job_for(self, call: ClientCall) -> SiteJob:
        """The site job ``call`` would send (nothing is sent): for estimates such as
        ``count_tokens``. Raises what building the job raises."""
        cfg = self.config()
        self._resolve(call, cfg)
        return self.build_job(call, cfg, None)

    @staticmethod
    def _resolve(call: ClientCall, cfg: BridgeConfig) -> None:
        """``model_aliases``: the job asks for the aliased model; the encoder, built with
        the client's name, keeps it in the answer."""
        req = call.request
        model = resolve_model(req.model, cfg.settings.model_aliases, cfg.models)
        if model != req.model:
            call.request = req.model_copy(update={"model": model})

    # -- the job ---------------------------------------------------------------------------

    async def _open(self, r: _Request) -> JobRun:
        """Upload the request's images if its model needs that, then dispatch the job."""
        req = r.call.request
        if r.job.upload_images:
            r.job = await self.uploader.upload(r.job, r.scope.rec)
        # A plain non-streaming answer is parsed once at the end; streams, stop sequences
        # and length limits need each chunk as it comes.
        eager = bool(req.stream) or bool(req.stop_sequences()) or req.token_limit() is not None
        run = JobRun.for_settings(
            self.relay,
            r.job.attempt_payload,
            r.scope.rec,
            r.settings,
            eager,
            requires=r.job.requires,
            fallback=r.job.fallback_payload if r.job.fallback is not None else None,
        )
        await run.start()
        return run

    async def _answers(
        self, r: _Request
    ) -> AsyncGenerator[tuple[AnswerBuilder, list[Any] | None], None]:
        """``(answer, pieces)`` as the site streams, ``(answer, None)`` for a keep-alive;
        the last item carries the answer's closing pieces. An empty answer is tried once
        more; the caller has sent nothing of it then, as empty answers have no pieces."""
        # A stream's first token is when the client got it; a body's, when the first data
        # came (nothing reached the client before the end).
        streams = bool(r.call.request.stream)
        for attempt in (1, 2):
            run = await self._open(r)
            parser = SiteStreamParser(r.job.side)
            answer = r.answer = r.answer_builder()
            r.unknown_prefixes = parser.unknown_prefixes
            batches = run.batches()
            try:
                async for batch in batches:
                    if batch is KEEPALIVE:
                        yield answer, None
                        continue
                    text = batch[0] if len(batch) == 1 else "".join(batch)
                    pieces = answer.feed(parser.feed(text))
                    if pieces and streams:
                        r.scope.first_token()
                    yield answer, pieces
                    if answer.ended:
                        break
                pieces = [] if answer.ended else answer.feed(parser.close())
                try:
                    pieces += answer.finish()
                except BridgeError as exc:
                    if exc.code != EMPTY_CODE:
                        raise
                    if attempt == 1:
                        continue
                    raise BridgeError(
                        "The site answered twice with an empty answer (HTTP 200 without text, "
                        f"image or tool call). {self.empty_advice(r.settings)}",
                        status=502, code=EMPTY_CODE,
                    ) from None
                if run.job is not None and run.job.received:
                    r.scope.first_token(run.job.first_data)
                r.scope.succeed(answer.usage(), answer.routed_model)
                self._remember(r, run, answer)
                yield answer, pieces
                return
            finally:
                await batches.aclose()
                run.close()

    async def _collect(self, r: _Request) -> dict[str, Any]:
        answers = self._answers(r)
        try:
            async for _ in answers:
                pass
            assert r.answer is not None
            return r.call.encoder.body(r.answer)
        except BridgeError as exc:
            r.scope.fail(exc)
            raise
        finally:
            await answers.aclose()
            self._finish(r)

    async def _stream(self, r: _Request) -> AsyncGenerator[bytes, None]:
        """SSE frames; errors before the first frame are raised, after it they end the
        stream through the encoder."""
        enc = r.call.encoder
        committed = False
        # The site may be sending while the client gets nothing (a tool call block is held
        # until it closes): keep-alives then follow the client's silence, not the site's.
        interval = r.settings.keepalive_interval_seconds
        sent_at = time.monotonic()
        answers = self._answers(r)
        try:
            async for _, pieces in answers:
                if not pieces and pieces is not None and time.monotonic() - sent_at < interval:
                    continue
                # The encoder sees its calls in wire order: open first (relay/answer_encoder.py).
                data = b"" if committed else enc.open()
                committed = True
                data += enc.pieces(pieces) if pieces else enc.keepalive()
                sent_at = time.monotonic()
                yield data
            assert r.answer is not None
            yield (b"" if committed else enc.open()) + enc.close(r.answer)
        except BridgeError as exc:
            r.scope.fail(exc)
            if not committed:
                raise
            yield enc.error(exc)
        finally:
            await answers.aclose()
            self._finish(r)

    # -- bookkeeping -----------------------------------------------------------------------

    def _remember(self, r: _Request, run: JobRun, answer: AnswerBuilder) -> None:
        """Note the site conversation this answer continues, for the client's next turn."""
        if not r.remembers:
            return
        session_id = run.sent.get("body", {}).get("id")
        if not isinstance(session_id, str):
            return
        keys = [*r.job.turn_keys, answer_turn_key(answer.message())]
        self.conversations.remember(conversation_key(r.job.model, keys), session_id)

    @staticmethod
    def _finish(r: _Request) -> None:
        """Close the record (once), with the tool-call counts of the answer it got."""
        answer = r.answer
        if answer is not None and answer.tool_rejections is not None:
            r.scope.tool_calls(
                len(answer.tool_calls), answer.tool_rejections, answer.rejected_tool_names
            )
        r.scope.finish(r.unknown_prefixes)


async def _prepend(first: bytes, rest: AsyncGenerator[bytes, None]) -> AsyncIterator[bytes]:
    try:
        yield first
        async for chunk in rest:
            yield chunk
    finally:
        await rest.aclose()

