"""The bridge's running state: config, worker pool, relay, services. Created by create_app."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from lmarena_bridge.config.check import RETRY_WARNING
from lmarena_bridge.config.model import BridgeConfig, Settings
from lmarena_bridge.config.store import ConfigStore
from lmarena_bridge.metrics import BridgeMetrics
from lmarena_bridge.monitor import MonitorHub
from lmarena_bridge.relay.answer_encoder import ClientCall
from lmarena_bridge.relay.conversations import ConversationMemory
from lmarena_bridge.relay.images import ImageService
from lmarena_bridge.relay.jobs import Relay
from lmarena_bridge.relay.lifecycle import AnswerService
from lmarena_bridge.relay.observer import Observers
from lmarena_bridge.relay.pool import WorkerPool
from lmarena_bridge.relay.tab_requests import TabRequests
from lmarena_bridge.site.job import SiteJob
from lmarena_bridge.site.request import build_site_job
from lmarena_bridge.site.seed_job import EndpointRotation

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
        )
        self.relay = Relay(self.pool, self.observers)
        self.metrics = BridgeMetrics(self.pool, self.config)
        self.monitor = MonitorHub(self.pool, config_store, started_at=self.started_at)
        self.observers.add(self.metrics)
        self.observers.add(self.monitor)
        self.rotation = EndpointRotation(self.settings.endpoint_pool_strategy)
        config_store.add_listener(self._config_changed)
        self.answers = AnswerService(
            self.relay, self.config, self.observers, self._chat_job, self._empty_advice
        )
        self.images = ImageService(self.relay, self.config, self.observers, self.rotation)
        self.tab_requests = TabRequests(self.relay)
        self._strategy = self.settings.site_strategy
        self._warn_strategy(self.settings)

    def _chat_job(
        self, call: ClientCall, cfg: BridgeConfig, memory: ConversationMemory | None
    ) -> SiteJob:
        return build_site_job(
            call.request,
            cfg,
            pick=self.rotation.pick,
            continue_from=memory.session_for if memory is not None else None,
        )

    @staticmethod
    def _empty_advice(settings: Settings) -> str:
        if settings.site_strategy == "retry":
            return "The captured session may be broken; try again or capture new ids."
        return "This is a known site failure; try again in a moment or pick another model."

    @staticmethod
    def _warn_strategy(settings: Settings) -> None:
        if settings.site_strategy == "retry":
            log.warning('site_strategy is "retry" (legacy). %s', RETRY_WARNING)

    def _config_changed(self, config: BridgeConfig) -> None:
        if config.settings.site_strategy != self._strategy:
            self._strategy = config.settings.site_strategy
            self._warn_strategy(config.settings)
        # A reloaded endpoint map may have other pools: start them from their first entry.
        self.rotation.strategy = config.settings.endpoint_pool_strategy
        self.rotation.reset()
        self.pool.set_limit(config.settings.max_concurrent_per_worker)

    @property
    def config_dir(self) -> Path:
        return self.config_store.config_dir

    def config(self) -> BridgeConfig:
        return self.config_store.current

    @property
    def settings(self) -> Settings:
        return self.config_store.current.settings
