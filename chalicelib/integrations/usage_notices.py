"""What the gateway's counts tell the cleanup: `token.unused` and `integration.idle`, each recorded once.

- `token.unused`: a rotating-out token has had no request for 24 hours (since the rotation began, or
  since its last request as the rotating-out token). The token is in the cleanup's due index from its
  rotation on, due 24 hours after the rotation; each visit either records the notice (claimed on the
  token item: `unusedNotified`, with the audit event in one transaction) or moves the token's `dueAt` to
  24 hours after its last use. The end of the overlap stays its last due time.
- `integration.idle`: 30 days without a request by either token. The aggregator keeps each integration's
  usage summary in the sparse index `by-quiet` at `quietAt` = the end of the hour of its last use + 30
  days (never early); the cleanup records
  the notice and takes the summary out of the index in one transaction, conditioned on the `quietAt` it
  read (a request counted meanwhile moved it: no notice). The next request puts it back, so each quiet
  stretch is reported once. An integration that was never used is not reported (nothing went quiet).

The notices are audit events: the outbox publishes them (docs/events.md), like every other.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from datetime import datetime, timedelta

from pynamodb.expressions.update import Action

from chalicelib.audit import trail as audit
from chalicelib.core import clock, db
from chalicelib.core.vocabulary import TokenState
from chalicelib.integrations.access import find, owner_of
from chalicelib.integrations.models import IntegrationModel
from chalicelib.tokens.models import TokenModel
from chalicelib.usage import report
from chalicelib.usage.models import QUIET_SHARDS, SUMMARY, QuietIndex, UsageModel

log = logging.getLogger("private_integrations.cleanup")
UNUSED_AFTER = timedelta(hours=24)
IDLE_AFTER = timedelta(days=30)
SYSTEM_ACTOR = "system:cleanup"


def unused_due(rotation_started: datetime, expires: datetime) -> int:
    """The rotating-out token's first `dueAt`: 24 hours into the rotation (or its end, if sooner)."""
    return clock.epoch(min(rotation_started + UNUSED_AFTER, expires))


def _summary(integration_id: str) -> UsageModel | None:
    try:
        return UsageModel.get(integration_id, SUMMARY, consistent_read=True)
    except UsageModel.DoesNotExist:
        return None


def _notice_id(kind: str, key: str) -> str:
    return hashlib.sha256(f"{kind}:{key}".encode()).hexdigest()[:32]


def check_unused(token: TokenModel, now: datetime) -> Counter[str]:
    """A rotating-out token still in its overlap: record `token.unused` if it is due, else move its
    `dueAt` to when it could be. Raises db.Unavailable (the run logs it; the token stays due)."""
    integration = find(token.integration_id)
    expires = token.expires_at
    if integration is None or integration.previous_token_hash != token.token_hash or expires is None:
        return Counter(["skipped"])  # the rotation ended in a user action meanwhile
    started = integration.rotation_started_at or now
    last = report.last_use_since(integration.id, "previous", started)
    quiet_since = last or started
    due = quiet_since + UNUSED_AFTER
    if due > now:
        _move_due(token, min(due, expires))
        return Counter(["skipped"])
    if _record_unused(token, integration, started, last, now):
        return Counter(["unusedNoticesSent"])
    _move_due(token, expires)  # recorded already (by another run): only the overlap's end is left
    return Counter(["skipped"])


def _move_due(token: TokenModel, when: datetime) -> None:
    try:
        token.update(
            actions=[TokenModel.due_at.set(clock.epoch(when))],
            condition=TokenModel.state == TokenState.ROTATING,
        )
    except Exception as error:  # gone or no longer rotating: nothing left to do for it here
        if db.is_unavailable(error):
            raise


def _record_unused(
    token: TokenModel, integration: IntegrationModel, started: datetime, last: datetime | None, now: datetime
) -> bool:
    expires = token.expires_at
    details = {
        "noticeId": _notice_id("unused", token.token_hash),
        "tokenHint": token.hint,
        "rotationStartedAt": clock.iso(started),
        "lastUsedAt": clock.iso(last),
        "expiresAt": clock.iso(expires),
    }
    event = audit.new_event("token.unused", SYSTEM_ACTOR, owner_of(integration), details, integration.id)
    try:
        with audit.recorded_change(event) as tx:
            tx.update(
                TokenModel(token.token_hash),
                actions=[
                    TokenModel.unused_notified.set(True),
                    TokenModel.due_at.set(clock.epoch(expires or now)),
                ],
                condition=(TokenModel.state == TokenState.ROTATING)
                & TokenModel.unused_notified.does_not_exist(),
            )
    except db.LostRace:
        return False
    return True


def _quiet_buckets() -> list[str]:
    return [f"quiet#{shard:02d}" for shard in range(QUIET_SHARDS)]


def idle_integrations(now: datetime) -> Counter[str]:
    """Every integration whose last request is 30 days old and not yet reported: `integration.idle`."""
    counts: Counter[str] = Counter()
    for bucket in _quiet_buckets():
        for entry in UsageModel.by_quiet.query(bucket, QuietIndex.quiet_at <= clock.epoch(now)):
            try:
                counts.update(_idle(entry.integration_id, now))
            except Exception:
                log.exception(
                    "idle check of integration %s failed; a later run retries it", entry.integration_id
                )
                counts["failed"] += 1
    return counts


def _idle(integration_id: str, now: datetime) -> Counter[str]:
    summary = _summary(integration_id)
    if summary is None or summary.quiet_at is None or summary.quiet_at > clock.epoch(now):
        return Counter(["skipped"])  # used again since the index was read
    read_quiet_at = summary.quiet_at
    leave_index: list[Action] = [UsageModel.quiet_bucket.remove(), UsageModel.quiet_at.remove()]
    unchanged = UsageModel.quiet_at == read_quiet_at
    integration = find(integration_id)
    if integration is None:  # deleted: nothing to tell anyone
        try:
            summary.update(actions=leave_index, condition=unchanged)
        except Exception as error:
            if db.is_unavailable(error):
                raise
        return Counter(["skipped"])
    last = report.newest_use(integration_id)
    details = {
        "noticeId": _notice_id("idle", f"{integration_id}:{read_quiet_at}"),
        "lastUsedAt": clock.iso(last),
        "idleDays": IDLE_AFTER.days,
    }
    event = audit.new_event("integration.idle", SYSTEM_ACTOR, owner_of(integration), details, integration_id)
    try:
        with audit.recorded_change(event) as tx:
            tx.update(
                UsageModel(integration_id, SUMMARY),
                actions=[*leave_index, UsageModel.idle_notice_for.set(read_quiet_at)],
                condition=unchanged,
            )
    except db.LostRace:
        return Counter(["skipped"])
    return Counter(["idleNoticesSent"])
