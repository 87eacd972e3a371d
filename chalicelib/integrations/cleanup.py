"""The scheduled job (EventBridge, every 15 minutes by default).

1. Finishes rotations whose overlap has passed: the integration forgets the old token, the token item
   is deleted early (not waiting up to 48 h for TTL), and "rotation.completed" is recorded.
2. Emits one EventBridge event per token that becomes due for rotation (90 days), at least once.

Reads are proportional to the work due: it queries the sparse GSI `by-due`, which holds only tokens
with a pending task, spread over DUE_SHARDS partition keys; each query reads only what is due; it never
scans the table. Every write is conditional,
so it is idempotent and safe beside user actions and beside another run. One failing token never
stops the run: it is logged, counted, and still due for the next run.

A reminder is claimed, sent, then recorded. The claim moves the token's `dueAt` a lease ahead, so if
the event cannot be sent or recorded the token is due again when the lease ends and the next run
sends it again, with the same `reminderId` in its detail for consumers to drop duplicates.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from chalicelib.audit import trail as audit
from chalicelib.core import app_metrics, clock, config, db
from chalicelib.core.vocabulary import Owner, OwnerType, TokenState
from chalicelib.integrations import lifecycle
from chalicelib.tokens import authorizer_cache
from chalicelib.tokens.model import DUE_SHARDS, DueIndex, TokenModel, due_buckets

log = logging.getLogger("private_integrations.cleanup")
EVENT_SOURCE = "growthhub.private-integrations"
ROTATION_DUE_DETAIL_TYPE = "Private Integration Token Rotation Recommended"
REMINDER_LEASE_SECONDS = 300


@functools.cache
def _events_client() -> Any:
    import boto3

    return boto3.client("events", region_name=config.settings.region)


def reminder_id(token: TokenModel) -> str:
    """The same for every attempt at one token's reminder (and reveals nothing of the token)."""
    return hashlib.sha256(f"rotation-recommended:{token.token_hash}".encode()).hexdigest()[:32]


def _publish_rotation_due(token: TokenModel, now: datetime) -> None:
    detail = {
        "reminderId": reminder_id(token),
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
                "EventBusName": config.settings.event_bus_name,
            }
        ]
    )
    if response.get("FailedEntryCount"):
        raise RuntimeError(f"EventBridge refused the event: {response['Entries']}")


def _claimed_by(token_hash: str, claim: str) -> bool:
    try:
        return TokenModel.get(token_hash, consistent_read=True).reminder_claim == claim
    except TokenModel.DoesNotExist:
        return False


def _claim(token: TokenModel, now: datetime) -> str | None:
    """Take the reminder for this run for a lease; None if another run holds it or it is no longer due."""
    claim = uuid.uuid4().hex
    try:
        with db.idempotent_transaction(lambda: _claimed_by(token.token_hash, claim)) as tx:
            tx.update(
                TokenModel(token.token_hash),
                actions=[
                    TokenModel.reminder_claim.set(claim),
                    TokenModel.due_at.set(clock.epoch(now) + REMINDER_LEASE_SECONDS),
                ],
                condition=(TokenModel.state == TokenState.ACTIVE)
                & (TokenModel.due_at <= clock.epoch(now))
                & (TokenModel.rotation_notified.does_not_exist() | (TokenModel.rotation_notified == False)),  # noqa: E712
            )
    except db.LostRace:
        return None
    return claim


def _record_sent(token: TokenModel, claim: str) -> None:
    owner = Owner(OwnerType(token.owner_type), token.owner_id, token.agency_id)
    event = audit.new_event(
        "token.rotation_recommended",
        lifecycle.SYSTEM_ACTOR,
        owner,
        {"tokenHint": token.hint, "reminderId": reminder_id(token)},
        token.integration_id,
    )
    try:
        with audit.recorded_change(event) as tx:
            tx.update(
                TokenModel(token.token_hash),
                actions=[
                    TokenModel.rotation_notified.set(True),
                    TokenModel.reminder_claim.remove(),
                    TokenModel.due_bucket.remove(),
                    TokenModel.due_at.remove(),
                ],
                condition=TokenModel.reminder_claim == claim,
            )
    except db.LostRace:
        # The token was revoked or rotated meanwhile: the event went out, nothing is left to record.
        log.info("reminder for %s sent; the token changed before it was recorded", token.integration_id)


def _remind(token: TokenModel, now: datetime) -> bool:
    claim = _claim(token, now)
    if claim is None:
        return False  # another run holds it, or a rotation got there first
    _publish_rotation_due(token, now)  # on failure the lease runs out and the next run sends it
    _record_sent(token, claim)
    return True


def _process(token: TokenModel, now: datetime) -> str:
    """One due token -> what happened to it (a key of the run's summary)."""
    try:
        if token.state == TokenState.ROTATING:
            return "rotationsCompleted" if lifecycle.finish_expired_rotation(token, now) else "skipped"
        if token.state == TokenState.ACTIVE and not token.rotation_notified:
            return "rotationRemindersSent" if _remind(token, now) else "skipped"
    except Exception:
        log.exception(
            "cleanup of one token failed (integration %s); a later run retries it", token.integration_id
        )
        return "failed"
    return "skipped"


def _drain(bucket: str, now: datetime, should_stop: Callable[[], bool]) -> Counter[str]:
    """Everything due in one shard of the index, until told to stop."""
    counts: Counter[str] = Counter()
    for token in TokenModel.by_due.query(bucket, DueIndex.due_at <= clock.epoch(now)):
        if should_stop():
            counts["stoppedEarly"] = 1
            break
        counts["itemsRead"] += 1
        counts[_process(token, now)] += 1
    return counts


def _time_budget() -> Callable[[], bool]:
    deadline = time.monotonic() + config.settings.cleanup_time_budget_seconds
    return lambda: time.monotonic() >= deadline


def run(should_stop: Callable[[], bool] | None = None, *, parallel: bool = True) -> dict[str, int]:
    """One run: every shard of the due index (in parallel), each read only where items are due.

    Finished work leaves the index, so the index itself is how far the last run got: a run that stops
    at its time budget (a long outage's backlog) leaves the rest for the next run, and nothing is done
    twice. A shard that cannot be read does not stop the others; the run then fails at its end, so the
    invocation is reported as failed and the next one reads that shard again.
    """
    now = clock.now()
    stop = should_stop or _time_budget()

    def drain(bucket: str) -> Counter[str] | Exception:
        try:
            return _drain(bucket, now, stop)
        except Exception as error:
            log.exception("cleanup could not read %s of the due index", bucket)
            return error

    if parallel:
        with ThreadPoolExecutor(max_workers=DUE_SHARDS) as pool:
            results = list(pool.map(drain, due_buckets()))
    else:
        results = [drain(bucket) for bucket in due_buckets()]
    total: Counter[str] = sum((r for r in results if isinstance(r, Counter)), Counter())
    if total["rotationsCompleted"]:
        authorizer_cache.flush()
    summary = {
        key: total[key] for key in ("itemsRead", "rotationsCompleted", "rotationRemindersSent", "failed")
    }
    if total["stoppedEarly"]:
        summary["stoppedEarly"] = 1
    log.info("cleanup %s", json.dumps(summary))
    errors = [r for r in results if isinstance(r, Exception)]
    app_metrics.cleanup(summary, failed_run=bool(errors))
    if errors:
        raise errors[0]
    return summary
