"""Validated, immutable view of the four config files.

``BridgeConfig`` is swapped as a whole on reload; request code reads one snapshot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# allowed_hosts entries and cors_allowed_origins entries (checked here; applied in http.origins).
_HOST_PATTERN = re.compile(
    r"\*|(?:\*\.)?[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?(?::[0-9]{1,5})?"
    r"|\[[0-9a-f:.]+\](?::[0-9]{1,5})?"
)
_ORIGIN = re.compile(r"https?://(?:[a-z0-9_.-]+|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?")

Mode = Literal["direct_chat", "battle"]
Target = Literal["A", "B"]


class Settings(BaseModel):
    """config.jsonc. Seed keys keep their seed names; unknown keys are kept and ignored."""

    model_config = ConfigDict(extra="allow", frozen=True)

    # -- seed keys (the seed-era bridge's config.jsonc)
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
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names the bridge answers to besides 127.0.0.1, localhost, [::1] and "
        "its listen address ('*.example.com' for subdomains; '*' turns the check off).",
    )
    cors_allowed_origins: list[str] = Field(
        default_factory=list,
        description="Web page origins (e.g. http://localhost:3210) allowed to call the API "
        "from a browser (CORS); '*' allows every page.",
    )
    max_concurrent_per_worker: int = Field(6, ge=1, description="Jobs one tab runs at once.")
    queue_max_size: int = Field(64, ge=0, description="Requests that may wait for a free tab.")
    queue_timeout_seconds: float = Field(
        30, ge=0, description="How long a request waits for a busy tab to free up before a 503."
    )
    no_worker_timeout_seconds: float = Field(
        2, ge=0, description="How long a request waits when no tab is connected at all."
    )
    pace_min_interval_seconds: float = Field(
        0, ge=0, description="Least time between two site requests of one account (0: none)."
    )
    pace_max_per_minute: int = Field(
        0, ge=0, description="Most site requests of one account per minute (0: no cap)."
    )
    pace_max_per_day: int = Field(
        0, ge=0, description="Most site requests of one account per 24 hours (0: no cap)."
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
    tool_calling: Literal["emulate", "refuse"] = Field(
        "emulate",
        description="Requests with 'tools': described in the prompt and answered with "
        "tool_calls parsed from the text (emulate), or refused with a 400 (refuse).",
    )
    heartbeat_interval_seconds: float = Field(15, gt=0, description="Worker ping interval.")
    site_strategy: Literal["create", "retry"] = Field(
        "create",
        description='How the tab talks to the site: "create" starts a new site conversation per '
        'request (needs no ids); "retry" regenerates a captured message (legacy).',
    )
    direct_mode: Literal["direct-battle", "direct"] = Field(
        "direct-battle", description="The site's mode value for a chat with one named model."
    )
    battle_model: str = Field(
        "battle",
        description="Model name that asks the site for an anonymous battle (mode battle).",
    )
    battle_side: Target = Field("A", description="Which battle side's answer is returned.")
    refresh_models_on_connect: bool = Field(
        False,
        description="Read the site's model list when a tab connects and rewrite "
        "available_models.json, logging what changed.",
    )
    add_new_models: bool = Field(
        False,
        description="With refresh_models_on_connect: also add the models models.json lacks.",
    )
    reuse_site_sessions: bool = Field(
        False,
        description="Continue a site conversation the bridge started when a request extends "
        "it exactly (post-to-evaluation), instead of sending the whole transcript again.",
    )
    upload_images: Literal["auto", "always", "never"] = Field(
        "auto",
        description="Images in chat requests (create strategy): uploaded through the tab to "
        "the site's file store first when the model requires it (auto: its "
        "inputCapabilities in available_models.json), always, or never.",
    )
    recaptcha_sitekey: str = Field(
        "",
        description="reCAPTCHA sitekey for the tab when the page shows none (empty: built-in).",
    )
    recaptcha_retries: int = Field(
        1, ge=0, le=5, description="Fresh-token retries after the site rejects a reCAPTCHA token."
    )
    recaptcha_v2_sitekey: str = Field(
        "",
        description="Sitekey of the visible reCAPTCHA v2 check when the page shows none "
        "(empty: built-in).",
    )
    human_check_timeout_seconds: float = Field(
        90,
        ge=0,
        le=3600,
        description="How long a request waits for a person to solve a check shown in its tab "
        "(reCAPTCHA v2) before a 503; 0: no visible check, the refusal is reported at once.",
    )
    transcript_turn_format: str = Field(
        "{role}: {content}",
        description="How one turn of a conversation is written into the site message.",
    )
    transcript_separator: str = Field("\n\n", description="Text between two turns.")
    transcript_role_names: dict[str, str] = Field(
        default_factory=lambda: {
            "system": "System", "user": "User", "assistant": "Assistant", "tool": "Tool"
        },
        description="The {role} label of each role in the transcript.",
    )
    model_aliases: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Client model names or glob patterns (claude-*, gpt-5*) -> a model of models.json, "
            "for every endpoint; an exact name wins over a pattern, patterns in file order."
        ),
    )
    endpoint_pool_strategy: Literal["round_robin", "random"] = Field(
        "round_robin", description="How an entry is picked from a model_endpoint_map.json list."
    )
    max_request_body_bytes: int = Field(
        32 * 1024 * 1024, ge=1024, description="Largest request body accepted (413 beyond)."
    )
    max_messages: int = Field(
        2048, ge=1, description="Most messages one chat request may hold (400 beyond)."
    )
    # -- the browser the bridge runs itself (serve --browser; src/lmarena_bridge/browser/)
    browser_executable: str = Field(
        "",
        description="Chromium or Chrome to run with --browser (empty: /usr/bin/chromium, "
        "else chromium, chromium-browser, google-chrome on PATH).",
    )
    browser_profile_dir: str = Field(
        "",
        description="The managed browser's profile folder, kept between runs (empty: "
        "browser-profile in the config folder; relative to it).",
    )
    browser_tabs: int = Field(1, ge=1, le=20, description="arena.ai tabs the browser opens.")
    browser_headless: bool = Field(
        False, description="Run the managed browser without a window (as --headless does)."
    )
    browser_args: list[str] = Field(
        default_factory=list,
        description="Extra command-line switches for the managed browser, e.g. "
        '["--proxy-server=socks5://127.0.0.1:1080"].',
    )
    browser_url: str = Field(
        "https://arena.ai/", description="The page each managed tab opens."
    )

    @field_validator("id_updater_last_mode", mode="before")
    @classmethod
    def _mode(cls, v: Any) -> Any:
        return v.strip().lower() if isinstance(v, str) else v

    @field_validator("id_updater_battle_target", "battle_side", mode="before")
    @classmethod
    def _target(cls, v: Any) -> Any:
        return v.strip().upper() if isinstance(v, str) else v

    @field_validator("transcript_turn_format")
    @classmethod
    def _turn_format(cls, v: str) -> str:
        if "{content}" not in v:
            raise ValueError("must contain {content}")
        return v

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, v: list[str]) -> list[str]:
        hosts = [h.strip().lower() for h in v]
        for host in hosts:
            if not _HOST_PATTERN.fullmatch(host):
                raise ValueError(
                    f"{host!r} is not a host name like 'bridge.lan', '*.example.com' or '*'"
                )
        return hosts

    @field_validator("browser_url")
    @classmethod
    def _browser_url(cls, v: str) -> str:
        if not re.fullmatch(r"https?://\S+", v.strip()):
            raise ValueError(f"{v!r} is not an http(s) address like 'https://arena.ai/'")
        return v.strip()

    @field_validator("cors_allowed_origins")
    @classmethod
    def _origins(cls, v: list[str]) -> list[str]:
        origins = [o.strip().rstrip("/").lower() for o in v]
        for origin in origins:
            if origin != "*" and not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"{origin!r} is not an origin like 'http://localhost:3210' (scheme, host "
                    "and port only) or '*'"
                )
        return origins


# The site's arenas (its model catalog groups) and the kind of output each one gives.
ARENA_KINDS: dict[str, str] = {
    "text": "text",
    "document": "text",
    "code": "webdev",
    "webdev": "webdev",
    "search": "search",
    "text-to-image": "image",
    "image": "image",
    "text-to-video": "video",
    "video": "video",
}


@dataclass(frozen=True, slots=True)
class ModelTarget:
    """A models.json value: ``"<uuid>"``, ``"<uuid>:image"``, ``"null:image"``, and with an
    arena in front, ``"text:<uuid>"`` or ``"text-to-image:<uuid>"``."""

    name: str
    model_id: str | None
    kind: str = "text"  # "text" | "image" | "search" | "webdev" | "video" (others verbatim)
    arena: str | None = None

    @property
    def is_image(self) -> bool:
        return self.kind == "image"

    @classmethod
    def parse(cls, name: str, value: str) -> ModelTarget:
        head, sep, rest = value.strip().partition(":")
        arena: str | None = None
        if sep and head.strip().lower() in ARENA_KINDS:
            arena, value = head.strip().lower(), rest
        raw_id, sep, kind = value.partition(":")
        raw_id = raw_id.strip()
        model_id = None if raw_id.lower() in ("", "null", "none") else raw_id
        given = kind.strip().lower() if sep else ""
        return cls(
            name=name,
            model_id=model_id,
            kind=given or (ARENA_KINDS[arena] if arena else "text"),
            arena=arena,
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
