"""The seed's id side channel: seed-era userscripts POST captured ids to
``http://127.0.0.1:5103/update`` (docs/site-protocol.md §4), where the seed's id_updater.py
listened. Both ends live here: capture-ids listens there while it waits, answering exactly
as the seed's id_updater did (:class:`SideChannel`), and the bridge passes ids our userscript
captured on to a seed id_updater that may be listening (:func:`forward_ids`).
"""

from __future__ import annotations

import asyncio
import http.server
import json
import logging
import threading
import urllib.request
from dataclasses import dataclass

log = logging.getLogger(__name__)

SEED_PORT = 5103
SEED_UPDATER_URL = f"http://127.0.0.1:{SEED_PORT}/update"


async def forward_ids(session_id: str, message_id: str) -> None:
    """POST the ids as a seed-era userscript would; nobody listening is no error."""
    body = json.dumps({"sessionId": session_id, "messageId": message_id}).encode()
    try:
        await asyncio.to_thread(_post_json, SEED_UPDATER_URL, body)
    except OSError as exc:  # the ids are still available by polling the capture
        log.info("no seed id_updater on %s to pass the ids to (%s)", SEED_UPDATER_URL, exc)


def _post_json(url: str, body: bytes) -> None:
    req = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        resp.read()


@dataclass(frozen=True)
class SideChannelIds:
    session_id: str
    message_id: str


class SideChannel:
    """A one-shot HTTP server on 127.0.0.1 run in a thread; ``ids`` is set by the first
    valid ``POST /update`` and ``received`` fires then. Use as a context manager.

    Raises OSError from the constructor when the port is taken.
    """

    def __init__(self, port: int = SEED_PORT, host: str = "127.0.0.1") -> None:
        self.ids: SideChannelIds | None = None
        self.received = threading.Event()
        self._server = http.server.ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="id-side-channel", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> SideChannel:
        self._thread.start()
        return self

    def __enter__(self) -> SideChannel:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()

    def _accept(self, session_id: str, message_id: str) -> None:
        if self.ids is None:
            self.ids = SideChannelIds(session_id, message_id)
            self.received.set()

    def _handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        channel = self

        class Handler(http.server.BaseHTTPRequestHandler):
            # The seed's answers, byte for byte where a script could care.
            def _cors(self) -> None:
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
                self.send_header("Access-Control-Allow-Headers", "Content-Type")

            def _answer(self, status: int, body: bytes = b"") -> None:
                self.send_response(status)
                self._cors()
                if body:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body:
                    self.wfile.write(body)

            def do_OPTIONS(self) -> None:
                self._answer(204)

            def do_POST(self) -> None:
                if self.path != "/update":
                    self._answer(404)
                    return
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                    data = json.loads(self.rfile.read(length) or b"null")
                    session_id = data.get("sessionId") if isinstance(data, dict) else None
                    message_id = data.get("messageId") if isinstance(data, dict) else None
                    if not (isinstance(session_id, str) and session_id
                            and isinstance(message_id, str) and message_id):
                        self._answer(400, b'{"error": "Missing sessionId or messageId"}')
                        return
                    channel._accept(session_id, message_id)
                    self._answer(200, b'{"status": "success"}')
                except Exception as exc:  # the seed answered 500 with the reason
                    body = json.dumps({"error": f"Internal server error: {exc}"}).encode()
                    self._answer(500, body)

            def do_GET(self) -> None:
                self._answer(404)

            def log_message(self, format: str, *args: object) -> None:
                return  # the tool reports what matters itself

        return Handler
