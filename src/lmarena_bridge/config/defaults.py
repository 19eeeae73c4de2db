"""Default texts of the four config files, and creating the missing ones.

``config.jsonc`` documents every key, so a fresh install explains itself.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from string import Template
from types import MappingProxyType

from lmarena_bridge.config.files import fsync_dir, temp_path_for
from lmarena_bridge.config.model import Settings
from lmarena_bridge.invocation import DEFAULT_PROG, program

logger = logging.getLogger(__name__)

CONFIG_JSONC = "config.jsonc"
MODELS_JSON = "models.json"
AVAILABLE_MODELS_JSON = "available_models.json"
ENDPOINT_MAP_JSON = "model_endpoint_map.json"
FILE_NAMES: tuple[str, ...] = (CONFIG_JSONC, MODELS_JSON, AVAILABLE_MODELS_JSON, ENDPOINT_MAP_JSON)

_CONFIG_TEMPLATE = """\
// LMArena Bridge settings. JSON with comments: // and /* */ comments and trailing commas
// are fine. Edits take effect without a restart; an edit that does not validate is
// rejected (see the log or `$prog check`) and the last good settings stay in force.
// The bridge keeps your comments and formatting when it writes to this file.
// "Seed" below means the original LMArenaBridge project this bridge replaces: its keys
// are kept under their old names so that its config files still load.
{
  // Config format version (informational).
  "version": $version,

  // ---- How the bridge talks to the site ----
  // "create" (the default): every request starts a new site conversation; nothing needs
  // to be captured. "retry" (legacy, the seed's way): regenerate a captured message; the
  // site then answers the conversation it has stored, not the one you send. The keys in
  // "Legacy retry strategy only" further down have no effect with "create".
  "site_strategy": $site_strategy,
  // Names your clients ask for -> a model of models.json, for every endpoint. Coding
  // agents ask for their vendor's names: e.g. {"claude-*": "claude-opus-4-1",
  // "gpt-5*": "gpt-5"}. "*" and "?" are wildcards; an exact name wins over a pattern,
  // patterns are tried in the order written. A name that matches nothing gets a 404.
  "model_aliases": $model_aliases,

  // ---- Access ----
  // When set, /v1/* and the monitor require "Authorization: Bearer <api_key>".
  "api_key": $api_key,
  // Address and port to listen on. Keep 127.0.0.1 unless other machines must reach it.
  "host": $host,
  "port": $port,
  // Extra browser origins allowed on /ws and /internal/* besides the site's own.
  "allowed_origins": $allowed_origins,
  // Optional token a worker may send instead of coming from an allowed origin.
  "worker_token": $worker_token,
  // Host names the bridge answers to besides 127.0.0.1, localhost, [::1] and its listen
  // address, e.g. ["bridge.lan"] ("*.example.com" matches subdomains). Other names are
  // refused (403) so that a web page cannot reach the bridge by DNS rebinding; "*" turns
  // this check off (only behind a proxy that checks the name itself).
  "allowed_hosts": $allowed_hosts,
  // Web page origins allowed to call the API from a browser (CORS), e.g.
  // ["http://localhost:3210"] for LobeChat's client mode. Pages of other origins are
  // refused (403). "*" lets every web page you visit use the bridge: set api_key with it.
  "cors_allowed_origins": $cors_allowed_origins,

  // ---- Timeouts and streaming ----
  // Longest wait for the first chunk of an answer.
  "first_byte_timeout_seconds": $first_byte_timeout_seconds,
  // Longest silence allowed between two chunks of an answer (the seed's name for it).
  "stream_response_timeout_seconds": $stream_response_timeout_seconds,
  // Longest a whole answer may take.
  "total_timeout_seconds": $total_timeout_seconds,
  // Send an SSE keep-alive after this much silence, as a ": keep-alive" "comment" or an
  // "empty_delta" chunk (for clients that ignore comments).
  "keepalive_interval_seconds": $keepalive_interval_seconds,
  "keepalive_style": $keepalive_style,
  // Model reasoning: "reasoning_content" (separate field), "think_tags" (<think>...</think>
  // in the text) or "drop".
  "reasoning_mode": $reasoning_mode,
  // Requests with "tools" (agents, function calling): "emulate" describes the tools in the
  // prompt and turns the model's <tool_call> blocks into OpenAI tool_calls; "refuse"
  // answers such requests with a 400.
  "tool_calling": $tool_calling,

  // ---- Browser tabs (workers) ----
  // Jobs one tab runs at once.
  "max_concurrent_per_worker": $max_concurrent_per_worker,
  // Requests that may wait for a free tab; more get a 503 at once.
  "queue_max_size": $queue_max_size,
  // How long a request waits for a busy tab to free up before a 503.
  "queue_timeout_seconds": $queue_timeout_seconds,
  // How long a request waits when no tab is connected at all (open the site to connect one).
  "no_worker_timeout_seconds": $no_worker_timeout_seconds,
  // Pacing per arena.ai account (0: none). A request that would break these waits (up to
  // queue_timeout_seconds) or goes to another account. The site flags accounts that send
  // too fast; see "Protecting your account" in the README for values. Your call.
  "pace_min_interval_seconds": $pace_min_interval_seconds,
  "pace_max_per_minute": $pace_max_per_minute,
  "pace_max_per_day": $pace_max_per_day,
  // Ping interval for connected tabs.
  "heartbeat_interval_seconds": $heartbeat_interval_seconds,

  // ---- Limits ----
  // Largest request body accepted, in bytes (images travel inside it); more gets a 413.
  "max_request_body_bytes": $max_request_body_bytes,
  // Most messages one chat request may hold; more gets a 400.
  "max_messages": $max_messages,

  // ---- The browser the bridge runs itself (serve --browser) ----
  // Chromium or Chrome to run; empty: /usr/bin/chromium, else chromium, chromium-browser or
  // google-chrome found on PATH.
  "browser_executable": $browser_executable,
  // Its profile folder (cookies, your login), kept between runs; empty: browser-profile in
  // this folder (a relative path is relative to this folder).
  "browser_profile_dir": $browser_profile_dir,
  // How many arena.ai tabs it opens (each one is a worker).
  "browser_tabs": $browser_tabs,
  // No window (as --headless). Log in once with a window first.
  "browser_headless": $browser_headless,
  // Extra command-line switches, e.g. ["--proxy-server=socks5://127.0.0.1:1080"].
  "browser_args": $browser_args,
  // The page each tab opens.
  "browser_url": $browser_url,

$extra  // ---- Legacy retry strategy only (no effect with "site_strategy": "create") ----
  // The site conversation and message the bridge "retries" for models that have no entry
  // in model_endpoint_map.json. Empty until captured (`$prog capture-ids` writes them).
  "session_id": $session_id,
  "message_id": $message_id,
  // Mode of the captured ids: "direct_chat" (one-model chat) or "battle".
  "id_updater_last_mode": $id_updater_last_mode,
  // In battle mode, which side ("A" or "B") the captured message was.
  "id_updater_battle_target": $id_updater_battle_target,
  // Models missing from model_endpoint_map.json use the ids above (and their mode). When
  // false, a request for such a model fails with 400.
  "use_default_ids_if_mapping_not_found": $use_default_ids_if_mapping_not_found,
  // How an entry is picked when model_endpoint_map.json maps a model to a list:
  // "round_robin" or "random".
  "endpoint_pool_strategy": $endpoint_pool_strategy,
  // Text models: add an empty user turn at the end, as the seed did.
  "bypass_enabled": $bypass_enabled,
  // Merge all system messages into one at the front (for SillyTavern-style prompts).
  "tavern_mode_enabled": $tavern_mode_enabled,

  // ---- Seed keys accepted for compatibility (no effect) ----
  // The bridge never updates itself; this only exists so old files still load.
  "enable_auto_update": $enable_auto_update,
  // File-bed uploads are not used; images travel inside the request.
  "file_bed_enabled": $file_bed_enabled,
  "file_bed_upload_url": $file_bed_upload_url,
  "file_bed_api_key": $file_bed_api_key,
  // The bridge never restarts itself when idle.
  "enable_idle_restart": $enable_idle_restart,
  "idle_restart_timeout_seconds": $idle_restart_timeout_seconds
}
"""


def render_config_default(prog: str = DEFAULT_PROG) -> str:
    """Fill the template with the ``Settings`` defaults, so the two never disagree.

    Fields the template does not mention yet get a generic entry (their description as the
    comment), so a new setting is documented in fresh files from the day it is added.
    ``prog`` is how the user runs the commands the comments name (invocation.py).
    """
    values: dict[str, str] = {"prog": prog}
    extra: list[str] = []
    for name, info in Settings.model_fields.items():
        values[name] = json.dumps(info.get_default(call_default_factory=True), ensure_ascii=False)
        if f'"{name}": ${name}' not in _CONFIG_TEMPLATE:
            comment = info.description or name
            extra.append(f"  // {comment}\n  {json.dumps(name)}: {values[name]},\n")
    values["extra"] = "  // ---- More settings ----\n" + "".join(extra) + "\n" if extra else ""
    return Template(_CONFIG_TEMPLATE).safe_substitute(values)


DEFAULT_CONFIG_JSONC = render_config_default()

# No image model: its site id differs per arena and changes, and the seed's "null:image"
# only works with the legacy retry strategy. `update-models --apply` adds the real ones.
DEFAULT_MODELS_JSON = """\
{
  "gemini-2.5-pro": "e2d9d353-6dbe-4414-bf87-bd289d523726",
  "gpt-5": "983bc566-b783-4d28-b24c-3c8b08eb1086"
}
"""

DEFAULT_AVAILABLE_MODELS_JSON = "[]\n"

DEFAULT_ENDPOINT_MAP_JSON = "{}\n"

DEFAULT_TEXTS: Mapping[str, str] = MappingProxyType(
    {
        CONFIG_JSONC: DEFAULT_CONFIG_JSONC,
        MODELS_JSON: DEFAULT_MODELS_JSON,
        AVAILABLE_MODELS_JSON: DEFAULT_AVAILABLE_MODELS_JSON,
        ENDPOINT_MAP_JSON: DEFAULT_ENDPOINT_MAP_JSON,
    }
)


def default_text(name: str) -> str:
    """The text a missing file is created with; config.jsonc names commands as typed."""
    if name == CONFIG_JSONC:
        return render_config_default(program())
    return DEFAULT_TEXTS[name]


def ensure_default_files(config_dir: Path) -> list[Path]:
    """Create ``config_dir`` and any missing config file with its default text.

    Never overwrites: a file that appears meanwhile (another process) is left alone.
    Returns the paths created. Raises ``OSError`` when the directory is not writable.
    """
    config_dir = Path(config_dir)
    config_dir.mkdir(parents=True, exist_ok=True)
    created: list[Path] = []
    for name in FILE_NAMES:
        path = config_dir / name
        if not path.exists() and _create_new(path, default_text(name)):
            logger.info("Created %s with default settings", path)
            created.append(path)
    return created


def _create_new(path: Path, text: str) -> bool:
    """Write a complete file, then link it into place; linking fails if the name exists."""
    tmp = temp_path_for(path)
    try:
        with open(tmp, "x", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError:
            # Filesystems without hard links: check, then rename (a tiny race is unavoidable there).
            if path.exists():
                return False
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    fsync_dir(path.parent)
    return True
