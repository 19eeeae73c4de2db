"""Command line: serve | check (and the tools registered by lmarena_bridge.tools)."""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import logging
import socket
import sys
import urllib.request
from collections.abc import Sequence

from lmarena_bridge import __version__
from lmarena_bridge.config.paths import resolve_config_dir
from lmarena_bridge.invocation import program

COMMANDS = ("serve", "check", "capture-ids", "update-models")
PROBE_TIMEOUT_SECONDS = 2.0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config-dir",
        metavar="DIR",
        help="folder holding config.jsonc, models.json, available_models.json and "
        "model_endpoint_map.json (default: $LMARENA_BRIDGE_HOME or the current directory)",
    )


def _tool_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config-dir",
        metavar="DIR",
        help="folder whose config.jsonc gives the running bridge's port and api_key when "
        "--port/--bridge-url are not given (default: $LMARENA_BRIDGE_HOME or the current "
        "directory); the bridge saves into its own folder",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=program(),
        description="OpenAI-compatible API for the LMArena site, through your own browser tab.",
    )
    parser.add_argument("--version", action="version", version=f"lmarena-bridge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the bridge (the default command)")
    _common(serve)
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1, or config)")
    serve.add_argument("--port", type=int, help="port to listen on (default 5102, or config)")
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="log level (default info)",
    )

    serve.add_argument(
        "--browser",
        action="store_true",
        help="also run a Chromium of the bridge's own (profile kept in the config folder) "
        "with arena.ai open and the page script loaded; log in once in its window",
    )
    serve.add_argument(
        "--headless",
        action="store_true",
        help="with --browser: no window (after the first login); implies --browser",
    )

    check = sub.add_parser("check", help="validate the config files and say what is set")
    _common(check)

    from lmarena_bridge.tools import register_tools

    register_tools(sub, _tool_common)
    return parser


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def startup_lines(
    host: str, port: int, *, api_key_set: bool, browser: str | None = None
) -> list[str]:
    """What `serve` prints on start: where things are, and that no tab is connected yet
    (``browser``: "with a window" or "headless" when the bridge runs its own browser)."""
    shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
    base = f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"
    key_note = " (asks for the api_key once)" if api_key_set else ""
    lines = [
        f"LMArena Bridge {__version__}",
        f"  OpenAI API:   {base}/v1",
        f"  Monitor:      {base}/monitor{key_note}",
        f"  Userscript:   {base}/userscript.user.js  (open it to install in Tampermonkey)",
        f"  Extension:    {base}/extension.zip  (or unzip and load unpacked in Chrome)",
        f"  Metrics:      {base}/metrics   Health: {base}/health/ready",
    ]
    if browser == "headless":
        lines.append("Starting the bridge's own browser (headless); its tabs connect by "
                     "themselves.")
    elif browser:
        lines.append("Starting the bridge's own browser: log in to arena.ai in its window once; "
                     "its tabs connect by themselves.")
    else:
        lines.append("No browser tab connected yet — open https://arena.ai with the userscript "
                     "installed; the first connection is logged.")
    return lines


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from lmarena_bridge.config.defaults import ensure_default_files
    from lmarena_bridge.config.loader import load_config
    from lmarena_bridge.config.problems import ConfigFileError, startup_refusal
    from lmarena_bridge.http.app import create_app, uvicorn_options

    setup_logging(args.log_level)
    config_dir = resolve_config_dir(args.config_dir)
    try:
        ensure_default_files(config_dir)
    except OSError as exc:
        print(
            f"lmarena-bridge: cannot create the config files in {config_dir}: "
            f"{exc.strerror or exc}. Choose another folder with --config-dir.",
            file=sys.stderr,
        )
        return 1
    try:
        settings = load_config(config_dir).settings
    except ConfigFileError as exc:
        print(startup_refusal(config_dir, exc.problems), file=sys.stderr)
        return 1
    host = args.host or settings.host
    port = args.port or settings.port
    problem = listen_problem(host, port)
    if problem is not None:
        print(f"lmarena-bridge: not starting: {problem}", file=sys.stderr)
        return 1
    options = None
    if args.browser or args.headless:
        from lmarena_bridge.browser.supervisor import BrowserOptions

        options = BrowserOptions(_loopback_url(host, port), headless=args.headless or None)
    app = create_app(config_dir, browser=options)
    mode = None
    if options is not None:
        mode = "headless" if args.headless or settings.browser_headless else "with a window"
    print("\n".join(startup_lines(host, port, api_key_set=bool(settings.api_key),
                                   browser=mode)), flush=True)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=args.log_level,
            access_log=False,
            **uvicorn_options(),
        )
    )
    server.run()
    return 0


def _loopback_url(host: str, port: int) -> str:
    shown = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def bridge_answering(base_url: str) -> str | None:
    """The version of the LMArena Bridge answering at ``base_url``, or None when nothing
    (or something else) answers there."""
    try:
        with urllib.request.urlopen(f"{base_url}/health", timeout=PROBE_TIMEOUT_SECONDS) as r:
            body = json.loads(r.read())
    except (OSError, ValueError):
        return None
    if isinstance(body, dict) and body.get("status") == "ok" and "uptime_seconds" in body:
        return str(body.get("version") or "?")
    return None


def listen_problem(host: str, port: int) -> str | None:
    """Why the bridge could not listen on ``host``:``port``, in a sentence; None if it can.

    Binds throwaway sockets as uvicorn will (every address the host resolves to, address
    reuse on, IPv6 sockets IPv6-only), so a taken port is reported before anything starts.
    """
    where = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return (f"cannot listen on {host!r}: {exc.strerror}. Check --host or \"host\" in "
                "config.jsonc.")
    for family, kind, proto, _, address in infos:
        with contextlib.closing(socket.socket(family, kind, proto)) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                return _bind_failure(exc, where, host, port)
    return None


def _bind_failure(exc: OSError, where: str, host: str, port: int) -> str:
    other_port = "choose another port with --port PORT (or \"port\" in config.jsonc)"
    if exc.errno == errno.EADDRINUSE:
        url = _loopback_url(host, port)
        version = bridge_answering(url)
        if version is not None:
            return (f"port {port} is already in use: LMArena Bridge {version} is already "
                    f"running at {url} (monitor: {url}/monitor). Use that one, stop it "
                    f"first, or {other_port}.")
        return (f"port {port} on {where.rsplit(':', 1)[0]} is already in use by another "
                f"program (no LMArena Bridge answers there). Stop it, or {other_port}.")
    if exc.errno == errno.EACCES:
        return f"no permission to listen on {where} (ports below 1024 need root); {other_port}."
    if exc.errno == errno.EADDRNOTAVAIL:
        return (f"{host} is not an address of this machine, so the bridge cannot listen on "
                f"it. Check --host or \"host\" in config.jsonc.")
    return f"cannot listen on {where}: {exc.strerror or exc}."


def cmd_check(args: argparse.Namespace) -> int:
    from lmarena_bridge.config.check import check_config

    lines, ok = check_config(resolve_config_dir(args.config_dir), prog=program())
    print("\n".join(lines))
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # `serve` is the default subcommand: `lmarena-bridge --port 5103` means serve.
    if not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "serve")
    args = build_parser().parse_args(argv)
    handlers = {"serve": cmd_serve, "check": cmd_check}
    handler = handlers.get(args.command) or getattr(args, "handler", None)
    if handler is None:
        build_parser().print_help()
        return 2
    try:
        return int(handler(args))
    except KeyboardInterrupt:
        return 130
