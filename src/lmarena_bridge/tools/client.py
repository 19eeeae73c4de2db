"""A tiny HTTP client for the tools: they talk to the running bridge, never to the site,
and never write config files themselves (the bridge saves into its own config dir).

Which bridge: ``--bridge-url``, else ``--host``/``--port``, else the host and port of the
config dir ``serve`` would use from here (``--config-dir``, ``$LMARENA_BRIDGE_HOME``, the
current directory), else 127.0.0.1:5102: the same defaults as ``serve``. The api key comes
from ``$LMARENA_BRIDGE_API_KEY``, else that config dir.

Standard library only (``urllib.request``), so the tools need nothing beyond the package.
"""

from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.request
from typing import Any

from lmarena_bridge.config.loader import load_config
from lmarena_bridge.config.model import Settings
from lmarena_bridge.config.paths import resolve_config_dir
from lmarena_bridge.config.problems import ConfigFileError
from lmarena_bridge.invocation import program

DEFAULT_TIMEOUT_SECONDS = 30.0
API_KEY_ENV = "LMARENA_BRIDGE_API_KEY"


class ToolError(Exception):
    """A failure the tool reports in one line and exits with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def bridge_url(host: str, port: int) -> str:
    """The address of a bridge listening on ``host``:``port`` (a wildcard means loopback)."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


class BridgeClient:
    """JSON requests to the bridge. Raises ToolError with the bridge's own message."""

    def __init__(
        self, base_url: str, api_key: str = "", timeout: float = DEFAULT_TIMEOUT_SECONDS
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    def get(self, path: str, *, timeout: float | None = None) -> Any:
        return self._call("GET", path, None, timeout)

    def post(self, path: str, body: dict[str, Any] | None = None, *,
             timeout: float | None = None) -> Any:
        return self._call("POST", path, body, timeout)

    def _call(self, method: str, path: str, body: dict[str, Any] | None,
              timeout: float | None) -> Any:
        url = self.base_url + path
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            message = f"The bridge answered {exc.code}: {_message(exc)}"
            if exc.code == 401:
                message += (
                    f" The bridge at {self.base_url} has an api_key: run this from its config "
                    f"folder (or pass --config-dir DIR), or set {API_KEY_ENV}."
                )
            raise ToolError(message) from None
        except TimeoutError:
            raise ToolError(f"The bridge at {self.base_url} did not answer in time.") from None
        except (urllib.error.URLError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ToolError(
                f"Cannot reach the bridge at {self.base_url} ({reason}). Is it running "
                f"(`{program()}`)? If it listens elsewhere, pass --port PORT or "
                "--bridge-url URL."
            ) from None
        except ValueError:
            raise ToolError(f"The bridge sent a response that is not JSON ({url}).") from None


def _message(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read() or b"null")
    except ValueError:
        return exc.reason or "error"
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        for key in ("detail", "message"):
            if body.get(key):
                return str(body[key])
    return str(exc.reason or "error")


def add_bridge_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--bridge-url",
        metavar="URL",
        help="the running bridge, e.g. http://127.0.0.1:5102 (default: from --host/--port)",
    )
    p.add_argument(
        "--host",
        help="where the running bridge listens, as given to serve (default: config.jsonc's "
        "host, else 127.0.0.1)",
    )
    p.add_argument(
        "--port",
        type=int,
        help="the running bridge's port, as given to serve (default: config.jsonc's port, "
        "else 5102)",
    )
    p.add_argument(
        "--worker",
        metavar="ID",
        help="the browser tab to use (see the list printed when several are connected)",
    )


def client_for(args: argparse.Namespace, notes: list[str] | None = None) -> BridgeClient:
    """The client for the bridge the user started (see the module docstring). Problems of
    the config dir read for the defaults are appended to ``notes``; no file is created."""
    settings = Settings()
    try:
        settings = load_config(resolve_config_dir(args.config_dir)).settings
    except ConfigFileError as exc:
        if notes is not None:
            notes.extend(f"Warning: {problem}" for problem in exc.problems)
    url = args.bridge_url or bridge_url(args.host or settings.host, args.port or settings.port)
    return BridgeClient(url, os.environ.get(API_KEY_ENV) or settings.api_key)


def about_bridge(client: BridgeClient) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The connected tabs and what the bridge says about itself (version, config dir)."""
    answer = client.get("/internal/workers")
    return list(answer.get("workers") or []), dict(answer.get("bridge") or {})
