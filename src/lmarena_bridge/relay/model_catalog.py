"""The site's models as a tab reads them now, and keeping available_models.json (and, when
asked, models.json) up to date when a tab connects (``refresh_models_on_connect``).

A tab with the ``models`` capability runs a ``models`` job (the catalog, else the page's
``initialModels``; docs/worker-protocol.md); an older one sends its page, which is scanned
off the event loop. The route is http/model_routes.py; the refresh is started by the tab
socket's hello (http/worker_ws.py) and waits, as an observer, until the tab is usable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from lmarena_bridge.config.edits import EditRefused, add_models
from lmarena_bridge.config.model import BridgeConfig
from lmarena_bridge.config.problems import ConfigFileError
from lmarena_bridge.config.store import ConfigStore
from lmarena_bridge.errors import BridgeError
from lmarena_bridge.protocol.worker import Capability, ModelsPayload, ModelsResult
from lmarena_bridge.relay.calls import call_tab, internal_record
from lmarena_bridge.relay.dispatch import Dispatcher
from lmarena_bridge.relay.observer import RelayObserver
from lmarena_bridge.relay.tab import Worker
from lmarena_bridge.relay.tab_requests import (
    TabRequests,
    read_available_models,
    write_available_models,
)
from lmarena_bridge.site.catalog import entries_from_tab, offered
from lmarena_bridge.site.models import diff_models, extract_models, models_json_value

log = logging.getLogger(__name__)

MODELS_TIMEOUT_SECONDS = 30.0


class ModelCatalog(RelayObserver):
    """Reads the site's models through a tab; refreshes the files when tabs connect."""

    def __init__(
        self,
        relay: Dispatcher,
        tabs: TabRequests,
        store: ConfigStore,
        config: Callable[[], BridgeConfig],
    ) -> None:
        self.relay = relay
        self.tabs = tabs
        self.store = store
        self.config = config
        self._pending: set[str] = set()  # tabs that said hello but are not usable yet

    async def read(self, worker_id: str | None = None) -> tuple[list[dict[str, Any]], str, str]:
        """(entries, source, worker id) from a tab: the named one, else the first ready one
        (another tab that can, when that one has no free slot).

        Raises 502 ``no_models_in_page`` when nothing was found, and what the tab job raises.
        """
        worker = self.tabs.pick_worker(worker_id)
        if worker.can(Capability.MODELS):
            rec = internal_record(Capability.MODELS)
            rec.prefer_worker = worker.id
            answer = await call_tab(self.relay, ModelsPayload().model_dump(),
                                    requires=Capability.MODELS,
                                    timeout=MODELS_TIMEOUT_SECONDS, rec=rec)
            try:
                result = ModelsResult.model_validate(answer.value)
            except ValidationError:
                result = ModelsResult(source="page")
            worker = answer.worker
            if result.catalog_error:
                log.info("tab %s could not read the model catalog (%s); used its page",
                         worker.id, result.catalog_error)
            # A page is large and may be hostile: scanned off the event loop.
            entries = await asyncio.to_thread(entries_from_tab, result.catalog, result.html)
            source = result.source
        else:
            html = await self.tabs.page_source(worker, MODELS_TIMEOUT_SECONDS)
            entries = await asyncio.to_thread(extract_models, html)
            source = "page"
        if not entries:
            raise BridgeError(
                f"No model list found in the page of browser tab {worker.id} ({worker.page}). "
                "Is it showing a Cloudflare check or a login page? Open an arena.ai chat page "
                "and try again.",
                status=502,
                code="no_models_in_page",
            )
        return entries, source, worker.id

    async def save(self, entries: list[dict[str, Any]]) -> str:
        """Rewrite available_models.json with ``entries`` and reload; the file's path."""
        path = await asyncio.to_thread(write_available_models, self.store.config_dir, entries)
        self.store.reload()
        return str(path.resolve())

    # -- refresh when a tab connects -------------------------------------------------------

    def tab_connected(self, worker: Worker) -> None:
        """A tab said hello: refresh now if it is usable, else once it becomes usable."""
        wanted = self.config().settings.refresh_models_on_connect
        if not wanted or not worker.can(Capability.MODELS):
            return
        if worker.routable:
            self.relay.in_background(self._refresh(worker))
        else:
            self._pending.add(worker.id)

    def worker_changed(self, worker: Worker) -> None:
        if worker.id in self._pending and worker.routable:
            self._pending.discard(worker.id)
            self.relay.in_background(self._refresh(worker))

    def worker_disconnected(self, worker: Worker) -> None:
        self._pending.discard(worker.id)

    async def _refresh(self, worker: Worker) -> None:
        """Rewrite available_models.json from ``worker`` and log what changed; with
        ``add_new_models``, also add the models models.json lacks. Never raises."""
        try:
            previous = await asyncio.to_thread(read_available_models, self.store.config_dir)
            entries, source, _ = await self.read(worker.id)
            await self.save(entries)
        except (BridgeError, OSError) as exc:
            log.warning("could not refresh the model list from tab %s: %s", worker.id, exc)
            return
        diff = diff_models(previous, entries)
        log.info(
            "model list refreshed from tab %s (%s, %d models)%s", worker.id, source,
            len(entries), "" if diff.changed else ": no changes",
        )
        for what, names in (("added", diff.added), ("removed", diff.removed),
                            ("renamed", [f"{a} -> {b}" for a, b in diff.renamed])):
            if names:
                log.info("models %s on the site: %s", what, ", ".join(names))
        if self.config().settings.add_new_models:
            await self._add_new(entries)

    async def _add_new(self, entries: list[dict[str, Any]]) -> None:
        cfg = self.config()
        in_use = {t.model_id for t in cfg.models.values()}
        new = {
            str(e["publicName"]): models_json_value(e)
            for e in offered(entries)
            if e["publicName"] not in cfg.models and e["id"] not in in_use
        }
        if not new:
            return
        try:
            result = await add_models(self.store, new)
        except (EditRefused, ConfigFileError, OSError) as exc:
            log.warning("could not add the new models to models.json: %s", exc)
            return
        if result.added:
            log.info("added to %s: %s", result.path, ", ".join(result.added))
