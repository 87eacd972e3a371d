"""The scheduled job (EventBridge, every 15 minutes by default).

1. Finishes rotations whose overlap has passed: the integration forgets the old token, the token item
   is deleted early (not waiting up to 48 h for TTL), and "rotation.completed" is recorded.
2. Records the notices an active token is due for, each once: `token.rotation_recommended` (90 days),
   and for a token with a chosen expiry `token.expiring` (7 days and 1 day before) and
   `token.expired` (at its expiry).
3. Records what the gateway's counts say (usage_notices.py): `token.unused` when a rotating-out token has
   made no request for 24 hours, `integration.idle` after 30 days without one; once each.

Reads are proportional to the work due: it queries the sparse GSI `by-due`, which holds only tokens
with a pending task, spread over DUE_SHARDS partition keys; each query reads only what is due; it never
scans the table. Every write is conditional,
so it is idempotent and safe beside user actions and beside another run. One failing token never
stops the run: it is logged, counted, and still due for the next run.

A notice is claimed and recorded in one transaction: the audit event, and the token marked as notified
on the condition that it was not yet (the claim). Nothing is sent from here: the outbox (audit/outbox.py,
the events table's stream) publishes every audit event to EventBridge, these included, so a notice can
neither be sent without being recorded nor recorded without being sent (no dual write, no lease).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from pynamodb.expressions.update import Action

from chalicelib.audit import trail as audit
from chalicelib.core import clock, config, db, handler_metrics
from chalicelib.core.vocabulary import Owner, OwnerType, TokenState
from chalicelib.integrations import lifecycle, usage_notices
from chalicelib.tokens import authorizer_cache
from chalicelib.tokens.models import (
    DUE_SHARDS,
    DueIndex,
    TokenModel,
    due_buckets,
    next_due,
    pending_notices,
)

log = logging.getLogger("private_integrations.cleanup")
EXPIRY_DAYS_LEFT = {"7d": 7, "1d": 1}


def reminder_id(token: TokenModel, notice: str = "rotation-recommended") -> str:
    """The same for every attempt at one notice of one token (and reveals nothing of the token)."""
    return hashlib.sha256(f"{notice}:{token.token_hash}".encode()).hexdigest()[:32]


def _pending(token: TokenModel) -> list[tuple[str, datetime]]:
    return pending_notices(token.created_at, token.expires_at, token.rotation_notified, token.expiry_notice)


def _notice_event(token: TokenModel, notice: str, now: datetime) -> Any:
    owner = Owner(OwnerType(token.owner_type), token.owner_id, token.agency_id)
    details: dict[str, Any] = {"tokenHint": token.hint}
    if notice == "rotation_recommended":
        event_type = "token.rotation_recommended"
        details.update(
            reminderId=reminder_id(token),
            tokenCreatedAt=clock.iso(token.created_at),
            ageDays=(now - token.created_at).days,
        )
    else:
        event_type = "token.expired" if notice == "expired" else "token.expiring"
        details.update(
            reminderId=reminder_id(token, f"expiry-{notice}"), expiresAt=clock.iso(token.expires_at)
        )
        if notice in EXPIRY_DAYS_LEFT:
            details["daysLeft"] = EXPIRY_DAYS_LEFT[notice]
    return audit.new_event(event_type, lifecycle.SYSTEM_ACTOR, owner, details, token.integration_id)


def _record_notice(token: TokenModel, notice: str, now: datetime) -> bool:
    """One transaction: the notice's audit event, and the token marked, if it was not yet (the claim).
    False when another run or a user action got there first."""
    if notice == "rotation_recommended":
        claim = TokenModel.rotation_notified.does_not_exist() | (TokenModel.rotation_notified == False)  # noqa: E712
        mark: list[Action] = [TokenModel.rotation_notified.set(True)]
        token.rotation_notified = True
    else:
        before = token.expiry_notice
        notice_attribute = TokenModel.expiry_notice
        claim = notice_attribute.does_not_exist() if before is None else notice_attribute == before
        mark = [TokenModel.expiry_notice.set(notice)]
        token.expiry_notice = notice
    due = next_due(_pending(token))
    if due is None:
        mark += [TokenModel.due_bucket.remove(), TokenModel.due_at.remove()]
    else:
        mark.append(TokenModel.due_at.set(due))
    try:
        with audit.recorded_change(_notice_event(token, notice, now)) as tx:
            tx.update(
                TokenModel(token.token_hash),
                actions=mark,
                condition=(TokenModel.state == TokenState.ACTIVE) & claim,
            )
    except db.LostRace:
        return False
    return True


def _notify(token: TokenModel, now: datetime) -> Counter[str]:
    """Every notice now due for an active token. Of the expiry notices only the latest due one is
    recorded (a run that comes after the expiry records `token.expired`, not a late "7 days left")."""
    due = [notice for notice, moment in _pending(token) if moment <= now]
    expiry = [notice for notice in due if notice != "rotation_recommended"]
    counts: Counter[str] = Counter()
    if "rotation_recommended" in due and _record_notice(token, "rotation_recommended", now):
        counts["rotationRemindersSent"] += 1
    if expiry and _record_notice(token, expiry[-1], now):
        counts["expiryNoticesSent"] += 1
    return counts


def _process(token: TokenModel, now: datetime) -> Counter[str]:
    """One due token -> what happened to it (keys of the run's summary)."""
    try:
        if token.state == TokenState.ROTATING:
            if lifecycle.finish_expired_rotation(token, now):
                return Counter(["rotationsCompleted"])
            return usage_notices.check_unused(token, now)
        if token.state == TokenState.ACTIVE:
            return _notify(token, now) or Counter(["skipped"])
    except Exception:
        log.exception(
            "cleanup of one token failed (integration %s); a later run retries it", token.integration_id
        )
        return Counter(["failed"])
    return Counter(["skipped"])


def _drain(bucket: str, now: datetime, should_stop: Callable[[], bool]) -> Counter[str]:
    """Everything due in one shard of the index, until told to stop."""
    counts: Counter[str] = Counter()
    for token in TokenModel.by_due.query(bucket, DueIndex.due_at <= clock.epoch(now)):
        if should_stop():
            counts["stoppedEarly"] = 1
            break
        counts["itemsRead"] += 1
        counts.update(_process(token, now))
    return counts


def run(should_stop: Callable[[], bool] | None = None, *, parallel: bool = True) -> dict[str, int]:
    """One run: every shard of the due index (in parallel), each read only where items are due.

    Finished work leaves the index, so the index itself is how far the last run got: a run that stops
    at its time budget (a long outage's backlog) leaves the rest for the next run, and nothing is done
    twice. A shard that cannot be read does not stop the others; the run then fails at its end, so the
    invocation is reported as failed and the next one reads that shard again.
    """
    now = clock.now()
    stop = should_stop or clock.out_of_time_after(config.settings.cleanup_time_budget_seconds)

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
    try:
        total.update(usage_notices.idle_integrations(now))
    except Exception as error:
        log.exception("cleanup could not read the usage index for idle integrations")
        results.append(error)
    if total["rotationsCompleted"]:
        authorizer_cache.flush()
    summary = {
        key: total[key]
        for key in ("itemsRead", "rotationsCompleted", "rotationRemindersSent", "expiryNoticesSent", "failed")
    }
    # The usage notices (issue 27), when a run sent any.
    summary.update({key: total[key] for key in ("unusedNoticesSent", "idleNoticesSent") if total[key]})
    if total["stoppedEarly"]:
        summary["stoppedEarly"] = 1
    log.info("cleanup %s", json.dumps(summary))
    errors = [r for r in results if isinstance(r, Exception)]
    handler_metrics.cleanup(summary, failed_run=bool(errors))
    if errors:
        raise errors[0]
    return summary
