"""What went wrong, as the domain says it: each kind of error a capability raises. The http layer alone
turns them into answers (chalicelib/http/errors.py: the status of each kind, SPEC's JSON); nothing
here knows HTTP, and nothing below the routes builds a response.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """`message`: what to fix (a list: one entry per problem); `extra`: more fields for the caller;
    `headers`: what the answer must carry besides (Retry-After, the platform's rate-limit headers)."""

    def __init__(self, message: str | list[str], extra: dict[str, Any] | None = None) -> None:
        super().__init__(message if isinstance(message, str) else "; ".join(message))
        self.message = message
        self.extra = extra or {}
        self.headers: dict[str, str] = {}


class BadRequest(ServiceError):
    """The request itself is malformed (a header, a body that is no JSON object)."""


class Unauthorized(ServiceError):
    """No credential, or one that does not authenticate."""


class Forbidden(ServiceError):
    """Authenticated, but not allowed to do this."""


class NotFound(ServiceError):
    """Does not exist, or not for this caller (the same answer across tenants)."""


class Conflict(ServiceError):
    """The state changed meanwhile or does not allow it now (a lost race, a pending rotation, a limit)."""


class PayloadTooLarge(ServiceError):
    """The request is bigger than the route takes."""


class ServiceUnavailable(ServiceError):
    """The database is busy or unreachable. Safe to retry after RETRY_AFTER_SECONDS."""

    RETRY_AFTER_SECONDS = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": str(self.RETRY_AFTER_SECONDS)}


class TooManyRequests(ServiceError):
    """A rate limit refused the request (not served); `headers` say when to retry."""


    def __init__(self, message: str, extra: dict[str, Any], headers: dict[str, str]) -> None:
        super().__init__(message, extra)
        self.headers = headers


class ValidationFailed(ServiceError):
    """The request's values break the contract: `message` is a list with one entry per problem."""


    def __init__(self, problems: list[str]) -> None:
        super().__init__(list(problems))


LABS_OFF_MESSAGE = (
    "Private Integrations is not enabled for this agency. An agency admin can enable it in Settings > Labs."
)
