"""One error hierarchy for everything a client can be told; rendered as OpenAI's envelope."""

from __future__ import annotations

from typing import Any


class BridgeError(Exception):
    """An error with an HTTP status and OpenAI error fields.

    ``retry_after`` (seconds) becomes a ``Retry-After`` header on plain responses.
    """

    status: int = 500
    type: str = "server_error"
    code: str | None = "bridge_error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if type is not None:
            self.type = type
        if code is not None:
            self.code = code
        self.param = param
        self.retry_after = retry_after

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(max(1, round(self.retry_after)))}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.code!r}, {self.message!r})"


class InvalidRequest(BridgeError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"


class AuthenticationFailed(BridgeError):
    status = 401
    type = "invalid_request_error"
    code = "invalid_api_key"


class Forbidden(BridgeError):
    """A browser page (Origin) or host name (Host) the bridge does not serve."""

    status = 403
    type = "invalid_request_error"
    code = "forbidden"


class PayloadTooLarge(BridgeError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class UnsupportedMediaType(BridgeError):
    status = 415
    type = "invalid_request_error"
    code = "unsupported_media_type"


class ModelNotFound(BridgeError):
    status = 404
    type = "invalid_request_error"
    code = "model_not_found"


class NotConfigured(BridgeError):
    """The bridge lacks something the user must set up (e.g. captured session ids)."""

    status = 400
    type = "invalid_request_error"
    code = "bridge_not_configured"


class NoWorkerAvailable(BridgeError):
    status = 503
    type = "server_error"
    code = "no_worker_available"


class WorkerDisconnected(BridgeError):
    status = 502
    type = "server_error"
    code = "worker_disconnected"


class Timeout(BridgeError):
    status = 504
    type = "server_error"
    code = "timeout"


class SiteError(BridgeError):
    """The site answered with an error (mapped to a fitting status by site.errors)."""

    status = 502
    type = "server_error"
    code = "site_error"

    def __init__(
        self, message: str, *, kind: str = "other", site_status: int | None = None, **kw: Any
    ) -> None:
        super().__init__(message, **kw)
        #: one of: challenge, rate_limit, content_policy, too_large, session, logged_out,
        #: wrong_origin, upload, other
        self.kind = kind
        #: the site's own HTTP status, when it answered one
        self.site_status = site_status
