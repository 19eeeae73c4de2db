"""The report of ``lmarena-bridge check``: what the config dir holds and what is wrong."""

from __future__ import annotations

from pathlib import Path

from lmarena_bridge.config.defaults import CONFIG_JSONC
from lmarena_bridge.config.loader import collect_config, config_files, read_texts
from lmarena_bridge.config.model import Settings, ids_are_set

NO_IDS_HINT = (
    "No session ids yet: open the site with the userscript and run `lmarena-bridge capture-ids`"
)
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def check_config(config_dir: Path) -> tuple[list[str], bool]:
    """Return report lines and ``ok`` (False only when a file has problems).

    The summary ignores files with problems (built-in defaults stand in). Secrets (api_key,
    worker_token) and ids are never printed, only whether they are set.
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
            lines.append(f"  {name}: unreadable (defaults used)")
        else:
            lines.append(f"  {name}: missing (defaults used; `lmarena-bridge serve` creates it)")

    if problems:
        lines.append(f"Problems ({len(problems)}); the summary below ignores these files:")
        lines.extend(f"  {problem}" for problem in problems)
    else:
        lines.append("No problems found.")

    unknown = sorted(set(settings.model_extra or {}))
    if unknown:
        lines.append(f"Unknown keys in {CONFIG_JSONC} (ignored; typo?): {', '.join(unknown)}")

    mode: str = settings.id_updater_last_mode
    if mode == "battle":
        mode += f" (side {settings.id_updater_battle_target})"
    lines.append(f"Mode of the global ids: {mode}")
    if ids_are_set(settings.session_id, settings.message_id):
        lines.append("Global session ids: set")
    else:
        lines.append("Global session ids: not set")
        lines.append(NO_IDS_HINT)
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
    pools = sum(1 for entries in config.endpoint_map.values() if len(entries) > 1)
    map_line = f"model_endpoint_map.json: {_count(len(config.endpoint_map), 'entry', 'entries')}"
    if pools:
        map_line += f" ({_count(pools, 'pool')})"
    lines.append(map_line)
    lines.append(f"available_models.json: {_count(len(config.available_models), 'model')}")
    lines.append(_listen_line(settings))
    return lines, not problems


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
