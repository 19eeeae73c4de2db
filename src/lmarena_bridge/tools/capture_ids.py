"""``capture-ids``: capture the session/message ids the bridge regenerates (the seed's
id_updater.py, docs/site-protocol.md).

Arms capture in a tab connected to the running bridge, waits for the user's Retry click
(reported over the WebSocket by our userscript, or on the seed's side channel by a
seed-era one), then has that bridge save the ids into its own config dir
(``/internal/save_ids``) and reports the file it wrote. The bridge uses them at once.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from lmarena_bridge.site.legacy.id_channel import SEED_PORT, SideChannel
from lmarena_bridge.tools.client import (
    BridgeClient,
    ToolError,
    add_bridge_args,
)
from lmarena_bridge.tools.console import Console, Countdown, choose_worker, connect, run_tool

DEFAULT_TIMEOUT_SECONDS = 120.0
NOT_NEEDED = (
    'This bridge uses "site_strategy": "{strategy}", which needs no ids: every request '
    'starts a new site conversation. Captured ids are used only with "site_strategy": '
    '"retry" (legacy).'
)
POLL_SECONDS = 1.0  # also the countdown's refresh rate


def register(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser(
        "capture-ids",
        help="legacy retry strategy only: capture the session/message ids from a Retry "
        "click in your site tab",
        description="Only for \"site_strategy\": \"retry\" (the default, \"create\", "
        "needs no ids). Arm id capture in a tab connected to the running bridge, then click "
        "Retry on an assistant answer there. The bridge saves the ids into config.jsonc (or, "
        "with --model, model_endpoint_map.json) in its own config folder and uses them "
        "without a restart.",
    )
    common(p)
    add_bridge_args(p)
    p.add_argument("--mode", choices=["direct_chat", "battle"],
                   help="the kind of conversation the answer belongs to (asked when missing)")
    p.add_argument("--target", type=str.upper, choices=["A", "B"],
                   help="battle only: the side whose answer you retry (search models need A)")
    p.add_argument("--model", metavar="NAME",
                   help="write the ids into model_endpoint_map.json under NAME instead of "
                   "the global ids in config.jsonc")
    pool = p.add_mutually_exclusive_group()
    pool.add_argument("--append", action="store_true",
                      help="with --model: add the ids to NAME's pool (list) of entries")
    pool.add_argument("--replace", action="store_true",
                      help="with --model: replace NAME's whole pool when it has one")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS, metavar="SECONDS",
                   help=f"how long to wait for the click (default {DEFAULT_TIMEOUT_SECONDS:g})")
    p.add_argument("--side-channel-port", type=int, default=SEED_PORT, metavar="PORT",
                   help=f"port of the seed's id side channel (default {SEED_PORT})")
    p.add_argument("--no-side-channel", action="store_true",
                   help="do not listen for seed-era userscripts on the side channel")
    p.set_defaults(handler=main)


def main(args: argparse.Namespace, console: Console | None = None) -> int:
    return run_tool(run, args, console, "the config")


def run(args: argparse.Namespace, console: Console) -> dict[str, str]:
    """The whole flow; returns the captured ids. Raises ToolError."""
    client, workers, bridge = connect(args, console)
    strategy = bridge.get("site_strategy")  # None: an older bridge that does not say
    if strategy is not None and strategy != "retry":
        console.note(NOT_NEEDED.format(strategy=strategy))
        if console.interactive and not console.confirm(
            'Capture ids anyway, for a later switch to "retry"?'
        ):
            console.say("Nothing captured.")
            return {}
    worker = choose_worker(workers, console, args.worker)
    mode, target = choose_mode(args, bridge, console)
    where = {"mode": mode, "target": target if mode == "battle" else None,
             "model": args.model, "pool": _pool(args)}
    # A pool that needs --append/--replace is refused before the user clicks anything.
    client.post("/internal/save_ids", {**where, "check_only": True})

    channel = _open_side_channel(args, worker, console)
    try:
        started = client.post("/internal/start_id_capture", {"worker_id": worker["id"]})
        _instructions(console, started, mode, target)
        ids = _wait(client, console, started["capture_id"], channel, args.timeout)
    finally:
        if channel is not None:
            channel.close()

    console.say(f"Captured ids from tab {ids['worker_id']}"
                f"{' (seed side channel)' if ids.get('via') == 'side_channel' else ''}:")
    console.say(f"  session_id = {ids['session_id']}")
    console.say(f"  message_id = {ids['message_id']}")
    saved = client.post("/internal/save_ids", {
        **where, "session_id": ids["session_id"], "message_id": ids["message_id"]})
    console.say(f"The bridge saved them to {saved['saved_to']} {_detail(saved)}.")
    for note in saved.get("notes") or []:
        console.note(f"Note: {note}")
    console.say("It uses them from now on; no restart is needed.")
    return ids


def _pool(args: argparse.Namespace) -> str | None:
    if args.append:
        return "append"
    return "replace" if args.replace else None


def _detail(saved: dict[str, Any]) -> str:
    detail = str(saved.get("detail") or "")
    return detail if detail.startswith("under ") else f"({detail})"


def choose_mode(args: argparse.Namespace, bridge: dict[str, Any],
                console: Console) -> tuple[str, str]:
    """(mode, battle target): flags first, then questions on a terminal, else the values
    the bridge has in force (``bridge``: its answer about itself)."""
    mode = args.mode
    if mode is None:
        mode = str(bridge.get("id_updater_last_mode") or "direct_chat")
        if console.interactive:
            mode = console.ask(
                f"Mode? [a: direct_chat, b: battle] (Enter: {mode}) ",
                {"a": "direct_chat", "b": "battle", "direct_chat": "direct_chat",
                 "battle": "battle"},
                default=mode,
            )
    target = args.target or str(bridge.get("id_updater_battle_target") or "A")
    if mode == "battle" and args.target is None and console.interactive:
        target = console.ask(
            f"Which side's answer will you retry? [A/B] (search models need A; Enter: {target}) ",
            {"a": "A", "b": "B"},
            default=target,
        )
    elif mode != "battle" and args.target:
        console.note("Note: --target only matters in battle mode; ignored.")
    return mode, target


def _open_side_channel(
    args: argparse.Namespace, worker: dict[str, Any], console: Console
) -> SideChannel | None:
    if args.no_side_channel:
        return None
    try:
        return SideChannel(args.side_channel_port).start()
    except OSError as exc:
        if int(worker.get("protocol", 1)) < 2:
            raise ToolError(
                f"Cannot listen on 127.0.0.1:{args.side_channel_port} ({exc}), where the "
                "seed-era userscript in this tab sends the ids. Stop whatever uses the port "
                "(an old id_updater.py?) or install our userscript."
            ) from None
        console.note(f"Note: the seed side channel on port {args.side_channel_port} is "
                     f"unavailable ({exc}); waiting on the bridge only.")
        return None


def _instructions(console: Console, started: dict[str, Any], mode: str, target: str) -> None:
    page = started.get("page") or "your LMArena tab"
    console.note(f"Capture armed in tab {started.get('worker_id')} ({page}); its title "
                 "shows 🎯 until the click.")
    if mode == "battle":
        console.note(f"Now click Retry on the answer of Assistant {target} in the battle "
                     "(do not vote, so the model names stay hidden).")
    else:
        console.note("Now click Retry on the assistant answer the bridge should regenerate.")
    console.note("The site's own retry goes through as usual.")


def _wait(
    client: BridgeClient,
    console: Console,
    capture_id: str,
    channel: SideChannel | None,
    timeout: float,
) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    countdown = Countdown(console, "Waiting for the Retry click")
    try:
        while True:
            remaining = deadline - time.monotonic()
            if channel is not None and channel.ids is not None:
                return {"session_id": channel.ids.session_id,
                        "message_id": channel.ids.message_id,
                        "worker_id": "(seed-era)", "via": "side_channel"}
            if remaining <= 0:
                break
            countdown.tick(remaining)
            state = client.get(
                f"/internal/id_capture/{capture_id}?wait={min(POLL_SECONDS, remaining):.3f}",
                timeout=POLL_SECONDS + 30,
            )
            if state.get("status") == "captured":
                return {"session_id": state["session_id"], "message_id": state["message_id"],
                        "worker_id": state.get("worker_id", "?"), "via": "bridge"}
    finally:
        countdown.close()
    raise ToolError(
        f"No Retry click was seen within {timeout:g} seconds; nothing was written. The tab "
        "stays armed (🎯) until its next Retry click: run capture-ids again and click Retry.",
        exit_code=2,
    )
