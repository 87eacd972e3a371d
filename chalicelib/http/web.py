"""HTTP plumbing shared by every route: the Version header, trace ids, JSON bodies and JSON errors."""

from __future__ import annotations

import functools
import json
import logging
import sys
import time
import uuid
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from chalice import Chalice, ChaliceUnhandledError, ChaliceViewError, Response
from chalice.app import Request

from chalicelib.core import db, handler_metrics
from chalicelib.core.errors import (
    BadRequest,
    PayloadTooLarge,
    ServiceError,
    ServiceUnavailable,
    ValidationFailed,
)
from chalicelib.http import errors, gateway_responses
from chalicelib.tokens.authorizer_cache import ApiStage

# What the platform's documents (2021-07-28, 2021-04-15) and its official SDK (2023-02-21, its default)
# send; the first is the one the documents give for the v2 routes served here.
API_VERSIONS = ("2021-07-28", "2021-04-15", "2023-02-21")
MAX_BODY_BYTES = 64 * 1024
MAX_BODY_DEPTH = 32  # nesting of objects and lists; no route needs more than a few levels
# Routes called without the platform's Version header: by a browser (the page), a health check, and
# GitHub's secret scanning (which sends none; its signature is its authentication).
VERSION_EXEMPT_PATHS = frozenset({"/health", "/", "/assets/{name}", "/secret-scanning/github"})

log = logging.getLogger("private_integrations")


def json_response(body: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        body=body,
        status_code=status_code,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def error_response(error: ServiceError) -> Response:
    return json_response(errors.body(error), errors.status(error), error.headers)


def unavailable(error: Exception) -> ServiceUnavailable:
    """What a caller is told when the database throttled us or could not be reached (after retries)."""
    retry = "Retry after the number of seconds in the Retry-After header."
    if isinstance(error, db.Unavailable):
        if not error.outcome_known:
            return ServiceUnavailable(
                "The database did not answer in time and the change may or may not have been saved: "
                "fetch the resource to see its state before retrying."
            )
        return ServiceUnavailable(f"The database is busy or unreachable: nothing was changed. {retry}")
    return ServiceUnavailable(f"The service is busy or its database is unreachable right now. {retry}")


def _header(request: Request, name: str) -> str | None:
    return request.headers.get(name.lower()) if request.headers else None


def check_version(request: Request) -> None:
    value = _header(request, "Version")
    if value not in API_VERSIONS:
        raise BadRequest(
            f"The Version header is {'missing' if value is None else 'not supported'}: "
            f"send 'Version: {API_VERSIONS[0]}' (or one of {', '.join(API_VERSIONS[1:])}) with every request."
        )


def _server_error(trace_id: str) -> Response:
    return json_response(gateway_responses.server_error(gateway_responses.Context(trace_id=trace_id)), 500)


def handle_http(request: Request, get_response: Callable[[Request], Response]) -> Response:
    """Chalice HTTP middleware: trace id, Version header, errors -> SPEC JSON, one log line per request."""
    context = request.context or {}
    # API Gateway's request id where there is one: the same id its own error responses carry.
    trace_id = str(context.get("requestId") or uuid.uuid4().hex)
    started = time.perf_counter()
    resource_path = context.get("resourcePath", "")
    response = _in_spec_shape(_answer(request, get_response, resource_path, trace_id), trace_id)
    response.headers["X-Trace-Id"] = trace_id
    # Bodies carry tokens (create, rotate) and tenant data: no browser, proxy or CDN may keep them.
    response.headers.setdefault("Cache-Control", "no-store")
    _record(request.method, resource_path, response.status_code, trace_id, time.perf_counter() - started)
    return response


def _answer(
    request: Request, get_response: Callable[[Request], Response], resource_path: str, trace_id: str
) -> Response:
    """The route's answer, or the error it raised as SPEC JSON (503 for an unavailable database)."""
    try:
        if resource_path not in VERSION_EXEMPT_PATHS and request.method != "OPTIONS":
            check_version(request)
        return get_response(request)
    except ServiceError as error:
        return error_response(error)
    except errors.Carried as carried:
        return error_response(carried.error)
    except Exception as raised:
        cause = raised.__cause__ if isinstance(raised, UnexpectedError) else raised
        if isinstance(cause, Exception) and db.is_unavailable(cause):
            log.warning("database unavailable trace_id=%s: %s", trace_id, type(cause).__name__)
            return error_response(unavailable(cause))
        # A bug or a dependency failure: log it with the trace id, never leak internals to the caller.
        log.exception("unhandled error trace_id=%s", trace_id)
        return _server_error(trace_id)


def _in_spec_shape(response: Response, trace_id: str) -> Response:
    """Chalice's own error answers ({"Code", "Message"}) rewritten in SPEC's error shape."""
    if not (isinstance(response.body, dict) and set(response.body) == {"Code", "Message"}):
        return response
    if response.status_code >= 500:
        # Chalice caught an exception itself (and logged it): the same 500 as ours, with the trace id.
        log.error("unhandled error trace_id=%s (traceback logged above by Chalice)", trace_id)
        return _server_error(trace_id)
    # Chalice's own errors (e.g. 415 for a content type a route does not accept).
    message = response.body["Message"]
    if response.status_code == 415:
        message += ". Send the body as JSON with the header 'Content-Type: application/json'."
    body = {
        "statusCode": response.status_code,
        "error": HTTPStatus(response.status_code).phrase,
        "message": message,
    }
    return json_response(body, response.status_code)


def _record(method: str, path: str, status: int, trace_id: str, seconds: float) -> None:
    """The request's metrics and its one JSON log line. Never headers or bodies: they carry tokens."""
    elapsed_ms = seconds * 1000
    handler_metrics.request(method, path, status, elapsed_ms)
    line = {"traceId": trace_id, "method": method, "path": path, "status": status, "ms": round(elapsed_ms, 1)}
    log.info(json.dumps(line))


def raise_unexpected_errors_to_middleware(app: Chalice) -> None:
    """Chalice turns an unexpected exception of a view into its own 500 before middleware sees it; wrap
    every registered view so that it reaches `handle_http` instead (503 for an unavailable database,
    SPEC's 500 with the trace id otherwise, and the exception logged once with that trace id).
    Call after every blueprint is registered."""
    for methods in app.routes.values():
        for entry in methods.values():
            entry.view_function = _reraising(entry.view_function)


class UnexpectedError(ChaliceUnhandledError):
    """Carries a view's unexpected exception past Chalice's own error handling to the middleware."""


def _reraising(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def call(**kwargs: Any) -> Any:
        try:
            return view(**kwargs)
        except ChaliceViewError:
            raise
        except ServiceError as error:
            raise errors.Carried(error) from error
        except Exception as error:
            raise UnexpectedError(str(error)) from error

    return call


def raw_body(request: Request, max_bytes: int = MAX_BODY_BYTES) -> bytes:
    """The body's bytes, or 413 beyond `max_bytes`."""
    raw_body = request.raw_body or b""
    raw = raw_body.encode("utf-8") if isinstance(raw_body, str) else raw_body
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"The request body must be at most {max_bytes} bytes.")
    return raw


def json_object_body(request: Request) -> dict[str, Any]:
    """The body as a JSON object, or a 400/413/422 that says what to fix (Chalice itself answers 415)."""
    body: dict[str, Any] = parse_json(raw_body(request), dict, "a JSON object")
    return body


def parse_json(raw: bytes, expected: type[dict[str, Any]] | type[list[Any]], what: str) -> Any:
    """`raw` as JSON of the `expected` type (`what` names it in the 400), no deeper than MAX_BODY_DEPTH
    (400) and with no lone surrogate (422)."""
    if not raw.strip():
        raise BadRequest(f"The request body must be {what}.")
    too_deep = BadRequest(f"The request body is nested deeper than {MAX_BODY_DEPTH} levels: flatten it.")
    try:
        body = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise too_deep from None
    except UnicodeDecodeError as error:
        raise BadRequest(
            f"The request body is not UTF-8 (byte {error.start}): send {what} in UTF-8."
        ) from None
    except json.JSONDecodeError as error:
        raise BadRequest(
            f"The request body is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}."
        ) from None
    except ValueError:  # Python's limit on integer digits (sys.get_int_max_str_digits)
        raise BadRequest(
            f"The request body holds a number longer than {sys.get_int_max_str_digits()} digits: no field "
            "takes such a number."
        ) from None
    if not isinstance(body, expected):
        raise BadRequest(f"The request body must be {what}.")
    problems = _text_problems(body, too_deep)
    if problems:
        raise ValidationFailed(problems)
    return body


def _text_problems(body: dict[str, Any] | list[Any], too_deep: BadRequest) -> list[str]:
    """Walks the body without recursion: 400 past MAX_BODY_DEPTH; a lone surrogate (JSON allows
    `"\\ud800"`, no store or encoder takes it) is a 422 naming the field that holds it."""
    problems: set[str] = set()
    stack: list[tuple[str, Any, int]] = [("", body, 0)]
    while stack:
        path, value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth >= MAX_BODY_DEPTH:
                raise too_deep
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                where = f"{path}[{key}]" if isinstance(value, list) else f"{path}.{key}" if path else str(key)
                stack.append((where, item, depth + 1))
        elif isinstance(value, str) and _has_surrogate(value):
            problems.add(f"{_printable(path)}: holds a lone surrogate (invalid Unicode): send valid text")
        if _has_surrogate(path) and path:
            problems.add(f"{_printable(path)}: a field name holds a lone surrogate: send valid Unicode")
    return sorted(problems)


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= char <= "\udfff" for char in text)


def _printable(text: str) -> str:
    """A field path that can be encoded (its surrogates as \\uXXXX escapes)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def api_stage(request: Request) -> ApiStage | None:
    """The API Gateway stage serving this request (deployed stages only): whose authorizer cache a
    revocation flushes besides the configured downstream APIs."""
    context = request.context or {}
    if context.get("apiId") and context.get("stage"):
        return str(context["apiId"]), str(context["stage"])
    return None


def query_params(request: Request) -> dict[str, str]:
    return dict(request.query_params or {})
