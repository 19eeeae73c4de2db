"""Run a CLI tool's handler in a thread against the running bridge, with string streams."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, field

from lmarena_bridge.cli import build_parser
from lmarena_bridge.tools.console import Console
from tests.support.servers import free_socket


@dataclass
class ToolRun:
    """A tool started in a worker thread; ``await run.finished()`` gives its exit code."""

    argv: list[str]
    stdin: str = ""
    interactive: bool = False
    out: io.StringIO = field(default_factory=io.StringIO)
    err: io.StringIO = field(default_factory=io.StringIO)
    task: asyncio.Task[int] | None = None

    def start(self) -> ToolRun:
        args = build_parser().parse_args(self.argv)
        console = Console(stdin=io.StringIO(self.stdin), out=self.out, err=self.err,
                          interactive=self.interactive, live=False)
        self.task = asyncio.ensure_future(asyncio.to_thread(args.handler, args, console))
        return self

    async def finished(self, timeout: float = 20) -> int:
        assert self.task is not None
        return await asyncio.wait_for(self.task, timeout)

    @property
    def output(self) -> str:
        return self.out.getvalue()

    @property
    def errors(self) -> str:
        return self.err.getvalue()


async def run_tool(argv: list[str], **kw: object) -> ToolRun:
    run = ToolRun(argv, **kw).start()  # type: ignore[arg-type]
    await run.finished()
    return run


def free_port() -> int:
    sock = free_socket()
    port = int(sock.getsockname()[1])
    sock.close()
    return port
