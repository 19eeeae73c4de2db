"""Smoke run of the benchmark (bench/run.py --quick) so that it cannot rot.

It checks that the benchmark runs end to end — bridge, scripted worker, reference server,
load generator — and that every answer's text matched. It asserts nothing about timing:
speed is measured by the full benchmark and recorded in docs/performance.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SETTINGS = {"nonstream-c1", "nonstream-c32", "stream-c16", "stream-long", "idle-streams"}
LOAD_KEYS = {
    "rps",
    "ttfc_p50_ms",
    "ttfc_p99_ms",
    "latency_p50_ms",
    "latency_p99_ms",
    "chunks_per_s",
    "pieces_per_s",
    "cpu_ms_per_req",
    "peak_rss_mb",
}
IDLE_KEYS = {"kb_per_stream", "rss_base_mb", "rss_held_mb", "peak_rss_mb"}


def test_quick_benchmark_runs_and_every_answer_matches(tmp_path: Path) -> None:
    out = tmp_path / "bench.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--runs", "1", "--json-out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    printed = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert printed == rows  # the JSON lines are printed too

    seen = {(r["setting"], r["server"]) for r in rows}
    assert seen == {(s, k) for s in SETTINGS for k in ("bridge", "reference")}
    for row in rows:
        assert row["status"] == "ok", row
        assert row["mismatches"] == 0, row
        assert row["errors"] == 0, row
        assert row["ok"] == row["requests"], row
        keys = IDLE_KEYS if row["setting"] == "idle-streams" else LOAD_KEYS
        assert keys <= row.keys(), keys - row.keys()
        if row["server"] == "bridge":
            assert {"key", "value", "met"} <= row["judge"].keys()
