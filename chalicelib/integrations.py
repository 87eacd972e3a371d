"""Create, view, edit and delete Private Integrations. Rotations live in lifecycle.py."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import audit, authorizer_cache, catalog, clock, db, directory, permissions, tokens
from chalicelib.config import settings
from chalicelib.directory import Owner
from chalicelib.errors import Conflict, NotFound, ValidationFailed
from chalicelib.models import AgencyModel, IntegrationModel, LocationModel, TokenModel, UserModel

NAME_MAX = 100
DESCRIPTION_MAX = 500
EDITABLE_FIELDS = ("name", "description", "scopes")
# Bidirectional embeddings, overrides and isolates: they make a name read differently from what it is.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass(frozen=True)
class Access:
    """An integration the caller may manage, and its owner."""

    integration: IntegrationModel
    owner: Owner


# --- owners and access ---------------------------------------------------------------------------


def agency_owner(user: UserModel, agency_id: str) -> Owner:
    """The agency as an owner the caller may manage (404 for another agency, 403 without permission)."""
    message = f"Agency '{agency_id}' was not found."
    permissions.require_same_agency(user, agency_id, message)
    owner = Owner("agency", agency_id, agency_id)
    permissions.require_manage(user, owner, directory.get_agency(agency_id), message)
    return owner


def location_owner(user: UserModel, location_id: str) -> Owner:
    """A sub-account as an owner the caller may manage (404 for another agency, 403 without permission)."""
    message = f"Location '{location_id}' was not found."
    location = directory.get_location(location_id)
    permissions.require_same_agency(user, location.agency_id, message)
    owner = Owner("location", location_id, location.agency_id)
    permissions.require_manage(user, owner, directory.get_agency(location.agency_id), message)
    return owner


def owner_of(integration: IntegrationModel) -> Owner:
    return Owner(integration.owner_type, integration.owner_id, integration.agency_id)


def _missing(integration_id: str) -> str:
    return f"Private integration '{integration_id}' was not found."


def _not_found(integration_id: str) -> NotFound:
    return NotFound(_missing(integration_id))


def find(integration_id: str) -> IntegrationModel | None:
    try:
        return IntegrationModel.get(integration_id, consistent_read=True)
    except IntegrationModel.DoesNotExist:
        return None


def access(user: UserModel, integration_id: str) -> Access:
    """The integration, if it exists in the caller's agency and the caller may manage it."""
    integration = find(integration_id)
    if integration is None or integration.agency_id != user.agency_id:
        raise _not_found(integration_id)
    owner = owner_of(integration)
    permissions.require_manage(user, owner, directory.get_agency(owner.agency_id), _missing(integration_id))
    return Access(integration, owner)


def feed_owner(user: UserModel, integration_id: str) -> Owner:
    """Who may read an integration's events: its owner's managers, also after it was deleted."""
    integration = find(integration_id)
    if integration is not None:
        owner = owner_of(integration)
    else:
        event = audit.first_event_of(integration_id)
        if event is None:
            raise _not_found(integration_id)
        owner = Owner(event.owner_type, event.owner_id, event.agency_id)
    if owner.agency_id != user.agency_id:
        raise _not_found(integration_id)
    permissions.require_manage(user, owner, directory.get_agency(owner.agency_id), _missing(integration_id))
    return owner


# --- input ---------------------------------------------------------------------------------------


def validate(body: dict[str, Any], level: str, *, partial: bool) -> dict[str, Any]:
    """The cleaned fields of a create (all) or edit (some) body, or 422 naming every problem."""
    problems = [
        f"'{key}' is not a field of a private integration (allowed: {', '.join(EDITABLE_FIELDS)})"
        for key in body
        if key not in EDITABLE_FIELDS
    ]
    cleaned: dict[str, Any] = {}
    if "name" in body or not partial:
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= NAME_MAX:
            problems.append(f"name is required: a string of 1 to {NAME_MAX} characters (after trimming)")
        elif unsafe := _unsafe_character(name, allowed=""):
            problems.append(f"name must not contain control characters or bidi overrides (found {unsafe})")
        else:
            cleaned["name"] = name.strip()
    if "description" in body or not partial:
        description = body.get("description")
        if description is None:
            cleaned["description"] = ""
        elif not isinstance(description, str) or len(description.strip()) > DESCRIPTION_MAX:
            problems.append(f"description must be a string of at most {DESCRIPTION_MAX} characters")
        elif unsafe := _unsafe_character(description, allowed="\t\n"):
            problems.append(
                "description must not contain control characters other than tab and newline, "
                f"nor bidi overrides (found {unsafe})"
            )
        else:
            cleaned["description"] = description.strip()
    if "scopes" in body or not partial:
        scope_problems = catalog.scope_problems(body.get("scopes"), level)
        problems.extend(scope_problems)
        if not scope_problems:
            cleaned["scopes"] = list(body["scopes"])
    if partial and not body:
        problems.append(f"send at least one of {', '.join(EDITABLE_FIELDS)}")
    if problems:
        raise ValidationFailed(problems)
    return cleaned


def _unsafe_character(text: str, allowed: str) -> str | None:
    """The first C0/C1 control (except `allowed`) or bidi control in `text`, as U+XXXX, else None."""
    for char in text:
        code = ord(char)
        if (code < 0x20 or 0x7F <= code <= 0x9F or char in BIDI_CONTROLS) and char not in allowed:
            return f"U+{code:04X}"
    return None


# --- views ---------------------------------------------------------------------------------------


def rotation_recommended(token_created_at: datetime) -> bool:
    return clock.now() - token_created_at >= timedelta(days=settings.rotation_recommended_after_days)


def views(integrations: list[IntegrationModel]) -> list[dict[str, Any]]:
    """Response bodies; one BatchGetItem reads lastUsedAt from every token of the page."""
    hashes = [h for i in integrations for h in (i.token_hash, i.previous_token_hash) if h]
    last_used: dict[str, int] = {}
    if hashes:
        for token in TokenModel.batch_get(hashes, attributes_to_get=["tokenHash", "lastUsedAt"]):
            if token.last_used_at is not None:
                last_used[token.token_hash] = int(token.last_used_at)
    result = []
    for integration in integrations:
        used = [
            last_used[h] for h in (integration.token_hash, integration.previous_token_hash) if h in last_used
        ]
        result.append(view(integration, max(used) if used else None))
    return result


def view(integration: IntegrationModel, last_used_epoch: int | None = None) -> dict[str, Any]:
    rotation = None
    if integration.previous_token_hash:
        rotation = {
            "previousTokenHint": integration.previous_token_hint,
            "startedAt": clock.iso(integration.rotation_started_at),
            "expiresAt": clock.iso(integration.rotation_expires_at),
        }
    last_used = (
        clock.iso(datetime.fromtimestamp(last_used_epoch, tz=UTC)) if last_used_epoch is not None else None
    )
    return {
        "id": integration.id,
        "name": integration.name,
        "description": integration.description or "",
        "scopes": list(integration.scopes),
        "ownerType": integration.owner_type,
        "ownerId": integration.owner_id,
        "agencyId": integration.agency_id,
        "createdAt": clock.iso(integration.created_at),
        "createdBy": integration.created_by,
        "updatedAt": clock.iso(integration.updated_at),
        "token": {"hint": integration.token_hint, "createdAt": clock.iso(integration.token_created_at)},
        "rotation": rotation,
        "lastUsedAt": last_used,
        "rotationRecommended": rotation_recommended(integration.token_created_at),
    }


def list_for(owner: Owner) -> list[dict[str, Any]]:
    found = list(IntegrationModel.by_owner.query(owner.key, scan_index_forward=False))
    return views(found)


# --- changes -------------------------------------------------------------------------------------


def _owner_model(owner: Owner) -> type[AgencyModel] | type[LocationModel]:
    return AgencyModel if owner.type == "agency" else LocationModel


DUE_BUCKET = "due"  # the one partition of the sparse cleanup index


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def reminder_due(token_created_at: datetime) -> int:
    """When the cleanup job should emit the token's "rotation recommended" event."""
    return epoch(token_created_at + timedelta(days=settings.rotation_recommended_after_days))


def new_token_item(integration: IntegrationModel, plaintext: str, created_at: datetime) -> TokenModel:
    """A current token: carries everything the authorizer needs, so authorizing is one GetItem."""
    return TokenModel(
        tokens.digest(plaintext),
        integration_id=integration.id,
        owner_type=integration.owner_type,
        owner_id=integration.owner_id,
        agency_id=integration.agency_id,
        scopes=list(integration.scopes),
        state="active",
        hint=tokens.hint(plaintext),
        created_at=created_at,
        due_bucket=DUE_BUCKET,
        due_at=reminder_due(created_at),
    )


def create(actor: UserModel, owner: Owner, body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A new integration and its first token; returns (view, plaintext token shown once)."""
    fields = validate(body, owner.type, partial=False)
    plaintext = tokens.generate()
    now = clock.now()
    integration = IntegrationModel(
        secrets.token_hex(12),
        owner_key=owner.key,
        owner_type=owner.type,
        owner_id=owner.id,
        agency_id=owner.agency_id,
        name=fields["name"],
        description=fields["description"],
        scopes=fields["scopes"],
        created_at=now,
        created_by=actor.id,
        updated_at=now,
        token_hash=tokens.digest(plaintext),
        token_hint=tokens.hint(plaintext),
        token_created_at=now,
        version=1,
    )
    owner_model = _owner_model(owner)
    limit = settings.max_integrations_per_owner
    event = audit.new_event(
        "integration.created",
        actor.id,
        owner,
        {"name": integration.name, "scopes": integration.scopes, "tokenHint": integration.token_hint},
        integration.id,
    )
    try:
        with db.transaction() as tx:
            tx.update(
                owner_model(owner.id),
                actions=[owner_model.integration_count.add(1)],
                condition=owner_model.id.exists()
                & (owner_model.integration_count.does_not_exist() | (owner_model.integration_count < limit)),
            )
            tx.save(integration, condition=IntegrationModel.id.does_not_exist())
            tx.save(
                new_token_item(integration, plaintext, now), condition=TokenModel.token_hash.does_not_exist()
            )
            tx.save(event)
    except TransactWriteError as error:
        counter = owner_model.get(owner.id, consistent_read=True)
        if db.condition_failed(error) and (counter.integration_count or 0) >= limit:
            raise Conflict(
                f"This {'agency' if owner.type == 'agency' else 'sub-account'} already has {limit} "
                "private integrations: delete one before creating another."
            ) from None
        raise
    return view(integration), plaintext


def unchanged_since_read(integration: IntegrationModel) -> Any:
    """The condition every change of an integration carries: nobody wrote it since we read it."""
    return IntegrationModel.version == integration.version


@contextmanager
def one_winner(integration_id: str) -> Iterator[TransactWrite]:
    """One transaction for a change of an integration; if a racing change won, 409 (or 404 if it is gone)."""
    try:
        with db.transaction() as tx:
            yield tx
    except TransactWriteError:
        raise concurrent_change(integration_id) from None


def concurrent_change(integration_id: str) -> NotFound | Conflict:
    """What to tell the loser of a race: gone (404) or changed under it (409)."""
    if find(integration_id) is None:
        return _not_found(integration_id)
    return Conflict(
        "The private integration was changed by another request at the same time: fetch it and retry."
    )


def update(actor: UserModel, target: Access, body: dict[str, Any]) -> dict[str, Any]:
    integration = target.integration
    fields = validate(body, integration.owner_type, partial=True)
    changes = {
        name: {"before": getattr(integration, name), "after": value}
        for name, value in fields.items()
        if getattr(integration, name) != value
    }
    if not changes:
        return views([integration])[0]
    now = clock.now()
    actions = [getattr(IntegrationModel, name).set(change["after"]) for name, change in changes.items()]
    actions += [IntegrationModel.updated_at.set(now), IntegrationModel.version.add(1)]
    event = audit.new_event(
        "integration.updated", actor.id, target.owner, {"changes": changes}, integration.id
    )
    with one_winner(integration.id) as tx:
        tx.update(integration, actions=actions, condition=unchanged_since_read(integration))
        if "scopes" in changes:
            # Scopes also live on each token item (the authorizer's one read): same transaction.
            for token_hash in (integration.token_hash, integration.previous_token_hash):
                if token_hash:
                    tx.update(
                        TokenModel(token_hash),
                        actions=[TokenModel.scopes.set(changes["scopes"]["after"])],
                        condition=TokenModel.integration_id == integration.id,
                    )
        tx.save(event)
    if "scopes" in changes:
        authorizer_cache.flush()  # cached policies still carry the old scopes
    return views([IntegrationModel.get(integration.id, consistent_read=True)])[0]


def delete(actor: UserModel, target: Access) -> None:
    integration = target.integration
    owner_model = _owner_model(target.owner)
    event = audit.new_event(
        "integration.deleted",
        actor.id,
        target.owner,
        {"name": integration.name, "scopes": list(integration.scopes)},
        integration.id,
    )
    with one_winner(integration.id) as tx:
        tx.delete(integration, condition=unchanged_since_read(integration))
        for token_hash in (integration.token_hash, integration.previous_token_hash):
            if token_hash:
                tx.delete(TokenModel(token_hash))
        tx.update(owner_model(target.owner.id), actions=[owner_model.integration_count.add(-1)])
        tx.save(event)
    authorizer_cache.flush()
