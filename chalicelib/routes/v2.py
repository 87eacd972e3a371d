"""v2 routes (SPEC "v2 API and the authorizer"): called by third-party apps with an integration token."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response
from chalice.app import ChaliceAuthorizer

from chalicelib import v2, web


def blueprint(token_authorizer: ChaliceAuthorizer) -> Blueprint:
    bp = Blueprint(__name__)

    def token() -> v2.TokenContext:
        return v2.TokenContext.from_request_context(bp.current_request.context or {})

    @bp.route("/locations/{location_id}", methods=["GET", "PUT"], authorizer=token_authorizer)
    def location(location_id: str) -> dict[str, Any]:
        if bp.current_request.method == "PUT":
            return v2.update_location(token(), location_id, web.json_object_body(bp.current_request))
        return v2.get_location(token(), location_id)

    # API Gateway and chalice local drop the trailing slash: this also serves /contacts/.
    @bp.route("/contacts", methods=["GET", "POST"], authorizer=token_authorizer)
    def contacts() -> Any:
        if bp.current_request.method == "POST":
            body = web.json_object_body(bp.current_request)
            return web.json_response(v2.create_contact(token(), body), 201)
        return v2.list_contacts(token(), web.query_params(bp.current_request))

    @bp.route("/contacts/{contact_id}", methods=["GET", "PUT", "DELETE"], authorizer=token_authorizer)
    def contact(contact_id: str) -> dict[str, Any] | Response:
        method = bp.current_request.method
        if method == "PUT":
            return v2.update_contact(token(), contact_id, web.json_object_body(bp.current_request))
        if method == "DELETE":
            return v2.delete_contact(token(), contact_id)
        return v2.get_contact(token(), contact_id)

    return bp
