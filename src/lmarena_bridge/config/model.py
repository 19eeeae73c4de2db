"""Validated, immutable view of the four config files.

``BridgeConfig`` is swapped as a whole on reload; request code reads one snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Mode = Literal["direct_chat", "battle"]
Target = Literal["A", "B"]


class Settings(BaseModel):
    """config.jsonc. Seed keys keep their seed names; unknown keys are kept and ignored."""

    model_config = ConfigDict(extra="allow", frozen=True)

    # -- seed keys (SITE_PROTOCOL §5.1)
    version: str = Field("1.0.0", description="Config format version (informational).")
    session_id: str = Field("", description="Captured session id used when a model has no mapping.")
    message_id: str = Field("", description="Captured message id used with session_id.")
    id_updater_last_mode: Mode = Field("direct_chat", description="Mode of the global ids.")
    id_updater_battle_target: Target = Field("A", description="Battle side of the global ids.")
    enable_auto_update: bool = Field(
        False, description="Accepted for compatibility; the bridge never updates itself."
    )
    bypass_enabled: bool = Field(True, description="Append an empty user turn (text models).")
    tavern_mode_enabled: bool = Field(False, description="Merge all system messages into one.")
    file_bed_enabled: bool = Field(False, description="Accepted for compatibility; unused.")
    file_bed_upload_url: str = "http://127.0.0.1:5180/upload"
    file_bed_api_key: str = ""
    use_default_ids_if_mapping_not_found: bool = Field(
        True, description="Models missing from model_endpoint_map.json use the global ids."
    )
    stream_response_timeout_seconds: float = Field(
        360, gt=0, description="Longest silence allowed between two chunks of an answer."
    )
    enable_idle_restart: bool = Field(False, description="Accepted for compatibility; unused.")
    idle_restart_timeout_seconds: float = -1
    api_key: str = Field("", description="When set, /v1/* and the monitor require this key.")

    # -- ours
    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(5102, ge=1, le=65535, description="Port to listen on.")
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Extra browser origins allowed on /ws and /internal/* besides the site's.",
    )
    worker_token: str = Field(
        "", description="Optional token a worker may send instead of coming from an allowed origin."
    )
    max_concurrent_per_worker: int = Field(6, ge=1, description="Jobs one tab runs at once.")
    queue_max_size: int = Field(64, ge=0, description="Requests that may wait for a free tab.")
    queue_timeout_seconds: float = Field(
        30, ge=0, description="How long a request waits for a busy tab to free up before a 503."
    )
    no_worker_timeout_seconds: float = Field(
        5, ge=0, description="How long a request waits when no tab is connected at all."
    )
    first_byte_timeout_seconds: float = Field(
        120, gt=0, description="Longest wait for the first chunk of an answer."
    )
    total_timeout_seconds: float = Field(900, gt=0, description="Longest a whole answer may take.")
    keepalive_interval_seconds: float = Field(
        15, gt=0, description="SSE keep-alive comment after this much silence."
    )
    keepalive_style: Literal["comment", "empty_delta"] = Field(
        "comment", description="SSE keep-alive as a ': keep-alive' comment or an empty delta."
    )
    reasoning_mode: Literal["reasoning_content", "think_tags", "drop"] = Field(
        "reasoning_content", description="How model reasoning reaches clients."
    )
    heartbeat_interval_seconds: float = Field(15, gt=0, description="Worker ping interval.")
    site_strategy: Literal["retry"] = Field("retry", description="How the tab talks to the site.")
    endpoint_pool_strategy: Literal["round_robin", "random"] = Field(
        "round_robin", description="How an entry is picked from a model_endpoint_map.json list."
    )

    @field_validator("id_updater_last_mode", mode="before")
    @classmethod
    def _mode(cls, v: Any) -> Any:
        return v.strip().lower() if isinstance(v, str) else v

    @field_validator("id_updater_battle_target", mode="before")
    @classmethod
    def _target(cls, v: Any) -> Any:
        return v.strip().upper() if isinstance(v, str) else v


@dataclass(frozen=True, slots=True)
class ModelTarget:
    """A models.json value: ``"<uuid>"``, ``"<uuid>:image"``, ``"null:image"``."""

    name: str
    model_id: str | None
    kind: str = "text"  # "text" | "image" (other suffixes kept verbatim)

    @property
    def is_image(self) -> bool:
        return self.kind == "image"

    @classmethod
    def parse(cls, name: str, value: str) -> ModelTarget:
        raw_id, sep, kind = value.partition(":")
        raw_id = raw_id.strip()
        model_id = None if raw_id.lower() in ("", "null", "none") else raw_id
        return cls(
            name=name, model_id=model_id, kind=(kind.strip().lower() or "text") if sep else "text"
        )


class EndpointEntry(BaseModel):
    """One model_endpoint_map.json entry."""

    model_config = ConfigDict(extra="allow", frozen=True)

    session_id: str
    message_id: str
    mode: Mode | None = None
    battle_target: Target | None = None

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, v: Any) -> Any:
        return v.strip().lower() if isinstance(v, str) else v

    @field_validator("battle_target", mode="before")
    @classmethod
    def _target(cls, v: Any) -> Any:
        return v.strip().upper() if isinstance(v, str) else v


@dataclass(frozen=True)
class BridgeConfig:
    settings: Settings = field(default_factory=Settings)
    models: dict[str, ModelTarget] = field(default_factory=dict)
    endpoint_map: dict[str, tuple[EndpointEntry, ...]] = field(default_factory=dict)
    available_models: tuple[dict[str, Any], ...] = ()


def ids_are_set(session_id: str, message_id: str) -> bool:
    """The seed's rule: empty ids or template placeholders (``YOUR_...``) are not set."""
    return bool(session_id and message_id) and "YOUR_" not in session_id + message_id
