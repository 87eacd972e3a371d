"""Per-user permission flags and the agency's Labs switch: read by the agency, changed by its admins."""

from __future__ import annotations

from typing import Any

from pynamodb.expressions.update import Action

from chalicelib.audit import trail as audit
from chalicelib.core import clock, config, db
from chalicelib.core.errors import Forbidden, NotFound, ValidationFailed
from chalicelib.core.vocabulary import Owner, OwnerType, UserType
from chalicelib.directory import accounts as directory
from chalicelib.directory import permissions
from chalicelib.directory.accounts import effective_flags, is_agency_admin
from chalicelib.directory.models import AgencyModel, UserModel


def me_view(user: UserModel) -> dict[str, Any]:
    agency = directory.get_agency(user.agency_id)
    locations = directory.visible_locations(user)
    return {
        "user": directory.user_view(user),
        "agency": {"id": agency.id, "name": agency.name},
        "locations": locations,
        "permissions": {"privateIntegrations": effective_flags(user).as_json()},
        "labs": {"privateIntegrations": bool(agency.labs_private_integrations)},
        "canManage": _manageable(user, agency, locations),
        "rotation": {"overlapSeconds": config.settings.rotation_overlap_seconds},
        # A client counts a rotation's time left from this, not from its own clock.
        "serverTime": clock.iso(clock.now()),
    }


def _manageable(
    user: UserModel, agency: AgencyModel, locations: list[dict[str, str]]
) -> list[dict[str, str]]:
    """The owners whose integrations the caller may list and change: what a page may offer."""
    if not agency.labs_private_integrations:
        return []
    candidates = [Owner(OwnerType.AGENCY, agency.id, agency.id)] if user.type == UserType.AGENCY else []
    candidates += [Owner(OwnerType.LOCATION, loc["id"], agency.id) for loc in locations]
    names = {
        OwnerType.AGENCY: {agency.id: agency.name},
        OwnerType.LOCATION: {loc["id"]: loc["name"] for loc in locations},
    }
    return [
        {"type": owner.type, "id": owner.id, "name": names[owner.type][owner.id]}
        for owner in candidates
        if permissions.can_manage(user, owner)
    ]


def _agency_user(caller: UserModel, agency_id: str, user_id: str) -> UserModel:
    missing = f"User '{user_id}' was not found in agency '{agency_id}'."
    permissions.require_same_agency(caller, agency_id, f"Agency '{agency_id}' was not found.")
    user = directory.find_user(user_id)
    if user is None or user.agency_id != agency_id:
        raise NotFound(missing)
    return user


def _permissions_view(user: UserModel) -> dict[str, Any]:
    return {"userId": user.id, "privateIntegrations": effective_flags(user).as_json()}


def get_permissions(caller: UserModel, agency_id: str, user_id: str) -> dict[str, Any]:
    user = _agency_user(caller, agency_id, user_id)
    if caller.id != user.id and not is_agency_admin(caller):
        raise Forbidden("Only agency admins can view other users' permissions.")
    return _permissions_view(user)


def _expect_only(body: dict[str, Any], allowed: set[str], where: str) -> list[str]:
    return [
        f"'{key}' is not allowed in {where} (allowed: {', '.join(sorted(allowed))})"
        for key in body
        if key not in allowed
    ]


def put_permissions(caller: UserModel, agency_id: str, user_id: str, body: dict[str, Any]) -> dict[str, Any]:
    permissions.require_agency_admin(caller, agency_id)
    user = _agency_user(caller, agency_id, user_id)
    problems = _expect_only(body, {"privateIntegrations"}, "the body")
    flags = body.get("privateIntegrations")
    if not isinstance(flags, dict) or not flags:
        problems.append(
            "privateIntegrations is required: an object with 'agency' and/or 'subAccount' booleans"
        )
        flags = {}
    problems += _expect_only(flags, {"agency", "subAccount"}, "privateIntegrations")
    for key in ("agency", "subAccount"):
        if key in flags and not isinstance(flags[key], bool):
            problems.append(f"privateIntegrations.{key} must be true or false")
    if flags.get("agency") is True and user.type != UserType.AGENCY:
        problems.append("privateIntegrations.agency cannot be granted to a sub-account (account) user")
    if problems:
        raise ValidationFailed(problems)
    before = effective_flags(user).as_json()
    actions: list[Action] = []
    if "agency" in flags:
        actions.append(UserModel.perm_agency.set(flags["agency"]))
    if "subAccount" in flags:
        actions.append(UserModel.perm_sub_account.set(flags["subAccount"]))
    after = {**before, **{key: flags[key] for key in ("agency", "subAccount") if key in flags}}
    event = audit.new_event(
        "permissions.updated",
        caller.id,
        Owner(OwnerType.AGENCY, agency_id, agency_id),
        {"userId": user.id, "before": before, "after": after},
    )
    try:
        with audit.recorded_change(event) as tx:
            tx.update(user, actions=actions, condition=UserModel.agency_id == agency_id)
    except db.LostRace:
        raise NotFound(f"User '{user_id}' was not found in agency '{agency_id}'.") from None
    # The answer is what was written: no read after the commit.
    if "agency" in flags:
        user.perm_agency = flags["agency"]
    if "subAccount" in flags:
        user.perm_sub_account = flags["subAccount"]
    return _permissions_view(user)


def get_labs(caller: UserModel, agency_id: str) -> dict[str, Any]:
    permissions.require_same_agency(caller, agency_id, f"Agency '{agency_id}' was not found.")
    return {"privateIntegrations": bool(directory.get_agency(agency_id).labs_private_integrations)}


def put_labs(caller: UserModel, agency_id: str, body: dict[str, Any]) -> dict[str, Any]:
    permissions.require_agency_admin(caller, agency_id)
    problems = _expect_only(body, {"privateIntegrations"}, "the body")
    enabled = body.get("privateIntegrations")
    if not isinstance(enabled, bool):
        problems.append("privateIntegrations is required: true or false")
    if problems:
        raise ValidationFailed(problems)
    agency = directory.get_agency(agency_id)
    before = bool(agency.labs_private_integrations)
    if before != enabled:
        event = audit.new_event(
            "labs.updated",
            caller.id,
            Owner(OwnerType.AGENCY, agency_id, agency_id),
            {"privateIntegrations": {"before": before, "after": enabled}},
        )
        try:
            with audit.recorded_change(event) as tx:
                tx.update(
                    agency,
                    actions=[AgencyModel.labs_private_integrations.set(bool(enabled))],
                    condition=AgencyModel.id.exists(),
                )
        except db.LostRace:
            raise NotFound(f"Agency '{agency_id}' was not found.") from None
    return {"privateIntegrations": enabled}
