"""Keeps the managed browser running: start, restart with backoff, close on stop.

States (``status()["state"]``, shown on the monitor and in ``/health/ready``):
``starting``, ``running``, ``restarting`` (it exited; the next start waits the backoff),
``stopped``, and the ones that need the user: ``not_found`` (no executable),
``profile_locked`` (another browser holds the profile), ``no_display`` (a window was asked
for and there is no screen), ``failed``. In those the bridge serves without its browser.
Settings are read at every (re)start, so an edit of a ``browser_*`` key applies then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmarena_bridge.browser.executable import BrowserNotFound, find_browser
from lmarena_bridge.browser.extension import write_extension
from lmarena_bridge.browser.launcher import (
    BrowserProcess,
    LaunchPlan,
    bring_to_front,
    browser_version,
    user_agent_for,
)
from lmarena_bridge.browser.profile import ProfileLocked, check_profile_free, profile_dir
from lmarena_bridge.config.model import Settings

log = logging.getLogger(__name__)

BACKOFF_MIN_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
STABLE_SECONDS = 60.0  # a browser that ran this long starts again without delay growth
EXTENSION_FOLDER = "lmarena-bridge-extension"  # inside the profile folder
HEADLESS_HINT = (
    "The bridge's browser runs headless, so no one can do that there. Stop the bridge, run "
    "it once with a window ({command} --browser, without --headless), do it in the window, "
    "then go back to --headless: the profile keeps the login."
)


class StartRefused(Exception):
    """A start that retrying cannot fix; ``state`` names why."""

    def __init__(self, state: str, message: str) -> None:
        super().__init__(message)
        self.state = state


@dataclass(frozen=True)
class BrowserOptions:
    """What ``serve --browser`` asks for: the bridge's address for the page script, and
    ``--headless`` (None: the config's ``browser_headless``)."""

    bridge_url: str
    headless: bool | None = None


class BrowserSupervisor:
    def __init__(
        self,
        options: BrowserOptions,
        settings: Callable[[], Settings],
        config_dir: Path,
        *,
        command: str = "lmarena-bridge",
        on_change: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.options = options
        self._settings = settings
        self.config_dir = config_dir
        self.command = command
        self.on_change = on_change
        self.state = "stopped"
        self.message = ""
        self.process: BrowserProcess | None = None
        self.plan: LaunchPlan | None = None
        self.started_at: float | None = None
        self.restarts = 0
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._front_task: asyncio.Task[None] | None = None

    @property
    def headless(self) -> bool:
        h = self.options.headless
        return self._settings().browser_headless if h is None else h

    # -- status ----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        plan = self.plan
        return {
            "state": self.state,
            "message": self.message,
            "pid": self.process.pid if self.process and self.process.running else None,
            "headless": self.headless,
            "tabs": [plan.url] * plan.tabs if plan else [],
            "profile": str(plan.profile) if plan else None,
            "executable": plan.executable if plan else None,
            "started_at": self.started_at,
            "restarts": self.restarts,
            "can_front": self.state == "running" and not self.headless,
            "headless_hint": HEADLESS_HINT.format(command=self.command) if self.headless else "",
        }

    def _set(self, state: str, message: str = "") -> None:
        self.state, self.message = state, message
        if self.on_change is not None:
            try:
                self.on_change(self.status())
            except Exception:  # the monitor must not stop the browser
                log.exception("browser status listener failed")

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Close the browser gracefully and stop restarting it."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()  # while it waits for the process, or prepares a start
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self.process is not None and self.process.running:
            code = await self.process.close()
            log.info("managed browser closed (exit code %s)", code)
        self._set("stopped")

    async def _run(self) -> None:
        backoff = BACKOFF_MIN_SECONDS
        while not self._stopping:
            self._set("starting")
            try:
                self.plan = await self._prepare()
            except StartRefused as exc:
                log.error("Not starting the browser: %s", exc)
                self._set(exc.state, str(exc))
                return
            self.process = await BrowserProcess.spawn(self.plan)
            self.started_at = time.time()
            log.info("managed browser started (pid %s, %s, profile %s)", self.process.pid,
                     "headless" if self.plan.headless else "with a window", self.plan.profile)
            self._set("running")
            code = await self.process.wait()
            await self.process.kill_leftovers()
            if self._stopping:
                return
            if time.time() - self.started_at > STABLE_SECONDS:
                backoff = BACKOFF_MIN_SECONDS
            self.restarts += 1
            why = f"The browser exited (code {code}); starting it again in {backoff:g} s."
            log.warning("%s", why)
            self._set("restarting", why)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)

    async def _prepare(self) -> LaunchPlan:
        s = self._settings()
        headless = self.headless
        try:
            exe = find_browser(s.browser_executable)
        except BrowserNotFound as exc:
            raise StartRefused("not_found", str(exc)) from None
        profile = profile_dir(s.browser_profile_dir, self.config_dir)
        try:
            check_profile_free(profile)
        except ProfileLocked as exc:
            raise StartRefused("profile_locked", str(exc)) from None
        if not headless and _no_display():
            raise StartRefused("no_display", (
                "A browser window was asked for, but there is no display (DISPLAY is not "
                f"set). Run with --headless ({self.command} --browser --headless), or start "
                "the bridge from a desktop session."))
        try:
            extension = write_extension(profile / EXTENSION_FOLDER, self.options.bridge_url)
        except OSError as exc:
            why = f"Cannot write the extension into {profile}: {exc}."
            raise StartRefused("failed", why) from None
        agent = user_agent_for(await browser_version(exe)) if headless else None
        return LaunchPlan(executable=exe, profile=profile, extension=extension,
                          url=s.browser_url, tabs=s.browser_tabs, headless=headless,
                          extra_args=tuple(s.browser_args), user_agent=agent)

    def bring_to_front_later(self, done: Callable[[bool, str], None]) -> None:
        """``bring_to_front`` in the background; ``done(ok, message)`` when it is over."""

        async def front() -> None:
            can = self.status()["can_front"]
            done(can, await self.bring_to_front())

        self._front_task = asyncio.get_running_loop().create_task(front())

    async def bring_to_front(self) -> str:
        if self.state != "running" or self.process is None or self.plan is None:
            return "The bridge's browser is not running."
        if self.headless:
            return "The bridge's browser runs headless: it has no window."
        return await bring_to_front(self.plan, self.process.pid)


def _no_display() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
