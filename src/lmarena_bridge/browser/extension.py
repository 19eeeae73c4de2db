"""The page script as a Manifest V3 extension, built from the one userscript file.

The extension is the userscript unchanged (with the bridge's address filled in, as
``GET /userscript.user.js`` does) run as a content script in the page's MAIN world on
arena.ai: the same world a ``@grant none`` userscript runs in, so both behave the same.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from importlib import resources
from pathlib import Path
from typing import Any

PAGE_SCRIPT = "userscript/lmarena-bridge.user.js"
SCRIPT_NAME = "lmarena-bridge.user.js"
# The address written in the source; replaced by the bridge's own (http/userscript_route.py).
DEFAULT_BRIDGE_URL = "http://127.0.0.1:5102"
SITE_MATCHES = ("https://arena.ai/*", "https://*.arena.ai/*")
_VERSION = re.compile(r"^//\s*@version\s+(\S+)", re.MULTILINE)


def page_script_source() -> str:
    return resources.files("lmarena_bridge").joinpath(PAGE_SCRIPT).read_text(encoding="utf-8")


def page_script(bridge_url: str) -> str:
    return page_script_source().replace(DEFAULT_BRIDGE_URL, bridge_url.rstrip("/"))


def manifest(script: str, bridge_url: str) -> dict[str, Any]:
    m = _VERSION.search(script)
    # Chromium wants 1-4 dot-separated integers.
    version = m[1] if m and re.fullmatch(r"\d+(\.\d+){0,3}", m[1]) else "0.0.0"
    return {
        "manifest_version": 3,
        "name": "LMArena Bridge",
        "version": version,
        "description": f"Lets the LMArena Bridge at {bridge_url} use your arena.ai tabs."[:132],
        "content_scripts": [
            {
                "matches": list(SITE_MATCHES),
                "js": [SCRIPT_NAME],
                "run_at": "document_end",
                "all_frames": False,
                "world": "MAIN",
            }
        ],
    }


def extension_files(bridge_url: str) -> dict[str, str]:
    """File name -> text of the unpacked extension for the bridge at ``bridge_url``."""
    script = page_script(bridge_url)
    return {
        "manifest.json": json.dumps(manifest(script, bridge_url), indent=2) + "\n",
        SCRIPT_NAME: script,
    }


def write_extension(folder: Path, bridge_url: str) -> Path:
    """Write the unpacked extension into ``folder`` (replacing its files); returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in extension_files(bridge_url).items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def extension_zip(bridge_url: str) -> bytes:
    """The extension as a zip with the files at its top level (unzip, then load unpacked)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in extension_files(bridge_url).items():
            zf.writestr(name, text)
    return buf.getvalue()
