"""``python -m bench.stock_ws serve …``: the bridge as shipped, except that the worker
socket uses uvicorn's own WebSocket receive path instead of ``http/ws_fastpath.py``
(``bench.run --stock-ws``), to measure what the fast path buys."""

from __future__ import annotations

import sys
from typing import Any

from lmarena_bridge import cli
from lmarena_bridge.http import app

_shipped = app.uvicorn_options


def stock_options() -> dict[str, Any]:
    return {**_shipped(), "ws": "websockets-sansio"}


if __name__ == "__main__":
    app.uvicorn_options = stock_options  # read by `serve` when it starts
    sys.exit(cli.main())
