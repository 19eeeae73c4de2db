"""``lmarena-bridge update-models``: refresh available_models.json from a site tab and,
on request, add models to models.json (the seed's model_updater.py, SITE_PROTOCOL §3.2).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lmarena_bridge.config.defaults import AVAILABLE_MODELS_JSON, MODELS_JSON
from lmarena_bridge.config.editor import read_text
from lmarena_bridge.config.errors import ConfigFileError
from lmarena_bridge.config.jsonc import parse_jsonc
from lmarena_bridge.config.store import ConfigStore, KeyPath
from lmarena_bridge.relay.tab_requests import write_available_models
from lmarena_bridge.site.models import ModelDiff, diff_models, is_image_model, models_json_value
from lmarena_bridge.tools.client import add_bridge_args, client_for
from lmarena_bridge.tools.console import Console, run_tool

PAGE_TIMEOUT_SECONDS = 45.0  # the bridge itself gives the tab ~20 s


def register(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser(
        "update-models",
        help="read the model list from your site tab into available_models.json",
        description="Ask a connected LMArena tab for its page, write every model found to "
        "available_models.json and show what changed. --apply adds models to models.json "
        "(comments and your other entries are kept).",
    )
    common(p)
    add_bridge_args(p)
    p.add_argument(
        "--apply",
        nargs="*",
        metavar="NAME",
        help="add models to models.json under their site name: the NAMEs given, or every "
        "new model when no NAME follows (asked on a terminal when --apply is missing)",
    )
    p.set_defaults(handler=main)


def main(args: argparse.Namespace, console: Console | None = None) -> int:
    return run_tool(run, args, console, "models.json")


def run(args: argparse.Namespace, console: Console) -> list[dict[str, Any]]:
    """The whole flow; returns the models read from the page. Raises ToolError."""
    from lmarena_bridge.cli import resolve_config_dir

    store = ConfigStore(resolve_config_dir(args.config_dir))
    for problem in store.problems:
        console.note(f"Warning: {problem}")
    client = client_for(store, args)
    # Read the old list first: a seed-era tab makes the bridge rewrite the file itself.
    previous = _read_list(store.config_dir / AVAILABLE_MODELS_JSON, console)
    body = {"worker_id": args.worker} if args.worker else {}
    console.note("Asking the browser tab for its page…")
    result = client.post("/internal/page_source", body, timeout=PAGE_TIMEOUT_SECONDS)
    models: list[dict[str, Any]] = result.get("models") or []
    path = write_available_models(store.config_dir, models)
    console.say(f"Read {len(models)} models from tab {result.get('worker_id')} "
                f"({result.get('page') or 'page unknown'}); wrote {path}.")
    diff = diff_models(previous, models)
    _report(console, diff, models, _models_json_raw(store.config_dir))

    wanted = _wanted(args, console, diff, models, store)
    if wanted:
        _apply(store, console, wanted, models, explicit=bool(args.apply))
    return models


def _report(console: Console, diff: ModelDiff, models: list[dict[str, Any]],
            configured: dict[str, Any]) -> None:
    if not diff.changed:
        console.say("No changes since the last update.")
    if diff.added:
        console.say(f"Added ({len(diff.added)}): " + ", ".join(diff.added))
    if diff.removed:
        console.say(f"Removed ({len(diff.removed)}): " + ", ".join(diff.removed))
    if diff.renamed:
        console.say(f"Renamed ({len(diff.renamed)}): "
                    + ", ".join(f"{old} -> {new}" for old, new in diff.renamed))
    images = [m for m in models if is_image_model(m)]
    console.say(f"Image-capable models ({len(images)}):")
    ids_in_use = {str(v).partition(":")[0]: k for k, v in configured.items()}
    for m in images:
        where = ids_in_use.get(m["id"])
        note = f"  (in models.json as '{where}')" if where else ""
        console.say(f"  {m['publicName']}  \"{models_json_value(m)}\"{note}")


def _wanted(args: argparse.Namespace, console: Console, diff: ModelDiff,
            models: list[dict[str, Any]], store: ConfigStore) -> list[str]:
    """The publicNames to add to models.json."""
    if args.apply:
        return list(args.apply)
    configured = _models_json_raw(store.config_dir)
    ids_in_use = {str(v).partition(":")[0] for v in configured.values()}
    new = [
        m["publicName"] for m in models
        if m["publicName"] in set(diff.added)
        and m["publicName"] not in configured and m["id"] not in ids_in_use
    ]
    if args.apply is not None:  # --apply with no names: every new model
        return new
    if new and console.interactive and console.confirm(
        f"Add the {len(new)} new models to models.json?"
    ):
        return new
    if new:
        console.say(f"{len(new)} new models are not in models.json; add them with "
                    "`lmarena-bridge update-models --apply` (or --apply NAME …).")
    return []


def _apply(store: ConfigStore, console: Console, names: list[str],
           models: list[dict[str, Any]], *, explicit: bool) -> None:
    by_name = {m["publicName"]: m for m in models}
    configured = _models_json_raw(store.config_dir)
    added: dict[str, str] = {}
    for name in names:
        model = by_name.get(name)
        if model is None:
            console.note(f"Skipped '{name}': no model of that name on the site page.")
        elif name in configured:
            console.note(f"Skipped '{name}': already in models.json (left as it is).")
        else:
            added[name] = models_json_value(model)
    if not added:
        if explicit:
            console.say("Nothing added to models.json.")
        return
    changes: dict[KeyPath, Any] = {(name,): value for name, value in added.items()}
    store.update_sync(MODELS_JSON, changes)
    console.say(f"Added to {store.config_dir / MODELS_JSON}:")
    for name, value in added.items():
        console.say(f"  \"{name}\": \"{value}\"")


def _read_list(path: Path, console: Console) -> list[dict[str, Any]]:
    try:
        data = parse_jsonc(read_text(path), file=path.name)
    except FileNotFoundError:
        return []
    except ConfigFileError as exc:
        console.note(f"Warning: the previous {path.name} is unreadable ({exc}); no diff.")
        return []
    if isinstance(data, dict):  # the older {"name": {...}} shape
        data = list(data.values())
    return [m for m in data if isinstance(m, dict)] if isinstance(data, list) else []


def _models_json_raw(config_dir: Path) -> dict[str, Any]:
    try:
        data = parse_jsonc(read_text(config_dir / MODELS_JSON), file=MODELS_JSON)
    except (FileNotFoundError, ConfigFileError):
        return {}
    return data if isinstance(data, dict) else {}
