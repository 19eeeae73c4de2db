"""A job that meets a human check in its tab: move it, or wait for the person, or say which
tab needs what (README "When the site needs you", docs/worker-protocol.md "Human checks").

Two kinds of check reach a job:

- the tab shows the visible reCAPTCHA v2 check and holds the job's request until a person
  solves it (job frames ``needs_human``, then ``human_solved`` or an error with code
  ``human_check_timeout`` / ``human_check_cancelled``);
- the site answered with a page-level check (Cloudflare, logged out, wrong origin): the
  job failed there and the tab is drained (relay/dispatch.py ``Dispatcher.drain``).

Either way, before any answer data the job moves to another tab that is usable and has a
free slot right now. Otherwise a reCAPTCHA job waits for the person (``JobRun`` extends its
timers by the wait) and a page-level check fails at once with its own error, which then
names the tab.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from lmarena_bridge.errors import BridgeError, SiteError
from lmarena_bridge.relay.health import action_for, tab_name
from lmarena_bridge.relay.observer import RelayObserver
from lmarena_bridge.relay.request_record import RequestRecord
from lmarena_bridge.relay.tab import Worker

# A job moves at most this often (the tabs it leaves are drained, so this only bounds a
# run of tabs that all meet checks).
MAX_MOVES = 2
RETRY_AFTER_SECONDS = 10.0

# Error codes (site/failures.py) of a page-level check met by a job, and the reason they mean.
PAGE_CHECK_REASONS = {
    "cloudflare_challenge": "challenge",
    "logged_out": "logged_out",
    "wrong_origin": "wrong_origin",
}
# Codes the tab names when the person did not solve the check, and the outcome they mean.
TAB_OUTCOMES = {"human_check_timeout": "timeout", "human_check_cancelled": "cancelled"}
# Errors whose message gains the tab's name (what the person should look at).
_NAMED_CODES = frozenset({*PAGE_CHECK_REASONS, *TAB_OUTCOMES, "recaptcha_failed"})
# Errors that ask a person to act in the tab's page.
PERSON_CODES = _NAMED_CODES


class HumanCheck:
    """Item pushed into a job: its tab waits for a person (``reason``)."""

    __slots__ = ("detail", "reason")

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail


class HumanSolved:
    """Item pushed into a job: the person solved the check; the request goes out again."""


HUMAN_SOLVED = HumanSolved()


@dataclass
class _Wait:
    reason: str
    started: float  # monotonic
    deadline: float  # monotonic


class HumanChecks:
    """One request's human checks: moves made, the wait in progress, time waited."""

    def __init__(self, observer: RelayObserver, rec: RequestRecord, timeout: float) -> None:
        self.observer = observer
        self.rec = rec
        self.timeout = timeout
        self.moves = 0
        self.wait: _Wait | None = None

    @property
    def waiting(self) -> bool:
        return self.wait is not None

    def may_move(self) -> bool:
        return self.moves < MAX_MOVES

    def moved(self, reason: str) -> None:
        self.moves += 1
        self.observer.human_check(self.rec, reason, "moved", 0.0)

    def begin(self, reason: str) -> None:
        """The person-wait starts now; the bridge gives up a little after the tab would."""
        now = time.monotonic()
        # The tab counts the same timeout from when it showed the check; its own error
        # (which it sends at once) should arrive first.
        self.wait = _Wait(reason, now, now + self.timeout + 1.0)

    def end(self, outcome: str) -> float:
        """End the wait (if any) with ``outcome``; the seconds it lasted."""
        wait, self.wait = self.wait, None
        if wait is None:
            return 0.0
        seconds = time.monotonic() - wait.started
        self.observer.human_check(self.rec, wait.reason, outcome, seconds)
        return seconds

    def outcome_of(self, error: BridgeError) -> str:
        """How a wait ends when the job fails with ``error``."""
        return TAB_OUTCOMES.get(error.code or "", "abandoned")

    def timed_out(self, worker: Worker) -> SiteError:
        """The bridge's own timeout of the wait (the tab's error did not come)."""
        reason = self.wait.reason if self.wait is not None else "recaptcha"
        self.end("timeout")
        return timeout_error(worker, reason, self.timeout)


def timeout_error(worker: Worker, reason: str, seconds: float) -> SiteError:
    return SiteError(
        f"The request waited {seconds:g} s for a person: {tab_name(worker)} needs you to "
        f"{action_for(reason)}. Do that, then retry (human_check_timeout_seconds sets the "
        "wait).",
        kind="challenge",
        status=503,
        code="human_check_timeout",
        retry_after=RETRY_AFTER_SECONDS,
    )


def name_tab(error: BridgeError, worker: Worker, timeout: float) -> BridgeError:
    """``error`` with the tab it happened in named, for the errors a person acts on.

    ``timeout``: the person-wait the tab was given (for its ``human_check_timeout``).
    """
    if error.code not in _NAMED_CODES:
        return error
    if error.code == "human_check_timeout":
        named = timeout_error(worker, "recaptcha", timeout)
        named.site_status = getattr(error, "site_status", None)
        return named
    if error.code == "human_check_cancelled":
        error.message = (
            f"The reCAPTCHA check in {tab_name(worker)} was cancelled in the page, so the "
            "request was not sent. Retry and solve the check when it appears (an arena.ai "
            "account with an email login gets fewer checks)."
        )
        return error
    error.message = f"{error.message} (It happened in {tab_name(worker)}.)"
    return error
