"""Access-log lines -> the usage table. Deployed: the Lambda behind the access log group's subscription
filter (`handle_log_subscription`); `make run`: local/usage_poller.py with the lines of its log file.

Each batch is summed in memory first: one write per integration and hour for the counters (UpdateItem
ADD, with that hour's last use SET when newer), and one conditional write per integration and token
role for the integration's last use. The number of writes follows the number of integrations active
in a batch, never the number of requests.

Counting is **at-least-once**: a batch whose write fails raises after every other key was written, and
Lambda's asynchronous retries deliver the whole batch again, so the keys that were written the first time
are counted twice. Never a request: the request was answered before its line was written.
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import PutError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from chalicelib.core import clock, emf
from chalicelib.usage import access_log
from chalicelib.usage.access_log import Request
from chalicelib.usage.models import (
    QUIET_SHARDS,
    SUMMARY,
    UsageModel,
    counter,
    hour_key,
    last_attributes,
)

log = logging.getLogger("private_integrations.usage")
RETENTION = timedelta(days=90)
IDLE_AFTER = timedelta(days=30)


@dataclass
class LastUse:
    at_ms: int
    ip: str
    user_agent: str

    def newer(self, request: Request) -> LastUse:
        if request.at_ms >= self.at_ms:
            return LastUse(request.at_ms, request.ip, request.user_agent)
        return self


@dataclass
class Tally:
    """One integration's requests in one hour of one batch."""

    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    last: dict[str, LastUse] = field(default_factory=dict)

    def add(self, request: Request) -> None:
        key = (request.role, request.outcome)
        self.counts[key] = self.counts.get(key, 0) + 1
        if request.outside_allowlist:
            outside = (request.role, access_log.OUTSIDE_ALLOWLIST)
            self.counts[outside] = self.counts.get(outside, 0) + 1
        known = self.last.get(request.role)
        self.last[request.role] = (
            known.newer(request) if known else LastUse(request.at_ms, request.ip, request.user_agent)
        )


def hour_of(at_ms: int) -> str:
    return datetime.fromtimestamp(at_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H")


def tally(requests: Iterable[Request]) -> dict[tuple[str, str], Tally]:
    """(integration id, hour) -> what the batch saw."""
    found: dict[tuple[str, str], Tally] = {}
    for request in requests:
        found.setdefault((request.integration_id, hour_of(request.at_ms)), Tally()).add(request)
    return found


def _quiet_bucket(integration_id: str) -> str:
    shard = sum(integration_id.encode()) % QUIET_SHARDS
    return f"quiet#{shard:02d}"


def _write_hour(integration_id: str, hour: str, counts: Tally) -> None:
    hour_start = datetime.strptime(hour, "%Y-%m-%dT%H").replace(tzinfo=UTC)
    item = UsageModel(integration_id, hour_key(hour))
    adds = [counter(role, outcome).add(n) for (role, outcome), n in sorted(counts.counts.items())]
    keep = UsageModel.expires_at.set(hour_start + timedelta(hours=1) + RETENTION)
    sets: list[Action] = []
    condition: Condition | None = None
    for role, last in sorted(counts.last.items()):
        at, ip, agent = last_attributes(role)
        sets += [at.set(last.at_ms), ip.set(last.ip), agent.set(last.user_agent)]
        newer = at.does_not_exist() | (at < last.at_ms)
        condition = newer if condition is None else condition & newer
    try:
        item.update(actions=[*adds, keep, *sets], condition=condition)
    except UpdateError as error:
        if not _condition_failed(error):
            raise
        item.update(actions=[*adds, keep])  # an older line than the hour's last use: counts only


def _write_last(integration_id: str, role: str, last: LastUse) -> None:
    """The integration's last use by this role, if newer than the stored one; moves it in by-quiet."""
    at, ip, agent = last_attributes(role)
    quiet_at = clock.epoch(datetime.fromtimestamp(last.at_ms / 1000, tz=UTC) + IDLE_AFTER)
    actions: list[Action] = [
        at.set(last.at_ms),
        ip.set(last.ip),
        agent.set(last.user_agent),
        UsageModel.quiet_bucket.set(_quiet_bucket(integration_id)),
    ]
    # The idle notice is due 30 days after the latest use of either token: quietAt only moves later.
    condition = (at.does_not_exist() | (at < last.at_ms)) & (
        UsageModel.quiet_at.does_not_exist() | (UsageModel.quiet_at < quiet_at)
    )
    try:
        UsageModel(integration_id, SUMMARY).update(
            actions=[*actions, UsageModel.quiet_at.set(quiet_at)], condition=condition
        )
    except UpdateError as error:
        if not _condition_failed(error):
            raise
        try:  # newer than this role's last use, but another role's was later: keep its quietAt
            UsageModel(integration_id, SUMMARY).update(
                actions=actions[:3], condition=at.does_not_exist() | (at < last.at_ms)
            )
        except UpdateError as again:
            if not _condition_failed(again):
                raise


def _condition_failed(error: UpdateError | PutError) -> bool:
    return getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException"


def apply(lines: Iterable[tuple[str, int]]) -> dict[str, int]:
    """(line, the log event's timestamp in ms) -> written. Raises after trying every key if any failed."""
    requests = [r for r in (access_log.parse(text, at) for text, at in lines) if r is not None]
    tallies = tally(requests)
    failed: list[Exception] = []
    writes = 0
    latest: dict[tuple[str, str], LastUse] = {}
    for (integration_id, hour), counts in tallies.items():
        try:
            _write_hour(integration_id, hour, counts)
            writes += 1
        except Exception as error:
            log.warning("usage of %s at %s not counted: %s", integration_id, hour, type(error).__name__)
            failed.append(error)
            continue
        for role, last in counts.last.items():
            known = latest.get((integration_id, role))
            latest[(integration_id, role)] = last if known is None or last.at_ms >= known.at_ms else known
    for (integration_id, role), last in latest.items():
        try:
            _write_last(integration_id, role, last)
            writes += 1
        except Exception as error:
            log.warning("last use of %s not written: %s", integration_id, type(error).__name__)
            failed.append(error)
    summary = {"requests": len(requests), "keys": len(tallies), "writes": writes, "failed": len(failed)}
    emf.usage(summary)
    if failed:
        raise failed[0]
    return summary


def decode_subscription(event: dict[str, Any]) -> list[tuple[str, int]]:
    """A CloudWatch Logs subscription's Lambda event -> (message, timestamp ms) per log event."""
    payload = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    if payload.get("messageType") != "DATA_MESSAGE":
        return []  # CONTROL_MESSAGE: CloudWatch Logs checking the destination
    return [(entry["message"], int(entry.get("timestamp", 0))) for entry in payload.get("logEvents", [])]


def handle_log_subscription(event: dict[str, Any]) -> dict[str, int]:
    return apply(decode_subscription(event))
