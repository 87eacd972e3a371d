"""Create, view, edit and delete Private Integrations. Rotations live in lifecycle.py."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib import audit, authorizer_cache, catalog, clock, db, directory, permissions, tokens
from chalicelib.config import settings
from chalicelib.directory import Owner
from chalicelib.errors import Conflict, NotFound, ValidationFailed
from chalicelib.models import AgencyModel, EventModel, IntegrationModel, LocationModel, TokenModel, UserModel
from chalicelib.token_model import due_bucket

NAME_MAX = 100
DESCRIPTION_MAX = 500
EDITABLE_FIELDS = ("name", "description", "scopes")
T = TypeVar("T")
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


def rotation_pending(integration: IntegrationModel, now: datetime) -> bool:
    """A previous token still in its overlap. An overlap that has ended is a finished rotation, in every
    action and view, whether or not the cleanup has removed it yet."""
    expires = integration.rotation_expires_at
    return integration.previous_token_hash is not None and (expires is None or expires > now)


def live_hashes(integration: IntegrationModel) -> list[str]:
    return [h for h in (integration.token_hash, integration.previous_token_hash) if h]


def last_used(integrations: list[IntegrationModel]) -> dict[str, int]:
    """lastUsedAt (epoch seconds) per token digest, by one BatchGetItem over every token of the page.

    Actions read it before they commit, so an answer never needs a read after the commit.
    """
    hashes = [h for integration in integrations for h in live_hashes(integration)]
    found: dict[str, int] = {}
    if hashes:
        for token in TokenModel.batch_get(hashes, attributes_to_get=["tokenHash", "lastUsedAt"]):
            if token.last_used_at is not None:
                found[token.token_hash] = int(token.last_used_at)
    return found


def views(integrations: list[IntegrationModel]) -> list[dict[str, Any]]:
    used = last_used(integrations)
    return [view(integration, used) for integration in integrations]


def view(integration: IntegrationModel, last_used_by_hash: dict[str, int] | None = None) -> dict[str, Any]:
    now = clock.now()
    rotation = None
    if rotation_pending(integration, now):
        rotation = {
            "previousTokenHint": integration.previous_token_hint,
            "startedAt": clock.iso(integration.rotation_started_at),
            "expiresAt": clock.iso(integration.rotation_expires_at),
        }
    live = integration.token_hash, *((integration.previous_token_hash,) if rotation else ())
    used = [(last_used_by_hash or {})[h] for h in live if h in (last_used_by_hash or {})]
    last_used_at = clock.iso(datetime.fromtimestamp(max(used), tz=UTC)) if used else None
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
        "lastUsedAt": last_used_at,
        "rotationRecommended": rotation_recommended(integration.token_created_at),
    }


def list_for(owner: Owner) -> list[dict[str, Any]]:
    found = list(IntegrationModel.by_owner.query(owner.key, scan_index_forward=False))
    return views(found)


# --- changes -------------------------------------------------------------------------------------


def _owner_model(owner: Owner) -> type[AgencyModel] | type[LocationModel]:
    return AgencyModel if owner.type == "agency" else LocationModel


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
        due_bucket=due_bucket(tokens.digest(plaintext)),
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
        with audit.recorded_change(event) as tx:
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
    except db.LostRace:
        counter = owner_model.get(owner.id, consistent_read=True)
        if (counter.integration_count or 0) >= limit:
            raise Conflict(
                f"This {'agency' if owner.type == 'agency' else 'sub-account'} already has {limit} "
                "private integrations: delete one before creating another."
            ) from None
        raise Conflict("The owner changed at the same time: retry.") from None
    return view(integration), plaintext


def unchanged_since_read(integration: IntegrationModel) -> Any:
    """The condition every change of an integration carries: nobody wrote it since we read it."""
    return IntegrationModel.version == integration.version


def change_actions(changes: dict[str, Any]) -> list[Action]:
    """Update actions for {python attribute name: new value, or None to remove it}."""
    attributes = {name: getattr(IntegrationModel, name) for name in changes}
    return [
        attributes[name].remove() if value is None else attributes[name].set(value)
        for name, value in changes.items()
    ]


def apply_changes(integration: IntegrationModel, changes: dict[str, Any]) -> IntegrationModel:
    """The integration as the committed change left it: answers are built from what was written."""
    for name, value in changes.items():
        setattr(integration, name, value)
    return integration


def write_change(
    integration: IntegrationModel,
    changes: dict[str, Any],
    event: EventModel,
    add_operations: Callable[[TransactWrite], None],
) -> IntegrationModel:
    """One recorded transaction: the integration's fields (conditioned on its version) and more items."""
    with audit.recorded_change(event) as tx:
        add_operations(tx)  # may add to `changes` (finishing an ended rotation)
        written = {**changes, "updated_at": clock.now(), "version": integration.version + 1}
        tx.update(integration, actions=change_actions(written), condition=unchanged_since_read(integration))
    return apply_changes(integration, written)


def concurrent_change(integration_id: str) -> NotFound | Conflict:
    """What to tell the loser of a race: gone (404) or changed under it (409)."""
    if find(integration_id) is None:
        return _not_found(integration_id)
    return Conflict(
        "The private integration was changed by another request at the same time: fetch it and retry."
    )


SECURITY_ATTEMPTS = 5


def until_applied(target: Access, attempt: Callable[[IntegrationModel], T]) -> T:
    """Run a security action (delete, rotate now, expire now) until it applies, re-reading each time.

    A token owner who acts on a leak must not fail because a benign change raced: only a deletion (404)
    stops it. Each attempt is a fresh, conditioned transaction, so nothing is applied twice.
    """
    integration = target.integration
    for _ in range(SECURITY_ATTEMPTS):
        try:
            return attempt(integration)
        except db.LostRace:
            found = find(integration.id)
            if found is None:
                raise _not_found(integration.id) from None
            integration = found
    raise Conflict(
        "The private integration is being changed by many requests at once: retry in a moment."
    )


def finish_ended_rotation(
    tx: TransactWrite, integration: IntegrationModel, changes: dict[str, Any], now: datetime
) -> None:
    """An overlap that has ended is finished inside the caller's transaction: the old token item goes."""
    if integration.previous_token_hash and not rotation_pending(integration, now):
        tx.delete(
            TokenModel(integration.previous_token_hash),
            condition=(TokenModel.integration_id == integration.id) & (TokenModel.state == "rotating"),
        )
        changes.update(dict.fromkeys(ROTATION_FIELDS))


ROTATION_FIELDS = (
    "previous_token_hash",
    "previous_token_hint",
    "previous_token_created_at",
    "rotation_started_at",
    "rotation_expires_at",
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
    used = last_used([integration])
    new_values: dict[str, Any] = {name: change["after"] for name, change in changes.items()}
    event = audit.new_event(
        "integration.updated", actor.id, target.owner, {"changes": changes}, integration.id
    )
    now = clock.now()

    def operations(tx: TransactWrite) -> None:
        finish_ended_rotation(tx, integration, new_values, now)
        if "scopes" not in changes:
            return
        # Scopes also live on each token item (the authorizer's one read): same transaction.
        live = [integration.token_hash]
        if rotation_pending(integration, now):
            live.append(integration.previous_token_hash)
        for token_hash in live:
            tx.update(
                TokenModel(token_hash),
                actions=[TokenModel.scopes.set(changes["scopes"]["after"])],
                condition=TokenModel.integration_id == integration.id,
            )

    try:
        updated = write_change(integration, new_values, event, operations)
    except db.LostRace:
        raise concurrent_change(integration.id) from None
    if "scopes" in changes:
        authorizer_cache.flush()  # cached policies still carry the old scopes
    return view(updated, used)


def delete(actor: UserModel, target: Access) -> None:
    delete_recorded(actor.id, target)
    authorizer_cache.flush()


def delete_recorded(actor_id: str, target: Access, details: dict[str, Any] | None = None) -> None:
    """The integration and its tokens go, with an `integration.deleted` event (plus `details`); no
    cache flush (the caller flushes once, also after deleting many)."""
    owner_model = _owner_model(target.owner)

    def attempt(integration: IntegrationModel) -> None:
        event = audit.new_event(
            "integration.deleted",
            actor_id,
            target.owner,
            {"name": integration.name, "scopes": list(integration.scopes), **(details or {})},
            integration.id,
        )
        with audit.recorded_change(event) as tx:
            tx.delete(integration, condition=unchanged_since_read(integration))
            for token_hash in live_hashes(integration):
                tx.delete(TokenModel(token_hash))
            tx.update(owner_model(target.owner.id), actions=[owner_model.integration_count.add(-1)])

    until_applied(target, attempt)
