"""v2 routes (SPEC "v2 API and the authorizer"): called by third-party apps with an integration token.

One function per route and method. Every route counts its request against the platform's rate limits
first (integrations/rate_limits.py): a refused request is a 429 and is not served; every answer, errors
included, carries the limits' headers.

Literal routes (/contacts/search, /contacts/upsert, /contacts/search/duplicate) sit beside
/contacts/{contact_id}: API Gateway and chalice local both prefer a literal segment to a parameter.
API Gateway and chalice local drop a trailing slash: /contacts also serves /contacts/.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from chalice import Blueprint, Response
from chalice.app import ChaliceAuthorizer

from chalicelib.core.errors import ServiceError
from chalicelib.http import web
from chalicelib.integrations import rate_limits
from chalicelib.tokens.context import TokenContext
from chalicelib.v2 import contacts, locations

bp = Blueprint(__name__)


def _token() -> TokenContext:
    return TokenContext.decode(bp.current_request.context or {})


def _body() -> dict[str, Any]:
    return web.json_object_body(bp.current_request)


def _query() -> dict[str, str]:
    return web.query_params(bp.current_request)


def get_location(location_id: str) -> dict[str, Any]:
    return locations.get_location(_token(), location_id)


def update_location(location_id: str) -> dict[str, Any]:
    return locations.update_location(_token(), location_id, _body())


def list_contacts() -> dict[str, Any]:
    return contacts.list_contacts(_token(), _query())


def create_contact() -> Response:
    return web.json_response(contacts.create_contact(_token(), _body()), 201)


def search_contacts() -> dict[str, Any]:
    return contacts.search_contacts(_token(), _body())


def find_duplicate_contact() -> dict[str, Any]:
    return contacts.find_duplicate(_token(), _query())


def upsert_contact() -> dict[str, Any]:
    return contacts.upsert_contact(_token(), _body())


def get_contact(contact_id: str) -> dict[str, Any]:
    return contacts.get_contact(_token(), contact_id)


def update_contact(contact_id: str) -> dict[str, Any]:
    return contacts.update_contact(_token(), contact_id, _body())


def delete_contact(contact_id: str) -> dict[str, Any]:
    return contacts.delete_contact(_token(), contact_id)


# (path, method, view): the route table, as the platform's documents list them.
ROUTES: tuple[tuple[str, str, Callable[..., Any]], ...] = (
    ("/locations/{location_id}", "GET", get_location),
    ("/locations/{location_id}", "PUT", update_location),
    ("/contacts", "GET", list_contacts),
    ("/contacts", "POST", create_contact),
    ("/contacts/search", "POST", search_contacts),
    ("/contacts/search/duplicate", "GET", find_duplicate_contact),
    ("/contacts/upsert", "POST", upsert_contact),
    ("/contacts/{contact_id}", "GET", get_contact),
    ("/contacts/{contact_id}", "PUT", update_contact),
    ("/contacts/{contact_id}", "DELETE", delete_contact),
)


def _limited(view: Callable[..., Any]) -> Callable[..., Response]:
    """Counted before it is served (the location a route names is the one counted); the answer, also an
    error, carries the rate-limit headers."""

    @functools.wraps(view)
    def counted(**params: str) -> Response:
        decision = rate_limits.check(_token(), params.get("location_id"))
        try:
            answer = view(**params)
        except ServiceError as error:
            error.headers = {**error.headers, **decision.headers()}
            raise
        response = answer if isinstance(answer, Response) else web.json_response(answer)
        response.headers.update(decision.headers())
        return response

    return counted


def blueprint(token_authorizer: ChaliceAuthorizer) -> Blueprint:
    """The v2 routes behind the token authorizer (defined in app.py, where Chalice registers it)."""
    for path, method, view in ROUTES:
        bp.route(path, methods=[method], authorizer=token_authorizer)(_limited(view))
    return bp
