"""Create, edit and delete Private Integrations. Rotations live in lifecycle.py, who may do what in
access.py, what an answer shows in views.py, the transaction of a change in changes.py."""

from __future__ import annotations

import secrets
from typing import Any

from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.audit import trail as audit
from chalicelib.core import clock, config, db
from chalicelib.core.errors import Conflict, Forbidden
from chalicelib.core.vocabulary import Owner, OwnerType
from chalicelib.directory import sessions
from chalicelib.directory.accounts import is_agency_admin
from chalicelib.directory.models import AgencyModel, LocationModel, UserModel
from chalicelib.integrations import rate_limits
from chalicelib.integrations.access import Access
from chalicelib.integrations.changes import (
    concurrent_change,
    finish_ended_rotation,
    token_expired,
    unchanged_since_read,
    until_applied,
    write_change,
)
from chalicelib.integrations.models import IntegrationModel
from chalicelib.integrations.validation import API_NAMES, validate
from chalicelib.integrations.views import last_used, live_hashes, rotation_pending, view, views
from chalicelib.tokens import allowlist, authorizer_cache, token_text
from chalicelib.tokens.authorizer_cache import ApiStage
from chalicelib.tokens.issuing import allowlist_actions, burst_limit_actions, new_token_item, scope_actions
from chalicelib.tokens.models import TokenModel


def _owner_model(owner: Owner) -> type[AgencyModel] | type[LocationModel]:
    return AgencyModel if owner.type == OwnerType.AGENCY else LocationModel


def create(actor: UserModel, owner: Owner, body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A new integration and its first token; returns (view, plaintext token shown once)."""
    fields = validate(body, owner.type, partial=False)
    if fields.get("burst_limit") is not None:
        _require_admin_for_limits(actor)
    plaintext = token_text.generate()
    integration = _new_integration(actor, owner, fields, plaintext)
    first_token = new_token_item(
        plaintext,
        integration_id=integration.id,
        owner=owner,
        scopes=fields["scopes"],
        created_at=integration.created_at,
        expires_at=fields["expires_at"],
        allowed_ips=fields["allowed_ips"],
        ip_restriction=fields["ip_restriction"],
        burst_limit=fields.get("burst_limit"),
    )
    details = {
        "name": integration.name,
        "scopes": integration.scopes,
        "tokenHint": integration.token_hint,
        "tokenExpiresAt": clock.iso(fields["expires_at"]),
        "allowedIps": fields["allowed_ips"],
        "ipRestriction": fields["ip_restriction"],
    }
    event = audit.new_event("integration.created", actor.id, owner, details, integration.id)
    owner_model = _owner_model(owner)
    limit = config.settings.max_integrations_per_owner
    # The per-owner limit is a conditional counter: concurrent creates cannot pass it.
    counter = owner_model.id.exists() & (
        owner_model.integration_count.does_not_exist() | (owner_model.integration_count < limit)
    )
    fence = sessions.still_valid(actor)  # no revoke-all ended the session since it was checked
    try:
        with audit.recorded_change(event) as tx:
            if owner.type == OwnerType.AGENCY:  # one operation per item in a transaction
                counter &= fence
            else:
                tx.condition_check(AgencyModel, owner.agency_id, condition=fence)
            tx.update(
                owner_model(owner.id), actions=[owner_model.integration_count.add(1)], condition=counter
            )
            tx.save(integration, condition=IntegrationModel.id.does_not_exist())
            tx.save(first_token, condition=TokenModel.token_hash.does_not_exist())
    except db.LostRace:
        sessions.require_not_ended(actor)  # 401 when a revoke-all ended the session meanwhile
        raise _why_not_created(owner, limit) from None
    return view(integration), plaintext


def _new_integration(
    actor: UserModel, owner: Owner, fields: dict[str, Any], plaintext: str
) -> IntegrationModel:
    now = clock.now()
    return IntegrationModel(
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
        token_hash=token_text.digest(plaintext),
        token_hint=token_text.hint(plaintext),
        token_created_at=now,
        token_expires_at=fields["expires_at"],
        burst_limit=fields.get("burst_limit"),
        allowed_ips=fields["allowed_ips"],
        ip_restriction=fields["ip_restriction"],
        version=1,
    )


def _why_not_created(owner: Owner, limit: int) -> Conflict:
    counter = _owner_model(owner).get(owner.id, consistent_read=True)
    if (counter.integration_count or 0) >= limit:
        kind = "agency" if owner.type == OwnerType.AGENCY else "sub-account"
        return Conflict(
            f"This {kind} already has {limit} private integrations: delete one before creating another."
        )
    return Conflict("The owner changed at the same time: retry.")


def update(
    actor: UserModel, target: Access, body: dict[str, Any], *, own_api: ApiStage | None = None
) -> dict[str, Any]:
    integration = target.integration
    fields = validate(body, integration.owner_type, partial=True)
    changes = {
        name: {"before": current(integration, name), "after": value}
        for name, value in fields.items()
        if current(integration, name) != value
    }
    if not changes:
        return views([integration])[0]
    if "burst_limit" in changes:
        _require_admin_for_limits(actor)
    used = last_used([integration])
    new_values: dict[str, Any] = {name: change["after"] for name, change in changes.items()}
    event = audit.new_event(
        "integration.updated",
        actor.id,
        target.owner,
        {"changes": {API_NAMES.get(name, name): change for name, change in changes.items()}},
        integration.id,
    )
    now = clock.now()

    def operations(tx: TransactWrite) -> None:
        finish_ended_rotation(tx, integration, new_values, now)
        # Scopes with their planned policy, and the IP allowlist, also live on each token item (the
        # authorizer's one read): same transaction.
        actions: list[Action] = []
        if "scopes" in changes:
            actions += scope_actions(changes["scopes"]["after"], integration.owner_type, integration.owner_id)
        if TOKEN_ALLOWLIST_FIELDS & changes.keys():
            mode = new_values.get("ip_restriction", current(integration, "ip_restriction"))
            entries = new_values.get("allowed_ips", current(integration, "allowed_ips"))
            actions += allowlist_actions(mode, entries)
        if "burst_limit" in changes:
            actions += burst_limit_actions(changes["burst_limit"]["after"])
        if not actions:
            return
        live = [] if token_expired(integration, now) else [integration.token_hash]
        if rotation_pending(integration, now):
            live.append(integration.previous_token_hash)
        for token_hash in live:
            tx.update(
                TokenModel(token_hash),
                actions=actions,
                condition=TokenModel.integration_id == integration.id,
            )

    try:
        updated = write_change(integration, new_values, event, operations)
    except db.LostRace:
        raise concurrent_change(integration.id) from None
    if "scopes" in changes or "burst_limit" in changes or TOKEN_ALLOWLIST_FIELDS & changes.keys():
        # Cached decisions still carry the old scopes or burst limit, or were made against the old list
        # (a Deny for an address now allowed too: a changed list applies at the next request either way).
        authorizer_cache.flush(own_api)
    if "burst_limit" in changes:
        rate_limits.forget(integration.id)  # a token item written before the limit was copied
    return view(updated, used)


TOKEN_ALLOWLIST_FIELDS = frozenset({"allowed_ips", "ip_restriction"})


def current(integration: IntegrationModel, name: str) -> Any:
    """A field as an edit compares it: an integration written before allowlists has none (any
    address, enforce)."""
    value = getattr(integration, name)
    if name == "allowed_ips":
        return [str(entry) for entry in value or []]
    if name == "ip_restriction":
        return value or allowlist.ENFORCE
    return value


def _require_admin_for_limits(actor: UserModel) -> None:
    if not is_agency_admin(actor):
        raise Forbidden("Only an agency admin can change an integration's burst limit (burstLimit).")


def delete(actor: UserModel, target: Access, *, own_api: ApiStage | None = None) -> None:
    delete_recorded(actor.id, target)
    authorizer_cache.flush(own_api)


def delete_recorded(actor_id: str, target: Access, details: dict[str, Any] | None = None) -> int:
    """The integration and its tokens go, with an `integration.deleted` event (plus `details`); no
    cache flush (the caller flushes once, also after deleting many). Returns how many of its tokens still
    worked (current unless revoked or expired, previous during its overlap)."""
    owner_model = _owner_model(target.owner)

    def attempt(integration: IntegrationModel) -> int:
        event = audit.new_event(
            "integration.deleted",
            actor_id,
            target.owner,
            {"name": integration.name, "scopes": list(integration.scopes), **(details or {})},
            integration.id,
        )
        now = clock.now()
        working = int(integration.revoked_reason is None and not token_expired(integration, now))
        working += int(rotation_pending(integration, now))
        with audit.recorded_change(event) as tx:
            tx.delete(integration, condition=unchanged_since_read(integration))
            for token_hash in live_hashes(integration):
                tx.delete(TokenModel(token_hash))
            tx.update(owner_model(target.owner.id), actions=[owner_model.integration_count.add(-1)])
        return working

    return until_applied(target, attempt)
