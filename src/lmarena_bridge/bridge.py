"""The bridge's running state: config, worker pool, relay, services. Created by create_app."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from lmarena_bridge.config.model import BridgeConfig, Settings
from lmarena_bridge.config.store import ConfigStore
from lmarena_bridge.metrics import BridgeMetrics
from lmarena_bridge.monitor_hub import MonitorHub
from lmarena_bridge.relay.accounts import Pacing
from lmarena_bridge.relay.answer_encoder import ClientCall
from lmarena_bridge.relay.conversations import ConversationMemory
from lmarena_bridge.relay.dispatch import Dispatcher
from lmarena_bridge.relay.health import open_site_hint
from lmarena_bridge.relay.images import ImageService
from lmarena_bridge.relay.lifecycle import AnswerService
from lmarena_bridge.relay.model_catalog import ModelCatalog
from lmarena_bridge.relay.observer import Observers
from lmarena_bridge.relay.pool import WorkerPool
from lmarena_bridge.relay.tab_requests import TabRequests
from lmarena_bridge.site.job import SiteJob
from lmarena_bridge.site.strategy import SiteStrategy, strategy_for

if TYPE_CHECKING:
    from lmarena_bridge.browser.supervisor import BrowserSupervisor

log = logging.getLogger(__name__)


class Bridge:
    def __init__(self, config_store: ConfigStore) -> None:
        self.config_store = config_store
        self.started_at = time.time()
        self.observers = Observers()
        self.pool = WorkerPool(
            observer=self.observers,
            limit=lambda: self.settings.max_concurrent_per_worker,
            queue_max=lambda: self.settings.queue_max_size,
            queue_timeout=lambda: self.settings.queue_timeout_seconds,
            no_worker_timeout=lambda: self.settings.no_worker_timeout_seconds,
            pacing=self._pacing,
            hint=lambda: open_site_hint(self.public_url),
        )
        self.relay = Dispatcher(self.pool, self.observers)
        self.relay.captured_ids = lambda: self.strategy.uses_captured_ids
        self.metrics = BridgeMetrics(self.pool, self.config)
        self.monitor = MonitorHub(self.pool, config_store, started_at=self.started_at)
        self.observers.add(self.metrics)
        self.observers.add(self.monitor)
        self.strategy: SiteStrategy = strategy_for(self.settings)
        self._warn_strategy()
        config_store.add_listener(self._config_changed)
        self.answers = AnswerService(
            self.relay, self.config, self.observers, self._chat_job, self._empty_advice
        )
        self.images = ImageService(self.relay, self.config, self.observers, self._image_job)
        self.tab_requests = TabRequests(self.relay)
        self.browser: BrowserSupervisor | None = None  # serve --browser (http/app.py)
        self.catalog = ModelCatalog(self.relay, self.tab_requests, config_store, self.config)
        self.observers.add(self.catalog)

    def _chat_job(
        self, call: ClientCall, cfg: BridgeConfig, memory: ConversationMemory | None
    ) -> SiteJob:
        return self.strategy.chat_job(
            call.request,
            cfg,
            continue_from=memory.session_for if memory is not None else None,
        )

    def _image_job(self, prompt: str, model: str | None, cfg: BridgeConfig) -> SiteJob:
        return self.strategy.image_job(prompt, model, cfg)

    def _empty_advice(self, settings: Settings) -> str:
        return self.strategy.empty_answer_advice

    def _warn_strategy(self) -> None:
        if self.strategy.warning:
            log.warning("%s", self.strategy.warning)

    def _config_changed(self, config: BridgeConfig) -> None:
        if config.settings.site_strategy != self.strategy.name:
            self.strategy = strategy_for(config.settings)
            self._warn_strategy()
        else:
            self.strategy.config_changed(config)
        self.pool.set_limit(config.settings.max_concurrent_per_worker)

    def _pacing(self) -> Pacing:
        s = self.settings
        return Pacing(s.pace_min_interval_seconds, s.pace_max_per_minute, s.pace_max_per_day)

    @property
    def public_url(self) -> str:
        """This bridge's address as a browser on this machine reaches it."""
        s = self.settings
        host = "127.0.0.1" if s.host in ("0.0.0.0", "::", "") else s.host
        return f"http://{'[' + host + ']' if ':' in host else host}:{s.port}"

    @property
    def config_dir(self) -> Path:
        return self.config_store.config_dir

    def config(self) -> BridgeConfig:
        return self.config_store.current

    @property
    def settings(self) -> Settings:
        return self.config_store.current.settings
