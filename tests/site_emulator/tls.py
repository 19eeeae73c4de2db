"""A throwaway self-signed certificate for serving the emulator as https://arena.ai (and the
other mapped hosts: lmarena.ai, the reCAPTCHA hosts, the file store).

Chromium maps the site's host names to the emulator with ``--host-resolver-rules`` and
accepts the certificate because the test context sets ``ignore_https_errors``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SITE_HOSTS = ("lmarena.ai", "*.lmarena.ai", "arena.ai", "*.arena.ai", "www.google.com",
              "www.recaptcha.net", "uploads.emulator.test")


def make_cert(directory: Path, hosts: tuple[str, ...] = SITE_HOSTS) -> tuple[Path, Path]:
    """Write ``cert.pem`` and ``key.pem`` into ``directory``; return (certfile, keyfile).

    Uses the ``openssl`` command (present on Debian and in the CI image). Raises
    RuntimeError when it is missing so callers can skip with a clear reason.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the `openssl` command is needed to make the emulator's TLS cert")
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    san = ",".join(f"DNS:{h}" for h in hosts)
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", f"/CN={hosts[0]}", "-addext", f"subjectAltName={san}",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key
