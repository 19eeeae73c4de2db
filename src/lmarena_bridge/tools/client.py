"""A tiny HTTP client for the tools: they talk to the running bridge, never to the site.

Standard library only (``urllib.request``), so the tools need nothing beyond the package.
"""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from typing import Any

from lmarena_bridge.config.model import Settings
from lmarena_bridge.config.store import ConfigStore

DEFAULT_TIMEOUT_SECONDS = 30.0


class ToolError(Exception):
    """A failure the tool reports in one line and exits with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def bridge_url(settings: Settings) -> str:
    """Where the running bridge listens, from config.jsonc (a wildcard bind means loopback)."""
    host = settings.host
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


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
            raise ToolError(f"The bridge answered {exc.code}: {_message(exc)}") from None
        except TimeoutError:
            raise ToolError(f"The bridge at {self.base_url} did not answer in time.") from None
        except (urllib.error.URLError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ToolError(
                f"Cannot reach the bridge at {self.base_url} ({reason}). Is `lmarena-bridge "
                "serve` running? Use --bridge-url if it listens elsewhere."
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
        help="the running bridge (default: http://<host>:<port> from config.jsonc)",
    )
    p.add_argument(
        "--worker",
        metavar="ID",
        help="the browser tab to use (see the list printed when several are connected)",
    )


def client_for(store: ConfigStore, args: argparse.Namespace) -> BridgeClient:
    settings = store.current.settings
    return BridgeClient(args.bridge_url or bridge_url(settings), settings.api_key)
