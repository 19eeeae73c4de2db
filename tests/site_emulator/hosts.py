"""Host names the emulator answers for; app.py routes on the Host header with these."""

from __future__ import annotations

ARENA_HOST = "arena.ai"
ARENA_ORIGIN = f"https://{ARENA_HOST}"
LEGACY_HOST = "lmarena.ai"  # and its subdomains: everything there is a 301 to arena.ai
RECAPTCHA_HOSTS = ("www.google.com", "www.recaptcha.net")
UPLOADS_HOST = "uploads.emulator.test"  # the file store (store.py): a second origin

# What Chromium's --host-resolver-rules must map onto the emulator's port.
MAPPED_HOSTS = (LEGACY_HOST, ARENA_HOST, *RECAPTCHA_HOSTS, UPLOADS_HOST)
