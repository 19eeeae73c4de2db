"""The site-strategy seam (site/strategy.py): a fake strategy plugged into a running bridge
builds every job, names the extra models and gives the empty-answer advice, and nothing else
in the bridge needs to know which strategy runs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx
import openai
import pytest

from lmarena_bridge.config.model import BridgeConfig
from lmarena_bridge.errors import InvalidRequest
from lmarena_bridge.protocol.openai import ChatCompletionRequest
from lmarena_bridge.protocol.worker import AttachmentPayload, SiteRequestPayload
from lmarena_bridge.site.job import SiteJob
from lmarena_bridge.site.strategy import SiteStrategy
from tests.support.servers import RunningServer
from tests.support.workers import ScriptedWorker


class FakeRequest:
    requires: str | None = None
    attachments: tuple[AttachmentPayload, ...] = ()

    def __init__(self, text: str) -> None:
        self.text = text
        self.attempts = 0

    def attempt(self) -> SiteRequestPayload:
        self.attempts += 1
        content = f"{self.text} #{self.attempts}"
        return SiteRequestPayload(path="/fake", body={"userMessage": {"content": content}})

    def with_files(self, uploaded: Mapping[str, AttachmentPayload]) -> FakeRequest:
        return self


class FakeStrategy:
    name = "create"  # what config.jsonc says: a reload keeps this strategy
    warning: str | None = None
    uses_captured_ids = False
    empty_answer_advice = "Ask the fake."

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    def chat_job(
        self,
        req: ChatCompletionRequest,
        config: BridgeConfig,
        *,
        new_id: Callable[[], str] = lambda: "x",
        continue_from: Callable[[str], str | None] | None = None,
    ) -> SiteJob:
        self.calls.append(("chat", req.model))
        text = str(req.messages[-1].content)
        return SiteJob(request=FakeRequest(f"fake {text}"), model=req.model, target=None,
                       is_image=False, mode="direct_chat", battle_target="A", side="a",
                       prompt_chars=len(text))

    def image_job(self, prompt: str, model: str | None, config: BridgeConfig) -> SiteJob:
        self.calls.append(("image", model))
        raise InvalidRequest(f"The fake draws no {prompt}.", param="prompt")

    def extra_models(self, config: BridgeConfig) -> dict[str, str | None]:
        return {"fake-model": "text"}

    def config_changed(self, config: BridgeConfig) -> None:
        self.calls.append(("config", None))


@pytest.fixture
async def fake(bridge: RunningServer) -> FakeStrategy:
    strategy = FakeStrategy()
    plugged: SiteStrategy = strategy
    bridge.app.state.bridge.strategy = plugged
    return strategy


def client(bridge: RunningServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{bridge.url}/v1", api_key="t", max_retries=0)


async def test_chat_jobs_come_from_the_plugged_strategy(bridge, fake, workers) -> None:
    w = await workers(bridge.ws_url)
    resp = await client(bridge).chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "Hello"}])
    assert resp.choices[0].message.content == "fake Hello #1"
    ((_, payload),) = w.jobs
    assert payload["path"] == "/fake"
    assert fake.calls == [("chat", "fake-model")]


async def test_the_model_list_names_the_strategys_extra_models(bridge, fake) -> None:
    listed = {m.id: m for m in (await client(bridge).models.list()).data}
    assert listed["fake-model"].model_dump()["type"] == "text"
    assert "battle" not in listed  # the create strategy's own extra model is gone with it


async def test_every_attempt_gets_a_fresh_payload_and_the_strategys_advice(
    bridge, fake, workers
) -> None:
    async def empty(worker: ScriptedWorker, request_id: str, payload: dict[str, Any]) -> None:
        await worker.done(request_id)

    w = await workers(bridge.ws_url, handler=empty)
    with pytest.raises(openai.APIStatusError) as exc:
        await client(bridge).chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": "Hi"}])
    assert exc.value.status_code == 502
    assert "Ask the fake." in str(exc.value) and "capture" not in str(exc.value)
    sent = [p["body"]["userMessage"]["content"] for _, p in w.jobs]
    assert sent == ["fake Hi #1", "fake Hi #2"]  # the empty answer was tried once more


async def test_image_jobs_come_from_the_plugged_strategy(bridge, fake) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.post(f"{bridge.url}/v1/images/generations",
                            json={"prompt": "fox", "model": "fake-model"})
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "The fake draws no fox."
    assert fake.calls == [("image", "fake-model")]


async def test_a_reload_tells_the_strategy_and_a_new_value_replaces_it(bridge, fake) -> None:
    store = bridge.app.state.bridge.config_store
    await store.update("config.jsonc", {("max_concurrent_per_worker",): 3})
    assert ("config", None) in fake.calls
    await store.update("config.jsonc", {("site_strategy",): "retry"})
    assert bridge.app.state.bridge.strategy.name == "retry"
