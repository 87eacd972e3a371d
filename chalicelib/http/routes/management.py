"""Management API (SPEC "Management API"): agency staff with a session token.

One handler per route and method; each checks the session, calls one domain function and puts its
result in the response's envelope (`privateIntegration`, `privateIntegrations`, `token`).
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.audit import trail as audit
from chalicelib.directory import flags, sessions
from chalicelib.directory.models import UserModel
from chalicelib.http import web
from chalicelib.integrations import access, emergency, lifecycle, rate_limits, service, views
from chalicelib.tokens import catalog
from chalicelib.tokens.authorizer_cache import ApiStage
from chalicelib.usage import report as usage

bp = Blueprint(__name__)


def _caller() -> UserModel:
    return sessions.authenticate(bp.current_request.headers.get("authorization"))


def _body() -> dict[str, Any]:
    return web.json_object_body(bp.current_request)


def _page() -> tuple[int, str | None]:
    return audit.page_params(web.query_params(bp.current_request))


def _own_api() -> ApiStage | None:
    return web.api_stage(bp.current_request)


def _one(view: dict[str, Any]) -> dict[str, Any]:
    return {"privateIntegration": view}


def _with_token(view: dict[str, Any], plaintext: str, status_code: int = 200) -> Response:
    """An integration and its new token, shown this once."""
    return web.json_response({"privateIntegration": view, "token": plaintext}, status_code)


@bp.route("/health", methods=["GET"])
def health() -> dict[str, str]:
    return {"status": "ok"}


@bp.route("/me", methods=["GET"])
def me() -> dict[str, Any]:
    return flags.me_view(_caller())


@bp.route("/scopes", methods=["GET"])
def scopes() -> dict[str, Any]:
    _caller()
    return catalog.scopes_view()


# --- integrations per owner ----------------------------------------------------------------------


@bp.route("/agencies/{agency_id}/private-integrations", methods=["GET"])
def list_agency_integrations(agency_id: str) -> dict[str, Any]:
    owner = access.agency_owner(_caller(), agency_id)
    return {"privateIntegrations": views.list_for(owner), "dailyUsage": rate_limits.daily_usage(owner)}


@bp.route("/agencies/{agency_id}/private-integrations", methods=["POST"])
def create_agency_integration(agency_id: str) -> Response:
    user = _caller()
    owner = access.agency_owner(user, agency_id)
    return _with_token(*service.create(user, owner, _body()), status_code=201)


@bp.route("/locations/{location_id}/private-integrations", methods=["GET"])
def list_location_integrations(location_id: str) -> dict[str, Any]:
    owner = access.location_owner(_caller(), location_id)
    return {"privateIntegrations": views.list_for(owner), "dailyUsage": rate_limits.daily_usage(owner)}


@bp.route("/locations/{location_id}/private-integrations", methods=["POST"])
def create_location_integration(location_id: str) -> Response:
    user = _caller()
    owner = access.location_owner(user, location_id)
    return _with_token(*service.create(user, owner, _body()), status_code=201)


@bp.route("/agencies/{agency_id}/private-integrations/revoke-all", methods=["POST"])
def revoke_all(agency_id: str) -> dict[str, Any]:
    """Emergency: every token of the agency and its sub-accounts stops working (docs/operations.md)."""
    user = _caller()
    emergency.require_admin(user, agency_id)
    return emergency.revoke_all(user.id, agency_id, emergency.parse_body(_body()), own_api=_own_api())


@bp.route("/agencies/{agency_id}/private-integrations/events", methods=["GET"])
def agency_events(agency_id: str) -> dict[str, Any]:
    return audit.list_for_owner(access.agency_owner(_caller(), agency_id), *_page())


@bp.route("/locations/{location_id}/private-integrations/events", methods=["GET"])
def location_events(location_id: str) -> dict[str, Any]:
    return audit.list_for_owner(access.location_owner(_caller(), location_id), *_page())


# --- one integration -----------------------------------------------------------------------------


@bp.route("/private-integrations/{integration_id}", methods=["GET"])
def get_integration(integration_id: str) -> dict[str, Any]:
    target = access.manageable(_caller(), integration_id)
    return _one(views.views([target.integration])[0])


@bp.route("/private-integrations/{integration_id}", methods=["PATCH"])
def edit_integration(integration_id: str) -> dict[str, Any]:
    user = _caller()
    target = access.manageable(user, integration_id)
    return _one(service.update(user, target, _body(), own_api=_own_api()))


@bp.route("/private-integrations/{integration_id}", methods=["DELETE"])
def delete_integration(integration_id: str) -> Response:
    user = _caller()
    service.delete(user, access.manageable(user, integration_id), own_api=_own_api())
    return Response(body="", status_code=204)


@bp.route("/private-integrations/{integration_id}/rotate", methods=["POST"])
def rotate(integration_id: str) -> Response:
    user = _caller()
    target = access.manageable(user, integration_id)
    expire, expires_at = lifecycle.parse_rotate_body(_body())
    return _with_token(*lifecycle.rotate(user, target, expire, expires_at=expires_at, own_api=_own_api()))


@bp.route("/private-integrations/{integration_id}/rotation/cancel", methods=["POST"])
def cancel_rotation(integration_id: str) -> dict[str, Any]:
    user = _caller()
    return _one(lifecycle.cancel(user, access.manageable(user, integration_id), own_api=_own_api()))


@bp.route("/private-integrations/{integration_id}/rotation/expire-now", methods=["POST"])
def expire_now(integration_id: str) -> dict[str, Any]:
    user = _caller()
    return _one(lifecycle.expire_now(user, access.manageable(user, integration_id), own_api=_own_api()))


@bp.route("/private-integrations/{integration_id}/events", methods=["GET"])
def integration_events(integration_id: str) -> dict[str, Any]:
    access.feed_owner(_caller(), integration_id)
    return audit.list_for_integration(integration_id, *_page())


@bp.route("/private-integrations/{integration_id}/usage", methods=["GET"])
def integration_usage(integration_id: str) -> dict[str, Any]:
    """Requests per hour or day by token (current, rotating out) and outcome, the last use, and the
    addresses seen in the last 7 days with whether the integration's current allowlist admits each."""
    target = access.manageable(_caller(), integration_id)
    days = usage.parse_days(web.query_params(bp.current_request))
    allowed_ips = [str(entry) for entry in target.integration.allowed_ips or []]
    return usage.report(target.integration.id, days, allowed_ips)


# --- permission flags and Labs -------------------------------------------------------------------


@bp.route("/agencies/{agency_id}/users/{user_id}/permissions", methods=["GET"])
def get_user_permissions(agency_id: str, user_id: str) -> dict[str, Any]:
    return flags.get_permissions(_caller(), agency_id, user_id)


@bp.route("/agencies/{agency_id}/users/{user_id}/permissions", methods=["PUT"])
def put_user_permissions(agency_id: str, user_id: str) -> dict[str, Any]:
    return flags.put_permissions(_caller(), agency_id, user_id, _body())


@bp.route("/agencies/{agency_id}/labs", methods=["GET"])
def get_labs(agency_id: str) -> dict[str, Any]:
    return flags.get_labs(_caller(), agency_id)


@bp.route("/agencies/{agency_id}/labs", methods=["PUT"])
def put_labs(agency_id: str) -> dict[str, Any]:
    return flags.put_labs(_caller(), agency_id, _body())
