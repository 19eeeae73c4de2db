"""What the benchmark's processes share: the answer text, the wire formats, /proc readers.

The worker, the reference server and the load generator all derive the answer for a
request from one number K (carried in the prompt as ``K=<n>``), so the load generator can
check every answer exactly without any side channel.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent

MODEL = "echo-model"

# ~16-character pieces cycling through the things that make JSON and SSE encoding
# interesting: quotes, backslashes, newlines, emoji (astral plane: surrogate pairs in
# UTF-16) and CJK. Plain ASCII pieces are in the mix so the parsers' fast paths count too.
PIECES: tuple[str, ...] = (
    "Hello, world! ok",
    'She said "hi" ..',
    "C:\\path\\to\\file!",
    "line one\nline 2 ",
    "emoji 😀🚀 time!! ",
    "中文字符测试，你好世界。再见吧！",
    'mix "引号" \\ 🌍\n!..',
    "plain ascii text",
)

HOLD = -1  # K meaning: send the first line, then keep the stream open until the client leaves


def piece(i: int) -> str:
    return PIECES[i % len(PIECES)]


def expected_text(k: int) -> str:
    """The exact answer text for K pieces."""
    return "".join(piece(i) for i in range(max(k, 0)))


def site_line(text: str) -> str:
    """One site text line (docs/site-protocol.md §2): raw UTF-8, like the site's JSON.stringify."""
    return "a0:" + json.dumps(text, ensure_ascii=False) + "\n"


FINISH_LINE = 'ad:{"finishReason":"stop"}\n'

_K_RE = re.compile(r"K=(-?\d+)")


def prompt(k: int) -> str:
    return f"K={k}"


def parse_k(text: str) -> int:
    m = _K_RE.search(text)
    return int(m.group(1)) if m else 1


def last_user_text(messages: list[dict[str, Any]]) -> str:
    """The last user message with content: the bridge appends an empty user turn (bypass)."""
    for msg in reversed(messages):
        content = msg.get("content")
        if msg.get("role") == "user" and isinstance(content, str) and content.strip():
            return content
    return ""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- /proc readers (psutil is not a dependency) ------------------------------------------

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds (10 ms resolution on Linux)."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may hold spaces; the fields after its ')' are fixed.
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def machine_busy_seconds() -> float:
    """CPU time all processes on the machine have used since boot (from /proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / _CLK_TCK


def status_kb(pid: int, key: str) -> int:
    """A ``kB`` field of /proc/<pid>/status: VmRSS (now) or VmHWM (peak since start)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop when installed (uvicorn uses it too), else on the stdlib loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)
