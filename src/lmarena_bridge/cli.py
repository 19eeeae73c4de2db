"""Command line: serve | check (and the tools registered by lmarena_bridge.tools)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from lmarena_bridge import __version__

COMMANDS = ("serve", "check", "capture-ids", "update-models")


def resolve_config_dir(arg: str | None) -> Path:
    """--config-dir, else $LMARENA_BRIDGE_HOME, else the current directory."""
    if arg:
        return Path(arg).expanduser()
    env = os.environ.get("LMARENA_BRIDGE_HOME")
    return Path(env).expanduser() if env else Path.cwd()


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config-dir",
        metavar="DIR",
        help="folder holding config.jsonc, models.json, available_models.json and "
        "model_endpoint_map.json (default: $LMARENA_BRIDGE_HOME or the current directory)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lmarena-bridge",
        description="OpenAI-compatible API for the LMArena site, through your own browser tab.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
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

    check = sub.add_parser("check", help="validate the config files and say what is set")
    _common(check)

    from lmarena_bridge.tools import register_tools

    register_tools(sub, _common)
    return parser


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def startup_lines(host: str, port: int, *, api_key_set: bool) -> list[str]:
    """What `serve` prints on start: where things are, and that no tab is connected yet."""
    shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
    base = f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"
    key_note = " (asks for the api_key once)" if api_key_set else ""
    return [
        f"LMArena Bridge {__version__}",
        f"  OpenAI API:   {base}/v1",
        f"  Monitor:      {base}/monitor{key_note}",
        f"  Userscript:   {base}/userscript.user.js  (open it to install in Tampermonkey)",
        f"  Metrics:      {base}/metrics   Health: {base}/health/ready",
        "No browser tab connected yet — open https://lmarena.ai with the userscript "
        "installed; the first connection is logged.",
    ]


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from lmarena_bridge.config.defaults import ensure_default_files
    from lmarena_bridge.config.errors import ConfigFileError
    from lmarena_bridge.config.loader import load_config
    from lmarena_bridge.config.model import Settings
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
    except ConfigFileError:
        settings = Settings()  # the app reports the problems and keeps running on defaults
    host = args.host or settings.host
    port = args.port or settings.port
    app = create_app(config_dir)
    print("\n".join(startup_lines(host, port, api_key_set=bool(settings.api_key))), flush=True)
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


def cmd_check(args: argparse.Namespace) -> int:
    from lmarena_bridge.config.check import check_config

    lines, ok = check_config(resolve_config_dir(args.config_dir))
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
