"""Non-stream jobs: one payload to a tab, one ``result`` frame back (docs/worker-protocol.md,
"Non-stream jobs"): uploads, the model catalog, image downloads through the page.

They share the relay's job table and the pool's slots with site requests, so they queue,
count against a tab's concurrency and are aborted on cancel like any job.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from lmarena_bridge.errors import BridgeError, Timeout, WorkerDisconnected
from lmarena_bridge.protocol.worker import ResultFrame
from lmarena_bridge.relay.dispatch import Dispatcher
from lmarena_bridge.relay.request_record import RequestRecord
from lmarena_bridge.relay.tab import Worker
from lmarena_bridge.relay.tab_job import DONE, LOST


class NoResult(BridgeError):
    """The tab ended a non-stream job without a result (an old or broken userscript)."""

    status = 502
    type = "server_error"
    code = "no_result"


@dataclass(frozen=True, slots=True)
class TabAnswer:
    value: dict[str, Any]
    worker: Worker


def internal_record(kind: str) -> RequestRecord:
    """A record for a call made on the bridge's own behalf (no client request)."""
    return RequestRecord(request_id=f"{kind}-{uuid.uuid4().hex[:8]}", endpoint=kind, model="",
                         stream=False)


async def call_tab(
    relay: Dispatcher,
    payload: dict[str, Any],
    *,
    requires: str,
    timeout: float,
    rec: RequestRecord,
) -> TabAnswer:
    """Run ``payload`` on a tab that can do ``requires`` and return its result.

    Waits for a tab like any job (``NoWorkerAvailable``), then up to ``timeout`` seconds
    for the answer (``Timeout``). A worker's error frame is raised as the ``SiteError`` it
    classifies to; a tab that goes away raises ``WorkerDisconnected``. Cancelling aborts
    the job in the tab. ``rec.prefer_worker`` picks the tab when it has room.
    """
    job = await relay.dispatch(payload, rec, requires=requires)
    deadline = time.monotonic() + timeout
    finished = False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout(
                    f"The browser tab {job.worker.id} did not finish the {payload.get('type')} "
                    f"job within {timeout:g} seconds."
                )
            for item in await job.take(left):
                if isinstance(item, ResultFrame):
                    finished = True
                    return TabAnswer(item.result, job.worker)
                if isinstance(item, BridgeError):
                    finished = True
                    raise item
                if item is LOST:
                    finished = True
                    raise WorkerDisconnected(
                        f"The browser tab {job.worker.id} disconnected before it answered."
                    )
                if item is DONE:
                    finished = True
                    raise NoResult(
                        f"The browser tab {job.worker.id} answered the {payload.get('type')} "
                        "job without a result; update the userscript."
                    )
                # Body data or human-check notes are not part of these jobs: ignored.
    finally:
        relay.finish(job, abort=not finished)
