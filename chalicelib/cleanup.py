"""The scheduled job (EventBridge, every 15 minutes by default).

1. Finishes rotations whose overlap has passed: the integration forgets the old token, the token item
   is deleted early (not waiting up to 48 h for TTL), and "rotation.completed" is recorded.
2. Emits one EventBridge event per token that becomes due for rotation (90 days), once.

Reads are proportional to the work due: it queries the sparse GSI `by-due`, which holds only tokens
with a pending task whose due time has come; it never scans the table. Every write is conditional,
so it is idempotent and safe beside user actions and beside another run.
"""

from __future__ import annotations

import functools
import json
import logging
from datetime import datetime
from typing import Any

from pynamodb.exceptions import TransactWriteError

from chalicelib import audit, authorizer_cache, clock, db, lifecycle
from chalicelib.config import settings
from chalicelib.directory import Owner
from chalicelib.integrations import DUE_BUCKET, epoch
from chalicelib.models import TokenModel
from chalicelib.token_model import DueIndex

log = logging.getLogger("private_integrations.cleanup")
EVENT_SOURCE = "growthhub.private-integrations"
ROTATION_DUE_DETAIL_TYPE = "Private Integration Token Rotation Recommended"


@functools.cache
def _events_client() -> Any:
    import boto3

    return boto3.client("events", region_name=settings.region)


def _publish_rotation_due(token: TokenModel, now: datetime) -> None:
    detail = {
        "integrationId": token.integration_id,
        "ownerType": token.owner_type,
        "ownerId": token.owner_id,
        "agencyId": token.agency_id,
        "tokenHint": token.hint,
        "tokenCreatedAt": clock.iso(token.created_at),
        "ageDays": (now - token.created_at).days,
    }
    response = _events_client().put_events(
        Entries=[
            {
                "Source": EVENT_SOURCE,
                "DetailType": ROTATION_DUE_DETAIL_TYPE,
                "Detail": json.dumps(detail),
                "EventBusName": settings.event_bus_name,
            }
        ]
    )
    if response.get("FailedEntryCount"):
        raise RuntimeError(f"EventBridge refused the event: {response['Entries']}")


def _remind(token: TokenModel, now: datetime) -> bool:
    """Claim the reminder with a conditional write (so it is sent once), then send it."""
    owner = Owner(token.owner_type, token.owner_id, token.agency_id)
    event = audit.new_event(
        "token.rotation_recommended",
        lifecycle.SYSTEM_ACTOR,
        owner,
        {"tokenHint": token.hint},
        token.integration_id,
    )
    try:
        with db.transaction() as tx:
            tx.update(
                TokenModel(token.token_hash),
                actions=[
                    TokenModel.rotation_notified.set(True),
                    TokenModel.due_bucket.remove(),
                    TokenModel.due_at.remove(),
                ],
                condition=(TokenModel.state == "active")
                & (TokenModel.due_at <= epoch(now))
                & (TokenModel.rotation_notified.does_not_exist() | (TokenModel.rotation_notified == False)),  # noqa: E712
            )
            tx.save(event)
    except TransactWriteError:
        return False  # another run, or a rotation, got there first
    try:
        _publish_rotation_due(token, now)
    except Exception as error:
        # Give the claim back so the next run retries; the audit event stays as a record of the attempt.
        log.warning("rotation reminder not sent for %s: %s", token.integration_id, error)
        TokenModel(token.token_hash).update(
            actions=[
                TokenModel.rotation_notified.set(False),
                TokenModel.due_bucket.set(DUE_BUCKET),
                TokenModel.due_at.set(epoch(now)),
            ],
            condition=TokenModel.token_hash.exists() & (TokenModel.state == "active"),
        )
        return False
    return True


def run() -> dict[str, int]:
    now = clock.now()
    read = completed = reminded = 0
    for token in TokenModel.by_due.query(DUE_BUCKET, DueIndex.due_at <= epoch(now)):
        read += 1
        if token.state == "rotating":
            completed += lifecycle.finish_expired_rotation(token, now)
        elif token.state == "active" and not token.rotation_notified:
            reminded += _remind(token, now)
    if completed:
        authorizer_cache.flush()
    summary = {"itemsRead": read, "rotationsCompleted": completed, "rotationRemindersSent": reminded}
    log.info("cleanup %s", json.dumps(summary))
    return summary
