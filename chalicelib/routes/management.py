"""Management API (SPEC "Management API"): agency staff with a session token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice import Blueprint, Response

from chalicelib import agency_settings, audit, catalog, emergency, integrations, lifecycle, sessions, web
from chalicelib.directory import Owner
from chalicelib.models import UserModel

bp = Blueprint(__name__)


def _caller() -> UserModel:
    return sessions.authenticate(bp.current_request.headers.get("authorization"))


def _body() -> dict[str, Any]:
    return web.json_object_body(bp.current_request)


def _page() -> tuple[int, str | None]:
    return audit.page_params(web.query_params(bp.current_request))


@bp.route("/health", methods=["GET"])
def health() -> dict[str, str]:
    return {"status": "ok"}


@bp.route("/me", methods=["GET"])
def me() -> dict[str, Any]:
    return agency_settings.me_view(_caller())


@bp.route("/scopes", methods=["GET"])
def scopes() -> dict[str, Any]:
    _caller()
    return catalog.scopes_view()


# --- integrations per owner ----------------------------------------------------------------------


def _owner_integrations(resolve: Callable[[UserModel, str], Owner], owner_id: str) -> Any:
    """List (GET) or create (POST) the integrations of the owner that `resolve` checks access to."""
    user = _caller()
    owner = resolve(user, owner_id)
    if bp.current_request.method == "POST":
        view, plaintext = integrations.create(user, owner, _body())
        return web.json_response({"privateIntegration": view, "token": plaintext}, 201)
    return {"privateIntegrations": integrations.list_for(owner)}


@bp.route("/agencies/{agency_id}/private-integrations", methods=["GET", "POST"])
def agency_integrations(agency_id: str) -> Any:
    return _owner_integrations(integrations.agency_owner, agency_id)


@bp.route("/locations/{location_id}/private-integrations", methods=["GET", "POST"])
def location_integrations(location_id: str) -> Any:
    return _owner_integrations(integrations.location_owner, location_id)


@bp.route("/agencies/{agency_id}/private-integrations/revoke-all", methods=["POST"])
def revoke_all(agency_id: str) -> dict[str, Any]:
    """Emergency: every token of the agency and its sub-accounts stops working (README "Runbook")."""
    user = _caller()
    emergency.require_admin(user, agency_id)
    return emergency.revoke_all(user.id, agency_id, emergency.parse_body(_body()))


@bp.route("/agencies/{agency_id}/private-integrations/events", methods=["GET"])
def agency_events(agency_id: str) -> dict[str, Any]:
    return audit.list_for_owner(integrations.agency_owner(_caller(), agency_id), *_page())


@bp.route("/locations/{location_id}/private-integrations/events", methods=["GET"])
def location_events(location_id: str) -> dict[str, Any]:
    return audit.list_for_owner(integrations.location_owner(_caller(), location_id), *_page())


# --- one integration -----------------------------------------------------------------------------


@bp.route("/private-integrations/{integration_id}", methods=["GET", "PATCH", "DELETE"])
def integration(integration_id: str) -> Any:
    user = _caller()
    target = integrations.access(user, integration_id)
    method = bp.current_request.method
    if method == "PATCH":
        return {"privateIntegration": integrations.update(user, target, _body())}
    if method == "DELETE":
        integrations.delete(user, target)
        return Response(body="", status_code=204)
    return {"privateIntegration": integrations.views([target.integration])[0]}


@bp.route("/private-integrations/{integration_id}/rotate", methods=["POST"])
def rotate(integration_id: str) -> dict[str, Any]:
    user = _caller()
    target = integrations.access(user, integration_id)
    return lifecycle.rotate(user, target, lifecycle.parse_rotate_body(_body()))


@bp.route("/private-integrations/{integration_id}/rotation/cancel", methods=["POST"])
def cancel_rotation(integration_id: str) -> dict[str, Any]:
    user = _caller()
    return lifecycle.cancel(user, integrations.access(user, integration_id))


@bp.route("/private-integrations/{integration_id}/rotation/expire-now", methods=["POST"])
def expire_now(integration_id: str) -> dict[str, Any]:
    user = _caller()
    return lifecycle.expire_now(user, integrations.access(user, integration_id))


@bp.route("/private-integrations/{integration_id}/events", methods=["GET"])
def integration_events(integration_id: str) -> dict[str, Any]:
    integrations.feed_owner(_caller(), integration_id)
    return audit.list_for_integration(integration_id, *_page())


# --- permission flags and Labs -------------------------------------------------------------------


@bp.route("/agencies/{agency_id}/users/{user_id}/permissions", methods=["GET", "PUT"])
def user_permissions(agency_id: str, user_id: str) -> dict[str, Any]:
    caller = _caller()
    if bp.current_request.method == "PUT":
        return agency_settings.put_permissions(caller, agency_id, user_id, _body())
    return agency_settings.get_permissions(caller, agency_id, user_id)


@bp.route("/agencies/{agency_id}/labs", methods=["GET", "PUT"])
def labs(agency_id: str) -> dict[str, Any]:
    caller = _caller()
    if bp.current_request.method == "PUT":
        return agency_settings.put_labs(caller, agency_id, _body())
    return agency_settings.get_labs(caller, agency_id)
