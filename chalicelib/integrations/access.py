"""Who may manage which integration: owners resolved for the caller, 404 across agencies, 403 without
the permission (the rules themselves are in directory/permissions.py)."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.audit import trail as audit
from chalicelib.core.errors import NotFound
from chalicelib.core.vocabulary import Owner, OwnerType
from chalicelib.directory import accounts as directory
from chalicelib.directory import permissions
from chalicelib.directory.models import UserModel
from chalicelib.integrations.models import IntegrationModel


@dataclass(frozen=True)
class Access:
    """An integration the caller may manage, and its owner."""

    integration: IntegrationModel
    owner: Owner

def agency_owner(user: UserModel, agency_id: str) -> Owner:
    """The agency as an owner the caller may manage (404 for another agency, 403 without permission)."""
    message = f"Agency '{agency_id}' was not found."
    permissions.require_same_agency(user, agency_id, message)
    owner = Owner(OwnerType.AGENCY, agency_id, agency_id)
    permissions.require_manage(user, owner, directory.get_agency(agency_id), message)
    return owner


def location_owner(user: UserModel, location_id: str) -> Owner:
    """A sub-account as an owner the caller may manage (404 for another agency, 403 without permission)."""
    message = f"Location '{location_id}' was not found."
    location = directory.get_location(location_id)
    permissions.require_same_agency(user, location.agency_id, message)
    owner = Owner(OwnerType.LOCATION, location_id, location.agency_id)
    permissions.require_manage(user, owner, directory.get_agency(location.agency_id), message)
    return owner


def owner_of(integration: IntegrationModel) -> Owner:
    return Owner(OwnerType(integration.owner_type), integration.owner_id, integration.agency_id)


def missing_message(integration_id: str) -> str:
    return f"Private integration '{integration_id}' was not found."


def not_found(integration_id: str) -> NotFound:
    return NotFound(missing_message(integration_id))


def find(integration_id: str) -> IntegrationModel | None:
    try:
        return IntegrationModel.get(integration_id, consistent_read=True)
    except IntegrationModel.DoesNotExist:
        return None


def manageable(user: UserModel, integration_id: str) -> Access:
    """The integration, if it exists in the caller's agency and the caller may manage it."""
    integration = find(integration_id)
    if integration is None or integration.agency_id != user.agency_id:
        raise not_found(integration_id)
    owner = owner_of(integration)
    agency = directory.get_agency(owner.agency_id)
    permissions.require_manage(user, owner, agency, missing_message(integration_id))
    return Access(integration, owner)


def feed_owner(user: UserModel, integration_id: str) -> Owner:
    """Who may read an integration's events: its owner's managers, also after it was deleted."""
    integration = find(integration_id)
    if integration is not None:
        owner = owner_of(integration)
    else:
        event = audit.first_event_of(integration_id)
        if event is None:
            raise not_found(integration_id)
        owner = Owner(OwnerType(event.owner_type), event.owner_id, event.agency_id)
    if owner.agency_id != user.agency_id:
        raise not_found(integration_id)
    agency = directory.get_agency(owner.agency_id)
    permissions.require_manage(user, owner, agency, missing_message(integration_id))
    return owner

