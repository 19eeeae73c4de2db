"""Says, in the log, that a tab needing a person cannot get one while the managed browser
is headless (the monitor and /health/ready say it too: static/monitor.html,
http/monitor_routes.py)."""

from __future__ import annotations

import logging

from lmarena_bridge.browser.supervisor import BrowserSupervisor
from lmarena_bridge.relay.health import need_sentence
from lmarena_bridge.relay.observer import RelayObserver
from lmarena_bridge.relay.tab import Worker

log = logging.getLogger(__name__)


class HeadlessNotice(RelayObserver):
    def __init__(self, supervisor: BrowserSupervisor) -> None:
        self.supervisor = supervisor

    def hint(self) -> str:
        """What to do when a tab needs a person and the managed browser is headless (the
        errors clients get say it too: relay/job_run.py, relay/pool.py); "" otherwise."""
        if self.supervisor.headless and self.supervisor.state == "running":
            return str(self.supervisor.status()["headless_hint"])
        return ""

    def tab_needs_human(self, worker: Worker, reason: str) -> None:
        if self.supervisor.headless and self.supervisor.state == "running":
            log.warning("%s %s", need_sentence(worker), self.supervisor.status()["headless_hint"])
