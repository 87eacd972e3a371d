"""Token rotation: rotate (expire later / now), cancel a rotation, expire the old token now.

Each action is one TransactWriteItems whose conditions pin exactly the state it read: the
integration's `version` plus each token item's state. Two racing actions therefore have one winner;
the loser gets 409 (or 404 when the integration is gone) and nothing of it is written.

States of one integration (current token C, previous token P):
    steady   C active, no P
    pending  C active, P rotating until rotationExpiresAt (both authorize during the overlap)
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.update import Action

from chalicelib import audit, authorizer_cache, clock, db, tokens
from chalicelib.config import settings
from chalicelib.errors import Conflict, ValidationFailed
from chalicelib.integrations import (
    DUE_BUCKET,
    Access,
    concurrent_change,
    epoch,
    new_token_item,
    one_winner,
    owner_of,
    reminder_due,
    unchanged_since_read,
    views,
)
from chalicelib.models import IntegrationModel, TokenModel, UserModel

EXPIRE_CHOICES = ("later", "now")
SYSTEM_ACTOR = "system:cleanup"
_ROTATION_FIELDS = (
    IntegrationModel.previous_token_hash,
    IntegrationModel.previous_token_hint,
    IntegrationModel.previous_token_created_at,
    IntegrationModel.rotation_started_at,
    IntegrationModel.rotation_expires_at,
)


def parse_rotate_body(body: dict[str, Any]) -> str:
    problems = [f"'{key}' is not allowed (allowed: expire)" for key in body if key != "expire"]
    expire = body.get("expire")
    if expire not in EXPIRE_CHOICES:
        problems.append("expire is required: 'later' (keep the old token for the overlap) or 'now'")
    if problems:
        raise ValidationFailed(problems)
    return str(expire)


def _result(integration_id: str, plaintext: str | None = None) -> dict[str, Any]:
    integration = IntegrationModel.get(integration_id, consistent_read=True)
    result: dict[str, Any] = {"privateIntegration": views([integration])[0]}
    if plaintext is not None:
        result["token"] = plaintext
    return result


def _pending(integration: IntegrationModel) -> bool:
    return integration.previous_token_hash is not None


def rotate(actor: UserModel, target: Access, expire: str) -> dict[str, Any]:
    integration, now = target.integration, clock.now()
    if expire == "later" and _pending(integration):
        raise Conflict(
            "A rotation is already pending: cancel it or expire the old token now before rotating again."
        )
    plaintext = tokens.generate()
    new_item = new_token_item(integration, plaintext, now)
    old_hint = integration.token_hint
    actions: list[Action] = [
        IntegrationModel.token_hash.set(new_item.token_hash),
        IntegrationModel.token_hint.set(tokens.hint(plaintext)),
        IntegrationModel.token_created_at.set(now),
        IntegrationModel.updated_at.set(now),
        IntegrationModel.version.add(1),
    ]
    details: dict[str, Any] = {
        "expire": expire,
        "tokenHint": tokens.hint(plaintext),
        "previousTokenHint": old_hint,
    }
    if expire == "later":
        expires = now + timedelta(seconds=settings.rotation_overlap_seconds)
        actions += [
            IntegrationModel.previous_token_hash.set(integration.token_hash),
            IntegrationModel.previous_token_hint.set(old_hint),
            IntegrationModel.previous_token_created_at.set(integration.token_created_at),
            IntegrationModel.rotation_started_at.set(now),
            IntegrationModel.rotation_expires_at.set(expires),
        ]
        details["expiresAt"] = clock.iso(expires)
    else:
        actions += [field.remove() for field in _ROTATION_FIELDS]

    with one_winner(integration.id) as tx:
        tx.update(integration, actions=actions, condition=unchanged_since_read(integration))
        tx.save(new_item, condition=TokenModel.token_hash.does_not_exist())
        current = TokenModel(integration.token_hash)
        if expire == "later":
            tx.update(
                current,
                actions=[
                    TokenModel.state.set("rotating"),
                    TokenModel.expires_at.set(expires),
                    TokenModel.due_bucket.set(DUE_BUCKET),
                    TokenModel.due_at.set(epoch(expires)),
                ],
                condition=(TokenModel.integration_id == integration.id) & (TokenModel.state == "active"),
            )
        else:
            # Compromise: every earlier token stops working now, also one still rotating out.
            tx.delete(current)
            if integration.previous_token_hash:
                tx.delete(TokenModel(integration.previous_token_hash))
        tx.save(audit.new_event("token.rotated", actor.id, target.owner, details, integration.id))
    if expire == "now":
        authorizer_cache.flush()
    return _result(integration.id, plaintext)


def _require_pending(integration: IntegrationModel) -> None:
    if not _pending(integration):
        raise Conflict("No rotation is pending for this private integration.")


def cancel(actor: UserModel, target: Access) -> dict[str, Any]:
    """More time is needed: the old token is current again with no expiry; the new one is revoked now."""
    integration, now = target.integration, clock.now()
    _require_pending(integration)
    if integration.rotation_expires_at is not None and integration.rotation_expires_at <= now:
        raise Conflict(
            "The rotation has already completed: the previous token expired and cannot be restored."
        )
    restored_created = integration.previous_token_created_at or now
    notified_already = False
    try:
        previous = TokenModel.get(integration.previous_token_hash, consistent_read=True)
        notified_already = bool(previous.rotation_notified)
    except TokenModel.DoesNotExist:
        raise concurrent_change(integration.id) from None
    restore: list[Action] = [TokenModel.state.set("active"), TokenModel.expires_at.remove()]
    if notified_already:
        restore += [TokenModel.due_bucket.remove(), TokenModel.due_at.remove()]
    else:
        restore += [
            TokenModel.due_bucket.set(DUE_BUCKET),
            TokenModel.due_at.set(reminder_due(restored_created)),
        ]
    actions: list[Action] = [
        IntegrationModel.token_hash.set(integration.previous_token_hash),
        IntegrationModel.token_hint.set(integration.previous_token_hint),
        IntegrationModel.token_created_at.set(restored_created),
        IntegrationModel.updated_at.set(now),
        IntegrationModel.version.add(1),
        *[field.remove() for field in _ROTATION_FIELDS],
    ]
    details = {
        "restoredTokenHint": integration.previous_token_hint,
        "revokedTokenHint": integration.token_hint,
    }

    with one_winner(integration.id) as tx:
        tx.update(integration, actions=actions, condition=unchanged_since_read(integration))
        tx.update(
            TokenModel(integration.previous_token_hash),
            actions=restore,
            condition=(TokenModel.integration_id == integration.id) & (TokenModel.state == "rotating"),
        )
        tx.delete(TokenModel(integration.token_hash))
        tx.save(audit.new_event("rotation.cancelled", actor.id, target.owner, details, integration.id))
    authorizer_cache.flush()
    return _result(integration.id)


def expire_now(actor: UserModel, target: Access) -> dict[str, Any]:
    """The old token stops working now; the rotation is complete."""
    integration, now = target.integration, clock.now()
    _require_pending(integration)
    actions: list[Action] = [
        IntegrationModel.updated_at.set(now),
        IntegrationModel.version.add(1),
        *[field.remove() for field in _ROTATION_FIELDS],
    ]
    details = {"previousTokenHint": integration.previous_token_hint}

    with one_winner(integration.id) as tx:
        tx.update(integration, actions=actions, condition=unchanged_since_read(integration))
        tx.delete(TokenModel(integration.previous_token_hash))
        tx.save(audit.new_event("rotation.expired_now", actor.id, target.owner, details, integration.id))
    authorizer_cache.flush()
    return _result(integration.id)


def finish_expired_rotation(token: TokenModel, now: datetime) -> bool:
    """Cleanup: the overlap has passed; drop the old token and record it. False if nothing to do."""
    try:
        integration = IntegrationModel.get(token.integration_id, consistent_read=True)
    except IntegrationModel.DoesNotExist:
        integration = None
    # The index is eventually consistent: a user action may have finished this rotation already.
    if integration is None or integration.previous_token_hash != token.token_hash:
        return False
    if integration.rotation_expires_at is None or integration.rotation_expires_at > now:
        return False
    event = audit.new_event(
        "rotation.completed",
        SYSTEM_ACTOR,
        owner_of(integration),
        {"reason": "previous token expired", "previousTokenHint": integration.previous_token_hint},
        integration.id,
    )
    try:
        with db.transaction() as tx:
            tx.update(
                integration,
                actions=[IntegrationModel.version.add(1), *[field.remove() for field in _ROTATION_FIELDS]],
                condition=unchanged_since_read(integration),
            )
            tx.delete(TokenModel(token.token_hash), condition=TokenModel.state == "rotating")
            tx.save(event)
    except TransactWriteError:
        return False  # a user action won the race; the next run looks again if anything is left
    return True
