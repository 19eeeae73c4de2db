"""Chat completions from request to response: build the site job, run it on a worker,
translate the site stream into an OpenAI response or SSE chunk stream."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

from lmarena_bridge.config.model import BridgeConfig, Settings
from lmarena_bridge.errors import BridgeError
from lmarena_bridge.protocol.openai import ChatCompletionRequest
from lmarena_bridge.relay.completions import AnswerBuilder
from lmarena_bridge.relay.conversations import ConversationMemory
from lmarena_bridge.relay.encoding import (
    SSE_DONE,
    SSE_KEEPALIVE,
    ChunkEncoder,
    completion_body,
    sse_error,
)
from lmarena_bridge.relay.job_run import JobRun
from lmarena_bridge.relay.jobs import KEEPALIVE, Relay
from lmarena_bridge.relay.observer import RelayObserver, RequestRecord
from lmarena_bridge.relay.records import record_early_failure, record_failure, record_finished
from lmarena_bridge.relay.tool_calls import ToolSet
from lmarena_bridge.relay.uploads import Uploader
from lmarena_bridge.site.job import SiteJob
from lmarena_bridge.site.request import build_site_job
from lmarena_bridge.site.seed_job import EndpointRotation
from lmarena_bridge.site.stream import SiteStreamParser
from lmarena_bridge.site.transcript import conversation_key
from lmarena_bridge.site.turns import answer_turn_key


@dataclass
class PreparedChat:
    req: ChatCompletionRequest
    job: SiteJob
    settings: Settings
    rec: RequestRecord
    completion_id: str
    created: int

    def tools(self) -> ToolSet | None:
        """The tools the answer may call (None: answer text is only text)."""
        if self.settings.tool_calling != "emulate":
            return None
        return ToolSet.from_request(self.req)

    @property
    def remembers(self) -> bool:
        return self.settings.reuse_site_sessions and bool(self.job.turn_keys)

    def answer_builder(self) -> AnswerBuilder:
        return AnswerBuilder(
            stops=self.req.stop_sequences(),
            token_limit=self.req.token_limit(),
            reasoning_mode=self.settings.reasoning_mode,
            prompt_chars=self.job.prompt_chars,
            # Session reuse needs the answer's text to recognise the next turn.
            keep_text=not self.req.stream or self.remembers,
            tools=self.tools(),
        )


class ChatService:
    def __init__(
        self,
        relay: Relay,
        config: Callable[[], BridgeConfig],
        observer: RelayObserver,
        rotation: EndpointRotation,
    ) -> None:
        self.relay = relay
        self.config = config
        self.observer = observer
        self.rotation = rotation
        self.conversations = ConversationMemory()
        self.uploader = Uploader(relay)

    def prepare(self, req: ChatCompletionRequest, rec: RequestRecord) -> PreparedChat:
        """Validate and build the site job; raises a 4xx BridgeError before any dispatch."""
        cfg = self.config()
        job = build_site_job(
            req,
            cfg,
            pick=self.rotation.pick,
            continue_from=(
                self.conversations.session_for if cfg.settings.reuse_site_sessions else None
            ),
        )
        rec.prompt_tokens = 0
        return PreparedChat(
            req=req,
            job=job,
            settings=cfg.settings,
            rec=rec,
            completion_id=f"chatcmpl-{uuid.uuid4().hex}",
            created=int(time.time()),
        )

    async def open(self, prep: PreparedChat) -> JobRun:
        """Upload the request's images if its model needs that, then dispatch the job."""
        req = prep.req
        if prep.job.upload_images:
            prep.job = await self.uploader.upload(prep.job, prep.rec)
        # A plain non-streaming answer is parsed once at the end; streams, stop sequences
        # and length limits need each chunk as it comes.
        eager = req.stream or bool(req.stop_sequences()) or req.token_limit() is not None
        run = JobRun.for_settings(
            self.relay,
            prep.job.attempt_payload,
            prep.rec,
            prep.settings,
            eager,
            requires=prep.job.requires,
            fallback=prep.job.fallback_payload if prep.job.fallback is not None else None,
        )
        await run.start()
        return run

    async def stream(self, prep: PreparedChat, run: JobRun) -> AsyncGenerator[bytes, None]:
        """SSE frames. Errors before the first frame are raised (so the route can answer
        with a real HTTP status); after it they become an error event and ``[DONE]``."""
        rec = prep.rec
        parser = SiteStreamParser(prep.job.side)
        answer = prep.answer_builder()
        enc = ChunkEncoder(
            prep.completion_id,
            prep.created,
            prep.req.model,
            bool(prep.req.stream_options and prep.req.stream_options.include_usage),
        )
        keepalive = (
            enc.empty_delta() if prep.settings.keepalive_style == "empty_delta" else SSE_KEEPALIVE
        )
        committed = False
        # The site may be sending while the client gets nothing (a tool call block is held
        # until it closes): keep-alives then follow the client's silence, not the site's.
        interval = prep.settings.keepalive_interval_seconds
        sent_at = time.monotonic()
        batches = run.batches()
        try:
            async for batch in batches:
                if batch is KEEPALIVE:
                    out = keepalive if committed else enc.role() + keepalive
                    committed = True
                    sent_at = time.monotonic()
                    yield out
                    continue
                text = batch[0] if len(batch) == 1 else "".join(batch)
                pieces = answer.feed(parser.feed(text))
                if pieces:
                    if rec.first_token_mono is None:
                        rec.first_token_mono = time.monotonic()
                        self.observer.first_token(rec)
                    data = enc.pieces(pieces)
                    if not committed:
                        data = enc.role() + data
                        committed = True
                    sent_at = time.monotonic()
                    yield data
                elif time.monotonic() - sent_at >= interval:
                    out = keepalive if committed else enc.role() + keepalive
                    committed = True
                    sent_at = time.monotonic()
                    yield out
                if answer.ended:
                    break
            pieces = [] if answer.ended else answer.feed(parser.close())
            pieces += answer.finish()
            out = b"" if committed else enc.role()
            committed = True
            out += enc.pieces(pieces) + enc.finish(answer.finish_reason or "stop")
            if enc._include_usage:
                out += enc.usage(answer.usage())
            self._succeed(rec, answer)
            self._remember(prep, run, answer)
            yield out + SSE_DONE
        except BridgeError as exc:
            self._fail(rec, exc)
            if not committed:
                raise
            yield sse_error(exc)
        except (asyncio.CancelledError, GeneratorExit):
            rec.outcome = "cancelled"
            raise
        finally:
            await batches.aclose()
            run.close()
            self._finished(rec, parser, answer)

    async def collect(self, prep: PreparedChat, run: JobRun) -> dict[str, object]:
        """The whole answer as a ``chat.completion`` object; raises BridgeError."""
        rec = prep.rec
        parser = SiteStreamParser(prep.job.side)
        answer = prep.answer_builder()
        batches = run.batches()
        try:
            async for batch in batches:
                if batch is KEEPALIVE:
                    continue
                text = batch[0] if len(batch) == 1 else "".join(batch)
                answer.feed(parser.feed(text))
                if answer.ended:
                    break
            if not answer.ended:
                answer.feed(parser.close())
            answer.finish()
            if run.job is not None and run.job.received:
                # Nothing reached the client before the end: the first data is the mark.
                rec.first_token_mono = run.job.first_data
                self.observer.first_token(rec)
            self._succeed(rec, answer)
            self._remember(prep, run, answer)
            return completion_body(prep.completion_id, prep.created, prep.req.model, answer)
        except BridgeError as exc:
            self._fail(rec, exc)
            raise
        except asyncio.CancelledError:
            rec.outcome = "cancelled"
            raise
        finally:
            await batches.aclose()
            run.close()
            self._finished(rec, parser, answer)

    # -- bookkeeping -----------------------------------------------------------------------

    def _remember(self, prep: PreparedChat, run: JobRun, answer: AnswerBuilder) -> None:
        """Note the site conversation this answer continues, for the client's next turn."""
        if not prep.remembers:
            return
        session_id = run.sent.get("body", {}).get("id")
        if not isinstance(session_id, str):
            return
        keys = [*prep.job.turn_keys, answer_turn_key(answer.message())]
        self.conversations.remember(conversation_key(prep.job.model, keys), session_id)

    def _succeed(self, rec: RequestRecord, answer: AnswerBuilder) -> None:
        rec.routed_model = answer.routed_model
        usage = answer.usage()
        rec.prompt_tokens = usage["prompt_tokens"]
        rec.completion_tokens = usage["completion_tokens"]
        rec.outcome = "success"

    def _fail(self, rec: RequestRecord, exc: BridgeError) -> None:
        record_failure(self.observer, rec, exc)

    def _finished(
        self, rec: RequestRecord, parser: SiteStreamParser | None, answer: AnswerBuilder
    ) -> None:
        rejected = answer.tool_rejections
        if rejected is not None and rec.finished_mono is None:
            self.observer.tool_calls(
                rec, len(answer.tool_calls), rejected, answer.rejected_tool_names
            )
        record_finished(self.observer, rec, parser.unknown_prefixes if parser else None)

    def cancelled_before_dispatch(self, rec: RequestRecord) -> None:
        """The client went away while the request waited for a tab: cancelled, no error."""
        rec.outcome = "cancelled"
        record_finished(self.observer, rec)

    def fail_before_dispatch(self, rec: RequestRecord, exc: BridgeError) -> None:
        """Record a request that ended before it reached a worker (validation, no worker)."""
        record_early_failure(self.observer, rec, exc)
