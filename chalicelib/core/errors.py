"""Error types. Each one becomes SPEC's JSON error: {"statusCode", "error", "message"}.

They subclass ChaliceUnhandledError so that Chalice lets them reach our middleware, which renders them.
Nothing below the routes builds HTTP responses itself.
"""

from __future__ import annotations

from typing import Any

from chalice import ChaliceUnhandledError


class ApiError(ChaliceUnhandledError):
    status_code = 500
    error = "Internal Server Error"

    def __init__(self, message: str | list[str], extra: dict[str, Any] | None = None) -> None:
        super().__init__(message if isinstance(message, str) else "; ".join(message))
        self.message = message
        self.extra = extra or {}

    # Extra response headers (e.g. Retry-After).
    headers: dict[str, str] = {}  # noqa: RUF012 - never mutated, replaced per instance

    def body(self) -> dict[str, Any]:
        return {"statusCode": self.status_code, "error": self.error, "message": self.message, **self.extra}


class BadRequest(ApiError):
    status_code = 400
    error = "Bad Request"


class Unauthorized(ApiError):
    status_code = 401
    error = "Unauthorized"


class Forbidden(ApiError):
    status_code = 403
    error = "Forbidden"


class NotFound(ApiError):
    status_code = 404
    error = "Not Found"


class Conflict(ApiError):
    status_code = 409
    error = "Conflict"


class PayloadTooLarge(ApiError):
    status_code = 413
    error = "Payload Too Large"


class ServiceUnavailable(ApiError):
    """503: the database is busy or unreachable. Safe to retry after `Retry-After` seconds."""

    status_code = 503
    error = "Service Unavailable"
    RETRY_AFTER_SECONDS = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": str(self.RETRY_AFTER_SECONDS)}


class TooManyRequests(ApiError):
    """429: a rate limit refused the request (not served); `headers` say when to retry."""

    status_code = 429
    error = "Too Many Requests"

    def __init__(self, message: str, extra: dict[str, Any], headers: dict[str, str]) -> None:
        super().__init__(message, extra)
        self.headers = headers


class ValidationFailed(ApiError):
    """422: `message` is a list with one entry per problem."""

    status_code = 422
    error = "Unprocessable Entity"

    def __init__(self, problems: list[str]) -> None:
        super().__init__(list(problems))


LABS_OFF_MESSAGE = (
    "Private Integrations is not enabled for this agency. An agency admin can enable it in Settings > Labs."
)
