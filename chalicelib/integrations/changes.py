"""One conditioned, recorded transaction for a change of an integration, and how races end.

Every change carries the integration's `version` as read; the answer is built from what was written.
Security actions (delete, rotate now, expire now) re-read and retry; the others have one winner.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.audit import trail as audit
from chalicelib.audit.models import EventModel
from chalicelib.core import clock, db
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.vocabulary import TokenState
from chalicelib.integrations.access import Access, find, not_found
from chalicelib.integrations.models import IntegrationModel
from chalicelib.integrations.views import rotation_pending
from chalicelib.tokens.models import TokenModel

T = TypeVar("T")


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
        return not_found(integration_id)
    return Conflict(
        "The private integration was changed by another request at the same time: fetch it and retry."
    )


SECURITY_ATTEMPTS = 10
# Jittered back-off between attempts, so that racing writers stop colliding: 0-10 ms, then 0-20 ms, ...
RETRY_BASE_SECONDS, RETRY_CAP_SECONDS = 0.01, 0.2


def until_applied(target: Access, attempt: Callable[[IntegrationModel], T]) -> T:
    """Run a security action (delete, rotate now, expire now) until it applies, re-reading each time.

    A token owner who acts on a leak must not fail because a benign change raced: only a deletion (404)
    stops it. Each attempt is a fresh, conditioned transaction, so nothing is applied twice. Bounded:
    after SECURITY_ATTEMPTS lost races (about a second of constant contention) the answer is 409.
    """
    integration = target.integration
    for attempt_number in range(SECURITY_ATTEMPTS):
        try:
            return attempt(integration)
        except db.LostRace:
            ceiling = min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2**attempt_number)
            time.sleep(random.uniform(0, ceiling))  # noqa: S311 - jitter, not a secret
            found = find(integration.id)
            if found is None:
                raise not_found(integration.id) from None
            integration = found
    raise Conflict("The private integration is being changed by many requests at once: retry in a moment.")


def token_expired(integration: IntegrationModel, now: datetime) -> bool:
    """The current token's chosen expiry has passed: TTL may delete its item at any time."""
    return integration.token_expires_at is not None and integration.token_expires_at <= now


def finish_ended_rotation(
    tx: TransactWrite, integration: IntegrationModel, changes: dict[str, Any], now: datetime
) -> None:
    """An overlap that has ended is finished inside the caller's transaction: the old token item goes."""
    if integration.previous_token_hash and not rotation_pending(integration, now):
        tx.delete(
            TokenModel(integration.previous_token_hash),
            condition=(TokenModel.integration_id == integration.id)
            & (TokenModel.state == TokenState.ROTATING),
        )
        changes.update(dict.fromkeys(ROTATION_FIELDS))


ROTATION_FIELDS = (
    "previous_token_hash",
    "previous_token_hint",
    "previous_token_created_at",
    "rotation_started_at",
    "rotation_expires_at",
    "previous_token_expires_at",
)
# Set when the current token was revoked without a rotation (a leak); a rotate or cancel clears them.
REVOCATION_FIELDS = ("revoked_reason", "revoked_at", "leak_url", "leak_source")

