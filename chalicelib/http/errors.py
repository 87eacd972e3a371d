"""Every domain error as the answer SPEC gives it: `{"statusCode", "error", "message"}` (plus the
error's own fields and headers). The one place that maps the domain's kinds of error to status codes."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from chalice import ChaliceUnhandledError

from chalicelib.core import errors

# Most specific first: a capability's own error (v2's DuplicateContact is a BadRequest) finds its kind.
STATUS: dict[type[errors.ServiceError], int] = {
    errors.BadRequest: 400,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PayloadTooLarge: 413,
    errors.ValidationFailed: 422,
    errors.TooManyRequests: 429,
    errors.ServiceUnavailable: 503,
}


def status(error: errors.ServiceError) -> int:
    return next((STATUS[kind] for kind in type(error).__mro__ if kind in STATUS), 500)


def body(error: errors.ServiceError) -> dict[str, Any]:
    code = status(error)
    return {"statusCode": code, "error": HTTPStatus(code).phrase, "message": error.message, **error.extra}


class Carried(ChaliceUnhandledError):
    """Carries a domain error raised in a view past Chalice's own error handling to the middleware."""

    def __init__(self, error: errors.ServiceError) -> None:
        super().__init__(str(error))
        self.error = error
