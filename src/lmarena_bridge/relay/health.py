"""One model of a tab's health, shared by routing, /health/ready, /metrics and /monitor.

A tab is one of:

- ``ready``: usable, no job running;
- ``busy``: usable, running at least one job (it may still have free slots);
- ``needs_human``: a person must act in the tab first; ``reason`` says why:
  ``recaptcha`` (the site wants the visible reCAPTCHA v2 check solved), ``challenge``
  (a Cloudflare check), ``logged_out`` (no session), ``wrong_origin`` (not on arena.ai);
- ``cooling_down``: its account (relay/accounts.py) gets no new job until ``until`` (Unix
  seconds); ``reason`` says why: ``rate_limit`` (the site said 429 or ``retry-after``),
  ``quota`` (a modality's budget is spent: other modalities still go), ``flagged`` (a 403
  with ``retry-after``: the site's account flag);
- ``disconnected``: its socket closed (the pool forgets it right after).

Only ``ready`` and ``busy`` tabs get new jobs (a ``quota`` cooldown holds only its
modality). The raw ``Worker.state`` stays what the tab reported (``ready`` or one of the
reasons); ``health_of`` derives the rest.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from lmarena_bridge.protocol.worker import TabHealth
from lmarena_bridge.relay.accounts import Cooldown


class TabView(Protocol):
    """What these functions read of a tab (relay/tab.py's Worker)."""

    @property
    def id(self) -> str: ...
    @property
    def page(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    @property
    def load(self) -> int: ...
    @property
    def human_reason(self) -> str | None: ...
    @property
    def state_detail(self) -> str: ...
    @property
    def needs_human_since(self) -> float | None: ...
    def cooldown(self, now: float | None = None) -> Cooldown | None: ...


# The one thing a person does about each reason, as the monitor and errors say it.
ACTIONS = {
    "recaptcha": "solve the reCAPTCHA check shown in that tab",
    "challenge": "complete the Cloudflare check in that tab",
    "logged_out": "log in to arena.ai in that tab (or reload it so the site signs you in)",
    "wrong_origin": "open https://arena.ai in that tab",
}


def health_of(worker: TabView) -> TabHealth:
    if worker.closed:
        return "disconnected"
    if worker.human_reason is not None:
        return "needs_human"
    if worker.cooldown() is not None:
        return "cooling_down"
    return "busy" if worker.load > 0 else "ready"


def action_for(reason: str) -> str:
    return ACTIONS.get(reason, "look at that tab")


def tab_name(worker: TabView) -> str:
    """``tab w3 (https://arena.ai/c/…)``: how errors and the monitor name a tab."""
    return f"tab {worker.id} ({worker.page})" if worker.page else f"tab {worker.id}"


def need_sentence(worker: TabView) -> str:
    """``Tab w3 (https://arena.ai/…) needs you: solve the reCAPTCHA check shown in that tab.``"""
    reason = worker.human_reason or ""
    name = tab_name(worker)
    return f"{name[0].upper()}{name[1:]} needs you: {action_for(reason)}."


def human_view(worker: TabView) -> dict[str, Any]:
    """A tab that needs a person, for /health/ready and the monitor's banner."""
    reason = worker.human_reason or ""
    return {
        "id": worker.id,
        "page": worker.page,
        "reason": reason,
        "action": action_for(reason),
        "detail": worker.state_detail,
        "since": worker.needs_human_since,
    }


def cooling_view(worker: TabView, now: float | None = None) -> dict[str, Any]:
    """A cooling tab, for /health/ready and the monitor: when it comes back, and why."""
    now = time.time() if now is None else now
    cooldown = worker.cooldown(now)
    return {"id": worker.id, "page": worker.page,
            **(cooldown.view(now) if cooldown else {"until": None, "reason": None})}


def open_site_hint(bridge_url: str = "http://127.0.0.1:5102") -> str:
    """What to do when no tab is connected, naming this bridge's own address."""
    return (
        f"Run the bridge with its own browser (--browser), or install the page script in "
        f"your browser from {bridge_url}/userscript.user.js (a userscript) or "
        f"{bridge_url}/extension.zip (an extension; the monitor page, {bridge_url}/monitor, "
        "links both), then open https://arena.ai in that browser, log in and keep the tab open."
    )
