"""Messages between the bridge and a browser worker (docs/worker-protocol.md).

Protocol 1 is the seed-era protocol (no hello); protocol 2 adds hello, abort, heartbeats,
structured errors and status reports. Both share the job and data frames.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

PROTOCOL_VERSION = 2

# The response headers a tab reports with a failed site request: exactly those that
# site/errors.py reads. Sent in hello_ack, so the userscript and the bridge share one list.
ERROR_HEADERS: tuple[str, ...] = (
    "retry-after",
    "ratelimit",
    "ratelimit-policy",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "ratelimit-modality",
    "location",
    "cf-mitigated",
)


class _Frame(BaseModel):
    model_config = ConfigDict(extra="allow")


# ---- bridge -> worker -------------------------------------------------------------------


class AttachmentPayload(BaseModel):
    name: str
    contentType: str
    url: str


class MessageTemplate(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str
    attachments: list[AttachmentPayload] = Field(default_factory=list)
    participantPosition: Literal["a", "b"] = "a"


class JobPayload(BaseModel):
    """What the userscript needs to perform the site's retry request (docs/site-protocol.md §4)."""

    message_templates: list[MessageTemplate]
    target_model_id: str | None
    session_id: str
    message_id: str
    is_image_request: bool = False


class RecaptchaSpec(BaseModel):
    """Which v3 token the tab mints for each attempt, and how often it retries a rejection."""

    action: str
    v3_retries: int = 1


class SiteRequestPayload(BaseModel):
    """A site request built whole by the bridge; the tab only adds the reCAPTCHA token."""

    type: Literal["site_request"] = "site_request"
    method: Literal["POST", "PUT"] = "POST"
    path: str
    body: dict[str, Any]
    recaptcha: RecaptchaSpec | None = None
    stop_path: str | None = None


class JobFrame(BaseModel):
    request_id: str
    payload: JobPayload | SiteRequestPayload


Command = Literal["refresh", "reconnect", "activate_id_capture", "send_page_source"]


class CommandFrame(BaseModel):
    """refresh | reconnect | activate_id_capture | send_page_source (seed-era commands)."""

    command: Command


class AbortFrame(BaseModel):
    type: Literal["abort"] = "abort"
    request_id: str


class HelloAck(BaseModel):
    type: Literal["hello_ack"] = "hello_ack"
    worker_id: str
    protocol: int = PROTOCOL_VERSION
    heartbeat_interval: float
    recaptcha_sitekey: str = ""
    error_headers: list[str] = Field(default_factory=lambda: list(ERROR_HEADERS))


class Ping(BaseModel):
    type: Literal["ping"] = "ping"
    ts: float


# ---- worker -> bridge -------------------------------------------------------------------


class Hello(_Frame):
    type: Literal["hello"]
    protocol: int = PROTOCOL_VERSION
    version: str = ""
    page: str = ""
    capabilities: list[str] = Field(default_factory=list)


class Pong(_Frame):
    type: Literal["pong"]
    ts: float | None = None


WorkerState = Literal["ready", "challenge", "logged_out", "wrong_origin"]


class StatusReport(_Frame):
    type: Literal["status"]
    state: WorkerState
    page: str = ""
    detail: str = ""

    @field_validator("state", mode="before")
    @classmethod
    def _spelling(cls, v: Any) -> Any:
        # "logged-out" and "logged_out" both mean the same; accept either spelling.
        return v.replace("-", "_").lower() if isinstance(v, str) else v


class StructuredError(BaseModel):
    model_config = ConfigDict(extra="allow")

    message: str
    status: int | None = None
    code: str | None = None  # set by the worker for failures it names itself
    content_type: str | None = None
    body: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)


class ErrorFrame(_Frame):
    """Protocol 2: ``{"request_id", "error": {message, status, content_type, body, headers}}``."""

    request_id: str
    error: StructuredError


class IdsCaptured(_Frame):
    type: Literal["ids_captured"]
    session_id: str
    message_id: str


class PageSource(_Frame):
    type: Literal["page_source"]
    html: str


def parse_control(frame: dict[str, Any]) -> BaseModel | None:
    """Parse a typed (``"type"``) worker frame; None if the type is unknown."""
    kind = frame.get("type")
    model = _CONTROL.get(kind) if isinstance(kind, str) else None
    return model.model_validate(frame) if model else None


_CONTROL: dict[str, type[BaseModel]] = {
    "hello": Hello,
    "pong": Pong,
    "status": StatusReport,
    "ids_captured": IdsCaptured,
    "page_source": PageSource,
}
