"""Agencies, locations (sub-accounts) and users: the directory the platform owns.

agencies   GetItem by id (name, Labs flag, integrationCount: the per-owner limit as a conditional
           counter updated in the create/delete transaction; sessionsValidAfter: set by an emergency
           revoke-all, sessions issued at or before it are refused and every token-issuing
           transaction checks it, so a create or rotate that began before cannot commit after).
locations  GetItem by id (agencyId, name, integrationCount); GSI `by-agency` lists an agency's
           locations.
users      GetItem by id (agencyId, type, role, locationIds, explicit permission flags or null).
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.core.model_base import index_meta, table_meta


class AgencyModel(Model):
    Meta = table_meta("agencies")
    id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    labs_private_integrations = BooleanAttribute(attr_name="labsPrivateIntegrations", default=False)
    integration_count = NumberAttribute(attr_name="integrationCount", default=0)
    # Epoch seconds: sessions of the agency's users with an `iat` at or before it are ended.
    sessions_valid_after = NumberAttribute(attr_name="sessionsValidAfter", null=True)


class AgencyLocationsIndex(GlobalSecondaryIndex):
    Meta = index_meta("by-agency", AllProjection())
    agency_id = UnicodeAttribute(hash_key=True, attr_name="agencyId")
    id = UnicodeAttribute(range_key=True)


class LocationModel(Model):
    Meta = table_meta("locations")
    id = UnicodeAttribute(hash_key=True)
    agency_id = UnicodeAttribute(attr_name="agencyId")
    name = UnicodeAttribute()
    integration_count = NumberAttribute(attr_name="integrationCount", default=0)
    # The platform's documented location fields other than id, companyId and name (phone, address, ...).
    details = MapAttribute[str, object](default=dict)
    by_agency = AgencyLocationsIndex()


class UserModel(Model):
    Meta = table_meta("users")
    id = UnicodeAttribute(hash_key=True)
    agency_id = UnicodeAttribute(attr_name="agencyId")
    type = UnicodeAttribute()  # "agency" | "account"
    role = UnicodeAttribute()  # "admin" | "user"
    location_ids = ListAttribute(of=UnicodeAttribute, attr_name="locationIds", default=list)
    # None means "the default for this kind of user" (agency admins: on; everyone else: off).
    perm_agency = BooleanAttribute(attr_name="permAgency", null=True)
    perm_sub_account = BooleanAttribute(attr_name="permSubAccount", null=True)
    # Not stored: the `iat` (epoch seconds) of the session this user was authenticated with, set by
    # sessions.authenticate; token-issuing transactions condition on it (sessions.still_valid).
    session_issued_at: int | None = None
