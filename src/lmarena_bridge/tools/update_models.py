"""``update-models``: refresh available_models.json from a site tab and, on request, add
models to models.json (the seed's model_updater.py, docs/site-protocol.md).

The running bridge has its tab read the site's model catalog (a tab with an older script
sends its page instead), rewrites available_models.json in its own config dir and adds the
models asked for to its models.json (``/internal/add_models``); the tool shows what changed
and where the bridge saved. available_models.json then drives the models' capabilities in
/v1/models and which images are uploaded first (docs/configuration.md).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from typing import Any

from lmarena_bridge.invocation import command
from lmarena_bridge.site.catalog import offered
from lmarena_bridge.site.models import (
    ModelDiff,
    card_capabilities,
    diff_models,
    is_image_model,
    model_capabilities,
    models_json_value,
)
from lmarena_bridge.tools.client import BridgeClient, add_bridge_args
from lmarena_bridge.tools.console import Console, connect, run_tool

PAGE_TIMEOUT_SECONDS = 45.0  # the bridge itself gives the tab ~20 s
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


def register(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser(
        "update-models",
        help="read the site's model catalog through your site tab into available_models.json",
        description="Have a tab connected to the running bridge read the site's model "
        "catalog (every arena); the bridge writes every model found to "
        "available_models.json in its config folder (it tells /v1/models what each model "
        "can do and which need images uploaded first), and the tool shows what changed. "
        "--apply has the bridge add models to its models.json with their site ids "
        "(comments and your other entries are kept).",
    )
    common(p)
    add_bridge_args(p)
    p.add_argument(
        "--apply",
        nargs="*",
        metavar="NAME",
        help="add models to models.json under their site name: the NAMEs given, or every "
        "model not there yet when no NAME follows (asked on a terminal when --apply is "
        "missing)",
    )
    p.set_defaults(handler=main)


def main(args: argparse.Namespace, console: Console | None = None) -> int:
    return run_tool(run, args, console, "models.json")


def run(args: argparse.Namespace, console: Console) -> list[dict[str, Any]]:
    """The whole flow; returns the models read from the page. Raises ToolError."""
    client, _, _ = connect(args, console)
    body: dict[str, Any] = {"save": True}
    if args.worker:
        body["worker_id"] = args.worker
    console.note("Asking the browser tab to read the site's model catalog…")
    # The tab reads the site's model catalog (or, an older script, its page).
    result = client.post("/internal/models", body, timeout=PAGE_TIMEOUT_SECONDS)
    models: list[dict[str, Any]] = result.get("models") or []
    previous: list[dict[str, Any]] = result.get("previous") or []
    configured: dict[str, str | None] = result.get("configured") or {}
    source = "model catalog" if result.get("source") == "catalog" else "page"
    console.say(f"Read {len(models)} models from tab {result.get('worker_id')} "
                f"({result.get('page') or 'page unknown'}, its {source}); the bridge wrote "
                f"{result.get('saved_to')}.")
    diff = diff_models(previous, models)
    _report(console, diff, models, configured)

    usable = offered(models)
    wanted = _wanted(args, console, diff, usable, configured)
    if wanted:
        _apply(client, console, wanted, usable, explicit=bool(args.apply))
    return models


def _report(console: Console, diff: ModelDiff, models: list[dict[str, Any]],
            configured: dict[str, str | None]) -> None:
    if not diff.changed:
        console.say("No changes since the last update.")
    if diff.added:
        console.say(f"Added ({len(diff.added)}): " + ", ".join(diff.added))
        by_name = {str(m.get("publicName")): m for m in models}
        for name in diff.added:
            if name in by_name:
                console.say(f"  {name}: {describe_capabilities(by_name[name])}")
    if diff.removed:
        console.say(f"Removed ({len(diff.removed)}): " + ", ".join(diff.removed))
    if diff.renamed:
        console.say(f"Renamed ({len(diff.renamed)}): "
                    + ", ".join(f"{old} -> {new}" for old, new in diff.renamed))
    images = [m for m in models if is_image_model(m)]
    console.say(f"Image-capable models ({len(images)}):")
    names_by_id = {_site_id(v): k for k, v in configured.items() if _site_id(v)}
    for m in images:
        where = names_by_id.get(str(m["id"]).lower())
        note = f"  (in models.json as '{where}')" if where else ""
        console.say(f"  {m['publicName']}  \"{models_json_value(m)}\"{note}")


def describe_capabilities(model: dict[str, Any]) -> str:
    """``text, vision (upload), search`` — what the site says the model does."""
    caps = card_capabilities(model)
    flags = model_capabilities(model)
    words = [w for w, on in (("text", flags["text"]), ("vision", caps.vision),
                             ("image output", caps.image_output), ("video", flags["video"]),
                             ("search", caps.search), ("webdev", flags["webdev"])) if on]
    if caps.requires_upload:
        words[words.index("vision")] = "vision (images uploaded first)"
    return ", ".join(words) or "no capabilities listed"


def _site_id(value: str | None) -> str:
    """The site model id in a models.json value (any of its forms), lower case; '' if none."""
    found = _UUID.search(value or "")
    return found.group(0).lower() if found else ""


def unconfigured(models: list[dict[str, Any]], configured: dict[str, str | None]) -> list[str]:
    """The page's models that models.json has neither by name nor by site id."""
    ids_in_use = {_site_id(v) for v in configured.values()} - {""}
    return [
        m["publicName"] for m in models
        if m["publicName"] not in configured and str(m["id"]).lower() not in ids_in_use
    ]


def _wanted(args: argparse.Namespace, console: Console, diff: ModelDiff,
            models: list[dict[str, Any]], configured: dict[str, str | None]) -> list[str]:
    """The publicNames to add to models.json: the NAMEs of --apply; every model not in
    models.json for --apply alone; on a terminal, the new ones if the user says so."""
    if args.apply:
        return list(args.apply)
    missing = unconfigured(models, configured)
    if args.apply is not None:
        if not missing:
            console.say("Every model on the page is in models.json already; nothing to add.")
        return missing
    added = set(diff.added)
    new = [name for name in missing if name in added]
    if new and console.interactive and console.confirm(
        f"Add the {len(new)} new models to models.json?"
    ):
        return new
    if new:
        console.say(f"{len(new)} new models are not in models.json. "
                    f"`{command('update-models --apply')}` adds all {len(missing)} models "
                    "that are not there yet; --apply NAME … only the ones named.")
    return []


def _apply(client: BridgeClient, console: Console, names: list[str],
           models: list[dict[str, Any]], *, explicit: bool) -> None:
    by_name = {m["publicName"]: m for m in models}
    entries: dict[str, str] = {}
    for name in names:
        model = by_name.get(name)
        if model is None:
            console.note(f"Skipped '{name}': no model of that name on the site page.")
        else:
            entries[name] = models_json_value(model)
    if not entries:
        if explicit:
            console.say("Nothing added to models.json.")
        return
    result = client.post("/internal/add_models", {"models": entries})
    for name, why in (result.get("skipped") or {}).items():
        console.note(f"Skipped '{name}': {why}.")
    added: dict[str, str] = result.get("added") or {}
    if not added:
        console.say("Nothing added to models.json.")
        return
    console.say(f"The bridge added to {result.get('saved_to')}:")
    for name, value in added.items():
        console.say(f"  \"{name}\": \"{value}\"")
