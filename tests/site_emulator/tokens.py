"""The emulator's reCAPTCHA tokens: opaque strings the server can verify on its own.

A token is ``emu.<payload>.<mac>``: the payload (base64url JSON) holds the sitekey, the
action, a nonce, the issue time, the origin of the page that minted it and the kind (``v3``
from ``execute``, ``v2`` from a solved visible widget); the mac is an
HMAC-SHA256 over the payload with a secret that lives on one ``EmulatorState``. Nothing
here keeps state: single use and expiry are enforced by recaptcha.py.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

PREFIX = "emu"


@dataclass(frozen=True)
class TokenClaims:
    sitekey: str
    action: str
    nonce: str
    issued_at: float  # Unix seconds
    origin: str  # the Origin of the mint request: the page the token was made in
    kind: str = "v3"  # "v3" (execute) or "v2" (the visible widget, solved)


def mint(secret: bytes, sitekey: str, action: str, issued_at: float, origin: str,
         kind: str = "v3") -> str:
    payload = {"k": sitekey, "a": action, "n": secrets.token_hex(8), "t": issued_at,
               "o": origin, "v": kind}
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    return f"{PREFIX}.{body}.{_mac(secret, body)}"


def parse(secret: bytes, token: str) -> TokenClaims | None:
    """The claims of a token signed with ``secret``; None when malformed or forged."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        return None
    if not hmac.compare_digest(parts[2], _mac(secret, parts[1])):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        return TokenClaims(sitekey=str(data["k"]), action=str(data["a"]), nonce=str(data["n"]),
                           issued_at=float(data["t"]), origin=str(data["o"]),
                           kind=str(data.get("v", "v3")))
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None


def _mac(secret: bytes, body: str) -> str:
    return _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
