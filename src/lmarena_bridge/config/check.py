"""The report of ``lmarena-bridge check``: what the config dir holds and what is wrong."""

from __future__ import annotations

from pathlib import Path

from lmarena_bridge.config.defaults import CONFIG_JSONC
from lmarena_bridge.config.loader import collect_config, config_files, read_texts
from lmarena_bridge.config.model import BridgeConfig, Settings, ids_are_set
from lmarena_bridge.invocation import DEFAULT_PROG


def _no_ids_hint(prog: str) -> str:
    return f"No session ids yet: open the site with the userscript and run `{prog} capture-ids`"


NO_IDS_HINT = _no_ids_hint(DEFAULT_PROG)
FIX_FIRST = (
    "Nothing else is checked until these are fixed: the bridge does not start with them, "
    "and a running bridge keeps its last good config."
)
RETRY_WARNING = (
    "Since November 2025 the site answers the conversation it has stored for the captured "
    "message, not the one the bridge sends: use \"site_strategy\": \"create\" unless you "
    "know you need this."
)
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def check_config(config_dir: Path, *, prog: str = DEFAULT_PROG) -> tuple[list[str], bool]:
    """Return report lines and ``ok`` (False only when a file has problems).

    When a file has problems, the report stops after them: a summary would describe
    built-in defaults, not the user's files. Secrets (api_key, worker_token) and ids are
    never printed, only whether they are set. ``prog`` is how the user runs the CLI (for
    the commands the report suggests).
    """
    config_dir = Path(config_dir)
    texts, problems = read_texts(config_dir)
    config, more = collect_config(texts)
    problems += more
    settings = config.settings

    lines = [f"Config dir: {config_dir.resolve()}"]
    for name, path in config_files(config_dir).items():
        if texts[name] is not None:
            lines.append(f"  {name}: present")
        elif path.exists():
            lines.append(f"  {name}: unreadable")
        else:
            lines.append(f"  {name}: missing (defaults used; `{prog} serve` creates it)")

    if problems:
        lines.append(f"Problems ({len(problems)}):")
        lines.extend(f"  {problem}" for problem in problems)
        lines.append(FIX_FIRST)
        return lines, False
    lines.append("No problems found.")

    unknown = sorted(set(settings.model_extra or {}))
    if unknown:
        lines.append(f"Unknown keys in {CONFIG_JSONC} (ignored; typo?): {', '.join(unknown)}")

    lines.extend(_strategy_lines(settings, prog))
    lines.append(
        "API key: set (required on /v1/* and the monitor)"
        if settings.api_key
        else "API key: not set (anyone who can reach the port may use /v1/*)"
    )

    image_models = sorted(name for name, target in config.models.items() if target.is_image)
    models_line = f"models.json: {_count(len(config.models), 'model')}"
    if image_models:
        models_line += f" (image models: {', '.join(image_models)})"
    lines.append(models_line)
    lines.extend(_image_model_lines(config, prog))
    pools = sum(1 for entries in config.endpoint_map.values() if len(entries) > 1)
    map_line = f"model_endpoint_map.json: {_count(len(config.endpoint_map), 'entry', 'entries')}"
    if pools:
        map_line += f" ({_count(pools, 'pool')})"
    lines.append(map_line)
    lines.append(f"available_models.json: {_count(len(config.available_models), 'model')}")
    lines.append(_listen_line(settings))
    return lines, not problems


def _strategy_lines(settings: Settings, prog: str) -> list[str]:
    if settings.site_strategy == "create":
        return [
            f"Site strategy: create (a new arena.ai conversation per request, mode "
            f"{settings.direct_mode}; no ids needed)"
        ]
    mode: str = settings.id_updater_last_mode
    if mode == "battle":
        mode += f" (side {settings.id_updater_battle_target})"
    lines = [
        "Site strategy: retry (legacy). " + RETRY_WARNING,
        f"Mode of the global ids: {mode}",
    ]
    if ids_are_set(settings.session_id, settings.message_id):
        lines.append("Global session ids: set")
    else:
        lines.append("Global session ids: not set")
        lines.append(_no_ids_hint(prog))
    return lines


def _image_model_lines(config: BridgeConfig, prog: str) -> list[str]:
    """Advice when image requests cannot work with the strategy in force (none otherwise)."""
    if config.settings.site_strategy != "create":
        return []
    images = [t for t in config.models.values() if t.is_image]
    idless = sorted(t.name for t in images if t.model_id is None)
    lines = []
    if idless:
        lines.append(
            f"Image models without a site id ({', '.join(idless)}): \"null:image\" works only "
            "with \"site_strategy\": \"retry\"; requests for them get a 400."
        )
    if len(idless) == len(images):
        lines.append(
            "No image model usable: with a site tab connected, run "
            f"`{prog} update-models --apply` to add the site's models with their ids "
            "(images: /v1/images/generations, or an image model in /v1/chat/completions)."
        )
    return lines


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def _listen_line(settings: Settings) -> str:
    host = settings.host
    address = f"[{host}]:{settings.port}" if ":" in host else f"{host}:{settings.port}"
    line = f"Listens on: {address}"
    if host not in _LOOPBACK:
        line += " (reachable from other machines" + ("" if settings.api_key else "; set api_key")
        line += ")"
    return line
