"""LMArena Bridge benchmark: the bridge (with a scripted protocol-1 worker) against a
reference server that emits the same answers with no WebSocket hop.

    .venv/bin/python -m bench.run              # full settings, medians of 3 runs
    .venv/bin/python -m bench.run --quick --runs 1   # tiny settings (the CI smoke test)

Every (setting, run, server) starts FRESH server processes, so each peak RSS (VmHWM) is
that setting's own. Bridge and reference alternate within a run so that machine drift
hits both. See docs/performance.md for what each number means.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    ROOT,
    cpu_seconds,
    free_port,
    machine_busy_seconds,
    run_async,
    status_kb,
)
from bench.load import HTTPError, IdleStreams, LoadReport, get_ok, run_load

SESSION_ID = "11111111-1111-4111-8111-111111111111"
MESSAGE_ID = "22222222-2222-4222-8222-222222222222"
TEXT_MODEL_ID = "e2d9d353-6dbe-4414-bf87-bd289d523726"


@dataclass(frozen=True)
class Setting:
    name: str
    stream: bool
    concurrency: int
    requests: int  # for "idle": the number of streams held open
    k: int
    key: str  # the metric the target is about
    target: str  # human-readable target
    idle: bool = False


FULL: tuple[Setting, ...] = (
    Setting("nonstream-c1", False, 1, 200, 20, "added_p50_ms", "<= 1 ms added p50"),
    Setting("nonstream-c32", False, 32, 1000, 20, "rps", ">= 0.5x req/s; RSS < 80 MB"),
    Setting("stream-c16", True, 16, 200, 200, "pieces_per_s", ">= 0.7x pieces/s"),
    Setting("stream-long", True, 1, 3, 20000, "pieces_per_s", ">= 0.7x pieces/s"),
    Setting("idle-streams", True, 1000, 1000, -1, "kb_per_stream", "< 100 KB/stream", True),
)
QUICK: tuple[Setting, ...] = (
    Setting("nonstream-c1", False, 1, 20, 5, "added_p50_ms", "<= 1 ms added p50"),
    Setting("nonstream-c32", False, 4, 20, 5, "rps", ">= 0.5x req/s; RSS < 80 MB"),
    Setting("stream-c16", True, 4, 20, 5, "pieces_per_s", ">= 0.7x pieces/s"),
    Setting("stream-long", True, 1, 2, 50, "pieces_per_s", ">= 0.7x pieces/s"),
    Setting("idle-streams", True, 20, 20, -1, "kb_per_stream", "< 100 KB/stream", True),
)


# -- processes ---------------------------------------------------------------------------


def write_config(config_dir: Path, setting: Setting) -> None:
    """Like tests/support/servers.py write_config, sized for load."""
    # One worker tab runs every job: it must have a slot for each concurrent request
    # (the idle setting holds 1000 at once), or the queue would be measured instead.
    slots = max(64, setting.concurrency + 16)
    config = {
        "session_id": SESSION_ID,
        "message_id": MESSAGE_ID,
        "id_updater_last_mode": "direct_chat",
        "id_updater_battle_target": "A",
        "bypass_enabled": True,
        "tavern_mode_enabled": False,
        # The worker speaks protocol 1, as the seed-era userscript: it serves the legacy
        # strategy only (the relay path measured is the same for both).
        "site_strategy": "retry",
        "max_concurrent_per_worker": slots,
        "queue_max_size": 2000,
        "no_worker_timeout_seconds": 10,
        "queue_timeout_seconds": 30,
    }
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "config.jsonc").write_text(
        "// benchmark config\n" + json.dumps(config, indent=2), encoding="utf-8"
    )
    (config_dir / "models.json").write_text(json.dumps({"echo-model": TEXT_MODEL_ID}))
    (config_dir / "model_endpoint_map.json").write_text("{}")
    (config_dir / "available_models.json").write_text("[]")


class Proc:
    """A child process with its log in a file (a pipe nobody reads would block it)."""

    def __init__(self, name: str, argv: list[str], log_path: Path, *, pipe: bool = False) -> None:
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("wb")
        # Only a child that announces readiness on stdout gets a pipe; everything else
        # goes to the log file.
        self.popen = subprocess.Popen(
            argv,
            cwd=ROOT,
            stdout=subprocess.PIPE if pipe else self._log,
            stderr=self._log,
            stdin=subprocess.DEVNULL,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log_tail(self, lines: int = 20) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        if self.popen.stdout is not None:
            self.popen.stdout.close()
        self._log.close()


async def wait_http(port: int, proc: Proc, timeout: float = 30) -> None:
    """Until GET /v1/models answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited early:\n{proc.log_tail()}")
        with contextlib.suppress(OSError, HTTPError):
            if await get_ok(port, "/v1/models"):
                return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{proc.name} did not answer within {timeout:g}s:\n{proc.log_tail()}")


async def wait_line(proc: Proc, expect: str, timeout: float = 30) -> None:
    """Until the child prints ``expect`` on stdout (read in a thread: it's a plain pipe)."""
    assert proc.popen.stdout is not None
    stdout = proc.popen.stdout
    try:
        line = await asyncio.wait_for(asyncio.to_thread(stdout.readline), timeout)
    except TimeoutError:
        raise RuntimeError(f"{proc.name} did not start:\n{proc.log_tail()}") from None
    if line.decode().strip() != expect:
        raise RuntimeError(f"{proc.name} did not start ({line!r}):\n{proc.log_tail()}")


@dataclass
class Servers:
    server: Proc
    worker: Proc | None
    port: int

    def stop(self) -> None:
        # Worker first: the bridge then fails its open jobs at once instead of waiting.
        if self.worker is not None:
            self.worker.stop()
        self.server.stop()


async def start(
    kind: str,
    setting: Setting,
    workdir: Path,
    worker_args: tuple[str, ...] = (),
    bridge_module: str = "lmarena_bridge",
) -> Servers:
    port = free_port()
    py = sys.executable
    if kind == "bridge":
        config_dir = workdir / "config"
        write_config(config_dir, setting)
        argv = [
            py,
            "-m",
            bridge_module,
            "serve",
            "--config-dir",
            str(config_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "info",
        ]
    else:
        argv = [py, "-m", "bench.reference", "--port", str(port), "--log-level", "info"]
    server = Proc(kind, argv, workdir / f"{kind}.log")
    try:
        await wait_http(port, server)
        worker = None
        if kind == "bridge":
            worker = Proc(
                "worker",
                [py, "-m", "bench.worker", "--url", f"ws://127.0.0.1:{port}/ws", *worker_args],
                workdir / "worker.log",
                pipe=True,
            )
            await wait_line(worker, "ready")
    except BaseException:
        server.stop()
        raise
    return Servers(server, worker, port)


# -- one measurement ---------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


class Profiler:
    """py-spy attached to a pid for the measured phase only (``--profile DIR``)."""

    def __init__(self, pid: int, out: Path) -> None:
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.out = out
        self.popen = subprocess.Popen(
            [
                exe,
                "record",
                "--pid",
                str(pid),
                "--rate",
                "250",
                "--format",
                "speedscope",
                "--output",
                str(out),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)  # let it attach before the load starts

    def stop(self) -> None:
        self.popen.send_signal(signal.SIGINT)
        try:
            self.popen.wait(30)
        except subprocess.TimeoutExpired:
            self.popen.kill()


async def measure(
    kind: str,
    setting: Setting,
    run: int,
    profile_dir: Path | None,
    worker_args: tuple[str, ...] = (),
    bridge_module: str = "lmarena_bridge",
) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{setting.name}-{kind}-"))
    servers = await start(kind, setting, workdir, worker_args, bridge_module)
    pid = servers.server.pid
    row: dict[str, Any] = {"setting": setting.name, "server": kind, "run": run}
    try:
        if setting.idle:
            row.update(await _measure_idle(servers, setting))
        else:
            row.update(await _measure_load(servers, setting, profile_dir, run))
        row["peak_rss_mb"] = round(status_kb(pid, "VmHWM") / 1024, 1)
        if "rss_base_mb" in row and not setting.idle:
            # Growth over the warmed-up baseline: flat memory means this stays small
            # whatever K and C are.
            row["rss_growth_mb"] = round(row["peak_rss_mb"] - row["rss_base_mb"], 1)
    except BaseException:
        print(f"--- {kind} log ---\n{servers.server.log_tail()}", file=sys.stderr)
        raise
    finally:
        servers.stop()
    if row.get("errors") or row.get("mismatches"):
        print(f"--- {kind} log ({setting.name}) ---\n{servers.server.log_tail()}", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return row


async def _measure_load(
    servers: Servers, setting: Setting, profile_dir: Path | None, run: int
) -> dict[str, Any]:
    port, pid = servers.port, servers.server.pid
    wpid = servers.worker.pid if servers.worker else None
    # Warm-up: imports done lazily, pydantic caches, the first connections.
    warm = await run_load(
        port,
        requests=max(2 * setting.concurrency, 10),
        concurrency=setting.concurrency,
        k=min(setting.k, 200),
        stream=setting.stream,
    )
    if not all(r.ok for r in warm.results):
        bad = next(r for r in warm.results if not r.ok)
        raise RuntimeError(f"warm-up failed: {bad.error}")
    rss_base = status_kb(pid, "VmRSS")
    profiler = None
    if profile_dir is not None and servers.worker is not None:
        profiler = Profiler(pid, profile_dir / f"{setting.name}-run{run}.speedscope.json")
    cpu0 = cpu_seconds(pid)
    wcpu0 = cpu_seconds(wpid) if wpid else 0.0
    busy0 = machine_busy_seconds()
    try:
        report: LoadReport = await run_load(
            port,
            requests=setting.requests,
            concurrency=setting.concurrency,
            k=setting.k,
            stream=setting.stream,
        )
    finally:
        if profiler is not None:
            profiler.stop()
    cpu = cpu_seconds(pid) - cpu0
    wcpu = (cpu_seconds(wpid) - wcpu0) if wpid else None
    # CPU the rest of the machine used meanwhile (other jobs, py-spy): the benchmark's
    # own processes share 2 cores, so anything else running skews the result.
    other = machine_busy_seconds() - busy0 - cpu - (wcpu or 0.0) - report.client_cpu
    other_pct = max(0.0, 100 * other / ((os.cpu_count() or 1) * report.elapsed))
    results = report.results
    good = [r for r in results if r.ok]
    n = len(results)
    lat = [r.latency * 1000 for r in good]
    ttfc = [r.ttfc * 1000 for r in good if r.ttfc is not None]
    chunks = sum(r.chunks for r in good)
    errors = [r.error for r in results if not r.ok and not r.mismatch]
    return {
        "stream": setting.stream,
        "concurrency": setting.concurrency,
        "requests": n,
        "k": setting.k,
        "ok": len(good),
        "mismatches": sum(1 for r in results if r.mismatch),
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
        "elapsed_s": round(report.elapsed, 3),
        "rps": round(len(good) / report.elapsed, 1),
        "ttfc_p50_ms": round(percentile(ttfc, 50), 3),
        "ttfc_p99_ms": round(percentile(ttfc, 99), 3),
        "latency_p50_ms": round(percentile(lat, 50), 3),
        "latency_p99_ms": round(percentile(lat, 99), 3),
        # SSE events with content; the bridge may coalesce pieces that queued up into one
        # event, so pieces/s (site lines delivered per second) is the fair throughput.
        "chunks_per_s": round(chunks / report.elapsed, 1),
        "pieces_per_s": round(len(good) * setting.k / report.elapsed, 1),
        "cpu_ms_per_req": round(cpu * 1000 / max(n, 1), 3),
        "cpu_us_per_piece": round(cpu * 1e6 / max(n * setting.k, 1), 3),
        "worker_cpu_ms_per_req": round(wcpu * 1000 / max(n, 1), 3) if wcpu is not None else None,
        "client_cpu_ms_per_req": round(report.client_cpu * 1000 / max(n, 1), 3),
        "rss_base_mb": round(rss_base / 1024, 1),
        "rss_end_mb": round(status_kb(pid, "VmRSS") / 1024, 1),
        "other_cpu_pct": round(other_pct, 1),
    }


async def _measure_idle(servers: Servers, setting: Setting) -> dict[str, Any]:
    port, pid = servers.port, servers.server.pid
    # Warm up the streaming path and the idle path itself (a small batch opened and
    # closed), so the delta below is per-stream state, not first-use allocations.
    await run_load(port, requests=20, concurrency=4, k=20, stream=True)
    warm = IdleStreams(port, min(32, setting.requests))
    await warm.open()
    await warm.close()
    await asyncio.sleep(0.5)
    rss0 = status_kb(pid, "VmRSS")
    idle = IdleStreams(port, setting.requests)
    t0 = time.perf_counter()
    await idle.open()
    open_s = time.perf_counter() - t0
    await asyncio.sleep(0.5)  # let the last streams settle
    rss1 = status_kb(pid, "VmRSS")
    opened = idle.opened
    await idle.close()
    return {
        "stream": True,
        "concurrency": setting.requests,
        "requests": setting.requests,
        "k": setting.k,
        "ok": opened,
        "mismatches": 0,
        "errors": len(idle.errors),
        "first_error": idle.errors[0] if idle.errors else "",
        "open_s": round(open_s, 3),
        "rss_base_mb": round(rss0 / 1024, 1),
        "rss_held_mb": round(rss1 / 1024, 1),
        "kb_per_stream": round((rss1 - rss0) / max(opened, 1), 2),
    }


# -- aggregation and output --------------------------------------------------------------


def median_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of every numeric field over the runs; counts of failures are summed."""
    out: dict[str, Any] = {k: v for k, v in rows[0].items() if k != "run"}
    out["runs"] = len(rows)
    for key, value in rows[0].items():
        if key == "run" or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        values = [r[key] for r in rows if isinstance(r.get(key), int | float)]
        if key in ("mismatches", "errors"):
            out[key] = sum(values)
        elif key in ("requests", "ok"):
            out[key] = min(values)
        else:
            out[key] = round(statistics.median(values), 3)
    out["first_error"] = next((r["first_error"] for r in rows if r.get("first_error")), "")
    out["status"] = "FAILED" if out["mismatches"] or out["errors"] else "ok"
    return out


def judge(setting: Setting, bridge: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    """The key number for the setting's target and whether it is met."""
    if setting.key == "added_p50_ms":
        added = round(bridge["latency_p50_ms"] - ref["latency_p50_ms"], 3)
        return {
            "key": "added_p50_ms",
            "value": added,
            "met": added <= 1.0,
            "ratio": round(bridge["rps"] / ref["rps"], 3),
        }
    if setting.key == "rps":
        ratio = round(bridge["rps"] / ref["rps"], 3)
        # Two targets here: throughput, and peak RSS under 80 MB (reported apart so one
        # can be met while the other is missed).
        return {
            "key": "rps_ratio",
            "value": ratio,
            "ratio": ratio,
            "met": ratio >= 0.5,
            "peak_rss_mb": bridge["peak_rss_mb"],
            "rss_met": bridge["peak_rss_mb"] < 80,
        }
    if setting.key == "pieces_per_s":
        ratio = round(bridge["pieces_per_s"] / ref["pieces_per_s"], 3)
        return {"key": "pieces_ratio", "value": ratio, "ratio": ratio, "met": ratio >= 0.7}
    kb = bridge["kb_per_stream"]
    return {
        "key": "kb_per_stream",
        "value": kb,
        "met": kb < 100,
        "ratio": round(kb / ref["kb_per_stream"], 3) if ref["kb_per_stream"] > 0 else None,
    }


def _f(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "setting",
        "server",
        "req/s",
        "ttfc p50/p99 ms",
        "lat p50/p99 ms",
        "chunks/s",
        "pieces/s",
        "CPU ms/req",
        "peak RSS MB",
        "KB/stream",
        "key (bridge/ref)",
        "target",
    )
    lines = [head]
    for r in rows:
        verdict = ""
        if r["server"] == "bridge" and "judge" in r:
            j = r["judge"]
            verdict = f"{j['key']}={_f(j['value'], 3)} {'MET' if j['met'] else 'MISSED'}"
            if "rss_met" in j:
                verdict += f"; RSS<80MB {'MET' if j['rss_met'] else 'MISSED'}"
        if r.get("status") == "FAILED":
            verdict = f"FAILED ({r['mismatches']} mismatches, {r['errors']} errors) " + verdict
        lines.append(
            (
                r["setting"],
                r["server"],
                _f(r.get("rps")),
                f"{_f(r.get('ttfc_p50_ms'), 2)}/{_f(r.get('ttfc_p99_ms'), 2)}",
                f"{_f(r.get('latency_p50_ms'), 2)}/{_f(r.get('latency_p99_ms'), 2)}",
                _f(r.get("chunks_per_s"), 0),
                _f(r.get("pieces_per_s"), 0),
                _f(r.get("cpu_ms_per_req"), 3),
                _f(r.get("peak_rss_mb")),
                _f(r.get("kb_per_stream")),
                verdict,
                r.get("target", ""),
            )
        )
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(head))]
    return "\n".join(
        "  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


async def bench(
    settings: list[Setting],
    runs: int,
    profile_dir: Path | None,
    progress: Callable[[str], None],
    worker_args: tuple[str, ...] = (),
    bridge_module: str = "lmarena_bridge",
) -> list[dict[str, Any]]:
    per: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for run in range(1, runs + 1):
        for setting in settings:
            for kind in ("bridge", "reference"):
                row = await measure(kind, setting, run, profile_dir, worker_args,
                                    bridge_module)
                per.setdefault((setting.name, kind), []).append(row)
                progress(json.dumps(row, ensure_ascii=False))
    out: list[dict[str, Any]] = []
    for setting in settings:
        bridge = median_row(per[(setting.name, "bridge")])
        ref = median_row(per[(setting.name, "reference")])
        bridge["target"] = ref["target"] = setting.target
        bridge["judge"] = judge(setting, bridge, ref)
        out += [bridge, ref]
    return out


def raise_fd_limit(need: int) -> None:
    """Idle streams need one socket each in this process (and the server's own)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        new = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="LMArena Bridge benchmark (see docs/performance.md)"
    )
    parser.add_argument("--quick", action="store_true", help="tiny settings (CI smoke run)")
    parser.add_argument("--runs", type=int, default=3, help="runs per setting; medians reported")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run only this setting (repeatable): " + ", ".join(s.name for s in FULL),
    )
    parser.add_argument("--json-out", metavar="FILE", help="also write the JSON lines here")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="attach py-spy to the bridge during each measured phase and "
        "write speedscope profiles to DIR (needs py-spy)",
    )
    parser.add_argument(
        "--scale",
        type=int,
        default=1,
        metavar="N",
        help="multiply the request counts by N (longer, steadier runs; more profile samples)",
    )
    parser.add_argument(
        "--no-ws-compression",
        action="store_true",
        help="the worker does not offer permessage-deflate (a browser does; default: offer it)",
    )
    parser.add_argument(
        "--stock-ws",
        action="store_true",
        help="serve the bridge with uvicorn's own WebSocket receive path instead of "
        "http/ws_fastpath.py (what the fast path buys)",
    )
    parser.add_argument("--verbose", action="store_true", help="print every run's row")
    args = parser.parse_args(argv)

    settings = list(QUICK if args.quick else FULL)
    if args.only:
        unknown = set(args.only) - {s.name for s in settings}
        if unknown:
            parser.error(f"unknown setting(s): {', '.join(sorted(unknown))}")
        settings = [s for s in settings if s.name in args.only]
    if args.scale > 1:
        settings = [
            dataclasses.replace(s, requests=s.requests * args.scale) if not s.idle else s
            for s in settings
        ]
    profile_dir = Path(args.profile) if args.profile else None
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
    raise_fd_limit(4 * max(s.concurrency for s in settings) + 256)

    load1 = float(Path("/proc/loadavg").read_text().split()[0])
    if load1 > 1.0:
        print(
            f"warning: load average {load1:.2f} before the start; other processes will skew "
            "the numbers (see other_cpu_pct)",
            file=sys.stderr,
        )

    def progress(line: str) -> None:
        if args.verbose:
            print(line, file=sys.stderr, flush=True)

    worker_args = ("--no-compression",) if args.no_ws_compression else ()
    bridge_module = "bench.stock_ws" if args.stock_ws else "lmarena_bridge"
    rows = run_async(
        bench(settings, args.runs, profile_dir, progress, worker_args, bridge_module)
    )
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    if args.json_out:  # first: a closed stdout (| head) must not lose the results
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(table(rows))
    noisy = [r for r in rows if r.get("other_cpu_pct", 0) > 10]
    if noisy:
        worst = max(r["other_cpu_pct"] for r in noisy)
        print(
            f"note: other processes used up to {worst:.0f}% of the machine's CPU during "
            "some measurements; numbers are skewed"
        )
    print()
    for line in lines:
        print(line)
    failed = [r for r in rows if r["status"] == "FAILED"]
    if failed:
        names = ", ".join(f"{r['setting']}/{r['server']}" for r in failed)
        print(f"FAILED: {names}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
