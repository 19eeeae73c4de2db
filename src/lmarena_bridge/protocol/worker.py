"""Messages between the bridge and a browser worker (docs/worker-protocol.md).

Protocol 1 is the seed-era protocol (no hello); protocol 2 adds hello, abort, heartbeats,
structured errors and status reports. Both share the job and data frames.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PROTOCOL_VERSION = 2


# ---- the tab's vocabulary ----------------------------------------------------------------


class Capability(StrEnum):
    """What a tab says it can do in its hello (the userscript's CAPABILITIES list)."""

    ABORT = "abort"
    HEARTBEAT = "heartbeat"
    STATUS = "status"
    STRUCTURED_ERRORS = "structured_errors"
    IDS_CAPTURED = "ids_captured"
    PAGE_SOURCE = "page_source"
    SITE_REQUEST = "site_request"  # runs site requests the bridge built (create strategy)
    CREATE = "create"
    RECAPTCHA_V3 = "recaptcha_v3"
    STOP = "stop"
    RECAPTCHA_V2 = "recaptcha_v2"
    FOCUS = "focus"
    MODELS = "models"
    UPLOAD = "upload"
    FETCH_IMAGE = "fetch_image"
    SITE_HEADERS = "site_headers"  # sends the site's rate-limit headers with every answer
    ACCOUNT = "account"  # names its signed-in account by an opaque key


CAPABILITIES: tuple[str, ...] = tuple(c.value for c in Capability)

# What a person must do in a tab that needs one (relay/health.py has the words for each).
HumanReason = Literal["recaptcha", "challenge", "logged_out", "wrong_origin"]
HUMAN_REASONS: tuple[HumanReason, ...] = get_args(HumanReason)
# A status report's state: ready, one of the older reasons by name, or needs_human + reason.
WorkerState = Literal["ready", "challenge", "logged_out", "wrong_origin", "needs_human"]
WORKER_STATES: tuple[WorkerState, ...] = get_args(WorkerState)
# A tab's raw state in the pool (relay/tab.py Worker.state): ready, or why a person is needed.
TabState = Literal["ready", "recaptcha", "challenge", "logged_out", "wrong_origin"]
TAB_STATES: tuple[TabState, ...] = get_args(TabState)
# A tab's health as routing, /health/ready, /metrics and /monitor show it (relay/health.py).
TabHealth = Literal["ready", "busy", "cooling_down", "needs_human", "disconnected"]
HEALTH_STATES: tuple[TabHealth, ...] = get_args(TabHealth)
# Why an account gets no new jobs for a while (relay/accounts.py).
CooldownReason = Literal["rate_limit", "quota", "flagged"]
COOLDOWN_REASONS: tuple[CooldownReason, ...] = get_args(CooldownReason)

# The response headers a tab reports with every site answer (a ``site_headers`` job frame),
# when the bridge asks for them in hello_ack: the site's limits and its clock
# (site/ratelimit.py reads them).
ANSWER_HEADERS: tuple[str, ...] = (
    "ratelimit",
    "ratelimit-policy",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "ratelimit-modality",
    "retry-after",
    "date",
)
# The response headers a tab reports with a failed site request: exactly those that
# site/failures.py reads. Sent in hello_ack, so the userscript and the bridge share one list.
ERROR_HEADERS: tuple[str, ...] = (*ANSWER_HEADERS, "location", "cf-mitigated")


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
    """Which v3 token the tab mints for each attempt, and how often it retries a rejection.

    ``v2_timeout_seconds``: after the v3 retries the tab shows the visible v2 check and
    waits this long for a person (docs/worker-protocol.md "Human checks"); None: no v2 step.
    """

    action: str
    v3_retries: int = 1
    v2_timeout_seconds: float | None = None


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


Command = Literal["refresh", "reconnect", "activate_id_capture", "send_page_source", "focus"]


class CommandFrame(BaseModel):
    """refresh | reconnect | activate_id_capture | send_page_source (seed-era commands);
    focus (protocol 2: bring the tab to the front if the browser allows it)."""

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
    recaptcha_v2_sitekey: str = ""
    # How long the visible v2 check waits for a person in jobs whose recaptcha spec does not
    # say (seed payloads, whose token step the tab builds itself).
    human_check_timeout_seconds: float = 90.0
    # Headers to send in a ``site_headers`` frame with every site answer (empty: none).
    answer_headers: list[str] = Field(default_factory=lambda: list(ANSWER_HEADERS))


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
    # The browser tab's own id, kept across its reloads (a new connection each time).
    tab: str = Field("", max_length=64)
    # An opaque, stable key of the signed-in account (a hash; never a cookie, token or
    # email); "" when the page does not say. Tabs of one key share budgets and cooldowns.
    account: str = Field("", max_length=128)


class Pong(_Frame):
    type: Literal["pong"]
    ts: float | None = None



def _spelled(v: Any) -> Any:
    # "logged-out" and "logged_out" both mean the same; accept either spelling.
    return v.replace("-", "_").lower() if isinstance(v, str) else v


class StatusReport(_Frame):
    """The page's state. ``challenge``, ``logged_out`` and ``wrong_origin`` (what tabs have
    always sent) mean ``needs_human`` with that reason; ``needs_human`` names its ``reason``."""

    type: Literal["status"]
    state: WorkerState
    page: str = ""
    detail: str = ""
    reason: HumanReason | None = None

    @field_validator("state", "reason", mode="before")
    @classmethod
    def _spelling(cls, v: Any) -> Any:
        return _spelled(v)

    @model_validator(mode="after")
    def _reason_named(self) -> StatusReport:
        if self.state == "needs_human" and self.reason is None:
            raise ValueError("a needs_human status must name its reason")
        return self

    @property
    def tab_state(self) -> TabState:
        """The pool's state for this report: ``ready`` or the reason a person is needed."""
        state = self.state
        if state == "needs_human":
            assert self.reason is not None
            return self.reason
        return state


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


class NeedsHumanFrame(_Frame):
    """Protocol 2, job level: the job waits for a person in its tab (the v2 check is shown)."""

    request_id: str
    type: Literal["needs_human"]
    reason: HumanReason = "recaptcha"
    detail: str = ""

    @field_validator("reason", mode="before")
    @classmethod
    def _spelling(cls, v: Any) -> Any:
        return _spelled(v)


class HumanSolvedFrame(_Frame):
    """Protocol 2, job level: the person solved the check; the job's request goes out again."""

    request_id: str
    type: Literal["human_solved"]
    reason: HumanReason = "recaptcha"


class SiteHeadersFrame(_Frame):
    """Protocol 2, job level: the site answered (any status); the ``answer_headers`` it
    carried, lower-case names. Sent before the answer's body or error frame."""

    request_id: str
    type: Literal["site_headers"]
    status: int | None = None
    headers: dict[str, str] = Field(default_factory=dict)


# Job-level frames that carry a ``type`` (besides data and error frames).
JOB_EVENTS: dict[str, type[BaseModel]] = {
    "needs_human": NeedsHumanFrame,
    "human_solved": HumanSolvedFrame,
    "site_headers": SiteHeadersFrame,
}


class SiteClockReport(_Frame):
    """Protocol 2: the ``date`` header of a same-origin request the tab made on connecting,
    so that ids are minted on the site's clock from the first request on."""

    type: Literal["site_clock"]
    date: str = Field("", max_length=100)


class IdsCaptured(_Frame):
    type: Literal["ids_captured"]
    session_id: str
    message_id: str


class PageSource(_Frame):
    type: Literal["page_source"]
    html: str


# ---- non-stream jobs: one ``result`` frame answers each (relay/calls.py) ------------------


class UploadPayload(BaseModel):
    """Upload a file with the page's own server actions; answered by an ``UploadResult``."""

    type: Literal["upload"] = "upload"
    name: str
    content_type: str
    data_b64: str


class ModelsPayload(BaseModel):
    """Read the site's model catalog in the page; answered by a ``ModelsResult``."""

    type: Literal["models"] = "models"


class FetchImagePayload(BaseModel):
    """Fetch an image from the page (the site's cookies for its own URLs); answered by a
    ``FetchImageResult``. The tab refuses bodies larger than ``max_bytes``."""

    type: Literal["fetch_image"] = "fetch_image"
    url: str
    max_bytes: int


class ResultFrame(_Frame):
    """Worker -> bridge, terminal: the answer of a non-stream job."""

    request_id: str
    result: dict[str, Any]


class UploadResult(BaseModel):
    """An ``experimental_attachments`` entry: the store's key, the type, a signed URL."""

    name: str
    contentType: str
    url: str


class ModelsResult(_Frame):
    """``catalog`` from ``/nextjs-api/model-catalog``, or the page's ``html`` when the
    catalog could not be read (``catalog_error`` says why)."""

    source: Literal["catalog", "page"]
    catalog: list[Any] | None = None
    html: str | None = None
    catalog_error: str | None = None


class FetchImageResult(BaseModel):
    content_type: str = ""
    data_b64: str


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
    "site_clock": SiteClockReport,
}
