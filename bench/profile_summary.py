"""Top hot spots of a py-spy speedscope profile (as written by ``bench.run --profile DIR``).

    .venv/bin/python -m bench.profile_summary DIR/nonstream-c32-run1.speedscope.json

Prints, per function (file:line of the sampled line aggregated to its function), the share
of the main thread's busy samples spent in it (self) and under it (total). py-spy leaves
out idle samples (the event loop waiting in epoll), so 100% is the bridge's CPU, not wall
time; native code (uvloop, syscalls) shows as the Python line that called it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any


def _short(path: str) -> str:
    for marker in ("site-packages/", "/src/", "lib/python3"):
        i = path.find(marker)
        if i >= 0:
            return (
                path[i + len(marker) :]
                if marker != "lib/python3"
                else "stdlib/" + path[path.find("/", i + len(marker)) + 1 :]
            )
    return path


def summarize(data: dict[str, Any], top: int, all_threads: bool = False) -> str:
    frames = data["shared"]["frames"]
    self_fn: Counter[str] = Counter()
    total_fn: Counter[str] = Counter()
    self_line: Counter[str] = Counter()
    samples = 0.0
    count = 0
    for profile in data["profiles"]:
        # Only the event loop by default: py-spy counts the config watcher's thread
        # (blocked in native code, 0 CPU per /proc) as busy.
        if not all_threads and "MainThread" not in profile.get("name", ""):
            continue
        for stack, weight in zip(profile["samples"], profile["weights"], strict=True):
            samples += weight
            count += 1
            seen: set[str] = set()
            for idx in stack:
                f = frames[idx]
                key = f"{f['name']} ({_short(f.get('file', '?'))})"
                if key not in seen:
                    seen.add(key)
                    total_fn[key] += weight
            if stack:
                leaf = frames[stack[-1]]
                key = f"{leaf['name']} ({_short(leaf.get('file', '?'))})"
                self_fn[key] += weight
                self_line[f"{leaf['name']} {_short(leaf.get('file', '?'))}:{leaf.get('line')}"] += (
                    weight
                )
    if not samples:
        return "no samples"
    out = [f"{count} busy samples ({samples:.2f} s)", "", "self %  function (file)"]
    out += [f"{100 * w / samples:5.1f}  {k}" for k, w in self_fn.most_common(top)]
    out += ["", "total %  function (file)"]
    out += [f"{100 * w / samples:5.1f}  {k}" for k, w in total_fn.most_common(top)]
    out += ["", "self %  line"]
    out += [f"{100 * w / samples:5.1f}  {k}" for k, w in self_line.most_common(top)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Summarise a py-spy speedscope profile")
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--all-threads", action="store_true", help="not only the main thread")
    args = parser.parse_args(argv)
    print(summarize(json.loads(args.profile.read_text()), args.top, args.all_threads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
