"""PynamoDB models: the tables, their keys, indexes and the TTL attribute.

Access patterns
---------------
tokens        GetItem by tokenHash (SHA-256 hex of the plaintext): the authorizer's one read. The item
              carries everything a policy needs (integration, owner, agency, scopes, state, expiresAt).
              `expiresAt` (epoch seconds) is the table's TTL attribute. Conditional UpdateItem of
              `lastUsedAt` at most once per interval. Sparse GSI `by-due` (dueBucket: 16 shards by digest,
              dueAt; projecting only what the cleanup reads) holds only
              tokens with a pending cleanup task, so the scheduled job reads what is due, never the table.
integrations  GetItem by id; Query GSI `by-owner` (ownerKey, createdAt) lists an owner's integrations.
              Every change is conditioned on `version`, so two writers cannot both win.
events        Query by ownerKey (agency#ID or location#ID), sort key `sk` = zero-padded epoch ms + event id,
              descending = newest first. GSI `by-integration` (integrationId, sk) for one integration's
              feed; events survive the integration's deletion.
agencies      GetItem by id (name, Labs flag, integrationCount: the per-owner limit as a conditional counter).
locations     GetItem by id (agencyId, name, integrationCount); GSI `by-agency` lists an agency's locations.
users         GetItem by id (agencyId, type, role, locationIds, explicit permission flags or null).
contacts      GetItem by id; Query GSI `by-location` (locationId, addedKey = zero-padded dateAdded ms + id)
              pages a location's contacts oldest first, with documented filters as filter expressions.
              Every documented contact field lives in the raw map `details` as the client sent it (the
              platform's document says which fields exist; chalicelib/v2/schema.py). Duplicate e-mails
              and phones are prevented by guard items in `contact-keys`, keyed
              `<locationId>#email#<email>` / `<locationId>#phone#<digits>`, written in the same transaction.

Multi-item changes (create, edit, delete, rotations) are single TransactWriteItems with conditions.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.model_base import index_meta, table_meta
from chalicelib.token_model import TokenModel

__all__ = ["ALL_MODELS", "TokenModel", "create_tables"]


class AgencyModel(Model):
    Meta = table_meta("agencies")
    id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    labs_private_integrations = BooleanAttribute(attr_name="labsPrivateIntegrations", default=False)
    integration_count = NumberAttribute(attr_name="integrationCount", default=0)


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


class OwnerIndex(GlobalSecondaryIndex):
    Meta = index_meta("by-owner", AllProjection())
    owner_key = UnicodeAttribute(hash_key=True, attr_name="ownerKey")
    created_at = UTCDateTimeAttribute(range_key=True, attr_name="createdAt")


class IntegrationModel(Model):
    Meta = table_meta("integrations")
    id = UnicodeAttribute(hash_key=True)
    owner_key = UnicodeAttribute(attr_name="ownerKey")
    owner_type = UnicodeAttribute(attr_name="ownerType")
    owner_id = UnicodeAttribute(attr_name="ownerId")
    agency_id = UnicodeAttribute(attr_name="agencyId")
    name = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    scopes = ListAttribute(of=UnicodeAttribute)
    created_at = UTCDateTimeAttribute(attr_name="createdAt")
    created_by = UnicodeAttribute(attr_name="createdBy")
    updated_at = UTCDateTimeAttribute(attr_name="updatedAt")
    # The current token, by digest: the plaintext is never stored.
    token_hash = UnicodeAttribute(attr_name="tokenHash")
    token_hint = UnicodeAttribute(attr_name="tokenHint")
    token_created_at = UTCDateTimeAttribute(attr_name="tokenCreatedAt")
    # The token rotating out, while a rotation is pending.
    previous_token_hash = UnicodeAttribute(attr_name="previousTokenHash", null=True)
    previous_token_hint = UnicodeAttribute(attr_name="previousTokenHint", null=True)
    previous_token_created_at = UTCDateTimeAttribute(attr_name="previousTokenCreatedAt", null=True)
    rotation_started_at = UTCDateTimeAttribute(attr_name="rotationStartedAt", null=True)
    rotation_expires_at = UTCDateTimeAttribute(attr_name="rotationExpiresAt", null=True)
    # Optimistic concurrency: every write is conditioned on the version it read.
    version = NumberAttribute(default=1)
    by_owner = OwnerIndex()


class IntegrationEventsIndex(GlobalSecondaryIndex):
    Meta = index_meta("by-integration", AllProjection())
    integration_id = UnicodeAttribute(hash_key=True, attr_name="integrationId")
    sk = UnicodeAttribute(range_key=True)


class EventModel(Model):
    Meta = table_meta("events")
    owner_key = UnicodeAttribute(hash_key=True, attr_name="ownerKey")
    sk = UnicodeAttribute(range_key=True)
    id = UnicodeAttribute()
    type = UnicodeAttribute()
    at = UTCDateTimeAttribute()
    actor_id = UnicodeAttribute(attr_name="actorId")
    integration_id = UnicodeAttribute(attr_name="integrationId", null=True)
    owner_type = UnicodeAttribute(attr_name="ownerType")
    owner_id = UnicodeAttribute(attr_name="ownerId")
    agency_id = UnicodeAttribute(attr_name="agencyId")
    details = JSONAttribute(default=dict)
    by_integration = IntegrationEventsIndex()


class LocationContactsIndex(GlobalSecondaryIndex):
    Meta = index_meta("by-location", AllProjection())
    location_id = UnicodeAttribute(hash_key=True, attr_name="locationId")
    added_key = UnicodeAttribute(range_key=True, attr_name="addedKey")


class ContactModel(Model):
    Meta = table_meta("contacts")
    id = UnicodeAttribute(hash_key=True)
    location_id = UnicodeAttribute(attr_name="locationId")
    # Zero-padded dateAdded epoch ms + "#" + id: the platform's paging order (startAfter, startAfterId).
    added_key = UnicodeAttribute(attr_name="addedKey")
    email = UnicodeAttribute(null=True)  # lower-cased: e-mails match case-insensitively
    phone = UnicodeAttribute(null=True)  # "+" and digits only
    tags = ListAttribute(of=UnicodeAttribute, default=list)
    # Every other documented CreateContactDto field, as sent (types checked against the document).
    details = MapAttribute[str, object](default=dict)
    # Lower-cased "name email phone": what `query` searches.
    search_text = UnicodeAttribute(attr_name="searchText", default="")
    date_added = UTCDateTimeAttribute(attr_name="dateAdded")
    date_updated = UTCDateTimeAttribute(attr_name="dateUpdated")
    # Every write is conditioned on the version it read: its e-mail and phone guards stay exact.
    version = NumberAttribute(default=1)
    by_location = LocationContactsIndex()


class ContactKeyModel(Model):
    """Uniqueness guard: one item per (location, e-mail) and (location, phone), written with its contact."""

    Meta = table_meta("contact-keys")
    key = UnicodeAttribute(hash_key=True)
    contact_id = UnicodeAttribute(attr_name="contactId")


ALL_MODELS: tuple[type[Model], ...] = (
    AgencyModel,
    LocationModel,
    UserModel,
    IntegrationModel,
    TokenModel,
    EventModel,
    ContactModel,
    ContactKeyModel,
)


def create_tables() -> None:
    """Create any missing table (local runs and tests; deployed tables come from infra/)."""
    for model in ALL_MODELS:
        if not model.exists():
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
    # TTL is a table setting PynamoDB does not manage; the botocore client it already holds does.
    client = TokenModel._get_connection().connection.client
    client.update_time_to_live(
        TableName=TokenModel.Meta.table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiresAt"},
    )
