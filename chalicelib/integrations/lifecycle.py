"""Token rotation: rotate (expire later / now), cancel a rotation, expire the old token now.

Each action is one idempotent TransactWriteItems whose conditions pin exactly the state it read: the
integration's `version` plus each token item's state. Two racing actions therefore never both apply.
Rotate-later and cancel keep one-winner semantics (the loser gets 409, or 404 when the integration is
gone). Rotate-now and expire-now are what a user does when a token leaked: they re-read and retry
until they apply (integrations.until_applied), and fail only when the integration is gone.

States of one integration (current token C, previous token P):
    steady   C active, no P (or a P whose overlap has ended: finished inside the next action)
    pending  C active, P rotating until rotationExpiresAt (both authorize during the overlap)
    revoked  C revoked because it leaked (scanning/reports.py), with or without a pending P: rotate
             (later or now) issues a new C; cancel restores P
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.audit import trail as audit
from chalicelib.core import clock, config, db
from chalicelib.core.errors import Conflict, ValidationFailed
from chalicelib.core.vocabulary import TokenState
from chalicelib.directory import sessions
from chalicelib.directory.models import AgencyModel, UserModel
from chalicelib.integrations.access import Access, find, owner_of
from chalicelib.integrations.changes import (
    REVOCATION_FIELDS,
    ROTATION_FIELDS,
    change_actions,
    concurrent_change,
    finish_ended_rotation,
    token_expired,
    unchanged_since_read,
    until_applied,
    write_change,
)
from chalicelib.integrations.models import IntegrationModel
from chalicelib.integrations.usage_notices import unused_due
from chalicelib.integrations.validation import EXPIRY_FIELDS, token_expiry
from chalicelib.integrations.views import last_used, rotation_pending, view
from chalicelib.tokens import allowlist, authorizer_cache, token_text
from chalicelib.tokens.authorizer_cache import ApiStage
from chalicelib.tokens.issuing import new_token_item
from chalicelib.tokens.models import TokenModel, due_bucket, next_due, pending_notices

EXPIRE_CHOICES = ("later", "now")
SYSTEM_ACTOR = "system:cleanup"


def parse_rotate_body(body: dict[str, Any]) -> tuple[str, datetime | None]:
    """(expire, the new token's own expiry or None), or 422 naming every problem."""
    allowed = ("expire", *EXPIRY_FIELDS)
    problems = [
        f"'{key}' is not allowed (allowed: {', '.join(allowed)})" for key in body if key not in allowed
    ]
    expires_at, expiry_problems = token_expiry(body)
    problems.extend(expiry_problems)
    expire = body.get("expire")
    if "expire" not in body:
        problems.append("expire is required: 'later' (keep the old token for the overlap) or 'now'")
    elif not isinstance(expire, str) or expire not in EXPIRE_CHOICES:
        sent = f"'{expire[:40]}'" if isinstance(expire, str) else json.dumps(expire)[:40]
        problems.append(f"expire must be 'later' or 'now', got {sent}")
    if problems:
        raise ValidationFailed(problems)
    return str(expire), expires_at


def _no_rotation_pending(integration: IntegrationModel) -> Conflict:
    if integration.previous_token_hash:
        return Conflict(
            "No rotation is pending: the previous token expired at "
            f"{clock.iso(integration.rotation_expires_at)} and the rotation is complete."
        )
    return Conflict("No rotation is pending for this private integration.")


def rotate(
    actor: UserModel,
    target: Access,
    expire: str,
    *,
    expires_at: datetime | None = None,
    own_api: ApiStage | None = None,
) -> tuple[dict[str, Any], str]:
    """A new current token, shown once, expiring at `expires_at` (None: never). Later: the old one
    keeps working for the overlap. Now: every earlier token of the integration stops working at once
    (also one still rotating out)."""
    plaintext = token_text.generate()
    used = last_used([target.integration])

    def attempt(integration: IntegrationModel) -> IntegrationModel:
        try:
            return _rotate_once(actor, target, integration, expire, plaintext, expires_at)
        except db.LostRace:
            sessions.require_not_ended(actor)  # 401 when a revoke-all ended the session meanwhile
            raise

    if expire == "now":
        updated = until_applied(target, attempt)
        authorizer_cache.flush(own_api)
    else:
        try:
            updated = attempt(target.integration)
        except db.LostRace:
            raise concurrent_change(target.integration.id) from None
    return view(updated, used), plaintext


def _rotate_once(
    actor: UserModel,
    target: Access,
    integration: IntegrationModel,
    expire: str,
    plaintext: str,
    expires_at: datetime | None,
) -> IntegrationModel:
    """One conditioned transaction: the new token item, the integration pointing at it, and the old
    token either rotating out until the overlap ends (later) or gone with any earlier one (now)."""
    now = clock.now()
    # The current token was revoked (it leaked): there is nothing to keep for an overlap.
    revoked = integration.revoked_reason is not None
    if expire == "later" and not revoked and rotation_pending(integration, now):
        raise Conflict(
            "A rotation is already pending: cancel it or expire the old token now before rotating again."
        )
    new_item = new_token_item(
        plaintext,
        integration_id=integration.id,
        owner=target.owner,
        scopes=[str(scope) for scope in integration.scopes],
        created_at=now,
        expires_at=expires_at,
        # The new token is restricted as the integration is (an edit copies it to every live token).
        allowed_ips=[str(entry) for entry in integration.allowed_ips or []],
        ip_restriction=integration.ip_restriction or allowlist.ENFORCE,
        burst_limit=None if integration.burst_limit is None else int(integration.burst_limit),
    )
    changes: dict[str, Any] = {
        "token_hash": new_item.token_hash,
        "token_hint": new_item.hint,
        "token_created_at": now,
        "token_expires_at": expires_at,
        **(dict.fromkeys(REVOCATION_FIELDS) if revoked else {}),
    }
    details: dict[str, Any] = {
        "expire": expire,
        "tokenHint": new_item.hint,
        "previousTokenHint": integration.token_hint,
        "tokenExpiresAt": clock.iso(expires_at),
    }
    # The old token never outlives the expiry its owner chose for it.
    expires = now + timedelta(seconds=config.settings.rotation_overlap_seconds)
    if integration.token_expires_at is not None:
        expires = min(expires, integration.token_expires_at)
    # An old token past its own expiry, or revoked, has nothing to overlap (TTL may have deleted an
    # expired one's item already).
    overlap = expire == "later" and not revoked and not token_expired(integration, now)
    if overlap:
        details["expiresAt"] = clock.iso(expires)
    event = audit.new_event("token.rotated", actor.id, target.owner, details, integration.id)

    def operations(tx: TransactWrite) -> None:
        tx.save(new_item, condition=TokenModel.token_hash.does_not_exist())
        # The fence: no revoke-all ended the actor's session since it was checked.
        tx.condition_check(AgencyModel, target.owner.agency_id, condition=sessions.still_valid(actor))
        if overlap:
            _start_overlap(tx, integration, changes, now, expires)
        elif expire == "later" and revoked:
            # Later, from the revoked state: the dead token goes; a token rotating out keeps its overlap.
            tx.delete(TokenModel(integration.token_hash), condition=TokenModel.state == TokenState.REVOKED)
            finish_ended_rotation(tx, integration, changes, now)
        else:
            _revoke_earlier_tokens(tx, integration, changes)

    return write_change(integration, changes, event, operations)


def _revoke_earlier_tokens(tx: TransactWrite, integration: IntegrationModel, changes: dict[str, Any]) -> None:
    """Compromise: every earlier token stops working now, also one still rotating out."""
    for token_hash in (integration.token_hash, integration.previous_token_hash):
        if token_hash:
            tx.delete(TokenModel(token_hash))
    changes.update(dict.fromkeys(ROTATION_FIELDS))


def _start_overlap(
    tx: TransactWrite,
    integration: IntegrationModel,
    changes: dict[str, Any],
    now: datetime,
    expires: datetime,
) -> None:
    """The current token rotates out until `expires` (finishing an overlap that had already ended)."""
    finish_ended_rotation(tx, integration, changes, now)
    changes.update(
        previous_token_hash=integration.token_hash,
        previous_token_hint=integration.token_hint,
        previous_token_created_at=integration.token_created_at,
        previous_token_expires_at=integration.token_expires_at,
        rotation_started_at=now,
        rotation_expires_at=expires,
    )
    tx.update(
        TokenModel(integration.token_hash),
        actions=[
            TokenModel.state.set(TokenState.ROTATING),
            TokenModel.expires_at.set(expires),
            TokenModel.due_bucket.set(due_bucket(integration.token_hash)),
            # Due 24 hours into the overlap: the cleanup's token.unused check (usage_notices.py).
            TokenModel.due_at.set(unused_due(now, expires)),
        ],
        condition=(TokenModel.integration_id == integration.id) & (TokenModel.state == TokenState.ACTIVE),
    )


def cancel(actor: UserModel, target: Access, *, own_api: ApiStage | None = None) -> dict[str, Any]:
    """More time is needed: the old token is current again with no expiry; the new one is revoked now."""
    integration, now = target.integration, clock.now()
    if not rotation_pending(integration, now):
        raise _no_rotation_pending(integration)
    used = last_used([integration])
    restored_created = integration.previous_token_created_at or now
    try:
        previous = TokenModel.get(integration.previous_token_hash, consistent_read=True)
    except TokenModel.DoesNotExist:
        raise concurrent_change(integration.id) from None
    # The old token is current again with the expiry its owner chose for it (none: no expiry).
    restored_expiry = integration.previous_token_expires_at
    restore: list[Action] = [
        TokenModel.state.set(TokenState.ACTIVE),
        TokenModel.expires_at.set(restored_expiry) if restored_expiry else TokenModel.expires_at.remove(),
    ]
    due = next_due(
        pending_notices(restored_created, restored_expiry, previous.rotation_notified, previous.expiry_notice)
    )
    if due is None:
        restore += [TokenModel.due_bucket.remove(), TokenModel.due_at.remove()]
    else:
        restore += [
            TokenModel.due_bucket.set(due_bucket(integration.previous_token_hash)),
            TokenModel.due_at.set(due),
        ]
    changes: dict[str, Any] = {
        **dict.fromkeys(ROTATION_FIELDS),
        "token_hash": integration.previous_token_hash,
        "token_hint": integration.previous_token_hint,
        "token_created_at": restored_created,
        "token_expires_at": restored_expiry,
        **dict.fromkeys(REVOCATION_FIELDS),  # the restored token was not revoked
    }
    details = {
        "restoredTokenHint": integration.previous_token_hint,
        "revokedTokenHint": integration.token_hint,
    }
    event = audit.new_event("rotation.cancelled", actor.id, target.owner, details, integration.id)

    def operations(tx: TransactWrite) -> None:
        tx.update(
            TokenModel(integration.previous_token_hash),
            actions=restore,
            condition=(TokenModel.integration_id == integration.id)
            & (TokenModel.state == TokenState.ROTATING),
        )
        tx.delete(TokenModel(integration.token_hash))

    revoked_hash = integration.token_hash
    try:
        updated = write_change(integration, changes, event, operations)
    except db.LostRace:
        raise concurrent_change(integration.id) from None
    used.pop(revoked_hash, None)
    authorizer_cache.flush(own_api)
    return view(updated, used)


def expire_now(actor: UserModel, target: Access, *, own_api: ApiStage | None = None) -> dict[str, Any]:
    """The old token stops working now; the rotation is complete."""
    used = last_used([target.integration])

    def attempt(integration: IntegrationModel) -> IntegrationModel:
        if not rotation_pending(integration, clock.now()):
            raise _no_rotation_pending(integration)
        details = {"previousTokenHint": integration.previous_token_hint}
        event = audit.new_event("rotation.expired_now", actor.id, target.owner, details, integration.id)
        previous = TokenModel(integration.previous_token_hash)
        return write_change(
            integration, dict.fromkeys(ROTATION_FIELDS), event, lambda tx: tx.delete(previous)
        )

    updated = until_applied(target, attempt)
    authorizer_cache.flush(own_api)
    return view(updated, used)


def finish_expired_rotation(token: TokenModel, now: datetime) -> bool:
    """Cleanup: the overlap has passed; drop the old token and record it. False if nothing to do."""
    integration = find(token.integration_id)
    # The index is eventually consistent: a user action may have finished this rotation already.
    if integration is None or integration.previous_token_hash != token.token_hash:
        return False
    if rotation_pending(integration, now):
        return False
    event = audit.new_event(
        "rotation.completed",
        SYSTEM_ACTOR,
        owner_of(integration),
        {"reason": "previous token expired", "previousTokenHint": integration.previous_token_hint},
        integration.id,
    )
    try:
        with audit.recorded_change(event) as tx:
            tx.update(
                integration,
                actions=[
                    IntegrationModel.version.add(1),
                    *change_actions(dict.fromkeys(ROTATION_FIELDS)),
                ],
                condition=unchanged_since_read(integration),
            )
            tx.delete(TokenModel(token.token_hash), condition=TokenModel.state == TokenState.ROTATING)
    except db.LostRace:
        return False  # a user action won the race; the next run looks again if anything is left
    return True
