"""v2 routes (SPEC "v2 API and the authorizer"): called by third-party apps with an integration token.

Every route counts its request against the platform's rate limits first (integrations/rate_limits.py):
a refused request is a 429 and is not served; every answer, errors included, carries the limits' headers.

Literal routes (/contacts/search, /contacts/upsert, /contacts/search/duplicate) sit beside
/contacts/{contact_id}: API Gateway and chalice local both prefer a literal segment to a parameter.
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


def blueprint(token_authorizer: ChaliceAuthorizer) -> Blueprint:
    bp = Blueprint(__name__)

    def token() -> TokenContext:
        return TokenContext.decode(bp.current_request.context or {})

    def body() -> dict[str, Any]:
        return web.json_object_body(bp.current_request)

    def limited(view: Callable[..., Any]) -> Callable[..., Response]:
        """Counted before it is served (the location a route names is the one counted); the answer, also
        an error, carries the rate-limit headers."""

        @functools.wraps(view)
        def counted(**params: str) -> Response:
            decision = rate_limits.check(token(), params.get("location_id"))
            try:
                answer = view(**params)
            except ServiceError as error:
                error.headers = {**error.headers, **decision.headers()}
                raise
            response = answer if isinstance(answer, Response) else web.json_response(answer)
            response.headers.update(decision.headers())
            return response

        return counted

    @bp.route("/locations/{location_id}", methods=["GET", "PUT"], authorizer=token_authorizer)
    @limited
    def location(location_id: str) -> dict[str, Any]:
        if bp.current_request.method == "PUT":
            return locations.update_location(token(), location_id, body())
        return locations.get_location(token(), location_id)

    # API Gateway and chalice local drop the trailing slash: this also serves /contacts/.
    @bp.route("/contacts", methods=["GET", "POST"], authorizer=token_authorizer)
    @limited
    def contact_list() -> Any:
        if bp.current_request.method == "POST":
            return web.json_response(contacts.create_contact(token(), body()), 201)
        return contacts.list_contacts(token(), web.query_params(bp.current_request))

    @bp.route("/contacts/search", methods=["POST"], authorizer=token_authorizer)
    @limited
    def contact_search() -> dict[str, Any]:
        return contacts.search_contacts(token(), body())

    @bp.route("/contacts/search/duplicate", methods=["GET"], authorizer=token_authorizer)
    @limited
    def contact_duplicate() -> dict[str, Any]:
        return contacts.find_duplicate(token(), web.query_params(bp.current_request))

    @bp.route("/contacts/upsert", methods=["POST"], authorizer=token_authorizer)
    @limited
    def contact_upsert() -> dict[str, Any]:
        return contacts.upsert_contact(token(), body())

    @bp.route("/contacts/{contact_id}", methods=["GET", "PUT", "DELETE"], authorizer=token_authorizer)
    @limited
    def contact(contact_id: str) -> Any:
        method = bp.current_request.method
        if method == "PUT":
            return contacts.update_contact(token(), contact_id, body())
        if method == "DELETE":
            return contacts.delete_contact(token(), contact_id)
        return contacts.get_contact(token(), contact_id)

    return bp
