"""Access-log lines -> the usage table. Deployed: the Lambda processor of the access log's Firehose stream
(`handle_firehose`); `make run`: local/usage_poller.py with the lines of its log file.

Each batch is summed in memory first: one write per integration and hour for the counters (UpdateItem
ADD, with that hour's last use SET when newer), and one conditional write per integration and token
role for the integration's last use. The number of writes follows the number of integrations active
in a batch, never the number of requests.

Caller addresses (issue 28's "addresses seen"): one more UpdateItem per integration and UTC day, and only
when the batch brings an address this container has not written for that day yet (`_Seen`, in memory),
never once the day's set is known full (ADDRESSES_PER_DAY). It is separate from the counters: a full set
(its condition fails) or a failed address write never blocks or fails counting. Best effort: a failed
address write is not retried by Firehose (the batch does not fail for it); the address is written again
by the next batch that brings it.

Counting is **at-least-once**: a batch whose counter write fails raises after every other key was
written, and Firehose calls the processor again with the whole batch (twice at most), so the keys that
were written the first time are counted twice. Never a request: the request was answered before its
line was written. After the retries the batch is not counted (its lines are kept in S3).
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import PutError, UpdateError
from pynamodb.expressions.condition import Condition, size
from pynamodb.expressions.update import Action

from chalicelib.core import clock, emf
from chalicelib.tokens.address_match import caller
from chalicelib.usage import access_log
from chalicelib.usage.access_log import Request
from chalicelib.usage.models import (
    ADDRESSES_PER_DAY,
    QUIET_SHARDS,
    SUMMARY,
    UsageModel,
    counter,
    day_key,
    hour_key,
    last_attributes,
)

log = logging.getLogger("private_integrations.usage")
RETENTION = timedelta(days=90)
IDLE_AFTER = timedelta(days=30)
WRITERS = 16  # usage-table writes in flight per batch (a batch's duration, so the Lambda's concurrency)


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


def _write_hour(integration_id: str, hour: str, counts: Tally) -> bool:
    """The hour's counters and last uses; True when this was the hour's first write (its item is new)."""
    hour_start = datetime.strptime(hour, "%Y-%m-%dT%H").replace(tzinfo=UTC)
    item = UsageModel(integration_id, hour_key(hour))
    adds = [counter(role, outcome).add(n) for (role, outcome), n in sorted(counts.counts.items())]
    adds.append(UsageModel.writes.add(1))
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
    return item.writes == 1


def _write_last(integration_id: str, role: str, last: LastUse) -> None:
    """The integration's last use by this role, if newer than the stored one; moves it in by-quiet to
    30 days after the end of the hour (never early: later requests of the hour do not write here)."""
    at, ip, agent = last_attributes(role)
    hour_end = datetime.fromtimestamp(last.at_ms / 1000, tz=UTC).replace(minute=0, second=0, microsecond=0)
    quiet_at = clock.epoch(hour_end + timedelta(hours=1) + IDLE_AFTER)
    actions: list[Action] = [
        at.set(last.at_ms),
        ip.set(last.ip),
        agent.set(last.user_agent),
        UsageModel.quiet_bucket.set(_quiet_bucket(integration_id)),
    ]
    # The idle notice is due 30 days after the latest use of either token: quietAt only moves later.
    condition = (at.does_not_exist() | (at < last.at_ms)) & (
        UsageModel.quiet_at.does_not_exist() | (UsageModel.quiet_at <= quiet_at)
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


class _Seen:
    """Per container: (integration id, day) -> the addresses its set is known to hold (as the last write
    returned them, other containers' too), and the days whose set is known full. Bounded: forgotten
    wholesale past KEYS (the cost of forgetting: one write per integration-day again)."""

    KEYS = 20_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[tuple[str, str], frozenset[str]] = {}
        self._full: set[tuple[str, str]] = set()

    def new(self, key: tuple[str, str], addresses: set[str]) -> list[str]:
        """The addresses worth a write: none when the set is full, else those not known to be in it."""
        with self._lock:
            if key in self._full:
                return []
            return sorted(addresses - self._known.get(key, frozenset()))

    def learn(self, key: tuple[str, str], stored: set[str], full: bool = False) -> None:
        with self._lock:
            if len(self._known) + len(self._full) >= self.KEYS:
                self._known.clear()
                self._full.clear()
            self._known[key] = frozenset(stored)
            if full or len(stored) >= ADDRESSES_PER_DAY:
                self._full.add(key)

    def forget(self) -> None:
        """Know nothing (tests: a new world's table holds no address set)."""
        with self._lock:
            self._known.clear()
            self._full.clear()


SEEN = _Seen()


def day_of(at_ms: int) -> str:
    return datetime.fromtimestamp(at_ms / 1000, tz=UTC).strftime("%Y-%m-%d")


def addresses_of(requests: Iterable[Request]) -> dict[tuple[str, str], set[str]]:
    """(integration id, day) -> the batch's caller addresses (valid IPv4 or IPv6 ones only)."""
    found: dict[tuple[str, str], set[str]] = {}
    for request in requests:
        if caller(request.ip) is not None:
            found.setdefault((request.integration_id, day_of(request.at_ms)), set()).add(request.ip)
    return found


def _add_addresses(item: UsageModel, addresses: list[str], keep: Action) -> bool:
    """ADD `addresses` if the set then holds at most ADDRESSES_PER_DAY; False when it would not."""
    fits = UsageModel.addresses.does_not_exist() | (
        size(UsageModel.addresses) <= ADDRESSES_PER_DAY - len(addresses)
    )
    try:
        item.update(actions=[UsageModel.addresses.add(set(addresses)), keep], condition=fits)
    except UpdateError as error:
        if not _condition_failed(error):
            raise
        return False
    return True


def _write_addresses(integration_id: str, day: str, addresses: list[str]) -> bool:
    """The day's new addresses, never past ADDRESSES_PER_DAY: all of them if they fit, else (one GetItem
    to know the room) as many as still fit. True when the set was written."""
    key = (integration_id, day)
    addresses = addresses[:ADDRESSES_PER_DAY]  # a new set holds no more either
    day_end = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC) + timedelta(days=1)
    keep = UsageModel.expires_at.set(day_end + RETENTION)
    item = UsageModel(integration_id, day_key(day))
    if _add_addresses(item, addresses, keep):
        SEEN.learn(key, item.addresses or set())
        return True
    try:
        stored = UsageModel.get(integration_id, day_key(day), consistent_read=True).addresses or set()
    except UsageModel.DoesNotExist:
        stored = set()
    room = max(ADDRESSES_PER_DAY - len(stored), 0)
    rest = sorted(set(addresses) - stored)[:room]
    if rest and _add_addresses(item, rest, keep):
        SEEN.learn(key, item.addresses or set())
        return True
    # Full (or filled by another container meanwhile: as good as full for this day).
    SEEN.learn(key, stored, full=bool(rest) or len(stored) >= ADDRESSES_PER_DAY)
    return False


def _condition_failed(error: UpdateError | PutError) -> bool:
    return getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException"


def _each(writes: list[tuple[Any, ...]], write: Any) -> list[Any]:
    """Run `write(*args)` for every entry, WRITERS at a time: what each returned, or its error."""

    def one(args: tuple[Any, ...]) -> Any:
        try:
            return write(*args)
        except Exception as error:
            log.warning("usage of %s not written: %s", args[0], type(error).__name__)
            return error

    if len(writes) <= 1:
        return [one(args) for args in writes]
    with ThreadPoolExecutor(max_workers=min(WRITERS, len(writes))) as pool:
        return list(pool.map(one, writes))


def apply(lines: Iterable[tuple[str, int]]) -> dict[str, int]:
    """(line, the log event's timestamp in ms) -> written. Raises after trying every key if any failed.

    First each integration's hour counters, then, for an hour this batch wrote first, the integration's
    summary (a reader sees a count before the summary that came with it); WRITERS writes at a time. A
    failed counter write fails the batch (the retry counts it; keys already written count twice); a
    failed summary write does not (the next hour's first batch writes it again; the exact last use is
    in the hour item)."""
    requests = [r for r in (access_log.parse(text, at) for text, at in lines) if r is not None]
    tallies = tally(requests)
    hours = [(integration_id, hour, counts) for (integration_id, hour), counts in tallies.items()]
    results = _each(hours, _write_hour)
    latest: dict[tuple[str, str], LastUse] = {}
    for (integration_id, _hour, counts), first in zip(hours, results, strict=True):
        if first is not True:
            continue  # not the hour's first write, or it failed
        for role, last in counts.last.items():
            known = latest.get((integration_id, role))
            latest[(integration_id, role)] = last if known is None or last.at_ms >= known.at_ms else known
    lasts = [(integration_id, role, last) for (integration_id, role), last in latest.items()]
    summaries = _each(lasts, _write_last)
    # The day's new caller addresses: after the counts, and never failing the batch (best effort).
    days = [
        (integration_id, day, new)
        for (integration_id, day), seen in addresses_of(requests).items()
        if (new := SEEN.new((integration_id, day), seen))
    ]
    addresses = _each(days, _write_addresses)
    failed = [e for e in results if isinstance(e, Exception)]
    missed = [e for e in (*summaries, *addresses) if isinstance(e, Exception)]
    writes = len(hours) + len(lasts) - len(failed) - len([e for e in summaries if isinstance(e, Exception)])
    writes += sum(1 for written in addresses if written is True)
    summary = {
        "requests": len(requests),
        "keys": len(tallies),
        "writes": writes,
        "failed": len(failed) + len(missed),
    }
    emf.usage(summary)
    if failed:
        raise failed[0]
    return summary


def firehose_lines(event: dict[str, Any]) -> list[tuple[str, int]]:
    """A Firehose processor invocation -> (line, arrival ms) per record (API Gateway: a line a record)."""
    return [
        (
            base64.b64decode(record["data"]).decode("utf-8", errors="replace").strip(),
            int(record.get("approximateArrivalTimestamp", 0)),
        )
        for record in event.get("records", [])
    ]


def handle_firehose(event: dict[str, Any]) -> dict[str, Any]:
    """The access log's Firehose processor: count the lines, hand every record back unchanged (one line
    each, newline-terminated, for S3). A failure raises: Firehose retries the call (twice), then keeps
    the records in S3 under access-log-errors/ (the log is kept, its counts are not)."""
    apply(firehose_lines(event))
    answered = []
    for record in event.get("records", []):
        data = base64.b64decode(record["data"])
        if not data.endswith(b"\n"):
            data += b"\n"
        answered.append(
            {"recordId": record["recordId"], "result": "Ok", "data": base64.b64encode(data).decode("ascii")}
        )
    return {"records": answered}
