"""An offline emulator of the LMArena site for end-to-end tests (SITE_PROTOCOL.md §8)."""

from .app import create_emulator
from .state import (
    IMAGE_MODEL_ID,
    SEARCH_MODEL_ID,
    STEALTH_MODEL_ID,
    TEXT_MODEL_ID,
    VISION_MODEL_ID,
    Chunking,
    EmulatorState,
    RecordedRequest,
    SiteMessage,
    SiteSession,
    SiteUser,
    echo_answer,
    wait_for,
)
from .tls import make_cert

__all__ = [
    "IMAGE_MODEL_ID",
    "SEARCH_MODEL_ID",
    "STEALTH_MODEL_ID",
    "TEXT_MODEL_ID",
    "VISION_MODEL_ID",
    "Chunking",
    "EmulatorState",
    "RecordedRequest",
    "SiteMessage",
    "SiteSession",
    "SiteUser",
    "create_emulator",
    "echo_answer",
    "make_cert",
    "wait_for",
]
